//! A forum's webhooks and their delivery log: the forum's owners only.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use confab_core::id::Id;
use confab_core::input::{InputError, WebUrl};
use confab_core::jobs::EventKind;
use confab_store::{NewWebhook, Webhook};
use serde::Deserialize;

use crate::AppState;
use crate::auth::{Power, Principal};
use crate::error::ApiError;
use crate::extract::{Json, PathForum, Query};
use crate::views::errors::ErrorEnvelope;
use crate::views::webhooks::{AttemptLog, AttemptView, WebhookList, WebhookView};
use utoipa::IntoParams;
use utoipa::ToSchema;

/// Most webhooks one forum may have.
pub(crate) const MAX_WEBHOOKS: usize = 10;
const MAX_LOG_PAGE: u32 = 100;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateWebhook {
    /// http(s) URL of a public address
    url: String,
    /// Event names; all of them when left out.
    #[schema(value_type = Option<Vec<EventKind>>)]
    events: Option<Vec<String>>,
    /// Also sign with Disqus's `X-Hub-Signature: sha512=…`.
    #[serde(default)]
    #[schema(default = false)]
    hub_signature: bool,
}

async fn owned_forum(state: &AppState, who: &Principal, forum: &str) -> Result<confab_core::model::Forum, ApiError> {
    let forum = state.store.forum_by_shortname(forum).await?;
    who.require(state, Some(&forum), Power::ManageForum).await?;
    Ok(forum)
}

#[utoipa::path(
    post,
    path = "/api/v1/forums/{forum}/webhooks",
    operation_id = "createWebhook",
    summary = "Register a webhook: every delivery is a signed JSON POST (owners)",
    params(
        ("forum" = String, Path, description = "Forum shortname"),
    ),
    request_body = inline(CreateWebhook),
    responses(
        (status = 201, description = "The webhook, with its secret", body = WebhookView),
        (status = 401, description = "unauthorized", body = ErrorEnvelope),
        (status = 403, description = "forbidden: the account's role does not allow this", body = ErrorEnvelope),
        (status = 404, description = "forum_not_found", body = ErrorEnvelope),
        (status = 422, description = "invalid_input: a bad or non-public URL (forbidden_address), an unknown event, or more than 10 webhooks", body = ErrorEnvelope),
    ),
    security(("adminToken" = []), ("session" = [])),
)]
pub(crate) async fn create_webhook(
    State(state): State<AppState>,
    who: Principal,
    PathForum(forum): PathForum,
    Json(body): Json<CreateWebhook>,
) -> Result<impl IntoResponse, ApiError> {
    let forum = owned_forum(&state, &who, &forum).await?;
    let url = WebUrl::parse("url", &body.url)?;
    let parsed = url::Url::parse(url.as_str()).map_err(|_| InputError::new("url", "invalid_url", "not a URL"))?;
    state.outbound.policy().check_url(&parsed).map_err(|b| InputError::new("url", "forbidden_address", b.0))?;
    let events = match body.events {
        None => EventKind::ALL.to_vec(),
        Some(names) => {
            let mut events = names
                .iter()
                .map(|n| {
                    EventKind::parse(n).ok_or_else(|| {
                        let all: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
                        InputError::new("events", "unknown_event", format!("events are: {}", all.join(", ")))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            events.sort();
            events.dedup();
            if events.is_empty() {
                return Err(InputError::new("events", "empty", "name at least one event").into());
            }
            events
        }
    };
    if state.store.webhooks_list(forum.id).await?.len() >= MAX_WEBHOOKS {
        return Err(InputError::new("url", "too_many", format!("a forum has at most {MAX_WEBHOOKS} webhooks")).into());
    }
    let secret = format!("whsec_{}", confab_core::secret::Token::generate().expose());
    let new = NewWebhook { url, secret, events, hub_signature: body.hub_signature };
    let hook = state.store.webhook_create(forum.id, new, state.clock.now()).await?;
    tracing::info!(forum = %forum.id, webhook = %hook.id, "webhook created");
    Ok((StatusCode::CREATED, [(header::CACHE_CONTROL, "no-store")], axum::Json(WebhookView::from(&hook))))
}

#[utoipa::path(
    get,
    path = "/api/v1/forums/{forum}/webhooks",
    operation_id = "listWebhooks",
    summary = "The forum's webhooks with their signing secrets (owners)",
    params(
        ("forum" = String, Path, description = "Forum shortname"),
    ),
    responses(
        (status = 200, description = "Webhooks", body = inline(WebhookList)),
        (status = 401, description = "unauthorized", body = ErrorEnvelope),
        (status = 403, description = "forbidden: the account's role does not allow this", body = ErrorEnvelope),
        (status = 404, description = "forum_not_found", body = ErrorEnvelope),
    ),
    security(("adminToken" = []), ("session" = [])),
)]
pub(crate) async fn list_webhooks(
    State(state): State<AppState>,
    who: Principal,
    PathForum(forum): PathForum,
) -> Result<impl IntoResponse, ApiError> {
    let forum = owned_forum(&state, &who, &forum).await?;
    let hooks = state.store.webhooks_list(forum.id).await?;
    let body = WebhookList { webhooks: hooks.iter().map(WebhookView::from).collect() };
    Ok(([(header::CACHE_CONTROL, "no-store")], axum::Json(body)))
}

/// The webhook `id` of `forum`, or 404 (also for another forum's webhook).
async fn forum_webhook(state: &AppState, forum: &confab_core::model::Forum, id: Id) -> Result<Webhook, ApiError> {
    let hook = state.store.webhook_get(id).await?;
    if hook.forum_id != forum.id {
        return Err(confab_store::StoreError::WebhookNotFound.into());
    }
    Ok(hook)
}

#[utoipa::path(
    delete,
    path = "/api/v1/forums/{forum}/webhooks/{webhook}",
    operation_id = "deleteWebhook",
    summary = "Delete a webhook and its delivery log (owners)",
    params(
        ("forum" = String, Path, description = "Forum shortname"),
        ("webhook" = String, Path, description = "Webhook id"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "unauthorized", body = ErrorEnvelope),
        (status = 403, description = "forbidden: the account's role does not allow this", body = ErrorEnvelope),
        (status = 404, description = "forum_not_found, webhook_not_found", body = ErrorEnvelope),
    ),
    security(("adminToken" = []), ("session" = [])),
)]
pub(crate) async fn delete_webhook(
    State(state): State<AppState>,
    who: Principal,
    axum::extract::Path((forum, id)): axum::extract::Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let forum = owned_forum(&state, &who, &forum).await?;
    let id: Id = id.parse().map_err(|_| ApiError::InvalidId(id))?;
    state.store.webhook_delete(forum.id, id).await?;
    tracing::info!(forum = %forum.id, webhook = %id, "webhook deleted");
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct LogQuery {
    /// Continue from a previous page's `before`
    before: Option<i64>,
    #[param(minimum = 1, maximum = 100, default = 50)]
    limit: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/api/v1/forums/{forum}/webhooks/{webhook}/deliveries",
    operation_id = "listWebhookDeliveries",
    summary = "The webhook's delivery log, newest attempt first (owners)",
    params(
        ("forum" = String, Path, description = "Forum shortname"),
        ("webhook" = String, Path, description = "Webhook id"),
        LogQuery,
    ),
    responses(
        (status = 200, description = "Attempts", body = inline(AttemptLog)),
        (status = 401, description = "unauthorized", body = ErrorEnvelope),
        (status = 403, description = "forbidden: the account's role does not allow this", body = ErrorEnvelope),
        (status = 404, description = "forum_not_found, webhook_not_found", body = ErrorEnvelope),
    ),
    security(("adminToken" = []), ("session" = [])),
)]
pub(crate) async fn list_deliveries(
    State(state): State<AppState>,
    who: Principal,
    axum::extract::Path((forum, id)): axum::extract::Path<(String, String)>,
    Query(q): Query<LogQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let forum = owned_forum(&state, &who, &forum).await?;
    let id: Id = id.parse().map_err(|_| ApiError::InvalidId(id))?;
    let hook = forum_webhook(&state, &forum, id).await?;
    let limit = q.limit.unwrap_or(50).clamp(1, MAX_LOG_PAGE);
    let log = state.store.webhook_attempts(hook.id, q.before, limit).await?;
    let next = (log.len() as u32 == limit).then(|| log.last().map(|a| a.seq)).flatten();
    let body = AttemptLog { attempts: log.iter().map(AttemptView::from).collect(), before: next };
    Ok(([(header::CACHE_CONTROL, "no-store")], axum::Json(body)))
}
