//! Extractors that turn every malformed request into an [`ApiError`] with the
//! envelope, instead of axum's plain-text rejections.

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use confab_core::id::Id;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON body (at most [`confab_core::input::MAX_BODY_BYTES`]; the router sets the limit).
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Json(v)),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::UnsupportedMediaType),
            Err(JsonRejection::JsonSyntaxError(e)) => Err(ApiError::MalformedJson(e.body_text())),
            Err(JsonRejection::JsonDataError(e)) => Err(ApiError::InvalidBody(e.body_text())),
            Err(JsonRejection::BytesRejection(e))
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                Err(ApiError::BodyTooLarge(confab_core::input::MAX_BODY_BYTES))
            }
            Err(e) => Err(ApiError::MalformedJson(e.body_text())),
        }
    }
}

/// Query parameters; repeated keys collect into `Vec` fields (`?url=a&url=b`).
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
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
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|e: PathRejection| ApiError::InvalidQuery(e.body_text()))?;
        raw.parse()
            .map(PathId)
            .map_err(|_| ApiError::InvalidId(raw))
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
