//! HTTP caching, decided in one place for every route.
//!
//! The public reads — thread pages, further pages of roots and replies, a thread or a
//! post, counts — answer the same to everyone (the reader's own votes and hidden posts,
//! and anything a moderator sees, come from separate `no-store` calls), so their `200`
//! answers carry a weak `ETag` (a digest of the body) and
//! `Cache-Control: public, max-age=…, stale-while-revalidate=…`: a CDN or Varnish in
//! front of Confab may keep them, and `If-None-Match` with the current tag gets `304`
//! without a body. Every other answer — errors of public routes too — that did not say
//! otherwise is `no-store`: a route added later is private until listed here.

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use confab_core::keys::hex;
use sha2::{Digest, Sha256};

use crate::AppState;

/// The routes whose `GET` answers are the same for every reader.
pub const PUBLIC_ROUTES: &[&str] = &[
    "/api/v1/forums/{forum}/thread-page",
    "/api/v1/forums/{forum}/counts",
    "/api/v1/forums/{forum}/threads",
    "/api/v1/threads/{thread}",
    "/api/v1/threads/{thread}/posts",
    "/api/v1/posts/{post}",
    "/api/v1/posts/{post}/replies",
];

/// Public bodies are JSON pages of bounded size; anything larger is passed on
/// uncached rather than buffered.
const MAX_TAGGED_BODY: usize = 4 * 1024 * 1024;

/// A weak validator: the same JSON may be sent compressed or not.
fn etag(body: &[u8]) -> String {
    format!("W/\"{}\"", hex(&Sha256::digest(body)[..16]))
}

/// Whether `If-None-Match` names `tag` (weak comparison, as RFC 9110 asks for it).
fn matches(if_none_match: &str, tag: &str) -> bool {
    let bare = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    if_none_match.split(',').any(|t| t.trim() == "*" || bare(t) == bare(tag))
}

pub(crate) async fn layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let public = matches!(*req.method(), Method::GET | Method::HEAD)
        && req.extensions().get::<MatchedPath>().is_some_and(|p| PUBLIC_ROUTES.contains(&p.as_str()));
    let if_none_match = req.headers().get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let mut resp = next.run(req).await;
    if !(public && resp.status() == StatusCode::OK) {
        resp.headers_mut().entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_TAGGED_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return (StatusCode::INTERNAL_SERVER_ERROR, [(header::CACHE_CONTROL, "no-store")]).into_response();
        }
    };
    let tag = etag(&bytes);
    let http = &state.settings.http_cache;
    let control =
        format!("public, max-age={}, stale-while-revalidate={}", http.max_age.as_secs(), http.stale.as_secs());
    parts.headers.insert(header::ETAG, HeaderValue::from_str(&tag).expect("hex is a valid header"));
    parts.headers.insert(header::CACHE_CONTROL, HeaderValue::from_str(&control).expect("digits are a valid header"));
    if if_none_match.is_some_and(|inm| matches(&inm, &tag)) {
        parts.status = StatusCode::NOT_MODIFIED;
        parts.headers.remove(header::CONTENT_LENGTH);
        parts.headers.remove(header::CONTENT_TYPE);
        return Response::from_parts(parts, Body::empty());
    }
    Response::from_parts(parts, Body::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_compares_weakly_and_lists() {
        let tag = etag(b"{}");
        assert!(tag.starts_with("W/\"") && tag.len() == 2 + 1 + 32 + 1, "{tag}");
        assert!(matches(&tag, &tag));
        assert!(matches(&tag.replacen("W/", "", 1), &tag), "a strong copy of the tag matches weakly");
        assert!(matches(&format!("\"other\", {tag}"), &tag));
        assert!(matches("*", &tag));
        assert!(!matches("W/\"0000\"", &tag));
        assert_ne!(etag(b"{}"), etag(b"{ }"));
    }
}
