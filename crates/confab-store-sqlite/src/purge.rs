//! Deleting a forum with all its data ([`confab_store::Store::forum_delete_begin`] and
//! [`confab_store::Store::forum_purge`]).
//!
//! The inventory of where each table keeps a forum's rows is `confab_store::shape`'s
//! `PURGE_*` lists (shared with PostgreSQL), with the mutes and the forum's own row. Accounts are people's, not a forum's, and stay; a guest's author row
//! is shared by the same guest's posts everywhere and goes with their last post.
//! `tests/purge.rs` checks every table of the schema after a purge, so a table added
//! later without a place here fails it.

use confab_core::id::{Id, IdGenerator};
use confab_core::jobs::Task;
use confab_core::model::UnixMs;
use confab_store::shape::{PURGE_GLOBAL_ROWS, PURGE_SHARD_ROWS, PURGE_THREAD_ROWS};
use confab_store::{NewJob, PurgeStep, StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::outbox;
use crate::rows::sql_err;

/// Where a forum's rows are, beyond the shared lists of `confab_store::shape`: in the
/// one database the global tables sit beside the shard's.
const MUTES: (&str, &str) = ("mutes", "thread_id IN ({t})");
const FORUM: (&str, &str) = ("forums", "id = {f}");

pub(crate) fn begin(c: &mut Connection, ids: &IdGenerator, forum: Id, now: UnixMs) -> StoreResult<Id> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql_err)?;
    let marked = tx
        .prepare_cached("UPDATE forums SET deleted_at = coalesce(deleted_at, ?2) WHERE id = ?1")
        .and_then(|mut s| s.execute(params![forum.as_i64(), now]))
        .map_err(sql_err)?;
    if marked == 0 {
        return Err(StoreError::ForumNotFound);
    }
    let waiting: Option<i64> = tx
        .prepare_cached(
            "SELECT id FROM outbox WHERE forum_id = ?1 AND state IN (0, 1) \
             AND json_extract(task, '$.type') = 'forum_purge' ORDER BY id LIMIT 1",
        )
        .and_then(|mut s| s.query_row([forum.as_i64()], |r| r.get(0)).optional())
        .map_err(sql_err)?;
    let job = match waiting.and_then(Id::from_i64) {
        Some(id) => id,
        None => outbox::enqueue(
            &tx,
            ids,
            &NewJob { forum_id: forum, task: Task::ForumPurge { forum, since: now }, run_at: now },
            now,
        )?,
    };
    tx.commit().map_err(sql_err)?;
    Ok(job)
}

pub(crate) fn step(c: &mut Connection, forum: Id, keep: Id, threads: u32, finish: bool) -> StoreResult<PurgeStep> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql_err)?;
    let deleting: Option<Option<i64>> = tx
        .prepare_cached("SELECT deleted_at FROM forums WHERE id = ?1")
        .and_then(|mut s| s.query_row([forum.as_i64()], |r| r.get(0)).optional())
        .map_err(sql_err)?;
    match deleting {
        None => return Ok(PurgeStep { done: true, ..PurgeStep::default() }),
        Some(None) => return Err(StoreError::Internal(format!("forum {forum} is not being deleted"))),
        Some(Some(_)) => {}
    }
    let (f, keep) = (forum.as_i64(), keep.as_i64());
    // Its other jobs first: nothing more is mailed or delivered for it.
    tx.execute("DELETE FROM outbox WHERE forum_id = ?1 AND id <> ?2 AND state IN (0, 1)", params![f, keep])
        .map_err(sql_err)?;
    let batch: Vec<i64> = tx
        .prepare_cached("SELECT id FROM threads WHERE forum_id = ?1 ORDER BY id LIMIT ?2")
        .and_then(|mut s| s.query_map(params![f, threads], |r| r.get(0))?.collect())
        .map_err(sql_err)?;
    let mut step = PurgeStep::default();
    if batch.is_empty() && !finish {
        // Nothing to do until the caller may finish.
    } else if batch.is_empty() {
        let rows = PURGE_SHARD_ROWS.iter().chain(PURGE_GLOBAL_ROWS).chain([&FORUM]);
        for (table, cond) in rows {
            let cond = cond.replace("{f}", &f.to_string()).replace("{keep}", &keep.to_string());
            tx.execute(&format!("DELETE FROM {table} WHERE {cond}"), []).map_err(sql_err)?;
        }
        step.done = true;
    } else {
        // Integers from the database, so splicing them is safe.
        let t = batch.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        let guests: Vec<i64> = tx
            .prepare(&format!(
                "SELECT DISTINCT p.author_id FROM posts p JOIN authors a ON a.id = p.author_id \
                 WHERE p.thread_id IN ({t}) AND a.kind = 'guest'"
            ))
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .map_err(sql_err)?;
        for (table, cond) in PURGE_THREAD_ROWS.iter().chain([&MUTES]) {
            let n =
                tx.execute(&format!("DELETE FROM {table} WHERE {}", cond.replace("{t}", &t)), []).map_err(sql_err)?;
            match *table {
                "posts" => step.posts = n as u64,
                "threads" => step.threads = n as u64,
                _ => {}
            }
        }
        // A guest's row (name, email) goes with their last post anywhere.
        for chunk in guests.chunks(500) {
            let ids = chunk.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
            tx.execute(
                &format!(
                    "DELETE FROM authors WHERE kind = 'guest' AND id IN ({ids}) \
                     AND NOT EXISTS (SELECT 1 FROM posts p WHERE p.author_id = authors.id)"
                ),
                [],
            )
            .map_err(sql_err)?;
        }
    }
    tx.commit().map_err(sql_err)?;
    Ok(step)
}
