//! The health check and the OpenAPI document.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;

use crate::AppState;
use crate::error::ApiError;

/// The OpenAPI 3.1 document of API v1, kept beside the code and checked against the
/// router by the tests.
pub const OPENAPI_JSON: &str = include_str!("../../openapi.json");

pub(crate) async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON)
}

pub(crate) async fn health(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    // The store says whether it can take writes (a cheap read, and what it can tell of
    // its storage: a database file gone, a full or read-only disk).
    state.store.health().await?;
    Ok((StatusCode::OK, axum::Json(crate::views::answers::Health { status: "ok" })))
}
