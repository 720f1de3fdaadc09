//! Bad input: every case answers a clear 4xx with a stable code, never a 500, and
//! leaves nothing half-written.

use crate::common::{TestApp, id_of};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{Value, json};

fn post_body(identifier: &str, message: &str) -> Value {
    json!({ "thread": { "identifier": identifier }, "message": message, "author": { "name": "Ann" } })
}

async fn thread_exists(app: &TestApp, identifier: &str) -> bool {
    let page = app.get(&TestApp::page_uri(identifier, "")).await.expect(StatusCode::OK).json;
    !page["thread"].is_null()
}

async fn raw_post(app: &TestApp, uri: &str, content_type: Option<&str>, body: Vec<u8>) -> crate::common::Resp {
    let mut req = Request::builder().method(Method::POST).uri(uri);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    app.raw(req.body(Body::from(body)).unwrap()).await
}

#[tokio::test]
async fn malformed_json_wrong_types_missing_and_unknown_fields() {
    let app = TestApp::with_forum().await;
    let uri = "/api/v1/forums/blog/posts";
    raw_post(&app, uri, Some("application/json"), b"{\"message\": ".to_vec())
        .await
        .expect_error(StatusCode::BAD_REQUEST, "malformed_json");
    raw_post(&app, uri, Some("application/json"), b"[1,2".to_vec())
        .await
        .expect_error(StatusCode::BAD_REQUEST, "malformed_json");
    raw_post(&app, uri, Some("application/json"), Vec::new())
        .await
        .expect_error(StatusCode::BAD_REQUEST, "malformed_json");
    let mut trailing = serde_json::to_vec(&post_body("t", "hi")).unwrap();
    trailing.extend_from_slice(b" {}");
    raw_post(&app, uri, Some("application/json"), trailing)
        .await
        .expect_error(StatusCode::BAD_REQUEST, "malformed_json");
    raw_post(&app, uri, None, serde_json::to_vec(&post_body("t", "hi")).unwrap())
        .await
        .expect_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    raw_post(&app, uri, Some("text/plain"), b"hi".to_vec())
        .await
        .expect_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");

    let wrong_type = json!({ "thread": { "identifier": "t" }, "message": 5, "author": { "name": "Ann" } });
    let r = app.post(uri, &wrong_type).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    assert!(r.json["error"]["message"].as_str().unwrap().contains("message"), "{}", r.text);
    let missing = json!({ "thread": { "identifier": "t" }, "author": { "name": "Ann" } });
    let r = app.post(uri, &missing).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    assert!(r.text.contains("missing field"), "{}", r.text);
    let unknown =
        json!({ "thread": { "identifier": "t" }, "message": "hi", "author": { "name": "Ann" }, "admin": true });
    app.post(uri, &unknown).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    let bad_parent =
        json!({ "thread": { "identifier": "t" }, "message": "hi", "author": { "name": "Ann" }, "parent": 12 });
    app.post(uri, &bad_parent).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    app.post(uri, &json!(null)).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    assert!(!thread_exists(&app, "t").await, "nothing was written");
}

#[tokio::test]
async fn deeply_nested_json_is_refused_cleanly() {
    let app = TestApp::with_forum().await;
    let uri = "/api/v1/forums/blog/posts";
    // Valid JSON of the wrong shape: refused without recursing 10,000 levels.
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    raw_post(&app, uri, Some("application/json"), deep.into_bytes())
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    // Not JSON at all (never closed).
    let open = "{\"a\":".repeat(10_000);
    raw_post(&app, uri, Some("application/json"), open.into_bytes())
        .await
        .expect_error(StatusCode::BAD_REQUEST, "malformed_json");
    let in_field = format!(
        r#"{{"thread":{{"identifier":"t"}},"message":{}1{},"author":{{"name":"A"}}}}"#,
        "[".repeat(5_000),
        "]".repeat(5_000)
    );
    raw_post(&app, uri, Some("application/json"), in_field.into_bytes())
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    assert!(!thread_exists(&app, "t").await);
}

#[tokio::test]
async fn invalid_utf8_is_refused() {
    let app = TestApp::with_forum().await;
    let mut body = br#"{"thread":{"identifier":"t"},"message":"bad "#.to_vec();
    body.extend_from_slice(&[0xff, 0xfe, 0xc3]);
    body.extend_from_slice(br#"","author":{"name":"Ann"}}"#);
    raw_post(&app, "/api/v1/forums/blog/posts", Some("application/json"), body)
        .await
        .expect_error(StatusCode::BAD_REQUEST, "malformed_json");
    let lone_surrogate = br#"{"thread":{"identifier":"t"},"message":"\ud800","author":{"name":"Ann"}}"#.to_vec();
    let r = raw_post(&app, "/api/v1/forums/blog/posts", Some("application/json"), lone_surrogate).await;
    assert!(r.status.is_client_error(), "{} {}", r.status, r.text);
    assert!(!thread_exists(&app, "t").await);
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let app = TestApp::with_forum().await;
    let huge = post_body("t", &"a".repeat(70 * 1024));
    app.post("/api/v1/forums/blog/posts", &huge).await.expect_error(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large");
    assert!(!thread_exists(&app, "t").await);
}

#[tokio::test]
async fn messages_must_have_1_to_20000_characters() {
    let app = TestApp::with_forum().await;
    for (message, reason) in
        [("", "empty"), ("   \n\t", "empty"), (&*"x".repeat(20_001), "too_long"), ("a\0b", "invalid_character")]
    {
        let r = app
            .post("/api/v1/forums/blog/posts", &post_body("t", message))
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
        assert_eq!(
            (r.json["error"]["field"].as_str(), r.json["error"]["reason"].as_str()),
            (Some("message"), Some(reason))
        );
    }
    let longest = "é".repeat(20_000);
    let ok = app.post("/api/v1/forums/blog/posts", &post_body("t", &longest)).await.expect(StatusCode::CREATED);
    assert_eq!(ok.json["post"]["raw_message"].as_str().unwrap().chars().count(), 20_000);
}

#[tokio::test]
async fn other_fields_are_bounded_too() {
    let app = TestApp::with_forum().await;
    let cases = [
        (
            json!({ "thread": { "identifier": "x".repeat(301) }, "message": "m", "author": { "name": "Ann" } }),
            "identifier",
            "too_long",
        ),
        (json!({ "thread": { "identifier": "" }, "message": "m", "author": { "name": "Ann" } }), "identifier", "empty"),
        (json!({ "thread": {}, "message": "m", "author": { "name": "Ann" } }), "thread.identifier", "required"),
        (
            json!({ "thread": { "identifier": "t", "url": "javascript:alert(1)" }, "message": "m", "author": { "name": "Ann" } }),
            "thread.url",
            "invalid_url",
        ),
        (
            json!({ "thread": { "identifier": "t", "url": format!("https://e.com/{}", "a".repeat(2_000)) }, "message": "m", "author": { "name": "Ann" } }),
            "thread.url",
            "too_long",
        ),
        (
            json!({ "thread": { "identifier": "t" }, "message": "m", "author": { "name": "n".repeat(101) } }),
            "author.name",
            "too_long",
        ),
        (json!({ "thread": { "identifier": "t" }, "message": "m", "author": { "name": " " } }), "author.name", "empty"),
        (
            json!({ "thread": { "identifier": "t" }, "message": "m", "author": { "name": "Ann", "email": "not-an-email" } }),
            "email",
            "invalid_email",
        ),
        (
            json!({ "thread": { "identifier": "t" }, "message": "m", "author": { "name": "Ann", "url": "data:text/html,x" } }),
            "author.url",
            "invalid_url",
        ),
    ];
    for (body, field, reason) in cases {
        let r = app
            .post("/api/v1/forums/blog/posts", &body)
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
        assert_eq!(
            (r.json["error"]["field"].as_str(), r.json["error"]["reason"].as_str()),
            (Some(field), Some(reason)),
            "{body}"
        );
    }
    assert!(!thread_exists(&app, "t").await);
    let bad_forum = json!({ "shortname": "Not Valid!" });
    app.admin_post("/api/v1/forums", Some(&bad_forum))
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    let bad_origin = json!({ "shortname": "ok", "origins": ["https://e.com/path"] });
    app.admin_post("/api/v1/forums", Some(&bad_origin))
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    app.get("/api/v1/forums/ok").await.expect_error(StatusCode::NOT_FOUND, "forum_not_found");
}

#[tokio::test]
async fn unknown_forum_thread_and_post_are_404_with_codes() {
    let app = TestApp::with_forum().await;
    app.post("/api/v1/forums/nope/posts", &post_body("t", "hi"))
        .await
        .expect_error(StatusCode::NOT_FOUND, "forum_not_found");
    app.get("/api/v1/forums/nope/thread-page?identifier=t")
        .await
        .expect_error(StatusCode::NOT_FOUND, "forum_not_found");
    app.get("/api/v1/forums/nope/counts?identifier=t").await.expect_error(StatusCode::NOT_FOUND, "forum_not_found");
    app.get("/api/v1/threads/12345").await.expect_error(StatusCode::NOT_FOUND, "thread_not_found");
    app.get("/api/v1/threads/12345/posts").await.expect_error(StatusCode::NOT_FOUND, "thread_not_found");
    app.get("/api/v1/posts/12345").await.expect_error(StatusCode::NOT_FOUND, "post_not_found");
    app.get("/api/v1/posts/12345/replies").await.expect_error(StatusCode::NOT_FOUND, "post_not_found");
    app.post("/api/v1/posts/12345/vote", &json!({ "value": 1 }))
        .await
        .expect_error(StatusCode::NOT_FOUND, "post_not_found");
    let h = [("x-confab-edit-token", "AAAAAAAAAAAAAAAAAAAAAAAA")];
    app.send(Method::PATCH, "/api/v1/posts/12345", Some(&json!({ "message": "x" })), &h)
        .await
        .expect_error(StatusCode::NOT_FOUND, "post_not_found");
    app.send(Method::DELETE, "/api/v1/posts/12345", None, &h)
        .await
        .expect_error(StatusCode::NOT_FOUND, "post_not_found");
    for bad in ["abc", "-1", "0", "1.5", "99999999999999999999999"] {
        app.get(&format!("/api/v1/posts/{bad}")).await.expect_error(StatusCode::BAD_REQUEST, "invalid_id");
        app.get(&format!("/api/v1/threads/{bad}")).await.expect_error(StatusCode::BAD_REQUEST, "invalid_id");
    }
}

#[tokio::test]
async fn replies_to_missing_or_foreign_parents_are_422() {
    let app = TestApp::with_forum().await;
    let other = app.comment("other", None, "elsewhere", "Ann").await;
    let mut body = post_body("t", "reply");
    body["parent"] = json!("12345");
    app.post("/api/v1/forums/blog/posts", &body)
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "parent_not_found");
    body["parent"] = other["post"]["id"].clone();
    app.post("/api/v1/forums/blog/posts", &body)
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "parent_not_in_thread");
    assert!(!thread_exists(&app, "t").await, "a refused reply leaves no thread behind");
    // A post of another forum is never a parent either.
    app.create_forum("other-site").await;
    let foreign = json!({ "thread": { "identifier": "other" }, "message": "x", "author": { "name": "Ann" }, "parent": other["post"]["id"] });
    app.post("/api/v1/forums/other-site/posts", &foreign)
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "parent_not_in_thread");
}

#[tokio::test]
async fn replies_deeper_than_the_maximum_are_422() {
    let app = TestApp::with_forum().await;
    let mut parent = id_of(&app.comment("deep", None, "root", "Ann").await["post"]);
    for _ in 0..confab_core::model::MAX_DEPTH {
        parent = id_of(&app.comment("deep", Some(&parent), "deeper", "Ann").await["post"]);
    }
    let mut body = post_body("deep", "one too deep");
    body["parent"] = json!(parent);
    let r = app
        .post("/api/v1/forums/blog/posts", &body)
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "parent_too_deep");
    assert!(r.json["error"]["message"].as_str().unwrap().contains("256"));
    let page = app.get(&TestApp::page_uri("deep", "")).await.json;
    assert_eq!(page["thread"]["posts"], i64::from(confab_core::model::MAX_DEPTH) + 1);
}

#[tokio::test]
async fn cursors_sorts_and_limits_are_checked() {
    let app = TestApp::with_forum().await;
    for i in 0..3 {
        app.comment("t", None, &format!("{i}"), "Ann").await;
    }
    let page = app.get(&TestApp::page_uri("t", "limit=1")).await.expect(StatusCode::OK).json;
    let thread = page["thread"]["id"].as_str().unwrap();
    let cursor = page["cursor"].as_str().unwrap();
    let base = format!("/api/v1/threads/{thread}/posts");
    // An empty `cursor=` is as malformed as any other, not a request for the first page.
    for bad in ["", "garbage", "AAAA", "%00", "A%3D", &"A".repeat(5_000)] {
        app.get(&format!("{base}?cursor={bad}")).await.expect_error(StatusCode::BAD_REQUEST, "invalid_cursor");
    }
    app.get(&TestApp::page_uri("t", "cursor=")).await.expect_error(StatusCode::BAD_REQUEST, "invalid_cursor");
    app.get(&format!("/api/v1/posts/{}/replies?cursor=", id_of(&page["posts"][0])))
        .await
        .expect_error(StatusCode::BAD_REQUEST, "invalid_cursor");
    // Flip one character: the signature no longer matches.
    let mut tampered: Vec<char> = cursor.chars().collect();
    tampered[5] = if tampered[5] == 'A' { 'B' } else { 'A' };
    let tampered: String = tampered.into_iter().collect();
    app.get(&format!("{base}?cursor={tampered}")).await.expect_error(StatusCode::BAD_REQUEST, "invalid_cursor");
    // A cursor of another thread.
    let other = app.comment("u", None, "x", "Ann").await;
    app.get(&format!("/api/v1/threads/{}/posts?cursor={cursor}", other["thread"]["id"].as_str().unwrap()))
        .await
        .expect_error(StatusCode::BAD_REQUEST, "invalid_cursor");
    // A roots cursor is not a replies cursor.
    let root = id_of(&page["posts"][0]);
    app.get(&format!("/api/v1/posts/{root}/replies?cursor={cursor}"))
        .await
        .expect_error(StatusCode::BAD_REQUEST, "invalid_cursor");

    let r =
        app.get(&TestApp::page_uri("t", "sort=popular")).await.expect_error(StatusCode::BAD_REQUEST, "invalid_query");
    assert!(r.json["error"]["message"].as_str().unwrap().contains("newest, oldest, best or hot"));
    for q in ["limit=0", "limit=101", "limit=-1", "limit=ten", "replies=21", "replies=x"] {
        app.get(&TestApp::page_uri("t", q)).await.expect_error(StatusCode::BAD_REQUEST, "invalid_query");
    }
    app.get(&format!("/api/v1/posts/{root}/replies?limit=101"))
        .await
        .expect_error(StatusCode::BAD_REQUEST, "invalid_query");
    app.get("/api/v1/forums/blog/thread-page").await.expect_error(StatusCode::BAD_REQUEST, "invalid_query");
    app.get("/api/v1/forums/blog/thread-page?url=notaurl").await.expect_error(StatusCode::BAD_REQUEST, "invalid_query");
}

#[tokio::test]
async fn votes_other_than_minus_one_zero_one_are_refused() {
    let app = TestApp::with_forum().await;
    let p = id_of(&app.comment("t", None, "x", "Ann").await["post"]);
    let uri = format!("/api/v1/posts/{p}/vote");
    for v in [json!(2), json!(-2), json!(100)] {
        let r = app
            .post(&uri, &json!({ "value": v }))
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
        assert_eq!(r.json["error"]["reason"], "invalid_vote");
    }
    for v in [json!("1"), json!(1.5), json!(null), json!(true)] {
        app.post(&uri, &json!({ "value": v })).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    }
    app.post(&uri, &json!({})).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    let post = app.get(&format!("/api/v1/posts/{p}")).await.json;
    assert_eq!((post["likes"].as_i64(), post["dislikes"].as_i64()), (Some(0), Some(0)));
}

#[tokio::test]
async fn identifiers_round_trip_exactly() {
    let app = TestApp::with_forum().await;
    let identifiers = [
        "with spaces",
        "/2024/01/slashes/",
        "it's \"quoted\" `back`",
        "日本語のスレッド",
        "مرحبا بالعالم",
        "Ελληνικά ✓ 🎉",
        "?query=1&x=%20#frag",
        " leading and trailing ",
        "back\\slash",
    ];
    for identifier in identifiers {
        let created = app.comment(identifier, None, "hi", "Ann").await;
        assert_eq!(created["thread"]["identifier"], identifier);
        let page = app.get(&TestApp::page_uri(identifier, "")).await.expect(StatusCode::OK).json;
        assert_eq!(page["thread"]["identifier"], identifier, "look-up finds exactly this thread");
        assert_eq!(page["thread"]["id"], created["thread"]["id"]);
        let found = app
            .get(&format!("/api/v1/forums/blog/threads?identifier={}", crate::common::urlencode(identifier)))
            .await
            .expect(StatusCode::OK)
            .json;
        assert_eq!(found["identifier"], identifier);
        let counts = app
            .get(&format!("/api/v1/forums/blog/counts?identifier={}", crate::common::urlencode(identifier)))
            .await
            .json;
        assert_eq!(counts["counts"][0], json!({ "identifier": identifier, "posts": 1 }));
    }
    // Near-misses are different threads.
    assert!(!thread_exists(&app, "with  spaces").await);
    assert!(!thread_exists(&app, "leading and trailing").await);
}

#[tokio::test]
async fn an_overlong_address_answers_414_in_the_envelope() {
    let app = TestApp::with_forum().await;
    let long = "a".repeat(confab_server::MAX_URI_BYTES);
    let r = app.get(&format!("/api/v1/forums/blog/thread-page?identifier={long}")).await;
    r.expect_error(StatusCode::URI_TOO_LONG, "uri_too_long");
    // Just under the limit reaches the handler, which says what is wrong.
    let under = "a".repeat(1000);
    app.get(&format!("/api/v1/forums/blog/thread-page?identifier={under}"))
        .await
        .expect_error(StatusCode::BAD_REQUEST, "invalid_query");
}
