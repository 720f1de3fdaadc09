//! Server-wide settings and secrets (global data).

use confab_store::StoreResult;
use rusqlite::{Connection, OptionalExtension, params};

use crate::rows::sql_err;

pub(crate) const ADMIN_TOKEN: &str = "admin_token_sha256";

pub(crate) fn get(c: &Connection, name: &str) -> StoreResult<Option<Vec<u8>>> {
    c.prepare_cached("SELECT value FROM settings WHERE name = ?1")
        .and_then(|mut s| s.query_row([name], |r| r.get(0)).optional())
        .map_err(sql_err)
}

pub(crate) fn insert_if_absent(c: &Connection, name: &str, value: &[u8]) -> StoreResult<bool> {
    let n = c
        .prepare_cached("INSERT INTO settings (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING")
        .and_then(|mut s| s.execute(params![name, value]))
        .map_err(sql_err)?;
    Ok(n == 1)
}

pub(crate) fn get_or_init(c: &Connection, name: &str, init: &[u8]) -> StoreResult<Vec<u8>> {
    insert_if_absent(c, name, init)?;
    Ok(get(c, name)?.unwrap_or_else(|| init.to_vec()))
}

pub(crate) fn set(c: &Connection, name: &str, value: &[u8]) -> StoreResult<()> {
    c.prepare_cached(
        "INSERT INTO settings (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
    )
    .and_then(|mut s| s.execute(params![name, value]))
    .map_err(sql_err)?;
    Ok(())
}
