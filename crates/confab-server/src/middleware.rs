//! Per-request observation: a statement-count scope around the handler, the request
//! log line (method, route template, status, duration, statements — never IPs,
//! bodies, tokens or query strings), and the optional `X-Confab-Queries` header.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use confab_store::stats::{self, QueryStats};

use crate::error::ApiError;

pub const QUERY_COUNT_HEADER: &str = "x-confab-queries";

pub(crate) async fn observe(expose: bool, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
    let counter = Arc::new(QueryStats::default());
    let too_long = req.uri().path_and_query().is_some_and(|pq| pq.as_str().len() > crate::error::MAX_URI_BYTES);
    let mut resp = if too_long {
        ApiError::UriTooLong.into_response()
    } else {
        stats::scope(Arc::clone(&counter), next.run(req)).await
    };
    let statements = counter.statements();
    tracing::info!(
        target: "confab::request",
        method = %method,
        route = route.as_deref().unwrap_or("-"),
        status = resp.status().as_u16(),
        ms = started.elapsed().as_secs_f64() * 1000.0,
        statements,
    );
    if expose {
        resp.headers_mut().insert(QUERY_COUNT_HEADER, HeaderValue::from(statements));
    }
    resp
}

pub(crate) fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::Store(confab_store::StoreError::Internal("handler panicked".into())).into_response()
}

/// Confab's own pages (the account page, the log-in window, mailed links' pages, the
/// dashboard) hold a cookie session or a credential hand-off: no other origin may read
/// them, so their answers (preflights included) carry no CORS headers. One rule over
/// the one CORS layer, rather than a second router.
pub(crate) async fn no_cors_on_own_pages(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let own = ["/account", "/dashboard", "/unsubscribe"]
        .iter()
        .any(|p| path == *p || path.strip_prefix(p).is_some_and(|rest| rest.starts_with('/')));
    let mut response = next.run(req).await;
    if own {
        let h = response.headers_mut();
        let cors: Vec<_> = h.keys().filter(|k| k.as_str().starts_with("access-control-")).cloned().collect();
        for k in cors {
            h.remove(k);
        }
    }
    response
}
