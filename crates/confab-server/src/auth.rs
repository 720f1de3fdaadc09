//! Credentials a request can carry in this release: the admin bearer token, a post's
//! edit token, a voter token. (Accounts, sessions and forum keys arrive with the
//! identity issue.)

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use confab_core::secret::Token;

use crate::AppState;
use crate::error::ApiError;

pub const EDIT_TOKEN_HEADER: &str = "x-confab-edit-token";
pub const VOTER_TOKEN_HEADER: &str = "x-confab-voter";

/// Proof that the request carries the admin token.
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let presented = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .and_then(|t| Token::from_client(t.trim()))
            .ok_or(ApiError::Unauthorized)?;
        // Constant-time comparison of the hashes.
        if state.admin_token.matches(&presented.hash()) { Ok(Admin) } else { Err(ApiError::Unauthorized) }
    }
}

/// A token from a header, if present and well-formed.
pub fn header_token(headers: &HeaderMap, name: &str) -> Option<Token> {
    headers.get(name).and_then(|v| v.to_str().ok()).and_then(Token::from_client)
}
