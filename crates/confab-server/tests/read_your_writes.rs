//! Read-your-writes over HTTP, on the PostgreSQL topology with replay paused on the
//! replica: the author of a comment sees it at once (their reads go to the primary
//! until the replica has their write), another reader is served by the replica and
//! sees it once replay resumes (without the cache; with it, the write pushes the new
//! page and everyone sees it at once). Always on PostgreSQL: it is about replicas.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode};
use common::TestApp;
use confab_core::id::LogicalShard;
use confab_store_pg::testing::{admin, base_port};
use serde_json::json;

async fn page_posts(app: &TestApp, forum: &str, from: &str) -> i64 {
    let mut req = Request::builder()
        .method(Method::GET)
        .uri(format!("/api/v1/forums/{forum}/thread-page?identifier=news"))
        .body(Body::empty())
        .unwrap();
    req.extensions_mut().insert(ConnectInfo(from.parse::<SocketAddr>().unwrap()));
    let r = app.raw(req).await.expect(StatusCode::OK);
    // A thread the replica does not have yet reads as an empty page.
    r.json["thread"]["posts"].as_i64().unwrap_or(0)
}

async fn comment(app: &TestApp, forum: &str, from: &str, text: &str) {
    let body = json!({ "thread": { "identifier": "news" }, "message": text, "author": { "name": "Ann" } });
    let mut req = Request::builder()
        .method(Method::POST)
        .uri(format!("/api/v1/forums/{forum}/posts"))
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_vec(&body).unwrap()))
        .unwrap();
    req.extensions_mut().insert(ConnectInfo(from.parse::<SocketAddr>().unwrap()));
    app.raw(req).await.expect(StatusCode::CREATED);
}

/// Resumes replay however the test ends, so no other test finds the replica stuck.
struct Resume;

impl Drop for Resume {
    fn drop(&mut self) {
        let url = confab_store_pg::testing::url(base_port() + 2, "postgres");
        let _ = std::process::Command::new("psql").args([&url, "-qc", "SELECT pg_wal_replay_resume()"]).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_author_reads_their_write_while_the_replica_lags() {
    let app = TestApp::on_postgres_uncached().await;
    // A forum on the first cluster, the one with a replica (logical shards 0-511).
    let forum = (0..).map(|i| format!("ryw{i}")).find(|n| LogicalShard::for_key(n).get() < 512).unwrap();
    app.create_forum(&forum).await;
    let (author, reader) = ("10.1.0.1:5000", "10.2.0.1:5000");
    comment(&app, &forum, author, "first").await;
    // The replica catches up with the thread before replay stops.
    let mut caught_up = false;
    for _ in 0..100 {
        if page_posts(&app, &forum, reader).await == 1 {
            caught_up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(caught_up, "the replica serves the first comment");

    let replica = admin(base_port() + 2).await;
    let _resume = Resume;
    replica.batch_execute("SELECT pg_wal_replay_pause()").await.unwrap();
    comment(&app, &forum, author, "second").await;
    assert_eq!(page_posts(&app, &forum, author).await, 2, "the author sees their comment at once");
    assert_eq!(page_posts(&app, &forum, reader).await, 1, "another reader is served by the paused replica");

    replica.batch_execute("SELECT pg_wal_replay_resume()").await.unwrap();
    let mut seen = false;
    for _ in 0..100 {
        if page_posts(&app, &forum, reader).await == 2 {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(seen, "the other reader sees it once replay resumes");
    assert_eq!(page_posts(&app, &forum, author).await, 2);
}

/// With the cache (the default), a write pushes the new page read from the primary, so
/// while the replica lags the author and every other reader see it at once, and a
/// reader's fill from the lagging replica cannot put the old page back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_cache_everyone_reads_the_write_while_the_replica_lags() {
    let app = TestApp::on_postgres().await;
    let forum = (0..).map(|i| format!("rywc{i}")).find(|n| LogicalShard::for_key(n).get() < 512).unwrap();
    app.create_forum(&forum).await;
    let (author, reader) = ("10.1.0.1:5000", "10.2.0.1:5000");
    comment(&app, &forum, author, "first").await;
    let replica = admin(base_port() + 2).await;
    let _resume = Resume;
    replica.batch_execute("SELECT pg_wal_replay_pause()").await.unwrap();
    comment(&app, &forum, author, "second").await;
    assert_eq!(page_posts(&app, &forum, author).await, 2, "the author sees their comment at once");
    assert_eq!(page_posts(&app, &forum, reader).await, 2, "so does everyone: the write set the page");
    // Past its fresh time, a refill may read the paused replica: its older version is
    // refused, and the page stays new.
    app.advance(Duration::from_secs(11));
    for _ in 0..5 {
        assert_eq!(page_posts(&app, &forum, reader).await, 2);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    replica.batch_execute("SELECT pg_wal_replay_resume()").await.unwrap();
}
