//! Notification data (forum shard): thread subscriptions, unsubscribe mutes, who is
//! told about replies, and the per-recipient, per-thread throttle with its digest.

use confab_core::id::Id;
use confab_core::input::Email;
use confab_core::model::{Thread, UnixMs};
use confab_store::{NotifyGate, StoreResult};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::rows::{id_at, sql_err};

pub(crate) fn subscription_add(c: &mut Connection, thread: &Thread, email: &Email, now: UnixMs) -> StoreResult<bool> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql_err)?;
    let added = subscribe_in(&tx, thread, email, now)?;
    tx.commit().map_err(sql_err)?;
    Ok(added)
}

/// Subscribes `email` to `thread` in the caller's transaction (a mute of the thread
/// goes); `true` when it was not subscribed yet.
pub(crate) fn subscribe_in(tx: &Connection, thread: &Thread, email: &Email, now: UnixMs) -> StoreResult<bool> {
    tx.execute("DELETE FROM mutes WHERE email = ?1 AND thread_id = ?2", params![email.as_str(), thread.id.as_i64()])
        .map_err(sql_err)?;
    let n = tx
        .execute(
            "INSERT INTO subscriptions (thread_id, email, forum_id, created_at) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT DO NOTHING",
            params![thread.id.as_i64(), email.as_str(), thread.forum_id.as_i64(), now],
        )
        .map_err(sql_err)?;
    Ok(n == 1)
}

pub(crate) fn subscription_remove(c: &Connection, thread: Id, email: &Email) -> StoreResult<bool> {
    c.execute("DELETE FROM subscriptions WHERE thread_id = ?1 AND email = ?2", params![thread.as_i64(), email.as_str()])
        .map(|n| n == 1)
        .map_err(sql_err)
}

pub(crate) fn subscription_exists(c: &Connection, thread: Id, email: &Email) -> StoreResult<bool> {
    c.prepare_cached("SELECT 1 FROM subscriptions WHERE thread_id = ?1 AND email = ?2")
        .and_then(|mut s| s.exists(params![thread.as_i64(), email.as_str()]))
        .map_err(sql_err)
}

pub(crate) fn subscribers(c: &Connection, thread: Id) -> StoreResult<Vec<Email>> {
    c.prepare_cached(
        "SELECT s.email FROM subscriptions s WHERE s.thread_id = ?1 \
         AND NOT EXISTS (SELECT 1 FROM mutes m WHERE m.email = s.email AND m.thread_id = 0) ORDER BY s.email",
    )
    .and_then(|mut s| s.query_map([thread.as_i64()], |r| Ok(Email::from_trusted(r.get(0)?)))?.collect())
    .map_err(sql_err)
}

pub(crate) fn reply_recipient(c: &Connection, post: Id) -> StoreResult<Option<Email>> {
    let found: Option<Option<String>> = c
        .prepare_cached(
            "SELECT CASE WHEN a.kind = 'account' THEN \
                        (SELECT acc.email FROM accounts acc WHERE acc.id = a.id AND acc.email_verified_at IS NOT NULL) \
                    ELSE a.email END \
             FROM posts p JOIN authors a ON a.id = p.author_id WHERE p.id = ?1 AND p.notify = 1",
        )
        .and_then(|mut s| s.query_row([post.as_i64()], |r| r.get(0)).optional())
        .map_err(sql_err)?;
    Ok(found.flatten().map(Email::from_trusted))
}

pub(crate) fn moderator_emails(c: &Connection, forum: Id) -> StoreResult<Vec<Email>> {
    c.prepare_cached(
        "SELECT acc.email FROM forum_roles r JOIN accounts acc ON acc.id = r.account_id \
         WHERE r.forum_id = ?1 AND r.role IN ('owner', 'moderator') AND acc.email_verified_at IS NOT NULL \
         ORDER BY acc.email",
    )
    .and_then(|mut s| s.query_map([forum.as_i64()], |r| Ok(Email::from_trusted(r.get(0)?)))?.collect())
    .map_err(sql_err)
}

pub(crate) fn mute(c: &mut Connection, email: &Email, thread: Option<Id>, now: UnixMs) -> StoreResult<()> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql_err)?;
    let thread_key = thread.map_or(0, Id::as_i64);
    tx.execute(
        "INSERT INTO mutes (email, thread_id, created_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
        params![email.as_str(), thread_key, now],
    )
    .map_err(sql_err)?;
    match thread {
        Some(t) => tx.execute(
            "DELETE FROM subscriptions WHERE email = ?1 AND thread_id = ?2",
            params![email.as_str(), t.as_i64()],
        ),
        None => tx.execute("DELETE FROM subscriptions WHERE email = ?1", [email.as_str()]),
    }
    .map_err(sql_err)?;
    // Nothing waits for a digest that will not be sent.
    tx.execute(
        "DELETE FROM notify_pending WHERE email = ?1 AND (?2 = 0 OR thread_id = ?2)",
        params![email.as_str(), thread_key],
    )
    .map_err(sql_err)?;
    tx.commit().map_err(sql_err)
}

pub(crate) fn is_muted(c: &Connection, email: &Email, thread: Id) -> StoreResult<bool> {
    c.prepare_cached("SELECT 1 FROM mutes WHERE email = ?1 AND thread_id IN (0, ?2)")
        .and_then(|mut s| s.exists(params![email.as_str(), thread.as_i64()]))
        .map_err(sql_err)
}

pub(crate) fn gate(
    c: &mut Connection,
    email: &Email,
    thread: Id,
    post: Id,
    now: UnixMs,
    interval_ms: i64,
) -> StoreResult<NotifyGate> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql_err)?;
    // Let through before (the job is being retried): the same mail again.
    let sent: Option<i64> = tx
        .prepare_cached("SELECT sent_at FROM notify_sent WHERE email = ?1 AND thread_id = ?2 AND post_id = ?3")
        .and_then(|mut s| s.query_row(params![email.as_str(), thread.as_i64(), post.as_i64()], |r| r.get(0)).optional())
        .map_err(sql_err)?;
    if sent == Some(confab_store::NOTIFY_DIGESTED) {
        return Ok(NotifyGate::Digested);
    }
    if sent.is_some() {
        // This attempt's time is the one a failed send gives back (`release`).
        tx.execute(
            "UPDATE notify_state SET last_sent_at = ?3 WHERE email = ?1 AND thread_id = ?2 AND digest_at IS NULL",
            params![email.as_str(), thread.as_i64(), now],
        )
        .map_err(sql_err)?;
        tx.commit().map_err(sql_err)?;
        return Ok(NotifyGate::SendAgain);
    }
    let state: Option<(i64, Option<i64>)> = tx
        .prepare_cached("SELECT last_sent_at, digest_at FROM notify_state WHERE email = ?1 AND thread_id = ?2")
        .and_then(|mut s| {
            s.query_row(params![email.as_str(), thread.as_i64()], |r| Ok((r.get(0)?, r.get(1)?))).optional()
        })
        .map_err(sql_err)?;
    let gate = match state {
        Some((last, digest)) if now - last < interval_ms || digest.is_some() => {
            tx.execute(
                "INSERT INTO notify_pending (email, thread_id, post_id) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                params![email.as_str(), thread.as_i64(), post.as_i64()],
            )
            .map_err(sql_err)?;
            tx.execute(
                "INSERT INTO notify_sent (email, thread_id, post_id, sent_at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT DO NOTHING",
                params![email.as_str(), thread.as_i64(), post.as_i64(), confab_store::NOTIFY_DIGESTED],
            )
            .map_err(sql_err)?;
            match digest {
                Some(due) => NotifyGate::Digest { due, schedule: false },
                None => {
                    let due = last + interval_ms;
                    tx.execute(
                        "UPDATE notify_state SET digest_at = ?3 WHERE email = ?1 AND thread_id = ?2",
                        params![email.as_str(), thread.as_i64(), due],
                    )
                    .map_err(sql_err)?;
                    NotifyGate::Digest { due, schedule: true }
                }
            }
        }
        _ => {
            tx.execute(
                "INSERT INTO notify_state (email, thread_id, last_sent_at, digest_at) VALUES (?1, ?2, ?3, NULL) \
                 ON CONFLICT (email, thread_id) DO UPDATE SET last_sent_at = ?3, digest_at = NULL",
                params![email.as_str(), thread.as_i64(), now],
            )
            .map_err(sql_err)?;
            tx.execute(
                "INSERT INTO notify_sent (email, thread_id, post_id, sent_at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT DO NOTHING",
                params![email.as_str(), thread.as_i64(), post.as_i64(), now],
            )
            .map_err(sql_err)?;
            NotifyGate::Send
        }
    };
    tx.commit().map_err(sql_err)?;
    Ok(gate)
}

pub(crate) fn digest_waiting(c: &Connection, email: &Email, thread: Id) -> StoreResult<Vec<Id>> {
    c.prepare_cached("SELECT post_id FROM notify_pending WHERE email = ?1 AND thread_id = ?2 ORDER BY post_id")
        .and_then(|mut s| s.query_map(params![email.as_str(), thread.as_i64()], |r| id_at(r, 0))?.collect())
        .map_err(sql_err)
}

pub(crate) fn digest_sent(
    c: &mut Connection,
    email: &Email,
    thread: Id,
    posts: &[Id],
    now: UnixMs,
    next_due: UnixMs,
) -> StoreResult<bool> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql_err)?;
    {
        let mut del = tx
            .prepare_cached("DELETE FROM notify_pending WHERE email = ?1 AND thread_id = ?2 AND post_id = ?3")
            .map_err(sql_err)?;
        for p in posts {
            del.execute(params![email.as_str(), thread.as_i64(), p.as_i64()]).map_err(sql_err)?;
        }
    }
    let more: bool = tx
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM notify_pending WHERE email = ?1 AND thread_id = ?2)",
            params![email.as_str(), thread.as_i64()],
            |r| r.get(0),
        )
        .map_err(sql_err)?;
    tx.execute(
        "UPDATE notify_state SET digest_at = CASE WHEN ?5 THEN ?6 END, \
         last_sent_at = CASE WHEN ?3 THEN ?4 ELSE last_sent_at END WHERE email = ?1 AND thread_id = ?2",
        params![email.as_str(), thread.as_i64(), !posts.is_empty(), now, more, next_due],
    )
    .map_err(sql_err)?;
    tx.commit().map_err(sql_err)?;
    Ok(more)
}

pub(crate) fn release(c: &mut Connection, email: &Email, thread: Id, post: Id, sent_at: UnixMs) -> StoreResult<bool> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql_err)?;
    tx.execute(
        "DELETE FROM notify_sent WHERE email = ?1 AND thread_id = ?2 AND post_id = ?3",
        params![email.as_str(), thread.as_i64(), post.as_i64()],
    )
    .map_err(sql_err)?;
    let forgot = tx
        .execute(
            "DELETE FROM notify_state WHERE email = ?1 AND thread_id = ?2 AND last_sent_at = ?3 AND digest_at IS NULL",
            params![email.as_str(), thread.as_i64(), sent_at],
        )
        .map_err(sql_err)?
        == 1;
    if !forgot {
        tx.execute(
            "INSERT INTO notify_pending (email, thread_id, post_id) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
            params![email.as_str(), thread.as_i64(), post.as_i64()],
        )
        .map_err(sql_err)?;
    }
    tx.commit().map_err(sql_err)?;
    Ok(forgot)
}
