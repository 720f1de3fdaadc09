//! The store contract: Threads, posts, replies, imports, votes, counts and versions.

use super::*;

pub async fn threads_are_found_by_identifier_and_url(store: &dyn Store) {
    let f = forum(store, "blog").await;
    let other = forum(store, "other").await;
    let weird = "/2024/01/it's \"quoted\" — 日本語/";
    let t = store.thread_create(&f, spec(weird), NOW).await.unwrap();
    assert_eq!(t.identifier.as_str(), weird);
    let by_id = store.thread_find(&f, &ThreadKey::Identifier(Identifier::parse(weird).unwrap())).await.unwrap();
    assert_eq!(by_id.as_ref(), Some(&t));
    let by_url = store.thread_find(&f, &ThreadKey::Url(t.url.clone().unwrap())).await.unwrap();
    assert_eq!(by_url.as_ref(), Some(&t));
    assert_eq!(
        store.thread_find(&other, &ThreadKey::Identifier(t.identifier.clone())).await.unwrap(),
        None,
        "tenants are separate"
    );
    assert!(matches!(store.thread_create(&f, spec(weird), NOW).await, Err(StoreError::ThreadExists)));
    assert!(store.thread_create(&other, spec(weird), NOW).await.is_ok(), "same identifier in another forum");
    assert_eq!(store.thread_get(t.id).await.unwrap(), t);
    assert_eq!(t.id.shard(), f.shard, "thread ids carry the forum's shard");
}

pub async fn first_post_creates_the_thread_and_closed_threads_refuse_posts(store: &dyn Store) {
    let f = forum(store, "blog").await;
    let first = store.post_create(&f, new_post("p1", None, "one", PostState::Approved), token(), NOW).await.unwrap();
    assert!(first.thread_created);
    assert_eq!(first.thread.posts, 1);
    let second = store.post_create(&f, new_post("p1", None, "two", PostState::Approved), token(), NOW).await.unwrap();
    assert!(!second.thread_created);
    assert_eq!(second.thread.id, first.thread.id);
    assert_eq!(second.thread.posts, 2);

    let closed = store.thread_set_closed(first.thread.id, true).await.unwrap();
    assert!(closed.closed);
    let refused = store.post_create(&f, new_post("p1", None, "three", PostState::Approved), token(), NOW).await;
    assert!(matches!(refused, Err(StoreError::ThreadClosed)));
    assert_eq!(store.thread_get(first.thread.id).await.unwrap().posts, 2, "nothing half-written");
    assert!(!store.thread_set_closed(first.thread.id, false).await.unwrap().closed);
    assert!(matches!(store.thread_set_closed(second.post.id, true).await, Err(StoreError::ThreadNotFound)));
}

pub async fn replies_nest_and_check_their_parent(store: &dyn Store) {
    let f = forum(store, "blog").await;
    let root = post(store, &f, "t", None, NOW).await;
    let child = post(store, &f, "t", Some(root.id), NOW).await;
    let grandchild = post(store, &f, "t", Some(child.id), NOW).await;
    assert_eq!((child.depth, child.root_id, child.parent_id), (1, root.id, Some(root.id)));
    assert_eq!((grandchild.depth, grandchild.root_id), (2, root.id));
    assert!(grandchild.path.starts_with(&child.path) && child.path.starts_with(&root.path));
    assert_eq!(store.post_get(root.id).await.unwrap().descendants, 2);
    assert_eq!(store.post_get(child.id).await.unwrap().descendants, 1);

    let elsewhere = post(store, &f, "u", None, NOW).await;
    let wrong = store.post_create(&f, new_post("t", Some(elsewhere.id), "x", PostState::Approved), token(), NOW).await;
    assert!(matches!(wrong, Err(StoreError::ParentNotInThread)));
    let missing = store
        .post_create(&f, new_post("t", Some(Id::from_raw(12345).unwrap()), "x", PostState::Approved), token(), NOW)
        .await;
    assert!(matches!(missing, Err(StoreError::ParentNotFound)));
    let new_thread =
        store.post_create(&f, new_post("brand-new", Some(root.id), "x", PostState::Approved), token(), NOW).await;
    assert!(matches!(new_thread, Err(StoreError::ParentNotInThread)));
    assert_eq!(
        store.thread_find(&f, &ThreadKey::Identifier(Identifier::parse("brand-new").unwrap())).await.unwrap(),
        None,
        "a refused post leaves no thread behind"
    );
    assert_eq!(store.thread_get(root.thread_id).await.unwrap().posts, 3);
}

/// A chain of replies as deep as allowed works end to end (counters, replies pages);
/// one level more is refused and writes nothing.
pub async fn replies_nest_to_the_maximum_depth(store: &dyn Store) {
    use confab_core::model::MAX_DEPTH;
    let f = forum(store, "blog").await;
    let root = post(store, &f, "deep", None, NOW).await;
    let mut parent = root.clone();
    for _ in 0..MAX_DEPTH {
        parent = post(store, &f, "deep", Some(parent.id), NOW).await;
    }
    assert_eq!(parent.depth, MAX_DEPTH);
    assert_eq!(parent.path.len(), 8 * (MAX_DEPTH as usize + 1));
    assert_eq!(store.post_get(root.id).await.unwrap().descendants, i64::from(MAX_DEPTH));
    let too_deep =
        store.post_create(&f, new_post("deep", Some(parent.id), "x", PostState::Approved), token(), NOW).await;
    assert!(matches!(too_deep, Err(StoreError::ParentTooDeep)), "{too_deep:?}");
    assert_eq!(store.thread_get(root.thread_id).await.unwrap().posts, i64::from(MAX_DEPTH) + 1);
    // The deepest posts page like any other.
    let page = store.post_replies(&root, None, 100).await.unwrap();
    let next = store.post_replies(&root, page.next, 100).await.unwrap();
    assert_eq!(next.replies[0].depth, 101);
}

pub async fn deleting_keeps_the_tree_whole(store: &dyn Store) {
    let f = forum(store, "blog").await;
    let root = post(store, &f, "t", None, NOW).await;
    let child = post(store, &f, "t", Some(root.id), NOW).await;
    let lonely = post(store, &f, "t", None, NOW).await;

    let deleted = store.post_delete(root.id, NOW).await.unwrap().post;
    assert_eq!(deleted.state, PostState::Deleted);
    assert!(deleted.is_listed(), "a deleted post with replies keeps its place");
    store.post_delete(lonely.id, NOW).await.unwrap();
    assert_eq!(
        store.post_delete(lonely.id, NOW).await.unwrap().post.state,
        PostState::Deleted,
        "deleting twice is harmless"
    );
    assert_eq!(store.thread_get(root.thread_id).await.unwrap().posts, 1);

    let page = store
        .thread_roots(root.thread_id, Sort::Oldest, None, PageLimits { roots: 10, replies_per_root: 5 })
        .await
        .unwrap();
    let ids: Vec<Id> = page.roots.iter().map(|r| r.root.id).collect();
    assert_eq!(ids, [root.id]);
    assert_eq!(page.roots[0].replies.iter().map(|p| p.id).collect::<Vec<_>>(), [child.id]);

    store.post_delete(child.id, NOW).await.unwrap();
    let page = store
        .thread_roots(root.thread_id, Sort::Oldest, None, PageLimits { roots: 10, replies_per_root: 5 })
        .await
        .unwrap();
    assert!(page.roots.is_empty(), "with its last reply gone, the placeholder goes too");
    assert_eq!(store.thread_get(root.thread_id).await.unwrap().posts, 0);
    assert!(matches!(store.post_delete(Id::from_raw(999).unwrap(), NOW).await, Err(StoreError::PostNotFound)));
}

fn import_post(parent: Option<usize>, text: &str, state: PostState, likes: i64) -> ImportPost {
    ImportPost {
        parent,
        author: GuestAuthor { name: DisplayName::parse("name", "Imp").unwrap(), email: None, url: None },
        message: Message::parse(text).unwrap(),
        html: render_markdown(text),
        state,
        created_at: NOW - 1_000_000 + text.len() as i64,
        likes,
        dislikes: 0,
    }
}

pub async fn import_writes_a_tree_in_one_go(store: &dyn Store) {
    use PostState::{Approved, Deleted, Pending};
    let f = forum(store, "blog").await;
    let existing = post(store, &f, "t", None, NOW).await;
    let batch = vec![
        import_post(None, "a", Approved, 3),    // 0
        import_post(Some(0), "b", Approved, 0), // 1
        import_post(Some(1), "c", Pending, 0),  // 2: not listed, not counted
        import_post(Some(1), "d", Approved, 0), // 3
        import_post(None, "e", Deleted, 0),     // 4: placeholder over its reply
        import_post(Some(4), "f", Approved, 0), // 5
        import_post(None, "g", Approved, 0),    // 6
    ];
    let out = store.thread_import(&f, spec("t"), batch, NOW).await.unwrap();
    assert_eq!(out.post_ids.len(), 7);
    assert_eq!(out.thread.id, existing.thread_id, "appends to the existing thread");
    assert_eq!(out.thread.posts, 1 + 5);
    let get = |i: usize| store.post_get(out.post_ids[i]);
    let (a, b, e) = (get(0).await.unwrap(), get(1).await.unwrap(), get(4).await.unwrap());
    assert_eq!((a.descendants, b.descendants, e.descendants), (2, 1, 1));
    assert_eq!(a.likes, 3);
    assert_eq!(a.created_at, NOW - 1_000_000 + 1, "history keeps its times");
    let d = get(3).await.unwrap();
    assert_eq!((d.depth, d.parent_id, d.root_id), (2, Some(b.id), a.id));
    assert!(d.path.starts_with(&b.path));

    let page = store
        .thread_roots(a.thread_id, Sort::Oldest, None, PageLimits { roots: 10, replies_per_root: 10 })
        .await
        .unwrap();
    let roots: Vec<Id> = page.roots.iter().map(|r| r.root.id).collect();
    assert_eq!(roots, [existing.id, a.id, e.id, out.post_ids[6]]);
    let replies: Vec<Id> = page.roots[1].replies.iter().map(|p| p.id).collect();
    assert_eq!(replies, [b.id, d.id], "tree order, pending left out");
    let best =
        store.thread_roots(a.thread_id, Sort::Best, None, PageLimits { roots: 1, replies_per_root: 0 }).await.unwrap();
    assert_eq!(best.roots[0].root.id, a.id, "imported votes rank");

    // A bad batch writes nothing, not even its thread.
    let bad = vec![import_post(None, "x", Approved, 0), import_post(Some(5), "y", Approved, 0)];
    assert!(matches!(store.thread_import(&f, spec("new"), bad, NOW).await, Err(StoreError::ParentNotFound)));
    let self_parent = vec![import_post(Some(0), "z", Approved, 0)];
    assert!(matches!(store.thread_import(&f, spec("new"), self_parent, NOW).await, Err(StoreError::ParentNotFound)));
    let deep: Vec<ImportPost> = (0..=confab_core::model::MAX_DEPTH as usize + 1)
        .map(|i| import_post(i.checked_sub(1), "deep", Approved, 0))
        .collect();
    assert!(matches!(store.thread_import(&f, spec("new"), deep, NOW).await, Err(StoreError::ParentTooDeep)));
    let key = ThreadKey::Identifier(Identifier::parse("new").unwrap());
    assert_eq!(store.thread_find(&f, &key).await.unwrap(), None);
}

pub async fn edits_change_the_text_and_keep_the_rest(store: &dyn Store) {
    let f = forum(store, "blog").await;
    let t = Token::generate();
    let created =
        store.post_create(&f, new_post("t", None, "before", PostState::Approved), t.hash(), NOW).await.unwrap().post;
    let (same, stored) = store.post_for_edit(created.id).await.unwrap();
    assert_eq!(same, created);
    assert!(stored.unwrap().matches(&t.hash()));
    assert!(matches!(store.post_for_edit(Id::from_raw(4242).unwrap()).await, Err(StoreError::PostNotFound)));
    let edited = store
        .post_edit(created.id, Message::parse("after").unwrap(), render_markdown("after"), None, NOW + 5)
        .await
        .unwrap();
    assert_eq!(edited.message.as_str(), "after");
    assert_eq!(edited.html, "<p>after</p>\n");
    assert_eq!(edited.edited_at, Some(NOW + 5));
    assert_eq!(
        (edited.created_at, edited.path.clone(), edited.state),
        (created.created_at, created.path.clone(), created.state)
    );
    store.post_delete(created.id, NOW).await.unwrap();
    assert!(matches!(
        store.post_edit(created.id, Message::parse("x").unwrap(), String::new(), None, NOW).await,
        Err(StoreError::PostNotFound)
    ));
}

/// An edit the forum's rules object to takes the post back to pending in the edit's
/// own transaction: the new text is never public, the log names the rules.
pub async fn an_edit_the_rules_hold_is_pending_at_once(store: &dyn Store) {
    let f = forum(store, "blog").await;
    let p = post(store, &f, "t", None, NOW).await;
    let before = store.thread_get(p.thread_id).await.unwrap().posts;
    let why = Some("restricted word: casino".to_owned());
    let held = store.post_edit(p.id, Message::parse("casino").unwrap(), "<p>casino</p>".into(), why, NOW + 1).await;
    let held = held.unwrap();
    assert_eq!((held.state, held.message.as_str()), (PostState::Pending, "casino"));
    assert_eq!(store.post_get(p.id).await.unwrap(), held);
    assert_eq!(store.thread_get(p.thread_id).await.unwrap().posts, before - 1, "no longer counted");
    let log = store.moderation_log(p.id).await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(
        (log[0].by, log[0].to, log[0].reason.as_deref()),
        (confab_core::model::Moderator::Rules, PostState::Pending, Some("restricted word: casino"))
    );
    // Already waiting: edited again, it stays as it is, with no second entry.
    let again =
        store.post_edit(p.id, Message::parse("casino!").unwrap(), "<p>casino!</p>".into(), Some("x".into()), NOW + 2);
    assert_eq!(again.await.unwrap().state, PostState::Pending);
    assert_eq!(store.moderation_log(p.id).await.unwrap().len(), 1);
}

pub async fn pending_posts_are_not_listed_or_counted(store: &dyn Store) {
    let f = forum(store, "blog").await;
    let visible = post(store, &f, "t", None, NOW).await;
    let held = store.post_create(&f, new_post("t", None, "wait", PostState::Pending), token(), NOW).await.unwrap();
    assert_eq!(held.post.state, PostState::Pending);
    assert_eq!(held.thread.posts, 1);
    let page = store
        .thread_roots(visible.thread_id, Sort::Newest, None, PageLimits { roots: 10, replies_per_root: 0 })
        .await
        .unwrap();
    assert_eq!(page.roots.len(), 1);
    let reply = store.post_create(&f, new_post("t", Some(held.post.id), "x", PostState::Approved), token(), NOW).await;
    assert!(matches!(reply, Err(StoreError::ParentNotListed)));
    assert!(matches!(store.vote_set(held.post.id, token(), VoteValue::Up, NOW).await, Err(StoreError::PostNotVotable)));
}

pub async fn votes_move_counters_by_difference(store: &dyn Store) {
    let f = forum(store, "blog").await;
    let p = post(store, &f, "t", None, NOW).await;
    let (a, b) = (token(), token());
    let r = store.vote_set(p.id, a, VoteValue::Up, NOW).await.unwrap();
    assert_eq!((r.post.likes, r.post.dislikes, r.previous), (1, 0, VoteValue::Clear));
    let r = store.vote_set(p.id, a, VoteValue::Up, NOW).await.unwrap();
    assert_eq!((r.post.likes, r.post.dislikes), (1, 0), "voting the same way twice counts once");
    let r = store.vote_set(p.id, b, VoteValue::Down, NOW).await.unwrap();
    assert_eq!((r.post.likes, r.post.dislikes, r.post.points()), (1, 1, 0));
    let r = store.vote_set(p.id, a, VoteValue::Down, NOW).await.unwrap();
    assert_eq!((r.post.likes, r.post.dislikes, r.previous), (0, 2, VoteValue::Up));
    let r = store.vote_set(p.id, a, VoteValue::Clear, NOW).await.unwrap();
    assert_eq!((r.post.likes, r.post.dislikes), (0, 1));
    assert!(matches!(
        store.vote_set(Id::from_raw(77).unwrap(), a, VoteValue::Up, NOW).await,
        Err(StoreError::PostNotFound)
    ));
}

pub async fn concurrent_votes_are_all_counted(store: Arc<dyn Store>) {
    let f = forum(&*store, "blog").await;
    let p = post(&*store, &f, "t", None, NOW).await;
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let v = if i % 4 == 0 { VoteValue::Down } else { VoteValue::Up };
                store.vote_set(p.id, token(), v, NOW).await.unwrap();
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let after = store.post_get(p.id).await.unwrap();
    assert_eq!((after.likes, after.dislikes), (30, 10));
}

/// Posts written at once get unique, shard-carrying ids, and the thread's counter
/// counts every one of them (the first posts race to create the thread).
pub async fn concurrent_posts_are_all_written(store: Arc<dyn Store>) {
    let f = forum(&*store, "blog").await;
    let tasks: Vec<_> = (0..40)
        .map(|_| {
            let (store, f) = (Arc::clone(&store), f.clone());
            tokio::spawn(async move { post(&*store, &f, "busy", None, NOW).await })
        })
        .collect();
    let mut ids = HashSet::new();
    for t in tasks {
        let p = t.await.unwrap();
        assert_eq!(p.id.shard(), f.shard);
        assert!(ids.insert(p.id));
    }
    let thread =
        store.thread_find(&f, &ThreadKey::Identifier(Identifier::parse("busy").unwrap())).await.unwrap().unwrap();
    assert_eq!(thread.posts, 40);
}

pub async fn counts_by_identifier_and_url(store: &dyn Store) {
    let f = forum(store, "blog").await;
    for _ in 0..3 {
        post(store, &f, "a", None, NOW).await;
    }
    post(store, &f, "bb", None, NOW).await;
    let keys = vec![
        ThreadKey::Identifier(Identifier::parse("a").unwrap()),
        ThreadKey::Url(WebUrl::parse("url", "https://example.com/2").unwrap()),
        ThreadKey::Identifier(Identifier::parse("missing").unwrap()),
    ];
    let counts: HashMap<String, i64> = store
        .thread_counts(&f, &keys)
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.identifier.into_string(), c.posts))
        .collect();
    assert_eq!(counts, HashMap::from([("a".to_owned(), 3), ("bb".to_owned(), 1)]));
}

pub async fn guests_with_the_same_details_share_an_author(store: &dyn Store) {
    let f = forum(store, "blog").await;
    let mut with_email = new_post("t", None, "x", PostState::Approved);
    with_email.author = PostAuthor::Guest(GuestAuthor {
        name: DisplayName::parse("name", "Ann").unwrap(),
        email: Some(Email::parse("ann@example.com").unwrap()),
        url: None,
    });
    let a = store.post_create(&f, with_email.clone(), token(), NOW).await.unwrap().author;
    let b = store.post_create(&f, with_email, token(), NOW).await.unwrap().author;
    let c = store.post_create(&f, new_post("t", None, "x", PostState::Approved), token(), NOW).await.unwrap().author;
    assert_eq!(a.id, b.id);
    assert_ne!(a.id, c.id);
    let mut got = store.authors_get_many(&[a.id, c.id, Id::from_raw(5).unwrap()]).await.unwrap();
    got.sort_by_key(|x| x.id);
    let mut want = vec![a, c];
    want.sort_by_key(|x| x.id);
    assert_eq!(got, want);
    assert!(store.authors_get_many(&[]).await.unwrap().is_empty());
}

/// Every change a thread's pages show moves its version forward; votes do not.
pub async fn thread_versions_move_with_what_pages_show(store: &dyn Store) {
    let f = forum(store, "blog").await;
    let first = post(store, &f, "t", None, NOW).await;
    let version = async || store.thread_get(first.thread_id).await.unwrap().version;
    let mut seen = version().await;
    assert!(seen > 0, "creating the thread's first post moved it");
    let moved = async |what: &str, seen: &mut u64| {
        let now = version().await;
        assert!(now > *seen, "{what}: version {now} after {seen}");
        *seen = now;
    };
    let reply = post(store, &f, "t", Some(first.id), NOW + 1).await;
    moved("a reply", &mut seen).await;
    store
        .post_edit(reply.id, Message::parse("edited").unwrap(), render_markdown("edited"), None, NOW + 2)
        .await
        .unwrap();
    moved("an edit", &mut seen).await;
    let mia = confab_core::model::Moderator::Filter;
    store.post_set_state(reply.id, PostState::Spam, mia, None, NOW + 3).await.unwrap();
    moved("marked spam", &mut seen).await;
    store.post_set_state(reply.id, PostState::Approved, mia, None, NOW + 4).await.unwrap();
    moved("approved", &mut seen).await;
    store.post_set_highlighted(reply.id, true, NOW + 5).await.unwrap();
    moved("highlighted", &mut seen).await;
    store.thread_set_pinned(first.thread_id, Some(reply.id)).await.unwrap();
    moved("pinned", &mut seen).await;
    let closed = store.thread_set_closed(first.thread_id, true).await.unwrap();
    assert!(closed.version >= seen, "what the write returns is not behind what it did");
    moved("closed", &mut seen).await;
    store.post_delete(reply.id, NOW + 6).await.unwrap();
    moved("deleted", &mut seen).await;
    store.vote_set(first.id, token(), VoteValue::Up, NOW + 7).await.unwrap();
    assert_eq!(version().await, seen, "a vote leaves it");
    // Another thread's version is its own.
    let other = post(store, &f, "other", None, NOW).await;
    assert_eq!(version().await, seen);
    assert!(store.thread_get(other.thread_id).await.unwrap().version > 0);
    let imported = store
        .thread_import(
            &f,
            spec("imported"),
            (0..3usize).map(|i| import_post(i.checked_sub(1), "x", PostState::Approved, 0)).collect(),
            NOW,
        )
        .await
        .unwrap();
    assert!(store.thread_get(imported.thread.id).await.unwrap().version > 0, "an import moved it");
}

pub async fn sso_authors_are_namespaced_per_forum(store: &dyn Store) {
    let (a, b) = (forum(store, "site-a").await, forum(store, "site-b").await);
    let user = |name: &str| confab_core::sso::SsoUser {
        id: "42".into(),
        name: DisplayName::parse("name", name).unwrap(),
        email: Some(Email::parse("ann@example.com").unwrap()),
        avatar: Some(WebUrl::parse("avatar", "https://cdn.example/ann.png").unwrap()),
        url: None,
    };
    let post_as = |f: &Forum, u| {
        let mut p = new_post("t", None, "via sso", PostState::Approved);
        p.author = PostAuthor::Sso(u);
        let f = f.clone();
        async move { store.post_create(&f, p, Token::generate().hash(), NOW).await.unwrap().author }
    };
    let first = post_as(&a, user("Ann")).await;
    assert_eq!(first.kind, AuthorKind::Sso);
    assert_eq!(first.sso, Some((a.id, "42".to_owned())));
    assert_eq!(first.avatar_url.as_ref().map(|u| u.as_str()), Some("https://cdn.example/ann.png"));
    // The site renamed its user: same author, new name.
    let again = post_as(&a, user("Ann B")).await;
    assert_eq!(again.id, first.id);
    let stored = store.authors_get_many(&[first.id]).await.unwrap().remove(0);
    assert_eq!((stored.name.as_str(), stored.sso.clone()), ("Ann B", Some((a.id, "42".to_owned()))));
    // The same id from another site is someone else.
    let other = post_as(&b, user("Ann")).await;
    assert_ne!(other.id, first.id);
    assert_eq!(other.sso, Some((b.id, "42".to_owned())));
}

pub async fn threads_are_corrected_in_place(store: &dyn Store) {
    let f = forum(store, "corrected").await;
    let made = store.post_create(&f, new_post("t", None, "hello", PostState::Approved), token(), NOW).await.unwrap();
    let before = made.thread.clone();
    let url = WebUrl::parse("url", "https://real.example/article").unwrap();
    let fixed = store.thread_correct(before.id, Some(url.clone()), None).await.unwrap();
    assert_eq!(fixed.url.as_ref(), Some(&url));
    assert_eq!(fixed.title, before.title, "what is not given stays");
    assert!(fixed.version > before.version, "cached pages see the change");
    let title = Title::parse("The real title").unwrap();
    let fixed = store.thread_correct(before.id, None, Some(title.clone())).await.unwrap();
    assert_eq!((fixed.url.as_ref(), fixed.title.as_ref()), (Some(&url), Some(&title)));
    let found = store.thread_find(&f, &ThreadKey::Url(url)).await.unwrap().expect("found by its new url");
    assert_eq!(found.id, before.id);
    let old = before.url.clone().unwrap();
    assert!(store.thread_find(&f, &ThreadKey::Url(old)).await.unwrap().is_none(), "not by the old one");
    assert!(matches!(
        store.thread_correct(Id::from_i64(12345).unwrap(), None, None).await,
        Err(StoreError::ThreadNotFound)
    ));
}

pub async fn sorts_order_roots(store: &dyn Store) {
    let f = forum(store, "blog").await;
    let old = post(store, &f, "t", None, NOW).await;
    let mid = post(store, &f, "t", None, NOW + 3_600_000).await;
    let new = post(store, &f, "t", None, NOW + 7_200_000).await;
    for _ in 0..5 {
        store.vote_set(old.id, token(), VoteValue::Up, NOW).await.unwrap();
    }
    store.vote_set(mid.id, token(), VoteValue::Up, NOW).await.unwrap();
    store.vote_set(new.id, token(), VoteValue::Down, NOW).await.unwrap();
    let order = |sort| async move {
        let page =
            store.thread_roots(old.thread_id, sort, None, PageLimits { roots: 10, replies_per_root: 0 }).await.unwrap();
        page.roots.into_iter().map(|r| r.root.id).collect::<Vec<_>>()
    };
    assert_eq!(order(Sort::Newest).await, [new.id, mid.id, old.id]);
    assert_eq!(order(Sort::Oldest).await, [old.id, mid.id, new.id]);
    assert_eq!(order(Sort::Best).await, [old.id, mid.id, new.id]);
    // hot: 5 points an hour older than 1 point beats it (log10(5) > 1h/12.5h).
    assert_eq!(order(Sort::Hot).await, [old.id, mid.id, new.id]);
}
