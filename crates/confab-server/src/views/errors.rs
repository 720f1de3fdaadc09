//! The error envelope every failed request answers with: `{"error": {…}}`.

use serde::Serialize;

#[derive(Serialize)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

/// A stable `code` (see `ApiError::meta`), a message for people, and for invalid input
/// the `field` and the `reason` it was refused; `error_id` names a server fault in the
/// server's log.
#[derive(Serialize)]
pub struct ErrorBody {
    pub code: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_id: Option<String>,
}
