//! Thread subscriptions for signed-in readers (accounts with a confirmed address, SSO
//! users whose site gives one): mail about every new comment, throttled into digests.
//! Every such mail carries a one-click unsubscribe link (`/unsubscribe`).

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;

use crate::AppState;
use crate::auth::{Viewer, actor, check_origin};
use crate::error::ApiError;
use crate::extract::PathId;
use crate::views::answers::Subscribed;
use crate::views::errors::ErrorEnvelope;
use confab_core::id::Id;

/// The thread, its forum and the reader's address, or why there is none.
async fn context(
    state: &AppState,
    thread: confab_core::id::Id,
    viewer: Option<crate::auth::SignedIn>,
    headers: &HeaderMap,
) -> Result<(confab_core::model::Thread, confab_core::input::Email), ApiError> {
    let thread = state.store.thread_get(thread).await?;
    let forum = state.store.forum_get(thread.forum_id).await?;
    let me = actor(state, &forum, viewer, headers).await?;
    let email = me.email().ok_or(ApiError::LoginRequired)?;
    Ok((thread, email))
}

fn answer(subscribed: bool) -> impl IntoResponse {
    ([(header::CACHE_CONTROL, "no-store")], axum::Json(Subscribed { subscribed }))
}

#[utoipa::path(
    get,
    path = "/api/v1/threads/{thread}/subscription",
    operation_id = "getSubscription",
    summary = "Whether the signed-in reader gets mail about new comments in the thread",
    description = "Signed in with a session, or as the site's user with an X-Confab-SSO payload that carries an email.",
    params(
        ("thread" = Id, Path, description = "Thread id"),
    ),
    responses(
        (status = 200, description = "Whether the reader is subscribed", body = inline(Subscribed)),
        (status = 401, description = "login_required: an account with a confirmed address, or an SSO user with an email", body = ErrorEnvelope),
        (status = 404, description = "thread_not_found", body = ErrorEnvelope),
    ),
    security(("session" = [])),
)]
pub(crate) async fn get_subscription(
    State(state): State<AppState>,
    PathId(thread): PathId,
    Viewer(viewer): Viewer,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    let (thread, email) = context(&state, thread, viewer, &headers).await?;
    Ok(answer(state.store.subscription_exists(thread.id, &email).await?))
}

#[utoipa::path(
    put,
    path = "/api/v1/threads/{thread}/subscription",
    operation_id = "subscribe",
    summary = "Get mail about every new comment (throttled: one mail, then digests)",
    description = "Signed in with a session, or as the site's user with an X-Confab-SSO payload that carries an email.",
    params(
        ("thread" = Id, Path, description = "Thread id"),
    ),
    responses(
        (status = 200, description = "Whether the reader is subscribed", body = inline(Subscribed)),
        (status = 401, description = "login_required", body = ErrorEnvelope),
        (status = 403, description = "origin_not_allowed", body = ErrorEnvelope),
        (status = 404, description = "thread_not_found", body = ErrorEnvelope),
    ),
    security(("session" = [])),
)]
pub(crate) async fn subscribe(
    State(state): State<AppState>,
    PathId(thread): PathId,
    Viewer(viewer): Viewer,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    let forum_of = state.store.thread_get(thread).await?;
    check_origin(&state.store.forum_get(forum_of.forum_id).await?, &headers)?;
    let (thread, email) = context(&state, thread, viewer, &headers).await?;
    state.store.subscription_add(&thread, &email, state.clock.now()).await?;
    Ok(answer(true))
}

#[utoipa::path(
    delete,
    path = "/api/v1/threads/{thread}/subscription",
    operation_id = "unsubscribe",
    summary = "Stop mail about new comments in the thread",
    description = "Signed in with a session, or as the site's user with an X-Confab-SSO payload that carries an email.",
    params(
        ("thread" = Id, Path, description = "Thread id"),
    ),
    responses(
        (status = 200, description = "Whether the reader is subscribed", body = inline(Subscribed)),
        (status = 401, description = "login_required", body = ErrorEnvelope),
        (status = 403, description = "origin_not_allowed", body = ErrorEnvelope),
        (status = 404, description = "thread_not_found", body = ErrorEnvelope),
    ),
    security(("session" = [])),
)]
pub(crate) async fn unsubscribe(
    State(state): State<AppState>,
    PathId(thread): PathId,
    Viewer(viewer): Viewer,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    let forum_of = state.store.thread_get(thread).await?;
    check_origin(&state.store.forum_get(forum_of.forum_id).await?, &headers)?;
    let (thread, email) = context(&state, thread, viewer, &headers).await?;
    state.store.subscription_remove(thread.id, &email).await?;
    Ok(answer(false))
}
