//! The outbox (forum shard) and webhooks with their delivery log.
//!
//! Jobs are written by [`enqueue`] inside the transaction of the change they follow.
//! Workers claim due rows with one `UPDATE … RETURNING` on the single writer
//! connection, so two claims never take the same row; a settle only applies while the
//! row is still held by the same attempt.

use confab_core::id::{Id, IdGenerator};
use confab_core::input::WebUrl;
use confab_core::jobs::{EventKind, JobState, PostSnapshot, Task};
use confab_core::model::Post;
use confab_core::model::UnixMs;
use confab_store::shape::clip_error;
use confab_store::{Job, JobFilter, JobOutcome, NewJob, NewWebhook, StoreError, StoreResult, Webhook, WebhookAttempt};
use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

use crate::rows::{id_at, sql_err};

const JOB_COLS: &str = "id, forum_id, task, state, attempts, run_at, last_error, created_at, updated_at";

fn bad(idx: usize, what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(idx, Type::Integer, what.to_owned().into())
}

fn job(row: &Row<'_>) -> rusqlite::Result<Job> {
    Ok(Job {
        id: id_at(row, 0)?,
        forum_id: id_at(row, 1)?,
        task: row.get(2)?,
        state: JobState::from_code(row.get(3)?).ok_or_else(|| bad(3, "job state"))?,
        attempts: row.get(4)?,
        run_at: row.get(5)?,
        last_error: row.get(6)?,
        created_at: row.get(7)?,
        updated_at: row.get(8)?,
    })
}

/// Queues a task in the caller's transaction. Its id carries the forum's shard.
pub(crate) fn enqueue(c: &Connection, ids: &IdGenerator, job: &NewJob, now: UnixMs) -> StoreResult<Id> {
    let id = ids.next(job.forum_id.shard());
    c.prepare_cached(
        "INSERT INTO outbox (id, forum_id, task, state, attempts, run_at, created_at, updated_at) \
         VALUES (?1, ?2, ?3, 0, 0, ?4, ?5, ?5)",
    )
    .and_then(|mut s| s.execute(params![id.as_i64(), job.forum_id.as_i64(), job.task.to_json(), job.run_at, now]))
    .map_err(sql_err)?;
    Ok(id)
}

/// Queues the event `kind` about a thread of `forum`, due at once.
pub(crate) fn emit_thread(
    c: &Connection,
    ids: &IdGenerator,
    forum: Id,
    event: EventKind,
    thread: Id,
    now: UnixMs,
) -> StoreResult<()> {
    let task = Task::Event { event, thread, post: None, snapshot: None };
    enqueue(c, ids, &NewJob { forum_id: forum, task, run_at: now }, now).map(drop)
}

/// Queues the event `kind` about a post as this change left it, due at once.
pub(crate) fn emit_post(
    c: &Connection,
    ids: &IdGenerator,
    event: EventKind,
    post: &Post,
    now: UnixMs,
) -> StoreResult<()> {
    let task =
        Task::Event { event, thread: post.thread_id, post: Some(post.id), snapshot: Some(PostSnapshot::of(post)) };
    enqueue(c, ids, &NewJob { forum_id: post.forum_id, task, run_at: now }, now).map(drop)
}

pub(crate) fn claim(c: &Connection, now: UnixMs, lease_until: UnixMs, limit: u32) -> StoreResult<Vec<Job>> {
    c.prepare_cached(&format!(
        "UPDATE outbox SET state = 1, attempts = attempts + 1, lease_until = ?2, updated_at = ?1 \
         WHERE id IN (SELECT id FROM outbox WHERE state IN (0, 1) AND run_at <= ?1 \
                      AND (state = 0 OR lease_until <= ?1) ORDER BY run_at LIMIT ?3) \
         RETURNING {JOB_COLS}"
    ))
    .and_then(|mut s| s.query_map(params![now, lease_until, limit], job)?.collect())
    .map_err(sql_err)
}

pub(crate) fn settle(
    c: &mut Connection,
    ids: &IdGenerator,
    id: Id,
    attempt: u32,
    outcome: JobOutcome,
    now: UnixMs,
) -> StoreResult<bool> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql_err)?;
    let (state, run_at, error) = outcome.settlement();
    let changed = tx
        .prepare_cached(
            "UPDATE outbox SET state = ?3, run_at = COALESCE(?4, run_at), last_error = COALESCE(?5, last_error), \
             lease_until = NULL, updated_at = ?6 WHERE id = ?1 AND state = 1 AND attempts = ?2",
        )
        .and_then(|mut s| s.execute(params![id.as_i64(), attempt, state.code(), run_at, error, now]))
        .map_err(sql_err)?;
    if changed == 0 {
        return Ok(false);
    }
    if let JobOutcome::Done { follow_ups } = &outcome {
        for f in follow_ups {
            enqueue(&tx, ids, f, now)?;
        }
    }
    tx.commit().map_err(sql_err)?;
    Ok(true)
}

pub(crate) fn release(c: &Connection, id: Id, attempt: u32, run_at: UnixMs, now: UnixMs) -> StoreResult<bool> {
    let n = c
        .prepare_cached(
            "UPDATE outbox SET state = 0, attempts = attempts - 1, lease_until = NULL, run_at = ?3, updated_at = ?4 \
             WHERE id = ?1 AND state = 1 AND attempts = ?2",
        )
        .and_then(|mut s| s.execute(params![id.as_i64(), attempt, run_at, now]))
        .map_err(sql_err)?;
    Ok(n == 1)
}

pub(crate) fn get(c: &Connection, id: Id) -> StoreResult<Job> {
    c.prepare_cached(&format!("SELECT {JOB_COLS} FROM outbox WHERE id = ?1"))
        .and_then(|mut s| s.query_row([id.as_i64()], job).optional())
        .map_err(sql_err)?
        .ok_or(StoreError::JobNotFound)
}

pub(crate) fn list(c: &Connection, f: JobFilter) -> StoreResult<Vec<Job>> {
    c.prepare_cached(&format!(
        "SELECT {JOB_COLS} FROM outbox WHERE (?1 IS NULL OR state = ?1) AND (?2 IS NULL OR forum_id = ?2) \
         AND (?3 IS NULL OR id < ?3) ORDER BY id DESC LIMIT ?4"
    ))
    .and_then(|mut s| {
        s.query_map(
            params![f.state.map(JobState::code), f.forum.map(Id::as_i64), f.before.map(Id::as_i64), f.limit],
            job,
        )?
        .collect()
    })
    .map_err(sql_err)
}

pub(crate) fn counts(c: &Connection) -> StoreResult<Vec<(JobState, u64)>> {
    let rows: Vec<(i64, i64)> = c
        .prepare_cached("SELECT state, COUNT(*) FROM outbox GROUP BY state ORDER BY state")
        .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
        .map_err(sql_err)?;
    Ok(rows.into_iter().filter_map(|(s, n)| Some((JobState::from_code(s)?, n as u64))).collect())
}

pub(crate) fn retry(c: &Connection, id: Id, now: UnixMs) -> StoreResult<Job> {
    let found = c
        .prepare_cached(&format!(
            "UPDATE outbox SET state = 0, attempts = 0, run_at = ?2, updated_at = ?2 WHERE id = ?1 AND state = 3 \
             RETURNING {JOB_COLS}"
        ))
        .and_then(|mut s| s.query_row(params![id.as_i64(), now], job).optional())
        .map_err(sql_err)?;
    match found {
        Some(j) => Ok(j),
        None => get(c, id).and(Err(StoreError::JobNotDead)),
    }
}

pub(crate) fn discard(c: &Connection, id: Id) -> StoreResult<()> {
    let n = c.execute("DELETE FROM outbox WHERE id = ?1 AND state = 3", [id.as_i64()]).map_err(sql_err)?;
    if n == 1 { Ok(()) } else { get(c, id).and(Err(StoreError::JobNotDead)) }
}

pub(crate) fn prune(c: &Connection, before: UnixMs) -> StoreResult<u64> {
    c.execute("DELETE FROM outbox WHERE state = 2 AND updated_at < ?1", [before]).map(|n| n as u64).map_err(sql_err)
}

// ---- webhooks ----

const WEBHOOK_COLS: &str = "id, forum_id, url, secret, events, hub_signature, created_at";

fn webhook(row: &Row<'_>) -> rusqlite::Result<Webhook> {
    let events: Vec<EventKind> = serde_json::from_str(&row.get::<_, String>(4)?).map_err(|_| bad(4, "events"))?;
    Ok(Webhook {
        id: id_at(row, 0)?,
        forum_id: id_at(row, 1)?,
        url: WebUrl::from_trusted(row.get(2)?),
        secret: row.get(3)?,
        events,
        hub_signature: row.get(5)?,
        created_at: row.get(6)?,
    })
}

pub(crate) fn webhook_create(
    c: &Connection,
    ids: &IdGenerator,
    forum: Id,
    new: NewWebhook,
    now: UnixMs,
) -> StoreResult<Webhook> {
    let hook = Webhook {
        id: ids.next(forum.shard()),
        forum_id: forum,
        url: new.url,
        secret: new.secret,
        events: new.events,
        hub_signature: new.hub_signature,
        created_at: now,
    };
    let events = serde_json::to_string(&hook.events).map_err(|e| StoreError::Internal(e.to_string()))?;
    c.prepare_cached(
        "INSERT INTO webhooks (id, forum_id, url, secret, events, hub_signature, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .and_then(|mut s| {
        s.execute(params![
            hook.id.as_i64(),
            forum.as_i64(),
            hook.url.as_str(),
            &hook.secret,
            events,
            hook.hub_signature,
            now
        ])
    })
    .map_err(sql_err)?;
    Ok(hook)
}

pub(crate) fn webhooks_list(c: &Connection, forum: Id) -> StoreResult<Vec<Webhook>> {
    c.prepare_cached(&format!("SELECT {WEBHOOK_COLS} FROM webhooks WHERE forum_id = ?1 ORDER BY id"))
        .and_then(|mut s| s.query_map([forum.as_i64()], webhook)?.collect())
        .map_err(sql_err)
}

pub(crate) fn webhook_get(c: &Connection, id: Id) -> StoreResult<Webhook> {
    c.prepare_cached(&format!("SELECT {WEBHOOK_COLS} FROM webhooks WHERE id = ?1"))
        .and_then(|mut s| s.query_row([id.as_i64()], webhook).optional())
        .map_err(sql_err)?
        .ok_or(StoreError::WebhookNotFound)
}

pub(crate) fn webhook_delete(c: &mut Connection, forum: Id, id: Id) -> StoreResult<()> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql_err)?;
    let n = tx
        .execute("DELETE FROM webhooks WHERE id = ?1 AND forum_id = ?2", params![id.as_i64(), forum.as_i64()])
        .map_err(sql_err)?;
    if n == 0 {
        return Err(StoreError::WebhookNotFound);
    }
    tx.execute("DELETE FROM webhook_attempts WHERE webhook_id = ?1", [id.as_i64()]).map_err(sql_err)?;
    tx.commit().map_err(sql_err)
}

const ATTEMPT_COLS: &str = "seq, webhook_id, delivery_id, event, attempt, at, status, error, duration_ms";

fn attempt(row: &Row<'_>) -> rusqlite::Result<WebhookAttempt> {
    Ok(WebhookAttempt {
        seq: row.get(0)?,
        webhook_id: id_at(row, 1)?,
        delivery_id: id_at(row, 2)?,
        event: EventKind::parse(&row.get::<_, String>(3)?).ok_or_else(|| bad(3, "event"))?,
        attempt: row.get(4)?,
        at: row.get(5)?,
        status: row.get(6)?,
        error: row.get(7)?,
        duration_ms: row.get(8)?,
    })
}

pub(crate) fn attempt_log(c: &Connection, a: WebhookAttempt) -> StoreResult<()> {
    c.prepare_cached(
        "INSERT INTO webhook_attempts (webhook_id, delivery_id, event, attempt, at, status, error, duration_ms) \
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8 WHERE EXISTS (SELECT 1 FROM webhooks WHERE id = ?1)",
    )
    .and_then(|mut s| {
        s.execute(params![
            a.webhook_id.as_i64(),
            a.delivery_id.as_i64(),
            a.event.as_str(),
            a.attempt,
            a.at,
            a.status,
            a.error.as_deref().map(clip_error),
            a.duration_ms
        ])
    })
    .map(drop)
    .map_err(sql_err)
}

pub(crate) fn attempts(
    c: &Connection,
    webhook: Id,
    before: Option<i64>,
    limit: u32,
) -> StoreResult<Vec<WebhookAttempt>> {
    c.prepare_cached(&format!(
        "SELECT {ATTEMPT_COLS} FROM webhook_attempts WHERE webhook_id = ?1 AND (?2 IS NULL OR seq < ?2) \
         ORDER BY seq DESC LIMIT ?3"
    ))
    .and_then(|mut s| s.query_map(params![webhook.as_i64(), before, limit], attempt)?.collect())
    .map_err(sql_err)
}

pub(crate) fn attempts_prune(c: &Connection, before: UnixMs) -> StoreResult<u64> {
    c.execute("DELETE FROM webhook_attempts WHERE at < ?1", [before]).map(|n| n as u64).map_err(sql_err)
}
