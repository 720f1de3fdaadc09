//! Reading threads over HTTP: the thread page (one request for what the embed needs on
//! load), further pages of roots, replies under any node, and the reader's own hidden
//! posts. Parse, then ask `crate::reads`, which assembles and caches pages.

use axum::extract::State;
use axum::response::IntoResponse;
use confab_core::id::Id;
use confab_core::model::{Post, Sort};
use confab_core::switches;
use confab_store::{PageLimits, StoreError};
use serde::Deserialize;

use super::threads::ThreadKeyQuery;
use crate::AppState;
use crate::auth::{Actor, ClientIp, Viewer};
use crate::error::ApiError;
use crate::extract::{PathForum, PathId, Query};
use crate::reads::pages::{
    DEFAULT_LIMITS, DEFAULT_REPLIES_PAGE, DEFAULT_REPLIES_PER_ROOT, DEFAULT_ROOTS, MAX_REPLIES_PAGE,
    MAX_REPLIES_PER_ROOT, MAX_ROOTS, PageView, authors_of, roots_page, shown_authors,
};
use crate::views::PostView;
use crate::views::answers::{PostList, RepliesPageView};
use crate::views::errors::ErrorEnvelope;
use utoipa::IntoParams;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct RootsQuery {
    /// Order of top-level posts. best: Wilson lower bound of the up-vote share; hot: points on a log scale decayed by age.
    #[param(value_type = Option<Sort>, default = "newest")]
    sort: Option<String>,
    /// `cursor` of the previous page (same sort)
    cursor: Option<String>,
    /// Top-level posts per page
    #[param(minimum = 1, maximum = 100, default = 25)]
    limit: Option<u32>,
    /// Replies returned under each top-level post, in tree order
    #[param(minimum = 0, maximum = 20, default = 3)]
    replies: Option<u32>,
}

impl RootsQuery {
    /// The sort asked for; hot while its switch is off is served in the default sort
    /// (the page's `sort` says which it is). A reader already paging in it with a
    /// cursor finishes in it: their cursor is a hot one.
    fn sort(&self, live: &crate::live::Live, forum: Option<&str>, client: &ClientIp) -> Result<Sort, ApiError> {
        let sort = match self.sort.as_deref() {
            None => Sort::default(),
            Some(s) => Sort::parse(s).ok_or_else(|| {
                ApiError::InvalidQuery(format!("unknown sort {s:?}: use newest, oldest, best or hot"))
            })?,
        };
        let hot_off = || !live.on_for(switches::SORT_HOT, forum, client.0);
        Ok(if sort == Sort::Hot && self.cursor.is_none() && hot_off() { Sort::default() } else { sort })
    }

    fn limits(&self) -> Result<PageLimits, ApiError> {
        Ok(PageLimits {
            roots: bounded("limit", self.limit, DEFAULT_ROOTS, 1, MAX_ROOTS)?,
            replies_per_root: bounded("replies", self.replies, DEFAULT_REPLIES_PER_ROOT, 0, MAX_REPLIES_PER_ROOT)?,
        })
    }
}

fn bounded(name: &str, v: Option<u32>, default: u32, min: u32, max: u32) -> Result<u32, ApiError> {
    match v {
        None => Ok(default),
        Some(v) if (min..=max).contains(&v) => Ok(v),
        Some(v) => Err(ApiError::InvalidQuery(format!("{name} must be between {min} and {max} (got {v})"))),
    }
}

/// Written out rather than `#[serde(flatten)]`: flattening loses the query parser's
/// type hints, and `limit=2` would be refused as "a string, not a number".
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PageQuery {
    /// The thread's identifier (takes precedence over url)
    #[param(max_length = 300)]
    identifier: Option<String>,
    /// The thread's page URL
    #[param(max_length = 2000, format = "uri")]
    url: Option<String>,
    /// Order of top-level posts. best: Wilson lower bound of the up-vote share; hot: points on a log scale decayed by age.
    #[param(value_type = Option<Sort>, default = "newest")]
    sort: Option<String>,
    cursor: Option<String>,
    /// Top-level posts per page
    #[param(minimum = 1, maximum = 100, default = 25)]
    limit: Option<u32>,
    /// Replies returned under each top-level post, in tree order
    #[param(minimum = 0, maximum = 20, default = 3)]
    replies: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/api/v1/forums/{forum}/thread-page",
    operation_id = "threadPage",
    summary = "Everything the embed needs on load: the thread (or null) and the first page of its tree",
    description = "Constant number of statements whatever the thread's size. Continue with /api/v1/threads/{thread}/posts and /api/v1/posts/{post}/replies.",
    params(
        ("forum" = String, Path, description = "Forum shortname"),
        PageQuery,
    ),
    responses(
        (status = 200, description = "The page", body = PageView, headers(("X-Confab-Queries" = i64, description = "Statements the request ran (when expose_query_count is on)"))),
        (status = 400, description = "invalid_query", body = ErrorEnvelope),
        (status = 404, description = "forum_not_found", body = ErrorEnvelope),
    ),
)]
pub(crate) async fn thread_page(
    State(state): State<AppState>,
    client: ClientIp,
    PathForum(forum): PathForum,
    Query(q): Query<PageQuery>,
) -> Result<axum::response::Response, ApiError> {
    let key = ThreadKeyQuery { identifier: q.identifier, url: q.url }.key()?;
    let roots = RootsQuery { sort: q.sort, cursor: q.cursor, limit: q.limit, replies: q.replies };
    let (sort, limits) = (roots.sort(&state.live, Some(&forum), &client)?, roots.limits()?);
    if roots.cursor.is_some() {
        return Err(ApiError::InvalidQuery(
            "the thread page is the first page; continue with /api/v1/threads/{id}/posts".into(),
        ));
    }
    if limits == DEFAULT_LIMITS {
        // What the embed asks for on every page load: through the cache.
        return Ok(match state.reads.thread_of(&forum, &key).await? {
            Some((id, thread)) => json_bytes(state.reads.first_page(id, thread, sort).await?),
            None => axum::Json(PageView::empty(sort)).into_response(),
        });
    }
    let forum = state.reads.forum_by_shortname(&forum).await?;
    let Some(thread) = state.store.thread_find(&forum, &key).await? else {
        return Ok(axum::Json(PageView::empty(sort)).into_response());
    };
    Ok(axum::Json(roots_page(&state.reads, &forum, thread, sort, None, limits).await?).into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/threads/{thread}/posts",
    operation_id = "threadRoots",
    summary = "A further page of top-level posts",
    params(
        ("thread" = Id, Path, description = "Thread id"),
        RootsQuery,
    ),
    responses(
        (status = 200, description = "The page", body = PageView, headers(("X-Confab-Queries" = i64, description = "Statements the request ran (when expose_query_count is on)"))),
        (status = 400, description = "invalid_query / invalid_cursor / invalid_id", body = ErrorEnvelope),
        (status = 404, description = "thread_not_found", body = ErrorEnvelope),
    ),
)]
pub(crate) async fn thread_roots(
    State(state): State<AppState>,
    client: ClientIp,
    PathId(thread_id): PathId,
    Query(q): Query<RootsQuery>,
) -> Result<axum::response::Response, ApiError> {
    let (sort, limits) = (q.sort(&state.live, None, &client)?, q.limits()?);
    if q.cursor.is_none() && limits == DEFAULT_LIMITS {
        return Ok(json_bytes(state.reads.first_page(thread_id, None, sort).await?));
    }
    let after = q.cursor.as_deref().map(|c| state.cursors.decode_root(thread_id, sort, c)).transpose()?;
    let thread = state.store.thread_get(thread_id).await?;
    let forum = state.reads.forum_get(thread.forum_id).await?;
    Ok(axum::Json(roots_page(&state.reads, &forum, thread, sort, after, limits).await?).into_response())
}

/// JSON the cache kept, sent as it is.
fn json_bytes(body: bytes::Bytes) -> axum::response::Response {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// The reader's own posts in a thread that nobody else sees yet (waiting for a
/// moderator, or — unknown to them — shadow-banned): a signed-in reader's by their
/// account or SSO user, a guest's by the edit tokens their browser kept (still good
/// after the edit window: they prove authorship, and reading is all they allow here).
/// Personal: never cached, and kept apart from the public page so that page can be.
#[utoipa::path(
    get,
    path = "/api/v1/threads/{thread}/mine",
    operation_id = "ownPosts",
    summary = "The reader's own posts in the thread that nobody else sees yet (waiting for a moderator; shadow posts look approved): a signed-in reader's by their session or SSO payload, a guest's by the edit tokens of their posts (still good after the edit window, for this read only). Personal: Cache-Control no-store.",
    params(
        ("thread" = Id, Path, description = "Thread id"),
        ("X-Confab-Edit-Tokens" = Option<String>, Header, description = "A guest's proof of their own posts in this thread: up to 50 `<post id>.<edit token>` entries separated by commas. Entries whose token does not match are ignored.", example = "250378419585638401.Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4"),
    ),
    responses(
        (status = 200, description = "Posts, oldest first", body = inline(PostList)),
        (status = 400, description = "invalid_edit_tokens", body = ErrorEnvelope),
        (status = 401, description = "invalid_session, invalid_sso", body = ErrorEnvelope),
        (status = 404, description = "thread_not_found", body = ErrorEnvelope),
    ),
    security(("session" = []), ()),
)]
pub(crate) async fn own_posts(
    State(state): State<AppState>,
    PathId(thread_id): PathId,
    Viewer(viewer): Viewer,
    headers: axum::http::HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    let thread = state.store.thread_get(thread_id).await?;
    let forum = state.reads.forum_get(thread.forum_id).await?;
    let (account, sso) = match crate::auth::actor(&state, &forum, viewer, &headers).await? {
        Actor::Account(me) => (Some(me.account.id), None),
        Actor::Sso(user) => (None, Some((forum.id, user.id.clone()))),
        Actor::Guest => (None, None),
    };
    let mut posts = if account.is_some() || sso.is_some() {
        state.store.own_hidden_posts(thread.id, account, sso).await?
    } else {
        Vec::new()
    };
    let tokens = crate::auth::edit_tokens(&headers)?;
    if !tokens.is_empty() {
        let ids: Vec<Id> = tokens.iter().map(|(id, _)| *id).collect();
        for (post, stored) in state.store.hidden_posts_among(thread.id, &ids).await? {
            let proven = tokens.iter().any(|(id, t)| *id == post.id && stored.is_some_and(|s| s.matches(&t.hash())));
            if proven && !posts.iter().any(|p| p.id == post.id) {
                posts.push(post);
            }
        }
        posts.sort_by_key(|p| p.id);
    }
    let posts: Vec<Post> = posts.into_iter().map(super::posts::as_author_sees).collect();
    let authors = authors_of(&state.reads, shown_authors(posts.iter())).await?;
    Ok((
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        axum::Json(PostList { posts: PostView::many(&posts, &authors) }),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct RepliesQuery {
    /// `replies_cursor` of a thread page or `cursor` of the previous replies page
    cursor: Option<String>,
    #[param(minimum = 1, maximum = 100, default = 25)]
    limit: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/api/v1/posts/{post}/replies",
    operation_id = "postReplies",
    summary = "Replies under any post, in tree order (depth first, oldest first)",
    params(
        ("post" = Id, Path, description = "Post id"),
        RepliesQuery,
    ),
    responses(
        (status = 200, description = "Replies", body = RepliesPageView, headers(("X-Confab-Queries" = i64, description = "Statements the request ran (when expose_query_count is on)"))),
        (status = 400, description = "invalid_query / invalid_cursor / invalid_id", body = ErrorEnvelope),
        (status = 404, description = "post_not_found", body = ErrorEnvelope),
    ),
)]
pub(crate) async fn post_replies(
    State(state): State<AppState>,
    PathId(node_id): PathId,
    Query(q): Query<RepliesQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let limit = bounded("limit", q.limit, DEFAULT_REPLIES_PAGE, 1, MAX_REPLIES_PAGE)?;
    let after = q.cursor.as_deref().map(|c| state.cursors.decode_replies(node_id, c)).transpose()?;
    let node = state.store.post_get(node_id).await?;
    if !node.is_listed() {
        return Err(StoreError::PostNotFound.into());
    }
    if let Some(a) = &after
        && !a.path.starts_with(&node.path)
    {
        return Err(ApiError::InvalidCursor(confab_core::cursor::CursorError::Mismatch));
    }
    let page = state.store.post_replies(&node, after, limit).await?;
    let authors = authors_of(&state.reads, shown_authors(page.replies.iter())).await?;
    Ok(axum::Json(RepliesPageView {
        posts: PostView::many(&page.replies, &authors),
        cursor: page.next.map(|c| state.cursors.encode_replies(node_id, &c)),
    }))
}
