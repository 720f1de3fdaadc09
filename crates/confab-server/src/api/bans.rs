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
use crate::views::errors::ErrorEnvelope;
use crate::writes::bans;
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BanInput {
    /// `account` (a username), `email`, `domain` or `ip` (an address or a CIDR network).
    #[schema(schema_with = crate::views::answers::ban_kinds)]
    kind: String,
    value: String,
    #[schema(max_length = 500)]
    reason: Option<String>,
    /// A timeout: lifted by itself after this many seconds. Left out: until lifted.
    #[schema(minimum = 1, maximum = 315360000)]
    duration_secs: Option<u64>,
    /// A shadow ban: the reader's posts are taken (they look approved to them) but
    /// nobody else sees them; their votes and flags are dropped.
    #[serde(default)]
    #[schema(default = false)]
    shadow: bool,
}

async fn moderated_forum(state: &AppState, who: &Principal, forum: &str) -> Result<Forum, ApiError> {
    let forum = state.store.forum_by_shortname(forum).await?;
    who.require(state, Some(&forum), Power::Moderate).await?;
    Ok(forum)
}

#[utoipa::path(
    post,
    path = "/api/v1/forums/{forum}/bans",
    operation_id = "createBan",
    summary = "Bar an account (username), an address, an email domain or an IP network from posting; with duration_secs, a timeout",
    params(
        ("forum" = String, Path, description = "Forum shortname"),
    ),
    request_body = inline(BanInput),
    responses(
        (status = 201, description = "The ban", body = BanView),
        (status = 401, description = "unauthorized", body = ErrorEnvelope),
        (status = 403, description = "forbidden: not a moderator of the forum", body = ErrorEnvelope),
        (status = 404, description = "forum_not_found", body = ErrorEnvelope),
        (status = 422, description = "invalid_input: unknown_kind, unknown_account, invalid_domain, invalid_network, out_of_range", body = ErrorEnvelope),
    ),
    security(("session" = []), ("secretKey" = []), ("adminToken" = [])),
)]
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

#[utoipa::path(
    get,
    path = "/api/v1/forums/{forum}/bans",
    operation_id = "listBans",
    summary = "The forum's bans and timeouts in force",
    params(
        ("forum" = String, Path, description = "Forum shortname"),
    ),
    responses(
        (status = 200, description = "Bans", body = inline(BanList)),
        (status = 401, description = "unauthorized", body = ErrorEnvelope),
        (status = 403, description = "forbidden: not a moderator of the forum", body = ErrorEnvelope),
        (status = 404, description = "forum_not_found", body = ErrorEnvelope),
    ),
    security(("session" = []), ("secretKey" = []), ("adminToken" = [])),
)]
pub(crate) async fn list_bans(
    State(state): State<AppState>,
    who: Principal,
    PathForum(forum): PathForum,
) -> Result<impl IntoResponse, ApiError> {
    let forum = moderated_forum(&state, &who, &forum).await?;
    let bans = state.store.bans_list(forum.id, state.clock.now()).await?;
    Ok(([(header::CACHE_CONTROL, "no-store")], axum::Json(BanList { bans: bans.iter().map(BanView::from).collect() })))
}

#[utoipa::path(
    delete,
    path = "/api/v1/forums/{forum}/bans/{ban}",
    operation_id = "deleteBan",
    summary = "Lift a ban",
    params(
        ("forum" = String, Path, description = "Forum shortname"),
        ("ban" = String, Path, description = "Ban id"),
    ),
    responses(
        (status = 204, description = "Lifted"),
        (status = 401, description = "unauthorized", body = ErrorEnvelope),
        (status = 403, description = "forbidden: not a moderator of the forum", body = ErrorEnvelope),
        (status = 404, description = "forum_not_found, ban_not_found", body = ErrorEnvelope),
    ),
    security(("session" = []), ("secretKey" = []), ("adminToken" = [])),
)]
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
