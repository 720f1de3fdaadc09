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

/// The client's network address for rate limits (see `ratelimit::client_ip`); `None`
/// when the server was not given connection info (in-process tests).
pub struct ClientIp(pub Option<std::net::IpAddr>);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0);
        Ok(ClientIp(crate::ratelimit::client_ip(peer, &parts.headers, &state.settings.rate_limits.trusted_proxies)))
    }
}

impl ClientIp {
    /// Counts a request against a per-network limit; 429 when over.
    pub fn limit(
        &self,
        state: &AppState,
        key: impl FnOnce(std::net::IpAddr) -> crate::ratelimit::Key,
        quota: crate::ratelimit::Quota,
    ) -> Result<(), ApiError> {
        match self.0 {
            Some(ip) => state
                .limiter
                .check(key(crate::ratelimit::network(ip)), quota, state.clock.now())
                .map_err(ApiError::RateLimited),
            None => Ok(()),
        }
    }
}

/// The forum's trusted origins guard writes from browsers. Browsers send `Origin` with
/// every cross-origin write (and same-origin POSTs); a request without one is not from
/// a browser page and passes. A forum that lists no origins accepts any (the default
/// until an owner lists theirs). `Origin: null` (sandboxed frames, files) never matches.
pub fn check_origin(forum: &confab_core::model::Forum, headers: &HeaderMap) -> Result<(), ApiError> {
    if forum.origins.is_empty() {
        return Ok(());
    }
    let Some(sent) = headers.get(axum::http::header::ORIGIN) else {
        return Ok(());
    };
    let allowed = sent
        .to_str()
        .ok()
        .and_then(|s| confab_core::input::Origin::parse(s).ok())
        .is_some_and(|o| forum.origins.contains(&o));
    if allowed { Ok(()) } else { Err(ApiError::OriginNotAllowed) }
}

/// The same check for a write that names a post: the forum is read only when the
/// request carries an `Origin`, so non-browser writes cost no extra statement.
pub async fn check_origin_of(
    state: &AppState,
    forum_id: confab_core::id::Id,
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    if headers.contains_key(axum::http::header::ORIGIN) {
        let forum = state.store.forum_get(forum_id).await?;
        check_origin(&forum, headers)?;
    }
    Ok(())
}
