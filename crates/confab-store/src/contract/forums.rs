//! The store contract: Forums: names, keys, settings, and deletion with all their data.

use super::*;

pub async fn forums_are_unique_by_shortname(store: &dyn Store) {
    let f = forum(store, "blog").await;
    assert_eq!(store.forum_by_shortname("blog").await.unwrap(), f);
    assert_eq!(store.forum_get(f.id).await.unwrap(), f);
    let again = store
        .forum_create(
            NewForum {
                owner: None,
                shortname: f.shortname.clone(),
                name: f.name.clone(),
                origins: vec![],
                policy: ForumPolicy::default(),
            },
            NOW,
        )
        .await;
    assert!(matches!(again, Err(StoreError::ForumExists)));
    assert!(matches!(store.forum_by_shortname("nope").await, Err(StoreError::ForumNotFound)));
    forum(store, "another").await;
    let names: Vec<String> = store.forum_list().await.unwrap().into_iter().map(|f| f.shortname.into_string()).collect();
    assert_eq!(names, ["another", "blog"]);
}

pub async fn forum_keys_exist_from_creation_and_rotate(store: &dyn Store) {
    let (a, b) = (forum(store, "site-a").await, forum(store, "site-b").await);
    let ka = store.forum_keys(a.id).await.unwrap();
    assert!(ka.public_key.starts_with("pk_") && ka.secret_key.starts_with("sk_"), "{ka:?}");
    assert_eq!((ka.public_key.len(), ka.secret_key.len()), (35, 67));
    assert_ne!(ka, store.forum_keys(b.id).await.unwrap());
    let new = confab_core::model::ForumKeys::generate(NOW + 1);
    assert_eq!(store.forum_keys_rotate(a.id, new.clone()).await.unwrap(), new);
    assert_eq!(store.forum_keys(a.id).await.unwrap(), new);
    let missing = Id::from_i64(424242).unwrap();
    assert!(matches!(store.forum_keys(missing).await, Err(StoreError::ForumNotFound)));
    assert!(matches!(
        store.forum_keys_rotate(missing, confab_core::model::ForumKeys::generate(NOW)).await,
        Err(StoreError::ForumNotFound)
    ));
}

pub async fn forum_settings_change(store: &dyn Store) {
    let f = forum(store, "site-a").await;
    let policy = ForumPolicy { premoderate: true, ..ForumPolicy::default() };
    let origin = confab_core::input::Origin::parse("https://a.example").unwrap();
    let update = confab_core::model::ForumUpdate {
        name: Some(DisplayName::parse("name", "Site A").unwrap()),
        origins: Some(vec![origin.clone()]),
        policy: Some(policy.clone()),
    };
    let changed = store.forum_update(f.id, update).await.unwrap();
    assert_eq!((changed.name.as_str(), &changed.origins, &changed.policy), ("Site A", &vec![origin], &policy));
    assert_eq!(store.forum_get(f.id).await.unwrap(), changed);
    let only_name =
        confab_core::model::ForumUpdate { name: Some(DisplayName::parse("name", "A").unwrap()), ..Default::default() };
    let again = store.forum_update(f.id, only_name).await.unwrap();
    assert_eq!((again.name.as_str(), again.policy), ("A", policy));
    assert!(matches!(
        store.forum_update(Id::from_i64(5).unwrap(), Default::default()).await,
        Err(StoreError::ForumNotFound)
    ));
}

/// What [`fill_forum`] made: a forum with a row in every table that holds forum data.
pub struct Filled {
    pub forum: Forum,
    pub threads: Vec<Id>,
    pub posts: Vec<Id>,
    /// A guest who wrote only here, and one who also wrote in `elsewhere`.
    pub lone_guest: Id,
    pub shared_guest: Id,
    pub sso_author: Id,
    pub moderator: Account,
    pub webhooks: Vec<Id>,
}

impl Filled {
    /// `cond` (a backend test's SQL tying rows to this forum) with its placeholders
    /// filled: `{f}` the forum, `{t}` its threads, `{p}` its posts, `{h}` its webhooks,
    /// `{a}` its authors that must go with it.
    pub fn tie(&self, cond: &str) -> String {
        let ids = |v: &[Id]| v.iter().map(|i| i.as_i64().to_string()).collect::<Vec<_>>().join(",");
        cond.replace("{f}", &self.forum.id.as_i64().to_string())
            .replace("{t}", &ids(&self.threads))
            .replace("{p}", &ids(&self.posts))
            .replace("{h}", &ids(&self.webhooks))
            .replace("{a}", &ids(&[self.lone_guest, self.sso_author]))
    }
}

/// Fills forum `shortname` through the store's own calls: threads, posts and replies by
/// guests, an account and an SSO user, votes, flags, a moderation decision, a spam
/// verdict and learning, a ban, a webhook with a delivery logged, a subscription, a
/// mute, the mail throttle's rows, a role and a reader credential. `elsewhere` gets a
/// post by the shared guest.
pub async fn fill_forum(store: &dyn Store, shortname: &str, elsewhere: &Forum) -> Filled {
    use confab_core::model::{BanTarget, Flag, FlagReason, Moderator, NewBan};
    use confab_core::spam::Action;

    use crate::SpamRecord;
    let f = forum(store, shortname).await;
    let guest = |name: &str, email: Option<&str>| {
        PostAuthor::Guest(GuestAuthor {
            name: DisplayName::parse("name", name).unwrap(),
            email: email.map(|e| Email::parse(e).unwrap()),
            url: None,
        })
    };
    let say = |f: &Forum, ident: &str, parent: Option<Id>, author: PostAuthor| {
        let mut p = new_post(ident, parent, "something to say", PostState::Approved);
        p.author = author;
        p.notify = true;
        let f = f.clone();
        async move { store.post_create(&f, p, token(), NOW).await.unwrap() }
    };
    let lone = say(&f, "one", None, guest("Lone", Some("lone@example.com"))).await;
    let shared = say(&f, "one", Some(lone.post.id), guest("Shared", Some("shared@example.com"))).await;
    say(elsewhere, "there", None, guest("Shared", Some("shared@example.com"))).await;
    let sso = confab_core::sso::SsoUser {
        id: "site-7".into(),
        name: DisplayName::parse("name", "Sam").unwrap(),
        email: Some(Email::parse("sam@example.com").unwrap()),
        avatar: None,
        url: None,
    };
    let by_sso = say(&f, "two", None, PostAuthor::Sso(sso)).await;
    let moderator = account(store, &format!("{shortname}-mod"), &format!("mod@{shortname}.example")).await;
    let by_account = say(&f, "two", Some(by_sso.post.id), PostAuthor::Account(moderator.id)).await;
    store.role_set(f.id, moderator.id, Some(Role::Moderator), NOW).await.unwrap();
    store.session_create(moderator.id, token(), NOW, NOW + 86_400_000, Some(f.id)).await.unwrap();

    store.vote_set(lone.post.id, token(), VoteValue::Up, NOW).await.unwrap();
    let flag = Flag { reason: FlagReason::Spam, note: None, at: NOW };
    store.flag_add(shared.post.id, token(), flag, 5, NOW).await.unwrap();
    let mia = Moderator::Account(moderator.id);
    store.post_set_state(by_account.post.id, PostState::Pending, mia, Some("a look".into()), NOW).await.unwrap();
    let verdict = SpamRecord { action: Action::Approve, score: 0.1, reasons: vec![], at: NOW };
    store.spam_verdict_set(lone.post.id, verdict).await.unwrap();
    store.spam_learn(f.id, &confab_core::spam::tokens("cheap pills here"), true).await.unwrap();
    let ban = NewBan {
        target: BanTarget::Email("troll@x.example".into()),
        reason: None,
        by: mia,
        expires_at: None,
        shadow: false,
    };
    store.ban_create(f.id, ban, NOW).await.unwrap();
    let hook = crate::NewWebhook {
        url: WebUrl::parse("url", "https://hooks.example/in").unwrap(),
        secret: "whsec_x".into(),
        events: vec![EventKind::PostCreated],
        hub_signature: false,
    };
    let hook = store.webhook_create(f.id, hook, NOW).await.unwrap();
    let attempt = crate::WebhookAttempt {
        seq: 0,
        webhook_id: hook.id,
        delivery_id: Id::from_raw(77).unwrap(),
        event: EventKind::PostCreated,
        attempt: 1,
        at: NOW,
        status: Some(200),
        error: None,
        duration_ms: 3,
    };
    store.webhook_attempt_log(attempt).await.unwrap();
    let reader = Email::parse("reader@example.com").unwrap();
    store.subscription_add(&lone.thread, &reader, NOW).await.unwrap();
    store.mute(&reader, Some(by_sso.thread.id), NOW).await.unwrap();
    store.notify_gate(&reader, lone.thread.id, lone.post.id, NOW, 60_000).await.unwrap();
    store.notify_gate(&reader, lone.thread.id, shared.post.id, NOW + 1, 60_000).await.unwrap();
    Filled {
        forum: f,
        threads: vec![lone.thread.id, by_sso.thread.id],
        posts: vec![lone.post.id, shared.post.id, by_sso.post.id, by_account.post.id],
        lone_guest: lone.author.id,
        shared_guest: shared.author.id,
        sso_author: by_sso.author.id,
        moderator,
        webhooks: vec![hook.id],
    }
}

/// Runs a forum's purge to its end, a thread per step; returns the steps taken.
pub async fn purge_all(store: &dyn Store, forum: Id, job: Id) -> Vec<crate::PurgeStep> {
    let mut steps = Vec::new();
    loop {
        let step = store.forum_purge(forum, job, 1, true).await.unwrap();
        steps.push(step);
        if step.done {
            return steps;
        }
        assert!(steps.len() < 100, "the purge ends");
    }
}

/// Deleting a forum: hidden at once from every read, its name kept until the purge
/// ends; the purge takes everything of it, a batch at a time, and nothing of another
/// forum; a guest's row goes with their last post anywhere.
pub async fn deleting_a_forum_takes_all_its_data(store: &dyn Store) {
    let other = forum(store, "other").await;
    let kept = post(store, &other, "stays", None, NOW).await;
    let filled = fill_forum(store, "doomed", &other).await;
    let f = filled.forum.id;
    let job = store.forum_delete_begin(f, NOW + 1).await.unwrap();
    assert_eq!(store.forum_delete_begin(f, NOW + 2).await.unwrap(), job, "asked again: the same job");
    let queued = store.job_get(job).await.unwrap();
    let task = Task::ForumPurge { forum: f, since: NOW + 1 };
    assert_eq!((queued.forum_id, Task::from_json(&queued.task).unwrap()), (f, task));
    assert!(matches!(store.forum_get(f).await, Err(StoreError::ForumNotFound)));
    assert!(matches!(store.forum_by_shortname("doomed").await, Err(StoreError::ForumNotFound)));
    assert_eq!(store.forum_list().await.unwrap().iter().map(|f| f.id).collect::<Vec<_>>(), [other.id]);
    assert!(store.roles_of(filled.moderator.id).await.unwrap().is_empty(), "its roles list no more");
    assert!(matches!(store.forum_create(new_forum("doomed"), NOW).await, Err(StoreError::ForumExists)));
    assert!(
        matches!(store.forum_purge(other.id, job, 10, true).await, Err(StoreError::Internal(_))),
        "not being deleted"
    );
    // Until the caller may finish, the threads go but the forum stays.
    let early = store.forum_purge(f, job, 10, false).await.unwrap();
    assert_eq!((early.threads, early.posts, early.done), (2, 4, false));
    assert_eq!(store.forum_purge(f, job, 10, false).await.unwrap(), crate::PurgeStep::default(), "then waits");
    assert!(matches!(store.forum_create(new_forum("doomed"), NOW).await, Err(StoreError::ForumExists)));

    // A thread that a process still holding the forum wrote meanwhile goes too.
    let late = store.post_create(&filled.forum, new_post("late", None, "late", PostState::Approved), token(), NOW + 5);
    let late = late.await.unwrap().post;
    let steps = purge_all(store, f, job).await;
    assert_eq!(steps.iter().map(|s| (s.threads, s.posts, s.done)).collect::<Vec<_>>(), [(1, 1, false), (0, 0, true)]);
    assert!(matches!(store.post_get(late.id).await, Err(StoreError::PostNotFound)));
    assert!(store.forum_purge(f, job, 1, true).await.unwrap().done, "a forum gone is done");
    for t in &filled.threads {
        assert!(matches!(store.thread_get(*t).await, Err(StoreError::ThreadNotFound)));
    }
    for p in &filled.posts {
        assert!(matches!(store.post_get(*p).await, Err(StoreError::PostNotFound)));
    }
    let authors: Vec<Id> = store
        .authors_get_many(&[filled.lone_guest, filled.shared_guest, filled.sso_author, filled.moderator.id])
        .await
        .unwrap()
        .iter()
        .map(|a| a.id)
        .collect();
    assert!(!authors.contains(&filled.lone_guest) && !authors.contains(&filled.sso_author), "{authors:?}");
    assert!(authors.contains(&filled.shared_guest), "still the author of a post elsewhere");
    assert!(store.account_get(filled.moderator.id).await.is_ok(), "accounts are people's, not the forum's");
    assert!(matches!(store.forum_keys(f).await, Err(StoreError::ForumNotFound)));
    assert!(store.webhooks_list(f).await.unwrap().is_empty());
    assert!(store.bans_list(f, NOW).await.unwrap().is_empty());
    assert!(store.role_get(f, filled.moderator.id).await.unwrap().is_none());
    let reader = Email::parse("reader@example.com").unwrap();
    assert!(!store.subscription_exists(filled.threads[0], &reader).await.unwrap());
    assert!(store.digest_waiting(&reader, filled.threads[0]).await.unwrap().is_empty());
    let jobs = store.jobs_list(crate::JobFilter { forum: Some(f), limit: 100, ..Default::default() }).await.unwrap();
    assert_eq!(jobs.iter().map(|j| j.id).collect::<Vec<_>>(), [job], "only the purge job is left of its jobs");

    // The name is free again; the other forum is whole.
    store.forum_create(new_forum("doomed"), NOW + 3).await.unwrap();
    assert_eq!(store.post_get(kept.id).await.unwrap().id, kept.id);
    assert_eq!(store.thread_get(kept.thread_id).await.unwrap().posts, 1);
    assert!(matches!(store.forum_delete_begin(Id::from_raw(4242).unwrap(), NOW).await, Err(StoreError::ForumNotFound)));
}
