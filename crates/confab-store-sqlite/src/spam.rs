//! The spam filter's data (forum shard): state changes with their counters and events,
//! a post's context (duplicates, the author's history), a forum's learnt counts, and
//! verdicts.

use confab_core::id::{Id, IdGenerator};
use confab_core::model::{ModerationEntry, Moderator, Post, PostState, UnixMs};
use confab_core::spam::{Action, Counts, Model};
use confab_store::shape::ancestors;
use confab_store::{SpamContext, SpamRecord, StateChange, StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params, params_from_iter};

use crate::rows::{self, POST_COLS, sql_err};
use crate::{outbox, posts, threads};

#[allow(clippy::too_many_arguments)]
pub(crate) fn set_state(
    c: &mut Connection,
    ids: &IdGenerator,
    id: Id,
    state: PostState,
    by: Moderator,
    reason: Option<&str>,
    now: UnixMs,
) -> StoreResult<StateChange> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql_err)?;
    let change = set_state_in(&tx, ids, id, state, by, reason, now)?;
    tx.commit().map_err(sql_err)?;
    Ok(change)
}

/// The filter's verdict, applied only to a post nobody has decided on since it was
/// queued (see `Store::post_screened`). The write transaction is SQLite's one writer, so
/// the check and the move see the same post.
pub(crate) fn screened(
    c: &mut Connection,
    ids: &IdGenerator,
    id: Id,
    queued: PostState,
    state: PostState,
    reason: Option<&str>,
    now: UnixMs,
) -> StoreResult<Option<StateChange>> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql_err)?;
    let decided: bool = tx
        .prepare_cached(&format!(
            "SELECT p.state != ?2 OR EXISTS (SELECT 1 FROM moderation_log WHERE post_id = ?1 AND {}) \
             FROM posts p WHERE p.id = ?1",
            confab_store::shape::DECIDED_BY_SOMEONE
        ))
        .and_then(|mut s| s.query_row(params![id.as_i64(), queued.code()], |r| r.get(0)))
        .optional()
        .map_err(sql_err)?
        .ok_or(StoreError::PostNotFound)?;
    if decided {
        return Ok(None);
    }
    let change = set_state_in(&tx, ids, id, state, Moderator::Filter, reason, now)?;
    tx.commit().map_err(sql_err)?;
    Ok(Some(change))
}

/// Records one state change in the moderation log (inside the caller's transaction).
#[allow(clippy::too_many_arguments)]
pub(crate) fn log(
    tx: &Connection,
    ids: &IdGenerator,
    post: &Post,
    to: PostState,
    by: Moderator,
    reason: Option<&str>,
    now: UnixMs,
) -> StoreResult<()> {
    tx.prepare_cached(
        "INSERT INTO moderation_log (id, forum_id, post_id, actor_kind, actor_id, from_state, to_state, reason, at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )
    .and_then(|mut s| {
        s.execute(params![
            ids.next(post.forum_id.shard()).as_i64(),
            post.forum_id.as_i64(),
            post.id.as_i64(),
            by.kind(),
            by.account().map(Id::as_i64),
            post.state.code(),
            to.code(),
            reason,
            now
        ])
    })
    .map(drop)
    .map_err(sql_err)
}

/// A state change inside the caller's transaction: counters, event, log entry.
#[allow(clippy::too_many_arguments)]
pub(crate) fn set_state_in(
    tx: &Connection,
    ids: &IdGenerator,
    id: Id,
    state: PostState,
    by: Moderator,
    reason: Option<&str>,
    now: UnixMs,
) -> StoreResult<StateChange> {
    let before = posts::get(tx, id)?;
    if before.state == state {
        let thread = threads::get(tx, before.thread_id)?;
        return Ok(StateChange { after: before.clone(), before, thread });
    }
    log(tx, ids, &before, state, by, reason, now)?;
    let after = tx
        .prepare_cached(&format!("UPDATE posts SET state = ?2 WHERE id = ?1 RETURNING {POST_COLS}"))
        .and_then(|mut s| s.query_row(params![id.as_i64(), state.code()], rows::post))
        .map_err(sql_err)?;
    // Only approved posts count; a change in or out of approved moves the counters.
    let delta = confab_store::shape::approved_delta(before.state, state);
    let thread = if delta != 0 {
        posts::add_descendants(tx, &ancestors(&before.path), delta)?;
        threads::add_posts(tx, before.thread_id, delta)?
    } else {
        threads::get(tx, before.thread_id)?
    };
    let event = confab_store::shape::state_event(state);
    // A moderator's approval answers the readers' flags: they start again from zero.
    if state == PostState::Approved && after.flags > 0 && by.is_person_or_key() {
        tx.prepare_cached("DELETE FROM flags WHERE post_id = ?1")
            .and_then(|mut s| s.execute([id.as_i64()]))
            .and_then(|_| tx.prepare_cached("UPDATE posts SET flags = 0 WHERE id = ?1"))
            .and_then(|mut s| s.execute([id.as_i64()]))
            .map_err(sql_err)?;
    }
    let after =
        Post { flags: if state == PostState::Approved && by.is_person_or_key() { 0 } else { after.flags }, ..after };
    outbox::emit_post(tx, ids, event, &after, now)?;
    Ok(StateChange { before, after, thread })
}

pub(crate) fn context(
    c: &Connection,
    post: &Post,
    now: UnixMs,
    duplicate_window_ms: i64,
    recent_window_ms: i64,
) -> StoreResult<SpamContext> {
    let duplicates: u32 = c
        .prepare_cached(
            "SELECT COUNT(*) FROM posts WHERE forum_id = ?1 AND text_hash = ?2 AND created_at >= ?3 AND id != ?4",
        )
        .and_then(|mut s| {
            s.query_row(
                params![
                    post.forum_id.as_i64(),
                    &posts::text_hash(post.message.as_str())[..],
                    now - duplicate_window_ms,
                    post.id.as_i64()
                ],
                |r| r.get(0),
            )
        })
        .map_err(sql_err)?;
    let (author_posts, author_recent): (u32, u32) = c
        .prepare_cached(
            "SELECT COUNT(*) FILTER (WHERE id < ?3), COUNT(*) FILTER (WHERE created_at >= ?4) \
             FROM posts WHERE author_id = ?1 AND forum_id = ?2",
        )
        .and_then(|mut s| {
            s.query_row(
                params![post.author_id.as_i64(), post.forum_id.as_i64(), post.id.as_i64(), now - recent_window_ms],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
        })
        .map_err(sql_err)?;
    Ok(SpamContext { duplicates, author_posts, author_recent })
}

fn counts(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Counts> {
    Ok(Counts { ham: r.get::<_, i64>(at)?.max(0) as u64, spam: r.get::<_, i64>(at + 1)?.max(0) as u64 })
}

pub(crate) fn model(c: &Connection, forum: Id, tokens: &[String]) -> StoreResult<Model> {
    let docs: Counts = c
        .prepare_cached("SELECT ham, spam FROM spam_docs WHERE forum_id = ?1")
        .and_then(|mut s| s.query_row([forum.as_i64()], |r| counts(r, 0)).optional())
        .map_err(sql_err)?
        .unwrap_or_default();
    let mut model = Model { docs, ..Model::default() };
    if docs == Counts::default() || tokens.is_empty() {
        return Ok(model);
    }
    // One statement for the text's tokens (at most 400, under SQLite's variable limit).
    let marks = vec!["?"; tokens.len()].join(", ");
    let mut stmt = c
        .prepare(&format!("SELECT token, ham, spam FROM spam_tokens WHERE forum_id = ? AND token IN ({marks})"))
        .map_err(sql_err)?;
    let args = std::iter::once(rusqlite::types::Value::Integer(forum.as_i64()))
        .chain(tokens.iter().map(|t| rusqlite::types::Value::Text(t.clone())));
    let rows = stmt
        .query_map(params_from_iter(args), |r| Ok((r.get::<_, String>(0)?, counts(r, 1)?)))
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(sql_err)?;
    model.tokens.extend(rows);
    Ok(model)
}

pub(crate) fn learn(c: &mut Connection, forum: Id, tokens: &[String], spam: bool) -> StoreResult<()> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql_err)?;
    let (h, s) = if spam { (0, 1) } else { (1, 0) };
    tx.execute(
        "INSERT INTO spam_docs (forum_id, ham, spam) VALUES (?1, ?2, ?3) \
         ON CONFLICT (forum_id) DO UPDATE SET ham = ham + ?2, spam = spam + ?3",
        params![forum.as_i64(), h, s],
    )
    .map_err(sql_err)?;
    {
        let mut stmt = tx
            .prepare_cached(
                "INSERT INTO spam_tokens (forum_id, token, ham, spam) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (forum_id, token) DO UPDATE SET ham = ham + ?3, spam = spam + ?4",
            )
            .map_err(sql_err)?;
        for t in tokens {
            stmt.execute(params![forum.as_i64(), t, h, s]).map_err(sql_err)?;
        }
    }
    tx.commit().map_err(sql_err)
}

pub(crate) fn verdict_set(c: &Connection, post: Id, r: SpamRecord) -> StoreResult<()> {
    let reasons = serde_json::to_string(&r.reasons).map_err(|e| StoreError::Internal(e.to_string()))?;
    c.execute(
        "INSERT INTO spam_verdicts (post_id, action, score, reasons, at) VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT (post_id) DO UPDATE SET action = ?2, score = ?3, reasons = ?4, at = ?5",
        params![post.as_i64(), r.action.as_str(), r.score, reasons, r.at],
    )
    .map(drop)
    .map_err(sql_err)
}

pub(crate) fn verdict(c: &Connection, post: Id) -> StoreResult<Option<SpamRecord>> {
    let row: Option<(String, f64, String, i64)> = c
        .prepare_cached("SELECT action, score, reasons, at FROM spam_verdicts WHERE post_id = ?1")
        .and_then(|mut s| s.query_row([post.as_i64()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))).optional())
        .map_err(sql_err)?;
    row.map(|(a, score, reasons, at)| {
        let action = Action::parse(&a).ok_or_else(|| StoreError::Internal("bad verdict action".into()))?;
        let reasons = serde_json::from_str(&reasons).map_err(|e| StoreError::Internal(e.to_string()))?;
        Ok(SpamRecord { action, score, reasons, at })
    })
    .transpose()
}

pub(crate) fn verdicts(c: &Connection, posts: &[Id]) -> StoreResult<Vec<(Id, SpamRecord)>> {
    if posts.is_empty() {
        return Ok(Vec::new());
    }
    let marks = vec!["?"; posts.len()].join(", ");
    let mut stmt = c
        .prepare(&format!("SELECT post_id, action, score, reasons, at FROM spam_verdicts WHERE post_id IN ({marks})"))
        .map_err(sql_err)?;
    let rows: Vec<(i64, String, f64, String, i64)> = stmt
        .query_map(rusqlite::params_from_iter(posts.iter().map(|p| p.as_i64())), |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .and_then(Iterator::collect)
        .map_err(sql_err)?;
    rows.into_iter()
        .map(|(id, a, score, reasons, at)| {
            let id = Id::from_i64(id).ok_or_else(|| StoreError::Internal("bad verdict post id".into()))?;
            let action = Action::parse(&a).ok_or_else(|| StoreError::Internal("bad verdict action".into()))?;
            let reasons = serde_json::from_str(&reasons).map_err(|e| StoreError::Internal(e.to_string()))?;
            Ok((id, SpamRecord { action, score, reasons, at }))
        })
        .collect()
}

fn entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<ModerationEntry> {
    let bad = |i: usize, what: &str| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Integer, what.to_owned().into())
    };
    let state =
        |i: usize| -> rusqlite::Result<PostState> { PostState::from_code(r.get(i)?).ok_or_else(|| bad(i, "state")) };
    let kind: String = r.get(3)?;
    Ok(ModerationEntry {
        id: rows::id_at(r, 0)?,
        forum_id: rows::id_at(r, 1)?,
        post_id: rows::id_at(r, 2)?,
        by: Moderator::from_parts(&kind, r.get::<_, Option<i64>>(4)?.and_then(Id::from_i64))
            .ok_or_else(|| bad(3, "actor"))?,
        from: state(5)?,
        to: state(6)?,
        reason: r.get(7)?,
        at: r.get(8)?,
    })
}

pub(crate) fn history(c: &Connection, post: Id) -> StoreResult<Vec<ModerationEntry>> {
    c.prepare_cached(
        "SELECT id, forum_id, post_id, actor_kind, actor_id, from_state, to_state, reason, at \
         FROM moderation_log WHERE post_id = ?1 ORDER BY id",
    )
    .and_then(|mut s| s.query_map([post.as_i64()], entry)?.collect())
    .map_err(sql_err)
}
