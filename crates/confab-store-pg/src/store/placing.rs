//! Placing forums (see [`crate::placement`] for the model): the logical shard of a new
//! forum, and pinning a forum to a cluster — at creation by giving it an unused shard
//! placed there, later by moving its shard's rows there.
//!
//! Placement changes are serialised by one advisory lock in the global database and
//! announced with `NOTIFY confab_placement`, on which every store reloads its map.

use std::collections::HashSet;

use confab_core::id::{Id, LogicalShard};
use confab_store::{StoreError, StoreResult};
use futures_util::{SinkExt, StreamExt};
use tokio_postgres::{Client, GenericClient};

use super::PgStore;
use crate::placement::{ShardMap, empty_shard};
use crate::pool::{APPLICATION, Topology};
use crate::sql::{args, begin, commit, db_err, exec, rows};

/// A fixed key for `pg_advisory_xact_lock`: "confab placement".
const LOCK_KEY: i64 = 0x636f_6e66_6162_706c;

/// Where a new forum goes.
#[derive(Clone, Copy)]
pub(crate) struct Placement<'a> {
    pub t: &'a Topology,
    /// A cluster for the forum alone, or `None` to share a logical shard.
    pub pin: Option<&'a str>,
}

async fn lock(tx: &impl GenericClient) -> StoreResult<()> {
    exec(tx, "SELECT pg_advisory_xact_lock($1)", args![LOCK_KEY]).await.map(drop)
}

async fn map_in(tx: &impl GenericClient, t: &Topology) -> StoreResult<ShardMap> {
    crate::pool::read_map(tx, &t.cluster_names()).await
}

async fn shard_set(tx: &impl GenericClient, sql: &str) -> StoreResult<HashSet<u16>> {
    Ok(rows(tx, sql, args![]).await?.iter().map(|r| r.get::<_, i32>(0) as u16).collect())
}

/// The logical shards of pinned forums, which no other forum may join.
const RESERVED: &str = "SELECT f.shard FROM forum_pins p JOIN forums f ON f.id = p.forum_id";

/// Chooses, inside the global transaction `tx` and under the placement lock (held to
/// its end), the logical shard of a new forum keyed `key`. A pinned forum gets a shard
/// no forum uses, placed on its cluster here; the caller records the pin with
/// [`record_pin`] once the forum row exists.
pub(crate) async fn shard_for_new_forum(
    tx: &impl GenericClient,
    key: &str,
    placement: Placement<'_>,
) -> StoreResult<LogicalShard> {
    lock(tx).await?;
    let map = map_in(tx, placement.t).await?;
    match placement.pin {
        None => {
            let reserved = shard_set(tx, RESERVED).await?;
            map.shard_for_shared(key, &reserved, &placement.t.dedicated())
                .ok_or_else(|| StoreError::Unavailable("no logical shard is free for a new forum".into()))
        }
        Some(cluster) => {
            if !placement.t.clusters.contains_key(cluster) {
                return Err(StoreError::Internal(format!("no cluster {cluster:?} in the configuration")));
            }
            let used = shard_set(tx, "SELECT DISTINCT shard FROM forums").await?;
            let shard = empty_shard(key, &used)
                .ok_or_else(|| StoreError::Unavailable("every logical shard holds a forum already".into()))?;
            place(tx, shard, cluster).await?;
            Ok(shard)
        }
    }
}

/// Records a pinned forum (nothing for a shared one).
pub(crate) async fn record_pin(tx: &impl GenericClient, forum: Id, placement: Placement<'_>) -> StoreResult<()> {
    if let Some(cluster) = placement.pin {
        exec(
            tx,
            "INSERT INTO forum_pins (forum_id, cluster) VALUES ($1, $2) \
             ON CONFLICT (forum_id) DO UPDATE SET cluster = excluded.cluster",
            args![forum.as_i64(), cluster],
        )
        .await?;
    }
    Ok(())
}

/// Places `shard` on `cluster` and tells every store to reload its map (the notice is
/// delivered when the transaction commits).
async fn place(tx: &impl GenericClient, shard: LogicalShard, cluster: &str) -> StoreResult<()> {
    exec(tx, "UPDATE shard_map SET cluster = $2 WHERE logical_shard = $1", args![i32::from(shard.get()), cluster])
        .await?;
    exec(tx, "SELECT pg_notify('confab_placement', '')", args![]).await.map(drop)
}

/// What [`PgStore::pin_forum`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinReport {
    pub shard: LogicalShard,
    pub from: String,
    pub to: String,
    /// Other forums on the same logical shard, which moved along (shortnames).
    pub neighbours: Vec<String>,
    /// Rows copied to the new cluster (0 when the shard was there already).
    pub rows: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum PinError {
    #[error("there is no cluster {0:?} in the configuration")]
    UnknownCluster(String),
    #[error(
        "{sessions} Confab session(s) are connected to {db}: stop every `confab serve` and `confab worker` of this \
         topology before a forum's data moves (their shard maps would be stale)"
    )]
    Busy { db: String, sessions: i64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The tables of a forum-shard database, parents before children, each with the
/// condition that selects a set of forums' rows (`{f}`: their ids, comma-separated).
/// A move refuses to run on a database with a table missing here.
const SHARD_TABLES: &[(&str, &str)] = &[
    ("threads", "forum_id IN ({f})"),
    ("posts", "forum_id IN ({f})"),
    ("votes", "post_id IN (SELECT id FROM posts WHERE forum_id IN ({f}))"),
    ("outbox", "forum_id IN ({f})"),
    ("webhooks", "forum_id IN ({f})"),
    ("webhook_attempts", "webhook_id IN (SELECT id FROM webhooks WHERE forum_id IN ({f}))"),
    ("subscriptions", "forum_id IN ({f})"),
    ("notify_state", "thread_id IN (SELECT id FROM threads WHERE forum_id IN ({f}))"),
    ("notify_pending", "thread_id IN (SELECT id FROM threads WHERE forum_id IN ({f}))"),
    ("notify_sent", "thread_id IN (SELECT id FROM threads WHERE forum_id IN ({f}))"),
    ("spam_tokens", "forum_id IN ({f})"),
    ("spam_docs", "forum_id IN ({f})"),
    ("spam_verdicts", "post_id IN (SELECT id FROM posts WHERE forum_id IN ({f}))"),
    ("moderation_log", "forum_id IN ({f})"),
    ("bans", "forum_id IN ({f})"),
    ("flags", "forum_id IN ({f})"),
];

/// Not forum data: the database's own bookkeeping.
const NOT_MOVED: &[&str] = &["confab_migrations"];

/// Checks that the move knows every table of the database behind `c`.
async fn check_tables(c: &Client) -> StoreResult<()> {
    let r = rows(
        c,
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
        args![],
    )
    .await?;
    for t in r.iter().map(|r| r.get::<_, String>(0)) {
        if !NOT_MOVED.contains(&t.as_str()) && !SHARD_TABLES.iter().any(|(n, _)| *n == t) {
            return Err(StoreError::Internal(format!("table {t} is not known to the shard move; refusing to move")));
        }
    }
    Ok(())
}

/// How many sessions of Confab's servers and workers are connected to `c`'s database.
async fn confab_sessions(c: &impl GenericClient) -> StoreResult<i64> {
    let r = rows(
        c,
        "SELECT count(*) FROM pg_stat_activity \
         WHERE datname = current_database() AND application_name = $1 AND backend_type = 'client backend'",
        args![APPLICATION],
    )
    .await?;
    Ok(r[0].get(0))
}

/// Copies the rows `cond` selects from `src` (inside its transaction) into `dst`'s
/// same table, in PostgreSQL's binary COPY format. Both have the same schema (the same
/// migrations), so `SELECT *` columns line up.
async fn copy_table(
    src: &tokio_postgres::Transaction<'_>,
    dst: &tokio_postgres::Transaction<'_>,
    table: &str,
    cond: &str,
) -> StoreResult<u64> {
    let out = src
        .copy_out(&format!("COPY (SELECT * FROM {table} WHERE {cond}) TO STDOUT (FORMAT binary)"))
        .await
        .map_err(db_err)?;
    let sink = dst.copy_in(&format!("COPY {table} FROM STDIN (FORMAT binary)")).await.map_err(db_err)?;
    let mut out = std::pin::pin!(out);
    let mut sink = std::pin::pin!(sink);
    while let Some(chunk) = out.next().await {
        sink.send(chunk.map_err(db_err)?).await.map_err(db_err)?;
    }
    sink.as_mut().finish().await.map_err(db_err)
}

/// Moves identity sequences of `dst` past the copied values.
async fn bump_identities(dst: &impl GenericClient) -> StoreResult<()> {
    let r = rows(
        dst,
        "SELECT table_name::text, column_name::text FROM information_schema.columns \
         WHERE table_schema = 'public' AND is_identity = 'YES'",
        args![],
    )
    .await?;
    for row in r {
        let (table, column): (String, String) = (row.get(0), row.get(1));
        dst.batch_execute(&format!(
            "SELECT setval(pg_get_serial_sequence('{table}', '{column}'), \
             GREATEST((SELECT max({column}) FROM {table}), 1))"
        ))
        .await
        .map_err(db_err)?;
    }
    Ok(())
}

impl PgStore {
    /// Creates a forum with a logical shard of its own on `cluster` (usually a
    /// `dedicated` one). Other stores learn of the placement by `NOTIFY`.
    pub async fn forum_create_pinned(
        &self,
        forum: confab_core::model::NewForum,
        cluster: &str,
        now: confab_core::model::UnixMs,
    ) -> Result<confab_core::model::Forum, PinError> {
        if !self.t.clusters.contains_key(cluster) {
            return Err(PinError::UnknownCluster(cluster.to_owned()));
        }
        let placement = Placement { t: &self.t, pin: Some(cluster) };
        let mut g = self.t.global.primary().await?;
        let forum = super::global::forum_create(&mut g, &self.ids, forum, now, placement).await?;
        self.t.load_map().await?;
        Ok(forum)
    }

    /// Pins an existing forum to `cluster`: its logical shard — with any other forum
    /// on it, named in the report — is placed there, its rows copied in one
    /// transaction per database while the old cluster's tables are locked against
    /// writes, then deleted from the old cluster.
    ///
    /// Every other store's shard map would be stale until it reloads, so this refuses
    /// to run while any Confab server or worker is connected to the databases involved
    /// (their sessions carry `application_name = 'confab'`; use a store opened by
    /// [`Topology::named`] with [`crate::MAINTENANCE`]). Run it between stopping them
    /// and starting them again. Retrying after a failure is safe: rows a failed run
    /// left on the new cluster are replaced.
    pub async fn pin_forum(&self, forum: Id, cluster: &str) -> Result<PinReport, PinError> {
        let to = self.t.clusters.get(cluster).ok_or_else(|| PinError::UnknownCluster(cluster.to_owned()))?;
        let mut g = self.t.global.primary().await?;
        let forum = super::global::forum_get(&**g, forum).await?;
        let shard = forum.shard;
        let gtx = begin(&mut g).await?;
        lock(&gtx).await?;
        let from_name = map_in(&gtx, &self.t).await?.cluster_of_shard(shard).to_owned();
        let neighbours: Vec<(i64, String)> = rows(
            &gtx,
            "SELECT id, shortname FROM forums WHERE shard = $1 ORDER BY shortname",
            args![i32::from(shard.get())],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
        let mut report = PinReport {
            shard,
            from: from_name.clone(),
            to: cluster.to_owned(),
            neighbours: neighbours.iter().filter(|(id, _)| *id != forum.id.as_i64()).map(|(_, s)| s.clone()).collect(),
            rows: 0,
        };
        let pinned = Placement { t: &self.t, pin: Some(cluster) };
        if from_name == cluster {
            record_pin(&gtx, forum.id, pinned).await?;
            commit(gtx).await?;
            return Ok(report);
        }
        let from = &self.t.clusters[&from_name];
        let mut src = from.primary().await?;
        let mut dst = to.primary().await?;
        let sessions = [
            ("the global database", confab_sessions(&gtx).await?),
            (from.primary.label.as_str(), confab_sessions(&**src).await?),
            (to.primary.label.as_str(), confab_sessions(&**dst).await?),
        ];
        if let Some((db, sessions)) = sessions.into_iter().find(|(_, n)| *n > 0) {
            return Err(PinError::Busy { db: db.to_owned(), sessions });
        }
        check_tables(&src).await?;
        check_tables(&dst).await?;
        let ids: Vec<String> = neighbours.iter().map(|(id, _)| id.to_string()).collect();
        let ids = ids.join(",");
        let src: &mut Client = &mut src;
        let stx = src
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .start()
            .await
            .map_err(db_err)?;
        let names: Vec<&str> = SHARD_TABLES.iter().map(|(t, _)| *t).collect();
        stx.batch_execute(&format!("LOCK TABLE {} IN EXCLUSIVE MODE", names.join(", "))).await.map_err(db_err)?;
        let dtx = begin(&mut dst).await?;
        for (table, cond) in SHARD_TABLES.iter().rev() {
            dtx.batch_execute(&format!("DELETE FROM {table} WHERE {}", cond.replace("{f}", &ids)))
                .await
                .map_err(db_err)?;
        }
        for (table, cond) in SHARD_TABLES {
            report.rows += copy_table(&stx, &dtx, table, &cond.replace("{f}", &ids)).await?;
        }
        bump_identities(&dtx).await?;
        commit(dtx).await?;
        place(&gtx, shard, cluster).await?;
        record_pin(&gtx, forum.id, pinned).await?;
        commit(gtx).await?;
        // The new cluster serves the shard from here on; what stays behind is unused.
        for (table, cond) in SHARD_TABLES.iter().rev() {
            stx.batch_execute(&format!("DELETE FROM {table} WHERE {}", cond.replace("{f}", &ids)))
                .await
                .map_err(db_err)?;
        }
        commit(stx).await?;
        self.t.load_map().await?;
        Ok(report)
    }
}
