//! Webhooks end to end: owners register them, writes queue events in their own
//! transaction, workers deliver signed POSTs to a real HTTP receiver on loopback,
//! failures retry with backoff and end in the visible dead-letter state, and the
//! outbound guard refuses addresses that are not public.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::{START, TestApp, id_of};
use axum::http::{HeaderMap, Method, StatusCode};
use confab_core::signature;
use serde_json::{Value, json};

/// A webhook receiver: records every request and answers with `status`.
#[derive(Clone)]
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<(HeaderMap, String)>>>,
    status: Arc<AtomicU16>,
}

impl Receiver {
    async fn start() -> Self {
        let got: Arc<Mutex<Vec<(HeaderMap, String)>>> = Arc::default();
        let status = Arc::new(AtomicU16::new(200));
        let (g, s) = (Arc::clone(&got), Arc::clone(&status));
        let app = axum::Router::new()
            .route(
                "/hook",
                axum::routing::post(move |headers: HeaderMap, body: String| {
                    let (g, s) = (Arc::clone(&g), Arc::clone(&s));
                    async move {
                        let code = s.load(Ordering::SeqCst);
                        if code == 200 {
                            g.lock().unwrap().push((headers, body));
                        }
                        StatusCode::from_u16(code).unwrap()
                    }
                }),
            )
            .route(
                "/to-metadata",
                axum::routing::post(|| async {
                    (StatusCode::TEMPORARY_REDIRECT, [("location", "http://169.254.169.254/latest/meta-data/")])
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { url, got, status }
    }

    /// Deliveries in the order the events happened. Workers deliver concurrently, so
    /// arrival order is not event order; receivers order by the event id (time-ordered)
    /// or `occurred_at`, as this does.
    fn sorted(&self) -> Vec<(HeaderMap, String)> {
        let mut got = self.got.lock().unwrap().clone();
        got.sort_by_key(|(_, b)| {
            let v: Value = serde_json::from_str(b).unwrap();
            v["id"].as_str().unwrap().parse::<u64>().unwrap()
        });
        got
    }

    fn events(&self) -> Vec<String> {
        self.sorted().iter().map(|(h, _)| h["x-confab-event"].to_str().unwrap().to_owned()).collect()
    }

    fn bodies(&self) -> Vec<Value> {
        self.sorted().iter().map(|(_, b)| serde_json::from_str(b).unwrap()).collect()
    }
}

fn owner(app: &TestApp) -> String {
    format!("Bearer {}", app.admin)
}

async fn register(app: &TestApp, forum: &str, body: Value) -> Value {
    app.send(Method::POST, &format!("/api/v1/forums/{forum}/webhooks"), Some(&body), &[("authorization", &owner(app))])
        .await
        .expect(StatusCode::CREATED)
        .json
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_are_signed_and_carry_the_change() {
    let app = TestApp::with_forum().await;
    let rx = Receiver::start().await;
    let hook = register(&app, "blog", json!({ "url": rx.url, "hub_signature": true })).await;
    let secret = hook["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_") && secret.len() > 40);
    assert_eq!(hook["events"].as_array().unwrap().len(), 6, "every event by default");

    let body = json!({
        "thread": { "identifier": "t", "url": "https://blog.example/t", "title": "T" },
        "message": "first!",
        "author": { "name": "Ann", "email": "ann@example.com" },
    });
    let created = app.post("/api/v1/forums/blog/posts", &body).await.expect(StatusCode::CREATED).json;
    assert!(rx.got.lock().unwrap().is_empty(), "nothing leaves inside the request");
    app.run_jobs().await;
    assert_eq!(rx.events(), vec!["thread.created", "post.created"]);

    let got = rx.sorted();
    let (headers, raw) = &got[1];
    let sig = headers["x-confab-signature"].to_str().unwrap();
    signature::verify_confab_signature(&secret, sig, raw.as_bytes(), START / 1000, 300).expect("a valid signature");
    assert_eq!(headers["x-hub-signature"].to_str().unwrap(), signature::hub_signature(&secret, raw.as_bytes()));
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["x-confab-attempt"], "1");
    let delivery = headers["x-confab-delivery"].to_str().unwrap();
    assert_ne!(delivery, got[0].0["x-confab-delivery"].to_str().unwrap(), "each delivery its own id");
    let b: Value = serde_json::from_str(raw).unwrap();
    assert_eq!(b["event"], "post.created");
    assert_eq!(b["forum"]["shortname"], "blog");
    assert_eq!(b["thread"]["identifier"], "t");
    assert_eq!(b["post"]["id"], created["post"]["id"]);
    assert_eq!(b["post"]["raw_message"], "first!");
    assert_eq!(b["post"]["author"]["name"], "Ann");
    assert!(!raw.contains("ann@example.com"), "emails never leave: {raw}");

    // Edits and deletes follow, in order.
    let post = id_of(&created["post"]);
    let token = created["edit_token"].as_str().unwrap();
    app.send(
        Method::PATCH,
        &format!("/api/v1/posts/{post}"),
        Some(&json!({ "message": "edited" })),
        &[("x-confab-edit-token", token)],
    )
    .await
    .expect(StatusCode::OK);
    app.send(Method::DELETE, &format!("/api/v1/posts/{post}"), None, &[("x-confab-edit-token", token)])
        .await
        .expect(StatusCode::OK);
    app.run_jobs().await;
    assert_eq!(rx.events()[2..], ["post.updated", "post.deleted"]);
    assert_eq!(rx.bodies()[2]["post"]["raw_message"], "edited");

    // The delivery log shows each attempt.
    let log = app
        .send(
            Method::GET,
            &format!("/api/v1/forums/blog/webhooks/{}/deliveries", id_of(&hook)),
            None,
            &[("authorization", &owner(&app))],
        )
        .await
        .expect(StatusCode::OK)
        .json;
    let attempts = log["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 4);
    assert!(attempts.iter().all(|a| a["status"] == 200 && a["error"].is_null()));
    let mut logged: Vec<&str> = attempts.iter().map(|a| a["event"].as_str().unwrap()).collect();
    logged.sort();
    assert_eq!(logged, ["post.created", "post.deleted", "post.updated", "thread.created"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_is_down_gets_everything_when_it_returns() {
    let app = TestApp::with_forum().await;
    let rx = Receiver::start().await;
    let hook = register(&app, "blog", json!({ "url": rx.url, "events": ["post.created"] })).await;
    rx.status.store(503, Ordering::SeqCst);
    for i in 0..3 {
        app.comment("t", None, &format!("comment {i}"), "Ann").await;
    }
    app.run_jobs().await;
    assert!(rx.got.lock().unwrap().is_empty());
    // Back up: after the backoff (at most 10 s for a first retry) everything arrives.
    rx.status.store(200, Ordering::SeqCst);
    app.advance(Duration::from_secs(10));
    app.run_jobs().await;
    let bodies = rx.bodies();
    assert_eq!(bodies.len(), 3, "each exactly once");
    let mut messages: Vec<&str> = bodies.iter().map(|b| b["post"]["raw_message"].as_str().unwrap()).collect();
    messages.sort();
    assert_eq!(messages, ["comment 0", "comment 1", "comment 2"]);
    let got = rx.got.lock().unwrap().clone();
    assert!(got.iter().all(|(h, _)| h["x-confab-attempt"] == "2"));

    let log = app
        .send(
            Method::GET,
            &format!("/api/v1/forums/blog/webhooks/{}/deliveries?limit=100", id_of(&hook)),
            None,
            &[("authorization", &owner(&app))],
        )
        .await
        .json;
    let statuses: Vec<i64> =
        log["attempts"].as_array().unwrap().iter().map(|a| a["status"].as_i64().unwrap()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 503).count(), 3);
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_never_works_ends_in_dead_letters_that_admins_retry() {
    let app = TestApp::with_forum().await;
    let (bad, good) = (Receiver::start().await, Receiver::start().await);
    bad.status.store(500, Ordering::SeqCst);
    register(&app, "blog", json!({ "url": bad.url, "events": ["post.created"] })).await;
    register(&app, "blog", json!({ "url": good.url, "events": ["post.created"] })).await;
    app.comment("t", None, "hello", "Ann").await;
    for _ in 0..6 {
        app.run_jobs().await;
        app.advance(Duration::from_secs(60));
    }
    assert_eq!(good.events(), ["post.created"], "the healthy receiver is not held up");
    let auth = owner(&app);
    let dead = app
        .send(Method::GET, "/api/v1/jobs?state=dead", None, &[("authorization", &auth)])
        .await
        .expect(StatusCode::OK)
        .json;
    let jobs = dead["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 1, "{dead}");
    assert_eq!(jobs[0]["attempts"], 4, "max_attempts");
    assert_eq!(jobs[0]["task"]["type"], "webhook");
    assert_eq!(jobs[0]["last_error"], "HTTP 500");
    assert!(jobs[0]["task"].get("body").is_none(), "payloads stay out of listings");
    assert_eq!(dead["counts"]["dead"], 1);
    let id = id_of(&jobs[0]);

    // Only administrators see or touch jobs.
    app.get("/api/v1/jobs").await.expect_error(StatusCode::UNAUTHORIZED, "unauthorized");
    app.send(Method::GET, "/api/v1/jobs?state=buried", None, &[("authorization", &auth)])
        .await
        .expect_error(StatusCode::BAD_REQUEST, "invalid_query");

    bad.status.store(200, Ordering::SeqCst);
    app.admin_post(&format!("/api/v1/jobs/{id}/retry"), None).await.expect(StatusCode::OK);
    app.admin_post(&format!("/api/v1/jobs/{id}/retry"), None).await.expect_error(StatusCode::CONFLICT, "job_not_dead");
    app.run_jobs().await;
    assert_eq!(bad.events(), ["post.created"]);
    let job = app.send(Method::GET, &format!("/api/v1/jobs/{id}"), None, &[("authorization", &auth)]).await.json;
    assert_eq!(job["state"], "done");
    app.send(Method::DELETE, &format!("/api/v1/jobs/{id}"), None, &[("authorization", &auth)])
        .await
        .expect_error(StatusCode::CONFLICT, "job_not_dead");
    app.send(Method::DELETE, "/api/v1/jobs/123456", None, &[("authorization", &auth)])
        .await
        .expect_error(StatusCode::NOT_FOUND, "job_not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_the_forum_owners_business_only() {
    let app = TestApp::with_forum().await;
    app.create_forum("other").await;
    let rx = Receiver::start().await;
    let theirs = register(&app, "other", json!({ "url": rx.url })).await;
    // Ann owns blog only.
    let ann = app.member("ann", "blog", "owner").await;
    let as_ann = |m: Method, uri: String, body: Option<Value>| {
        let ann = ann.clone();
        let app = &app;
        async move { app.send(m, &uri, body.as_ref(), &[("authorization", &ann)]).await }
    };
    as_ann(Method::GET, "/api/v1/forums/blog/webhooks".into(), None).await.expect(StatusCode::OK);
    as_ann(Method::GET, "/api/v1/forums/other/webhooks".into(), None)
        .await
        .expect_error(StatusCode::FORBIDDEN, "forbidden");
    as_ann(Method::POST, "/api/v1/forums/other/webhooks".into(), Some(json!({ "url": rx.url })))
        .await
        .expect_error(StatusCode::FORBIDDEN, "forbidden");
    let other_hook = id_of(&theirs);
    as_ann(Method::DELETE, format!("/api/v1/forums/blog/webhooks/{other_hook}"), None)
        .await
        .expect_error(StatusCode::NOT_FOUND, "webhook_not_found");
    as_ann(Method::GET, format!("/api/v1/forums/blog/webhooks/{other_hook}/deliveries"), None)
        .await
        .expect_error(StatusCode::NOT_FOUND, "webhook_not_found");
    app.get("/api/v1/forums/blog/webhooks").await.expect_error(StatusCode::UNAUTHORIZED, "unauthorized");
    as_ann(Method::GET, "/api/v1/jobs".into(), None).await.expect_error(StatusCode::FORBIDDEN, "forbidden");

    // Blog's posts never reach other's webhook.
    app.comment("t", None, "only for blog", "Bo").await;
    app.run_jobs().await;
    assert!(rx.got.lock().unwrap().is_empty());
    // Deleting it stops its queued deliveries.
    let auth = owner(&app);
    app.send(Method::DELETE, &format!("/api/v1/forums/other/webhooks/{other_hook}"), None, &[("authorization", &auth)])
        .await
        .expect(StatusCode::NO_CONTENT);
    let list = app.send(Method::GET, "/api/v1/forums/other/webhooks", None, &[("authorization", &auth)]).await.json;
    assert_eq!(list["webhooks"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_registrations_are_refused_with_reasons() {
    let app = TestApp::with_forum().await;
    let auth = owner(&app);
    let try_ = |body: Value| {
        let auth = auth.clone();
        let app = &app;
        async move { app.send(Method::POST, "/api/v1/forums/blog/webhooks", Some(&body), &[("authorization", &auth)]).await }
    };
    for (body, reason) in [
        (json!({ "url": "http://169.254.169.254/latest/meta-data/" }), "forbidden_address"),
        (json!({ "url": "http://[fe80::1]/" }), "forbidden_address"),
        (json!({ "url": "http://10.0.0.1/hook" }), "forbidden_address"),
        (json!({ "url": "https://user:pw@example.com/" }), "forbidden_address"),
        (json!({ "url": "ftp://example.com/" }), "invalid_url"),
        (json!({ "url": "not a url" }), "invalid_url"),
        (json!({ "url": "https://example.com/", "events": ["post.exploded"] }), "unknown_event"),
        (json!({ "url": "https://example.com/", "events": [] }), "empty"),
    ] {
        let r = try_(body.clone()).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
        assert_eq!(r.json["error"]["reason"], reason, "{body}");
    }
    try_(json!({ "url": "https://example.com/", "secret": "mine" }))
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    for i in 0..10 {
        try_(json!({ "url": format!("https://example.com/{i}") })).await.expect(StatusCode::CREATED);
    }
    let r = try_(json!({ "url": "https://example.com/11" }))
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    assert_eq!(r.json["error"]["reason"], "too_many");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guard_refuses_names_and_redirects_that_lead_to_forbidden_addresses() {
    use confab_server::outbound::{Outbound, OutboundPolicy, SendError};
    let rx = Receiver::start().await;
    let port = url::Url::parse(&rx.url).unwrap().port().unwrap();
    let strict = Outbound::new(OutboundPolicy::default()).unwrap();
    // A name that resolves to loopback is refused like the literal.
    let by_name = url::Url::parse(&format!("http://localhost:{port}/hook")).unwrap();
    match strict.post(&by_name, vec![], "{}".into()).await {
        Err(SendError::Blocked(_)) => {}
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(rx.got.lock().unwrap().is_empty(), "nothing reached the receiver");
    // Allowed loopback, but a redirect to the metadata address is refused.
    let local = Outbound::new(OutboundPolicy { allow_loopback: true, ..Default::default() }).unwrap();
    let redirect = url::Url::parse(&rx.url.replace("/hook", "/to-metadata")).unwrap();
    match local.post(&redirect, vec![], "{}".into()).await {
        Err(SendError::Blocked(b)) => assert!(b.0.contains("not public"), "{b:?}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(local.post(&url::Url::parse(&rx.url).unwrap(), vec![], "{}".into()).await.unwrap(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_receiver_times_out_and_is_retried() {
    use confab_server::outbound::{Outbound, OutboundPolicy, SendError};
    // Accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let client = Outbound::new(OutboundPolicy {
        allow_loopback: true,
        total_timeout: Duration::from_millis(300),
        ..Default::default()
    })
    .unwrap();
    let started = std::time::Instant::now();
    match client.post(&url::Url::parse(&format!("http://{addr}/")).unwrap(), vec![], "{}".into()).await {
        Err(SendError::Transport(t)) => assert_eq!(t, "timed out"),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// With the `webhooks` switch off, deliveries wait in the outbox (their attempts
/// unspent, however long it stays off) and go out once it is on again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_wait_while_the_webhooks_switch_is_off() {
    let app = TestApp::with_forum().await;
    let rx = Receiver::start().await;
    register(&app, "blog", json!({ "url": rx.url })).await;
    let switch = "/api/v1/switches/webhooks";
    app.send(Method::PUT, switch, Some(&json!({ "state": "off" })), &[("authorization", &owner(&app))])
        .await
        .expect(StatusCode::OK);
    app.comment("t", None, "first!", "Ann").await;
    for _ in 0..20 {
        app.run_jobs().await;
        app.advance(Duration::from_secs(60));
    }
    assert!(rx.got.lock().unwrap().is_empty(), "nothing delivered while off");
    let jobs = app.store.jobs_list(confab_store::JobFilter { limit: 100, ..Default::default() }).await.unwrap();
    let waiting: Vec<_> = jobs.iter().filter(|j| j.task.contains("\"webhook\"")).collect();
    assert_eq!(waiting.len(), 2, "thread.created and post.created wait");
    assert!(waiting.iter().all(|j| j.state == confab_core::jobs::JobState::Ready && j.attempts == 0), "{waiting:?}");

    app.send(Method::DELETE, switch, None, &[("authorization", &owner(&app))]).await.expect(StatusCode::OK);
    app.advance(Duration::from_secs(60));
    app.run_jobs().await;
    assert_eq!(rx.events(), vec!["thread.created", "post.created"]);
}
