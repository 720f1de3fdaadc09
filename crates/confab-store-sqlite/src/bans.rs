//! Bans and timeouts (forum shard).

use confab_core::id::{Id, IdGenerator};
use confab_core::model::{Ban, BanProbe, BanTarget, Moderator, NewBan, UnixMs};
use confab_store::{StoreError, StoreResult};
use rusqlite::{Connection, Row, params};

use crate::rows::{id_at, sql_err};

const COLS: &str = "id, forum_id, kind, value, reason, by_kind, by_id, expires_at, created_at, shadow";

fn ban(r: &Row<'_>) -> rusqlite::Result<Ban> {
    let bad =
        |i: usize| rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, "bad ban row".into());
    let kind: String = r.get(2)?;
    let by_kind: String = r.get(5)?;
    Ok(Ban {
        id: id_at(r, 0)?,
        forum_id: id_at(r, 1)?,
        target: BanTarget::from_parts(&kind, r.get(3)?).ok_or_else(|| bad(2))?,
        reason: r.get(4)?,
        by: Moderator::from_parts(&by_kind, r.get::<_, Option<i64>>(6)?.and_then(Id::from_i64))
            .ok_or_else(|| bad(5))?,
        expires_at: r.get(7)?,
        created_at: r.get(8)?,
        shadow: r.get(9)?,
    })
}

pub(crate) fn create(c: &Connection, ids: &IdGenerator, forum: Id, new: NewBan, now: UnixMs) -> StoreResult<Ban> {
    let NewBan { target, reason, by, expires_at, shadow } = new;
    let b =
        Ban { id: ids.next(forum.shard()), forum_id: forum, target, reason, by, expires_at, shadow, created_at: now };
    c.prepare_cached(&format!("INSERT INTO bans ({COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"))
        .and_then(|mut s| {
            s.execute(params![
                b.id.as_i64(),
                forum.as_i64(),
                b.target.kind(),
                b.target.value(),
                b.reason,
                b.by.kind(),
                b.by.account().map(Id::as_i64),
                b.expires_at,
                now,
                b.shadow
            ])
        })
        .map_err(sql_err)?;
    Ok(b)
}

pub(crate) fn list(c: &Connection, forum: Id, now: UnixMs) -> StoreResult<Vec<Ban>> {
    c.prepare_cached(&format!(
        "SELECT {COLS} FROM bans WHERE forum_id = ?1 AND (expires_at IS NULL OR expires_at > ?2) ORDER BY id DESC"
    ))
    .and_then(|mut s| s.query_map(params![forum.as_i64(), now], ban)?.collect())
    .map_err(sql_err)
}

pub(crate) fn delete(c: &Connection, forum: Id, id: Id) -> StoreResult<()> {
    let n = c
        .execute("DELETE FROM bans WHERE id = ?1 AND forum_id = ?2", params![id.as_i64(), forum.as_i64()])
        .map_err(sql_err)?;
    if n == 1 { Ok(()) } else { Err(StoreError::BanNotFound) }
}

pub(crate) fn matching(c: &Connection, forum: Id, probe: &BanProbe, now: UnixMs) -> StoreResult<Vec<Ban>> {
    let domain = probe.email.as_deref().and_then(|e| e.rsplit_once('@')).map(|(_, d)| d.to_owned());
    c.prepare_cached(&format!(
        "SELECT {COLS} FROM bans WHERE forum_id = ?1 AND (expires_at IS NULL OR expires_at > ?2) AND ( \
           (kind = 'account' AND value = ?3) OR (kind = 'email' AND value = ?4) OR (kind = 'domain' AND value = ?5) \
           OR kind = 'ip')"
    ))
    .and_then(|mut s| {
        s.query_map(params![forum.as_i64(), now, probe.account.map(|a| a.to_string()), probe.email, domain], ban)?
            .collect()
    })
    .map_err(sql_err)
}
