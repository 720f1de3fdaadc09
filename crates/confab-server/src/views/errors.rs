//! The error envelope every failed request answers with: `{"error": {…}}`.

use serde::Serialize;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
#[schema(as = Error)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

/// A stable `code` (see `ApiError::meta`), a message for people, and for invalid input
/// the `field` and the `reason` it was refused; `error_id` names a server fault in the
/// server's log.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code
    pub code: &'static str,
    pub message: String,
    /// invalid_input: the field
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'static str>,
    /// invalid_input: empty, too_long, required, invalid_url, …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    /// 5xx: quote it when reporting
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_id: Option<String>,
}
