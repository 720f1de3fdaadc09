//! `GET /dashboard/{forum}/threads/{id}`: every post of a thread, with its controls;
//! `POST` there closes or reopens it.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use confab_core::id::Id;
use confab_core::model::{Forum, Thread};
use confab_store::PostSearch;
use serde::Serialize;

use super::cards::{CardInfo, PostList};
use super::gate::{Desk, DeskForm, ManageThreads, Moderate};
use super::{back_to, message, not_done};
use crate::AppState;
use crate::account_site::csrf_token;
use crate::error::ApiError;

#[derive(Serialize)]
struct ThreadView {
    url: Option<String>,
    posts: i64,
    /// Closed by hand or by the forum's age limit.
    closed: bool,
    /// Closed by hand (what the button undoes).
    closed_by_hand: bool,
    pinned: Option<String>,
}

/// The thread named in a path, if it is one of this forum's (another forum's thread is
/// not found here).
async fn thread_of(state: &AppState, forum: &Forum, raw: &str) -> Result<Option<Thread>, ApiError> {
    let Ok(id) = raw.parse::<Id>() else { return Ok(None) };
    match state.store.thread_get(id).await {
        Ok(t) if t.forum_id == forum.id => Ok(Some(t)),
        Ok(_) | Err(confab_store::StoreError::ThreadNotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn no_such_thread(forum: &Forum) -> Response {
    message(StatusCode::NOT_FOUND, "Not found", Some(forum), "No such thread here.")
}

pub(super) async fn page(
    State(state): State<AppState>,
    desk: Desk<Moderate>,
    Path((_, thread)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let Desk { me, forum, here, .. } = desk;
    let Some(thread) = thread_of(&state, &forum, &thread).await? else { return Ok(no_such_thread(&forum)) };
    let search = PostSearch { thread: Some(thread.id), limit: 100, ..Default::default() };
    let mut posts = state.store.moderation_queue(forum.id, &search).await?;
    posts.sort_by(|a, b| a.path.cmp(&b.path));
    let info = CardInfo::of(&state, &forum, &posts).await?;
    let view = ThreadView {
        url: thread.url.as_ref().map(|u| u.as_str().to_owned()),
        posts: thread.posts,
        closed: thread.closed || forum.policy.auto_closed(thread.created_at, state.clock.now()),
        closed_by_hand: thread.closed,
        pinned: thread.pinned.map(|p| p.to_string()),
    };
    let title = thread.title.as_ref().map_or_else(|| thread.identifier.to_string(), |t| t.to_string());
    let list = PostList::new(&forum, &posts, &info, csrf_token(&state, &me), here.clone());
    let ctx = minijinja::context! { thread => view, here, list };
    Ok(super::page(StatusCode::OK, "thread.html", &title, Some(&forum), "", ctx))
}

pub(super) async fn close_or_open(
    State(state): State<AppState>,
    Path((_, thread)): Path<(String, String)>,
    form: DeskForm<ManageThreads>,
) -> Result<Response, ApiError> {
    let DeskForm { forum, fields, .. } = form;
    let Some(thread) = thread_of(&state, &forum, &thread).await? else { return Ok(no_such_thread(&forum)) };
    let closed = match fields.one("action") {
        "close" => true,
        "open" => false,
        _ => return Ok(not_done(&forum, "Unknown action.")),
    };
    crate::writes::threads::set_closed(&state.writes, thread.id, closed).await?;
    Ok(back_to(&forum, &format!("/dashboard/{}/threads/{}", forum.shortname.as_str(), thread.id), None))
}
