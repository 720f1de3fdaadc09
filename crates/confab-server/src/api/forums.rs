//! Forums: create and list (the admin token or a global administrator), details
//! (public), settings, keys, roles and deletion (the forum's owners).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use confab_core::input::{DisplayName, InputError, MAX_ORIGINS, Origin, Shortname, Username};
use confab_core::model::{ForumPolicy, ForumUpdate, NewForum, Role};
use serde::Deserialize;

use crate::AppState;
use crate::auth::{Power, Principal};
use crate::error::ApiError;
use crate::extract::{Json, PathForum};
use crate::views::ForumView;
use crate::views::errors::ErrorEnvelope;
use crate::views::forums::{ForumDeleting, ForumList, KeysView, RoleGrant, RoleList, ViewerView};
use crate::writes::forums;
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateForum {
    #[schema(pattern = "^[a-z0-9][a-z0-9-]{1,63}$")]
    shortname: String,
    /// Defaults to the shortname.
    #[schema(max_length = 100)]
    name: Option<String>,
    #[serde(default)]
    #[schema(max_items = 50, example = json!(["https://blog.example.com"]))]
    origins: Vec<String>,
    #[serde(default)]
    policy: ForumPolicy,
    /// The owning account's username; defaults to the creating account (none when the
    /// admin token creates the forum).
    owner: Option<String>,
}

pub(crate) fn parse_origins(origins: &[String]) -> Result<Vec<Origin>, ApiError> {
    if origins.len() > MAX_ORIGINS {
        return Err(InputError::new("origins", "too_many", format!("at most {MAX_ORIGINS} origins")).into());
    }
    Ok(origins.iter().map(|o| Origin::parse(o)).collect::<Result<Vec<_>, _>>()?)
}

/// An account named in a request body or path; unknown names are the caller's mistake.
pub(crate) async fn named_account(
    state: &AppState,
    field: &'static str,
    name: &str,
) -> Result<confab_core::model::Account, ApiError> {
    let username =
        Username::parse(name).map_err(|_| InputError::new(field, "unknown_account", "no account has this username"))?;
    state
        .store
        .account_by_username(&username)
        .await?
        .ok_or_else(|| InputError::new(field, "unknown_account", "no account has this username").into())
}

#[utoipa::path(
    post,
    path = "/api/v1/forums",
    operation_id = "createForum",
    summary = "Create a forum",
    request_body = CreateForum,
    responses(
        (status = 201, description = "Created", body = ForumView),
        (status = 401, description = "Admin token missing or wrong", body = ErrorEnvelope),
        (status = 409, description = "forum_exists", body = ErrorEnvelope),
        (status = 422, description = "invalid_input / invalid_body", body = ErrorEnvelope),
        (status = 403, description = "forbidden: the account's role does not allow this", body = ErrorEnvelope),
    ),
    security(("adminToken" = []), ("session" = [])),
)]
pub(crate) async fn create_forum(
    State(state): State<AppState>,
    who: Principal,
    Json(body): Json<CreateForum>,
) -> Result<impl IntoResponse, ApiError> {
    who.require(&state, None, Power::Global).await?;
    let shortname = Shortname::parse(&body.shortname)?;
    let name = DisplayName::parse("name", body.name.as_deref().unwrap_or(&body.shortname))?;
    let origins = parse_origins(&body.origins)?;
    let owner = match &body.owner {
        Some(name) => Some(named_account(&state, "owner", name).await?.id),
        None => who.account().map(|a| a.id),
    };
    let policy = checked_policy(body.policy)?;
    let new = NewForum { shortname, name, origins, policy, owner };
    let forum = state.store.forum_create(new, state.clock.now()).await?;
    Ok((StatusCode::CREATED, axum::Json(ForumView::from(&forum))))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateForum {
    name: Option<String>,
    origins: Option<Vec<String>>,
    /// The policy fields to change; the others keep their values.
    policy: Option<serde_json::Map<String, serde_json::Value>>,
}

/// Most flags a forum can ask for before a post is held.
const MAX_FLAG_THRESHOLD: u32 = 1000;
/// Longest auto-close age: a hundred years.
const MAX_AUTO_CLOSE_DAYS: u32 = 36_500;

/// A policy as stored: word lists normalised, numbers within bounds.
pub(crate) fn checked_policy(mut p: ForumPolicy) -> Result<ForumPolicy, ApiError> {
    p.restricted_words = confab_core::rules::normalise("policy.restricted_words", &p.restricted_words)?;
    p.restricted_names = confab_core::rules::normalise("policy.restricted_names", &p.restricted_names)?;
    if p.flag_threshold > MAX_FLAG_THRESHOLD {
        return Err(InputError::new(
            "policy.flag_threshold",
            "out_of_range",
            format!("0 (flags never hide a post) to {MAX_FLAG_THRESHOLD}"),
        )
        .into());
    }
    if p.auto_close_days > MAX_AUTO_CLOSE_DAYS {
        return Err(InputError::new(
            "policy.auto_close_days",
            "out_of_range",
            format!("0 (never) to {MAX_AUTO_CLOSE_DAYS}"),
        )
        .into());
    }
    Ok(p)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeleteForum {
    /// The forum's shortname, typed again.
    confirm: String,
}

/// Deletes a forum with all its data (owners), confirmed by its shortname: from this
/// answer on no read finds it; its data goes in a background job (202, with the job).
#[utoipa::path(
    delete,
    path = "/api/v1/forums/{forum}",
    operation_id = "deleteForum",
    summary = "Delete the forum with all its threads, comments, votes, flags, settings, keys, team, bans and webhooks, for good (owners). From this answer on no read finds it; its data goes in a background job (forum_purge), whose last step waits until no process can still write to it; then the shortname is free again.",
    params(
        ("forum" = String, Path, description = "Forum shortname"),
    ),
    request_body = inline(DeleteForum),
    responses(
        (status = 202, description = "Deletion begun; Location names the purge job (/api/v1/jobs/{id}, for administrators)", body = inline(ForumDeleting)),
        (status = 401, description = "unauthorized", body = ErrorEnvelope),
        (status = 403, description = "forbidden (owners only)", body = ErrorEnvelope),
        (status = 404, description = "forum_not_found (also once a deletion has begun)", body = ErrorEnvelope),
        (status = 415, description = "unsupported_media_type", body = ErrorEnvelope),
        (status = 422, description = "invalid_input (reason confirmation_mismatch) / invalid_body", body = ErrorEnvelope),
    ),
    security(("adminToken" = []), ("session" = [])),
)]
pub(crate) async fn delete_forum(
    State(state): State<AppState>,
    who: Principal,
    PathForum(forum): PathForum,
    Json(body): Json<DeleteForum>,
) -> Result<impl IntoResponse, ApiError> {
    let forum = state.store.forum_by_shortname(&forum).await?;
    who.require(&state, Some(&forum), Power::ManageForum).await?;
    if !forum.deletion_confirmed(&body.confirm) {
        return Err(confirmation_mismatch(&forum).into());
    }
    let job = forums::delete(&state.writes, &forum).await?;
    Ok((
        StatusCode::ACCEPTED,
        [(axum::http::header::LOCATION, format!("/api/v1/jobs/{job}"))],
        axum::Json(ForumDeleting { forum: forum.shortname.to_string(), deleting: true, job }),
    ))
}

pub(crate) fn confirmation_mismatch(forum: &confab_core::model::Forum) -> InputError {
    InputError::new(
        "confirm",
        "confirmation_mismatch",
        format!(
            "type the forum's shortname, {:?}, to confirm that it and all its comments go",
            forum.shortname.as_str()
        ),
    )
}

/// Changes a forum's name, trusted origins or policy (owners).
#[utoipa::path(
    patch,
    path = "/api/v1/forums/{forum}",
    operation_id = "updateForum",
    summary = "Change the forum's name, trusted origins or policy (policy fields not sent keep their values)",
    params(
        ("forum" = String, Path, description = "Forum shortname"),
    ),
    request_body = inline(UpdateForum),
    responses(
        (status = 200, description = "The forum", body = ForumView),
        (status = 401, description = "unauthorized", body = ErrorEnvelope),
        (status = 403, description = "forbidden (owners only)", body = ErrorEnvelope),
        (status = 404, description = "forum_not_found", body = ErrorEnvelope),
        (status = 422, description = "invalid_input / invalid_body", body = ErrorEnvelope),
    ),
    security(("adminToken" = []), ("session" = [])),
)]
pub(crate) async fn update_forum(
    State(state): State<AppState>,
    who: Principal,
    PathForum(forum): PathForum,
    Json(body): Json<UpdateForum>,
) -> Result<impl IntoResponse, ApiError> {
    let forum = state.store.forum_by_shortname(&forum).await?;
    who.require(&state, Some(&forum), Power::ManageForum).await?;
    let name = body.name.as_deref().map(|n| DisplayName::parse("name", n)).transpose()?;
    let origins = body.origins.as_deref().map(parse_origins).transpose()?;
    let policy = match body.policy {
        None => None,
        Some(changes) => {
            let mut merged = serde_json::to_value(&forum.policy).expect("policy serialises");
            for (k, v) in changes {
                merged[k] = v;
            }
            Some(checked_policy(
                serde_json::from_value::<ForumPolicy>(merged)
                    .map_err(|e| ApiError::InvalidBody(format!("policy: {e}")))?,
            )?)
        }
    };
    let forum = forums::update(&state.writes, &forum, ForumUpdate { name, origins, policy }).await?;
    Ok(axum::Json(ForumView::from(&forum)))
}

#[utoipa::path(
    get,
    path = "/api/v1/forums/{forum}/roles",
    operation_id = "listRoles",
    summary = "Accounts with a role in the forum",
    params(
        ("forum" = String, Path, description = "Forum shortname"),
    ),
    responses(
        (status = 200, description = "Roles", body = inline(RoleList)),
        (status = 401, description = "unauthorized", body = ErrorEnvelope),
        (status = 403, description = "forbidden", body = ErrorEnvelope),
        (status = 404, description = "forum_not_found", body = ErrorEnvelope),
    ),
    security(("adminToken" = []), ("session" = [])),
)]
pub(crate) async fn list_roles(
    State(state): State<AppState>,
    who: Principal,
    PathForum(forum): PathForum,
) -> Result<impl IntoResponse, ApiError> {
    let forum = state.store.forum_by_shortname(&forum).await?;
    who.require(&state, Some(&forum), Power::ManageForum).await?;
    let roles = state.store.roles_list(forum.id).await?;
    let roles =
        roles.iter().map(|(a, r)| RoleGrant { username: a.username.to_string(), account: a.id, role: *r }).collect();
    Ok(([(axum::http::header::CACHE_CONTROL, "no-store")], axum::Json(RoleList { roles })))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetRole {
    role: Role,
}

#[utoipa::path(
    put,
    path = "/api/v1/forums/{forum}/roles/{username}",
    operation_id = "setRole",
    summary = "Grant a role (owner, moderator, trusted, member)",
    params(
        ("forum" = String, Path, description = "Forum shortname"),
        ("username" = String, Path, description = "The account's username"),
    ),
    request_body = inline(SetRole),
    responses(
        (status = 200, description = "Granted", body = RoleGrant),
        (status = 401, description = "unauthorized", body = ErrorEnvelope),
        (status = 403, description = "forbidden", body = ErrorEnvelope),
        (status = 404, description = "forum_not_found", body = ErrorEnvelope),
        (status = 409, description = "last_owner: a forum keeps at least one owner", body = ErrorEnvelope),
        (status = 422, description = "invalid_input (unknown_account) / invalid_body", body = ErrorEnvelope),
    ),
    security(("adminToken" = []), ("session" = [])),
)]
pub(crate) async fn set_role(
    State(state): State<AppState>,
    who: Principal,
    axum::extract::Path((forum, username)): axum::extract::Path<(String, String)>,
    Json(body): Json<SetRole>,
) -> Result<impl IntoResponse, ApiError> {
    let forum = state.store.forum_by_shortname(&forum).await?;
    who.require(&state, Some(&forum), Power::ManageForum).await?;
    let account = named_account(&state, "username", &username).await?;
    state.store.role_set(forum.id, account.id, Some(body.role), state.clock.now()).await?;
    tracing::info!(forum = %forum.id, account = %account.id, role = body.role.as_str(), "role granted");
    Ok(axum::Json(RoleGrant { username: account.username.to_string(), account: account.id, role: body.role }))
}

#[utoipa::path(
    delete,
    path = "/api/v1/forums/{forum}/roles/{username}",
    operation_id = "removeRole",
    summary = "Remove an account's role",
    params(
        ("forum" = String, Path, description = "Forum shortname"),
        ("username" = String, Path, description = "The account's username"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "unauthorized", body = ErrorEnvelope),
        (status = 403, description = "forbidden", body = ErrorEnvelope),
        (status = 404, description = "forum_not_found", body = ErrorEnvelope),
        (status = 409, description = "last_owner", body = ErrorEnvelope),
        (status = 422, description = "invalid_input (unknown_account)", body = ErrorEnvelope),
    ),
    security(("adminToken" = []), ("session" = [])),
)]
pub(crate) async fn remove_role(
    State(state): State<AppState>,
    who: Principal,
    axum::extract::Path((forum, username)): axum::extract::Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let forum = state.store.forum_by_shortname(&forum).await?;
    who.require(&state, Some(&forum), Power::ManageForum).await?;
    let account = named_account(&state, "username", &username).await?;
    state.store.role_set(forum.id, account.id, None, state.clock.now()).await?;
    tracing::info!(forum = %forum.id, account = %account.id, "role removed");
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/api/v1/forums",
    operation_id = "listForums",
    summary = "List forums",
    responses(
        (status = 200, description = "All forums", body = inline(ForumList)),
        (status = 401, description = "Admin token missing or wrong", body = ErrorEnvelope),
        (status = 403, description = "forbidden: the account's role does not allow this", body = ErrorEnvelope),
    ),
    security(("adminToken" = []), ("session" = [])),
)]
pub(crate) async fn list_forums(State(state): State<AppState>, who: Principal) -> Result<impl IntoResponse, ApiError> {
    who.require(&state, None, Power::Global).await?;
    let forums = state.store.forum_list().await?;
    Ok(axum::Json(ForumList { forums: forums.iter().map(ForumView::from).collect() }))
}

/// A forum's settings; the restricted lists only to its moderators.
#[utoipa::path(
    get,
    path = "/api/v1/forums/{forum}",
    operation_id = "getForum",
    summary = "Forum details",
    params(
        ("forum" = String, Path, description = "Forum shortname"),
    ),
    responses(
        (status = 200, description = "The forum", body = ForumView),
        (status = 404, description = "forum_not_found", body = ErrorEnvelope),
    ),
)]
pub(crate) async fn get_forum(
    State(state): State<AppState>,
    who: Principal,
    PathForum(forum): PathForum,
) -> Result<impl IntoResponse, ApiError> {
    let forum = state.store.forum_by_shortname(&forum).await?;
    let moderator =
        !matches!(who, Principal::Anonymous) && who.require(&state, Some(&forum), Power::Moderate).await.is_ok();
    Ok(axum::Json(if moderator { ForumView::from(&forum) } else { ForumView::public(&forum) }))
}

/// A forum's key pair as its administrator sees it. Never cached.
fn keys_view(k: &confab_core::model::ForumKeys) -> impl IntoResponse + use<> {
    ([(axum::http::header::CACHE_CONTROL, "no-store")], axum::Json(KeysView::from(k)))
}

#[utoipa::path(
    get,
    path = "/api/v1/forums/{forum}/keys",
    operation_id = "getForumKeys",
    summary = "The forum's API keys",
    params(
        ("forum" = String, Path, description = "Forum shortname"),
    ),
    responses(
        (status = 200, description = "Keys", body = KeysView),
        (status = 401, description = "unauthorized", body = ErrorEnvelope),
        (status = 404, description = "forum_not_found", body = ErrorEnvelope),
        (status = 403, description = "forbidden: the account's role does not allow this", body = ErrorEnvelope),
    ),
    security(("adminToken" = []), ("session" = [])),
)]
pub(crate) async fn get_keys(
    State(state): State<AppState>,
    who: Principal,
    PathForum(forum): PathForum,
) -> Result<impl IntoResponse, ApiError> {
    let forum = state.store.forum_by_shortname(&forum).await?;
    who.require(&state, Some(&forum), Power::ManageForum).await?;
    Ok(keys_view(&state.store.forum_keys(forum.id).await?))
}

/// New keys; the old ones (and every SSO payload signed with the old secret) stop
/// working at once.
#[utoipa::path(
    post,
    path = "/api/v1/forums/{forum}/keys/rotate",
    operation_id = "rotateForumKeys",
    summary = "Replace both keys; the old ones, and payloads signed with the old secret, stop working at once",
    params(
        ("forum" = String, Path, description = "Forum shortname"),
    ),
    responses(
        (status = 200, description = "The new keys", body = KeysView),
        (status = 401, description = "unauthorized", body = ErrorEnvelope),
        (status = 404, description = "forum_not_found", body = ErrorEnvelope),
        (status = 403, description = "forbidden: the account's role does not allow this", body = ErrorEnvelope),
    ),
    security(("adminToken" = []), ("session" = [])),
)]
pub(crate) async fn rotate_keys(
    State(state): State<AppState>,
    who: Principal,
    PathForum(forum): PathForum,
) -> Result<impl IntoResponse, ApiError> {
    let forum = state.store.forum_by_shortname(&forum).await?;
    who.require(&state, Some(&forum), Power::ManageForum).await?;
    let keys = forums::rotate_keys(&state.writes, &forum).await?;
    Ok(keys_view(&keys))
}

/// Who the request speaks for in this forum: a guest, an account, or the site's SSO
/// user. The widget asks once to show the signed-in state; a bad payload or session
/// is the same error a write would get.
#[utoipa::path(
    get,
    path = "/api/v1/forums/{forum}/me",
    operation_id = "whoAmI",
    summary = "Who the request speaks for in this forum: guest, account (session) or sso (payload)",
    params(
        ("forum" = String, Path, description = "Forum shortname"),
        ("X-Confab-SSO" = Option<String>, Header, description = "An SSO payload signed with the forum's secret key: Disqus remote_auth_s3 (\"<base64 JSON user> <hex HMAC-SHA1> <unix seconds>\") or an HS256 JWT. {} means logged out.", max_length = 8192),
        ("X-Confab-Api-Key" = Option<String>, Header, description = "The forum's public key; when sent, it must match"),
    ),
    responses(
        (status = 200, description = "The viewer", body = ViewerView),
        (status = 401, description = "invalid_session / invalid_sso", body = ErrorEnvelope),
        (status = 403, description = "invalid_api_key", body = ErrorEnvelope),
        (status = 404, description = "forum_not_found", body = ErrorEnvelope),
    ),
    security((), ("session" = [])),
)]
pub(crate) async fn whoami(
    State(state): State<AppState>,
    PathForum(forum): PathForum,
    crate::auth::Viewer(viewer): crate::auth::Viewer,
    headers: axum::http::HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    use crate::auth::Actor;
    let forum = state.store.forum_by_shortname(&forum).await?;
    let body = match crate::auth::actor(&state, &forum, viewer, &headers).await? {
        Actor::Guest => ViewerView::Guest,
        Actor::Account(me) => ViewerView::Account {
            id: me.account.id,
            name: me.account.username.to_string(),
            avatar_hash: me.account.email.avatar_hash(),
            avatar_url: None,
            url: None,
        },
        Actor::Sso(user) => ViewerView::Sso {
            name: user.name.to_string(),
            avatar_hash: user.email.as_ref().map(|e| e.avatar_hash()),
            avatar_url: user.avatar.as_ref().map(|u| u.to_string()),
            url: user.url.as_ref().map(|u| u.to_string()),
        },
    };
    Ok(([(axum::http::header::CACHE_CONTROL, "no-store")], axum::Json(body)))
}
