//! The denormalised counters (posts per thread, approved descendants per post) are
//! kept by each write's own transaction, never by a later job. After a concurrent mix
//! of posts, edits, deletes and spam decisions they equal a recount from the rows.

use std::sync::Arc;

use confab_core::IdGenerator;
use confab_core::input::Message;
use confab_core::model::PostState;
use confab_core::secret::Token;
use confab_store::Store;
use confab_store::contract::{NOW, forum, new_post, post};
use confab_store_sqlite::{SqliteOptions, SqliteStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn counters_equal_a_recount_after_concurrent_writes_and_decisions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.db");
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&SqliteOptions::new(&path), Arc::new(IdGenerator::new())).unwrap());
    let f = forum(&*store, "blog").await;
    // A few roots per thread to hang replies from.
    let mut roots = Vec::new();
    for t in 0..3 {
        roots.push(post(&*store, &f, &format!("t{t}"), None, NOW).await);
    }
    let tasks: Vec<_> = (0..8)
        .map(|w| {
            let (store, f, roots) = (Arc::clone(&store), f.clone(), roots.clone());
            tokio::spawn(async move {
                let mut mine = Vec::new();
                for i in 0..40u64 {
                    let k = (w * 131 + i * 17) % 10;
                    let root = &roots[(i as usize + w as usize) % roots.len()];
                    let identifier = root.thread_id;
                    let thread = store.thread_get(identifier).await.unwrap().identifier.to_string();
                    match k {
                        0..=4 => {
                            let parent = if k % 2 == 0 { Some(root.id) } else { mine.last().copied() };
                            // A parent in another thread, deleted or held is refused: fine.
                            let new = new_post(&thread, parent, "reply", PostState::Approved);
                            if let Ok(p) = store.post_create(&f, new, Token::generate().hash(), NOW).await {
                                mine.push(p.post.id);
                            }
                        }
                        5 => {
                            if let Some(id) = mine.last() {
                                let _ = store
                                    .post_edit(
                                        *id,
                                        Message::parse("edited").unwrap(),
                                        "<p>edited</p>".into(),
                                        None,
                                        NOW,
                                    )
                                    .await;
                            }
                        }
                        6 => {
                            if let Some(id) = mine.get(i as usize % mine.len().max(1)) {
                                let _ = store.post_delete(*id, NOW).await;
                            }
                        }
                        7 => {
                            if let Some(id) = mine.first() {
                                let _ = store
                                    .post_set_state(
                                        *id,
                                        PostState::Spam,
                                        confab_core::model::Moderator::Filter,
                                        None,
                                        NOW,
                                    )
                                    .await;
                            }
                        }
                        8 => {
                            if let Some(id) = mine.first() {
                                let _ = store
                                    .post_set_state(
                                        *id,
                                        PostState::Approved,
                                        confab_core::model::Moderator::Filter,
                                        None,
                                        NOW,
                                    )
                                    .await;
                            }
                        }
                        _ => {
                            if let Some(id) = mine.get(1) {
                                let _ = store
                                    .post_set_state(
                                        *id,
                                        PostState::Pending,
                                        confab_core::model::Moderator::Filter,
                                        None,
                                        NOW,
                                    )
                                    .await;
                            }
                        }
                    }
                }
                // Leave some of each state behind, while the other workers still write.
                for (at, state) in [(2, PostState::Spam), (3, PostState::Pending)] {
                    if let Some(id) = mine.get(at) {
                        let _ =
                            store.post_set_state(*id, state, confab_core::model::Moderator::Filter, None, NOW).await;
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let c = rusqlite::Connection::open(&path).unwrap();
    let wrong_threads: i64 = c
        .query_row(
            "SELECT COUNT(*) FROM threads t WHERE t.posts != (SELECT COUNT(*) FROM posts p WHERE p.thread_id = t.id AND p.state = 1)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(wrong_threads, 0, "posts per thread equal a recount");
    // A post's descendants: approved posts whose path extends its own.
    let wrong_posts: i64 = c
        .query_row(
            "SELECT COUNT(*) FROM posts a WHERE a.descendants != (SELECT COUNT(*) FROM posts d \
             WHERE d.root_id = a.root_id AND d.state = 1 AND length(d.path) > length(a.path) \
             AND substr(d.path, 1, length(a.path)) = a.path)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(wrong_posts, 0, "descendants equal a recount");
    let (posts, states): (i64, i64) =
        c.query_row("SELECT COUNT(*), COUNT(DISTINCT state) FROM posts", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    assert!(posts > 100 && states == 4, "the mix covered every state: {posts} posts, {states} states");
}
