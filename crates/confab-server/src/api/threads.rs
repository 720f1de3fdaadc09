//! Threads: look up by identifier or URL, create explicitly, close and reopen, correct
//! the url and title (moderators). Reads never create a thread. A forum that lists its
//! sites takes thread urls on them only (`auth::check_thread_url`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use confab_core::input::{Identifier, InputError, Title, WebUrl};
use confab_core::model::{ThreadKey, ThreadSpec};
use serde::Deserialize;

use crate::AppState;
use crate::auth::{Power, Principal};
use crate::error::ApiError;
use crate::extract::{Json, PathForum, PathId, Query};
use crate::views::ThreadView;
use crate::views::errors::ErrorEnvelope;
use crate::writes::threads;
use confab_core::id::Id;
use utoipa::IntoParams;
use utoipa::ToSchema;

/// A page's identity as clients send it. The identifier defaults to the URL, as in
/// Disqus's embed.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ThreadInput {
    #[schema(min_length = 1, max_length = 300)]
    identifier: Option<String>,
    #[schema(format = "uri", max_length = 2000)]
    url: Option<String>,
    #[schema(max_length = 500)]
    title: Option<String>,
}

impl ThreadInput {
    pub(crate) fn parse(&self) -> Result<ThreadSpec, InputError> {
        let url = self.url.as_deref().map(|u| WebUrl::parse("thread.url", u)).transpose()?;
        let identifier = match (&self.identifier, &url) {
            (Some(i), _) => Identifier::parse(i)?,
            (None, Some(u)) => Identifier::parse(u.as_str())?,
            (None, None) => {
                return Err(InputError::new("thread.identifier", "required", "give the thread's identifier or url"));
            }
        };
        let title = self.title.as_deref().map(Title::parse).transpose()?;
        Ok(ThreadSpec { identifier, url, title })
    }
}

/// `?identifier=` or `?url=` naming a thread.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ThreadKeyQuery {
    /// The thread's identifier (takes precedence over url)
    #[param(max_length = 300)]
    pub identifier: Option<String>,
    /// The thread's page URL
    #[param(max_length = 2000, format = "uri")]
    pub url: Option<String>,
}

impl ThreadKeyQuery {
    pub(crate) fn key(&self) -> Result<ThreadKey, ApiError> {
        match (&self.identifier, &self.url) {
            (Some(i), _) => Identifier::parse(i).map(ThreadKey::Identifier).map_err(ApiError::query_param),
            (None, Some(u)) => WebUrl::parse("url", u).map(ThreadKey::Url).map_err(ApiError::query_param),
            (None, None) => Err(ApiError::InvalidQuery("give the thread's identifier or url".into())),
        }
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/forums/{forum}/threads",
    operation_id = "findThread",
    summary = "Look a thread up by identifier or URL (never creates one)",
    params(
        ("forum" = String, Path, description = "Forum shortname"),
        ThreadKeyQuery,
    ),
    responses(
        (status = 200, description = "The thread", body = ThreadView),
        (status = 400, description = "invalid_query: neither identifier nor url, or one that does not parse", body = ErrorEnvelope),
        (status = 404, description = "forum_not_found / thread_not_found", body = ErrorEnvelope),
    ),
)]
pub(crate) async fn find_thread(
    State(state): State<AppState>,
    PathForum(forum): PathForum,
    Query(q): Query<ThreadKeyQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let key = q.key()?;
    let forum = state.store.forum_by_shortname(&forum).await?;
    let thread = state.store.thread_find(&forum, &key).await?.ok_or(confab_store::StoreError::ThreadNotFound)?;
    Ok(axum::Json(ThreadView::in_forum(&thread, &forum, state.clock.now())))
}

#[utoipa::path(
    post,
    path = "/api/v1/forums/{forum}/threads",
    operation_id = "createThread",
    summary = "Create a thread explicitly, with its url and title",
    params(
        ("forum" = String, Path, description = "Forum shortname"),
    ),
    request_body = ThreadInput,
    responses(
        (status = 201, description = "Created", body = ThreadView),
        (status = 401, description = "Admin token missing or wrong", body = ErrorEnvelope),
        (status = 404, description = "forum_not_found", body = ErrorEnvelope),
        (status = 409, description = "thread_exists", body = ErrorEnvelope),
        (status = 422, description = "invalid_input (url and title are required here)", body = ErrorEnvelope),
        (status = 403, description = "forbidden: the account's role does not allow this", body = ErrorEnvelope),
    ),
    security(("adminToken" = []), ("session" = []), ("secretKey" = [])),
)]
pub(crate) async fn create_thread(
    State(state): State<AppState>,
    who: Principal,
    PathForum(forum): PathForum,
    Json(body): Json<ThreadInput>,
) -> Result<impl IntoResponse, ApiError> {
    let forum = state.store.forum_by_shortname(&forum).await?;
    who.require(&state, Some(&forum), Power::ManageThreads).await?;
    let spec = body.parse()?;
    crate::auth::check_thread_url(&forum, spec.url.as_ref())?;
    if spec.url.is_none() {
        return Err(InputError::new("thread.url", "required", "an explicitly created thread needs its page url").into());
    }
    if spec.title.is_none() {
        return Err(InputError::new("thread.title", "required", "an explicitly created thread needs a title").into());
    }
    let thread = threads::create(&state.writes, &forum, spec).await?;
    Ok((StatusCode::CREATED, axum::Json(ThreadView::new(&thread, forum.shortname.as_str()))))
}

#[utoipa::path(
    get,
    path = "/api/v1/threads/{thread}",
    operation_id = "getThread",
    summary = "Thread details",
    params(
        ("thread" = Id, Path, description = "Thread id"),
    ),
    responses(
        (status = 200, description = "The thread", body = ThreadView),
        (status = 400, description = "invalid_id", body = ErrorEnvelope),
        (status = 404, description = "thread_not_found", body = ErrorEnvelope),
    ),
)]
pub(crate) async fn get_thread(
    State(state): State<AppState>,
    PathId(id): PathId,
) -> Result<impl IntoResponse, ApiError> {
    let thread = state.store.thread_get(id).await?;
    let forum = state.store.forum_get(thread.forum_id).await?;
    Ok(axum::Json(ThreadView::in_forum(&thread, &forum, state.clock.now())))
}

#[utoipa::path(
    post,
    path = "/api/v1/threads/{thread}/close",
    operation_id = "closeThread",
    summary = "Close a thread to new posts",
    params(
        ("thread" = Id, Path, description = "Thread id"),
    ),
    responses(
        (status = 200, description = "The thread", body = ThreadView),
        (status = 401, description = "Admin token missing or wrong", body = ErrorEnvelope),
        (status = 404, description = "thread_not_found", body = ErrorEnvelope),
        (status = 403, description = "forbidden: the account's role does not allow this", body = ErrorEnvelope),
    ),
    security(("adminToken" = []), ("session" = []), ("secretKey" = [])),
)]
pub(crate) async fn close_thread(
    State(state): State<AppState>,
    who: Principal,
    PathId(id): PathId,
) -> Result<impl IntoResponse, ApiError> {
    set_closed(state, who, id, true).await
}

#[utoipa::path(
    post,
    path = "/api/v1/threads/{thread}/open",
    operation_id = "openThread",
    summary = "Reopen a closed thread",
    params(
        ("thread" = Id, Path, description = "Thread id"),
    ),
    responses(
        (status = 200, description = "The thread", body = ThreadView),
        (status = 401, description = "Admin token missing or wrong", body = ErrorEnvelope),
        (status = 404, description = "thread_not_found", body = ErrorEnvelope),
        (status = 403, description = "forbidden: the account's role does not allow this", body = ErrorEnvelope),
    ),
    security(("adminToken" = []), ("session" = []), ("secretKey" = [])),
)]
pub(crate) async fn open_thread(
    State(state): State<AppState>,
    who: Principal,
    PathId(id): PathId,
) -> Result<impl IntoResponse, ApiError> {
    set_closed(state, who, id, false).await
}

/// A moderator's correction of a thread's page (a squatted or mistyped url or title).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ThreadCorrection {
    /// On one of the forum's origins when it lists any
    #[schema(format = "uri")]
    url: Option<String>,
    #[schema(max_length = 200)]
    title: Option<String>,
}

#[utoipa::path(
    patch,
    path = "/api/v1/threads/{thread}",
    operation_id = "correctThread",
    summary = "Correct a thread's page url and title (moderators): a squatted or mistyped first post fixed them",
    params(
        ("thread" = Id, Path, description = "Thread id"),
    ),
    request_body = inline(ThreadCorrection),
    responses(
        (status = 200, description = "The thread", body = ThreadView),
        (status = 401, description = "Admin token missing or wrong", body = ErrorEnvelope),
        (status = 404, description = "thread_not_found", body = ErrorEnvelope),
        (status = 403, description = "forbidden: the account's role does not allow this", body = ErrorEnvelope),
        (status = 422, description = "invalid_input (url_not_on_forum_sites, required)", body = ErrorEnvelope),
    ),
    security(("adminToken" = []), ("session" = []), ("secretKey" = [])),
)]
pub(crate) async fn correct_thread(
    State(state): State<AppState>,
    who: Principal,
    PathId(id): PathId,
    Json(body): Json<ThreadCorrection>,
) -> Result<impl IntoResponse, ApiError> {
    if matches!(who, Principal::Anonymous) {
        return Err(ApiError::Unauthorized);
    }
    let url = body.url.as_deref().map(|u| WebUrl::parse("url", u)).transpose()?;
    let title = body.title.as_deref().map(Title::parse).transpose()?;
    if url.is_none() && title.is_none() {
        return Err(InputError::new("url", "required", "give the thread's corrected url, title or both").into());
    }
    let thread = state.store.thread_get(id).await?;
    let forum = state.store.forum_get(thread.forum_id).await?;
    who.require(&state, Some(&forum), Power::ManageThreads).await?;
    crate::auth::check_thread_url(&forum, url.as_ref())?;
    let thread = threads::correct(&state.writes, id, url, title).await?;
    Ok(axum::Json(ThreadView::new(&thread, forum.shortname.as_str())))
}

async fn set_closed(
    state: AppState,
    who: Principal,
    id: confab_core::Id,
    closed: bool,
) -> Result<impl IntoResponse, ApiError> {
    // Anonymous callers learn nothing about which threads exist.
    if matches!(who, Principal::Anonymous) {
        return Err(ApiError::Unauthorized);
    }
    let thread = state.store.thread_get(id).await?;
    let forum = state.store.forum_get(thread.forum_id).await?;
    who.require(&state, Some(&forum), Power::ManageThreads).await?;
    let thread = threads::set_closed(&state.writes, id, closed).await?;
    Ok(axum::Json(ThreadView::new(&thread, forum.shortname.as_str())))
}
