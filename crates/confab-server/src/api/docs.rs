//! The health check and the OpenAPI document.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;

use crate::AppState;
use crate::error::ApiError;
use crate::views::errors::ErrorEnvelope;

/// The OpenAPI 3.1 document of API v1, generated once per process from the router
/// (`openapi.json` beside the crate is the same text, kept for readers and diffs and
/// checked by a test).
pub fn openapi_json() -> &'static str {
    static DOC: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let mut text = super::openapi().to_pretty_json().expect("the document serialises");
        text.push('\n');
        text
    });
    &DOC
}

#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    operation_id = "openapi",
    summary = "This document",
    responses(
        (status = 200, description = "The OpenAPI document", body = serde_json::Value),
    ),
)]
pub(crate) async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], openapi_json())
}

#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "health",
    summary = "Health check (the store answers)",
    responses(
        (status = 200, description = "Healthy", body = inline(crate::views::answers::Health)),
        (status = 503, description = "Storage unavailable", body = ErrorEnvelope),
    ),
)]
pub(crate) async fn health(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    // The store says whether it can take writes (a cheap read, and what it can tell of
    // its storage: a database file gone, a full or read-only disk).
    state.store.health().await?;
    Ok((StatusCode::OK, axum::Json(crate::views::answers::Health { status: "ok" })))
}
