//! Failure behaviour of the foundation, against the local topology with servers stopped
//! and restarted under it (`scripts/pg-topology stop-one|restart-one`). One test, so
//! nothing else in this binary runs while a server is down; cargo runs test binaries
//! one after another, and `start` at the end (and at every test's beginning) brings
//! everything back.
//!
//! - A replica down: reads move to the primary with no error, and back once it returns.
//! - A shard primary down: its writes are `Unavailable` (503); its reads go on from the
//!   replica; the other cluster is unaffected; once it is back, the same pools work.
//! - A database restart: the same pool serves the next request without a restart of ours.

use confab_store_pg::testing as common;

use std::time::Duration;

use common::{fresh, script};
use confab_store::StoreError;
use confab_store_pg::Topology;
use confab_store_pg::migrate::migrate_all;

/// Runs `f` until it returns true or about five seconds pass.
async fn eventually<F, Fut>(mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..100 {
        if f().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

async fn query_ok(db: &confab_store_pg::Db) -> Result<(), String> {
    let c = db.get().await.map_err(|e| e.to_string())?;
    c.query_typed("SELECT count(*) FROM threads", &[]).await.map(drop).map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_topology_survives_servers_going_down_and_coming_back() {
    let (mut cfg, _dbs) = fresh("fail").await;
    cfg.acquire_timeout_ms = 500;
    cfg.connect_timeout_ms = 500;
    let t = Topology::new(cfg).unwrap();
    let _health = t.watch_health();
    migrate_all(&t).await.unwrap();
    let (c1, c2) = (&t.clusters["c1"], &t.clusters["c2"]);
    // The replica has the schema before anything goes down.
    assert!(eventually(|| async { query_ok(&c1.replicas[0]).await.is_ok() }).await, "the replica caught up");

    // ---- a replica down: reads go on, from the primary ----
    script(&["stop-one", "shard1r"]);
    for _ in 0..5 {
        let (c, db) = c1.reader().await.expect("a read while the replica is down");
        c.query_typed("SELECT count(*) FROM threads", &[]).await.expect("no error for the reader");
        assert_eq!(db.label, "c1/primary");
    }
    script(&["start"]);
    assert!(
        eventually(|| async { c1.reader().await.is_ok_and(|(_, db)| db.label == "c1/replica-1") }).await,
        "reads return to the replica once it is back"
    );

    // ---- a shard primary down: writes refused, reads from the replica, c2 untouched ----
    script(&["stop-one", "shard1"]);
    let write = c1.primary().await.map(drop);
    let read = match c1.reader().await {
        Ok((c, db)) => c
            .query_typed("SELECT count(*) FROM threads", &[])
            .await
            .map(|_| db.label.clone())
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    let other = query_ok(&c2.primary).await;
    script(&["start"]);
    assert!(matches!(write, Err(StoreError::Unavailable(_))), "writes to the downed shard: {write:?}");
    assert_eq!(read, Ok("c1/replica-1".to_owned()), "its reads go on from the replica");
    assert_eq!(other, Ok(()), "the other shard is unaffected");
    assert!(
        eventually(|| async { query_ok(&c1.primary).await.is_ok() }).await,
        "the same pool writes again once the primary is back"
    );

    // ---- a restart: the pool's connections die with it; the next request gets a new one ----
    query_ok(&c2.primary).await.unwrap();
    script(&["restart-one", "shard2"]);
    let after = query_ok(&c2.primary).await;
    assert_eq!(after, Ok(()), "the first request after a restart succeeds");
}
