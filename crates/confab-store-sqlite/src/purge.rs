//! Deleting a forum with all its data ([`confab_store::Store::forum_delete_begin`] and
//! [`confab_store::Store::forum_purge`]).
//!
//! [`THREAD_ROWS`] and [`FORUM_ROWS`] are the inventory: where each table keeps a
//! forum's rows. Accounts are people's, not a forum's, and stay; a guest's author row
//! is shared by the same guest's posts everywhere and goes with their last post.
//! `tests/purge.rs` checks every table of the schema after a purge, so a table added
//! later without a place here fails it.

use confab_core::id::{Id, IdGenerator};
use confab_core::jobs::Task;
use confab_core::model::UnixMs;
use confab_store::{NewJob, PurgeStep, StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::outbox;
use crate::rows::sql_err;

/// A batch's rows, children first; `{t}` is the batch's thread ids.
pub(crate) const THREAD_ROWS: &[(&str, &str)] = &[
    ("votes", "post_id IN (SELECT id FROM posts WHERE thread_id IN ({t}))"),
    ("spam_verdicts", "post_id IN (SELECT id FROM posts WHERE thread_id IN ({t}))"),
    ("flags", "post_id IN (SELECT id FROM posts WHERE thread_id IN ({t}))"),
    ("moderation_log", "post_id IN (SELECT id FROM posts WHERE thread_id IN ({t}))"),
    ("subscriptions", "thread_id IN ({t})"),
    ("mutes", "thread_id IN ({t})"),
    ("notify_state", "thread_id IN ({t})"),
    ("notify_pending", "thread_id IN ({t})"),
    ("notify_sent", "thread_id IN ({t})"),
    ("posts", "thread_id IN ({t})"),
    ("threads", "id IN ({t})"),
];

/// The forum's own rows, once no thread is left; `{f}` is its id, `{keep}` the running
/// purge job. The forum's row goes last: until then its shortname stays taken.
pub(crate) const FORUM_ROWS: &[(&str, &str)] = &[
    ("webhook_attempts", "webhook_id IN (SELECT id FROM webhooks WHERE forum_id = {f})"),
    ("webhooks", "forum_id = {f}"),
    ("outbox", "forum_id = {f} AND id <> {keep}"),
    ("spam_tokens", "forum_id = {f}"),
    ("spam_docs", "forum_id = {f}"),
    ("spam_verdicts", "post_id IN (SELECT id FROM posts WHERE forum_id = {f})"),
    ("moderation_log", "forum_id = {f}"),
    ("bans", "forum_id = {f}"),
    ("flags", "forum_id = {f}"),
    ("subscriptions", "forum_id = {f}"),
    // Reader credentials handed to the forum's site.
    ("sessions", "forum_id = {f}"),
    ("forum_roles", "forum_id = {f}"),
    ("forum_keys", "forum_id = {f}"),
    // The site's SSO users are the forum's alone.
    ("authors", "kind = 'sso' AND sso_forum = {f}"),
    ("forums", "id = {f}"),
];

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
        for (table, cond) in FORUM_ROWS {
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
        for (table, cond) in THREAD_ROWS {
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
