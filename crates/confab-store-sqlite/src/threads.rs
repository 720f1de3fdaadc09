//! Threads (forum shard).

use confab_core::id::{Id, IdGenerator};
use confab_core::model::{Forum, Thread, ThreadKey, ThreadSpec, UnixMs};
use confab_store::{StoreError, StoreResult, ThreadCount};
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

use crate::rows::{self, THREAD_COLS, is_unique_violation, sql_err};

pub(crate) fn get(c: &Connection, id: Id) -> StoreResult<Thread> {
    c.prepare_cached(&format!("SELECT {THREAD_COLS} FROM threads WHERE id = ?1"))
        .and_then(|mut s| s.query_row([id.as_i64()], rows::thread).optional())
        .map_err(sql_err)?
        .ok_or(StoreError::ThreadNotFound)
}

pub(crate) fn find(c: &Connection, forum_id: Id, key: &ThreadKey) -> StoreResult<Option<Thread>> {
    let (sql, value) = match key {
        ThreadKey::Identifier(i) => {
            (format!("SELECT {THREAD_COLS} FROM threads WHERE forum_id = ?1 AND identifier = ?2"), i.as_str())
        }
        ThreadKey::Url(u) => (
            format!("SELECT {THREAD_COLS} FROM threads WHERE forum_id = ?1 AND url = ?2 ORDER BY id LIMIT 1"),
            u.as_str(),
        ),
    };
    c.prepare_cached(&sql)
        .and_then(|mut s| s.query_row(params![forum_id.as_i64(), value], rows::thread).optional())
        .map_err(sql_err)
}

pub(crate) fn create(
    c: &Connection,
    ids: &IdGenerator,
    forum: &Forum,
    spec: &ThreadSpec,
    now: UnixMs,
) -> StoreResult<Thread> {
    let thread = Thread {
        id: ids.next(forum.shard),
        forum_id: forum.id,
        identifier: spec.identifier.clone(),
        url: spec.url.clone(),
        title: spec.title.clone(),
        closed: false,
        posts: 0,
        pinned: None,
        created_at: now,
        version: 0,
    };
    let result = c
        .prepare_cached(
            "INSERT INTO threads (id, forum_id, identifier, url, title, closed, posts, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, 0, 0, ?6)",
        )
        .and_then(|mut s| {
            s.execute(params![
                thread.id.as_i64(),
                forum.id.as_i64(),
                thread.identifier.as_str(),
                thread.url.as_ref().map(|u| u.as_str()),
                thread.title.as_ref().map(|t| t.as_str()),
                now
            ])
        });
    match result {
        Ok(_) => Ok(thread),
        Err(e) if is_unique_violation(&e, "threads.forum_id, threads.identifier") => Err(StoreError::ThreadExists),
        Err(e) => Err(sql_err(e)),
    }
}

pub(crate) fn set_closed(c: &Connection, id: Id, closed: bool) -> StoreResult<Thread> {
    c.prepare_cached(&format!("UPDATE threads SET closed = ?2 WHERE id = ?1 RETURNING {THREAD_COLS}"))
        .and_then(|mut s| s.query_row(params![id.as_i64(), closed], rows::thread).optional())
        .map_err(sql_err)?
        .ok_or(StoreError::ThreadNotFound)
}

pub(crate) fn correct(c: &Connection, id: Id, url: Option<&str>, title: Option<&str>) -> StoreResult<Thread> {
    c.prepare_cached(&format!(
        "UPDATE threads SET url = coalesce(?2, url), title = coalesce(?3, title) WHERE id = ?1 RETURNING {THREAD_COLS}"
    ))
    .and_then(|mut s| s.query_row(params![id.as_i64(), url, title], rows::thread).optional())
    .map_err(sql_err)?
    .ok_or(StoreError::ThreadNotFound)
}

/// Moves a thread's approved-post counter by `delta` and returns the thread.
pub(crate) fn add_posts(c: &Connection, id: Id, delta: i64) -> StoreResult<Thread> {
    c.prepare_cached(&format!("UPDATE threads SET posts = posts + ?2 WHERE id = ?1 RETURNING {THREAD_COLS}"))
        .and_then(|mut s| s.query_row(params![id.as_i64(), delta], rows::thread))
        .map_err(sql_err)
}

/// One statement per kind of key (identifiers, URLs) present.
pub(crate) fn counts(c: &Connection, forum_id: Id, keys: &[ThreadKey]) -> StoreResult<Vec<ThreadCount>> {
    let identifiers: Vec<&str> =
        keys.iter().filter_map(|k| if let ThreadKey::Identifier(i) = k { Some(i.as_str()) } else { None }).collect();
    let urls: Vec<&str> =
        keys.iter().filter_map(|k| if let ThreadKey::Url(u) = k { Some(u.as_str()) } else { None }).collect();
    let mut out = Vec::new();
    for (column, values) in [("identifier", identifiers), ("url", urls)] {
        if values.is_empty() {
            continue;
        }
        let marks = vec!["?"; values.len()].join(", ");
        let sql = format!(
            "SELECT {THREAD_COLS} FROM threads WHERE forum_id = {} AND {column} IN ({marks}) ORDER BY id",
            forum_id.as_i64()
        );
        let mut stmt = c.prepare(&sql).map_err(sql_err)?;
        let rows = stmt.query_map(params_from_iter(values.iter()), rows::thread).map_err(sql_err)?;
        for t in rows {
            let t = t.map_err(sql_err)?;
            out.push(ThreadCount::from(t));
        }
    }
    Ok(out)
}

/// Creates a thread on its own (not by a first post), with its event, in one transaction.
pub(crate) fn create_with_event(
    c: &mut Connection,
    ids: &IdGenerator,
    forum: &Forum,
    spec: &ThreadSpec,
    now: UnixMs,
) -> StoreResult<Thread> {
    let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(sql_err)?;
    let thread = create(&tx, ids, forum, spec, now)?;
    crate::outbox::emit_thread(&tx, ids, forum.id, confab_core::jobs::EventKind::ThreadCreated, thread.id, now)?;
    tx.commit().map_err(sql_err)?;
    Ok(thread)
}
