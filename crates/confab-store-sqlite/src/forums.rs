//! Forums (global data).

use confab_core::id::{Id, IdGenerator, LogicalShard};
use confab_core::model::{Forum, ForumKeys, ForumUpdate, NewForum, UnixMs};
use confab_store::{StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::rows::{self, FORUM_COLS, is_unique_violation, sql_err};

pub(crate) fn create(c: &mut Connection, ids: &IdGenerator, f: NewForum, now: UnixMs) -> StoreResult<Forum> {
    let shard = LogicalShard::for_key(f.shortname.as_str());
    let forum = Forum {
        id: ids.next(shard),
        shortname: f.shortname,
        name: f.name,
        origins: f.origins,
        policy: f.policy,
        shard,
        created_at: now,
    };
    let origins: Vec<&str> = forum.origins.iter().map(|o| o.as_str()).collect();
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql_err)?;
    let result = tx
        .prepare_cached(
            "INSERT INTO forums (id, shortname, name, origins, policy, shard, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .and_then(|mut s| {
            s.execute(params![
                forum.id.as_i64(),
                forum.shortname.as_str(),
                forum.name.as_str(),
                serde_json::to_string(&origins).expect("strings serialise"),
                serde_json::to_string(&forum.policy).expect("policy serialises"),
                forum.shard.get(),
                now
            ])
        });
    match result {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e, "forums.shortname") => return Err(StoreError::ForumExists),
        Err(e) => return Err(sql_err(e)),
    }
    set_keys(&tx, forum.id, &ForumKeys::generate(now))?;
    if let Some(owner) = f.owner {
        let inserted = tx
            .prepare_cached(
                "INSERT INTO forum_roles (forum_id, account_id, role, granted_at) \
                 SELECT ?1, id, 'owner', ?3 FROM accounts WHERE id = ?2",
            )
            .and_then(|mut s| s.execute(params![forum.id.as_i64(), owner.as_i64(), now]))
            .map_err(sql_err)?;
        if inserted == 0 {
            return Err(StoreError::AccountNotFound);
        }
    }
    tx.commit().map_err(sql_err)?;
    Ok(forum)
}

pub(crate) fn update(c: &mut Connection, id: Id, u: ForumUpdate) -> StoreResult<Forum> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql_err)?;
    let mut forum = get(&tx, id)?;
    if let Some(name) = u.name {
        forum.name = name;
    }
    if let Some(origins) = u.origins {
        forum.origins = origins;
    }
    if let Some(policy) = u.policy {
        forum.policy = policy;
    }
    let origins: Vec<&str> = forum.origins.iter().map(|o| o.as_str()).collect();
    tx.prepare_cached("UPDATE forums SET name = ?2, origins = ?3, policy = ?4 WHERE id = ?1")
        .and_then(|mut s| {
            s.execute(params![
                id.as_i64(),
                forum.name.as_str(),
                serde_json::to_string(&origins).expect("strings serialise"),
                serde_json::to_string(&forum.policy).expect("policy serialises"),
            ])
        })
        .map_err(sql_err)?;
    tx.commit().map_err(sql_err)?;
    Ok(forum)
}

fn set_keys(c: &Connection, forum: Id, keys: &ForumKeys) -> StoreResult<()> {
    c.prepare_cached(
        "INSERT INTO forum_keys (forum_id, public_key, secret_key, rotated_at) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (forum_id) DO UPDATE SET public_key = excluded.public_key, secret_key = excluded.secret_key, \
         rotated_at = excluded.rotated_at",
    )
    .and_then(|mut s| s.execute(params![forum.as_i64(), keys.public_key, keys.secret_key, keys.rotated_at]))
    .map_err(sql_err)?;
    Ok(())
}

pub(crate) fn keys(c: &Connection, forum: Id) -> StoreResult<ForumKeys> {
    c.prepare_cached("SELECT public_key, secret_key, rotated_at FROM forum_keys WHERE forum_id = ?1")
        .and_then(|mut s| {
            s.query_row([forum.as_i64()], |r| {
                Ok(ForumKeys { public_key: r.get(0)?, secret_key: r.get(1)?, rotated_at: r.get(2)? })
            })
            .optional()
        })
        .map_err(sql_err)?
        .ok_or(StoreError::ForumNotFound)
}

pub(crate) fn rotate_keys(c: &mut Connection, forum: Id, keys: ForumKeys) -> StoreResult<ForumKeys> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql_err)?;
    get(&tx, forum)?;
    set_keys(&tx, forum, &keys)?;
    tx.commit().map_err(sql_err)?;
    Ok(keys)
}

pub(crate) fn by_shortname(c: &mut Connection, shortname: &str) -> StoreResult<Forum> {
    c.prepare_cached(&format!("SELECT {FORUM_COLS} FROM forums WHERE shortname = ?1 AND deleted_at IS NULL"))
        .and_then(|mut s| s.query_row([shortname], rows::forum).optional())
        .map_err(sql_err)?
        .ok_or(StoreError::ForumNotFound)
}

pub(crate) fn get(c: &Connection, id: Id) -> StoreResult<Forum> {
    c.prepare_cached(&format!("SELECT {FORUM_COLS} FROM forums WHERE id = ?1 AND deleted_at IS NULL"))
        .and_then(|mut s| s.query_row([id.as_i64()], rows::forum).optional())
        .map_err(sql_err)?
        .ok_or(StoreError::ForumNotFound)
}

pub(crate) fn list(c: &mut Connection) -> StoreResult<Vec<Forum>> {
    let mut s = c
        .prepare_cached(&format!("SELECT {FORUM_COLS} FROM forums WHERE deleted_at IS NULL ORDER BY shortname"))
        .map_err(sql_err)?;
    s.query_map([], rows::forum).and_then(Iterator::collect).map_err(sql_err)
}
