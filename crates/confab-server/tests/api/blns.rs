//! The Big List of Naughty Strings, posted as messages, names and identifiers: what is
//! accepted round-trips exactly, what is refused gets a 4xx, and no rendered HTML ever
//! carries a script, an event handler or a `javascript:` URL.

use crate::common::TestApp;
use axum::http::StatusCode;
use serde_json::{Value, json};

fn naughty() -> Vec<String> {
    let raw = include_str!("../fixtures/blns/blns.json");
    let list: Vec<String> = serde_json::from_str(raw).unwrap();
    assert!(list.len() > 400);
    list
}

/// No active content in rendered HTML, checked on the parsed document as a browser
/// would see it (see `confab_testkit::check_inert_html`).
fn assert_inert(html: &str, input: &str) {
    use confab_core::render::{ALLOWED_TAGS, LINK_REL};
    if let Err(e) = confab_testkit::check_inert_html(html, ALLOWED_TAGS, LINK_REL) {
        panic!("{e} (from {input:?})");
    }
}

fn body(identifier: &str, message: &str, name: &str) -> Value {
    json!({ "thread": { "identifier": identifier }, "message": message, "author": { "name": name } })
}

#[tokio::test]
async fn naughty_strings_are_inert_and_round_trip() {
    let app = TestApp::with_forum().await;
    let mut accepted = 0;
    for s in naughty() {
        // As a message.
        let r = app.post("/api/v1/forums/blog/posts", &body("messages", &s, "Ann")).await;
        if r.status == StatusCode::CREATED {
            accepted += 1;
            assert_eq!(r.json["post"]["raw_message"].as_str(), Some(s.as_str()), "message round-trips");
            assert_inert(r.json["post"]["message"].as_str().unwrap(), &s);
            let id = r.json["post"]["id"].as_str().unwrap();
            let again = app.get(&format!("/api/v1/posts/{id}")).await.expect(StatusCode::OK).json;
            assert_eq!(again["raw_message"].as_str(), Some(s.as_str()));
        } else {
            assert!(r.status.is_client_error(), "{:?} -> {} {}", s, r.status, r.text);
            assert!(
                s.trim().is_empty() || s.contains('\0'),
                "only empty or NUL messages are refused: {s:?} {}",
                r.text
            );
        }

        // As an author name.
        let r = app.post("/api/v1/forums/blog/posts", &body("names", "hello", &s)).await;
        if r.status == StatusCode::CREATED {
            assert_eq!(r.json["post"]["author"]["name"].as_str(), Some(s.trim()), "name round-trips (trimmed)");
        } else {
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{s:?}: {}", r.text);
        }

        // As a thread identifier.
        let r = app.post("/api/v1/forums/blog/posts", &body(&s, "hello", "Ann")).await;
        if r.status == StatusCode::CREATED {
            assert_eq!(r.json["thread"]["identifier"].as_str(), Some(s.as_str()), "identifier round-trips");
            let page = app.get(&TestApp::page_uri(&s, "")).await.expect(StatusCode::OK).json;
            assert_eq!(page["thread"]["identifier"].as_str(), Some(s.as_str()));
        } else {
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{s:?}: {}", r.text);
            assert!(s.is_empty() || s.contains('\0') || s.chars().count() > 300, "{s:?}: {}", r.text);
        }
    }
    assert!(accepted > 450, "nearly all naughty strings are valid comments (accepted {accepted})");

    // The whole thread page, as the embed gets it, is inert too.
    let page = app.get(&TestApp::page_uri("messages", "limit=100")).await.expect(StatusCode::OK);
    for p in page.json["posts"].as_array().unwrap() {
        assert_inert(p["message"].as_str().unwrap(), "page");
    }
}
