//! The store contract: Moderation: state changes and learning, bans, flags, highlights, pins, shadow posts and the search.

use super::*;

pub async fn spam_state_changes_keep_counts_and_learning_is_per_forum(store: &dyn Store) {
    use crate::SpamRecord;
    use confab_core::spam::{Action, tokens};
    let f = forum(store, "blog").await;
    let root = post(store, &f, "t", None, NOW).await;
    let reply = post(store, &f, "t", Some(root.id), NOW).await;
    drain_events(store, NOW).await;
    let ch = store
        .post_set_state(reply.id, PostState::Spam, confab_core::model::Moderator::Filter, None, NOW)
        .await
        .unwrap();
    assert_eq!((ch.before.state, ch.after.state, ch.thread.posts), (PostState::Approved, PostState::Spam, 1));
    assert_eq!(store.post_get(root.id).await.unwrap().descendants, 0, "ancestors' counts follow");
    let again = store
        .post_set_state(reply.id, PostState::Spam, confab_core::model::Moderator::Filter, None, NOW)
        .await
        .unwrap();
    assert_eq!(again.thread.posts, 1, "no change, no double count");
    store.post_set_state(reply.id, PostState::Pending, confab_core::model::Moderator::Filter, None, NOW).await.unwrap();
    let back = store
        .post_set_state(reply.id, PostState::Approved, confab_core::model::Moderator::Filter, None, NOW)
        .await
        .unwrap();
    assert_eq!(back.thread.posts, 2);
    assert_eq!(store.post_get(root.id).await.unwrap().descendants, 1);
    assert_eq!(
        drain_events(store, NOW).await,
        vec![
            (EventKind::PostSpam, Some(reply.id)),
            (EventKind::PostUpdated, Some(reply.id)),
            (EventKind::PostApproved, Some(reply.id))
        ],
        "one event per real change"
    );
    store.post_delete(reply.id, NOW).await.unwrap();
    // A moderator restores a deleted post: it counts again. Every change is logged with
    // who and why; a change to the same state is none.
    let mia = confab_core::model::Moderator::Account(Id::from_raw(4242).unwrap());
    let restored =
        store.post_set_state(reply.id, PostState::Approved, mia, Some("mistake".into()), NOW + 5).await.unwrap();
    assert_eq!((restored.after.state, restored.thread.posts), (PostState::Approved, 2));
    store.post_set_state(reply.id, PostState::Approved, mia, None, NOW + 6).await.unwrap();
    let log = store.moderation_log(reply.id).await.unwrap();
    let steps: Vec<_> = log.iter().map(|e| (e.by, e.from, e.to)).collect();
    use confab_core::model::Moderator::{Author, Filter};
    assert_eq!(
        steps,
        vec![
            (Filter, PostState::Approved, PostState::Spam),
            (Filter, PostState::Spam, PostState::Pending),
            (Filter, PostState::Pending, PostState::Approved),
            (Author, PostState::Approved, PostState::Deleted),
            (mia, PostState::Deleted, PostState::Approved),
        ]
    );
    assert_eq!((log[4].reason.as_deref(), log[4].at, log[4].forum_id), (Some("mistake"), NOW + 5, f.id));
    let search =
        |state: Option<PostState>, before: Option<Id>| PostSearch { state, before, limit: 10, ..Default::default() };
    let queue = store.moderation_queue(f.id, &search(Some(PostState::Approved), None)).await.unwrap();
    assert_eq!(queue.iter().map(|p| p.id).collect::<Vec<_>>(), vec![reply.id, root.id], "newest first");
    let page = store.moderation_queue(f.id, &search(None, Some(reply.id))).await.unwrap();
    assert_eq!(page.iter().map(|p| p.id).collect::<Vec<_>>(), vec![root.id]);
    assert!(store.moderation_queue(f.id, &search(Some(PostState::Spam), None)).await.unwrap().is_empty());
    drain_events(store, NOW).await;

    // Context: the same text again (whatever its case and spacing), the author's history.
    let same = |text: &str, name: &str| {
        let mut p = new_post("t", None, text, PostState::Approved);
        p.author =
            PostAuthor::Guest(GuestAuthor { name: DisplayName::parse("name", name).unwrap(), email: None, url: None });
        p
    };
    let a = store.post_create(&f, same("Buy  cheap pills", "Spammer"), token(), NOW).await.unwrap().post;
    let b = store.post_create(&f, same("buy cheap PILLS", "Spammer"), token(), NOW + 1000).await.unwrap().post;
    let c = store.post_create(&f, same("buy cheap pills", "Other"), token(), NOW + 2000).await.unwrap().post;
    let ctx = store.spam_context(&c, NOW + 2000, 86_400_000, 600_000).await.unwrap();
    assert_eq!((ctx.duplicates, ctx.author_posts, ctx.author_recent), (2, 0, 1));
    let ctx = store.spam_context(&b, NOW + 2000, 86_400_000, 600_000).await.unwrap();
    assert_eq!((ctx.duplicates, ctx.author_posts, ctx.author_recent), (2, 1, 2));
    let late = store.spam_context(&a, NOW + 86_400_000 + 5000, 86_400_000, 600_000).await.unwrap();
    assert_eq!((late.duplicates, late.author_recent), (0, 0), "windows end");

    // Learning is per forum.
    let other = forum(store, "other").await;
    let t = tokens("buy cheap pills");
    store.spam_learn(f.id, &t, true).await.unwrap();
    store.spam_learn(f.id, &t, true).await.unwrap();
    store.spam_learn(f.id, &tokens("cheap flights are nice"), false).await.unwrap();
    let m = store.spam_model(f.id, &t).await.unwrap();
    assert_eq!((m.docs.ham, m.docs.spam), (1, 2));
    assert_eq!(m.tokens["cheap"], confab_core::spam::Counts { ham: 1, spam: 2 });
    assert_eq!(m.tokens["pills"], confab_core::spam::Counts { ham: 0, spam: 2 });
    assert!(!m.tokens.contains_key("flights"), "only the tokens asked for");
    assert_eq!(store.spam_model(other.id, &t).await.unwrap(), confab_core::spam::Model::default());

    let rec = SpamRecord { action: Action::Hold, score: 0.93, reasons: vec!["classifier".into()], at: NOW };
    store.spam_verdict_set(c.id, rec.clone()).await.unwrap();
    assert_eq!(store.spam_verdict(c.id).await.unwrap(), Some(rec.clone()));
    assert_eq!(store.spam_verdict(a.id).await.unwrap(), None);
    // Many at once, for the dashboard's cards: those that have one.
    let spam = SpamRecord { action: Action::Spam, score: 0.999, reasons: vec!["duplicate_text".into()], at: NOW + 1 };
    store.spam_verdict_set(a.id, spam.clone()).await.unwrap();
    let mut both = store.spam_verdicts(f.id, &[a.id, c.id, Id::from_raw(424242).unwrap()]).await.unwrap();
    both.sort_by_key(|(id, _)| *id);
    let mut want = vec![(a.id, spam), (c.id, rec)];
    want.sort_by_key(|(id, _)| *id);
    assert_eq!(both, want);
    assert!(store.spam_verdicts(f.id, &[]).await.unwrap().is_empty());
}

pub async fn bans_match_their_forum_and_lapse(store: &dyn Store) {
    use confab_core::model::{BanProbe, BanTarget, Moderator};
    let (a, b) = (forum(store, "blog").await, forum(store, "other").await);
    let acc = Id::from_raw(777).unwrap();
    let by = Moderator::Account(Id::from_raw(1).unwrap());
    let ban = |target, reason: Option<&str>, by, expires_at| confab_core::model::NewBan {
        target,
        reason: reason.map(str::to_owned),
        by,
        expires_at,
        shadow: false,
    };
    let email = store
        .ban_create(a.id, ban(BanTarget::Email("x@spam.example".into()), Some("spam"), by, None), NOW)
        .await
        .unwrap();
    store
        .ban_create(a.id, ban(BanTarget::Domain("junk.example".into()), None, by, Some(NOW + 1000)), NOW)
        .await
        .unwrap();
    store.ban_create(a.id, ban(BanTarget::Account(acc), None, Moderator::SecretKey, None), NOW).await.unwrap();
    store.ban_create(a.id, ban(BanTarget::Ip("203.0.113.0/24".into()), None, by, None), NOW).await.unwrap();
    store.ban_create(b.id, ban(BanTarget::Email("y@example.com".into()), None, by, None), NOW).await.unwrap();
    let kinds = |bans: Vec<confab_core::model::Ban>| {
        let mut k: Vec<&'static str> = bans.iter().map(|b| b.target.kind()).collect();
        k.sort();
        k
    };
    let probe = |account: Option<Id>, email: Option<&str>| BanProbe { account, email: email.map(str::to_owned) };
    assert_eq!(
        kinds(store.bans_matching(a.id, &probe(None, Some("x@spam.example")), NOW).await.unwrap()),
        ["email", "ip"]
    );
    assert_eq!(
        kinds(store.bans_matching(a.id, &probe(None, Some("z@junk.example")), NOW).await.unwrap()),
        ["domain", "ip"]
    );
    assert_eq!(
        kinds(store.bans_matching(a.id, &probe(None, Some("z@junk.example")), NOW + 1000).await.unwrap()),
        ["ip"],
        "the timeout lapsed"
    );
    assert_eq!(kinds(store.bans_matching(a.id, &probe(Some(acc), None), NOW).await.unwrap()), ["account", "ip"]);
    assert_eq!(
        kinds(store.bans_matching(b.id, &probe(Some(acc), Some("x@spam.example")), NOW).await.unwrap()),
        Vec::<&str>::new()
    );
    let listed = store.bans_list(a.id, NOW).await.unwrap();
    assert_eq!(listed.len(), 4);
    assert_eq!(listed.iter().find(|b| b.id == email.id).unwrap(), &email);
    assert!(matches!(store.ban_delete(b.id, email.id).await, Err(StoreError::BanNotFound)), "not B's");
    store.ban_delete(a.id, email.id).await.unwrap();
    assert_eq!(store.bans_list(a.id, NOW + 1000).await.unwrap().len(), 2, "lifted and lapsed ones are gone");
}

/// Flags (once per reader, a hold at the threshold, cleared by a moderator's
/// approval), highlights and pins, shadow bans, the own-hidden-posts read, the search,
/// queue sizes and daily figures; nothing crosses forums.
pub async fn flags_marks_shadow_posts_and_the_search(store: &dyn Store) {
    use confab_core::model::{BanTarget, Flag, FlagReason, Moderator, NewBan};
    let (a, b) = (forum(store, "blog").await, forum(store, "other").await);
    let p = post(store, &a, "t", None, NOW).await;
    let other = post(store, &b, "t", None, NOW).await;
    let flag = |reason| Flag { reason, note: Some("rude".into()), at: NOW + 1 };
    let (r1, r2) = (token(), token());
    let o = store.flag_add(p.id, r1, flag(FlagReason::Abuse), 2, NOW + 1).await.unwrap();
    assert!(o.added && !o.held && o.post.flags == 1 && o.post.state == PostState::Approved);
    let again = store.flag_add(p.id, r1, flag(FlagReason::Spam), 2, NOW + 1).await.unwrap();
    assert!(!again.added && again.post.flags == 1, "one flag per reader");
    let sizes = store.queue_sizes(a.id).await.unwrap();
    assert_eq!((sizes.flagged, sizes.pending), (1, 0));
    let flagged = PostSearch { flagged: true, limit: 10, ..Default::default() };
    assert_eq!(store.moderation_queue(a.id, &flagged).await.unwrap().iter().map(|p| p.id).collect::<Vec<_>>(), [p.id]);
    assert!(store.moderation_queue(b.id, &flagged).await.unwrap().is_empty(), "not another forum's");
    let held = store.flag_add(p.id, r2, flag(FlagReason::OffTopic), 2, NOW + 2).await.unwrap();
    assert!(held.held && held.post.state == PostState::Pending && held.post.flags == 2);
    assert_eq!(store.thread_get(p.thread_id).await.unwrap().posts, 0, "held posts do not count");
    let log = store.moderation_log(p.id).await.unwrap();
    assert_eq!((log[0].by, log[0].reason.as_deref()), (Moderator::Flags, Some("flagged by 2 readers")));
    assert_eq!(store.flags_of(p.id).await.unwrap().len(), 2);
    assert!(matches!(
        store.flag_add(p.id, token(), flag(FlagReason::Spam), 2, NOW).await,
        Err(StoreError::PostNotFound)
    ));
    let mia = Moderator::Account(Id::from_raw(9).unwrap());
    let back = store.post_set_state(p.id, PostState::Approved, mia, None, NOW + 3).await.unwrap();
    assert_eq!(back.after.flags, 0);
    assert!(store.flags_of(p.id).await.unwrap().is_empty(), "a moderator's approval clears the flags");

    // Highlight and pin.
    assert!(store.post_set_highlighted(p.id, true, NOW).await.unwrap().highlighted);
    assert!(store.post_get(p.id).await.unwrap().highlighted);
    let t = store.thread_set_pinned(p.thread_id, Some(p.id)).await.unwrap();
    assert_eq!(t.pinned, Some(p.id));
    assert!(matches!(store.thread_set_pinned(p.thread_id, Some(other.id)).await, Err(StoreError::ParentNotInThread)));
    assert_eq!(store.thread_set_pinned(p.thread_id, None).await.unwrap().pinned, None);

    // Shadow: stored as a ban flag; a shadow post counts nowhere and only its author's
    // read finds it.
    let ban = NewBan {
        target: BanTarget::Email("s@x.example".into()),
        reason: None,
        by: mia,
        expires_at: None,
        shadow: true,
    };
    assert!(store.ban_create(a.id, ban, NOW).await.unwrap().shadow);
    let acc = account(store, "sam", "sam@example.com").await;
    let mut shadow = new_post("t", None, "psst", PostState::Shadow);
    shadow.author = PostAuthor::Account(acc.id);
    let s = store.post_create(&a, shadow, token(), NOW + 5).await.unwrap();
    assert_eq!(s.thread.posts, 1, "only the approved post counts");
    // A shadow post may be answered by another shadow post, and by nothing else.
    let mut answer = new_post("t", Some(s.post.id), "psst again", PostState::Shadow);
    answer.author = PostAuthor::Account(acc.id);
    let answer = store.post_create(&a, answer, token(), NOW + 6).await.unwrap().post;
    assert!(matches!(
        store.post_create(&a, new_post("t", Some(s.post.id), "hi", PostState::Approved), token(), NOW + 6).await,
        Err(StoreError::ParentNotListed)
    ));
    let own = store.own_hidden_posts(p.thread_id, Some(acc.id), None).await.unwrap();
    assert_eq!(own.iter().map(|p| p.id).collect::<Vec<_>>(), [s.post.id, answer.id]);
    assert!(store.own_hidden_posts(p.thread_id, Some(Id::from_raw(4242).unwrap()), None).await.unwrap().is_empty());
    assert_eq!(store.queue_sizes(a.id).await.unwrap().shadow, 2);

    // The search: text, author, thread, dates; the daily figures.
    let by_text = PostSearch { text: Some("PSST".into()), limit: 10, ..Default::default() };
    assert_eq!(store.moderation_queue(a.id, &by_text).await.unwrap().len(), 2);
    let by_author = PostSearch { authors: Some(vec![acc.id]), limit: 10, ..Default::default() };
    let mine: Vec<Id> = store.moderation_queue(a.id, &by_author).await.unwrap().iter().map(|p| p.id).collect();
    assert_eq!(mine, [answer.id, s.post.id]);
    let dated = PostSearch { since: Some(NOW + 5), until: Some(NOW + 6), limit: 10, ..Default::default() };
    assert_eq!(store.moderation_queue(a.id, &dated).await.unwrap().len(), 1);
    let mut netted = new_post("t", None, "from a network", PostState::Approved);
    netted.network = Some([7; 32]);
    let netted = store.post_create(&a, netted, token(), NOW + 7).await.unwrap().post;
    let by_net = PostSearch { network: Some([7; 32]), limit: 10, ..Default::default() };
    assert_eq!(
        store.moderation_queue(a.id, &by_net).await.unwrap().iter().map(|p| p.id).collect::<Vec<_>>(),
        [netted.id]
    );
    assert!(store.moderation_queue(b.id, &by_net).await.unwrap().is_empty());
    let none = PostSearch { authors: Some(vec![]), limit: 10, ..Default::default() };
    assert!(store.moderation_queue(a.id, &none).await.unwrap().is_empty());
    let days = store.posts_per_day(a.id, 0).await.unwrap();
    assert_eq!(days.iter().map(|d| d.1).sum::<u64>(), 4);
    assert_eq!(days[0].0 % 86_400_000, 0, "days start at midnight UTC");

    // A guest's hidden posts: looked up by id with their edit tokens (the caller
    // compares them), never a public post's, another thread's or a deleted one's.
    let tok = token();
    let held = store.post_create(&a, new_post("t", None, "held for a look", PostState::Pending), tok, NOW + 8).await;
    let held = held.unwrap().post;
    let gone = store.post_create(&a, new_post("t", None, "withdrawn", PostState::Pending), token(), NOW + 9).await;
    let gone = gone.unwrap().post;
    store.post_delete(gone.id, NOW + 10).await.unwrap();
    let asked = [held.id, p.id, s.post.id, other.id, gone.id, Id::from_raw(4242).unwrap()];
    let found = store.hidden_posts_among(p.thread_id, &asked).await.unwrap();
    assert_eq!(found.iter().map(|(p, _)| p.id).collect::<Vec<_>>(), [s.post.id, held.id]);
    assert!(found[1].1.as_ref().is_some_and(|h| h.matches(&tok)), "with its edit token");
    assert!(store.hidden_posts_among(other.thread_id, &asked).await.unwrap().is_empty());
    assert!(store.hidden_posts_among(p.thread_id, &[]).await.unwrap().is_empty());
}
