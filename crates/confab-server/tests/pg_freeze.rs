//! A PostgreSQL primary that freezes (SIGSTOP: connections stay open, nothing answers,
//! so its own statement timeout cannot fire) bounds writes at the write deadline: they
//! answer 503 `unavailable` instead of hanging, other clusters' forums keep taking
//! writes, and once it thaws the same app writes again. One test in its own binary, so
//! nothing else runs while a server is frozen; a guard thaws it however the test ends.

mod common;

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use common::{Resp, TestApp};
use confab_core::id::LogicalShard;
use confab_store_pg::testing::script;
use serde_json::json;

async fn comment(app: &TestApp, forum: &str, text: &str) -> Resp {
    app.post(
        &format!("/api/v1/forums/{forum}/posts"),
        &json!({ "thread": { "identifier": "t" }, "message": text, "author": { "name": "Ann" } }),
    )
    .await
}

struct Thaw;

impl Drop for Thaw {
    fn drop(&mut self) {
        script(&["thaw-one", "shard2"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_primary_answers_503_within_the_write_deadline() {
    let app = TestApp::on_postgres().await;
    let on_c1 = (0..).map(|i| format!("one{i}")).find(|n| LogicalShard::for_key(n).get() < 512).unwrap();
    let on_c2 = (0..).map(|i| format!("two{i}")).find(|n| LogicalShard::for_key(n).get() >= 512).unwrap();
    for f in [&on_c1, &on_c2] {
        app.create_forum(f).await;
        comment(&app, f, "before").await.expect(StatusCode::CREATED);
    }
    let _thaw = Thaw;
    script(&["freeze-one", "shard2"]);
    // The statement timeout is 5 s in the test topology: no statement waits more than
    // 6 s for an answer, no write more than 11 s from its first statement to its commit.
    let bound = Duration::from_secs(11) + Duration::from_secs(4);
    let started = Instant::now();
    let r = tokio::time::timeout(bound, comment(&app, &on_c2, "while frozen"))
        .await
        .expect("a write to a frozen primary must not hang");
    r.expect_error(StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    assert!(started.elapsed() < bound);
    // The other cluster is unaffected meanwhile.
    comment(&app, &on_c1, "elsewhere").await.expect(StatusCode::CREATED);

    script(&["thaw-one", "shard2"]);
    let mut back = false;
    for _ in 0..100 {
        if comment(&app, &on_c2, "after").await.status == StatusCode::CREATED {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(back, "writes resume once the primary answers again");
}
