//! Jobs on PostgreSQL across processes: several stores (each with its own pools, as
//! separate worker processes have) share one topology's outboxes without ever claiming
//! a job twice, and a queued job wakes listening workers through LISTEN/NOTIFY.

use confab_store_pg::testing as common;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use confab_core::IdGenerator;
use confab_core::id::LogicalShard;
use confab_store::contract::{NOW, forum, post};
use confab_store::prelude::*;
use confab_store_pg::{PgConfig, PgStore, Topology, migrate::migrate_all};

async fn store(config: PgConfig) -> Arc<PgStore> {
    let t = Topology::new(config).unwrap();
    migrate_all(&t).await.unwrap();
    Arc::new(PgStore::open(t, Arc::new(IdGenerator::new())).await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_in_several_processes_never_share_a_job() {
    let (config, _dbs) = common::fresh("jobs_share").await;
    let stores: Vec<Arc<PgStore>> = vec![store(config.clone()).await, store(config.clone()).await, store(config).await];
    // Forums on both clusters, so claims cross shards.
    let (mut low, mut high) = (Vec::new(), Vec::new());
    for i in 0..200 {
        let name = format!("forum{i}");
        let half = if LogicalShard::for_key(&name).get() < 512 { &mut low } else { &mut high };
        if half.len() < 3 {
            half.push(name);
        }
    }
    let mut forums = Vec::new();
    for name in low.iter().chain(&high) {
        forums.push(forum(&*stores[0], name).await);
    }
    let clusters: HashSet<String> = {
        let t = stores[0].topology();
        let mut names = HashSet::new();
        for f in &forums {
            names.insert(t.cluster_of_shard(f.shard).await.unwrap().name.clone());
        }
        names
    };
    assert_eq!(clusters.len(), 2, "the forums live on both clusters");
    for f in &forums {
        for _ in 0..10 {
            post(&*stores[0], f, "busy", None, NOW).await;
        }
    }
    let claimers: Vec<_> = (0..6)
        .map(|i| {
            let store = Arc::clone(&stores[i % stores.len()]);
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let got = store.jobs_claim(NOW, NOW + 60_000, 4).await.unwrap();
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
    assert_eq!(seen.len(), 6 * 11, "ten posts and a thread per forum");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_job_wakes_listening_workers() {
    let (config, _dbs) = common::fresh("jobs_wake").await;
    let writer = store(config.clone()).await;
    let worker = store(config).await;
    let wake = Arc::new(tokio::sync::Notify::new());
    worker.wake_on_new_jobs(Arc::clone(&wake));
    // Let the listeners connect (a wake-up on connecting is harmless: drain it).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _ = tokio::time::timeout(Duration::from_millis(50), wake.notified()).await;
    for name in ["alpha", "bravo"] {
        let f = forum(&*writer, name).await;
        let woken = wake.notified();
        post(&*writer, &f, "news", None, NOW).await;
        tokio::time::timeout(Duration::from_secs(5), woken).await.expect("the worker was woken by the new job");
    }
    // Nothing queued: no wake-up.
    assert!(tokio::time::timeout(Duration::from_millis(500), wake.notified()).await.is_err());
    assert!(!worker.jobs_claim(NOW, NOW + 1, 10).await.unwrap().is_empty());
}
