//! Bans and timeouts: by account, address, domain and network; a timeout lapses on the
//! clock; lifting works; only the forum's moderators manage them, and a ban of one
//! forum is nothing in another.

use std::time::Duration;

use crate::common::{TestApp, id_of};
use axum::http::{Method, StatusCode};
use serde_json::json;

/// A guest post from `ip`.
async fn post_from(app: &TestApp, forum: &str, name: &str, email: Option<&str>, ip: [u8; 4]) -> crate::common::Resp {
    let body = json!({ "thread": { "identifier": "t" }, "message": format!("hello from {name}"), "author": { "name": name, "email": email } });
    app.post_from(&format!("/api/v1/forums/{forum}/posts"), &body, ip).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bans_by_address_domain_network_and_account_stop_the_next_post() {
    let app = TestApp::with_forum().await;
    app.create_forum("other").await;
    let mona = app.member("mona", "blog", "moderator").await;
    let troll = app.member("troll", "other", "member").await;

    app.ban(&mona, "blog", json!({ "kind": "email", "value": "Spammy@Example.com", "reason": "spam" }))
        .await
        .expect(StatusCode::CREATED);
    app.ban(&mona, "blog", json!({ "kind": "domain", "value": "@junk.example" })).await.expect(StatusCode::CREATED);
    app.ban(&mona, "blog", json!({ "kind": "ip", "value": "203.0.113.0/24" })).await.expect(StatusCode::CREATED);
    app.ban(&mona, "blog", json!({ "kind": "account", "value": "troll" })).await.expect(StatusCode::CREATED);

    let refused = post_from(&app, "blog", "S", Some("spammy@example.com"), [198, 51, 100, 1]).await;
    refused.expect_error(StatusCode::FORBIDDEN, "banned");
    post_from(&app, "blog", "J", Some("anyone@junk.example"), [198, 51, 100, 1])
        .await
        .expect_error(StatusCode::FORBIDDEN, "banned");
    post_from(&app, "blog", "N", None, [203, 0, 113, 77]).await.expect_error(StatusCode::FORBIDDEN, "banned");
    let mine = json!({ "thread": { "identifier": "t" }, "message": "hi" });
    app.send(Method::POST, "/api/v1/forums/blog/posts", Some(&mine), &[("authorization", &troll)])
        .await
        .expect_error(StatusCode::FORBIDDEN, "banned");
    // Nor do they vote: the account, and a guest from the banned network.
    let target =
        id_of(&post_from(&app, "blog", "Ok", None, [198, 51, 100, 9]).await.expect(StatusCode::CREATED).json["post"]);
    let vote = format!("/api/v1/posts/{target}/vote");
    app.send(Method::POST, &vote, Some(&json!({ "value": 1 })), &[("authorization", &troll)])
        .await
        .expect_error(StatusCode::FORBIDDEN, "banned");
    app.post_from(&vote, &json!({ "value": 1 }), [203, 0, 113, 5]).await.expect_error(StatusCode::FORBIDDEN, "banned");
    app.send(Method::POST, &vote, Some(&json!({ "value": 1 })), &[]).await.expect(StatusCode::OK);
    // Everyone else, and the same people elsewhere, post as before.
    post_from(&app, "blog", "Fine", Some("fine@example.com"), [198, 51, 100, 1]).await.expect(StatusCode::CREATED);
    post_from(&app, "other", "S", Some("spammy@example.com"), [203, 0, 113, 77]).await.expect(StatusCode::CREATED);
    app.send(Method::POST, "/api/v1/forums/other/posts", Some(&mine), &[("authorization", &troll)])
        .await
        .expect(StatusCode::CREATED);
    let count = app.get("/api/v1/forums/blog/counts?identifier=t").await.json["counts"][0]["posts"].clone();
    assert_eq!(count, 2, "nothing half-written by the refused posts");

    // Lifted: posting works again.
    let list = app
        .send(Method::GET, "/api/v1/forums/blog/bans", None, &[("authorization", &mona)])
        .await
        .expect(StatusCode::OK)
        .json;
    assert_eq!(list["bans"].as_array().unwrap().len(), 4);
    let email_ban = list["bans"].as_array().unwrap().iter().find(|b| b["kind"] == "email").unwrap().clone();
    assert_eq!((email_ban["value"].as_str(), email_ban["reason"].as_str()), (Some("spammy@example.com"), Some("spam")));
    app.send(
        Method::DELETE,
        &format!("/api/v1/forums/blog/bans/{}", id_of(&email_ban)),
        None,
        &[("authorization", &mona)],
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    post_from(&app, "blog", "S", Some("spammy@example.com"), [198, 51, 100, 1]).await.expect(StatusCode::CREATED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_lapses_by_itself() {
    let app = TestApp::with_forum().await;
    let mona = app.member("mona", "blog", "moderator").await;
    let b = app
        .ban(&mona, "blog", json!({ "kind": "email", "value": "hot@example.com", "duration_secs": 3600 }))
        .await
        .expect(StatusCode::CREATED);
    assert!(b.json["expires_at"].as_str().is_some());
    let r = post_from(&app, "blog", "Hot", Some("hot@example.com"), [198, 51, 100, 1])
        .await
        .expect_error(StatusCode::FORBIDDEN, "banned");
    assert!(r.json["error"]["message"].as_str().unwrap().contains("until"), "{}", r.text);
    app.advance(Duration::from_secs(3599));
    post_from(&app, "blog", "Hot", Some("hot@example.com"), [198, 51, 100, 1])
        .await
        .expect_error(StatusCode::FORBIDDEN, "banned");
    app.advance(Duration::from_secs(2));
    post_from(&app, "blog", "Hot", Some("hot@example.com"), [198, 51, 100, 1]).await.expect(StatusCode::CREATED);
    let list = app.send(Method::GET, "/api/v1/forums/blog/bans", None, &[("authorization", &mona)]).await.json;
    assert_eq!(list["bans"], json!([]), "a lapsed timeout is not listed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_forums_moderators_manage_its_bans() {
    let app = TestApp::with_forum().await;
    app.create_forum("other").await;
    let mona = app.member("mona", "blog", "moderator").await;
    let tess = app.member("tess", "blog", "trusted").await;
    let body = json!({ "kind": "email", "value": "x@example.com" });
    app.ban(&tess, "blog", body.clone()).await.expect_error(StatusCode::FORBIDDEN, "forbidden");
    app.ban(&mona, "other", body.clone()).await.expect_error(StatusCode::FORBIDDEN, "forbidden");
    app.post("/api/v1/forums/blog/bans", &body).await.expect_error(StatusCode::UNAUTHORIZED, "unauthorized");
    let admin = format!("Bearer {}", app.admin);
    let theirs = app.ban(&admin, "other", body).await.expect(StatusCode::CREATED).json;
    app.send(
        Method::DELETE,
        &format!("/api/v1/forums/blog/bans/{}", id_of(&theirs)),
        None,
        &[("authorization", &mona)],
    )
    .await
    .expect_error(StatusCode::NOT_FOUND, "ban_not_found");
    for (body, reason) in [
        (json!({ "kind": "ip", "value": "300.1.1.1" }), "invalid_network"),
        (json!({ "kind": "domain", "value": "no domain" }), "invalid_domain"),
        (json!({ "kind": "account", "value": "nobody_here" }), "unknown_account"),
        (json!({ "kind": "planet", "value": "mars" }), "unknown_kind"),
        (json!({ "kind": "email", "value": "x@example.com", "duration_secs": 0 }), "out_of_range"),
    ] {
        let r =
            app.ban(&mona, "blog", body.clone()).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
        assert_eq!(r.json["error"]["reason"], reason, "{body}");
    }
}
