//! Extractors that turn every malformed request into an [`ApiError`] with the
//! envelope, instead of axum's plain-text rejections.

use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use confab_core::id::Id;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON body (at most [`confab_core::input::MAX_BODY_BYTES`]; the router sets the limit).
///
/// Parsed here rather than by `axum::Json` so that errors are classed by what is
/// wrong with the body as a whole: serde reports the first problem it meets, so
/// `[1,2` (truncated) would otherwise be called a type error.
pub struct Json<T>(pub T);

fn is_json_content_type(headers: &axum::http::HeaderMap) -> bool {
    let Some(ct) = headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json_content_type(req.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::BodyTooLarge(confab_core::input::MAX_BODY_BYTES)
            } else {
                ApiError::MalformedJson(e.body_text())
            }
        })?;
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        match serde_path_to_error::deserialize::<_, T>(&mut de) {
            Ok(v) => {
                // Trailing data after the value ("{}x") is malformed too.
                de.end().map_err(|e| ApiError::MalformedJson(e.to_string()))?;
                Ok(Json(v))
            }
            Err(e) if e.inner().is_data() && serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).is_ok() => {
                // "message: invalid type: integer `5`, expected a string at line 1 column 36"
                Err(ApiError::InvalidBody(e.to_string()))
            }
            Err(e) => {
                let why = match serde_json::from_slice::<serde::de::IgnoredAny>(&bytes) {
                    Err(syntax) => syntax.to_string(),
                    Ok(_) => e.to_string(),
                };
                Err(ApiError::MalformedJson(why))
            }
        }
    }
}

/// Query parameters; repeated keys collect into `Vec` fields (`?url=a&url=b`).
///
/// An empty value reads as absent, except a cursor's: `cursor=` is a malformed cursor
/// (400 `invalid_cursor`), as any other is, not a request for the first page.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        if url::form_urlencoded::parse(query.as_bytes()).any(|(k, v)| k == "cursor" && v.is_empty()) {
            return Err(ApiError::InvalidCursor(confab_core::cursor::CursorError::Malformed));
        }
        axum_extra::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Query(q.0))
            .map_err(|e| ApiError::InvalidQuery(e.body_text()))
    }
}

/// One id in the path (`/posts/{id}`).
pub struct PathId(pub Id);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(raw) = axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e: PathRejection| ApiError::InvalidQuery(e.body_text()))?;
        raw.parse().map(PathId).map_err(|_| ApiError::InvalidId(raw))
    }
}

/// The forum shortname in the path (`/forums/{forum}/...`), kept raw: an unknown or
/// malformed one is simply a forum that does not exist (404).
pub struct PathForum(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathForum {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map(|p| PathForum(p.0))
            .map_err(|e| ApiError::InvalidQuery(e.body_text()))
    }
}
