//! The store contract: Accounts, mailed links, sessions, roles, and an account holder's export and deletion.

use super::*;

pub async fn accounts_are_unique_by_username_and_email(store: &dyn Store) {
    let ann = account(store, "Ann", "ann@example.com").await;
    assert!(!ann.email_verified);
    assert_eq!(store.account_get(ann.id).await.unwrap(), ann);
    let new = |u: &str, e: &str| NewAccount {
        username: Username::parse(u).unwrap(),
        email: Email::parse(e).unwrap(),
        password_hash: "h".into(),
    };
    let taken = store.account_create(new("ANN", "other@example.com"), NOW).await;
    assert!(matches!(taken, Err(StoreError::UsernameTaken)), "{taken:?}");
    let taken = store.account_create(new("bob", "Ann@Example.com"), NOW).await;
    assert!(matches!(taken, Err(StoreError::EmailTaken)), "{taken:?}");
    // Nothing half-written: the failed attempts left no author rows behind.
    let (found, hash) = store.account_for_login("ann").await.unwrap().unwrap();
    assert_eq!((found.id, hash.as_str()), (ann.id, "hash-of-Ann"));
    assert_eq!(store.account_for_login("ann@example.com").await.unwrap().unwrap().0.id, ann.id);
    assert!(store.account_for_login("nobody").await.unwrap().is_none());
    assert_eq!(store.account_by_email(&Email::parse("ANN@example.com").unwrap()).await.unwrap(), Some(ann.clone()));
    // The account is an author, and posts can name it.
    let authors = store.authors_get_many(&[ann.id]).await.unwrap();
    assert_eq!(authors.len(), 1);
    assert_eq!((authors[0].kind, authors[0].name.as_str()), (AuthorKind::Account, "Ann"));
    let f = forum(store, "blog").await;
    let mut p = new_post("t", None, "by an account", PostState::Approved);
    p.author = PostAuthor::Account(ann.id);
    let created = store.post_create(&f, p, Token::generate().hash(), NOW).await.unwrap();
    assert_eq!(created.post.author_id, ann.id);
    let mut p = new_post("t", None, "by nobody", PostState::Approved);
    p.author = PostAuthor::Account(Id::from_i64(12345).unwrap());
    assert!(matches!(store.post_create(&f, p, Token::generate().hash(), NOW).await, Err(StoreError::AccountNotFound)));
}

pub async fn links_are_single_use_expiring_and_purpose_bound(store: &dyn Store) {
    let ann = account(store, "ann", "ann@example.com").await;
    let link = |purpose| {
        let t = Token::generate();
        let hash = t.hash();
        let ann = ann.clone();
        async move {
            store.link_create(hash, ann.id, purpose, &ann.email, NOW, NOW + 1000).await.unwrap();
            hash
        }
    };
    // Wrong purpose: refused, and the link is spent.
    let reset = link(LinkPurpose::Reset).await;
    assert!(matches!(store.account_verify_email(reset, NOW).await, Err(StoreError::LinkInvalid)));
    assert!(matches!(store.account_reset_password(reset, "x".into(), NOW).await, Err(StoreError::LinkInvalid)));
    // Expired.
    let verify = link(LinkPurpose::Verify).await;
    assert!(matches!(store.account_verify_email(verify, NOW + 1000).await, Err(StoreError::LinkInvalid)));
    // Good, once.
    let verify = link(LinkPurpose::Verify).await;
    let verified = store.account_verify_email(verify, NOW + 1).await.unwrap();
    assert!(verified.email_verified);
    assert!(matches!(store.account_verify_email(verify, NOW + 2).await, Err(StoreError::LinkInvalid)), "replay");
    assert!(store.account_get(ann.id).await.unwrap().email_verified);
    // A link sent to another address does not verify this one.
    let t = Token::generate();
    store
        .link_create(t.hash(), ann.id, LinkPurpose::Verify, &Email::parse("old@example.com").unwrap(), NOW, NOW + 1000)
        .await
        .unwrap();
    assert!(matches!(store.account_verify_email(t.hash(), NOW).await, Err(StoreError::LinkInvalid)));
    assert!(matches!(store.account_verify_email(Token::generate().hash(), NOW).await, Err(StoreError::LinkInvalid)));
}

pub async fn sessions_expire_are_revocable_and_die_on_reset(store: &dyn Store) {
    let ann = account(store, "ann", "ann@example.com").await;
    let bob = account(store, "bob", "bob@example.com").await;
    let (t1, t2, t3) = (Token::generate(), Token::generate(), Token::generate());
    let s1 = store.session_create(ann.id, t1.hash(), NOW, NOW + 100, None).await.unwrap();
    let s2 = store.session_create(ann.id, t2.hash(), NOW + 1, NOW + 10_000, None).await.unwrap();
    let s3 = store.session_create(bob.id, t3.hash(), NOW, NOW + 10_000, None).await.unwrap();
    let (found, acc) = store.session_lookup(t1.hash(), NOW + 50).await.unwrap().unwrap();
    assert_eq!((found.id, acc.id), (s1.id, ann.id));
    assert!(store.session_lookup(t1.hash(), NOW + 100).await.unwrap().is_none(), "expired");
    assert!(store.session_lookup(Token::generate().hash(), NOW).await.unwrap().is_none());
    let live: Vec<Id> = store.session_list(ann.id, NOW + 100).await.unwrap().iter().map(|s| s.id).collect();
    assert_eq!(live, vec![s2.id]);
    // One account cannot end another's session.
    assert!(matches!(store.session_revoke(ann.id, s3.id).await, Err(StoreError::SessionNotFound)));
    assert!(store.session_lookup(t3.hash(), NOW).await.unwrap().is_some());
    store.session_revoke(ann.id, s2.id).await.unwrap();
    assert!(store.session_lookup(t2.hash(), NOW).await.unwrap().is_none());
    assert!(matches!(
        store.session_create(Id::from_i64(999).unwrap(), Token::generate().hash(), NOW, NOW + 1, None).await,
        Err(StoreError::AccountNotFound)
    ));
    // A password reset ends every session of the account, and only of that account.
    let t4 = Token::generate();
    // A reader credential keeps its forum; it dies with the rest on a reset.
    let f77 = Id::from_i64(77).unwrap();
    let reader = store.session_create(ann.id, t4.hash(), NOW, NOW + 10_000, Some(f77)).await.unwrap();
    assert_eq!(reader.forum, Some(f77));
    assert_eq!(store.session_lookup(t4.hash(), NOW).await.unwrap().unwrap().0.forum, Some(f77));
    assert_eq!(store.session_lookup(t3.hash(), NOW).await.unwrap().unwrap().0.forum, None);
    let (r1, r2) = (Token::generate(), Token::generate());
    for r in [&r1, &r2] {
        store.link_create(r.hash(), ann.id, LinkPurpose::Reset, &ann.email, NOW, NOW + 1000).await.unwrap();
    }
    let after = store.account_reset_password(r1.hash(), "new-hash".into(), NOW + 5).await.unwrap();
    assert!(after.email_verified, "a reset link proves the address too");
    assert!(store.session_lookup(t4.hash(), NOW + 6).await.unwrap().is_none());
    assert!(store.session_lookup(t3.hash(), NOW + 6).await.unwrap().is_some());
    assert_eq!(store.account_for_login("ann").await.unwrap().unwrap().1, "new-hash");
    assert!(
        matches!(store.account_reset_password(r2.hash(), "x".into(), NOW + 7).await, Err(StoreError::LinkInvalid)),
        "the other outstanding reset links die with the used one"
    );
}

pub async fn roles_are_per_forum_and_a_forum_keeps_an_owner(store: &dyn Store) {
    let ann = account(store, "ann", "ann@example.com").await;
    let bob = account(store, "bob", "bob@example.com").await;
    let new = |name: &str, owner| NewForum {
        shortname: Shortname::parse(name).unwrap(),
        name: DisplayName::parse("name", name).unwrap(),
        origins: vec![],
        policy: ForumPolicy::default(),
        owner,
    };
    let a = store.forum_create(new("site-a", Some(ann.id)), NOW).await.unwrap();
    let b = forum(store, "site-b").await;
    assert_eq!(store.role_get(a.id, ann.id).await.unwrap(), Some(Role::Owner));
    assert_eq!(store.role_get(b.id, ann.id).await.unwrap(), None, "a role is one forum's");
    // An owner that does not exist: no forum either.
    let ghost = Id::from_i64(777).unwrap();
    assert!(matches!(store.forum_create(new("site-c", Some(ghost)), NOW).await, Err(StoreError::AccountNotFound)));
    assert!(matches!(store.forum_by_shortname("site-c").await, Err(StoreError::ForumNotFound)));

    store.role_set(a.id, bob.id, Some(Role::Moderator), NOW).await.unwrap();
    let list: Vec<(String, Role)> =
        store.roles_list(a.id).await.unwrap().into_iter().map(|(acc, r)| (acc.username.into_string(), r)).collect();
    assert_eq!(list, vec![("ann".to_owned(), Role::Owner), ("bob".to_owned(), Role::Moderator)]);
    assert!(store.roles_list(b.id).await.unwrap().is_empty());
    assert_eq!(store.roles_of(bob.id).await.unwrap(), vec![(a.id, Role::Moderator)]);
    assert!(store.roles_of(ghost).await.unwrap().is_empty());
    // The last owner stays.
    assert!(matches!(store.role_set(a.id, ann.id, None, NOW).await, Err(StoreError::LastOwner)));
    assert!(matches!(store.role_set(a.id, ann.id, Some(Role::Moderator), NOW).await, Err(StoreError::LastOwner)));
    store.role_set(a.id, bob.id, Some(Role::Owner), NOW).await.unwrap();
    store.role_set(a.id, ann.id, Some(Role::Trusted), NOW).await.unwrap();
    assert_eq!(store.role_get(a.id, ann.id).await.unwrap(), Some(Role::Trusted));
    store.role_set(a.id, ann.id, None, NOW).await.unwrap();
    assert_eq!(store.role_get(a.id, ann.id).await.unwrap(), None);
    assert!(matches!(store.role_set(ghost, ann.id, Some(Role::Member), NOW).await, Err(StoreError::ForumNotFound)));
    assert!(matches!(store.role_set(a.id, ghost, Some(Role::Member), NOW).await, Err(StoreError::AccountNotFound)));

    assert!(!ann.is_admin);
    assert!(store.account_set_admin(ann.id, true).await.unwrap().is_admin);
    assert!(store.account_by_username(&Username::parse("ANN").unwrap()).await.unwrap().unwrap().is_admin);
    assert!(store.account_by_username(&Username::parse("nobody").unwrap()).await.unwrap().is_none());
    assert!(matches!(store.account_set_admin(ghost, true).await, Err(StoreError::AccountNotFound)));
}

pub async fn an_account_exports_its_data_and_is_deleted_per_forum_policy(store: &dyn Store) {
    use confab_core::model::AccountDeletion;
    let ann = account(store, "ann", "ann@example.com").await;
    let bob = account(store, "bob", "bob@example.com").await;
    let mk = |name: &str, on_delete, owner| NewForum {
        shortname: Shortname::parse(name).unwrap(),
        name: DisplayName::parse("name", name).unwrap(),
        origins: vec![],
        policy: ForumPolicy { on_account_delete: on_delete, ..ForumPolicy::default() },
        owner,
    };
    let keep = store.forum_create(mk("keeps", AccountDeletion::Anonymize, None), NOW).await.unwrap();
    let wipe = store.forum_create(mk("wipes", AccountDeletion::Remove, None), NOW).await.unwrap();
    let owned = store.forum_create(mk("owned", AccountDeletion::Anonymize, Some(ann.id)), NOW).await.unwrap();
    let as_ann = |text: &str, parent| {
        let mut p = new_post("t", parent, text, PostState::Approved);
        p.author = PostAuthor::Account(ann.id);
        p
    };
    let kept = store.post_create(&keep, as_ann("stays, anonymised", None), token(), NOW).await.unwrap().post;
    let wiped = store.post_create(&wipe, as_ann("goes away", None), token(), NOW).await.unwrap();
    let mut reply = new_post("t", Some(wiped.post.id), "bob's reply", PostState::Approved);
    reply.author = PostAuthor::Account(bob.id);
    let reply = store.post_create(&wipe, reply, token(), NOW).await.unwrap().post;
    let voter = Token::generate().hash();
    store.vote_set(reply.id, voter, VoteValue::Up, NOW).await.unwrap();

    let data = store.account_data(ann.id, voter).await.unwrap();
    let mut texts: Vec<(&str, &str)> = data.posts.iter().map(|p| (p.forum.as_str(), p.post.message.as_str())).collect();
    texts.sort();
    assert_eq!(texts, vec![("keeps", "stays, anonymised"), ("wipes", "goes away")]);
    assert_eq!(data.posts[0].thread_identifier, "t");
    assert_eq!(data.roles, vec![("owned".to_owned(), Role::Owner)]);
    assert_eq!(data.votes, vec![(reply.id, VoteValue::Up, NOW)]);

    // The only owner of a forum cannot leave it ownerless; nothing changes.
    assert!(matches!(store.account_delete(ann.id, NOW).await, Err(StoreError::LastOwner)));
    assert_eq!(store.post_get(kept.id).await.unwrap().author_id, ann.id);
    store.role_set(owned.id, bob.id, Some(Role::Owner), NOW).await.unwrap();
    let session = Token::generate();
    store.session_create(ann.id, session.hash(), NOW, NOW + 1000, None).await.unwrap();

    let done = store.account_delete(ann.id, NOW).await.unwrap();
    assert_eq!((done.posts_anonymized, done.posts_removed), (1, 1));
    let mut threads = done.threads.clone();
    threads.sort();
    let mut expected = vec![kept.thread_id, wiped.post.thread_id];
    expected.sort();
    assert_eq!(threads, expected, "each changed thread once, for the caches");
    assert!(matches!(store.account_get(ann.id).await, Err(StoreError::AccountNotFound)));
    assert!(store.session_lookup(session.hash(), NOW).await.unwrap().is_none());
    assert!(store.account_for_login("ann@example.com").await.unwrap().is_none(), "the address is free again");
    assert!(store.authors_get_many(&[ann.id]).await.unwrap().is_empty());
    let kept = store.post_get(kept.id).await.unwrap();
    assert_eq!((kept.state, kept.message.as_str()), (PostState::Approved, "stays, anonymised"));
    let anon = store.authors_get_many(&[kept.author_id]).await.unwrap().remove(0);
    assert_eq!((anon.kind, anon.name.as_str(), anon.email.clone()), (AuthorKind::Guest, "Deleted account", None));
    let (wiped_now, token_after) = store.post_for_edit(wiped.post.id).await.unwrap();
    assert_eq!((wiped_now.state, wiped_now.message.as_str(), wiped_now.html.as_str()), (PostState::Deleted, "", ""));
    assert!(token_after.is_none(), "no edit token survives");
    assert_eq!(wiped_now.descendants, 1, "the reply still hangs below its placeholder");
    // The erasure's events name the posts without carrying their text.
    let mut events = store.jobs_claim(NOW, NOW + 1, 1000).await.unwrap();
    events.retain(|j| j.updated_at == NOW && j.task.contains(&wiped.post.id.to_string()));
    assert!(events.iter().any(|j| j.task.contains("post.deleted")), "the removal is an event");
    assert!(events.iter().all(|j| !j.task.contains("goes away")), "no trace of the erased text");
    assert_eq!(store.thread_get(wiped.thread.id).await.unwrap().posts, 1, "counts follow");
    assert!(store.post_get(reply.id).await.unwrap().state == PostState::Approved);
    assert_eq!(store.roles_list(owned.id).await.unwrap().len(), 1);
    assert!(matches!(store.account_delete(ann.id, NOW).await, Err(StoreError::AccountNotFound)));
}
