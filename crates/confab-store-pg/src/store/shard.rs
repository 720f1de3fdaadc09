//! A forum-shard database: threads, posts and votes, the moderation log entries they
//! write, and the outbox their events go to, in the same transactions.

use confab_core::cursor::{ReplyCursor, RootCursor};
use confab_core::id::{Id, IdGenerator};
use confab_core::input::Message;
use confab_core::jobs::{EventKind, PostSnapshot, Task};
use confab_core::keys::text_hash;
use confab_core::model::{
    Author, Forum, MAX_DEPTH, Moderator, NewPost, Post, PostState, Sort, Thread, ThreadKey, ThreadSpec, UnixMs,
    VoteValue,
};
use confab_core::rank;
use confab_core::secret::TokenHash;
use confab_store::{
    DeletedPost, ImportPost, NewJob, PageLimits, RepliesPage, RootsPage, StoreError, StoreResult, ThreadCount,
    VoteOutcome,
};
use tokio_postgres::GenericClient;

use super::rows::{self, POST_COLS, THREAD_COLS};
use crate::sql::{args, col, exec, one, opt, rows as query};

/// The "listed" predicate, verbatim as in the partial indexes of the schema.
const LISTED: &str = "(state = 1 OR (state = 3 AND descendants > 0))";

// ---- threads ----

pub(crate) async fn thread_get(c: &impl GenericClient, id: Id) -> StoreResult<Thread> {
    let r = opt(c, &format!("SELECT {THREAD_COLS} FROM threads WHERE id = $1"), args![id.as_i64()]).await?;
    r.as_ref().map(rows::thread).transpose()?.ok_or(StoreError::ThreadNotFound)
}

pub(crate) async fn thread_find(c: &impl GenericClient, forum: Id, key: &ThreadKey) -> StoreResult<Option<Thread>> {
    let (sql, value) = match key {
        ThreadKey::Identifier(i) => {
            (format!("SELECT {THREAD_COLS} FROM threads WHERE forum_id = $1 AND identifier = $2"), i.as_str())
        }
        ThreadKey::Url(u) => (
            format!("SELECT {THREAD_COLS} FROM threads WHERE forum_id = $1 AND url = $2 ORDER BY id LIMIT 1"),
            u.as_str(),
        ),
    };
    opt(c, &sql, args![forum.as_i64(), value]).await?.as_ref().map(rows::thread).transpose()
}

/// Inserts a thread; `None` when another transaction created the same identifier first
/// (the caller reads that one instead).
pub(crate) async fn thread_insert(
    c: &impl GenericClient,
    ids: &IdGenerator,
    forum: &Forum,
    spec: &ThreadSpec,
    now: UnixMs,
) -> StoreResult<Option<Thread>> {
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
    let n = exec(
        c,
        "INSERT INTO threads (id, forum_id, identifier, url, title, closed, posts, created_at) \
         VALUES ($1, $2, $3, $4, $5, false, 0, $6) ON CONFLICT (forum_id, identifier) DO NOTHING RETURNING 1",
        args![
            thread.id.as_i64(),
            forum.id.as_i64(),
            thread.identifier.as_str(),
            thread.url.as_ref().map(|u| u.as_str()),
            thread.title.as_ref().map(|t| t.as_str()),
            now
        ],
    )
    .await?;
    Ok((n == 1).then_some(thread))
}

/// The thread named by `spec`, created if missing; whether this call created it.
pub(crate) async fn thread_ensure(
    c: &impl GenericClient,
    ids: &IdGenerator,
    forum: &Forum,
    spec: &ThreadSpec,
    now: UnixMs,
) -> StoreResult<(Thread, bool)> {
    let key = ThreadKey::Identifier(spec.identifier.clone());
    if let Some(t) = thread_find(c, forum.id, &key).await? {
        return Ok((t, false));
    }
    match thread_insert(c, ids, forum, spec, now).await? {
        Some(t) => Ok((t, true)),
        // Created concurrently and committed: read it (READ COMMITTED sees it now).
        None => Ok((thread_find(c, forum.id, &key).await?.ok_or(StoreError::ThreadNotFound)?, false)),
    }
}

pub(crate) async fn thread_create(
    c: &impl GenericClient,
    ids: &IdGenerator,
    forum: &Forum,
    spec: &ThreadSpec,
    now: UnixMs,
) -> StoreResult<Thread> {
    let thread = thread_insert(c, ids, forum, spec, now).await?.ok_or(StoreError::ThreadExists)?;
    emit_thread(c, ids, forum.id, EventKind::ThreadCreated, thread.id, now).await?;
    Ok(thread)
}

pub(crate) async fn thread_set_closed(c: &impl GenericClient, id: Id, closed: bool) -> StoreResult<Thread> {
    let r = opt(
        c,
        &format!("UPDATE threads SET closed = $2 WHERE id = $1 RETURNING {THREAD_COLS}"),
        args![id.as_i64(), closed],
    )
    .await?;
    r.as_ref().map(rows::thread).transpose()?.ok_or(StoreError::ThreadNotFound)
}

pub(crate) async fn thread_correct(
    c: &impl GenericClient,
    id: Id,
    url: Option<&str>,
    title: Option<&str>,
) -> StoreResult<Thread> {
    let r = opt(
        c,
        &format!(
            "UPDATE threads SET url = coalesce($2, url), title = coalesce($3, title) WHERE id = $1 RETURNING {THREAD_COLS}"
        ),
        args![id.as_i64(), url, title],
    )
    .await?;
    r.as_ref().map(rows::thread).transpose()?.ok_or(StoreError::ThreadNotFound)
}

/// Moves a thread's approved-post counter by `delta` and returns the thread.
pub(crate) async fn thread_add_posts(c: &impl GenericClient, id: Id, delta: i64) -> StoreResult<Thread> {
    rows::thread(
        &one(
            c,
            &format!("UPDATE threads SET posts = posts + $2 WHERE id = $1 RETURNING {THREAD_COLS}"),
            args![id.as_i64(), delta],
        )
        .await?,
    )
}

/// One statement per kind of key (identifiers, URLs) present.
pub(crate) async fn thread_counts(
    c: &impl GenericClient,
    forum: Id,
    keys: &[ThreadKey],
) -> StoreResult<Vec<ThreadCount>> {
    let identifiers: Vec<&str> =
        keys.iter().filter_map(|k| if let ThreadKey::Identifier(i) = k { Some(i.as_str()) } else { None }).collect();
    let urls: Vec<&str> =
        keys.iter().filter_map(|k| if let ThreadKey::Url(u) = k { Some(u.as_str()) } else { None }).collect();
    let mut out = Vec::new();
    for (column, values) in [("identifier", identifiers), ("url", urls)] {
        if values.is_empty() {
            continue;
        }
        let sql = format!("SELECT {THREAD_COLS} FROM threads WHERE forum_id = $1 AND {column} = ANY($2) ORDER BY id");
        for r in query(c, &sql, args![forum.as_i64(), values]).await? {
            let t = rows::thread(&r)?;
            out.push(ThreadCount::from(t));
        }
    }
    Ok(out)
}

// ---- posts ----

pub(crate) async fn post_get(c: &impl GenericClient, id: Id) -> StoreResult<Post> {
    let r = opt(c, &format!("SELECT {POST_COLS} FROM posts WHERE id = $1"), args![id.as_i64()]).await?;
    r.as_ref().map(rows::post).transpose()?.ok_or(StoreError::PostNotFound)
}

/// The post, its row locked until the transaction ends.
pub(crate) async fn post_locked(c: &impl GenericClient, id: Id) -> StoreResult<Post> {
    let r = opt(c, &format!("SELECT {POST_COLS} FROM posts WHERE id = $1 FOR UPDATE"), args![id.as_i64()]).await?;
    r.as_ref().map(rows::post).transpose()?.ok_or(StoreError::PostNotFound)
}

pub(crate) async fn post_for_edit(c: &impl GenericClient, id: Id) -> StoreResult<(Post, Option<TokenHash>)> {
    let r = opt(c, &format!("SELECT {POST_COLS}, edit_token FROM posts WHERE id = $1"), args![id.as_i64()])
        .await?
        .ok_or(StoreError::PostNotFound)?;
    let token: Option<Vec<u8>> = col(&r, rows::POST_NCOLS)?;
    Ok((rows::post(&r)?, token.and_then(|b| TokenHash::from_slice(&b))))
}

/// Adds `delta` to the descendant counters of the given posts, in one statement.
pub(crate) async fn add_descendants(c: &impl GenericClient, ids: &[i64], delta: i64) -> StoreResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    exec(c, "UPDATE posts SET descendants = descendants + $2 WHERE id = ANY($1)", args![ids.to_vec(), delta])
        .await
        .map(drop)
}

/// Where a new post goes: its parent checked (same thread, listed, not too deep).
pub(crate) struct Placement {
    pub parent_id: Option<Id>,
    pub root_id: Id,
    pub depth: u32,
    pub path: Vec<u8>,
}

pub(crate) async fn place(
    c: &impl GenericClient,
    id: Id,
    thread: &Thread,
    parent: Option<Id>,
    state: PostState,
) -> StoreResult<Placement> {
    let Some(pid) = parent else {
        return Ok(Placement { parent_id: None, root_id: id, depth: 0, path: id.to_be_bytes().to_vec() });
    };
    // Not on this shard: not found here (the caller tells apart a post of another
    // forum).
    if pid.shard() != thread.id.shard() {
        return Err(StoreError::ParentNotFound);
    }
    let parent = post_get(c, pid).await.map_err(|e| match e {
        StoreError::PostNotFound => StoreError::ParentNotFound,
        other => other,
    })?;
    if parent.thread_id != thread.id {
        return Err(StoreError::ParentNotInThread);
    }
    // A shadow-banned author may answer their own shadow posts; nobody else sees either.
    let shadow_thread = parent.state == PostState::Shadow && state == PostState::Shadow;
    if parent.state != PostState::Approved && !shadow_thread {
        return Err(StoreError::ParentNotListed);
    }
    if parent.depth >= MAX_DEPTH {
        return Err(StoreError::ParentTooDeep);
    }
    Ok(Placement {
        parent_id: Some(pid),
        root_id: parent.root_id,
        depth: parent.depth + 1,
        path: parent.child_path(id),
    })
}

/// Whether any of the author's posts in the forum is approved (the first-post rule).
pub(crate) async fn has_approved(c: &impl GenericClient, forum: Id, author: Id) -> StoreResult<bool> {
    col(
        &one(
            c,
            "SELECT EXISTS (SELECT 1 FROM posts WHERE author_id = $1 AND forum_id = $2 AND state = 1)",
            args![author.as_i64(), forum.as_i64()],
        )
        .await?,
        0,
    )
}

/// Inserts a new post as `post` describes it.
pub(crate) async fn post_insert(
    c: &impl GenericClient,
    post: &Post,
    edit_token: &TokenHash,
    new: &NewPost,
) -> StoreResult<()> {
    exec(
        c,
        "INSERT INTO posts (id, forum_id, thread_id, parent_id, root_id, depth, path, author_id, message, html, state, \
         likes, dislikes, best, hot, descendants, created_at, edited_at, edit_token, notify, text_hash, net_hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0, 0, $12, $13, 0, $14, NULL, $15, $16, $17, $18)",
        args![
            post.id.as_i64(),
            post.forum_id.as_i64(),
            post.thread_id.as_i64(),
            post.parent_id.map(Id::as_i64),
            post.root_id.as_i64(),
            post.depth as i32,
            post.path.as_slice(),
            post.author_id.as_i64(),
            post.message.as_str(),
            post.html.as_str(),
            post.state.code() as i16,
            rank::best_score(0, 0),
            rank::hot_score(0, post.created_at),
            post.created_at,
            &edit_token.0[..],
            new.notify,
            &text_hash(post.message.as_str())[..],
            new.network.as_ref().map(|n| &n[..]),
        ],
    )
    .await
    .map(drop)
}

/// Builds the post row a new post becomes.
pub(crate) fn new_post(
    id: Id,
    thread: &Thread,
    at: Placement,
    author: &Author,
    new: &NewPost,
    state: PostState,
    now: UnixMs,
) -> Post {
    Post {
        id,
        forum_id: thread.forum_id,
        thread_id: thread.id,
        parent_id: at.parent_id,
        root_id: at.root_id,
        depth: at.depth,
        path: at.path,
        author_id: author.id,
        message: new.message.clone(),
        html: new.html.clone(),
        state,
        likes: 0,
        dislikes: 0,
        descendants: 0,
        highlighted: false,
        flags: 0,
        created_at: now,
        edited_at: None,
    }
}

pub(crate) struct ImportRows {
    pub ids: Vec<i64>,
    pub parents: Vec<Option<i64>>,
    pub roots: Vec<i64>,
    pub depths: Vec<i32>,
    pub paths: Vec<Vec<u8>>,
    pub authors: Vec<i64>,
    pub messages: Vec<String>,
    pub htmls: Vec<String>,
    pub states: Vec<i16>,
    pub likes: Vec<i64>,
    pub dislikes: Vec<i64>,
    pub best: Vec<f64>,
    pub hot: Vec<f64>,
    pub descendants: Vec<i64>,
    pub created: Vec<i64>,
}

impl ImportRows {
    /// Lays out a checked batch: paths, roots, descendant counts, computed once.
    pub(crate) fn build(post_ids: &[Id], depths: &[u32], authors: &[Id], batch: Vec<ImportPost>) -> ImportRows {
        let n = batch.len();
        let descendants = confab_store::shape::import_descendants(&batch);
        let mut out = ImportRows {
            ids: Vec::with_capacity(n),
            parents: Vec::with_capacity(n),
            roots: Vec::with_capacity(n),
            depths: depths.iter().map(|d| *d as i32).collect(),
            paths: Vec::with_capacity(n),
            authors: authors.iter().map(|a| a.as_i64()).collect(),
            messages: Vec::with_capacity(n),
            htmls: Vec::with_capacity(n),
            states: Vec::with_capacity(n),
            likes: Vec::with_capacity(n),
            dislikes: Vec::with_capacity(n),
            best: Vec::with_capacity(n),
            hot: Vec::with_capacity(n),
            descendants,
            created: Vec::with_capacity(n),
        };
        for (i, p) in batch.into_iter().enumerate() {
            let id = post_ids[i];
            let (path, root) = match p.parent {
                None => (id.to_be_bytes().to_vec(), id.as_i64()),
                Some(pi) => {
                    let mut path = Vec::with_capacity(out.paths[pi].len() + 8);
                    path.extend_from_slice(&out.paths[pi]);
                    path.extend_from_slice(&id.to_be_bytes());
                    (path, out.roots[pi])
                }
            };
            out.ids.push(id.as_i64());
            out.parents.push(p.parent.map(|pi| post_ids[pi].as_i64()));
            out.roots.push(root);
            out.paths.push(path);
            out.messages.push(p.message.as_str().to_owned());
            out.htmls.push(p.html);
            out.states.push(p.state.code() as i16);
            out.likes.push(p.likes);
            out.dislikes.push(p.dislikes);
            out.best.push(rank::best_score(p.likes, p.dislikes));
            out.hot.push(rank::hot_score(p.likes - p.dislikes, p.created_at));
            out.created.push(p.created_at);
        }
        out
    }
}

/// The bulk insert: `COPY … FROM STDIN` in PostgreSQL's binary format, the batch
/// streamed in one statement (no per-row parse, plan or round trip). Works through a
/// transaction-pooling pgbouncer, inside the caller's transaction.
pub(crate) async fn posts_insert_many(
    tx: &tokio_postgres::Transaction<'_>,
    forum: Id,
    thread: Id,
    r: &ImportRows,
) -> StoreResult<()> {
    use tokio_postgres::binary_copy::BinaryCopyInWriter;
    use tokio_postgres::types::{ToSql, Type};
    crate::sql::count();
    let sink = tx
        .copy_in(
            "COPY posts (id, forum_id, thread_id, parent_id, root_id, depth, path, author_id, message, html, \
             state, likes, dislikes, best, hot, descendants, created_at) FROM STDIN (FORMAT binary)",
        )
        .await
        .map_err(crate::sql::db_err)?;
    let types = [
        Type::INT8,
        Type::INT8,
        Type::INT8,
        Type::INT8,
        Type::INT8,
        Type::INT4,
        Type::BYTEA,
        Type::INT8,
        Type::TEXT,
        Type::TEXT,
        Type::INT2,
        Type::INT8,
        Type::INT8,
        Type::FLOAT8,
        Type::FLOAT8,
        Type::INT8,
        Type::INT8,
    ];
    let writer = std::pin::pin!(BinaryCopyInWriter::new(sink, &types));
    let mut writer = writer;
    let (forum, thread) = (forum.as_i64(), thread.as_i64());
    for i in 0..r.ids.len() {
        let row: [&(dyn ToSql + Sync); 17] = [
            &r.ids[i],
            &forum,
            &thread,
            &r.parents[i],
            &r.roots[i],
            &r.depths[i],
            &r.paths[i],
            &r.authors[i],
            &r.messages[i],
            &r.htmls[i],
            &r.states[i],
            &r.likes[i],
            &r.dislikes[i],
            &r.best[i],
            &r.hot[i],
            &r.descendants[i],
            &r.created[i],
        ];
        writer.as_mut().write(&row).await.map_err(crate::sql::db_err)?;
    }
    writer.finish().await.map_err(crate::sql::db_err)?;
    Ok(())
}

pub(crate) async fn post_edit(
    c: &impl GenericClient,
    ids: &IdGenerator,
    id: Id,
    message: &Message,
    html: &str,
    now: UnixMs,
) -> StoreResult<Post> {
    let r = opt(
        c,
        &format!(
            "UPDATE posts SET message = $2, html = $3, edited_at = $4 WHERE id = $1 AND state IN (0, 1, 4) RETURNING {POST_COLS}"
        ),
        args![id.as_i64(), message.as_str(), html, now],
    )
    .await?;
    let post = r.as_ref().map(rows::post).transpose()?.ok_or(StoreError::PostNotFound)?;
    emit_post(c, ids, EventKind::PostUpdated, &post, now).await?;
    Ok(post)
}

/// Soft-deletes a post inside the caller's transaction, counters and event included.
pub(crate) async fn post_delete_in(
    tx: &impl GenericClient,
    ids: &IdGenerator,
    id: Id,
    now: UnixMs,
) -> StoreResult<DeletedPost> {
    let before = post_locked(tx, id).await?;
    if before.state == PostState::Deleted {
        let thread = thread_get(tx, before.thread_id).await?;
        return Ok(DeletedPost { post: before, thread });
    }
    log(tx, ids, &before, PostState::Deleted, Moderator::Author, None, now).await?;
    let after = rows::post(
        &one(tx, &format!("UPDATE posts SET state = 3 WHERE id = $1 RETURNING {POST_COLS}"), args![id.as_i64()])
            .await?,
    )?;
    let thread = if before.state == PostState::Approved {
        add_descendants(tx, &confab_store::shape::ancestors(&before.path), -1).await?;
        thread_add_posts(tx, before.thread_id, -1).await?
    } else {
        thread_get(tx, before.thread_id).await?
    };
    emit_post(tx, ids, EventKind::PostDeleted, &after, now).await?;
    Ok(DeletedPost { post: after, thread })
}

/// One moderation-log entry, in the caller's transaction.
pub(crate) async fn log(
    tx: &impl GenericClient,
    ids: &IdGenerator,
    post: &Post,
    to: PostState,
    by: Moderator,
    reason: Option<&str>,
    now: UnixMs,
) -> StoreResult<()> {
    exec(
        tx,
        "INSERT INTO moderation_log (id, forum_id, post_id, actor_kind, actor_id, from_state, to_state, reason, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        args![
            ids.next(post.forum_id.shard()).as_i64(),
            post.forum_id.as_i64(),
            post.id.as_i64(),
            by.kind(),
            by.account().map(Id::as_i64),
            post.state.code() as i16,
            to.code() as i16,
            reason,
            now
        ],
    )
    .await
    .map(drop)
}

// ---- pages ----

/// SQL for one page of roots: the keyset condition and order for each sort.
fn roots_sql(sort: Sort, with_cursor: bool) -> String {
    let (order, cmp) = match sort {
        Sort::Newest => ("id DESC", "id < $3"),
        Sort::Oldest => ("id ASC", "id > $3"),
        Sort::Best => ("best DESC, id DESC", "(best, id) < ($2, $3)"),
        Sort::Hot => ("hot DESC, id DESC", "(hot, id) < ($2, $3)"),
    };
    let cursor = if with_cursor { format!(" AND {cmp}") } else { String::new() };
    let score = match sort {
        Sort::Best => "best",
        Sort::Hot => "hot",
        Sort::Newest | Sort::Oldest => "0.0::float8",
    };
    format!(
        "SELECT {POST_COLS}, {score} FROM posts WHERE thread_id = $1 AND depth = 0 AND {LISTED}{cursor} ORDER BY {order} LIMIT $4"
    )
}

pub(crate) async fn roots_page(
    c: &impl GenericClient,
    thread: Id,
    sort: Sort,
    after: Option<RootCursor>,
    limits: PageLimits,
) -> StoreResult<RootsPage> {
    let limit = i64::from(limits.roots.max(1));
    let sql = roots_sql(sort, after.is_some());
    let (score, after_id) = after.map(|a| (a.score, a.id.as_i64())).unwrap_or((0.0, 0));
    let rs = query(c, &sql, args![thread.as_i64(), score, after_id, limit + 1]).await?;
    let roots = rows::all(&rs, |r| Ok((rows::post(r)?, col::<f64>(r, rows::POST_NCOLS)?)))?;
    let per_root = limits.replies_per_root;
    let shown = roots.iter().take(limit as usize).map(|(p, _)| p.root_id.as_i64());
    let replies =
        if per_root > 0 && !roots.is_empty() { first_replies(c, shown.collect(), per_root).await? } else { Vec::new() };
    Ok(confab_store::shape::roots_page(roots, limit as usize, replies, per_root))
}

/// The first `per_root + 1` listed replies of each root, in tree order, in one
/// statement: a lateral index range per root, so the cost is bounded by the rows
/// returned, not by the size of the subtrees.
async fn first_replies(c: &impl GenericClient, roots: Vec<i64>, per_root: u32) -> StoreResult<Vec<Post>> {
    let sql = format!(
        "SELECT {cols} FROM unnest($1::int8[]) WITH ORDINALITY AS r(id, n) CROSS JOIN LATERAL \
         (SELECT * FROM posts WHERE root_id = r.id AND depth > 0 AND {LISTED} ORDER BY path LIMIT $2) p \
         ORDER BY r.n, p.path",
        cols = rows::post_cols_of("p")
    );
    rows::all(&query(c, &sql, args![roots, i64::from(per_root) + 1]).await?, rows::post)
}

pub(crate) async fn replies_page(
    c: &impl GenericClient,
    node: &Post,
    after: Option<ReplyCursor>,
    limit: u32,
) -> StoreResult<RepliesPage> {
    let limit = i64::from(limit.max(1));
    let lower = after.map(|a| a.path).unwrap_or_else(|| node.path.clone());
    // Every segment starts with a 0 bit (ids are 63-bit), so path || 0xFF is above
    // every descendant's path.
    let mut upper = node.path.clone();
    upper.push(0xFF);
    let rs = query(
        c,
        &format!(
            "SELECT {POST_COLS} FROM posts WHERE root_id = $1 AND depth > 0 AND {LISTED} AND path > $2 AND path < $3 \
             ORDER BY path LIMIT $4"
        ),
        args![node.root_id.as_i64(), lower, upper, limit + 1],
    )
    .await?;
    let mut replies = rows::all(&rs, rows::post)?;
    let next = if replies.len() as i64 > limit {
        replies.truncate(limit as usize);
        replies.last().map(|p| ReplyCursor { path: p.path.clone() })
    } else {
        None
    };
    Ok(RepliesPage { replies, next })
}

// ---- votes ----

pub(crate) async fn vote_set(
    tx: &impl GenericClient,
    post: Id,
    voter: TokenHash,
    value: VoteValue,
    now: UnixMs,
) -> StoreResult<VoteOutcome> {
    // The post's row lock orders concurrent votes on it.
    let current = post_locked(tx, post).await?;
    if current.state != PostState::Approved {
        return Err(StoreError::PostNotVotable);
    }
    let voter = &voter.0[..];
    let previous = match value {
        VoteValue::Clear => {
            opt(
                tx,
                "DELETE FROM votes WHERE post_id = $1 AND voter = $2 RETURNING value::int8",
                args![post.as_i64(), voter],
            )
            .await?
        }
        _ => {
            opt(
                tx,
                "WITH old AS (SELECT value FROM votes WHERE post_id = $1 AND voter = $2) \
             , up AS (INSERT INTO votes (post_id, voter, value, created_at) VALUES ($1, $2, $3, $4) \
                      ON CONFLICT (post_id, voter) DO UPDATE SET value = excluded.value RETURNING 1) \
             SELECT old.value::int8 FROM old, (SELECT count(*) FROM up) u",
                args![post.as_i64(), voter, value.as_i64() as i16, now],
            )
            .await?
        }
    };
    let previous =
        previous.map(|r| col::<i64>(&r, 0)).transpose()?.and_then(VoteValue::from_i64).unwrap_or(VoteValue::Clear);
    let ((l0, d0), (l1, d1)) = (previous.tallies(), value.tallies());
    let (dl, dd) = (l1 - l0, d1 - d0);
    let updated = if (dl, dd) == (0, 0) {
        current
    } else {
        let (likes, dislikes) = (current.likes + dl, current.dislikes + dd);
        rows::post(
            &one(
                tx,
                &format!(
                    "UPDATE posts SET likes = likes + $2, dislikes = dislikes + $3, best = $4, hot = $5 \
                     WHERE id = $1 RETURNING {POST_COLS}"
                ),
                args![
                    post.as_i64(),
                    dl,
                    dd,
                    rank::best_score(likes, dislikes),
                    rank::hot_score(likes - dislikes, current.created_at)
                ],
            )
            .await?,
        )?
    };
    Ok(VoteOutcome { post: updated, previous, current: value })
}

// ---- the outbox ----

/// Queues a task in the caller's transaction. Its id carries the forum's shard.
pub(crate) async fn enqueue(c: &impl GenericClient, ids: &IdGenerator, job: &NewJob, now: UnixMs) -> StoreResult<Id> {
    let id = ids.next(job.forum_id.shard());
    // The notice reaches listening workers when the transaction commits (several in
    // one transaction arrive as one); in the same statement, so no extra round trip.
    exec(
        c,
        "WITH j AS (INSERT INTO outbox (id, forum_id, task, state, attempts, run_at, created_at, updated_at) \
                    VALUES ($1, $2, $3::jsonb, 0, 0, $4, $5, $5) RETURNING id) \
         SELECT pg_notify('confab_outbox', '') FROM j",
        args![id.as_i64(), job.forum_id.as_i64(), job.task.to_json(), job.run_at, now],
    )
    .await?;
    Ok(id)
}

pub(crate) async fn emit_thread(
    c: &impl GenericClient,
    ids: &IdGenerator,
    forum: Id,
    event: EventKind,
    thread: Id,
    now: UnixMs,
) -> StoreResult<()> {
    let task = Task::Event { event, thread, post: None, snapshot: None };
    enqueue(c, ids, &NewJob { forum_id: forum, task, run_at: now }, now).await.map(drop)
}

pub(crate) async fn emit_post(
    c: &impl GenericClient,
    ids: &IdGenerator,
    event: EventKind,
    post: &Post,
    now: UnixMs,
) -> StoreResult<()> {
    let task =
        Task::Event { event, thread: post.thread_id, post: Some(post.id), snapshot: Some(PostSnapshot::of(post)) };
    enqueue(c, ids, &NewJob { forum_id: post.forum_id, task, run_at: now }, now).await.map(drop)
}

// ---- an account's data ----

/// The author's posts on this shard, with their thread's identifier and URL.
pub(crate) async fn posts_by_author(
    c: &impl GenericClient,
    author: Id,
) -> StoreResult<Vec<(String, Option<String>, Post)>> {
    let rs = query(
        c,
        &format!(
            "SELECT t.identifier, t.url, {cols} FROM posts p JOIN threads t ON t.id = p.thread_id \
             WHERE p.author_id = $1 ORDER BY p.id",
            cols = rows::post_cols_of("p")
        ),
        args![author.as_i64()],
    )
    .await?;
    rows::all(&rs, |r| Ok((col(r, 0)?, col(r, 1)?, rows::post_at(r, 2)?)))
}

/// A voter's votes on this shard: (post, value, when).
pub(crate) async fn votes_by(c: &impl GenericClient, voter: &TokenHash) -> StoreResult<Vec<(Id, VoteValue, UnixMs)>> {
    let rs = query(
        c,
        "SELECT post_id, value::int8, created_at FROM votes WHERE voter = $1 ORDER BY created_at",
        args![&voter.0[..]],
    )
    .await?;
    rows::all(&rs, |r| {
        Ok((crate::sql::id_col(r, 0)?, VoteValue::from_i64(col(r, 1)?).unwrap_or(VoteValue::Clear), col(r, 2)?))
    })
}

/// Erases a post's text and the queued or finished work that quotes it (event
/// snapshots, webhook bodies), then soft-deletes it: the deletion's own event carries
/// no trace of the text.
pub(crate) async fn post_erase(tx: &impl GenericClient, ids: &IdGenerator, id: Id, now: UnixMs) -> StoreResult<()> {
    exec(tx, "UPDATE posts SET message = '', html = '' WHERE id = $1", args![id.as_i64()]).await?;
    exec(tx, "DELETE FROM outbox WHERE task->>'post' = $1 OR task->'body'->'post'->>'id' = $1", args![id.to_string()])
        .await?;
    post_delete_in(tx, ids, id, now).await.map(drop)
}

/// Hands a post to another author and drops what linked it to the person.
pub(crate) async fn post_disown(tx: &impl GenericClient, id: Id, to: Id) -> StoreResult<()> {
    exec(
        tx,
        "UPDATE posts SET author_id = $2, edit_token = NULL, net_hash = NULL WHERE id = $1",
        args![id.as_i64(), to.as_i64()],
    )
    .await
    .map(drop)
}
