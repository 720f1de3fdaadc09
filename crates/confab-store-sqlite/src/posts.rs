//! Posts (forum shard) and guest authors (global).

use std::collections::HashMap;

use confab_core::cursor::{ReplyCursor, RootCursor};
use confab_core::id::{Id, IdGenerator, LogicalShard};
use confab_core::input::Message;
use confab_core::jobs::EventKind;
use confab_core::model::{
    Author, AuthorKind, Forum, GuestAuthor, MAX_DEPTH, NewPost, Post, PostAuthor, PostState, Sort, ThreadKey,
    ThreadSpec, UnixMs,
};
use confab_core::rank;
use confab_core::secret::TokenHash;
use confab_core::sso::SsoUser;
use confab_store::{
    CreatedPost, DeletedPost, ImportPost, ImportedThread, PageLimits, RepliesPage, RootsPage, StoreError, StoreResult,
};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params, params_from_iter};

use crate::rows::{self, AUTHOR_COLS, POST_COLS, sql_err};
use crate::{outbox, threads};
use confab_store::shape::ancestors;

/// The "listed" predicate, verbatim as in the partial indexes of the schema.
const LISTED: &str = "(state = 1 OR (state = 3 AND descendants > 0))";

pub(crate) fn get(c: &Connection, id: Id) -> StoreResult<Post> {
    c.prepare_cached(&format!("SELECT {POST_COLS} FROM posts WHERE id = ?1"))
        .and_then(|mut s| s.query_row([id.as_i64()], rows::post).optional())
        .map_err(sql_err)?
        .ok_or(StoreError::PostNotFound)
}

pub(crate) fn for_edit(c: &Connection, id: Id) -> StoreResult<(Post, Option<TokenHash>)> {
    c.prepare_cached(&format!("SELECT {POST_COLS}, edit_token FROM posts WHERE id = ?1"))
        .and_then(|mut s| {
            s.query_row([id.as_i64()], |r| {
                let token: Option<Vec<u8>> = r.get(rows::POST_NCOLS)?;
                Ok((rows::post(r)?, token.and_then(|b| TokenHash::from_slice(&b))))
            })
            .optional()
        })
        .map_err(sql_err)?
        .ok_or(StoreError::PostNotFound)
}

pub(crate) use confab_core::keys::{guest_key, text_hash};

pub(crate) fn upsert_guest(c: &Connection, ids: &IdGenerator, a: GuestAuthor, now: UnixMs) -> StoreResult<Author> {
    let id: i64 = c
        .prepare_cached(
            "INSERT INTO authors (id, kind, name, email, url, guest_key, created_at) VALUES (?1, 'guest', ?2, ?3, ?4, ?5, ?6) \
             ON CONFLICT (guest_key) DO UPDATE SET kind = kind RETURNING id",
        )
        .and_then(|mut s| {
            s.query_row(
                params![
                    ids.next(LogicalShard::GLOBAL).as_i64(),
                    a.name.as_str(),
                    a.email.as_ref().map(|e| e.as_str()),
                    a.url.as_ref().map(|u| u.as_str()),
                    &guest_key(&a)[..],
                    now
                ],
                |r| r.get(0),
            )
        })
        .map_err(sql_err)?;
    Ok(Author {
        id: Id::from_i64(id).ok_or_else(|| StoreError::Internal("invalid author id".into()))?,
        kind: AuthorKind::Guest,
        name: a.name,
        email: a.email,
        url: a.url,
        avatar_url: None,
        sso: None,
    })
}

/// The author row of a forum's SSO user, created on their first post and updated to
/// what the site's latest payload says.
fn upsert_sso(c: &Connection, ids: &IdGenerator, forum: Id, u: SsoUser, now: UnixMs) -> StoreResult<Author> {
    let id: i64 = c
        .prepare_cached(
            "INSERT INTO authors (id, kind, name, email, url, avatar_url, sso_forum, sso_id, created_at) \
             VALUES (?1, 'sso', ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
             ON CONFLICT (sso_forum, sso_id) WHERE sso_id IS NOT NULL DO UPDATE SET \
             name = excluded.name, email = excluded.email, url = excluded.url, avatar_url = excluded.avatar_url \
             RETURNING id",
        )
        .and_then(|mut s| {
            s.query_row(
                params![
                    ids.next(LogicalShard::GLOBAL).as_i64(),
                    u.name.as_str(),
                    u.email.as_ref().map(|e| e.as_str()),
                    u.url.as_ref().map(|x| x.as_str()),
                    u.avatar.as_ref().map(|x| x.as_str()),
                    forum.as_i64(),
                    &u.id,
                    now
                ],
                |r| r.get(0),
            )
        })
        .map_err(sql_err)?;
    Ok(Author {
        id: Id::from_i64(id).ok_or_else(|| StoreError::Internal("invalid author id".into()))?,
        kind: AuthorKind::Sso,
        name: u.name,
        email: u.email,
        url: u.url,
        avatar_url: u.avatar,
        sso: Some((forum, u.id)),
    })
}

/// Adds `delta` to the descendant counters of the given posts, in one statement.
pub(crate) fn add_descendants(c: &Connection, ids: &[i64], delta: i64) -> StoreResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let marks = vec!["?"; ids.len()].join(", ");
    let sql = format!("UPDATE posts SET descendants = descendants + {delta} WHERE id IN ({marks})");
    c.prepare_cached(&sql).and_then(|mut s| s.execute(params_from_iter(ids))).map_err(sql_err)?;
    Ok(())
}

pub(crate) fn create(
    c: &mut Connection,
    ids: &IdGenerator,
    forum: &Forum,
    new: NewPost,
    edit_token: TokenHash,
    now: UnixMs,
) -> StoreResult<CreatedPost> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql_err)?;

    let key = ThreadKey::Identifier(new.thread.identifier.clone());
    let (mut thread, thread_created) = match threads::find(&tx, forum.id, &key)? {
        Some(t) => (t, false),
        None => (threads::create(&tx, ids, forum, &new.thread, now)?, true),
    };
    if thread.closed || forum.policy.auto_closed(thread.created_at, now) {
        return Err(StoreError::ThreadClosed);
    }

    let id = ids.next(forum.shard);
    let (parent_id, root_id, depth, path) = match new.parent_id {
        None => (None, id, 0u32, id.to_be_bytes().to_vec()),
        Some(pid) => {
            let parent = get(&tx, pid).map_err(|e| match e {
                StoreError::PostNotFound => StoreError::ParentNotFound,
                other => other,
            })?;
            if parent.thread_id != thread.id {
                return Err(StoreError::ParentNotInThread);
            }
            // A shadow-banned author may answer their own shadow posts (to them the
            // thread looks normal); nobody else sees either.
            let shadow_thread = parent.state == PostState::Shadow && new.state == PostState::Shadow;
            if parent.state != PostState::Approved && !shadow_thread {
                return Err(StoreError::ParentNotListed);
            }
            if parent.depth >= MAX_DEPTH {
                return Err(StoreError::ParentTooDeep);
            }
            (Some(pid), parent.root_id, parent.depth + 1, parent.child_path(id))
        }
    };

    let author = match new.author.clone() {
        PostAuthor::Guest(guest) => upsert_guest(&tx, ids, guest, now)?,
        PostAuthor::Account(account) => crate::accounts::author(&tx, account)?,
        PostAuthor::Sso(user) => upsert_sso(&tx, ids, forum.id, user, now)?,
    };
    // "First posts wait", with the fact only the write knows (asked only when it applies).
    let has_approved = new.hold_first_post && has_approved(&tx, forum.id, author.id)?;
    let confab_core::admission::Settled { state, held, screen } = new.settled(has_approved);
    let post = Post {
        id,
        forum_id: forum.id,
        thread_id: thread.id,
        parent_id,
        root_id,
        depth,
        path,
        author_id: author.id,
        message: new.message,
        html: new.html,
        state,
        likes: 0,
        dislikes: 0,
        descendants: 0,
        highlighted: false,
        flags: 0,
        created_at: now,
        edited_at: None,
    };
    tx.prepare_cached(
        "INSERT INTO posts (id, forum_id, thread_id, parent_id, root_id, depth, path, author_id, message, html, state, \
         likes, dislikes, best, hot, descendants, created_at, edited_at, edit_token, notify, text_hash, net_hash) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 0, 0, ?12, ?13, 0, ?14, NULL, ?15, ?16, ?17, ?18)",
    )
    .and_then(|mut s| {
        s.execute(params![
            post.id.as_i64(),
            post.forum_id.as_i64(),
            post.thread_id.as_i64(),
            post.parent_id.map(Id::as_i64),
            post.root_id.as_i64(),
            post.depth,
            &post.path,
            post.author_id.as_i64(),
            post.message.as_str(),
            &post.html,
            post.state.code(),
            rank::best_score(0, 0),
            rank::hot_score(0, now),
            now,
            &edit_token.0[..],
            new.notify,
            &text_hash(post.message.as_str())[..],
            new.network.as_ref().map(|n| &n[..]),
        ])
    })
    .map_err(sql_err)?;

    if post.state == PostState::Approved {
        thread = threads::add_posts(&tx, thread.id, 1)?;
        add_descendants(&tx, &ancestors(&post.path), 1)?;
    }
    if let Some(why) = held.filter(|_| post.state == PostState::Pending) {
        crate::spam::log(&tx, ids, &post, PostState::Pending, confab_core::model::Moderator::Rules, Some(&why), now)?;
    }
    if thread_created {
        outbox::emit_thread(&tx, ids, forum.id, EventKind::ThreadCreated, thread.id, now)?;
    }
    outbox::emit_post(&tx, ids, EventKind::PostCreated, &post, now)?;
    if let Some(mut order) = screen {
        order.queued = Some(post.state);
        let job = confab_store::NewJob {
            forum_id: forum.id,
            task: confab_core::jobs::Task::Screen { post: post.id, order },
            run_at: now,
        };
        outbox::enqueue(&tx, ids, &job, now)?;
    }
    if let Some(email) = &new.subscribe {
        crate::notify::subscribe_in(&tx, &thread, email, now)?;
    }
    tx.commit().map_err(sql_err)?;
    Ok(CreatedPost { post, thread, author, thread_created })
}

/// Whether any of the author's posts in the forum is approved (the first-post rule).
fn has_approved(c: &Connection, forum: Id, author: Id) -> StoreResult<bool> {
    c.prepare_cached("SELECT EXISTS (SELECT 1 FROM posts WHERE author_id = ?1 AND forum_id = ?2 AND state = 1)")
        .and_then(|mut s| s.query_row(params![author.as_i64(), forum.as_i64()], |r| r.get(0)))
        .map_err(sql_err)
}

/// The bulk path (see `Store::thread_import`): one transaction, one prepared insert
/// reused for every post, guest authors upserted once per distinct identity, and every
/// counter computed in memory and written once.
pub(crate) fn import(
    c: &mut Connection,
    ids: &IdGenerator,
    forum: &Forum,
    spec: ThreadSpec,
    batch: Vec<ImportPost>,
    now: UnixMs,
) -> StoreResult<ImportedThread> {
    // Shape first, so a bad batch is refused before anything is written.
    let depths = confab_store::shape::import_depths(&batch)?;

    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql_err)?;
    let key = ThreadKey::Identifier(spec.identifier.clone());
    let thread = match threads::find(&tx, forum.id, &key)? {
        Some(t) => t,
        None => threads::create(&tx, ids, forum, &spec, now)?,
    };

    let post_ids: Vec<Id> = batch.iter().map(|_| ids.next(forum.shard)).collect();
    let descendants = confab_store::shape::import_descendants(&batch);
    let mut paths: Vec<Vec<u8>> = Vec::with_capacity(batch.len());
    let mut roots: Vec<Id> = Vec::with_capacity(batch.len());
    let mut authors: HashMap<[u8; 32], Id> = HashMap::new();
    let mut approved = 0i64;
    {
        let mut insert = tx
            .prepare_cached(
                "INSERT INTO posts (id, forum_id, thread_id, parent_id, root_id, depth, path, author_id, message, html, \
                 state, likes, dislikes, best, hot, descendants, created_at, edited_at, edit_token) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, NULL, NULL)",
            )
            .map_err(sql_err)?;
        for (i, p) in batch.into_iter().enumerate() {
            let id = post_ids[i];
            let (path, root) = match p.parent {
                None => (id.to_be_bytes().to_vec(), id),
                Some(pi) => {
                    let mut path = Vec::with_capacity(paths[pi].len() + 8);
                    path.extend_from_slice(&paths[pi]);
                    path.extend_from_slice(&id.to_be_bytes());
                    (path, roots[pi])
                }
            };
            let gk = guest_key(&p.author);
            let author_id = match authors.get(&gk) {
                Some(a) => *a,
                None => {
                    let a = upsert_guest(&tx, ids, p.author, now)?.id;
                    authors.insert(gk, a);
                    a
                }
            };
            if p.state == PostState::Approved {
                approved += 1;
            }
            insert
                .execute(params![
                    id.as_i64(),
                    forum.id.as_i64(),
                    thread.id.as_i64(),
                    p.parent.map(|pi| post_ids[pi].as_i64()),
                    root.as_i64(),
                    depths[i],
                    &path,
                    author_id.as_i64(),
                    p.message.as_str(),
                    &p.html,
                    p.state.code(),
                    p.likes,
                    p.dislikes,
                    rank::best_score(p.likes, p.dislikes),
                    rank::hot_score(p.likes - p.dislikes, p.created_at),
                    descendants[i],
                    p.created_at,
                ])
                .map_err(sql_err)?;
            paths.push(path);
            roots.push(root);
        }
    }
    let thread = threads::add_posts(&tx, thread.id, approved)?;
    tx.commit().map_err(sql_err)?;
    Ok(ImportedThread { thread, post_ids })
}

pub(crate) fn edit(
    c: &mut Connection,
    ids: &IdGenerator,
    id: Id,
    message: &Message,
    html: &str,
    hold: Option<&str>,
    now: UnixMs,
) -> StoreResult<Post> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql_err)?;
    let post = tx
        .prepare_cached(&format!(
            "UPDATE posts SET message = ?2, html = ?3, edited_at = ?4 WHERE id = ?1 AND state IN (0, 1, 4) RETURNING {POST_COLS}"
        ))
        .and_then(|mut s| s.query_row(params![id.as_i64(), message.as_str(), html, now], rows::post).optional())
        .map_err(sql_err)?
        .ok_or(StoreError::PostNotFound)?;
    outbox::emit_post(&tx, ids, EventKind::PostUpdated, &post, now)?;
    let post = match hold {
        Some(why) if post.state == PostState::Approved => {
            crate::spam::set_state_in(
                &tx,
                ids,
                id,
                PostState::Pending,
                confab_core::model::Moderator::Rules,
                Some(why),
                now,
            )?
            .after
        }
        _ => post,
    };
    tx.commit().map_err(sql_err)?;
    Ok(post)
}

pub(crate) fn delete(c: &mut Connection, ids: &IdGenerator, id: Id, now: UnixMs) -> StoreResult<DeletedPost> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql_err)?;
    let deleted = delete_in(&tx, ids, id, now)?;
    tx.commit().map_err(sql_err)?;
    Ok(deleted)
}

/// Soft-deletes a post inside the caller's transaction, counters and event included.
pub(crate) fn delete_in(tx: &Connection, ids: &IdGenerator, id: Id, now: UnixMs) -> StoreResult<DeletedPost> {
    let before = get(tx, id)?;
    if before.state == PostState::Deleted {
        let thread = threads::get(tx, before.thread_id)?;
        return Ok(DeletedPost { post: before, thread });
    }
    crate::spam::log(tx, ids, &before, PostState::Deleted, confab_core::model::Moderator::Author, None, now)?;
    let after = tx
        .prepare_cached(&format!("UPDATE posts SET state = 3 WHERE id = ?1 RETURNING {POST_COLS}"))
        .and_then(|mut s| s.query_row([id.as_i64()], rows::post))
        .map_err(sql_err)?;
    let thread = if before.state == PostState::Approved {
        add_descendants(tx, &ancestors(&before.path), -1)?;
        threads::add_posts(tx, before.thread_id, -1)?
    } else {
        threads::get(tx, before.thread_id)?
    };
    outbox::emit_post(tx, ids, EventKind::PostDeleted, &after, now)?;
    Ok(DeletedPost { post: after, thread })
}

pub(crate) fn authors_get_many(c: &Connection, ids: &[Id]) -> StoreResult<Vec<Author>> {
    let marks = vec!["?"; ids.len()].join(", ");
    let mut stmt = c.prepare(&format!("SELECT {AUTHOR_COLS} FROM authors WHERE id IN ({marks})")).map_err(sql_err)?;
    stmt.query_map(params_from_iter(ids.iter().map(|i| i.as_i64())), rows::author)
        .and_then(Iterator::collect)
        .map_err(sql_err)
}

/// SQL for one page of roots: the keyset condition and order for each sort.
fn roots_sql(sort: Sort, with_cursor: bool) -> String {
    let (order, cmp) = match sort {
        Sort::Newest => ("id DESC", "id < ?3"),
        Sort::Oldest => ("id ASC", "id > ?3"),
        Sort::Best => ("best DESC, id DESC", "(best, id) < (?2, ?3)"),
        Sort::Hot => ("hot DESC, id DESC", "(hot, id) < (?2, ?3)"),
    };
    let cursor = if with_cursor { format!(" AND {cmp}") } else { String::new() };
    format!(
        "SELECT {POST_COLS}, {score} FROM posts WHERE thread_id = ?1 AND depth = 0 AND {LISTED}{cursor} ORDER BY {order} LIMIT ?4",
        score = match sort {
            Sort::Best => "best",
            Sort::Hot => "hot",
            Sort::Newest | Sort::Oldest => "0.0",
        }
    )
}

pub(crate) fn roots_page(
    c: &Connection,
    thread: Id,
    sort: Sort,
    after: Option<RootCursor>,
    limits: PageLimits,
) -> StoreResult<RootsPage> {
    let limit = i64::from(limits.roots.max(1));
    let sql = roots_sql(sort, after.is_some());
    let (score, after_id) = after.map(|a| (a.score, a.id.as_i64())).unwrap_or((0.0, 0));
    let mut stmt = c.prepare_cached(&sql).map_err(sql_err)?;
    // For newest/oldest ?2 is unused; SQLite accepts unused numbered parameters.
    let roots: Vec<(Post, f64)> = stmt
        .query_map(params![thread.as_i64(), score, after_id, limit + 1], |r| {
            Ok((rows::post(r)?, r.get::<_, f64>(rows::POST_NCOLS)?))
        })
        .and_then(Iterator::collect)
        .map_err(sql_err)?;
    let per_root = limits.replies_per_root;
    let shown = roots.iter().take(limit as usize).map(|(p, _)| p.root_id);
    let replies = if per_root > 0 && !roots.is_empty() {
        // Rows come grouped by root and in tree order within each group.
        first_replies(c, shown, per_root)?
    } else {
        Vec::new()
    };
    Ok(confab_store::shape::roots_page(roots, limit as usize, replies, per_root))
}

/// The first `per_root + 1` listed replies of each root, in tree order, in one
/// statement: a UNION ALL of one index range per root, so the cost is bounded by the
/// rows returned, not by the size of the subtrees.
fn first_replies(c: &Connection, roots: impl Iterator<Item = Id>, per_root: u32) -> StoreResult<Vec<Post>> {
    let roots: Vec<i64> = roots.map(Id::as_i64).collect();
    let part = format!(
        "SELECT * FROM (SELECT {POST_COLS} FROM posts WHERE root_id = ? AND depth > 0 AND {LISTED} ORDER BY path LIMIT {})",
        per_root + 1
    );
    let sql = vec![part; roots.len()].join(" UNION ALL ");
    let mut stmt = c.prepare_cached(&sql).map_err(sql_err)?;
    stmt.query_map(params_from_iter(roots.iter()), rows::post).and_then(Iterator::collect).map_err(sql_err)
}

pub(crate) fn replies_page(
    c: &Connection,
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
    let mut stmt = c
        .prepare_cached(&format!(
            "SELECT {POST_COLS} FROM posts WHERE root_id = ?1 AND depth > 0 AND {LISTED} AND path > ?2 AND path < ?3 \
             ORDER BY path LIMIT ?4"
        ))
        .map_err(sql_err)?;
    let mut replies: Vec<Post> = stmt
        .query_map(params![node.root_id.as_i64(), lower, upper, limit + 1], rows::post)
        .and_then(Iterator::collect)
        .map_err(sql_err)?;
    let next = if replies.len() as i64 > limit {
        replies.truncate(limit as usize);
        replies.last().map(|p| ReplyCursor { path: p.path.clone() })
    } else {
        None
    };
    Ok(RepliesPage { replies, next })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(c: &Connection, sql: &str, params: impl rusqlite::Params) -> String {
        let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows: Vec<String> =
            stmt.query_map(params, |r| r.get::<_, String>(3)).unwrap().map(Result::unwrap).collect();
        rows.join(" | ")
    }

    /// Keyset pages must read only the rows they return: an index range in the sort
    /// order, never a scan of the thread or a sort step.
    #[test]
    fn page_queries_use_the_partial_indexes() {
        let mut c = Connection::open_in_memory().unwrap();
        crate::register_functions(&c).unwrap();
        crate::MIGRATIONS.to_latest(&mut c).unwrap();
        for sort in Sort::ALL {
            for with_cursor in [false, true] {
                let p = plan(&c, &roots_sql(sort, with_cursor), params![1, 0.5, 2, 10]);
                let index = if matches!(sort, Sort::Best) {
                    "posts_roots_by_best"
                } else if sort == Sort::Hot {
                    "posts_roots_by_hot"
                } else {
                    "posts_roots_by_id"
                };
                assert!(p.contains(index), "{sort:?} {with_cursor}: {p}");
                assert!(!p.contains("TEMP B-TREE"), "{sort:?} {with_cursor}: {p}");
            }
        }
        let replies = format!(
            "SELECT {POST_COLS} FROM posts WHERE root_id = ?1 AND depth > 0 AND {LISTED} AND path > ?2 AND path < ?3 ORDER BY path LIMIT ?4"
        );
        let p = plan(&c, &replies, params![1, vec![0u8], vec![1u8], 10]);
        assert!(p.contains("posts_tree") && !p.contains("TEMP B-TREE"), "{p}");
        let part = format!(
            "SELECT {POST_COLS} FROM posts WHERE root_id = ?1 AND depth > 0 AND {LISTED} ORDER BY path LIMIT 4"
        );
        let p = plan(&c, &part, params![1]);
        assert!(p.contains("posts_tree") && !p.contains("TEMP B-TREE"), "{p}");
    }

    #[test]
    fn only_the_named_unique_constraint_means_exists() {
        let mut c = Connection::open_in_memory().unwrap();
        crate::register_functions(&c).unwrap();
        crate::MIGRATIONS.to_latest(&mut c).unwrap();
        let insert = "INSERT INTO forums (id, shortname, name, origins, policy, shard, created_at) VALUES (?1, ?2, 'n', '[]', '{}', 0, 0)";
        c.execute(insert, params![1, "a"]).unwrap();
        let same_name = c.execute(insert, params![2, "a"]).unwrap_err();
        assert!(crate::rows::is_unique_violation(&same_name, "forums.shortname"));
        let same_id = c.execute(insert, params![1, "b"]).unwrap_err();
        assert!(
            !crate::rows::is_unique_violation(&same_id, "forums.shortname"),
            "an id collision is not 'forum exists'"
        );
    }
}
