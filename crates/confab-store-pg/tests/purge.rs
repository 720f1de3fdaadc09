//! A forum's deletion on the topology, checked in the tables themselves: afterwards no
//! row of any table, in the global database or on any cluster, refers to the forum,
//! its threads, posts, webhooks or SSO users; and every table of both schemas is one
//! the purge knows (a table added later fails here until the purge learns of it).

use std::sync::Arc;

use confab_core::IdGenerator;
use confab_store::contract::{self, NOW};
use confab_store::prelude::*;
use confab_store_pg::{PgStore, Topology, migrate::migrate_all, testing};
use tokio_postgres::{Client, NoTls};

/// Global tables that hold no forum's data.
const GLOBAL_NOT_FORUM: &[&str] =
    &["settings", "shard_map", "accounts", "account_links", "id_nodes", "live_values", "live_log", "confab_migrations"];
const SHARD_NOT_FORUM: &[&str] = &["confab_migrations"];

/// How rows are tied to the forum (`{f}`, `{t}` threads, `{p}` posts, `{h}` webhooks,
/// `{a}` its authors that must go).
const GLOBAL_TIES: &[(&str, &str)] = &[
    ("forums", "id = {f}"),
    ("forum_keys", "forum_id = {f}"),
    ("forum_roles", "forum_id = {f}"),
    ("forum_pins", "forum_id = {f}"),
    ("sessions", "forum_id = {f}"),
    ("authors", "id IN ({a}) OR sso_forum = {f}"),
    ("mutes", "thread_id IN ({t})"),
];
const SHARD_TIES: &[(&str, &str)] = &[
    ("threads", "forum_id = {f} OR id IN ({t})"),
    ("posts", "forum_id = {f} OR id IN ({p})"),
    ("votes", "post_id IN ({p})"),
    ("outbox", "forum_id = {f} AND task->>'type' <> 'forum_purge'"),
    ("webhooks", "forum_id = {f}"),
    ("webhook_attempts", "webhook_id IN ({h})"),
    ("subscriptions", "forum_id = {f} OR thread_id IN ({t})"),
    ("notify_state", "thread_id IN ({t})"),
    ("notify_pending", "thread_id IN ({t}) OR post_id IN ({p})"),
    ("notify_sent", "thread_id IN ({t}) OR post_id IN ({p})"),
    ("spam_tokens", "forum_id = {f}"),
    ("spam_docs", "forum_id = {f}"),
    ("spam_verdicts", "post_id IN ({p})"),
    ("moderation_log", "forum_id = {f} OR post_id IN ({p})"),
    ("bans", "forum_id = {f}"),
    ("flags", "forum_id = {f} OR post_id IN ({p})"),
];

async fn connect(url: &str) -> Client {
    let (c, conn) = tokio_postgres::connect(url, NoTls).await.unwrap();
    tokio::spawn(conn);
    c
}

async fn tables(c: &Client) -> Vec<String> {
    c.query(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1",
        &[],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

async fn count(c: &Client, table: &str, cond: &str) -> i64 {
    let sql = format!("SELECT count(*) FROM {table} WHERE {cond}");
    c.query_one(&sql, &[]).await.unwrap_or_else(|e| panic!("{sql}: {e}")).get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_table_on_any_database_keeps_a_row_of_a_deleted_forum() {
    let (config, dbs) = testing::fresh("purge").await;
    let global = connect(&config.global.primary).await;
    let mut shards = Vec::new();
    for c in config.clusters.values() {
        shards.push(connect(&c.primary).await);
    }
    let t = Topology::new(config).unwrap();
    migrate_all(&t).await.unwrap();
    let store = PgStore::open(t, Arc::new(IdGenerator::new())).await.unwrap();

    let (purged_shard, purged_global) = confab_store_pg::store::purged_tables();
    for name in tables(&global).await {
        assert!(
            purged_global.contains(&name.as_str()) || GLOBAL_NOT_FORUM.contains(&name.as_str()),
            "global table {name} is new: teach the purge (store/purge.rs) and this test about it"
        );
    }
    for name in tables(&shards[0]).await {
        assert!(
            purged_shard.contains(&name.as_str()) || SHARD_NOT_FORUM.contains(&name.as_str()),
            "shard table {name} is new: teach the purge (store/purge.rs) and this test about it"
        );
    }

    let other = contract::forum(&store, "other").await;
    let filled = contract::fill_forum(&store, "doomed", &other).await;
    let fill = |cond: &str| filled.tie(cond);
    let on_shards = |table: &'static str, cond: String| {
        let shards = &shards;
        async move {
            let mut n = 0;
            for c in shards {
                n += count(c, table, &cond).await;
            }
            n
        }
    };
    // Before: the fill reached every table that holds forum data (but the pin).
    for (table, tie) in GLOBAL_TIES.iter().filter(|(t, _)| *t != "forum_pins") {
        assert!(count(&global, table, &fill(tie)).await > 0, "the fill left global {table} empty");
    }
    for (table, tie) in SHARD_TIES {
        assert!(on_shards(table, fill(tie)).await > 0, "the fill left shard {table} empty");
    }

    let job = store.forum_delete_begin(filled.forum.id, NOW + 1).await.unwrap();
    contract::purge_all(&store, filled.forum.id, job).await;
    for (table, tie) in GLOBAL_TIES {
        assert_eq!(count(&global, table, &fill(tie)).await, 0, "global {table} keeps rows of the deleted forum");
    }
    for (table, tie) in SHARD_TIES {
        assert_eq!(on_shards(table, fill(tie)).await, 0, "shard {table} keeps rows of the deleted forum");
    }
    assert_eq!(
        on_shards("posts", format!("forum_id = {}", other.id.as_i64())).await,
        1,
        "the other forum's post stays"
    );
    drop(store);
    drop(dbs);
}
