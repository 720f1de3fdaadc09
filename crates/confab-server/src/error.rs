//! Errors at the HTTP edge. Each [`ApiError`] variant has one status and one stable
//! machine code; the body is always `{"error": {"code", "message", ...}}`.
//!
//! Which error type belongs where: `confab_core::input::InputError` for a field that
//! does not parse, `confab_store::StoreError` from storage; both convert into
//! `ApiError` here, and handlers return `Result<_, ApiError>`. Server faults answer
//! only "internal error" and an error id; the cause rides in the response's extensions
//! ([`ErrorCause`]) and `middleware::observe` logs it once, with that id and the route.

use crate::views::errors::{ErrorBody, ErrorEnvelope};
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use confab_core::cursor::CursorError;
use confab_core::input::InputError;
use confab_store::StoreError;

/// The longest path and query Confab reads (what common proxies allow in a request line);
/// longer ones answer `414 uri_too_long` in the JSON envelope. (Past 64 KiB the HTTP layer
/// refuses the request line itself, with a bare 414.)
pub const MAX_URI_BYTES: usize = 8 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the body is not JSON.
    #[error("the request body is not valid JSON: {0}")]
    MalformedJson(String),
    /// 415: the body is not declared as JSON.
    #[error("the request body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    /// 413: the body exceeds the limit.
    #[error("the request body is larger than {0} bytes")]
    BodyTooLarge(usize),
    /// 414: a request line longer than [`MAX_URI_BYTES`].
    #[error("the address is too long: at most {} bytes of path and query", MAX_URI_BYTES)]
    UriTooLong,
    /// 422: JSON of the wrong shape (types, missing or unknown fields).
    #[error("{0}")]
    InvalidBody(String),
    /// 422: a field that does not parse.
    #[error(transparent)]
    InvalidInput(#[from] InputError),
    /// 400: a query parameter that does not parse.
    #[error("{0}")]
    InvalidQuery(String),
    /// 400: an `X-Confab-Edit-Tokens` header that does not parse.
    #[error("X-Confab-Edit-Tokens: {0}")]
    InvalidEditTokens(String),
    /// 400: an id in the path that is not an id.
    #[error("{0:?} is not a valid id")]
    InvalidId(String),
    /// 400: a cursor that does not check out.
    #[error("invalid cursor: {0}")]
    InvalidCursor(CursorError),
    /// 401: credentials for this action missing or wrong.
    #[error("valid credentials are required (Authorization: Bearer <admin token, session token or secret key>)")]
    Unauthorized,
    /// 403: signed in, but without the role this needs in this forum.
    #[error("your role does not allow this here")]
    Forbidden,
    /// 403: edit token missing or wrong (and not the author's session either).
    #[error("only the author may change this post: send its edit token (X-Confab-Edit-Token) or sign in as the author")]
    InvalidEditToken,
    /// 401: a bearer token that names no live session (expired, revoked, unknown).
    #[error("the session has expired or was ended: sign in again")]
    InvalidSession,
    /// 401: the action needs a signed-in account.
    #[error("sign in to do this (Authorization: Bearer <session token>)")]
    LoginRequired,
    /// 403: a reader credential (the widget's, held by the embedding site) used for
    /// what only the account's own session may do.
    #[error("this sign-in is for commenting on one site only: manage your account on Confab's account page")]
    ReaderCredential,
    /// 403: a reader credential used in a forum it was not handed to.
    #[error("this sign-in is for another site's comments: log in again here")]
    CredentialForOtherForum,
    /// 401: wrong username/email or password (never says which).
    #[error("the username or email and password do not match an account")]
    InvalidCredentials,
    /// 403: the right password, but the address is not confirmed yet.
    #[error("confirm your email address first: we have sent a new link")]
    EmailNotVerified,
    /// 401: an SSO payload that does not verify (forged, expired, malformed, another
    /// forum's).
    #[error("{0}")]
    InvalidSso(confab_core::sso::SsoError),
    /// 403: an API key that is not the forum's.
    #[error("the API key is not this forum's public key")]
    InvalidApiKey,
    /// 403: the forum takes no votes, or not from this reader.
    #[error("{0}")]
    VotingNotAllowed(&'static str),
    /// 403: the edit window has passed.
    #[error("posts can be edited or deleted only within {0} seconds of posting")]
    EditWindowClosed(u64),
    /// 403: the forum does not accept guest posts.
    #[error("this forum does not accept posts from guests")]
    GuestsNotAllowed,
    /// 403: the poster is banned from the forum (or timed out); the message says until when.
    #[error("{0}")]
    Banned(String),
    /// 403: the forum is read-only for now (no posts, edits, votes or flags).
    #[error("this forum is read-only: comments are closed for now")]
    ReadOnly,
    /// 403: sign-ups are switched off (the `signups` switch).
    #[error("new accounts cannot be made right now: sign-ups are closed")]
    SignupsClosed,
    /// 403: a browser write from a site the forum does not list.
    #[error("this forum accepts comments only from its own sites (Origin not in the forum's origins)")]
    OriginNotAllowed,
    /// 429: a rate limit; the wait in milliseconds.
    #[error("too many requests: try again in {}", seconds(.0.div_ceil(1000)))]
    RateLimited(u64),
    /// 404: no route.
    #[error("no such endpoint")]
    RouteNotFound,
    /// 405
    #[error("method not allowed for this endpoint")]
    MethodNotAllowed,
    /// 404 / 409 / 422 / 503 / 500 from storage.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ApiError {
    /// The one table of statuses and codes: each variant's HTTP status and the stable
    /// machine-readable code clients switch on, side by side, so they cannot drift.
    fn meta(&self) -> (StatusCode, &'static str) {
        use StatusCode as H;
        use StoreError as S;
        match self {
            ApiError::MalformedJson(_) => (H::BAD_REQUEST, "malformed_json"),
            ApiError::UnsupportedMediaType => (H::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            ApiError::BodyTooLarge(_) => (H::PAYLOAD_TOO_LARGE, "body_too_large"),
            ApiError::UriTooLong => (H::URI_TOO_LONG, "uri_too_long"),
            ApiError::InvalidBody(_) => (H::UNPROCESSABLE_ENTITY, "invalid_body"),
            ApiError::InvalidInput(_) => (H::UNPROCESSABLE_ENTITY, "invalid_input"),
            ApiError::InvalidQuery(_) => (H::BAD_REQUEST, "invalid_query"),
            ApiError::InvalidEditTokens(_) => (H::BAD_REQUEST, "invalid_edit_tokens"),
            ApiError::InvalidId(_) => (H::BAD_REQUEST, "invalid_id"),
            ApiError::InvalidCursor(_) => (H::BAD_REQUEST, "invalid_cursor"),
            ApiError::Unauthorized => (H::UNAUTHORIZED, "unauthorized"),
            ApiError::InvalidEditToken => (H::FORBIDDEN, "invalid_edit_token"),
            ApiError::Forbidden => (H::FORBIDDEN, "forbidden"),
            ApiError::InvalidSession => (H::UNAUTHORIZED, "invalid_session"),
            ApiError::LoginRequired => (H::UNAUTHORIZED, "login_required"),
            ApiError::ReaderCredential => (H::FORBIDDEN, "reader_credential"),
            ApiError::CredentialForOtherForum => (H::FORBIDDEN, "credential_for_other_forum"),
            ApiError::InvalidCredentials => (H::UNAUTHORIZED, "invalid_credentials"),
            ApiError::EmailNotVerified => (H::FORBIDDEN, "email_not_verified"),
            ApiError::VotingNotAllowed(_) => (H::FORBIDDEN, "voting_not_allowed"),
            ApiError::InvalidSso(_) => (H::UNAUTHORIZED, "invalid_sso"),
            ApiError::InvalidApiKey => (H::FORBIDDEN, "invalid_api_key"),
            ApiError::EditWindowClosed(_) => (H::FORBIDDEN, "edit_window_closed"),
            ApiError::GuestsNotAllowed => (H::FORBIDDEN, "guests_not_allowed"),
            ApiError::RateLimited(_) => (H::TOO_MANY_REQUESTS, "rate_limited"),
            ApiError::OriginNotAllowed => (H::FORBIDDEN, "origin_not_allowed"),
            ApiError::Banned(_) => (H::FORBIDDEN, "banned"),
            ApiError::ReadOnly => (H::FORBIDDEN, "read_only"),
            ApiError::SignupsClosed => (H::FORBIDDEN, "signups_closed"),
            ApiError::RouteNotFound => (H::NOT_FOUND, "route_not_found"),
            ApiError::MethodNotAllowed => (H::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::Store(e) => match e {
                S::ForumNotFound => (H::NOT_FOUND, "forum_not_found"),
                S::ThreadNotFound => (H::NOT_FOUND, "thread_not_found"),
                S::PostNotFound => (H::NOT_FOUND, "post_not_found"),
                S::ForumExists => (H::CONFLICT, "forum_exists"),
                S::ThreadExists => (H::CONFLICT, "thread_exists"),
                S::PostNotVotable => (H::CONFLICT, "post_not_votable"),
                S::AccountNotFound => (H::NOT_FOUND, "account_not_found"),
                S::UsernameTaken => (H::CONFLICT, "username_taken"),
                S::EmailTaken => (H::CONFLICT, "email_taken"),
                S::LinkInvalid => (H::BAD_REQUEST, "invalid_link"),
                S::SessionNotFound => (H::NOT_FOUND, "session_not_found"),
                S::LastOwner => (H::CONFLICT, "last_owner"),
                S::JobNotFound => (H::NOT_FOUND, "job_not_found"),
                S::JobNotDead => (H::CONFLICT, "job_not_dead"),
                S::WebhookNotFound => (H::NOT_FOUND, "webhook_not_found"),
                S::BanNotFound => (H::NOT_FOUND, "ban_not_found"),
                S::ThreadClosed => (H::FORBIDDEN, "thread_closed"),
                S::ParentNotFound => (H::UNPROCESSABLE_ENTITY, "parent_not_found"),
                S::ParentNotInThread => (H::UNPROCESSABLE_ENTITY, "parent_not_in_thread"),
                S::ParentNotListed => (H::UNPROCESSABLE_ENTITY, "parent_not_replyable"),
                S::ParentTooDeep => (H::UNPROCESSABLE_ENTITY, "parent_too_deep"),
                S::Unavailable(_) => (H::SERVICE_UNAVAILABLE, "unavailable"),
                S::Fault(f) => (H::SERVICE_UNAVAILABLE, f.code()),
                S::Internal(_) => (H::INTERNAL_SERVER_ERROR, "internal"),
            },
        }
    }

    pub fn status(&self) -> StatusCode {
        self.meta().0
    }

    /// The stable machine-readable code clients switch on.
    pub fn code(&self) -> &'static str {
        self.meta().1
    }
}

impl ApiError {
    /// A query parameter that does not parse into its domain type (a 400, not the
    /// 422 a body field gets).
    pub fn query_param(e: InputError) -> Self {
        ApiError::InvalidQuery(format!("{}: {}", e.field, e.message))
    }
}

impl From<CursorError> for ApiError {
    fn from(e: CursorError) -> Self {
        ApiError::InvalidCursor(e)
    }
}

/// What a server-side failure was, carried in its response's extensions for
/// `middleware::observe` to log once, beside the request's method and route. The client
/// gets only the error id.
#[derive(Debug, Clone)]
pub(crate) struct ErrorCause {
    pub error_id: String,
    pub code: &'static str,
    /// The error and its sources, outermost first.
    pub chain: String,
    /// Unavailable storage is a warning (it passes); the rest are errors.
    pub warning: bool,
}

impl ApiError {
    /// The cause to log, for the failures that are the server's (5xx).
    pub(crate) fn cause(&self) -> Option<ErrorCause> {
        let ApiError::Store(e @ (StoreError::Internal(_) | StoreError::Fault(_) | StoreError::Unavailable(_))) = self
        else {
            return None;
        };
        let mut chain = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            chain.push_str(": ");
            chain.push_str(&s.to_string());
            source = s.source();
        }
        let warning = matches!(e, StoreError::Unavailable(_));
        Some(ErrorCause { error_id: error_id(), code: self.code(), chain, warning })
    }

    /// `resp` with this error's cause attached (for pages that answer an error in HTML).
    pub(crate) fn attach_cause(&self, mut resp: Response) -> Response {
        if let Some(cause) = self.cause() {
            resp.extensions_mut().insert(cause);
        }
        resp
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let cause = self.cause();
        let (code, message) = match &self {
            // What failed inside stays in the log (under the error id), never in the answer.
            ApiError::Store(StoreError::Internal(_)) => ("internal", "internal error".to_owned()),
            ApiError::Store(StoreError::Fault(fault)) => {
                (fault.code(), format!("{fault}: the service cannot take changes now"))
            }
            ApiError::Store(StoreError::Unavailable(_)) => {
                ("unavailable", "the service is temporarily unavailable, try again shortly".to_owned())
            }
            _ => (self.code(), self.to_string()),
        };
        let (field, reason) = match &self {
            ApiError::InvalidInput(e) => (Some(e.field), Some(e.code)),
            _ => (None, None),
        };
        let error_id = cause.as_ref().map(|c| c.error_id.clone());
        let body = ErrorEnvelope { error: ErrorBody { code, message, field, reason, error_id } };
        let mut resp = (status, Json(body)).into_response();
        if let Some(c) = cause {
            resp.extensions_mut().insert(c);
        }
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let ApiError::RateLimited(ms) = &self {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(ms.div_ceil(1000).max(1)));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        resp
    }
}

/// A short random id that ties a client's error report to one log line.
fn error_id() -> String {
    use rand::Rng;
    let n: u64 = rand::rng().random();
    format!("{n:016x}")
}

/// "1 second", "2 seconds".
fn seconds(n: u64) -> String {
    if n == 1 { "1 second".to_owned() } else { format!("{n} seconds") }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(e: ApiError) -> (StatusCode, serde_json::Value, axum::http::HeaderMap) {
        let resp = e.into_response();
        let (parts, body) = resp.into_parts();
        let bytes = axum::body::to_bytes(body, 1 << 16).await.unwrap();
        (parts.status, serde_json::from_slice(&bytes).unwrap(), parts.headers)
    }

    #[tokio::test]
    async fn server_faults_reveal_nothing_but_an_error_id() {
        let (status, json, _) = body(StoreError::Internal("disk I/O error at /secret/path".into()).into()).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(json["error"]["code"], "internal");
        assert_eq!(json["error"]["message"], "internal error");
        assert_eq!(json["error"]["error_id"].as_str().unwrap().len(), 16);
        assert!(!json.to_string().contains("secret"));
    }

    #[tokio::test]
    async fn an_unavailable_store_is_a_503_with_retry_after() {
        let (status, json, headers) =
            body(StoreError::Unavailable("no reader connection free in time".into()).into()).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(json["error"]["code"], "unavailable");
        assert_eq!(headers["retry-after"], "1");
        assert!(!json.to_string().contains("reader"));
    }

    #[test]
    fn waits_are_counted_in_words_that_agree() {
        assert_eq!(ApiError::RateLimited(1).to_string(), "too many requests: try again in 1 second");
        assert_eq!(ApiError::RateLimited(1000).to_string(), "too many requests: try again in 1 second");
        assert_eq!(ApiError::RateLimited(1001).to_string(), "too many requests: try again in 2 seconds");
    }

    #[tokio::test]
    async fn unauthorized_asks_for_a_bearer_token() {
        let (status, _, headers) = body(ApiError::Unauthorized).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(headers["www-authenticate"], "Bearer");
    }
}
