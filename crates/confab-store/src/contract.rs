//! The store contract: behaviour every backend must show, written once against
//! `&dyn Store`. A backend's tests run all of it with one macro call:
//!
//! ```text
//! confab_store::store_contract_tests!(async || my_backend_fresh_store().await);
//! ```
//!
//! where the factory returns a [`Fresh`]: an empty store plus whatever keeps it alive
//! (a temporary directory, a scratch database).

use std::any::Any;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use confab_core::cursor::ReplyCursor;
use confab_core::id::Id;
use confab_core::input::{DisplayName, Email, Identifier, Message, Shortname, Title, Username, WebUrl};
use confab_core::jobs::{EventKind, JobState, Task};
use confab_core::model::{
    Account, AuthorKind, Forum, ForumPolicy, GuestAuthor, LinkPurpose, NewAccount, NewForum, NewPost, Post, PostAuthor,
    PostState, Role, Sort, ThreadKey, ThreadSpec, VoteValue,
};
use confab_core::rank;
use confab_core::render::render_markdown;
use confab_core::secret::{Token, TokenHash};

use crate::{ImportPost, JobOutcome, PageLimits, PostSearch, Store, StoreError};

/// A fresh, empty store and the guard that keeps its storage alive.
pub struct Fresh {
    pub store: Arc<dyn Store>,
    pub guard: Box<dyn Any + Send>,
}

pub const NOW: i64 = 1_800_000_000_000;

/// A forum with no owner, no origins and the default policy.
pub fn new_forum(shortname: &str) -> NewForum {
    NewForum {
        owner: None,
        shortname: Shortname::parse(shortname).unwrap(),
        name: DisplayName::parse("name", shortname).unwrap(),
        origins: vec![],
        policy: ForumPolicy::default(),
    }
}

pub async fn forum(store: &dyn Store, shortname: &str) -> Forum {
    store.forum_create(new_forum(shortname), NOW).await.unwrap()
}

pub fn spec(identifier: &str) -> ThreadSpec {
    ThreadSpec {
        identifier: Identifier::parse(identifier).unwrap(),
        url: Some(WebUrl::parse("url", &format!("https://example.com/{}", identifier.len())).unwrap()),
        title: Some(Title::parse("A page").unwrap()),
    }
}

pub fn new_post(identifier: &str, parent: Option<Id>, text: &str, state: PostState) -> NewPost {
    NewPost {
        thread: spec(identifier),
        parent_id: parent,
        author: PostAuthor::Guest(GuestAuthor {
            name: DisplayName::parse("name", "Ann").unwrap(),
            email: None,
            url: None,
        }),
        message: Message::parse(text).unwrap(),
        html: render_markdown(text),
        state,
        notify: false,
        screen: None,
        held: None,
        hold_first_post: false,
        network: None,
        subscribe: None,
    }
}

fn token() -> TokenHash {
    Token::generate().hash()
}

pub async fn post(store: &dyn Store, forum: &Forum, identifier: &str, parent: Option<Id>, at: i64) -> Post {
    store
        .post_create(forum, new_post(identifier, parent, "hello", PostState::Approved), token(), at)
        .await
        .unwrap()
        .post
}

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
    let edited =
        store.post_edit(created.id, Message::parse("after").unwrap(), render_markdown("after"), NOW + 5).await.unwrap();
    assert_eq!(edited.message.as_str(), "after");
    assert_eq!(edited.html, "<p>after</p>\n");
    assert_eq!(edited.edited_at, Some(NOW + 5));
    assert_eq!(
        (edited.created_at, edited.path.clone(), edited.state),
        (created.created_at, created.path.clone(), created.state)
    );
    store.post_delete(created.id, NOW).await.unwrap();
    assert!(matches!(
        store.post_edit(created.id, Message::parse("x").unwrap(), String::new(), NOW).await,
        Err(StoreError::PostNotFound)
    ));
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
    store.post_edit(reply.id, Message::parse("edited").unwrap(), render_markdown("edited"), NOW + 2).await.unwrap();
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

pub async fn account(store: &dyn Store, username: &str, email: &str) -> Account {
    store
        .account_create(
            NewAccount {
                username: Username::parse(username).unwrap(),
                email: Email::parse(email).unwrap(),
                password_hash: format!("hash-of-{username}"),
            },
            NOW,
        )
        .await
        .unwrap()
}

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

pub async fn id_nodes_are_leased_to_one_holder_at_a_time(store: &dyn Store) {
    use crate::id_nodes::CLOCK_SKEW_MS;
    use confab_core::id::{MAX_AHEAD_MS, NODES};
    let (now, until) = (5_000_000u64, 5_060_000u64);
    // Processes starting at once all get different nodes.
    let (a, b, c, d) = tokio::join!(
        store.id_node_acquire("a", now, until),
        store.id_node_acquire("b", now, until),
        store.id_node_acquire("c", now, until),
        store.id_node_acquire("d", now, until),
    );
    let taken: Vec<u16> = [a, b, c, d].into_iter().map(|l| l.unwrap().node).collect();
    assert_eq!(taken.iter().collect::<HashSet<_>>().len(), 4, "nodes shared: {taken:?}");
    assert!(taken.iter().all(|n| (1..NODES).contains(n)), "node 0 is never leased: {taken:?}");
    // Only the holder renews.
    assert!(store.id_node_renew(taken[0], "a", now + 10, until + 10_000).await.unwrap());
    assert!(!store.id_node_renew(taken[0], "b", now + 10, until + 10_000).await.unwrap());
    // A node given back is taken again (it ended longest ago) after the ids it minted.
    store.id_node_release(taken[1], "b", now + 500).await.unwrap();
    store.id_node_release(taken[1], "z", now + 900_000).await.unwrap(); // not z's: no effect
    let mut rest = Vec::new();
    loop {
        match store.id_node_acquire("e", now + 1, until).await {
            Ok(l) => rest.push(l),
            Err(StoreError::Unavailable(_)) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(rest.len(), usize::from(NODES) - 1 - 3, "every free node is leased once, then none");
    let again = rest.iter().find(|l| l.node == taken[1]).expect("the given-back node is leased again");
    assert_eq!(again.floor_ms, now + 501);
    // A lapsed lease is taken over, starting after all its holder can have minted.
    let later = until + 70_000;
    let took = store.id_node_acquire("f", later, later + 60_000).await.unwrap();
    assert_ne!(took.node, taken[0], "the lease renewed furthest is taken last");
    assert_eq!(took.floor_ms, until + MAX_AHEAD_MS + CLOCK_SKEW_MS);
    let before = [(taken[2], "c"), (taken[3], "d")].iter().find(|(n, _)| *n == took.node).map_or("e", |(_, h)| *h);
    assert!(!store.id_node_renew(took.node, before, later, later).await.unwrap(), "the old holder lost it");
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

pub async fn secrets_and_admin_token_are_set_once(store: &dyn Store) {
    let first = store.secret_get_or_init("cursor", vec![1, 2, 3]).await.unwrap();
    assert_eq!(first, vec![1, 2, 3]);
    assert_eq!(store.secret_get_or_init("cursor", vec![9]).await.unwrap(), vec![1, 2, 3]);
    assert!(store.admin_token_hash().await.unwrap().is_none());
    let t = Token::generate();
    assert!(store.admin_token_init(t.hash()).await.unwrap());
    assert!(!store.admin_token_init(token()).await.unwrap());
    assert!(store.admin_token_hash().await.unwrap().unwrap().matches(&t.hash()));
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

// ---- the paging property ----

/// One post of a generated tree.
#[derive(Debug, Clone)]
pub struct GenPost {
    /// Index of an earlier post to reply to (modulo the count so far), or a root.
    pub parent: Option<usize>,
    pub likes: u8,
    pub dislikes: u8,
    pub delete: bool,
    pub pending: bool,
}

/// How to read the tree back.
#[derive(Debug, Clone)]
pub struct GenPaging {
    pub roots_per_page: u32,
    pub replies_per_root: u32,
    pub replies_per_page: u32,
    /// Write new posts between pages.
    pub arrivals: bool,
}

pub fn tree_strategy() -> impl proptest::strategy::Strategy<Value = (Vec<GenPost>, GenPaging)> {
    use proptest::prelude::*;
    let post = (
        proptest::option::weighted(0.6, 0usize..1000),
        0u8..4,
        0u8..3,
        proptest::bool::weighted(0.15),
        proptest::bool::weighted(0.1),
    )
        .prop_map(|(parent, likes, dislikes, delete, pending)| GenPost {
            parent,
            likes,
            dislikes,
            delete,
            pending,
        });
    let paging = (1u32..6, 0u32..4, 1u32..5, any::<bool>()).prop_map(
        |(roots_per_page, replies_per_root, replies_per_page, arrivals)| GenPaging {
            roots_per_page,
            replies_per_root,
            replies_per_page,
            arrivals,
        },
    );
    (proptest::collection::vec(post, 1..40), paging)
}

/// Builds the tree, then reads it back through the cursors in every sort and checks
/// that every listed post appears exactly once, in the right order, with posts that
/// arrive between pages appearing at most once.
pub async fn paging_yields_every_listed_post_once(store: &dyn Store, posts: Vec<GenPost>, paging: GenPaging) {
    let f = forum(store, "prop").await;
    let mut created: Vec<Post> = Vec::new();
    for (i, g) in posts.iter().enumerate() {
        let parent =
            g.parent.filter(|_| i > 0).map(|p| created[p % i].clone()).filter(|p| p.state == PostState::Approved);
        let state = if g.pending { PostState::Pending } else { PostState::Approved };
        let at = NOW + i as i64 * 600_000;
        let p =
            store.post_create(&f, new_post("tree", parent.map(|p| p.id), "x", state), token(), at).await.unwrap().post;
        created.push(p);
    }
    for (g, p) in posts.iter().zip(&created) {
        if p.state != PostState::Approved {
            continue;
        }
        for _ in 0..g.likes {
            store.vote_set(p.id, token(), VoteValue::Up, NOW).await.unwrap();
        }
        for _ in 0..g.dislikes {
            store.vote_set(p.id, token(), VoteValue::Down, NOW).await.unwrap();
        }
    }
    for (g, p) in posts.iter().zip(&created) {
        if g.delete {
            store.post_delete(p.id, NOW).await.unwrap();
        }
    }
    let thread = created[0].thread_id;
    let now: HashMap<Id, Post> =
        get_each(created.iter().map(|p| store.post_get(p.id))).await.into_iter().map(|p| (p.id, p)).collect();
    let listed: HashSet<Id> = now.values().filter(|p| p.is_listed()).map(|p| p.id).collect();

    for sort in Sort::ALL {
        let key = |p: &Post| -> (f64, Id) {
            match sort {
                Sort::Newest | Sort::Oldest => (0.0, p.id),
                Sort::Best => (rank::best_score(p.likes, p.dislikes), p.id),
                Sort::Hot => (rank::hot_score(p.points(), p.created_at), p.id),
            }
        };
        let mut expected_roots: Vec<&Post> = now.values().filter(|p| p.depth == 0 && listed.contains(&p.id)).collect();
        expected_roots.sort_by(|a, b| key(a).partial_cmp(&key(b)).unwrap());
        if sort != Sort::Oldest {
            expected_roots.reverse();
        }

        let limits = PageLimits { roots: paging.roots_per_page, replies_per_root: paging.replies_per_root };
        let mut seen: Vec<Post> = Vec::new();
        let mut roots_seen: Vec<Id> = Vec::new();
        let mut cursor = None;
        let mut arrivals = 0;
        loop {
            let page = store.thread_roots(thread, sort, cursor, limits).await.unwrap();
            assert!(page.roots.len() <= paging.roots_per_page as usize);
            for r in &page.roots {
                roots_seen.push(r.root.id);
                seen.push(r.root.clone());
                assert!(r.replies.len() <= paging.replies_per_root as usize);
                let mut replies = r.replies.clone();
                let mut more = r
                    .more_replies
                    .then(|| ReplyCursor { path: replies.last().map(|p| p.path.clone()).unwrap_or_default() });
                if r.more_replies && replies.is_empty() {
                    more = None;
                    replies = read_all_replies(store, &r.root, None, paging.replies_per_page).await;
                }
                while let Some(c) = more.take() {
                    let next = store.post_replies(&r.root, Some(c), paging.replies_per_page).await.unwrap();
                    more = next.next.clone();
                    replies.extend(next.replies);
                }
                assert!(replies.windows(2).all(|w| w[0].path < w[1].path), "replies in tree order");
                assert!(replies.iter().all(|p| p.root_id == r.root.id));
                seen.extend(replies);
            }
            if paging.arrivals && arrivals < 2 {
                arrivals += 1;
                let root = post(store, &f, "tree", None, NOW + 1_000_000_000).await;
                if let Some(anchor) = created.iter().find(|p| now[&p.id].state == PostState::Approved) {
                    post(store, &f, "tree", Some(anchor.id), NOW + 1_000_000_000).await;
                }
                let _ = root;
            }
            match page.next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        let mut counts: HashMap<Id, usize> = HashMap::new();
        for p in &seen {
            *counts.entry(p.id).or_default() += 1;
        }
        assert!(counts.values().all(|&n| n == 1), "{sort:?}: a post appeared twice");
        for id in &listed {
            assert_eq!(counts.get(id), Some(&1), "{sort:?}: listed post {id} missing");
        }
        for p in &seen {
            assert!(listed.contains(&p.id) || !now.contains_key(&p.id), "{sort:?}: unlisted post {} shown", p.id);
        }
        let original: Vec<Id> = roots_seen.iter().copied().filter(|id| now.contains_key(id)).collect();
        let want: Vec<Id> = expected_roots.iter().map(|p| p.id).collect();
        assert_eq!(original, want, "{sort:?}: root order");
    }

    // Any node's replies, paged, are exactly its listed descendants in tree order.
    for node in now.values().filter(|p| p.is_listed()) {
        let got: Vec<Id> =
            read_all_replies(store, node, None, paging.replies_per_page).await.iter().map(|p| p.id).collect();
        let mut want: Vec<&Post> = now
            .values()
            .filter(|p| p.depth > 0 && p.path.starts_with(&node.path) && p.id != node.id && listed.contains(&p.id))
            .collect();
        want.sort_by(|a, b| a.path.cmp(&b.path));
        let want: Vec<Id> = want.iter().map(|p| p.id).collect();
        let got: Vec<Id> = got.into_iter().filter(|id| now.contains_key(id)).collect();
        assert_eq!(got, want, "replies under {}", node.id);
    }
}

async fn read_all_replies(store: &dyn Store, node: &Post, mut cursor: Option<ReplyCursor>, per_page: u32) -> Vec<Post> {
    let mut out = Vec::new();
    loop {
        let page = store.post_replies(node, cursor, per_page).await.unwrap();
        assert!(page.replies.len() <= per_page as usize);
        out.extend(page.replies);
        match page.next {
            Some(c) => cursor = Some(c),
            None => return out,
        }
    }
}

/// Awaits each read in turn.
async fn get_each<T>(futs: impl Iterator<Item = impl std::future::Future<Output = Result<T, StoreError>>>) -> Vec<T> {
    let mut out = Vec::new();
    for f in futs {
        out.push(f.await.unwrap());
    }
    out
}

fn event_of(job: &crate::Job) -> (EventKind, Option<Id>) {
    match Task::from_json(&job.task).unwrap() {
        Task::Event { event, post, .. } => (event, post),
        other => panic!("not an event: {other:?}"),
    }
}

/// Claims everything due at `now` and returns the events, oldest first.
async fn drain_events(store: &dyn Store, now: i64) -> Vec<(EventKind, Option<Id>)> {
    let mut jobs = store.jobs_claim(now, now + 60_000, 100).await.unwrap();
    jobs.sort_by_key(|j| j.id);
    for j in &jobs {
        assert_eq!(j.state, JobState::Running);
        assert!(store.job_settle(j.id, j.attempts, JobOutcome::Done { follow_ups: vec![] }, now).await.unwrap());
    }
    jobs.iter().map(event_of).collect()
}

pub async fn writes_queue_their_events_in_the_same_transaction(store: &dyn Store) {
    let f = forum(store, "blog").await;
    let p = post(store, &f, "page", None, NOW).await;
    let reply = post(store, &f, "page", Some(p.id), NOW).await;
    assert_eq!(
        drain_events(store, NOW).await,
        vec![
            (EventKind::ThreadCreated, None),
            (EventKind::PostCreated, Some(p.id)),
            (EventKind::PostCreated, Some(reply.id))
        ]
    );
    store.post_edit(p.id, Message::parse("changed").unwrap(), "<p>changed</p>".into(), NOW).await.unwrap();
    store.post_delete(reply.id, NOW).await.unwrap();
    let t = store.thread_create(&f, spec("other"), NOW).await.unwrap();
    let events = drain_events(store, NOW).await;
    assert_eq!(
        events,
        vec![
            (EventKind::PostUpdated, Some(p.id)),
            (EventKind::PostDeleted, Some(reply.id)),
            (EventKind::ThreadCreated, None)
        ]
    );
    let all = store.jobs_list(crate::JobFilter { limit: 100, ..Default::default() }).await.unwrap();
    assert!(all.iter().all(|j| j.forum_id == f.id && j.id.shard() == f.shard), "jobs live in the forum's shard");
    assert!(all.iter().any(|j| j.task.contains(&t.id.to_string())));

    // A write that fails queues nothing.
    store.thread_set_closed(t.id, true).await.unwrap();
    let refused = store.post_create(&f, new_post("other", None, "x", PostState::Approved), token(), NOW).await;
    assert!(matches!(refused, Err(StoreError::ThreadClosed)));
    assert!(matches!(
        store.post_edit(Id::from_raw(999).unwrap(), Message::parse("x").unwrap(), "x".into(), NOW).await,
        Err(StoreError::PostNotFound)
    ));
    assert_eq!(drain_events(store, NOW).await, vec![]);
    // An import is history, not news: it queues nothing.
    let batch = vec![ImportPost {
        parent: None,
        author: GuestAuthor { name: DisplayName::parse("name", "Old").unwrap(), email: None, url: None },
        message: Message::parse("old").unwrap(),
        html: "<p>old</p>".into(),
        state: PostState::Approved,
        created_at: NOW - 1000,
        likes: 0,
        dislikes: 0,
    }];
    store.thread_import(&f, spec("imported"), batch, NOW).await.unwrap();
    assert_eq!(drain_events(store, NOW).await, vec![]);
}

pub async fn jobs_are_claimed_once_retried_and_dead_lettered(store: &dyn Store) {
    use crate::{JobFilter, NewJob};
    let f = forum(store, "blog").await;
    post(store, &f, "page", None, NOW).await; // thread.created + post.created
    // Not due yet: nothing to claim.
    assert!(store.jobs_claim(NOW - 1, NOW + 60_000, 10).await.unwrap().is_empty());
    let first = store.jobs_claim(NOW, NOW + 60_000, 1).await.unwrap();
    assert_eq!(first.len(), 1, "the limit holds");
    assert_eq!(first[0].attempts, 1);
    let rest = store.jobs_claim(NOW, NOW + 60_000, 10).await.unwrap();
    assert_eq!(rest.len(), 1, "a held job is not claimed again");
    assert_ne!(rest[0].id, first[0].id);
    let (a, b) = (first[0].clone(), rest[0].clone());

    // Retry later; a settle by a stale attempt changes nothing.
    let retry = JobOutcome::Retry { at: NOW + 5_000, error: "receiver said 503".into() };
    assert!(store.job_settle(a.id, 1, retry, NOW).await.unwrap());
    assert!(!store.job_settle(a.id, 1, JobOutcome::Done { follow_ups: vec![] }, NOW).await.unwrap(), "not held");
    let got = store.job_get(a.id).await.unwrap();
    assert_eq!((got.state, got.attempts, got.run_at), (JobState::Ready, 1, NOW + 5_000));
    assert_eq!(got.last_error.as_deref(), Some("receiver said 503"));
    assert!(store.jobs_claim(NOW + 4_999, NOW + 60_000, 10).await.unwrap().is_empty());

    // A worker that dies holding a job: once the lease ends another claims it, and the
    // first one's late settle is refused.
    let again = store.jobs_claim(NOW + 5_000, NOW + 6_000, 10).await.unwrap();
    assert_eq!(again.iter().map(|j| (j.id, j.attempts)).collect::<Vec<_>>(), vec![(a.id, 2)]);
    let stolen = store.jobs_claim(NOW + 6_000, NOW + 70_000, 10).await.unwrap();
    assert_eq!(stolen.iter().map(|j| (j.id, j.attempts)).collect::<Vec<_>>(), vec![(a.id, 3)]);
    let follow = NewJob {
        forum_id: f.id,
        task: Task::Webhook { webhook: a.id, event: EventKind::PostCreated, body: "{}".into() },
        run_at: NOW + 6_000,
    };
    let done = JobOutcome::Done { follow_ups: vec![follow.clone()] };
    assert!(!store.job_settle(a.id, 2, done.clone(), NOW + 6_000).await.unwrap(), "the lapsed attempt");
    assert!(store.job_settle(a.id, 3, done, NOW + 6_000).await.unwrap());
    assert_eq!(store.job_get(a.id).await.unwrap().state, JobState::Done);
    let queued = store.jobs_claim(NOW + 6_000, NOW + 70_000, 10).await.unwrap();
    assert_eq!(queued.len(), 1, "the follow-up was queued exactly once");
    assert_eq!(Task::from_json(&queued[0].task).unwrap(), follow.task);
    assert!(store.job_release(queued[0].id, 1, NOW + 6_000).await.unwrap());
    let released = store.job_get(queued[0].id).await.unwrap();
    assert_eq!((released.state, released.attempts), (JobState::Ready, 0), "a release does not count");

    // Dead letters: listed, retried, discarded; only dead ones.
    assert!(store.job_settle(b.id, 1, JobOutcome::Dead { error: "x".repeat(5_000) }, NOW).await.unwrap());
    let dead =
        store.jobs_list(JobFilter { state: Some(JobState::Dead), limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(dead.iter().map(|j| j.id).collect::<Vec<_>>(), vec![b.id]);
    assert!(dead[0].last_error.as_ref().unwrap().len() <= 500, "errors are clipped");
    assert!(matches!(store.job_retry(a.id, NOW).await, Err(StoreError::JobNotDead)));
    assert!(matches!(store.job_discard(a.id).await, Err(StoreError::JobNotDead)));
    assert!(matches!(store.job_retry(Id::from_raw(12345).unwrap(), NOW).await, Err(StoreError::JobNotFound)));
    let retried = store.job_retry(b.id, NOW + 7_000).await.unwrap();
    assert_eq!((retried.state, retried.attempts, retried.run_at), (JobState::Ready, 0, NOW + 7_000));
    let b2 = store.jobs_claim(NOW + 7_000, NOW + 70_000, 10).await.unwrap();
    assert!(b2.iter().any(|j| j.id == b.id));
    assert!(store.job_settle(b.id, 1, JobOutcome::Dead { error: "again".into() }, NOW + 7_000).await.unwrap());
    store.job_discard(b.id).await.unwrap();
    assert!(matches!(store.job_get(b.id).await, Err(StoreError::JobNotFound)));

    let counts: HashMap<JobState, u64> = store.job_counts().await.unwrap().into_iter().collect();
    assert_eq!(counts.get(&JobState::Done), Some(&1));
    assert_eq!(store.jobs_prune(NOW + 6_001).await.unwrap(), 1);
    assert_eq!(store.jobs_prune(NOW + 6_001).await.unwrap(), 0);
    assert!(matches!(store.job_get(a.id).await, Err(StoreError::JobNotFound)));
}

pub async fn concurrent_claims_never_share_a_job(store: Arc<dyn Store>) {
    let f = forum(&*store, "blog").await;
    for _ in 0..30 {
        post(&*store, &f, "busy", None, NOW).await;
    }
    let claimers: Vec<_> = (0..6)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let got = store.jobs_claim(NOW, NOW + 60_000, 3).await.unwrap();
                    if got.is_empty() {
                        return mine;
                    }
                    mine.extend(got.into_iter().map(|j| j.id));
                }
            })
        })
        .collect();
    let mut seen = HashSet::new();
    for c in claimers {
        for id in c.await.unwrap() {
            assert!(seen.insert(id), "job {id} claimed twice");
        }
    }
    assert_eq!(seen.len(), 31, "30 posts and the thread");
}

pub async fn webhooks_belong_to_their_forum(store: &dyn Store) {
    use crate::{NewWebhook, WebhookAttempt};
    let (a, b) = (forum(store, "blog").await, forum(store, "other").await);
    let new = |u: &str| NewWebhook {
        url: WebUrl::parse("url", u).unwrap(),
        secret: "whsec_x".into(),
        events: vec![EventKind::PostCreated, EventKind::PostDeleted],
        hub_signature: true,
    };
    let h1 = store.webhook_create(a.id, new("https://a.example/hook"), NOW).await.unwrap();
    let h2 = store.webhook_create(b.id, new("https://b.example/hook"), NOW).await.unwrap();
    assert_eq!(store.webhooks_list(a.id).await.unwrap(), vec![h1.clone()]);
    assert_eq!(store.webhook_get(h2.id).await.unwrap().events, vec![EventKind::PostCreated, EventKind::PostDeleted]);
    assert!(matches!(store.webhook_delete(a.id, h2.id).await, Err(StoreError::WebhookNotFound)), "not A's");
    for attempt in 1..=3 {
        let log = WebhookAttempt {
            seq: 0,
            webhook_id: h1.id,
            delivery_id: Id::from_raw(77).unwrap(),
            event: EventKind::PostCreated,
            attempt,
            at: NOW + attempt as i64,
            status: (attempt == 3).then_some(200),
            error: (attempt < 3).then(|| "connection refused".into()),
            duration_ms: 12,
        };
        store.webhook_attempt_log(log).await.unwrap();
    }
    let log = store.webhook_attempts(h1.id, None, 2).await.unwrap();
    assert_eq!(log.iter().map(|l| l.attempt).collect::<Vec<_>>(), vec![3, 2], "newest first");
    let older = store.webhook_attempts(h1.id, Some(log[1].seq), 10).await.unwrap();
    assert_eq!(older.iter().map(|l| l.attempt).collect::<Vec<_>>(), vec![1]);
    assert!(store.webhook_attempts(h2.id, None, 10).await.unwrap().is_empty());
    assert_eq!(store.webhook_attempts_prune(NOW + 2).await.unwrap(), 1, "attempt 1 is older");
    assert_eq!(store.webhook_attempts(h1.id, None, 10).await.unwrap().len(), 2);
    store.webhook_delete(a.id, h1.id).await.unwrap();
    assert!(matches!(store.webhook_get(h1.id).await, Err(StoreError::WebhookNotFound)));
    assert!(store.webhook_attempts(h1.id, None, 10).await.unwrap().is_empty(), "its log went with it");
    assert_eq!(store.webhooks_list(b.id).await.unwrap().len(), 1);
}

pub async fn notifications_follow_subscriptions_mutes_and_the_throttle(store: &dyn Store) {
    use crate::NotifyGate;
    let f = forum(store, "blog").await;
    let e = |s: &str| Email::parse(s).unwrap();
    let first = post(store, &f, "page", None, NOW).await;
    let thread = store.thread_get(first.thread_id).await.unwrap();
    let other = store.thread_get(post(store, &f, "other", None, NOW).await.thread_id).await.unwrap();

    assert!(store.subscription_add(&thread, &e("ann@example.com"), NOW).await.unwrap());
    assert!(!store.subscription_add(&thread, &e("ann@example.com"), NOW).await.unwrap(), "once");
    assert!(store.subscription_add(&thread, &e("bob@example.com"), NOW).await.unwrap());
    store.subscription_add(&other, &e("bob@example.com"), NOW).await.unwrap();
    assert_eq!(store.subscribers(thread.id).await.unwrap(), vec![e("ann@example.com"), e("bob@example.com")]);
    assert!(store.subscription_exists(thread.id, &e("ann@example.com")).await.unwrap());
    assert!(store.subscription_remove(thread.id, &e("ann@example.com")).await.unwrap());
    assert!(!store.subscription_remove(thread.id, &e("ann@example.com")).await.unwrap());

    // Unsubscribing by link: from one thread, then from everything.
    store.mute(&e("bob@example.com"), Some(thread.id), NOW).await.unwrap();
    assert!(store.is_muted(&e("bob@example.com"), thread.id).await.unwrap());
    assert!(!store.is_muted(&e("bob@example.com"), other.id).await.unwrap());
    assert!(store.subscribers(thread.id).await.unwrap().is_empty());
    assert_eq!(store.subscribers(other.id).await.unwrap().len(), 1);
    store.mute(&e("bob@example.com"), None, NOW).await.unwrap();
    assert!(store.is_muted(&e("bob@example.com"), other.id).await.unwrap());
    assert!(store.subscribers(other.id).await.unwrap().is_empty());
    // Subscribing again lifts the thread's mute.
    store.subscription_add(&thread, &e("carl@example.com"), NOW).await.unwrap();
    store.mute(&e("carl@example.com"), Some(thread.id), NOW).await.unwrap();
    store.subscription_add(&thread, &e("carl@example.com"), NOW).await.unwrap();
    assert!(!store.is_muted(&e("carl@example.com"), thread.id).await.unwrap());

    // Who hears about replies: a guest who asked, a verified account by default.
    let mut asks = new_post("page", None, "tell me", PostState::Approved);
    asks.author = PostAuthor::Guest(GuestAuthor {
        name: DisplayName::parse("name", "Dee").unwrap(),
        email: Some(e("Dee@Example.com")),
        url: None,
    });
    asks.notify = true;
    let asks = store.post_create(&f, asks, token(), NOW).await.unwrap().post;
    assert_eq!(store.reply_recipient(asks.id).await.unwrap(), Some(e("dee@example.com")));
    assert_eq!(store.reply_recipient(first.id).await.unwrap(), None, "did not ask");
    let acc = account(store, "eve", "eve@example.com").await;
    let mut by_account = new_post("page", None, "mine", PostState::Approved);
    by_account.author = PostAuthor::Account(acc.id);
    by_account.notify = true;
    let by_account = store.post_create(&f, by_account, token(), NOW).await.unwrap().post;
    assert_eq!(store.reply_recipient(by_account.id).await.unwrap(), None, "not before the address is verified");
    store.role_set(f.id, acc.id, Some(Role::Moderator), NOW).await.unwrap();
    assert!(store.moderator_emails(f.id).await.unwrap().is_empty());
    let link = token();
    store.link_create(link, acc.id, LinkPurpose::Verify, &acc.email, NOW, NOW + 1000).await.unwrap();
    store.account_verify_email(link, NOW).await.unwrap();
    assert_eq!(store.reply_recipient(by_account.id).await.unwrap(), Some(e("eve@example.com")));
    // Moderators and owners with verified addresses hear about held posts.
    assert_eq!(store.moderator_emails(f.id).await.unwrap(), vec![e("eve@example.com")]);

    // The throttle: one mail, then a digest opened once, then taken whole.
    let ann = e("ann@example.com");
    let ids: Vec<Id> = (1..=4).map(|i| Id::from_raw(1000 + i).unwrap()).collect();
    let min = 60_000;
    assert_eq!(store.notify_gate(&ann, thread.id, ids[0], NOW, 15 * min).await.unwrap(), NotifyGate::Send);
    assert_eq!(
        store.notify_gate(&ann, thread.id, ids[1], NOW + min, 15 * min).await.unwrap(),
        NotifyGate::Digest { due: NOW + 15 * min, schedule: true }
    );
    assert_eq!(
        store.notify_gate(&ann, thread.id, ids[2], NOW + 2 * min, 15 * min).await.unwrap(),
        NotifyGate::Digest { due: NOW + 15 * min, schedule: false }
    );
    assert_eq!(
        store.notify_gate(&ann, other.id, ids[3], NOW + 2 * min, 15 * min).await.unwrap(),
        NotifyGate::Send,
        "per thread"
    );
    // A retried notify job (its worker died after the gate) is the same mail again,
    // never a second one by way of the digest.
    assert_eq!(
        store.notify_gate(&ann, thread.id, ids[0], NOW + 3 * min, 15 * min).await.unwrap(),
        NotifyGate::SendAgain
    );
    // Waiting posts stay until their mail has gone: a failed send finds them again.
    assert_eq!(store.digest_waiting(&ann, thread.id).await.unwrap(), vec![ids[1], ids[2]]);
    assert_eq!(store.digest_waiting(&ann, thread.id).await.unwrap(), vec![ids[1], ids[2]], "still there");
    assert!(!store.digest_sent(&ann, thread.id, &ids[1..3], NOW + 15 * min, NOW + 30 * min).await.unwrap());
    assert!(store.digest_waiting(&ann, thread.id).await.unwrap().is_empty(), "taken once sent");
    // The digest started a new quiet interval.
    assert!(matches!(
        store.notify_gate(&ann, thread.id, ids[3], NOW + 16 * min, 15 * min).await.unwrap(),
        NotifyGate::Digest { schedule: true, .. }
    ));
    // A post that joins while the digest is being sent stays for the next one, which
    // the sender is told to queue; the gate sees that digest open.
    let sending = store.digest_waiting(&ann, thread.id).await.unwrap();
    assert_eq!(sending, vec![ids[3]]);
    assert!(matches!(
        store.notify_gate(&ann, thread.id, ids[2], NOW + 30 * min, 15 * min).await.unwrap(),
        NotifyGate::Digest { schedule: false, .. }
    ));
    assert!(store.digest_sent(&ann, thread.id, &sending, NOW + 31 * min, NOW + 46 * min).await.unwrap());
    assert_eq!(
        store.notify_gate(&ann, thread.id, ids[1], NOW + 32 * min, 15 * min).await.unwrap(),
        NotifyGate::Digest { due: NOW + 46 * min, schedule: false }
    );
    assert_eq!(store.digest_waiting(&ann, thread.id).await.unwrap(), vec![ids[1], ids[2]]);
    assert!(!store.digest_sent(&ann, thread.id, &[ids[1], ids[2]], NOW + 31 * min, NOW + 46 * min).await.unwrap());
    assert_eq!(
        store.notify_gate(&ann, thread.id, ids[0], NOW + 46 * min, 15 * min).await.unwrap(),
        NotifyGate::SendAgain
    );

    // A mail that failed is not counted: its retry may send at once...
    assert!(store.notify_release(&ann, thread.id, ids[0], NOW + 46 * min).await.unwrap());
    assert_eq!(store.notify_gate(&ann, thread.id, ids[0], NOW + 47 * min, 15 * min).await.unwrap(), NotifyGate::Send);
    // ...unless a digest opened meanwhile, which then carries the post.
    assert!(matches!(
        store.notify_gate(&ann, thread.id, ids[1], NOW + 48 * min, 15 * min).await.unwrap(),
        NotifyGate::Digest { schedule: true, .. }
    ));
    assert!(!store.notify_release(&ann, thread.id, ids[0], NOW + 47 * min).await.unwrap());
    assert_eq!(store.digest_waiting(&ann, thread.id).await.unwrap(), vec![ids[0], ids[1]]);
}

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

/// Generates one test per contract item for a backend. `$fresh` is an async closure
/// returning a [`Fresh`] store.
#[macro_export]
macro_rules! store_contract_tests {
    ($fresh:expr) => {
        mod store_contract {
            use super::*;
            use $crate::contract as c;

            macro_rules! case {
                ($name:ident) => {
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $name() {
                        let fresh: $crate::contract::Fresh = ($fresh)().await;
                        c::$name(&*fresh.store).await;
                    }
                };
            }
            case!(forums_are_unique_by_shortname);
            case!(deleting_a_forum_takes_all_its_data);
            case!(a_post_subscribes_its_author_in_its_own_transaction);
            case!(threads_are_found_by_identifier_and_url);
            case!(first_post_creates_the_thread_and_closed_threads_refuse_posts);
            case!(replies_nest_and_check_their_parent);
            case!(deleting_keeps_the_tree_whole);
            case!(replies_nest_to_the_maximum_depth);
            case!(edits_change_the_text_and_keep_the_rest);
            case!(pending_posts_are_not_listed_or_counted);
            case!(votes_move_counters_by_difference);
            case!(counts_by_identifier_and_url);
            case!(guests_with_the_same_details_share_an_author);
            case!(secrets_and_admin_token_are_set_once);
            case!(id_nodes_are_leased_to_one_holder_at_a_time);
            case!(threads_are_corrected_in_place);
            case!(sorts_order_roots);
            case!(import_writes_a_tree_in_one_go);
            case!(accounts_are_unique_by_username_and_email);
            case!(links_are_single_use_expiring_and_purpose_bound);
            case!(sessions_expire_are_revocable_and_die_on_reset);
            case!(sso_authors_are_namespaced_per_forum);
            case!(forum_keys_exist_from_creation_and_rotate);
            case!(roles_are_per_forum_and_a_forum_keeps_an_owner);
            case!(forum_settings_change);
            case!(an_account_exports_its_data_and_is_deleted_per_forum_policy);
            case!(writes_queue_their_events_in_the_same_transaction);
            case!(jobs_are_claimed_once_retried_and_dead_lettered);
            case!(webhooks_belong_to_their_forum);
            case!(notifications_follow_subscriptions_mutes_and_the_throttle);
            case!(spam_state_changes_keep_counts_and_learning_is_per_forum);
            case!(bans_match_their_forum_and_lapse);
            case!(flags_marks_shadow_posts_and_the_search);
            case!(thread_versions_move_with_what_pages_show);

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn concurrent_claims_never_share_a_job() {
                let fresh: $crate::contract::Fresh = ($fresh)().await;
                c::concurrent_claims_never_share_a_job(fresh.store.clone()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn concurrent_posts_are_all_written() {
                let fresh: $crate::contract::Fresh = ($fresh)().await;
                c::concurrent_posts_are_all_written(fresh.store.clone()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn concurrent_votes_are_all_counted() {
                let fresh: $crate::contract::Fresh = ($fresh)().await;
                c::concurrent_votes_are_all_counted(fresh.store.clone()).await;
            }

            #[test]
            fn paging_yields_every_listed_post_once() {
                let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
                let config =
                    proptest::test_runner::Config { cases: 64, failure_persistence: None, ..Default::default() };
                let mut runner = proptest::test_runner::TestRunner::new(config);
                runner
                    .run(&c::tree_strategy(), |(posts, paging)| {
                        rt.block_on(async {
                            let fresh: $crate::contract::Fresh = ($fresh)().await;
                            c::paging_yields_every_listed_post_once(&*fresh.store, posts, paging).await;
                        });
                        Ok(())
                    })
                    .unwrap();
            }
        }
    };
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

/// A post that asks to follow its thread subscribes its author in its own transaction
/// (a mute of the thread goes): a refused post subscribes nobody.
pub async fn a_post_subscribes_its_author_in_its_own_transaction(store: &dyn Store) {
    let f = forum(store, "blog").await;
    let first = post(store, &f, "t", None, NOW).await;
    let ann = Email::parse("ann@example.com").unwrap();
    store.mute(&ann, Some(first.thread_id), NOW).await.unwrap();
    let mut p = new_post("t", None, "following", PostState::Approved);
    p.subscribe = Some(ann.clone());
    store.post_create(&f, p, token(), NOW + 1).await.unwrap();
    assert!(store.subscription_exists(first.thread_id, &ann).await.unwrap());
    assert!(!store.is_muted(&ann, first.thread_id).await.unwrap(), "following again ends the mute");
    // The first post of a new thread subscribes to the thread it makes.
    let mut p = new_post("fresh", None, "new thread", PostState::Approved);
    p.subscribe = Some(ann.clone());
    let made = store.post_create(&f, p, token(), NOW + 2).await.unwrap();
    assert!(store.subscription_exists(made.thread.id, &ann).await.unwrap());

    store.thread_set_closed(first.thread_id, true).await.unwrap();
    let bob = Email::parse("bob@example.com").unwrap();
    let mut p = new_post("t", None, "too late", PostState::Approved);
    p.subscribe = Some(bob.clone());
    assert!(matches!(store.post_create(&f, p, token(), NOW + 3).await, Err(StoreError::ThreadClosed)));
    assert!(!store.subscription_exists(first.thread_id, &bob).await.unwrap(), "a refused post subscribes nobody");
}
