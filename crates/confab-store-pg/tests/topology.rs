//! The foundation against real servers: the local topology of `scripts/pg-topology`
//! (a global database, two shard primaries, a streaming replica of the first, and
//! pgbouncer in transaction mode), started by the first test that needs it.
//!
//! Each test that writes makes databases of its own (`CREATE DATABASE`), so tests run
//! in parallel and again without cleaning up; the pgbouncer test uses the topology's
//! fixed databases, whose migrations are idempotent.

use confab_store_pg::testing as common;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use common::{admin, base_port, fresh, topology_up, url};
use confab_core::IdGenerator;
use confab_core::model::{Sort, VoteValue};
use confab_core::secret::TokenHash;
use confab_store::contract;
use confab_store::prelude::*;
use confab_store::{JobOutcome, PageLimits, StoreError};
use confab_store_pg::migrate::{Schema, migrate_all, migrations};
use confab_store_pg::{ClusterConfig, PgConfig, PgStore, Topology, write_position};
use tokio_postgres::NoTls;

/// Tests that pause the shared replica's replay, or wait for it, take turns.
fn replica_turn() -> &'static tokio::sync::Mutex<()> {
    static TURN: OnceLock<tokio::sync::Mutex<()>> = OnceLock::new();
    TURN.get_or_init(|| tokio::sync::Mutex::new(()))
}

async fn count(db: &confab_store_pg::Db, sql: &str) -> i64 {
    db.get().await.unwrap().query_typed(sql, &[]).await.unwrap()[0].get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_apply_once_everywhere_even_from_two_processes_at_once() {
    let (cfg, _dbs) = fresh("mig").await;
    let (a, b) = (Topology::new(cfg.clone()).unwrap(), Topology::new(cfg.clone()).unwrap());
    let (ra, rb) = tokio::join!(migrate_all(&a), migrate_all(&b));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    // Each database got each migration once, from one of the two.
    for i in 0..ra.len() {
        let mut both = ra[i].1.clone();
        both.extend(&rb[i].1);
        let schema = if i == 0 { Schema::Global } else { Schema::Shard };
        let all: Vec<i32> = migrations(schema).iter().map(|m| m.0).collect();
        both.sort_unstable();
        assert_eq!(both, all, "{}", ra[i].0);
    }
    assert_eq!(
        count(&a.global.primary, "SELECT count(*) FROM confab_migrations").await,
        migrations(Schema::Global).len() as i64
    );
    assert_eq!(count(&a.global.primary, "SELECT count(*) FROM id_nodes").await, 31);
    assert_eq!(count(&a.global.primary, "SELECT count(*) FROM shard_map").await, 1024);
    assert_eq!(count(&a.global.primary, "SELECT count(*) FROM shard_map WHERE cluster = 'c2'").await, 512);
    for c in a.clusters.values() {
        assert_eq!(
            count(&c.primary, "SELECT count(*) FROM confab_migrations").await,
            migrations(Schema::Shard).len() as i64
        );
        assert_eq!(count(&c.primary, "SELECT count(*) FROM posts").await, 0);
    }
    // Again: nothing to do; the shard map is kept as it is.
    let again = migrate_all(&a).await.unwrap();
    assert!(again.iter().all(|(_, v)| v.is_empty()), "{again:?}");
    // The replica follows by streaming: the tables appear there without a migration.
    let _turn = replica_turn().lock().await;
    let replica = &a.clusters["c1"].replicas[0];
    let mut seen = false;
    for _ in 0..100 {
        if let Ok(c) = replica.get().await
            && c.query_typed("SELECT count(*) FROM posts", &[]).await.is_ok()
        {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(seen, "the replica has the shard schema");
    // Routing: a forum's logical shard decides its cluster.
    let low = a.cluster_of_shard(confab_core::LogicalShard::new(3).unwrap()).await.unwrap();
    let high = a.cluster_of_shard(confab_core::LogicalShard::new(1000).unwrap()).await.unwrap();
    assert_eq!((low.name.as_str(), high.name.as_str()), ("c1", "c2"));
    // New sessions carry the configured statement timeout.
    let (client, conn) = tokio_postgres::connect(&cfg.global.primary, NoTls).await.unwrap();
    tokio::spawn(conn);
    let timeout: String = client.query_one("SHOW statement_timeout", &[]).await.unwrap().get(0);
    assert_eq!(timeout, "5s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_over_the_timeout_is_cancelled() {
    let (mut cfg, _dbs) = fresh("slow").await;
    cfg.statement_timeout_ms = 200;
    let t = Topology::new(cfg.clone()).unwrap();
    migrate_all(&t).await.unwrap();
    let (client, conn) = tokio_postgres::connect(&cfg.clusters["c2"].primary, NoTls).await.unwrap();
    tokio::spawn(conn);
    let e = client.simple_query("SELECT pg_sleep(3)").await.unwrap_err();
    assert_eq!(e.code(), Some(&tokio_postgres::error::SqlState::QUERY_CANCELED), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_go_to_a_healthy_replica_and_fall_back_to_the_primary() {
    let (mut cfg, _dbs) = fresh("ro").await;
    let good = cfg.clusters["c1"].replicas[0].clone();
    // A replica that is down (nothing listens on port 1), then the real one.
    cfg.clusters.get_mut("c1").unwrap().replicas = vec!["postgres://postgres@127.0.0.1:1/x".into(), good];
    let t = Topology::new(cfg).unwrap();
    migrate_all(&t).await.unwrap();
    let c1 = &t.clusters["c1"];
    for _ in 0..4 {
        let (conn, db) = c1.reader().await.unwrap();
        let in_recovery: bool = conn.query_typed("SELECT pg_is_in_recovery()", &[]).await.unwrap()[0].get(0);
        assert!(in_recovery, "read from {}", db.label);
        assert_eq!(db.label, "c1/replica-2");
    }
    assert!(!c1.replicas[0].is_healthy(), "the dead replica is skipped from now on");
    // A cluster with no replica reads from its primary.
    let (conn, db) = t.clusters["c2"].reader().await.unwrap();
    let in_recovery: bool = conn.query_typed("SELECT pg_is_in_recovery()", &[]).await.unwrap()[0].get(0);
    assert!(!in_recovery);
    assert_eq!(db.label, "c2/primary");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exhausted_pool_answers_unavailable_instead_of_hanging() {
    let (mut cfg, _dbs) = fresh("pool").await;
    cfg.pool_size = 1;
    let t = Topology::new(cfg).unwrap();
    let db = &t.clusters["c2"].primary;
    let held = db.get().await.unwrap();
    let second = tokio::time::timeout(Duration::from_secs(10), db.get()).await.expect("answers, does not hang");
    match second {
        Err(StoreError::Unavailable(msg)) => assert!(msg.contains("no free database connection"), "{msg}"),
        other => panic!("expected Unavailable, got {:?}", other.map(|_| ())),
    }
    drop(held);
    let _again = db.get().await.expect("a connection again once one is free");
    // A database that is down is Unavailable too, and marked unhealthy.
    let (mut down, _dbs) = fresh("down").await;
    down.global.primary = "postgres://postgres@127.0.0.1:1/x".into();
    let t = Topology::new(down).unwrap();
    assert!(matches!(t.global.primary.get().await, Err(StoreError::Unavailable(_))));
    assert!(!t.global.primary.is_healthy());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_works_through_pgbouncer_in_transaction_mode() {
    topology_up();
    let bouncer = |db: &str| url(base_port() + 9, db);
    let cfg = PgConfig {
        global: ClusterConfig { primary: bouncer("confab_global"), replicas: vec![], listen: None, dedicated: false },
        clusters: [
            (
                "c1".to_owned(),
                ClusterConfig { primary: bouncer("confab_shard1"), replicas: vec![], listen: None, dedicated: false },
            ),
            (
                "c2".to_owned(),
                ClusterConfig { primary: bouncer("confab_shard2"), replicas: vec![], listen: None, dedicated: false },
            ),
        ]
        .into_iter()
        .collect(),
        pool_size: 8,
        acquire_timeout_ms: 2000,
        connect_timeout_ms: 2000,
        statement_timeout_ms: 5000,
        health_interval_ms: 1000,
    };
    let t = Topology::new(cfg).unwrap();
    migrate_all(&t).await.expect("migrations through pgbouncer");
    assert_eq!(
        migrations(Schema::Shard).len() as i64,
        count(&t.clusters["c1"].primary, "SELECT count(*) FROM confab_migrations").await
    );
    // Many parameterised queries and transactions from several tasks: no prepared
    // statement leaks from one server connection to another's client.
    let mut tasks = Vec::new();
    for i in 0..16i64 {
        let t = t.clone();
        tasks.push(tokio::spawn(async move {
            let db = &t.clusters["c2"].primary;
            for j in 0..20i64 {
                let mut c = db.get().await.unwrap();
                let tx = c.transaction().await.unwrap();
                let row = tx
                    .query_typed("SELECT $1::bigint * 2", &[(&(i * 100 + j), tokio_postgres::types::Type::INT8)])
                    .await
                    .unwrap();
                assert_eq!(row[0].get::<_, i64>(0), (i * 100 + j) * 2);
                tx.commit().await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }

    // The store itself through pgbouncer: concurrent posts, votes, pages, jobs. The
    // databases are shared between runs, so names are unique to this run.
    let store = Arc::new(PgStore::open(t, Arc::new(IdGenerator::new())).await.unwrap());
    let run = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
    let forum = contract::forum(&*store, &format!("bouncer{run}")).await;
    let root = contract::post(&*store, &forum, "t", None, contract::NOW).await;
    let mut tasks = Vec::new();
    for i in 0..8u8 {
        let (store, forum) = (Arc::clone(&store), forum.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..5 {
                contract::post(&*store, &forum, "t", Some(root.id), contract::NOW).await;
            }
            store.vote_set(root.id, TokenHash([i; 32]), VoteValue::Up, contract::NOW).await.unwrap();
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let page = store
        .thread_roots(root.thread_id, Sort::Best, None, PageLimits { roots: 10, replies_per_root: 50 })
        .await
        .unwrap();
    assert_eq!(page.roots[0].replies.len(), 40);
    assert_eq!(page.roots[0].root.likes, 8);
    assert_eq!(store.thread_get(root.thread_id).await.unwrap().posts, 41);
    // The bulk path (binary COPY) inside a transaction, through the pooler.
    let guest = |name: &str| confab_core::model::GuestAuthor {
        name: confab_core::input::DisplayName::parse("name", name).unwrap(),
        email: None,
        url: None,
    };
    let batch: Vec<confab_store::ImportPost> = (0..300)
        .map(|i| confab_store::ImportPost {
            parent: (i % 3 != 0).then_some(i - i % 3),
            author: guest(&format!("Guest {}", i % 7)),
            message: confab_core::input::Message::parse("imported").unwrap(),
            html: "<p>imported</p>".into(),
            state: confab_core::model::PostState::Approved,
            created_at: contract::NOW,
            likes: 1,
            dislikes: 0,
        })
        .collect();
    let imported = store.thread_import(&forum, contract::spec("imported"), batch, contract::NOW).await.unwrap();
    assert_eq!((imported.post_ids.len(), imported.thread.posts), (300, 300));
    let claimed = store.jobs_claim(i64::MAX / 2, i64::MAX / 2 + 1, 1000).await.unwrap();
    assert!(claimed.iter().filter(|j| j.forum_id == forum.id).count() >= 42, "the thread's and posts' events");
    for j in claimed {
        assert!(store.job_settle(j.id, j.attempts, JobOutcome::Done { follow_ups: vec![] }, 0).await.unwrap());
    }
}

/// Read-your-writes with replay paused on the replica: the writer's read (with its
/// write's position) goes to the primary and sees the row; a reader without a position
/// reads the lagging replica and does not; once replay resumes, the positioned read
/// moves back to the replica, which now has the row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_reads_its_write_while_the_replica_lags() {
    let (cfg, _dbs) = fresh("ryw").await;
    let t = Topology::new(cfg).unwrap();
    migrate_all(&t).await.unwrap();
    let c1 = &t.clusters["c1"];
    let _turn = replica_turn().lock().await;
    // The new database must exist on the replica before replay stops.
    let replica = &c1.replicas[0];
    for _ in 0..100 {
        if let Ok(c) = replica.get().await
            && c.query_typed("SELECT 1 FROM threads LIMIT 1", &[]).await.is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let q = "SELECT count(*) FROM threads WHERE identifier = 'ryw'";
    let count_on = |c: deadpool_postgres::Object| async move {
        c.query_typed(q, &[]).await.map(|r| r[0].get::<_, i64>(0)).map_err(|e| e.to_string())
    };
    let replica_admin = admin(base_port() + 2).await;
    replica_admin.batch_execute("SELECT pg_wal_replay_pause()").await.unwrap();
    // Nothing may panic while replay is paused: results first, resume, then asserts.
    let paused = async {
        let w = c1.primary().await.map_err(|e| e.to_string())?;
        w.batch_execute("INSERT INTO threads (id, forum_id, identifier, created_at) VALUES (1, 1, 'ryw', 0)")
            .await
            .map_err(|e| e.to_string())?;
        let at = write_position(&w).await.map_err(|e| e.to_string())?;
        drop(w);
        let (mine, mine_db) = c1.reader_after(Some(at)).await.map_err(|e| e.to_string())?;
        let mine_db = mine_db.label.clone();
        let mine = count_on(mine).await?;
        let (anyone, anyone_db) = c1.reader_after(None).await.map_err(|e| e.to_string())?;
        let anyone_db = anyone_db.label.clone();
        let anyone = count_on(anyone).await?;
        Ok::<_, String>((at, mine_db, mine, anyone_db, anyone))
    }
    .await;
    replica_admin.batch_execute("SELECT pg_wal_replay_resume()").await.unwrap();
    let (at, mine_db, mine, anyone_db, anyone) = paused.unwrap();
    assert_eq!((mine_db.as_str(), mine), ("c1/primary", 1), "the writer's read waits for nobody");
    assert_eq!((anyone_db.as_str(), anyone), ("c1/replica-1", 0), "an anonymous reader sees the lagging replica");

    let mut back_on_replica = false;
    for _ in 0..100 {
        let (c, db) = c1.reader_after(Some(at)).await.unwrap();
        if db.label == "c1/replica-1" {
            assert_eq!(count_on(c).await.unwrap(), 1);
            back_on_replica = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(back_on_replica, "once replayed, the writer reads from the replica again");
}
