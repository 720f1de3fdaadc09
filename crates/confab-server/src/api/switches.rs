//! Feature switches for global administrators: the catalog with each switch's state,
//! one switch with its audit log, set, clear, and the whole log. The command line
//! (`confab switch`) does the same through the same checks.

use axum::extract::{Path, State};
use axum::response::IntoResponse;
use confab_core::switches::{self, Switch};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::AppState;
use crate::auth::{Power, Principal};
use crate::error::ApiError;
use crate::extract::{Json, Query};
use crate::live::SwitchError;
use crate::views::errors::ErrorEnvelope;
use crate::views::switches::{SwitchChangeView, SwitchDetail, SwitchList, SwitchLog, SwitchView};

/// Changes shown with one switch.
const DETAIL_LOG: u32 = 20;

impl From<SwitchError> for ApiError {
    fn from(e: SwitchError) -> Self {
        match e {
            SwitchError::Invalid(e) => e.into(),
            SwitchError::Store(e) => e.into(),
        }
    }
}

/// How the audit log names who made a change: never an e-mail or a token.
fn by(who: &Principal) -> String {
    match who.account() {
        Some(a) => format!("account:{}", a.username),
        None => "admin-token".into(),
    }
}

fn view(state: &AppState, key: &str) -> Result<SwitchView, ApiError> {
    let known = crate::live::known(key)?;
    Ok(SwitchView::new(known, state.live.snapshot().get(key), state.live.on(key)))
}

#[utoipa::path(
    get,
    path = "/api/v1/switches",
    operation_id = "listSwitches",
    summary = "Every feature switch, with how it is set (global administrators)",
    responses(
        (status = 200, description = "The switches", body = SwitchList),
        (status = 401, description = "unauthorized", body = ErrorEnvelope),
        (status = 403, description = "forbidden: the account's role does not allow this", body = ErrorEnvelope),
    ),
    security(("adminToken" = []), ("session" = [])),
)]
pub(crate) async fn list_switches(
    State(state): State<AppState>,
    who: Principal,
) -> Result<impl IntoResponse, ApiError> {
    who.require(&state, None, Power::Global).await?;
    let snap = state.live.snapshot();
    let switches =
        switches::CATALOG.iter().map(|k| SwitchView::new(k, snap.get(k.key), state.live.on(k.key))).collect();
    Ok(axum::Json(SwitchList { switches }))
}

#[utoipa::path(
    get,
    path = "/api/v1/switches/{key}",
    operation_id = "getSwitch",
    summary = "One feature switch and its latest changes (global administrators)",
    params(("key" = String, Path, description = "The switch's key, e.g. signups")),
    responses(
        (status = 200, description = "The switch", body = SwitchDetail),
        (status = 401, description = "unauthorized", body = ErrorEnvelope),
        (status = 403, description = "forbidden: the account's role does not allow this", body = ErrorEnvelope),
        (status = 422, description = "invalid_input: no such switch (reason unknown_switch)", body = ErrorEnvelope),
    ),
    security(("adminToken" = []), ("session" = [])),
)]
pub(crate) async fn get_switch(
    State(state): State<AppState>,
    who: Principal,
    Path(key): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    who.require(&state, None, Power::Global).await?;
    let switch = view(&state, &key)?;
    let log = state.live.log(Some(&key), DETAIL_LOG).await?.iter().map(SwitchChangeView::from).collect();
    Ok(axum::Json(SwitchDetail { switch, log }))
}

#[utoipa::path(
    put,
    path = "/api/v1/switches/{key}",
    operation_id = "setSwitch",
    summary = "Set a feature switch (global administrators); every process follows within a second",
    description = "`selective` needs an `include` condition; the other states take none. `exclude` wins over `include`. Setting what is already set changes nothing and logs nothing.",
    params(("key" = String, Path, description = "The switch's key, e.g. signups")),
    request_body = Switch,
    responses(
        (status = 200, description = "The switch as it is now, with its latest changes", body = SwitchDetail),
        (status = 401, description = "unauthorized", body = ErrorEnvelope),
        (status = 403, description = "forbidden: the account's role does not allow this", body = ErrorEnvelope),
        (status = 422, description = "invalid_input (unknown_switch, no_conditions, conditions_unused, invalid_percent, …) / invalid_body", body = ErrorEnvelope),
    ),
    security(("adminToken" = []), ("session" = [])),
)]
pub(crate) async fn set_switch(
    State(state): State<AppState>,
    who: Principal,
    Path(key): Path<String>,
    Json(body): Json<Switch>,
) -> Result<impl IntoResponse, ApiError> {
    who.require(&state, None, Power::Global).await?;
    state.live.set(&key, Some(body), &by(&who), state.clock.now()).await?;
    get_switch(State(state), who, Path(key)).await
}

#[utoipa::path(
    delete,
    path = "/api/v1/switches/{key}",
    operation_id = "clearSwitch",
    summary = "Clear a feature switch back to its default (global administrators)",
    params(("key" = String, Path, description = "The switch's key, e.g. signups")),
    responses(
        (status = 200, description = "The switch as it is now, with its latest changes", body = SwitchDetail),
        (status = 401, description = "unauthorized", body = ErrorEnvelope),
        (status = 403, description = "forbidden: the account's role does not allow this", body = ErrorEnvelope),
        (status = 422, description = "invalid_input: no such switch (reason unknown_switch)", body = ErrorEnvelope),
    ),
    security(("adminToken" = []), ("session" = [])),
)]
pub(crate) async fn clear_switch(
    State(state): State<AppState>,
    who: Principal,
    Path(key): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    who.require(&state, None, Power::Global).await?;
    state.live.set(&key, None, &by(&who), state.clock.now()).await?;
    get_switch(State(state), who, Path(key)).await
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct LogQuery {
    /// Changes at most, newest first
    #[param(minimum = 1, maximum = 1000, default = 100)]
    limit: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/api/v1/switch-changes",
    operation_id = "switchLog",
    summary = "Every change to the feature switches, newest first (global administrators)",
    params(LogQuery),
    responses(
        (status = 200, description = "The audit log", body = SwitchLog),
        (status = 401, description = "unauthorized", body = ErrorEnvelope),
        (status = 403, description = "forbidden: the account's role does not allow this", body = ErrorEnvelope),
    ),
    security(("adminToken" = []), ("session" = [])),
)]
pub(crate) async fn switch_log(
    State(state): State<AppState>,
    who: Principal,
    Query(q): Query<LogQuery>,
) -> Result<impl IntoResponse, ApiError> {
    who.require(&state, None, Power::Global).await?;
    let limit = q.limit.unwrap_or(100).clamp(1, crate::live::MAX_LOG);
    let log = state.live.log(None, limit).await?.iter().map(SwitchChangeView::from).collect();
    Ok(axum::Json(SwitchLog { log }))
}
