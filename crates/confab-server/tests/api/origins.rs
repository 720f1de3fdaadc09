//! A forum's trusted origins: browser writes (posts, votes, edits, deletes) from other
//! sites are refused with 403 `origin_not_allowed` and write nothing; requests without
//! `Origin` (not from a browser page) and forums that list no origins are unaffected;
//! reads stay open to everyone.

use crate::common::TestApp;
use axum::http::{Method, StatusCode};
use serde_json::json;

const HOME: &str = "https://blog.example";

async fn app() -> TestApp {
    let app = TestApp::new().await;
    app.admin_post("/api/v1/forums", Some(&json!({ "shortname": "blog", "origins": [HOME, "http://localhost:3000"] })))
        .await
        .expect(StatusCode::CREATED);
    app.admin_post("/api/v1/forums", Some(&json!({ "shortname": "open" }))).await.expect(StatusCode::CREATED);
    app
}

fn comment() -> serde_json::Value {
    json!({ "thread": { "identifier": "t", "url": "https://blog.example/t" }, "message": "hi", "author": { "name": "Ann" } })
}

async fn post_from(app: &TestApp, forum: &str, origin: Option<&str>) -> crate::common::Resp {
    let headers: Vec<(&str, &str)> = origin.map(|o| vec![("origin", o)]).unwrap_or_default();
    app.send(Method::POST, &format!("/api/v1/forums/{forum}/posts"), Some(&comment()), &headers).await
}

#[tokio::test]
async fn posts_from_listed_origins_and_from_non_browsers_pass() {
    let app = app().await;
    post_from(&app, "blog", Some(HOME)).await.expect(StatusCode::CREATED);
    post_from(&app, "blog", Some("https://BLOG.example")).await.expect(StatusCode::CREATED);
    post_from(&app, "blog", Some("http://localhost:3000")).await.expect(StatusCode::CREATED);
    post_from(&app, "blog", None).await.expect(StatusCode::CREATED);
    post_from(&app, "open", Some("https://anywhere.example")).await.expect(StatusCode::CREATED);
}

#[tokio::test]
async fn posts_from_other_sites_are_refused_and_write_nothing() {
    let app = app().await;
    for bad in ["https://evil.example", "http://blog.example", "https://blog.example:8443", "null", "not an origin"] {
        let r = post_from(&app, "blog", Some(bad)).await.expect_error(StatusCode::FORBIDDEN, "origin_not_allowed");
        assert!(r.json["error"]["message"].as_str().unwrap().contains("Origin"), "{bad}");
    }
    let page = app.get("/api/v1/forums/blog/thread-page?identifier=t").await.expect(StatusCode::OK);
    assert!(page.json["thread"].is_null(), "no thread was created");
    // Reads stay open to any page.
    let r = app
        .send(Method::GET, "/api/v1/forums/blog/thread-page?identifier=t", None, &[("origin", "https://evil.example")])
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn votes_edits_and_deletes_check_the_origin_too() {
    let app = app().await;
    let created = post_from(&app, "blog", Some(HOME)).await.expect(StatusCode::CREATED).json;
    let id = created["post"]["id"].as_str().unwrap();
    let token = created["edit_token"].as_str().unwrap();
    let vote = format!("/api/v1/posts/{id}/vote");
    let post = format!("/api/v1/posts/{id}");

    app.send(Method::POST, &vote, Some(&json!({ "value": 1 })), &[("origin", "https://evil.example")])
        .await
        .expect_error(StatusCode::FORBIDDEN, "origin_not_allowed");
    app.send(Method::POST, &vote, Some(&json!({ "value": 1 })), &[("origin", HOME)]).await.expect(StatusCode::OK);
    let after = app.get(&post).await.expect(StatusCode::OK);
    assert_eq!(after.json["likes"], 1, "the refused vote counted nothing");

    let evil = [("origin", "https://evil.example"), ("x-confab-edit-token", token)];
    app.send(Method::PATCH, &post, Some(&json!({ "message": "changed" })), &evil)
        .await
        .expect_error(StatusCode::FORBIDDEN, "origin_not_allowed");
    app.send(Method::DELETE, &post, None, &evil).await.expect_error(StatusCode::FORBIDDEN, "origin_not_allowed");
    assert_eq!(app.get(&post).await.json["raw_message"], "hi");

    let home = [("origin", HOME), ("x-confab-edit-token", token)];
    app.send(Method::PATCH, &post, Some(&json!({ "message": "changed" })), &home).await.expect(StatusCode::OK);
    app.send(Method::DELETE, &post, None, &home).await.expect(StatusCode::OK);
}
