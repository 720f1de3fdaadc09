//! Moderation data beyond state changes (forum shard): the queues and the search,
//! queue sizes and daily figures, readers' flags, highlighted and pinned posts, and the
//! hidden posts only their author sees.

use confab_core::id::{Id, IdGenerator};
use confab_core::jobs::EventKind;
use confab_core::model::{Flag, FlagReason, Moderator, Post, PostState, Thread, UnixMs};
use confab_core::secret::TokenHash;
use confab_store::{FlagOutcome, PostSearch, QueueSizes, StoreError, StoreResult};
use rusqlite::types::ToSql;
use rusqlite::{Connection, TransactionBehavior, params, params_from_iter};

use crate::rows::{self, POST_COLS, THREAD_COLS, sql_err};
use crate::{outbox, posts, spam};

/// The search: one statement, its WHERE built from the filters given (values are
/// always bound parameters, never spliced into the SQL).
pub(crate) fn search(c: &Connection, forum: Id, q: &PostSearch) -> StoreResult<Vec<Post>> {
    let mut conds: Vec<String> = vec!["forum_id = ?".into()];
    let mut args: Vec<Box<dyn ToSql>> = vec![Box::new(forum.as_i64())];
    if let Some(s) = q.state {
        conds.push("state = ?".into());
        args.push(Box::new(s.code()));
    }
    if q.flagged {
        conds.push("flags > 0".into());
    }
    if let Some(t) = q.text.as_ref().filter(|t| !t.is_empty()) {
        conds.push("instr(lower(message), ?) > 0".into());
        args.push(Box::new(t.to_lowercase()));
    }
    if let Some(authors) = &q.authors {
        if authors.is_empty() {
            return Ok(Vec::new());
        }
        conds.push(format!("author_id IN ({})", vec!["?"; authors.len()].join(", ")));
        args.extend(authors.iter().map(|a| Box::new(a.as_i64()) as Box<dyn ToSql>));
    }
    if let Some(e) = &q.email {
        conds.push("author_id IN (SELECT id FROM authors WHERE email = ?)".into());
        args.push(Box::new(e.to_lowercase()));
    }
    if let Some(n) = q.network {
        conds.push("net_hash = ?".into());
        args.push(Box::new(n.to_vec()));
    }
    if let Some(t) = q.thread {
        conds.push("thread_id = ?".into());
        args.push(Box::new(t.as_i64()));
    }
    if let Some(s) = q.since {
        conds.push("created_at >= ?".into());
        args.push(Box::new(s));
    }
    if let Some(u) = q.until {
        conds.push("created_at < ?".into());
        args.push(Box::new(u));
    }
    if let Some(b) = q.before {
        conds.push("id < ?".into());
        args.push(Box::new(b.as_i64()));
    }
    args.push(Box::new(i64::from(q.limit.max(1))));
    let sql = format!("SELECT {POST_COLS} FROM posts WHERE {} ORDER BY id DESC LIMIT ?", conds.join(" AND "));
    c.prepare_cached(&sql)
        .and_then(|mut s| s.query_map(params_from_iter(args.iter()), rows::post)?.collect())
        .map_err(sql_err)
}

pub(crate) fn sizes(c: &Connection, forum: Id) -> StoreResult<QueueSizes> {
    let count = |sql: &str| -> StoreResult<u64> {
        c.prepare_cached(sql)
            .and_then(|mut s| s.query_row([forum.as_i64()], |r| r.get::<_, i64>(0)))
            .map(|n| n.max(0) as u64)
            .map_err(sql_err)
    };
    Ok(QueueSizes {
        pending: count("SELECT COUNT(*) FROM posts WHERE forum_id = ?1 AND state = 0")?,
        flagged: count("SELECT COUNT(*) FROM posts WHERE forum_id = ?1 AND flags > 0 AND state IN (0, 1)")?,
        spam: count("SELECT COUNT(*) FROM posts WHERE forum_id = ?1 AND state = 2")?,
        shadow: count("SELECT COUNT(*) FROM posts WHERE forum_id = ?1 AND state = 4")?,
    })
}

pub(crate) fn per_day(c: &Connection, forum: Id, since: UnixMs) -> StoreResult<Vec<(UnixMs, u64, u64)>> {
    c.prepare_cached(
        "SELECT (created_at / 86400000) * 86400000 AS day, COUNT(*), COUNT(*) FILTER (WHERE state = 2) \
         FROM posts WHERE forum_id = ?1 AND created_at >= ?2 GROUP BY day ORDER BY day",
    )
    .and_then(|mut s| {
        s.query_map(params![forum.as_i64(), since], |r| {
            Ok((r.get(0)?, r.get::<_, i64>(1)?.max(0) as u64, r.get::<_, i64>(2)?.max(0) as u64))
        })?
        .collect()
    })
    .map_err(sql_err)
}

pub(crate) fn flag_add(
    c: &mut Connection,
    ids: &IdGenerator,
    post: Id,
    voter: TokenHash,
    flag: Flag,
    threshold: u32,
    now: UnixMs,
) -> StoreResult<FlagOutcome> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql_err)?;
    let before = posts::get(&tx, post)?;
    // Only what readers can see can be flagged.
    if before.state != PostState::Approved {
        return Err(StoreError::PostNotFound);
    }
    let added = tx
        .prepare_cached(
            "INSERT INTO flags (post_id, forum_id, voter, reason, note, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
             ON CONFLICT (post_id, voter) DO NOTHING",
        )
        .and_then(|mut s| {
            s.execute(params![
                post.as_i64(),
                before.forum_id.as_i64(),
                &voter.0[..],
                flag.reason.as_str(),
                flag.note,
                flag.at
            ])
        })
        .map_err(sql_err)?
        == 1;
    if !added {
        tx.commit().map_err(sql_err)?;
        return Ok(FlagOutcome { added, post: before, held: false });
    }
    let flags: i64 = tx
        .prepare_cached("UPDATE posts SET flags = flags + 1 WHERE id = ?1 RETURNING flags")
        .and_then(|mut s| s.query_row([post.as_i64()], |r| r.get(0)))
        .map_err(sql_err)?;
    let held = threshold > 0 && flags >= i64::from(threshold);
    let post = if held {
        let why = format!("flagged by {flags} readers");
        spam::set_state_in(&tx, ids, post, PostState::Pending, Moderator::Flags, Some(&why), now)?.after
    } else {
        Post { flags, ..before }
    };
    tx.commit().map_err(sql_err)?;
    Ok(FlagOutcome { added, post, held })
}

pub(crate) fn flags_of(c: &Connection, post: Id) -> StoreResult<Vec<Flag>> {
    c.prepare_cached("SELECT reason, note, at FROM flags WHERE post_id = ?1 ORDER BY at DESC")
        .and_then(|mut s| {
            s.query_map([post.as_i64()], |r| {
                let reason: String = r.get(0)?;
                Ok(Flag {
                    reason: FlagReason::parse(&reason).ok_or_else(|| {
                        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, "flag reason".into())
                    })?,
                    note: r.get(1)?,
                    at: r.get(2)?,
                })
            })?
            .collect()
        })
        .map_err(sql_err)
}

pub(crate) fn set_highlighted(
    c: &mut Connection,
    ids: &IdGenerator,
    post: Id,
    on: bool,
    now: UnixMs,
) -> StoreResult<Post> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql_err)?;
    let p = tx
        .prepare_cached(&format!("UPDATE posts SET highlighted = ?2 WHERE id = ?1 RETURNING {POST_COLS}"))
        .and_then(|mut s| s.query_row(params![post.as_i64(), on], rows::post))
        .map_err(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => StoreError::PostNotFound,
            e => sql_err(e),
        })?;
    outbox::emit_post(&tx, ids, EventKind::PostUpdated, &p, now)?;
    tx.commit().map_err(sql_err)?;
    Ok(p)
}

pub(crate) fn set_pinned(c: &mut Connection, thread: Id, post: Option<Id>) -> StoreResult<Thread> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql_err)?;
    if let Some(p) = post {
        let p = posts::get(&tx, p)?;
        if p.thread_id != thread {
            return Err(StoreError::ParentNotInThread);
        }
    }
    let t = tx
        .prepare_cached(&format!("UPDATE threads SET pinned_post_id = ?2 WHERE id = ?1 RETURNING {THREAD_COLS}"))
        .and_then(|mut s| s.query_row(params![thread.as_i64(), post.map(Id::as_i64)], rows::thread))
        .map_err(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => StoreError::ThreadNotFound,
            e => sql_err(e),
        })?;
    tx.commit().map_err(sql_err)?;
    Ok(t)
}

pub(crate) fn hidden_among(c: &Connection, thread: Id, ids: &[Id]) -> StoreResult<Vec<(Post, Option<TokenHash>)>> {
    let marks = vec!["?"; ids.len()].join(", ");
    let mut stmt = c
        .prepare(&format!(
            "SELECT {POST_COLS}, edit_token FROM posts WHERE thread_id = ? AND state IN (0, 4) AND id IN ({marks}) \
             ORDER BY id"
        ))
        .map_err(sql_err)?;
    let args = std::iter::once(thread.as_i64()).chain(ids.iter().map(|i| i.as_i64()));
    stmt.query_map(params_from_iter(args), |r| {
        let token: Option<Vec<u8>> = r.get(rows::POST_NCOLS)?;
        Ok((rows::post(r)?, token.and_then(|b| TokenHash::from_slice(&b))))
    })
    .and_then(Iterator::collect)
    .map_err(sql_err)
}

pub(crate) fn own_hidden(
    c: &Connection,
    thread: Id,
    account: Option<Id>,
    sso: Option<(Id, String)>,
) -> StoreResult<Vec<Post>> {
    let (sso_forum, sso_id) = sso.map_or((None, None), |(f, i)| (Some(f.as_i64()), Some(i)));
    c.prepare_cached(&format!(
        "SELECT {POST_COLS} FROM posts WHERE thread_id = ?1 AND state IN (0, 4) AND author_id IN ( \
           SELECT id FROM authors WHERE (kind = 'account' AND id = ?2) \
           OR (kind = 'sso' AND sso_forum = ?3 AND sso_id = ?4)) ORDER BY id"
    ))
    .and_then(|mut s| {
        s.query_map(params![thread.as_i64(), account.map(Id::as_i64), sso_forum, sso_id], rows::post)?.collect()
    })
    .map_err(sql_err)
}
