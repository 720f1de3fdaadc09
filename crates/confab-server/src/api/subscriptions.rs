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

pub(crate) async fn get_subscription(
    State(state): State<AppState>,
    PathId(thread): PathId,
    Viewer(viewer): Viewer,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    let (thread, email) = context(&state, thread, viewer, &headers).await?;
    Ok(answer(state.store.subscription_exists(thread.id, &email).await?))
}

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
