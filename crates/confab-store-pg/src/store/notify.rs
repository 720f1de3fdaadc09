//! Webhooks with their delivery log, subscriptions and the mail throttle (forum shard).
//! Mutes live in the global database; callers join them in.

use confab_core::id::{Id, IdGenerator};
use confab_core::input::{Email, WebUrl};
use confab_core::jobs::EventKind;
use confab_core::model::{Thread, UnixMs};
use confab_store::{NewWebhook, NotifyGate, StoreError, StoreResult, Webhook, WebhookAttempt};
use tokio_postgres::{GenericClient, Row};

use super::rows;
use crate::sql::{args, col, exec, id_col, one, opt, rows as query};
use confab_store::shape::clip_error;

// ---- webhooks ----

const WEBHOOK_COLS: &str = "id, forum_id, url, secret, events::text, hub_signature, created_at";

fn webhook(r: &Row) -> StoreResult<Webhook> {
    let events: Vec<EventKind> =
        serde_json::from_str(col(r, 4)?).map_err(|_| StoreError::Internal("corrupt row: events".into()))?;
    Ok(Webhook {
        id: id_col(r, 0)?,
        forum_id: id_col(r, 1)?,
        url: WebUrl::from_trusted(col(r, 2)?),
        secret: col(r, 3)?,
        events,
        hub_signature: col(r, 5)?,
        created_at: col(r, 6)?,
    })
}

pub(crate) async fn webhook_create(
    c: &impl GenericClient,
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
    exec(
        c,
        "INSERT INTO webhooks (id, forum_id, url, secret, events, hub_signature, created_at) \
         VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7)",
        args![
            hook.id.as_i64(),
            forum.as_i64(),
            hook.url.as_str(),
            hook.secret.as_str(),
            events,
            hook.hub_signature,
            now
        ],
    )
    .await?;
    Ok(hook)
}

pub(crate) async fn webhooks_list(c: &impl GenericClient, forum: Id) -> StoreResult<Vec<Webhook>> {
    let rs = query(
        c,
        &format!("SELECT {WEBHOOK_COLS} FROM webhooks WHERE forum_id = $1 ORDER BY id"),
        args![forum.as_i64()],
    )
    .await?;
    rows::all(&rs, webhook)
}

pub(crate) async fn webhook_get(c: &impl GenericClient, id: Id) -> StoreResult<Webhook> {
    let r = opt(c, &format!("SELECT {WEBHOOK_COLS} FROM webhooks WHERE id = $1"), args![id.as_i64()]).await?;
    r.as_ref().map(webhook).transpose()?.ok_or(StoreError::WebhookNotFound)
}

pub(crate) async fn webhook_delete(tx: &impl GenericClient, forum: Id, id: Id) -> StoreResult<()> {
    let n = exec(
        tx,
        "DELETE FROM webhooks WHERE id = $1 AND forum_id = $2 RETURNING 1",
        args![id.as_i64(), forum.as_i64()],
    )
    .await?;
    if n == 0 {
        return Err(StoreError::WebhookNotFound);
    }
    exec(tx, "DELETE FROM webhook_attempts WHERE webhook_id = $1", args![id.as_i64()]).await.map(drop)
}

const ATTEMPT_COLS: &str = "seq, webhook_id, delivery_id, event, attempt, at, status, error, duration_ms";

fn attempt(r: &Row) -> StoreResult<WebhookAttempt> {
    Ok(WebhookAttempt {
        seq: col(r, 0)?,
        webhook_id: id_col(r, 1)?,
        delivery_id: id_col(r, 2)?,
        event: EventKind::parse(col(r, 3)?).ok_or_else(|| StoreError::Internal("corrupt row: event".into()))?,
        attempt: u32::try_from(col::<i32>(r, 4)?).unwrap_or(0),
        at: col(r, 5)?,
        status: col::<Option<i32>>(r, 6)?.and_then(|s| u16::try_from(s).ok()),
        error: col(r, 7)?,
        duration_ms: u32::try_from(col::<i64>(r, 8)?).unwrap_or(u32::MAX),
    })
}

pub(crate) async fn attempt_log(c: &impl GenericClient, a: WebhookAttempt) -> StoreResult<()> {
    exec(
        c,
        "INSERT INTO webhook_attempts (webhook_id, delivery_id, event, attempt, at, status, error, duration_ms) \
         SELECT $1, $2, $3, $4, $5, $6, $7, $8 WHERE EXISTS (SELECT 1 FROM webhooks WHERE id = $1)",
        args![
            a.webhook_id.as_i64(),
            a.delivery_id.as_i64(),
            a.event.as_str(),
            a.attempt as i32,
            a.at,
            a.status.map(i32::from),
            a.error.as_deref().map(clip_error),
            i64::from(a.duration_ms)
        ],
    )
    .await
    .map(drop)
}

pub(crate) async fn attempts(
    c: &impl GenericClient,
    webhook: Id,
    before: Option<i64>,
    limit: u32,
) -> StoreResult<Vec<WebhookAttempt>> {
    let rs = query(
        c,
        &format!(
            "SELECT {ATTEMPT_COLS} FROM webhook_attempts WHERE webhook_id = $1 AND ($2::int8 IS NULL OR seq < $2) \
             ORDER BY seq DESC LIMIT $3"
        ),
        args![webhook.as_i64(), before, i64::from(limit)],
    )
    .await?;
    rows::all(&rs, attempt)
}

pub(crate) async fn attempts_prune(c: &impl GenericClient, before: UnixMs) -> StoreResult<u64> {
    let r = one(
        c,
        "WITH d AS (DELETE FROM webhook_attempts WHERE at < $1 RETURNING 1) SELECT count(*) FROM d",
        args![before],
    )
    .await?;
    Ok(col::<i64>(&r, 0)? as u64)
}

// ---- subscriptions and the throttle ----

pub(crate) async fn subscription_add(
    c: &impl GenericClient,
    thread: &Thread,
    email: &Email,
    now: UnixMs,
) -> StoreResult<bool> {
    let n = exec(
        c,
        "INSERT INTO subscriptions (thread_id, email, forum_id, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT DO NOTHING RETURNING 1",
        args![thread.id.as_i64(), email.as_str(), thread.forum_id.as_i64(), now],
    )
    .await?;
    Ok(n == 1)
}

pub(crate) async fn subscription_remove(c: &impl GenericClient, thread: Id, email: &Email) -> StoreResult<bool> {
    let n = exec(
        c,
        "DELETE FROM subscriptions WHERE thread_id = $1 AND email = $2 RETURNING 1",
        args![thread.as_i64(), email.as_str()],
    )
    .await?;
    Ok(n == 1)
}

pub(crate) async fn subscription_exists(c: &impl GenericClient, thread: Id, email: &Email) -> StoreResult<bool> {
    Ok(opt(
        c,
        "SELECT 1 FROM subscriptions WHERE thread_id = $1 AND email = $2",
        args![thread.as_i64(), email.as_str()],
    )
    .await?
    .is_some())
}

pub(crate) async fn subscribers(c: &impl GenericClient, thread: Id) -> StoreResult<Vec<Email>> {
    let rs =
        query(c, "SELECT email FROM subscriptions WHERE thread_id = $1 ORDER BY email", args![thread.as_i64()]).await?;
    rows::all(&rs, |r| Ok(Email::from_trusted(col(r, 0)?)))
}

/// Forgets subscriptions and waiting digests of an address: for one thread, or (with
/// `None`) on this shard altogether.
pub(crate) async fn unsubscribe(tx: &impl GenericClient, email: &Email, thread: Option<Id>) -> StoreResult<()> {
    let t = thread.map(Id::as_i64);
    exec(
        tx,
        "DELETE FROM subscriptions WHERE email = $1 AND ($2::int8 IS NULL OR thread_id = $2)",
        args![email.as_str(), t],
    )
    .await?;
    exec(
        tx,
        "DELETE FROM notify_pending WHERE email = $1 AND ($2::int8 IS NULL OR thread_id = $2)",
        args![email.as_str(), t],
    )
    .await
    .map(drop)
}

/// Serialises the throttle's decisions for one recipient and thread (the rows may not
/// exist yet, so a row lock cannot do it).
async fn lock(tx: &impl GenericClient, email: &Email, thread: Id) -> StoreResult<()> {
    exec(
        tx,
        "SELECT pg_advisory_xact_lock(hashtextextended($1 || ':' || $2::text, 7))",
        args![email.as_str(), thread.as_i64()],
    )
    .await
    .map(drop)
}

async fn pending_add(tx: &impl GenericClient, email: &Email, thread: Id, post: Id) -> StoreResult<()> {
    exec(
        tx,
        "INSERT INTO notify_pending (email, thread_id, post_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        args![email.as_str(), thread.as_i64(), post.as_i64()],
    )
    .await
    .map(drop)
}

pub(crate) async fn gate(
    tx: &impl GenericClient,
    email: &Email,
    thread: Id,
    post: Id,
    now: UnixMs,
    interval_ms: i64,
) -> StoreResult<NotifyGate> {
    lock(tx, email, thread).await?;
    // Let through before (the job is being retried): the same mail again.
    let sent = opt(
        tx,
        "SELECT sent_at FROM notify_sent WHERE email = $1 AND thread_id = $2 AND post_id = $3",
        args![email.as_str(), thread.as_i64(), post.as_i64()],
    )
    .await?
    .map(|r| col::<i64>(&r, 0))
    .transpose()?;
    if sent == Some(confab_store::NOTIFY_DIGESTED) {
        return Ok(NotifyGate::Digested);
    }
    if sent.is_some() {
        // This attempt's time is the one a failed send gives back (`release`).
        exec(
            tx,
            "UPDATE notify_state SET last_sent_at = $3 WHERE email = $1 AND thread_id = $2 AND digest_at IS NULL",
            args![email.as_str(), thread.as_i64(), now],
        )
        .await?;
        return Ok(NotifyGate::SendAgain);
    }
    let state = opt(
        tx,
        "SELECT last_sent_at, digest_at FROM notify_state WHERE email = $1 AND thread_id = $2",
        args![email.as_str(), thread.as_i64()],
    )
    .await?
    .map(|r| Ok::<_, StoreError>((col::<i64>(&r, 0)?, col::<Option<i64>>(&r, 1)?)))
    .transpose()?;
    Ok(match state {
        Some((last, digest)) if now - last < interval_ms || digest.is_some() => {
            pending_add(tx, email, thread, post).await?;
            exec(
                tx,
                "INSERT INTO notify_sent (email, thread_id, post_id, sent_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT DO NOTHING",
                args![email.as_str(), thread.as_i64(), post.as_i64(), confab_store::NOTIFY_DIGESTED],
            )
            .await?;
            match digest {
                Some(due) => NotifyGate::Digest { due, schedule: false },
                None => {
                    let due = last + interval_ms;
                    exec(
                        tx,
                        "UPDATE notify_state SET digest_at = $3 WHERE email = $1 AND thread_id = $2",
                        args![email.as_str(), thread.as_i64(), due],
                    )
                    .await?;
                    NotifyGate::Digest { due, schedule: true }
                }
            }
        }
        _ => {
            exec(
                tx,
                "INSERT INTO notify_state (email, thread_id, last_sent_at, digest_at) VALUES ($1, $2, $3, NULL) \
                 ON CONFLICT (email, thread_id) DO UPDATE SET last_sent_at = $3, digest_at = NULL",
                args![email.as_str(), thread.as_i64(), now],
            )
            .await?;
            exec(
                tx,
                "INSERT INTO notify_sent (email, thread_id, post_id, sent_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT DO NOTHING",
                args![email.as_str(), thread.as_i64(), post.as_i64(), now],
            )
            .await?;
            NotifyGate::Send
        }
    })
}

pub(crate) async fn digest_waiting(c: &impl GenericClient, email: &Email, thread: Id) -> StoreResult<Vec<Id>> {
    let rs = query(
        c,
        "SELECT post_id FROM notify_pending WHERE email = $1 AND thread_id = $2 ORDER BY post_id",
        args![email.as_str(), thread.as_i64()],
    )
    .await?;
    rows::all(&rs, |r| id_col(r, 0))
}

pub(crate) async fn digest_sent(
    tx: &impl GenericClient,
    email: &Email,
    thread: Id,
    posts: &[Id],
    now: UnixMs,
    next_due: UnixMs,
) -> StoreResult<bool> {
    lock(tx, email, thread).await?;
    let ids: Vec<i64> = posts.iter().map(|p| p.as_i64()).collect();
    exec(
        tx,
        "DELETE FROM notify_pending WHERE email = $1 AND thread_id = $2 AND post_id = ANY($3)",
        args![email.as_str(), thread.as_i64(), ids],
    )
    .await?;
    let more: bool = col(
        &one(
            tx,
            "SELECT EXISTS (SELECT 1 FROM notify_pending WHERE email = $1 AND thread_id = $2)",
            args![email.as_str(), thread.as_i64()],
        )
        .await?,
        0,
    )?;
    exec(
        tx,
        "UPDATE notify_state SET digest_at = CASE WHEN $5 THEN $6::bigint END, \
         last_sent_at = CASE WHEN $3 THEN $4 ELSE last_sent_at END WHERE email = $1 AND thread_id = $2",
        args![email.as_str(), thread.as_i64(), !posts.is_empty(), now, more, next_due],
    )
    .await?;
    Ok(more)
}

pub(crate) async fn release(
    tx: &impl GenericClient,
    email: &Email,
    thread: Id,
    post: Id,
    sent_at: UnixMs,
) -> StoreResult<bool> {
    lock(tx, email, thread).await?;
    exec(
        tx,
        "DELETE FROM notify_sent WHERE email = $1 AND thread_id = $2 AND post_id = $3",
        args![email.as_str(), thread.as_i64(), post.as_i64()],
    )
    .await?;
    let forgot = exec(
        tx,
        "DELETE FROM notify_state WHERE email = $1 AND thread_id = $2 AND last_sent_at = $3 AND digest_at IS NULL \
         RETURNING 1",
        args![email.as_str(), thread.as_i64(), sent_at],
    )
    .await?
        == 1;
    if !forgot {
        pending_add(tx, email, thread, post).await?;
    }
    Ok(forgot)
}

/// The author of a post that asked to hear of replies.
pub(crate) async fn notify_author(c: &impl GenericClient, post: Id) -> StoreResult<Option<Id>> {
    opt(c, "SELECT author_id FROM posts WHERE id = $1 AND notify", args![post.as_i64()])
        .await?
        .map(|r| id_col(&r, 0))
        .transpose()
}
