//! Forums: create (admin), list (admin), details (public).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use confab_core::input::{DisplayName, InputError, MAX_ORIGINS, Origin, Shortname};
use confab_core::model::{ForumPolicy, NewForum};
use serde::Deserialize;

use crate::AppState;
use crate::auth::Admin;
use crate::error::ApiError;
use crate::extract::{Json, PathForum};
use crate::views::ForumView;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateForum {
    shortname: String,
    /// Defaults to the shortname.
    name: Option<String>,
    #[serde(default)]
    origins: Vec<String>,
    #[serde(default)]
    policy: ForumPolicy,
}

pub(crate) async fn create_forum(
    State(state): State<AppState>,
    _: Admin,
    Json(body): Json<CreateForum>,
) -> Result<impl IntoResponse, ApiError> {
    let shortname = Shortname::parse(&body.shortname)?;
    let name = DisplayName::parse("name", body.name.as_deref().unwrap_or(&body.shortname))?;
    if body.origins.len() > MAX_ORIGINS {
        return Err(InputError::new("origins", "too_many", format!("at most {MAX_ORIGINS} origins")).into());
    }
    let origins = body.origins.iter().map(|o| Origin::parse(o)).collect::<Result<Vec<_>, _>>()?;
    let forum =
        state.store.forum_create(NewForum { shortname, name, origins, policy: body.policy }, state.clock.now()).await?;
    Ok((StatusCode::CREATED, axum::Json(ForumView::from(&forum))))
}

pub(crate) async fn list_forums(State(state): State<AppState>, _: Admin) -> Result<impl IntoResponse, ApiError> {
    let forums = state.store.forum_list().await?;
    Ok(axum::Json(serde_json::json!({ "forums": forums.iter().map(ForumView::from).collect::<Vec<_>>() })))
}

pub(crate) async fn get_forum(
    State(state): State<AppState>,
    PathForum(forum): PathForum,
) -> Result<impl IntoResponse, ApiError> {
    let forum = state.store.forum_by_shortname(&forum).await?;
    Ok(axum::Json(ForumView::from(&forum)))
}

/// A forum's key pair as its administrator sees it. Never cached.
fn keys_view(k: &confab_core::model::ForumKeys) -> impl IntoResponse + use<> {
    (
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        axum::Json(serde_json::json!({
            "public_key": k.public_key,
            "secret_key": k.secret_key,
            "rotated_at": crate::views::rfc3339(k.rotated_at),
        })),
    )
}

pub(crate) async fn get_keys(
    State(state): State<AppState>,
    _: Admin,
    PathForum(forum): PathForum,
) -> Result<impl IntoResponse, ApiError> {
    let forum = state.store.forum_by_shortname(&forum).await?;
    Ok(keys_view(&state.store.forum_keys(forum.id).await?))
}

/// New keys; the old ones (and every SSO payload signed with the old secret) stop
/// working at once.
pub(crate) async fn rotate_keys(
    State(state): State<AppState>,
    _: Admin,
    PathForum(forum): PathForum,
) -> Result<impl IntoResponse, ApiError> {
    let forum = state.store.forum_by_shortname(&forum).await?;
    let keys = confab_core::model::ForumKeys::generate(state.clock.now());
    let keys = state.store.forum_keys_rotate(forum.id, keys).await?;
    tracing::info!(forum = %forum.id, "forum keys rotated");
    Ok(keys_view(&keys))
}

/// Who the request speaks for in this forum: a guest, an account, or the site's SSO
/// user. The widget asks once to show the signed-in state; a bad payload or session
/// is the same error a write would get.
pub(crate) async fn whoami(
    State(state): State<AppState>,
    PathForum(forum): PathForum,
    crate::auth::Viewer(viewer): crate::auth::Viewer,
    headers: axum::http::HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    use crate::auth::Actor;
    let forum = state.store.forum_by_shortname(&forum).await?;
    let body = match crate::auth::actor(&state, &forum, viewer, &headers).await? {
        Actor::Guest => serde_json::json!({ "kind": "guest" }),
        Actor::Account(me) => serde_json::json!({
            "kind": "account",
            "name": me.account.username.as_str(),
            "avatar_hash": me.account.email.avatar_hash(),
            "avatar_url": null,
            "url": null,
        }),
        Actor::Sso(user) => serde_json::json!({
            "kind": "sso",
            "name": user.name.as_str(),
            "avatar_hash": user.email.as_ref().map(|e| e.avatar_hash()),
            "avatar_url": user.avatar.as_ref().map(|u| u.as_str()),
            "url": user.url.as_ref().map(|u| u.as_str()),
        }),
    };
    Ok(([(axum::http::header::CACHE_CONTROL, "no-store")], axum::Json(body)))
}
