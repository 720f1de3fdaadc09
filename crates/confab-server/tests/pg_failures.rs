//! Failure behaviour over HTTP on the PostgreSQL topology, servers stopped and restarted
//! under a running app (`scripts/pg-topology stop-one|restart-one`). One test in its own
//! binary, so nothing else runs while a server is down; `start` brings everything back,
//! also when the test fails (a guard).
//!
//! - A shard primary down: its forums refuse writes with 503 `unavailable` and keep
//!   serving reads from the replica; a forum of the other cluster is unaffected.
//! - A replica down: reads go on (from the primary) without an error.
//! - A restart: the next requests succeed, without restarting the app.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode};
use common::{Resp, TestApp};
use confab_core::id::LogicalShard;
use confab_store_pg::testing::script;
use serde_json::json;

const READER: &str = "10.3.0.1:4000";

async fn page(app: &TestApp, forum: &str) -> Resp {
    let mut req = Request::builder()
        .method(Method::GET)
        .uri(format!("/api/v1/forums/{forum}/thread-page?identifier=t"))
        .body(Body::empty())
        .unwrap();
    req.extensions_mut().insert(ConnectInfo(READER.parse::<SocketAddr>().unwrap()));
    app.raw(req).await
}

async fn comment(app: &TestApp, forum: &str, text: &str) -> Resp {
    app.post(
        &format!("/api/v1/forums/{forum}/posts"),
        &json!({ "thread": { "identifier": "t" }, "message": text, "author": { "name": "Ann" } }),
    )
    .await
}

/// Brings every server back however the test ends.
struct Restart;

impl Drop for Restart {
    fn drop(&mut self) {
        script(&["start"]);
    }
}

/// Runs `f` until it returns true or about ten seconds pass.
async fn eventually<F, Fut>(mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..200 {
        if f().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forums_of_a_downed_shard_answer_503_for_writes_and_keep_reading() {
    let app = TestApp::on_postgres().await;
    // One forum on each cluster: c1 (shards 0-511, with the replica) and c2.
    let on_c1 = (0..).map(|i| format!("one{i}")).find(|n| LogicalShard::for_key(n).get() < 512).unwrap();
    let on_c2 = (0..).map(|i| format!("two{i}")).find(|n| LogicalShard::for_key(n).get() >= 512).unwrap();
    for f in [&on_c1, &on_c2] {
        app.create_forum(f).await;
        comment(&app, f, "before").await.expect(StatusCode::CREATED);
    }
    assert!(
        eventually(|| async { page(&app, &on_c1).await.json["thread"]["posts"] == 1 }).await,
        "the replica has the comment"
    );
    let _restart = Restart;

    // ---- the first cluster's primary down ----
    script(&["stop-one", "shard1"]);
    comment(&app, &on_c1, "while down").await.expect_error(StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    let r = page(&app, &on_c1).await.expect(StatusCode::OK);
    assert_eq!(r.json["thread"]["posts"], 1, "reads go on from the replica: {}", r.text);
    comment(&app, &on_c2, "elsewhere").await.expect(StatusCode::CREATED);
    assert_eq!(page(&app, &on_c2).await.expect(StatusCode::OK).json["thread"]["posts"], 2);

    // ---- back: writes work again with the same app ----
    script(&["start"]);
    assert!(
        eventually(|| async { comment(&app, &on_c1, "after").await.status == StatusCode::CREATED }).await,
        "writes resume once the primary is back"
    );

    // ---- the replica down: reads go on without an error ----
    script(&["stop-one", "shard1r"]);
    for _ in 0..3 {
        let r = page(&app, &on_c1).await.expect(StatusCode::OK);
        assert_eq!(r.json["thread"]["posts"], 2, "{}", r.text);
    }
    script(&["start"]);

    // ---- a restart of the other cluster: the next request succeeds ----
    script(&["restart-one", "shard2"]);
    assert!(
        eventually(|| async { comment(&app, &on_c2, "after restart").await.status == StatusCode::CREATED }).await,
        "the app recovers from a database restart by itself"
    );
    assert_eq!(page(&app, &on_c2).await.expect(StatusCode::OK).json["thread"]["posts"], 3);
}
