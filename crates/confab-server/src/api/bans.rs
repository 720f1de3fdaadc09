//! Bans and timeouts: a forum's moderators bar an account, an address, a whole email
//! domain or an IP network from posting there, for good or for a while.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use confab_core::id::Id;
use confab_core::model::Forum;
use serde::Deserialize;

use crate::AppState;
use crate::auth::{Power, Principal};
use crate::error::ApiError;
use crate::extract::{Json, PathForum};
use crate::views::answers::{BanList, BanView};
use crate::writes::bans;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BanInput {
    /// `account` (a username), `email`, `domain` or `ip` (an address or a CIDR network).
    kind: String,
    value: String,
    reason: Option<String>,
    /// A timeout: lifted by itself after this many seconds. Left out: until lifted.
    duration_secs: Option<u64>,
    /// A shadow ban: the reader's posts are taken but shown only to them.
    #[serde(default)]
    shadow: bool,
}

async fn moderated_forum(state: &AppState, who: &Principal, forum: &str) -> Result<Forum, ApiError> {
    let forum = state.store.forum_by_shortname(forum).await?;
    who.require(state, Some(&forum), Power::Moderate).await?;
    Ok(forum)
}

pub(crate) async fn create_ban(
    State(state): State<AppState>,
    who: Principal,
    PathForum(forum): PathForum,
    Json(body): Json<BanInput>,
) -> Result<impl IntoResponse, ApiError> {
    let forum = moderated_forum(&state, &who, &forum).await?;
    let by = who.moderator().ok_or(ApiError::Unauthorized)?;
    let ban =
        bans::create(&state.writes, &forum, by, &body.kind, &body.value, body.reason, body.duration_secs, body.shadow)
            .await?;
    Ok((StatusCode::CREATED, [(header::CACHE_CONTROL, "no-store")], axum::Json(BanView::from(&ban))))
}

pub(crate) async fn list_bans(
    State(state): State<AppState>,
    who: Principal,
    PathForum(forum): PathForum,
) -> Result<impl IntoResponse, ApiError> {
    let forum = moderated_forum(&state, &who, &forum).await?;
    let bans = state.store.bans_list(forum.id, state.clock.now()).await?;
    Ok(([(header::CACHE_CONTROL, "no-store")], axum::Json(BanList { bans: bans.iter().map(BanView::from).collect() })))
}

pub(crate) async fn delete_ban(
    State(state): State<AppState>,
    who: Principal,
    axum::extract::Path((forum, id)): axum::extract::Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let forum = moderated_forum(&state, &who, &forum).await?;
    let id: Id = id.parse().map_err(|_| ApiError::InvalidId(id))?;
    bans::lift(&state.writes, &forum, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
