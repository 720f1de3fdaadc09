//! A forum's deletion, checked in the tables themselves: after the purge no row of any
//! table refers to the forum, its threads, posts, webhooks or SSO users, and every
//! table of the schema is one the check knows how to look in (a table added later
//! fails here until the purge and this check learn of it).

use std::sync::Arc;

use confab_core::IdGenerator;
use confab_store::contract::{self, NOW};
use confab_store::prelude::*;
use confab_store_sqlite::{SqliteOptions, SqliteStore};
use rusqlite::Connection;

/// How each table's rows are tied to a forum (`{f}`, `{t}` threads, `{p}` posts,
/// `{h}` webhooks, `{a}` the forum's authors that must go). `None`: not forum data.
const TIES: &[(&str, Option<&str>)] = &[
    ("forums", Some("id = {f}")),
    ("forum_keys", Some("forum_id = {f}")),
    ("forum_roles", Some("forum_id = {f}")),
    ("sessions", Some("forum_id = {f}")),
    ("authors", Some("id IN ({a}) OR sso_forum = {f}")),
    ("threads", Some("forum_id = {f} OR id IN ({t})")),
    ("posts", Some("forum_id = {f} OR id IN ({p})")),
    ("votes", Some("post_id IN ({p})")),
    ("outbox", Some("forum_id = {f} AND json_extract(task, '$.type') <> 'forum_purge'")),
    ("webhooks", Some("forum_id = {f}")),
    ("webhook_attempts", Some("webhook_id IN ({h})")),
    ("subscriptions", Some("forum_id = {f} OR thread_id IN ({t})")),
    ("mutes", Some("thread_id IN ({t})")),
    ("notify_state", Some("thread_id IN ({t})")),
    ("notify_pending", Some("thread_id IN ({t}) OR post_id IN ({p})")),
    ("notify_sent", Some("thread_id IN ({t}) OR post_id IN ({p})")),
    ("spam_tokens", Some("forum_id = {f}")),
    ("spam_docs", Some("forum_id = {f}")),
    ("spam_verdicts", Some("post_id IN ({p})")),
    ("moderation_log", Some("forum_id = {f} OR post_id IN ({p})")),
    ("bans", Some("forum_id = {f}")),
    ("flags", Some("forum_id = {f} OR post_id IN ({p})")),
    ("settings", None),
    ("accounts", None),
    ("account_links", None),
    ("id_nodes", None),
    ("live_values", None),
    ("live_log", None),
];

fn count(c: &Connection, sql: &str) -> i64 {
    c.query_row(sql, [], |r| r.get(0)).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_table_keeps_a_row_of_a_deleted_forum() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("confab.db");
    let store = SqliteStore::open(&SqliteOptions::new(path.clone()), Arc::new(IdGenerator::new())).unwrap();
    let other = contract::forum(&store, "other").await;
    let filled = contract::fill_forum(&store, "doomed", &other).await;
    let fill = |cond: &str| filled.tie(cond);

    let c = Connection::open(&path).unwrap();
    let tables: Vec<String> = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for t in &tables {
        assert!(
            TIES.iter().any(|(n, _)| n == t),
            "table {t} is new: teach the purge (purge.rs) and this test about it"
        );
    }
    // Before: the fill reached every table that holds forum data.
    for (table, tie) in TIES {
        if let Some(tie) = tie {
            let n = count(&c, &format!("SELECT count(*) FROM {table} WHERE {}", fill(tie)));
            assert!(n > 0, "the fill left {table} empty, so this test would not see it kept");
        }
    }
    let before_other = count(&c, &format!("SELECT count(*) FROM posts WHERE forum_id = {}", other.id.as_i64()));

    let job = store.forum_delete_begin(filled.forum.id, NOW + 1).await.unwrap();
    contract::purge_all(&store, filled.forum.id, job).await;
    for (table, tie) in TIES {
        if let Some(tie) = tie {
            let n = count(&c, &format!("SELECT count(*) FROM {table} WHERE {}", fill(tie)));
            assert_eq!(n, 0, "{table} keeps {n} row(s) of the deleted forum");
        }
    }
    let after_other = count(&c, &format!("SELECT count(*) FROM posts WHERE forum_id = {}", other.id.as_i64()));
    assert_eq!(after_other, before_other);
}
