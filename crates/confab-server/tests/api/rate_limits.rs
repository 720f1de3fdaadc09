//! Rate limits through the API: per client network (IPv4 /24, IPv6 /48), per forum,
//! 429 with Retry-After, X-Forwarded-For only from trusted proxies, and time (the app's
//! clock) restoring the quota.

use std::net::SocketAddr;
use std::time::Duration;

use crate::common::{Resp, TestApp};
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use confab_server::ratelimit::{Cidr, Quota};
use confab_server::{RateLimits, Settings};
use serde_json::{Value, json};

fn settings(limits: RateLimits) -> Settings {
    crate::common::test_settings(limits)
}

fn limits() -> RateLimits {
    RateLimits {
        posts_per_network: Quota { per_minute: 2, burst: 3 },
        votes_per_network: Quota { per_minute: 60, burst: 2 },
        posts_per_forum: Quota::OFF,
        trusted_proxies: vec![Cidr::parse("10.0.0.0/8").unwrap()],
        ..RateLimits::off()
    }
}

async fn app(limits: RateLimits) -> TestApp {
    let app = TestApp::with_settings(settings(limits)).await;
    app.create_forum("blog").await;
    app
}

/// A request as if from `peer`, with extra headers.
async fn from(app: &TestApp, peer: &str, method: &str, uri: &str, body: &Value, headers: &[(&str, &str)]) -> Resp {
    let addr: SocketAddr = format!("{peer}:40000").parse().or_else(|_| format!("[{peer}]:40000").parse()).unwrap();
    let mut req = Request::builder().method(method).uri(uri).header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.extension(ConnectInfo(addr)).body(Body::from(body.to_string())).unwrap();
    app.raw(req).await
}

fn comment(message: &str) -> Value {
    json!({ "thread": { "identifier": "t", "url": "https://blog.example/t" }, "message": message, "author": { "name": "Ann" } })
}

async fn post(app: &TestApp, peer: &str, headers: &[(&str, &str)]) -> Resp {
    from(app, peer, "POST", "/api/v1/forums/blog/posts", &comment("hello"), headers).await
}

#[tokio::test]
async fn posts_are_limited_per_network_with_a_retry_after() {
    let app = app(limits()).await;
    for _ in 0..3 {
        post(&app, "203.0.113.5", &[]).await.expect(StatusCode::CREATED);
    }
    // Another address in the same /24 shares the quota.
    let r = post(&app, "203.0.113.77", &[]).await.expect_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert_eq!(r.headers["retry-after"], "30", "one post every 30 s at 2 per minute");
    assert_eq!(r.json["error"]["message"], "too many requests: try again in 30 seconds");
    // Another network does not.
    post(&app, "198.51.100.1", &[]).await.expect(StatusCode::CREATED);
    // IPv6 groups by /48.
    for _ in 0..3 {
        post(&app, "2001:db8:1:2::1", &[]).await.expect(StatusCode::CREATED);
    }
    post(&app, "2001:db8:1:ffff::9", &[]).await.expect_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    post(&app, "2001:db8:2::1", &[]).await.expect(StatusCode::CREATED);
    // Time restores it.
    app.advance(Duration::from_secs(30));
    post(&app, "203.0.113.5", &[]).await.expect(StatusCode::CREATED);
    post(&app, "203.0.113.5", &[]).await.expect_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
}

#[tokio::test]
async fn refused_input_does_not_use_up_the_quota_and_a_refused_post_writes_nothing() {
    let app = app(limits()).await;
    for _ in 0..5 {
        from(&app, "203.0.113.5", "POST", "/api/v1/forums/blog/posts", &comment(""), &[])
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    }
    for _ in 0..3 {
        post(&app, "203.0.113.5", &[]).await.expect(StatusCode::CREATED);
    }
    post(&app, "203.0.113.5", &[]).await.expect_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    let page = app.get("/api/v1/forums/blog/thread-page?identifier=t").await.expect(StatusCode::OK);
    assert_eq!(page.json["thread"]["posts"], 3);
}

#[tokio::test]
async fn forwarded_for_counts_only_from_a_trusted_proxy() {
    let app = app(limits()).await;
    // Through the proxy, each client has its own quota.
    for _ in 0..3 {
        post(&app, "10.0.0.1", &[("x-forwarded-for", "192.0.2.9")]).await.expect(StatusCode::CREATED);
    }
    post(&app, "10.0.0.1", &[("x-forwarded-for", "192.0.2.10")])
        .await
        .expect_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    post(&app, "10.0.0.1", &[("x-forwarded-for", "198.51.100.7")]).await.expect(StatusCode::CREATED);
    // A client cannot escape its limit by forging the header.
    for i in 0..3 {
        let forged = format!("192.0.{i}.1");
        post(&app, "203.0.113.5", &[("x-forwarded-for", &forged)]).await.expect(StatusCode::CREATED);
    }
    post(&app, "203.0.113.5", &[("x-forwarded-for", "8.8.8.8")])
        .await
        .expect_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
}

#[tokio::test]
async fn a_forum_has_a_ceiling_for_everyone_together() {
    let app = app(RateLimits { posts_per_forum: Quota { per_minute: 1, burst: 2 }, ..limits() }).await;
    post(&app, "203.0.113.5", &[]).await.expect(StatusCode::CREATED);
    post(&app, "198.51.100.1", &[]).await.expect(StatusCode::CREATED);
    let r = post(&app, "192.0.2.1", &[]).await.expect_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert_eq!(r.headers["retry-after"], "60");
}

#[tokio::test]
async fn votes_are_limited_per_network() {
    let app = app(limits()).await;
    let id = post(&app, "198.51.100.1", &[]).await.expect(StatusCode::CREATED).json["post"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let uri = format!("/api/v1/posts/{id}/vote");
    for v in [1, -1] {
        from(&app, "203.0.113.5", "POST", &uri, &json!({ "value": v }), &[]).await.expect(StatusCode::OK);
    }
    let r = from(&app, "203.0.113.6", "POST", &uri, &json!({ "value": 0 }), &[])
        .await
        .expect_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert_eq!(r.headers["retry-after"], "1");
}

#[tokio::test]
async fn fifty_simultaneous_posts_from_one_network_let_exactly_the_burst_through() {
    let app = std::sync::Arc::new(
        app(RateLimits { posts_per_network: Quota { per_minute: 1, burst: 10 }, ..limits() }).await,
    );
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let app = std::sync::Arc::clone(&app);
            tokio::spawn(async move { post(&app, &format!("203.0.113.{}", i % 200), &[]).await.status })
        })
        .collect();
    let mut created = 0;
    for t in tasks {
        match t.await.unwrap() {
            StatusCode::CREATED => created += 1,
            StatusCode::TOO_MANY_REQUESTS => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(created, 10);
    let page = app.get("/api/v1/forums/blog/thread-page?identifier=t").await.expect(StatusCode::OK);
    assert_eq!(page.json["thread"]["posts"], 10);
}
