//! Leases of id generator nodes (see `confab_store::id_nodes`).

use confab_store::id_nodes::IdNodeLease;
use confab_store::{StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::rows::sql_err;

pub(crate) fn acquire(c: &mut Connection, holder: &str, now: u64, until: u64) -> StoreResult<IdNodeLease> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql_err)?;
    let free: Option<(i64, i64, i64)> = tx
        .query_row(
            "SELECT node, until_ms, high_ms FROM id_nodes WHERE until_ms < ?1 ORDER BY until_ms, node LIMIT 1",
            [now as i64],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()
        .map_err(sql_err)?;
    let Some((node, prev_until, high)) = free else {
        return Err(StoreError::Unavailable("every id node is leased: too many processes share this store".into()));
    };
    tx.execute("UPDATE id_nodes SET holder = ?2, until_ms = ?3 WHERE node = ?1", params![node, holder, until as i64])
        .map_err(sql_err)?;
    tx.commit().map_err(sql_err)?;
    Ok(IdNodeLease::after(node as u16, prev_until as u64, high as u64))
}

pub(crate) fn renew(c: &Connection, node: u16, holder: &str, high: u64, until: u64) -> StoreResult<bool> {
    let n = c
        .prepare_cached("UPDATE id_nodes SET until_ms = ?4, high_ms = max(high_ms, ?3) WHERE node = ?1 AND holder = ?2")
        .and_then(|mut s| s.execute(params![node, holder, high as i64, until as i64]))
        .map_err(sql_err)?;
    Ok(n == 1)
}

pub(crate) fn release(c: &Connection, node: u16, holder: &str, high: u64) -> StoreResult<()> {
    c.prepare_cached(
        "UPDATE id_nodes SET holder = NULL, until_ms = 0, high_ms = max(high_ms, ?3) WHERE node = ?1 AND holder = ?2",
    )
    .and_then(|mut s| s.execute(params![node, holder, high as i64]))
    .map_err(sql_err)?;
    Ok(())
}
