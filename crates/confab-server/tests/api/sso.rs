//! Single sign-on: a site vouches for its users with payloads signed by the forum's
//! secret key, in Disqus's `remote_auth_s3` format or as an HS256 JWT. Forged,
//! expired, future, foreign and malformed payloads are refused and write nothing.

use std::time::Duration;

use crate::common::{Resp, START, TestApp, id_of};
use axum::http::{Method, StatusCode};
use confab_core::sso::{sign_disqus, sign_jwt};
use serde_json::{Value, json};

const NOW_SECS: i64 = START / 1000;

async fn secret_key(app: &TestApp, forum: &str) -> String {
    let auth = format!("Bearer {}", app.admin);
    let keys = app
        .send(Method::GET, &format!("/api/v1/forums/{forum}/keys"), None, &[("authorization", &auth)])
        .await
        .expect(StatusCode::OK);
    assert_eq!(keys.headers["cache-control"], "no-store");
    keys.json["secret_key"].as_str().unwrap().to_owned()
}

fn payload(secret: &str, user: &Value) -> String {
    sign_disqus(&user.to_string(), secret.as_bytes(), NOW_SECS)
}

fn ann() -> Value {
    json!({ "id": "u-42", "username": "Ann Site", "email": "ann@site.example", "avatar": "https://site.example/ann.png" })
}

async fn post_with(app: &TestApp, forum: &str, headers: &[(&str, &str)], body: &Value) -> Resp {
    app.send(Method::POST, &format!("/api/v1/forums/{forum}/posts"), Some(body), headers).await
}

fn body(message: &str) -> Value {
    json!({ "thread": { "identifier": "t", "url": "https://site.example/t" }, "message": message })
}

async fn count(app: &TestApp, forum: &str) -> i64 {
    let r = app.get(&format!("/api/v1/forums/{forum}/counts?identifier=t")).await.expect(StatusCode::OK);
    r.json["counts"].as_array().unwrap().first().map_or(0, |c| c["posts"].as_i64().unwrap())
}

#[tokio::test]
async fn a_disqus_payload_signs_the_sites_user_in() {
    let app = TestApp::with_forum().await;
    let secret = secret_key(&app, "blog").await;
    let sso = payload(&secret, &ann());
    let who =
        app.send(Method::GET, "/api/v1/forums/blog/me", None, &[("x-confab-sso", &sso)]).await.expect(StatusCode::OK);
    assert_eq!(who.json["kind"], "sso");
    assert_eq!(who.json["name"], "Ann Site");
    assert_eq!(who.headers["cache-control"], "no-store");
    assert_eq!(app.get("/api/v1/forums/blog/me").await.json["kind"], "guest");

    let created = post_with(&app, "blog", &[("x-confab-sso", &sso)], &body("Signed in by my site"))
        .await
        .expect(StatusCode::CREATED);
    let author = &created.json["post"]["author"];
    assert_eq!(author["kind"], "sso");
    assert_eq!(author["name"], "Ann Site");
    assert_eq!(author["avatar_url"], "https://site.example/ann.png");
    assert!(author["avatar_hash"].is_string());
    assert!(!created.text.contains("ann@site.example"), "the email stays private");

    // The site renames its user: the same author, with the new name.
    let renamed = payload(&secret, &json!({ "id": "u-42", "username": "Ann Renamed" }));
    let again =
        post_with(&app, "blog", &[("x-confab-sso", &renamed)], &body("again")).await.expect(StatusCode::CREATED);
    assert_eq!(again.json["post"]["author"]["id"], author["id"]);
    assert_eq!(again.json["post"]["author"]["name"], "Ann Renamed");
    // Sending guest details besides is a mistake, said plainly.
    let mut both = body("x");
    both["author"] = json!({ "name": "Someone" });
    post_with(&app, "blog", &[("x-confab-sso", &sso)], &both)
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
}

#[tokio::test]
async fn forged_expired_future_foreign_and_malformed_payloads_write_nothing() {
    let app = TestApp::with_forum().await;
    app.create_forum("other").await;
    let secret = secret_key(&app, "blog").await;
    let other_secret = secret_key(&app, "other").await;
    let user = ann().to_string();
    let forged = sign_disqus(&user, b"sk_guessed", NOW_SECS);
    let foreign = sign_disqus(&user, other_secret.as_bytes(), NOW_SECS);
    let future = sign_disqus(&user, secret.as_bytes(), NOW_SECS + 3600);
    let good = sign_disqus(&user, secret.as_bytes(), NOW_SECS);
    let (message, rest) = good.split_once(' ').unwrap();
    let tampered = format!("{} {rest}", message.replace('A', "B"));
    for bad in [forged, foreign, future, tampered, "junk".into(), "a b c".into(), "x".repeat(10_000)] {
        let r = post_with(&app, "blog", &[("x-confab-sso", &bad)], &body("should not land")).await;
        r.expect_error(StatusCode::UNAUTHORIZED, "invalid_sso");
    }
    // A payload is good for the forum's maximum age (two hours by default), then refused.
    app.advance(Duration::from_secs(2 * 3600 + 1));
    post_with(&app, "blog", &[("x-confab-sso", &good)], &body("late"))
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "invalid_sso");
    assert_eq!(count(&app, "blog").await, 0, "nothing was written");
}

#[tokio::test]
async fn the_public_key_when_sent_must_be_the_forums() {
    let app = TestApp::with_forum().await;
    app.create_forum("other").await;
    let auth = format!("Bearer {}", app.admin);
    let keys = |f: &'static str| {
        let auth = auth.clone();
        let app = &app;
        async move {
            app.send(Method::GET, &format!("/api/v1/forums/{f}/keys"), None, &[("authorization", &auth)]).await.json
        }
    };
    let (mine, theirs) = (keys("blog").await, keys("other").await);
    let sso = payload(mine["secret_key"].as_str().unwrap(), &ann());
    let other_pk = theirs["public_key"].as_str().unwrap();
    post_with(&app, "blog", &[("x-confab-sso", &sso), ("x-confab-api-key", other_pk)], &body("x"))
        .await
        .expect_error(StatusCode::FORBIDDEN, "invalid_api_key");
    let pk = mine["public_key"].as_str().unwrap();
    post_with(&app, "blog", &[("x-confab-sso", &sso), ("x-confab-api-key", pk)], &body("x"))
        .await
        .expect(StatusCode::CREATED);
    // Keys are the administrator's business.
    app.get("/api/v1/forums/blog/keys").await.expect_error(StatusCode::UNAUTHORIZED, "unauthorized");
    app.post("/api/v1/forums/blog/keys/rotate", &json!({}))
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "unauthorized");
}

#[tokio::test]
async fn rotating_the_keys_retires_every_payload_signed_with_the_old_secret() {
    let app = TestApp::with_forum().await;
    let old = secret_key(&app, "blog").await;
    let sso = payload(&old, &ann());
    post_with(&app, "blog", &[("x-confab-sso", &sso)], &body("before")).await.expect(StatusCode::CREATED);
    let rotated = app.admin_post("/api/v1/forums/blog/keys/rotate", None).await.expect(StatusCode::OK);
    let new = rotated.json["secret_key"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert_eq!(secret_key(&app, "blog").await, new);
    post_with(&app, "blog", &[("x-confab-sso", &sso)], &body("after"))
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "invalid_sso");
    post_with(&app, "blog", &[("x-confab-sso", &payload(&new, &ann()))], &body("after"))
        .await
        .expect(StatusCode::CREATED);
}

#[tokio::test]
async fn the_empty_payload_means_a_guest() {
    let app = TestApp::new().await;
    app.admin_post("/api/v1/forums", Some(&json!({ "shortname": "members", "policy": { "allow_guests": false } })))
        .await
        .expect(StatusCode::CREATED);
    let secret = secret_key(&app, "members").await;
    let logged_out = payload(&secret, &json!({}));
    assert_eq!(
        app.send(Method::GET, "/api/v1/forums/members/me", None, &[("x-confab-sso", &logged_out)]).await.json["kind"],
        "guest"
    );
    let mut guest = body("hi");
    guest["author"] = json!({ "name": "Gus" });
    post_with(&app, "members", &[("x-confab-sso", &logged_out)], &guest)
        .await
        .expect_error(StatusCode::FORBIDDEN, "guests_not_allowed");
    post_with(&app, "members", &[("x-confab-sso", &payload(&secret, &ann()))], &body("member"))
        .await
        .expect(StatusCode::CREATED);
}

#[tokio::test]
async fn hs256_jwts_work_too() {
    let app = TestApp::with_forum().await;
    let secret = secret_key(&app, "blog").await;
    let claims = json!({ "sub": 7, "name": "Jo", "picture": "https://site.example/jo.png", "iat": NOW_SECS });
    let jwt = sign_jwt(&claims.to_string(), secret.as_bytes());
    let r = post_with(&app, "blog", &[("x-confab-sso", &jwt)], &body("jwt")).await.expect(StatusCode::CREATED);
    assert_eq!(r.json["post"]["author"]["name"], "Jo");
    assert_eq!(r.json["post"]["author"]["avatar_url"], "https://site.example/jo.png");
    let wrong = sign_jwt(&claims.to_string(), b"not the secret");
    post_with(&app, "blog", &[("x-confab-sso", &wrong)], &body("jwt"))
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "invalid_sso");
}

#[tokio::test]
async fn sso_users_change_their_own_posts_and_only_in_their_forum() {
    let app = TestApp::with_forum().await;
    app.create_forum("other").await;
    let secret = secret_key(&app, "blog").await;
    let other_secret = secret_key(&app, "other").await;
    let ann_sso = payload(&secret, &ann());
    let created =
        post_with(&app, "blog", &[("x-confab-sso", &ann_sso)], &body("mine")).await.expect(StatusCode::CREATED);
    let uri = format!("/api/v1/posts/{}", id_of(&created.json["post"]));
    app.advance(Duration::from_secs(3600)); // past the guest edit window; payload still fresh
    let ann_sso = payload_at(&secret, &ann(), NOW_SECS + 3600);
    let edit = json!({ "message": "edited by my site's user" });

    // Another user of the same site, and the same user id from another site: no.
    let bob = payload_at(&secret, &json!({ "id": "u-43", "username": "Bob" }), NOW_SECS + 3600);
    let ann_elsewhere = payload_at(&other_secret, &ann(), NOW_SECS + 3600);
    app.send(Method::PATCH, &uri, Some(&edit), &[("x-confab-sso", &bob)])
        .await
        .expect_error(StatusCode::FORBIDDEN, "invalid_edit_token");
    app.send(Method::PATCH, &uri, Some(&edit), &[("x-confab-sso", &ann_elsewhere)])
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "invalid_sso");
    app.send(Method::PATCH, &uri, Some(&edit), &[("x-confab-sso", &ann_sso)]).await.expect(StatusCode::OK);
    app.send(Method::DELETE, &uri, None, &[("x-confab-sso", &ann_sso)]).await.expect(StatusCode::OK);
}

fn payload_at(secret: &str, user: &Value, at: i64) -> String {
    sign_disqus(&user.to_string(), secret.as_bytes(), at)
}

#[tokio::test]
async fn sso_users_vote_once_where_only_signed_in_readers_may() {
    let app = TestApp::new().await;
    app.admin_post("/api/v1/forums", Some(&json!({ "shortname": "members", "policy": { "voting": "accounts" } })))
        .await
        .expect(StatusCode::CREATED);
    let secret = secret_key(&app, "members").await;
    let sso = payload(&secret, &ann());
    let created =
        post_with(&app, "members", &[("x-confab-sso", &sso)], &body("vote")).await.expect(StatusCode::CREATED);
    let vote = format!("/api/v1/posts/{}/vote", id_of(&created.json["post"]));
    app.post(&vote, &json!({ "value": 1 })).await.expect_error(StatusCode::UNAUTHORIZED, "login_required");
    for voter in ["device-one-token-0000000", "device-two-token-0000000"] {
        let r = app
            .send(
                Method::POST,
                &vote,
                Some(&json!({ "value": 1 })),
                &[("x-confab-sso", &sso), ("x-confab-voter", voter)],
            )
            .await
            .expect(StatusCode::OK);
        assert_eq!(r.json["post"]["likes"], 1, "one person, one vote");
    }
}
