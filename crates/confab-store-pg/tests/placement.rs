//! Pinned forums on a dedicated cluster, on the local topology with a third cluster
//! `big` (`dedicated = true`): forums created with a pin get a logical shard of their
//! own there, other stores follow by NOTIFY, forums without a pin never land there,
//! and an existing forum's shard moves there with every row intact.

use std::sync::Arc;
use std::time::Duration;

use confab_core::IdGenerator;
use confab_core::LogicalShard;
use confab_core::input::{Email, WebUrl};
use confab_core::jobs::EventKind;
use confab_core::model::{Forum, Moderator, PostState, Sort, ThreadKey, VoteValue};
use confab_core::secret::Token;
use confab_store::contract::{self, NOW};
use confab_store::prelude::*;
use confab_store::{NewWebhook, PageLimits, Store, WebhookAttempt};
use confab_store_pg::testing::fresh_with_dedicated;
use confab_store_pg::{MAINTENANCE, PgConfig, PgStore, PinError, Topology, migrate::migrate_all};

async fn open(cfg: &PgConfig, app: &str) -> Arc<PgStore> {
    let t = Topology::named(cfg.clone(), app).unwrap();
    Arc::new(PgStore::open(t, Arc::new(IdGenerator::new())).await.unwrap())
}

/// A shortname hashing to `shard`, so that a new forum would land there if allowed.
fn key_for(shard: LogicalShard, prefix: &str) -> String {
    (0..).map(|i| format!("{prefix}{i}")).find(|k| LogicalShard::for_key(k) == shard).unwrap()
}

async fn count(store: &PgStore, cluster: &str, sql: &str) -> i64 {
    let db = &store.topology().clusters[cluster].primary;
    db.get().await.unwrap().query_typed(sql, &[]).await.unwrap()[0].get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pinned_forums_get_a_shard_of_their_own_on_the_dedicated_cluster() {
    let (cfg, _dbs) = fresh_with_dedicated("pinnew").await;
    migrate_all(&Topology::new(cfg.clone()).unwrap()).await.unwrap();
    let a = open(&cfg, confab_store_pg::APPLICATION).await;
    // Another process, opened before the pin, must follow it.
    let b = open(&cfg, confab_store_pg::APPLICATION).await;
    assert_eq!(count(&a, "big", "SELECT count(*) FROM posts").await, 0);
    let g = &a.topology().global.primary;
    let on_big: i64 =
        g.get().await.unwrap().query_typed("SELECT count(*) FROM shard_map WHERE cluster = 'big'", &[]).await.unwrap()
            [0]
        .get(0);
    assert_eq!(on_big, 0, "a dedicated cluster gets no shards at first");

    let mut shared = Vec::new();
    for i in 0..40 {
        shared.push(contract::forum(&*a, &format!("site-{i}")).await);
    }
    let news = a.forum_create_pinned(contract::new_forum("news"), "big", NOW).await.unwrap();
    assert!(shared.iter().all(|f| f.shard != news.shard), "the pinned forum's shard is its own");
    assert_ne!(news.shard.get(), 0);
    assert_eq!(a.topology().cluster_of_shard(news.shard).await.unwrap().name, "big");

    // Its data is written on the dedicated cluster, and only there.
    let first = contract::post(&*a, &news, "story", None, NOW).await;
    contract::post(&*a, &news, "story", Some(first.id), NOW + 1).await;
    assert_eq!(count(&a, "big", "SELECT count(*) FROM posts").await, 2);
    for c in ["c1", "c2"] {
        assert_eq!(count(&a, c, &format!("SELECT count(*) FROM posts WHERE forum_id = {}", news.id)).await, 0);
    }

    // The other store reloads its map on the notice and reads the new forum's posts.
    let mut followed = false;
    for _ in 0..100 {
        if b.topology().cluster_of_shard(news.shard).await.unwrap().name == "big" {
            followed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(followed, "the second store follows the placement");
    assert_eq!(b.post_get(first.id).await.unwrap().id, first.id);

    // Forums without a pin avoid the pinned forum's shard and the dedicated cluster,
    // even when their shortname hashes there.
    let crowding = contract::forum(&*a, &key_for(news.shard, "crowd-")).await;
    assert_ne!(crowding.shard, news.shard);
    assert_ne!(a.topology().cluster_of_shard(crowding.shard).await.unwrap().name, "big");
    for f in &shared {
        assert_ne!(a.topology().cluster_of_shard(f.shard).await.unwrap().name, "big", "{}", f.shortname);
    }

    // Bad requests change nothing.
    assert!(matches!(
        a.forum_create_pinned(contract::new_forum("nowhere"), "c9", NOW).await,
        Err(PinError::UnknownCluster(c)) if c == "c9"
    ));
    assert!(matches!(a.forum_by_shortname("nowhere").await, Err(confab_store::StoreError::ForumNotFound)));
    assert!(matches!(
        a.forum_create_pinned(contract::new_forum("news"), "big", NOW).await,
        Err(PinError::Store(confab_store::StoreError::ForumExists))
    ));
    let on_big: i64 =
        g.get().await.unwrap().query_typed("SELECT count(*) FROM shard_map WHERE cluster = 'big'", &[]).await.unwrap()
            [0]
        .get(0);
    assert_eq!(on_big, 1, "a refused creation placed nothing");
}

/// Rows of each forum-shard table for `forums`, on `cluster`.
async fn rows_of(store: &PgStore, cluster: &str, forums: &[&Forum]) -> Vec<(String, i64)> {
    let ids: Vec<String> = forums.iter().map(|f| f.id.to_string()).collect();
    let ids = ids.join(",");
    let mut out = Vec::new();
    for (table, cond) in [
        ("threads", format!("forum_id IN ({ids})")),
        ("posts", format!("forum_id IN ({ids})")),
        ("votes", format!("post_id IN (SELECT id FROM posts WHERE forum_id IN ({ids}))")),
        ("outbox", format!("forum_id IN ({ids})")),
        ("webhooks", format!("forum_id IN ({ids})")),
        ("webhook_attempts", format!("webhook_id IN (SELECT id FROM webhooks WHERE forum_id IN ({ids}))")),
        ("subscriptions", format!("forum_id IN ({ids})")),
        ("notify_state", format!("thread_id IN (SELECT id FROM threads WHERE forum_id IN ({ids}))")),
        ("notify_pending", format!("thread_id IN (SELECT id FROM threads WHERE forum_id IN ({ids}))")),
        ("notify_sent", format!("thread_id IN (SELECT id FROM threads WHERE forum_id IN ({ids}))")),
        ("spam_tokens", format!("forum_id IN ({ids})")),
        ("spam_docs", format!("forum_id IN ({ids})")),
        ("spam_verdicts", format!("post_id IN (SELECT id FROM posts WHERE forum_id IN ({ids}))")),
        ("moderation_log", format!("forum_id IN ({ids})")),
        ("bans", format!("forum_id IN ({ids})")),
        ("flags", format!("forum_id IN ({ids})")),
    ] {
        let n = count(store, cluster, &format!("SELECT count(*) FROM {table} WHERE {cond}")).await;
        out.push((table.to_owned(), n));
    }
    out
}

/// Writes a little of everything for `forum`.
async fn fill(store: &dyn Store, forum: &Forum) -> confab_core::Id {
    let root = contract::post(store, forum, "page", None, NOW).await;
    let reply = contract::post(store, forum, "page", Some(root.id), NOW + 1).await;
    contract::post(store, forum, "page", Some(reply.id), NOW + 2).await;
    store.vote_set(root.id, Token::generate().hash(), VoteValue::Up, NOW).await.unwrap();
    let thread = store.thread_get(root.thread_id).await.unwrap();
    store.subscription_add(&thread, &Email::parse("reader@example.com").unwrap(), NOW).await.unwrap();
    store.spam_learn(forum.id, &["cheap".into(), "pills".into()], true).await.unwrap();
    store.post_set_state(reply.id, PostState::Pending, Moderator::AdminToken, None, NOW + 3).await.unwrap();
    let reader = Email::parse("reader@example.com").unwrap();
    // A mail sent, and a post waiting for the digest.
    store.notify_gate(&reader, thread.id, root.id, NOW, 60_000).await.unwrap();
    store.notify_gate(&reader, thread.id, reply.id, NOW + 1, 60_000).await.unwrap();
    store
        .spam_verdict_set(
            root.id,
            confab_store::SpamRecord {
                action: confab_core::spam::Action::Approve,
                score: 0.1,
                reasons: vec![],
                at: NOW,
            },
        )
        .await
        .unwrap();
    store
        .ban_create(
            forum.id,
            confab_core::model::NewBan {
                target: confab_core::model::BanTarget::Domain("spam.example".into()),
                reason: None,
                by: Moderator::AdminToken,
                expires_at: None,
                shadow: false,
            },
            NOW,
        )
        .await
        .unwrap();
    let flag = confab_core::model::Flag { reason: confab_core::model::FlagReason::Spam, note: None, at: NOW };
    store.flag_add(root.id, Token::generate().hash(), flag, 0, NOW).await.unwrap();
    let hook = store
        .webhook_create(
            forum.id,
            NewWebhook {
                url: WebUrl::parse("url", "https://hooks.example.com/x").unwrap(),
                secret: "s".repeat(32),
                events: vec![EventKind::PostCreated],
                hub_signature: false,
            },
            NOW,
        )
        .await
        .unwrap();
    store
        .webhook_attempt_log(WebhookAttempt {
            seq: 0,
            webhook_id: hook.id,
            delivery_id: root.id,
            event: EventKind::PostCreated,
            attempt: 1,
            at: NOW,
            status: Some(200),
            error: None,
            duration_ms: 5,
        })
        .await
        .unwrap();
    root.thread_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pinning_an_existing_forum_moves_its_shard_with_every_row() {
    let (cfg, _dbs) = fresh_with_dedicated("pinmove").await;
    migrate_all(&Topology::new(cfg.clone()).unwrap()).await.unwrap();
    let server = open(&cfg, confab_store_pg::APPLICATION).await;
    let old = contract::forum(&*server, "old-news").await;
    let neighbour = contract::forum(&*server, &key_for(old.shard, "tiny-")).await;
    assert_eq!(neighbour.shard, old.shard, "two forums share the logical shard");
    let other = contract::forum(&*server, "elsewhere").await;
    assert_ne!(other.shard, old.shard);
    let from = server.topology().cluster_of_shard(old.shard).await.unwrap().name.clone();
    let thread = fill(&*server, &old).await;
    let neighbour_thread = fill(&*server, &neighbour).await;
    fill(&*server, &other).await;
    let page = |s: Arc<PgStore>, t| async move {
        s.thread_roots(t, Sort::Oldest, None, PageLimits { roots: 50, replies_per_root: 50 }).await.unwrap()
    };
    let before = (page(Arc::clone(&server), thread).await, page(Arc::clone(&server), neighbour_thread).await);
    let rows_before = rows_of(&server, &from, &[&old, &neighbour]).await;
    assert!(rows_before.iter().all(|(_, n)| *n > 0), "every table has rows to move: {rows_before:?}");
    let other_before =
        rows_of(&server, &server.topology().cluster_of_shard(other.shard).await.unwrap().name, &[&other]).await;

    // A server still connected: the move refuses, and nothing moved.
    let tool = open(&cfg, MAINTENANCE).await;
    match tool.pin_forum(old.id, "big").await {
        Err(PinError::Busy { sessions, .. }) => assert!(sessions > 0),
        other => panic!("expected Busy, got {other:?}"),
    }
    assert_eq!(rows_of(&tool, &from, &[&old, &neighbour]).await, rows_before);
    assert!(matches!(tool.pin_forum(old.id, "c9").await, Err(PinError::UnknownCluster(_))));

    // With the server stopped, the shard moves, the neighbour along with it.
    drop(server);
    let mut report = None;
    for _ in 0..100 {
        match tool.pin_forum(old.id, "big").await {
            Ok(r) => {
                report = Some(r);
                break;
            }
            Err(PinError::Busy { .. }) => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(e) => panic!("{e}"),
        }
    }
    let report = report.expect("the move ran once the server's sessions closed");
    assert_eq!((report.from.as_str(), report.to.as_str(), report.shard), (from.as_str(), "big", old.shard));
    assert_eq!(report.neighbours, vec![neighbour.shortname.as_str().to_owned()]);
    assert_eq!(report.rows as i64, rows_before.iter().map(|(_, n)| n).sum::<i64>(), "the report counts them");
    assert_eq!(rows_of(&tool, "big", &[&old, &neighbour]).await, rows_before, "every row arrived");
    assert!(rows_of(&tool, &from, &[&old, &neighbour]).await.iter().all(|(_, n)| *n == 0), "and left");
    let other_cluster = tool.topology().cluster_of_shard(other.shard).await.unwrap().name.clone();
    assert_eq!(rows_of(&tool, &other_cluster, &[&other]).await, other_before, "other shards are untouched");

    // A server started again reads the same pages, and writes land on the new cluster.
    let server = open(&cfg, confab_store_pg::APPLICATION).await;
    let after = (page(Arc::clone(&server), thread).await, page(Arc::clone(&server), neighbour_thread).await);
    assert_eq!(after, before);
    let more = contract::post(&*server, &old, "page", None, NOW + 10).await;
    assert_eq!(count(&server, "big", &format!("SELECT count(*) FROM posts WHERE id = {}", more.id)).await, 1);
    let counts = server
        .thread_counts(&old, &[ThreadKey::Identifier(confab_core::input::Identifier::parse("page").unwrap())])
        .await
        .unwrap();
    assert_eq!(counts[0].posts, 3, "two approved before, one now");
    // The identity sequence moved past the copied rows: a new attempt gets a new place.
    let hook = server.webhooks_list(old.id).await.unwrap().remove(0);
    let attempt = WebhookAttempt {
        seq: 0,
        webhook_id: hook.id,
        delivery_id: more.id,
        event: EventKind::PostCreated,
        attempt: 1,
        at: NOW + 10,
        status: Some(200),
        error: None,
        duration_ms: 1,
    };
    server.webhook_attempt_log(attempt).await.unwrap();
    assert_eq!(server.webhook_attempts(hook.id, None, 10).await.unwrap().len(), 2);
    drop(server);

    // Pinning again where it is: a no-op that reports it.
    let again = tool.pin_forum(old.id, "big").await.unwrap();
    assert_eq!((again.from.as_str(), again.rows), ("big", 0));
}
