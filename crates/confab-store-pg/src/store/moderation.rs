//! Moderation on a forum shard: state changes with their log and events, the queues
//! and the search, sizes and daily figures, flags, marks, bans, the spam filter's data.
//! Anything about authors (their addresses, SSO ids) was resolved to author ids on the
//! global database by the caller.

use confab_core::id::{Id, IdGenerator};
use confab_core::jobs::EventKind;
use confab_core::keys::text_hash;
use confab_core::model::{
    Ban, BanProbe, BanTarget, Flag, FlagReason, ModerationEntry, Moderator, NewBan, Post, PostState, Thread, UnixMs,
};
use confab_core::secret::TokenHash;
use confab_core::spam::{Action, Counts, Model};
use confab_store::{
    FlagOutcome, PostSearch, QueueSizes, SpamContext, SpamRecord, StateChange, StoreError, StoreResult,
};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{GenericClient, Row};

use super::rows::{self, POST_COLS, THREAD_COLS};
use super::shard;
use crate::sql::{args, col, exec, id_col, one, opt, rows as query};

/// A state change inside the caller's transaction: counters, event, log entry.
pub(crate) async fn set_state_in(
    tx: &impl GenericClient,
    ids: &IdGenerator,
    id: Id,
    state: PostState,
    by: Moderator,
    reason: Option<&str>,
    now: UnixMs,
) -> StoreResult<StateChange> {
    let before = shard::post_locked(tx, id).await?;
    if before.state == state {
        let thread = shard::thread_get(tx, before.thread_id).await?;
        return Ok(StateChange { after: before.clone(), before, thread });
    }
    shard::log(tx, ids, &before, state, by, reason, now).await?;
    let clear_flags = state == PostState::Approved && before.flags > 0 && by.is_person_or_key();
    let after = rows::post(
        &one(
            tx,
            &format!(
                "UPDATE posts SET state = $2, flags = CASE WHEN $3 THEN 0 ELSE flags END WHERE id = $1 RETURNING {POST_COLS}"
            ),
            args![id.as_i64(), state.code() as i16, clear_flags],
        )
        .await?,
    )?;
    // A moderator's approval answers the readers' flags: they start again from zero.
    if clear_flags {
        exec(tx, "DELETE FROM flags WHERE post_id = $1", args![id.as_i64()]).await?;
    }
    let delta = confab_store::shape::approved_delta(before.state, state);
    let thread = if delta != 0 {
        shard::add_descendants(tx, &confab_store::shape::ancestors(&before.path), delta).await?;
        shard::thread_add_posts(tx, before.thread_id, delta).await?
    } else {
        shard::thread_get(tx, before.thread_id).await?
    };
    let event = confab_store::shape::state_event(state);
    shard::emit_post(tx, ids, event, &after, now).await?;
    Ok(StateChange { before, after, thread })
}

/// The filter's verdict, applied only to a post nobody has decided on since it was
/// queued (see `Store::post_screened`): the post's row is locked first, so a moderator's
/// change either committed before (and is seen here) or waits for this one.
pub(crate) async fn screened(
    tx: &impl GenericClient,
    ids: &IdGenerator,
    id: Id,
    queued: PostState,
    state: PostState,
    reason: Option<&str>,
    now: UnixMs,
) -> StoreResult<Option<StateChange>> {
    let post = shard::post_locked(tx, id).await?;
    let decided_sql = format!(
        "SELECT EXISTS (SELECT 1 FROM moderation_log WHERE post_id = $1 AND {})",
        confab_store::shape::DECIDED_BY_SOMEONE
    );
    let decided: bool = col(&one(tx, &decided_sql, args![id.as_i64()]).await?, 0)?;
    if post.state != queued || decided {
        return Ok(None);
    }
    set_state_in(tx, ids, id, state, Moderator::Filter, reason, now).await.map(Some)
}

/// The search: one statement, its WHERE built from the filters given (values always
/// bound, never spliced). `email_authors`: the author ids the address resolved to.
pub(crate) async fn search(
    c: &impl GenericClient,
    forum: Id,
    q: &PostSearch,
    email_authors: Option<Vec<i64>>,
) -> StoreResult<Vec<Post>> {
    let mut conds: Vec<String> = vec!["forum_id = $1".into()];
    let mut vals: Vec<(Box<dyn ToSql + Sync + Send>, Type)> = vec![(Box::new(forum.as_i64()), Type::INT8)];
    let mut push = |cond: &str, v: Box<dyn ToSql + Sync + Send>, t: Type, conds: &mut Vec<String>| {
        vals.push((v, t));
        conds.push(cond.replace('?', &format!("${}", vals.len())));
    };
    if let Some(s) = q.state {
        push("state = ?", Box::new(s.code() as i16), Type::INT2, &mut conds);
    }
    if q.flagged {
        conds.push("flags > 0".into());
    }
    if let Some(t) = q.text.as_ref().filter(|t| !t.is_empty()) {
        push("strpos(lower(message), ?) > 0", Box::new(t.to_lowercase()), Type::TEXT, &mut conds);
    }
    if let Some(authors) = &q.authors {
        if authors.is_empty() {
            return Ok(Vec::new());
        }
        let a: Vec<i64> = authors.iter().map(|a| a.as_i64()).collect();
        push("author_id = ANY(?)", Box::new(a), Type::INT8_ARRAY, &mut conds);
    }
    if let Some(a) = email_authors {
        if a.is_empty() {
            return Ok(Vec::new());
        }
        push("author_id = ANY(?)", Box::new(a), Type::INT8_ARRAY, &mut conds);
    }
    if let Some(n) = q.network {
        push("net_hash = ?", Box::new(n.to_vec()), Type::BYTEA, &mut conds);
    }
    if let Some(t) = q.thread {
        push("thread_id = ?", Box::new(t.as_i64()), Type::INT8, &mut conds);
    }
    if let Some(s) = q.since {
        push("created_at >= ?", Box::new(s), Type::INT8, &mut conds);
    }
    if let Some(u) = q.until {
        push("created_at < ?", Box::new(u), Type::INT8, &mut conds);
    }
    if let Some(b) = q.before {
        push("id < ?", Box::new(b.as_i64()), Type::INT8, &mut conds);
    }
    vals.push((Box::new(i64::from(q.limit.max(1))), Type::INT8));
    let sql =
        format!("SELECT {POST_COLS} FROM posts WHERE {} ORDER BY id DESC LIMIT ${}", conds.join(" AND "), vals.len());
    let typed: Vec<crate::sql::Typed<'_>> =
        vals.iter().map(|(v, t)| (&**v as &(dyn ToSql + Sync), t.clone())).collect();
    rows::all(&query(c, &sql, &typed).await?, rows::post)
}

pub(crate) async fn sizes(c: &impl GenericClient, forum: Id) -> StoreResult<QueueSizes> {
    let r = one(
        c,
        "SELECT count(*) FILTER (WHERE state = 0), count(*) FILTER (WHERE flags > 0 AND state IN (0, 1)), \
                count(*) FILTER (WHERE state = 2), count(*) FILTER (WHERE state = 4) \
         FROM posts WHERE forum_id = $1 AND (state IN (0, 2, 4) OR flags > 0)",
        args![forum.as_i64()],
    )
    .await?;
    let n = |i: usize| -> StoreResult<u64> { Ok(col::<i64>(&r, i)?.max(0) as u64) };
    Ok(QueueSizes { pending: n(0)?, flagged: n(1)?, spam: n(2)?, shadow: n(3)? })
}

pub(crate) async fn per_day(c: &impl GenericClient, forum: Id, since: UnixMs) -> StoreResult<Vec<(UnixMs, u64, u64)>> {
    let rs = query(
        c,
        "SELECT (created_at / 86400000) * 86400000 AS day, count(*), count(*) FILTER (WHERE state = 2) \
         FROM posts WHERE forum_id = $1 AND created_at >= $2 GROUP BY day ORDER BY day",
        args![forum.as_i64(), since],
    )
    .await?;
    rows::all(&rs, |r| Ok((col(r, 0)?, col::<i64>(r, 1)?.max(0) as u64, col::<i64>(r, 2)?.max(0) as u64)))
}

pub(crate) async fn flag_add(
    tx: &impl GenericClient,
    ids: &IdGenerator,
    post: Id,
    voter: TokenHash,
    flag: Flag,
    threshold: u32,
    now: UnixMs,
) -> StoreResult<FlagOutcome> {
    let before = shard::post_locked(tx, post).await?;
    // Only what readers can see can be flagged.
    if before.state != PostState::Approved {
        return Err(StoreError::PostNotFound);
    }
    let added = exec(
        tx,
        "INSERT INTO flags (post_id, forum_id, voter, reason, note, at) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (post_id, voter) DO NOTHING RETURNING 1",
        args![post.as_i64(), before.forum_id.as_i64(), &voter.0[..], flag.reason.as_str(), flag.note, flag.at],
    )
    .await?
        == 1;
    if !added {
        return Ok(FlagOutcome { added, post: before, held: false });
    }
    let flags: i64 = col(
        &one(tx, "UPDATE posts SET flags = flags + 1 WHERE id = $1 RETURNING flags", args![post.as_i64()]).await?,
        0,
    )?;
    let held = threshold > 0 && flags >= i64::from(threshold);
    let post = if held {
        let why = format!("flagged by {flags} readers");
        set_state_in(tx, ids, post, PostState::Pending, Moderator::Flags, Some(&why), now).await?.after
    } else {
        Post { flags, ..before }
    };
    Ok(FlagOutcome { added, post, held })
}

pub(crate) async fn flags_of(c: &impl GenericClient, post: Id) -> StoreResult<Vec<Flag>> {
    let rs = query(c, "SELECT reason, note, at FROM flags WHERE post_id = $1 ORDER BY at DESC", args![post.as_i64()])
        .await?;
    rows::all(&rs, |r| {
        Ok(Flag {
            reason: FlagReason::parse(col(r, 0)?)
                .ok_or_else(|| StoreError::Internal("corrupt row: flag reason".into()))?,
            note: col(r, 1)?,
            at: col(r, 2)?,
        })
    })
}

pub(crate) async fn set_highlighted(
    tx: &impl GenericClient,
    ids: &IdGenerator,
    post: Id,
    on: bool,
    now: UnixMs,
) -> StoreResult<Post> {
    let r = opt(
        tx,
        &format!("UPDATE posts SET highlighted = $2 WHERE id = $1 RETURNING {POST_COLS}"),
        args![post.as_i64(), on],
    )
    .await?;
    let p = r.as_ref().map(rows::post).transpose()?.ok_or(StoreError::PostNotFound)?;
    shard::emit_post(tx, ids, EventKind::PostUpdated, &p, now).await?;
    Ok(p)
}

pub(crate) async fn set_pinned(tx: &impl GenericClient, thread: Id, post: Option<Id>) -> StoreResult<Thread> {
    // A post of another logical shard is of another forum, so not of this thread.
    if let Some(p) = post
        && (p.shard() != thread.shard() || shard::post_get(tx, p).await?.thread_id != thread)
    {
        return Err(StoreError::ParentNotInThread);
    }
    let r = opt(
        tx,
        &format!("UPDATE threads SET pinned_post_id = $2 WHERE id = $1 RETURNING {THREAD_COLS}"),
        args![thread.as_i64(), post.map(Id::as_i64)],
    )
    .await?;
    r.as_ref().map(rows::thread).transpose()?.ok_or(StoreError::ThreadNotFound)
}

/// Pending and shadow posts of these authors in the thread, oldest first.
pub(crate) async fn hidden_among(
    c: &impl GenericClient,
    thread: Id,
    ids: Vec<i64>,
) -> StoreResult<Vec<(Post, Option<TokenHash>)>> {
    let rs = query(
        c,
        &format!(
            "SELECT {POST_COLS}, edit_token FROM posts WHERE thread_id = $1 AND state IN (0, 4) AND id = ANY($2) \
             ORDER BY id"
        ),
        args![thread.as_i64(), ids],
    )
    .await?;
    rs.iter()
        .map(|r| {
            let token: Option<Vec<u8>> = col(r, rows::POST_NCOLS)?;
            Ok((rows::post(r)?, token.and_then(|b| TokenHash::from_slice(&b))))
        })
        .collect()
}

pub(crate) async fn own_hidden(c: &impl GenericClient, thread: Id, authors: Vec<i64>) -> StoreResult<Vec<Post>> {
    let rs = query(
        c,
        &format!(
            "SELECT {POST_COLS} FROM posts WHERE thread_id = $1 AND state IN (0, 4) AND author_id = ANY($2) ORDER BY id"
        ),
        args![thread.as_i64(), authors],
    )
    .await?;
    rows::all(&rs, rows::post)
}

fn entry(r: &Row) -> StoreResult<ModerationEntry> {
    let state = |i: usize| -> StoreResult<PostState> {
        PostState::from_code(col(r, i)?).ok_or_else(|| StoreError::Internal("corrupt row: state".into()))
    };
    Ok(ModerationEntry {
        id: id_col(r, 0)?,
        forum_id: id_col(r, 1)?,
        post_id: id_col(r, 2)?,
        by: Moderator::from_parts(col(r, 3)?, col::<Option<i64>>(r, 4)?.and_then(Id::from_i64))
            .ok_or_else(|| StoreError::Internal("corrupt row: actor".into()))?,
        from: state(5)?,
        to: state(6)?,
        reason: col(r, 7)?,
        at: col(r, 8)?,
    })
}

pub(crate) async fn history(c: &impl GenericClient, post: Id) -> StoreResult<Vec<ModerationEntry>> {
    let rs = query(
        c,
        "SELECT id, forum_id, post_id, actor_kind, actor_id, from_state::int8, to_state::int8, reason, at \
         FROM moderation_log WHERE post_id = $1 ORDER BY id",
        args![post.as_i64()],
    )
    .await?;
    rows::all(&rs, entry)
}

// ---- the spam filter's data ----

pub(crate) async fn context(
    c: &impl GenericClient,
    post: &Post,
    now: UnixMs,
    duplicate_window_ms: i64,
    recent_window_ms: i64,
) -> StoreResult<SpamContext> {
    let r = one(
        c,
        "SELECT (SELECT count(*) FROM posts WHERE forum_id = $1 AND text_hash = $2 AND created_at >= $3 AND id <> $4), \
                count(*) FILTER (WHERE id < $4), count(*) FILTER (WHERE created_at >= $6) \
         FROM posts WHERE author_id = $5 AND forum_id = $1",
        args![
            post.forum_id.as_i64(),
            &text_hash(post.message.as_str())[..],
            now - duplicate_window_ms,
            post.id.as_i64(),
            post.author_id.as_i64(),
            now - recent_window_ms
        ],
    )
    .await?;
    let n = |i: usize| -> StoreResult<u32> { Ok(u32::try_from(col::<i64>(&r, i)?.max(0)).unwrap_or(u32::MAX)) };
    Ok(SpamContext { duplicates: n(0)?, author_posts: n(1)?, author_recent: n(2)? })
}

fn counts(r: &Row, at: usize) -> StoreResult<Counts> {
    Ok(Counts { ham: col::<i64>(r, at)?.max(0) as u64, spam: col::<i64>(r, at + 1)?.max(0) as u64 })
}

pub(crate) async fn model(c: &impl GenericClient, forum: Id, tokens: &[String]) -> StoreResult<Model> {
    let docs = match opt(c, "SELECT ham, spam FROM spam_docs WHERE forum_id = $1", args![forum.as_i64()]).await? {
        Some(r) => counts(&r, 0)?,
        None => Counts::default(),
    };
    let mut model = Model { docs, ..Model::default() };
    if docs == Counts::default() || tokens.is_empty() {
        return Ok(model);
    }
    let rs = query(
        c,
        "SELECT token, ham, spam FROM spam_tokens WHERE forum_id = $1 AND token = ANY($2)",
        args![forum.as_i64(), tokens.to_vec()],
    )
    .await?;
    for r in &rs {
        model.tokens.insert(col(r, 0)?, counts(r, 1)?);
    }
    Ok(model)
}

pub(crate) async fn learn(tx: &impl GenericClient, forum: Id, tokens: &[String], spam: bool) -> StoreResult<()> {
    let (h, s): (i64, i64) = if spam { (0, 1) } else { (1, 0) };
    exec(
        tx,
        "INSERT INTO spam_docs (forum_id, ham, spam) VALUES ($1, $2, $3) \
         ON CONFLICT (forum_id) DO UPDATE SET ham = spam_docs.ham + $2, spam = spam_docs.spam + $3",
        args![forum.as_i64(), h, s],
    )
    .await?;
    if tokens.is_empty() {
        return Ok(());
    }
    // Sorted and distinct: one statement, rows locked in a fixed order (no deadlock
    // between two learners).
    let mut tokens = tokens.to_vec();
    tokens.sort();
    tokens.dedup();
    exec(
        tx,
        "INSERT INTO spam_tokens (forum_id, token, ham, spam) SELECT $1, t, $3, $4 FROM unnest($2::text[]) AS t \
         ON CONFLICT (forum_id, token) DO UPDATE SET ham = spam_tokens.ham + $3, spam = spam_tokens.spam + $4",
        args![forum.as_i64(), tokens, h, s],
    )
    .await
    .map(drop)
}

pub(crate) async fn verdict_set(c: &impl GenericClient, post: Id, r: SpamRecord) -> StoreResult<()> {
    let reasons = serde_json::to_string(&r.reasons).map_err(|e| StoreError::Internal(e.to_string()))?;
    exec(
        c,
        "INSERT INTO spam_verdicts (post_id, action, score, reasons, at) VALUES ($1, $2, $3, $4::jsonb, $5) \
         ON CONFLICT (post_id) DO UPDATE SET action = $2, score = $3, reasons = $4::jsonb, at = $5",
        args![post.as_i64(), r.action.as_str(), r.score, reasons, r.at],
    )
    .await
    .map(drop)
}

pub(crate) async fn verdict(c: &impl GenericClient, post: Id) -> StoreResult<Option<SpamRecord>> {
    let Some(r) =
        opt(c, "SELECT action, score, reasons::text, at FROM spam_verdicts WHERE post_id = $1", args![post.as_i64()])
            .await?
    else {
        return Ok(None);
    };
    let action = Action::parse(col(&r, 0)?).ok_or_else(|| StoreError::Internal("bad verdict action".into()))?;
    let reasons = serde_json::from_str(col(&r, 2)?).map_err(|e| StoreError::Internal(e.to_string()))?;
    Ok(Some(SpamRecord { action, score: col(&r, 1)?, reasons, at: col(&r, 3)? }))
}

pub(crate) async fn verdicts(c: &impl GenericClient, posts: &[Id]) -> StoreResult<Vec<(Id, SpamRecord)>> {
    if posts.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = posts.iter().map(|p| p.as_i64()).collect();
    let rs = query(
        c,
        "SELECT post_id, action, score, reasons::text, at FROM spam_verdicts WHERE post_id = ANY($1)",
        args![ids],
    )
    .await?;
    rs.iter()
        .map(|r| {
            let action = Action::parse(col(r, 1)?).ok_or_else(|| StoreError::Internal("bad verdict action".into()))?;
            let reasons = serde_json::from_str(col(r, 3)?).map_err(|e| StoreError::Internal(e.to_string()))?;
            Ok((id_col(r, 0)?, SpamRecord { action, score: col(r, 2)?, reasons, at: col(r, 4)? }))
        })
        .collect()
}

// ---- bans ----

const BAN_COLS: &str = "id, forum_id, kind, value, reason, by_kind, by_id, expires_at, created_at, shadow";

fn ban(r: &Row) -> StoreResult<Ban> {
    let bad = || StoreError::Internal("corrupt row: ban".into());
    Ok(Ban {
        id: id_col(r, 0)?,
        forum_id: id_col(r, 1)?,
        target: BanTarget::from_parts(col(r, 2)?, col(r, 3)?).ok_or_else(bad)?,
        reason: col(r, 4)?,
        by: Moderator::from_parts(col(r, 5)?, col::<Option<i64>>(r, 6)?.and_then(Id::from_i64)).ok_or_else(bad)?,
        expires_at: col(r, 7)?,
        created_at: col(r, 8)?,
        shadow: col(r, 9)?,
    })
}

pub(crate) async fn ban_create(
    c: &impl GenericClient,
    ids: &IdGenerator,
    forum: Id,
    new: NewBan,
    now: UnixMs,
) -> StoreResult<Ban> {
    let NewBan { target, reason, by, expires_at, shadow } = new;
    let b =
        Ban { id: ids.next(forum.shard()), forum_id: forum, target, reason, by, expires_at, shadow, created_at: now };
    exec(
        c,
        &format!("INSERT INTO bans ({BAN_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"),
        args![
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
        ],
    )
    .await?;
    Ok(b)
}

pub(crate) async fn bans_list(c: &impl GenericClient, forum: Id, now: UnixMs) -> StoreResult<Vec<Ban>> {
    let rs = query(
        c,
        &format!(
            "SELECT {BAN_COLS} FROM bans WHERE forum_id = $1 AND (expires_at IS NULL OR expires_at > $2) ORDER BY id DESC"
        ),
        args![forum.as_i64(), now],
    )
    .await?;
    rows::all(&rs, ban)
}

pub(crate) async fn ban_delete(c: &impl GenericClient, forum: Id, id: Id) -> StoreResult<()> {
    let n = exec(c, "DELETE FROM bans WHERE id = $1 AND forum_id = $2 RETURNING 1", args![id.as_i64(), forum.as_i64()])
        .await?;
    if n == 1 { Ok(()) } else { Err(StoreError::BanNotFound) }
}

pub(crate) async fn bans_matching(
    c: &impl GenericClient,
    forum: Id,
    probe: &BanProbe,
    now: UnixMs,
) -> StoreResult<Vec<Ban>> {
    let domain = probe.email.as_deref().and_then(|e| e.rsplit_once('@')).map(|(_, d)| d.to_owned());
    let rs = query(
        c,
        &format!(
            "SELECT {BAN_COLS} FROM bans WHERE forum_id = $1 AND (expires_at IS NULL OR expires_at > $2) AND ( \
               (kind = 'account' AND value = $3) OR (kind = 'email' AND value = $4) OR (kind = 'domain' AND value = $5) \
               OR kind = 'ip')"
        ),
        args![forum.as_i64(), now, probe.account.map(|a| a.to_string()), probe.email.clone(), domain],
    )
    .await?;
    rows::all(&rs, ban)
}
