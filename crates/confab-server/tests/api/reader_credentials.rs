//! The log-in window and the reader credential it hands to the embedding page: the
//! password is typed only on Confab's origin, and what the page gets can comment in its
//! one forum and nothing else, whoever the account is (an owner's too).

use crate::common::{Resp, TestApp, form, urlencode};
use axum::http::{Method, StatusCode, header};
use serde_json::json;

const CONFAB: &str = "https://comments.example.com"; // the test app's public URL
const SITE: &str = "https://site.example";

/// Logs `name` in through the window for `forum`, as opened from `site`.
async fn window_log_in(app: &TestApp, forum: &str, site: &str, name: &str) -> Resp {
    let body = format!(
        "mode=login&forum={forum}&origin={}&lang=en&login={name}&password=correct+horse+battery",
        urlencode(site)
    );
    form(app, "/account/window", &body, Some(CONFAB), None).await
}

fn handed_token(r: &Resp) -> String {
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let at = r.text.find("data-token=\"").expect("the hand-off carries the credential") + 12;
    r.text[at..].split('"').next().unwrap().to_owned()
}

#[tokio::test]
async fn the_window_hands_a_forum_scoped_reader_credential_to_the_site() {
    let app = TestApp::with_forum().await;
    app.create_forum("other").await;
    // An owner of both forums: the credential must still carry none of that power.
    app.member("olga", "blog", "owner").await;
    let admin = format!("Bearer {}", app.admin);
    app.send(
        Method::PUT,
        "/api/v1/forums/other/roles/olga",
        Some(&json!({ "role": "owner" })),
        &[("authorization", &admin)],
    )
    .await
    .expect(StatusCode::OK);

    let shown = app.get(&format!("/account/window?forum=blog&origin={}", urlencode(SITE))).await.expect(StatusCode::OK);
    assert!(shown.text.contains("type=\"password\""), "{}", shown.text);
    // Escaped in the page (`/` as `&#x2f;`), read back as a browser does.
    let text = shown.text.replace("&#x2f;", "/");
    assert!(text.contains("<strong>https://site.example</strong>"), "the window names the asking site");
    assert!(shown.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap().contains("frame-ancestors 'none'"));

    let r = window_log_in(&app, "blog", SITE, "olga").await;
    assert!(r.text.replace("&#x2f;", "/").contains(&format!("data-origin=\"{SITE}\"")), "addressed to the site alone");
    assert_eq!(r.headers[header::CACHE_CONTROL], "no-store");
    let reader = format!("Bearer {}", handed_token(&r));
    let auth = [("authorization", reader.as_str())];

    // It comments in its forum, as the account.
    let body = json!({ "thread": { "identifier": "t" }, "message": "From the widget" });
    let made =
        app.send(Method::POST, "/api/v1/forums/blog/posts", Some(&body), &auth).await.expect(StatusCode::CREATED);
    assert_eq!(made.json["post"]["author"]["name"], "olga", "{}", made.json);
    let id = made.json["post"]["id"].as_str().unwrap().to_owned();
    app.send(Method::PATCH, &format!("/api/v1/posts/{id}"), Some(&json!({ "message": "Edited" })), &auth)
        .await
        .expect(StatusCode::OK);
    app.send(Method::GET, "/api/v1/me", None, &auth).await.expect(StatusCode::OK);

    // Nothing else: no keys, no moderation, no settings, no account management.
    app.send(Method::GET, "/api/v1/forums/blog/keys", None, &auth).await.expect(StatusCode::UNAUTHORIZED);
    app.send(Method::GET, "/api/v1/forums/blog/queue", None, &auth).await.expect(StatusCode::UNAUTHORIZED);
    app.send(Method::PATCH, "/api/v1/forums/blog", Some(&json!({ "name": "Taken" })), &auth)
        .await
        .expect(StatusCode::UNAUTHORIZED);
    for (method, path) in [(Method::GET, "/api/v1/me/sessions"), (Method::GET, "/api/v1/me/export")] {
        app.send(method, path, None, &auth).await.expect_error(StatusCode::FORBIDDEN, "reader_credential");
    }
    app.send(Method::DELETE, "/api/v1/me", Some(&json!({ "password": "correct horse battery" })), &auth)
        .await
        .expect_error(StatusCode::FORBIDDEN, "reader_credential");
    // And nowhere else: another forum's comments and keys are closed to it.
    app.send(Method::POST, "/api/v1/forums/other/posts", Some(&body), &auth)
        .await
        .expect_error(StatusCode::FORBIDDEN, "credential_for_other_forum");
    app.send(Method::GET, "/api/v1/forums/other/keys", None, &auth).await.expect(StatusCode::UNAUTHORIZED);

    // Logging out from the widget ends it.
    app.send(Method::POST, "/api/v1/auth/logout", None, &auth).await.expect(StatusCode::NO_CONTENT);
    app.send(Method::GET, "/api/v1/me", None, &auth).await.expect_error(StatusCode::UNAUTHORIZED, "invalid_session");
}

#[tokio::test]
async fn the_window_works_only_for_the_forums_sites_and_from_its_own_page() {
    let app = TestApp::new().await;
    app.admin_post("/api/v1/forums", Some(&json!({ "shortname": "walled", "origins": [SITE] })))
        .await
        .expect(StatusCode::CREATED);
    app.member("wendy", "walled", "member").await;
    // A site that is not the forum's cannot even open it for that forum.
    let foreign = app.get(&format!("/account/window?forum=walled&origin={}", urlencode("https://evil.example"))).await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN, "{}", foreign.text);
    assert!(!window_log_in(&app, "walled", "https://evil.example", "wendy").await.text.contains("data-token"));
    for bad in ["", "null", "javascript:alert(1)", "https://site.example/path"] {
        let r = app.get(&format!("/account/window?forum=walled&origin={}", urlencode(bad))).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad:?}: {}", r.text);
    }
    app.get("/account/window?forum=nope&origin=https%3A%2F%2Fsite.example").await.expect(StatusCode::NOT_FOUND);
    // A form posted from anywhere but Confab's own page is refused (no log-in CSRF).
    let body = format!("mode=login&forum=walled&origin={}&login=wendy&password=correct+horse+battery", urlencode(SITE));
    let r = form(&app, "/account/window", &body, Some(SITE), None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(!r.text.contains("data-token"));
    // A wrong password says so in the window, and hands nothing over.
    let wrong = form(&app, "/account/window", &body.replace("battery", "staple"), Some(CONFAB), None).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.text.contains("do not match an account") && !wrong.text.contains("data-token"));
    // The forum's own site gets its credential.
    handed_token(&window_log_in(&app, "walled", SITE, "wendy").await);
}

#[tokio::test]
async fn readers_sign_up_and_ask_for_a_reset_in_the_window() {
    let app = TestApp::with_forum().await;
    let origin = urlencode(SITE);
    let signup = format!(
        "mode=signup&forum=blog&origin={origin}&lang=de&username=neu&email=neu%40example.com&password=correct+horse+battery"
    );
    let r = form(&app, "/account/window", &signup, Some(CONFAB), None).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    assert!(r.text.contains("Fast geschafft"), "in the widget's language: {}", r.text);
    assert!(app.mailer.to("neu@example.com").pop().unwrap().text.contains("/account/verify?token="));
    let short = signup.replace("correct+horse+battery", "short");
    let r = form(&app, "/account/window", &short.replace("neu", "neu2"), Some(CONFAB), None).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text.contains("role=\"alert\""), "{}", r.text);
    let reset = format!("mode=reset&forum=blog&origin={origin}&email=neu%40example.com");
    let r = form(&app, "/account/window", &reset, Some(CONFAB), None).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    assert!(app.mailer.to("neu@example.com").pop().unwrap().text.contains("/account/reset?token="));
}
