//! Live values and their audit log (see `confab_store::LiveStore`).

use confab_core::model::UnixMs;
use confab_store::{LiveChange, LiveEntry, LiveKind, LiveTable, StoreResult};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::rows::sql_err;

pub(crate) fn seq(c: &Connection) -> StoreResult<u64> {
    c.prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM live_log")
        .and_then(|mut s| s.query_row([], |r| r.get::<_, i64>(0)))
        .map(|n| n as u64)
        .map_err(sql_err)
}

pub(crate) fn table(c: &Connection) -> StoreResult<LiveTable> {
    let seq = seq(c)?;
    let mut s = c.prepare_cached("SELECT kind, key, value FROM live_values ORDER BY kind, key").map_err(sql_err)?;
    let rows = s
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))
        .map_err(sql_err)?;
    let mut entries = Vec::new();
    for row in rows {
        let (kind, key, value) = row.map_err(sql_err)?;
        // A kind this release does not know (written by a newer one) is skipped.
        if let Some(kind) = LiveKind::parse(&kind) {
            entries.push(LiveEntry { kind, key, value });
        }
    }
    Ok(LiveTable { seq, entries })
}

pub(crate) fn put(
    c: &mut Connection,
    kind: LiveKind,
    key: &str,
    value: Option<&str>,
    by: &str,
    at: UnixMs,
) -> StoreResult<Option<LiveChange>> {
    // IMMEDIATE: the write lock first, so the read of `before` and the change are one step.
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql_err)?;
    let before: Option<String> = tx
        .query_row("SELECT value FROM live_values WHERE kind = ?1 AND key = ?2", params![kind.as_str(), key], |r| {
            r.get(0)
        })
        .optional()
        .map_err(sql_err)?;
    if before.as_deref() == value {
        return Ok(None);
    }
    match value {
        Some(v) => tx.execute(
            "INSERT INTO live_values (kind, key, value) VALUES (?1, ?2, ?3) \
             ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value",
            params![kind.as_str(), key, v],
        ),
        None => tx.execute("DELETE FROM live_values WHERE kind = ?1 AND key = ?2", params![kind.as_str(), key]),
    }
    .map_err(sql_err)?;
    tx.execute(
        "INSERT INTO live_log (kind, key, by, at_ms, before, after) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![kind.as_str(), key, by, at, before, value],
    )
    .map_err(sql_err)?;
    let seq = tx.last_insert_rowid() as u64;
    tx.commit().map_err(sql_err)?;
    Ok(Some(LiveChange {
        seq,
        kind,
        key: key.to_owned(),
        by: by.to_owned(),
        at,
        before,
        after: value.map(str::to_owned),
    }))
}

pub(crate) fn log(c: &Connection, kind: LiveKind, key: Option<&str>, limit: u32) -> StoreResult<Vec<LiveChange>> {
    let mut s = c
        .prepare_cached(
            "SELECT seq, key, by, at_ms, before, after FROM live_log \
             WHERE kind = ?1 AND (?2 IS NULL OR key = ?2) ORDER BY seq DESC LIMIT ?3",
        )
        .map_err(sql_err)?;
    let rows = s
        .query_map(params![kind.as_str(), key, limit], |r| {
            Ok(LiveChange {
                seq: r.get::<_, i64>(0)? as u64,
                kind,
                key: r.get(1)?,
                by: r.get(2)?,
                at: r.get(3)?,
                before: r.get(4)?,
                after: r.get(5)?,
            })
        })
        .map_err(sql_err)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(sql_err)
}
