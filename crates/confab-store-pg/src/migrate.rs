//! Migrations for every database of the topology: the global schema on the global
//! primary, the shard schema on each cluster's primary (replicas follow by streaming).
//!
//! Each migration runs in its own transaction, under a transaction-scoped advisory lock,
//! and is recorded in `confab_migrations` in the same transaction: several processes
//! migrating at once apply each migration exactly once, and a failed one leaves nothing
//! behind. Only the simple query protocol and transaction-scoped locks are used, so it
//! works connected directly and through pgbouncer in transaction mode.
//!
//! Discipline (expand/contract): a release's migrations only add — tables, nullable or
//! defaulted columns, indexes — so the previous release keeps running against the new
//! schema during a deploy; removing or renaming waits for a later release, once no
//! running code reads the old shape.

use confab_store::{StoreError, StoreResult};

use crate::placement::ShardMap;
use crate::pool::{Db, Topology};

/// What a database holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    Global,
    Shard,
}

/// (version, name, SQL), in order.
pub fn migrations(schema: Schema) -> &'static [(i32, &'static str, &'static str)] {
    match schema {
        Schema::Global => &[
            (1, "global", include_str!("../migrations/global/0001_global.sql")),
            (2, "id_nodes", include_str!("../migrations/global/0002_id_nodes.sql")),
            (3, "reader_sessions", include_str!("../migrations/global/0003_reader_sessions.sql")),
            (4, "forum_deletion", include_str!("../migrations/global/0004_forum_deletion.sql")),
            (5, "live", include_str!("../migrations/global/0005_live.sql")),
        ],
        Schema::Shard => &[
            (1, "shard", include_str!("../migrations/shard/0001_shard.sql")),
            (2, "thread_versions", include_str!("../migrations/shard/0002_thread_versions.sql")),
            (3, "notify_sent", include_str!("../migrations/shard/0003_notify_sent.sql")),
        ],
    }
}

/// A fixed key for `pg_advisory_xact_lock`: "confab migrations".
const LOCK_KEY: i64 = 0x636f_6e66_6162_6d67;

fn sql_err(db: &Db, e: tokio_postgres::Error) -> StoreError {
    match e.as_db_error() {
        Some(d) => StoreError::Internal(format!("{}: {} ({})", db.label, d.message(), d.code().code())),
        None => StoreError::Internal(format!("{}: {e}", db.label)),
    }
}

/// Applies what `db` lacks of `schema`; returns the versions applied now.
pub async fn apply(db: &Db, schema: Schema, statement_timeout_ms: u64) -> StoreResult<Vec<i32>> {
    let mut c = db.get().await?;
    let mut applied = Vec::new();
    for (version, name, sql) in migrations(schema) {
        let tx = c.transaction().await.map_err(|e| sql_err(db, e))?;
        // The lock first: even CREATE TABLE IF NOT EXISTS races between sessions.
        tx.batch_execute(&format!(
            "SELECT pg_advisory_xact_lock({LOCK_KEY}); \
             CREATE TABLE IF NOT EXISTS confab_migrations (\
               version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        ))
        .await
        .map_err(|e| sql_err(db, e))?;
        let done = tx
            .query_typed(
                "SELECT 1 FROM confab_migrations WHERE version = $1",
                &[(version, tokio_postgres::types::Type::INT4)],
            )
            .await
            .map_err(|e| sql_err(db, e))?;
        if !done.is_empty() {
            tx.commit().await.map_err(|e| sql_err(db, e))?;
            continue;
        }
        tx.batch_execute(sql).await.map_err(|e| sql_err(db, e))?;
        tx.query_typed(
            "INSERT INTO confab_migrations (version, name) VALUES ($1, $2)",
            &[(version, tokio_postgres::types::Type::INT4), (name, tokio_postgres::types::Type::TEXT)],
        )
        .await
        .map_err(|e| sql_err(db, e))?;
        tx.commit().await.map_err(|e| sql_err(db, e))?;
        tracing::info!(db = %db.label, version, name, "migration applied");
        applied.push(*version);
    }
    // Holds behind a pooler too: new sessions of this database start with it. Under the
    // same lock: two sessions adding the setting at once collide on the catalog's key.
    let tx = c.transaction().await.map_err(|e| sql_err(db, e))?;
    tx.batch_execute(&format!(
        "SELECT pg_advisory_xact_lock({LOCK_KEY}); \
         DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET statement_timeout = %L', current_database(), '{statement_timeout_ms}ms'); END $$"
    ))
    .await
    .map_err(|e| sql_err(db, e))?;
    tx.commit().await.map_err(|e| sql_err(db, e))?;
    Ok(applied)
}

/// What `migrate_all` did, per database label.
pub type Report = Vec<(String, Vec<i32>)>;

/// Migrates the global database and every cluster's primary, then places the logical
/// shards if no shard map exists yet (evenly over the configured clusters), and loads it.
pub async fn migrate_all(t: &Topology) -> StoreResult<Report> {
    let timeout = t.config.statement_timeout_ms;
    let mut report = vec![(t.global.primary.label.clone(), apply(&t.global.primary, Schema::Global, timeout).await?)];
    for cluster in t.clusters.values() {
        report.push((cluster.primary.label.clone(), apply(&cluster.primary, Schema::Shard, timeout).await?));
    }
    place_shards(t).await?;
    t.load_map().await?;
    Ok(report)
}

/// Writes the first shard map, once, over the clusters that are not dedicated:
/// `ON CONFLICT DO NOTHING` keeps an existing one.
async fn place_shards(t: &Topology) -> StoreResult<()> {
    let dedicated = t.dedicated();
    let shared: Vec<String> = t.cluster_names().into_iter().filter(|c| !dedicated.contains(c.as_str())).collect();
    let map = ShardMap::even(&shared);
    let (shards, clusters): (Vec<i32>, Vec<String>) = map.rows().map(|(s, c)| (i32::from(s), c.to_owned())).unzip();
    let c = t.global.primary().await?;
    c.query_typed(
        "INSERT INTO shard_map (logical_shard, cluster) SELECT * FROM unnest($1::int[], $2::text[]) \
         ON CONFLICT (logical_shard) DO NOTHING",
        &[(&shards, tokio_postgres::types::Type::INT4_ARRAY), (&clusters, tokio_postgres::types::Type::TEXT_ARRAY)],
    )
    .await
    .map_err(|e| sql_err(&t.global.primary, e))?;
    Ok(())
}
