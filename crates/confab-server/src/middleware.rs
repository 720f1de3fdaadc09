//! Per-request observation: a statement-count scope around the handler, the request
//! log line (method, route template, status, duration, statements — never IPs,
//! bodies, tokens or query strings), and the optional `X-Confab-Queries` header. The
//! same layer keeps CORS headers off Confab's own pages (one layer fewer on every
//! request than a layer of its own).

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
    let route = req.extensions().get::<MatchedPath>().cloned();
    let own = own_page(req.uri().path());
    let counter = Arc::new(QueryStats::default());
    let too_long = req.uri().path_and_query().is_some_and(|pq| pq.as_str().len() > crate::error::MAX_URI_BYTES);
    let mut resp = if too_long {
        ApiError::UriTooLong.into_response()
    } else {
        stats::scope(Arc::clone(&counter), next.run(req)).await
    };
    let statements = counter.statements();
    if own {
        strip_cors(&mut resp);
    }
    // A server-side failure, logged once here with the request it ended (never the
    // query string: it may hold a searched address).
    if let Some(c) = resp.extensions_mut().remove::<crate::error::ErrorCause>() {
        let route = route.as_ref().map_or("-", MatchedPath::as_str);
        if c.warning {
            tracing::warn!(error_id = %c.error_id, code = c.code, method = %method, route, cause = %c.chain, "request failed");
        } else {
            tracing::error!(error_id = %c.error_id, code = c.code, method = %method, route, cause = %c.chain, "request failed");
        }
    }
    tracing::info!(
        target: "confab::request",
        method = %method,
        route = route.as_ref().map_or("-", MatchedPath::as_str),
        status = resp.status().as_u16(),
        ms = started.elapsed().as_secs_f64() * 1000.0,
        statements,
    );
    if expose {
        resp.headers_mut().insert(QUERY_COUNT_HEADER, HeaderValue::from(statements));
    }
    resp
}

/// Outside `observe`, so the cause is logged here.
pub(crate) fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let mut resp = ApiError::Store(confab_store::StoreError::Internal("handler panicked".into())).into_response();
    if let Some(c) = resp.extensions_mut().remove::<crate::error::ErrorCause>() {
        tracing::error!(error_id = %c.error_id, code = c.code, cause = %c.chain, "request failed");
    }
    resp
}

/// Confab's own pages (the account page, the log-in window, mailed links' pages, the
/// dashboard) hold a cookie session or a credential hand-off: no other origin may read
/// them, so their answers (preflights included) carry no CORS headers. One rule over
/// the one CORS layer, rather than a second router.
fn own_page(path: &str) -> bool {
    ["/account", "/dashboard", "/unsubscribe"]
        .iter()
        .any(|p| path == *p || path.strip_prefix(p).is_some_and(|rest| rest.starts_with('/')))
}

fn strip_cors(response: &mut Response) {
    let h = response.headers_mut();
    let cors: Vec<_> = h.keys().filter(|k| k.as_str().starts_with("access-control-")).cloned().collect();
    for k in cors {
        h.remove(k);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use axum::body::Body;
    use axum::http::StatusCode;
    use tower::ServiceExt;

    use super::*;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A server-side failure is logged once, by `observe`, with its error id, route and
    /// cause; the client sees the same id and nothing of the cause. A client's mistake
    /// logs no failure.
    #[test]
    fn a_failure_is_logged_once_with_its_route_and_cause() {
        let logs = Captured::default();
        let sink = logs.clone();
        let subscriber = tracing_subscriber::fmt().with_writer(move || sink.clone()).with_ansi(false).finish();
        let (status, body) = tracing::subscriber::with_default(subscriber, || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let app = axum::Router::new()
                    .route(
                        "/boom/{id}",
                        axum::routing::get(|| async {
                            ApiError::Store(confab_store::StoreError::Internal("disk on fire at /secret".into()))
                        }),
                    )
                    .route("/bad", axum::routing::get(|| async { ApiError::InvalidQuery("no".into()) }))
                    .layer(axum::middleware::from_fn(|req, next| observe(false, req, next)));
                let bad = app.clone().oneshot(Request::get("/bad").body(Body::empty()).unwrap()).await.unwrap();
                assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
                let resp = app.oneshot(Request::get("/boom/7?email=x").body(Body::empty()).unwrap()).await.unwrap();
                let status = resp.status();
                let bytes = axum::body::to_bytes(resp.into_body(), 1 << 16).await.unwrap();
                (status, serde_json::from_slice::<serde_json::Value>(&bytes).unwrap())
            })
        });
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        let id = body["error"]["error_id"].as_str().unwrap().to_owned();
        assert!(!body.to_string().contains("fire"), "{body}");
        let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
        let failures: Vec<&str> = text.lines().filter(|l| l.contains("request failed")).collect();
        assert_eq!(failures.len(), 1, "{text}");
        let line = failures[0];
        assert!(line.contains(&id) && line.contains("/boom/{id}") && line.contains("disk on fire"), "{line}");
        assert!(!text.contains("email=x"), "no query strings in the log: {text}");
    }
}
