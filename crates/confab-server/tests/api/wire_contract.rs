//! Snapshots of the wire contract: the JSON clients see, with ids, times and tokens
//! redacted. A change here is a change to API v1 and must be deliberate.

use std::time::Duration;

use crate::common::{TestApp, id_of};
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

/// Replaces values that differ between runs with stable placeholders.
fn redact(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                let volatile = matches!(
                    k.as_str(),
                    "id" | "thread"
                        | "parent"
                        | "created_at"
                        | "edited_at"
                        | "edit_token"
                        | "edit_expires_at"
                        | "cursor"
                        | "replies_cursor"
                        | "voter_token"
                        | "error_id"
                );
                if volatile && !val.is_null() && !val.is_object() {
                    *val = Value::String(format!("[{k}]"));
                } else {
                    redact(val);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

fn snap(mut v: Value) -> Value {
    redact(&mut v);
    v
}

#[tokio::test]
async fn wire_contract() {
    let app = TestApp::with_forum().await;
    let created = app
        .post(
            "/api/v1/forums/blog/posts",
            &json!({
                "thread": { "identifier": "hello-world", "url": "https://blog.example/hello", "title": "Hello, world" },
                "message": "Hello **world** <script>x</script> https://example.com",
                "author": { "name": "Ann", "email": "ann@example.com", "url": "https://ann.example" },
            }),
        )
        .await
        .expect(StatusCode::CREATED);
    assert!(created.headers["location"].to_str().unwrap().starts_with("/api/v1/posts/"));
    insta::assert_json_snapshot!("create_post", snap(created.json.clone()));

    let root = id_of(&created.json["post"]);
    app.advance(Duration::from_secs(5));
    let reply = app.comment("hello-world", Some(&root), "A reply", "Bob").await;
    app.comment("hello-world", Some(&id_of(&reply["post"])), "A nested reply", "Cy").await;
    let vote = app.post(&format!("/api/v1/posts/{root}/vote"), &json!({ "value": 1 })).await.expect(StatusCode::OK);
    insta::assert_json_snapshot!("vote", snap(vote.json));

    let page = app.get(&TestApp::page_uri("hello-world", "sort=best&replies=1")).await.expect(StatusCode::OK);
    insta::assert_json_snapshot!("thread_page", snap(page.json.clone()));
    let cursor = page.json["posts"][0]["replies_cursor"].as_str().unwrap();
    let replies = app.get(&format!("/api/v1/posts/{root}/replies?cursor={cursor}")).await.expect(StatusCode::OK);
    insta::assert_json_snapshot!("replies_page", snap(replies.json));

    let h = [("x-confab-edit-token", created.json["edit_token"].as_str().unwrap())];
    let deleted = app.send(Method::DELETE, &format!("/api/v1/posts/{root}"), None, &h).await.expect(StatusCode::OK);
    insta::assert_json_snapshot!("delete_post", snap(deleted.json));

    let counts = app.get("/api/v1/forums/blog/counts?identifier=hello-world&identifier=missing").await;
    insta::assert_json_snapshot!("counts", snap(counts.json));
    let empty = app.get(&TestApp::page_uri("nothing-yet", "")).await;
    insta::assert_json_snapshot!("empty_thread_page", snap(empty.json));
    let error = app
        .post(
            "/api/v1/forums/blog/posts",
            &json!({ "thread": { "identifier": "x" }, "message": "", "author": { "name": "A" } }),
        )
        .await;
    insta::assert_json_snapshot!("validation_error", snap(error.json));
    let forum = app.get("/api/v1/forums/blog").await;
    insta::assert_json_snapshot!("forum", snap(forum.json));
}
