//! The account page on Confab's own origin: a cookie session (signed, HttpOnly,
//! SameSite=Strict, Secure over https) and CSRF protection on every write.

use crate::common::{Resp, TestApp, form};
use axum::http::{Method, StatusCode, header};
use serde_json::json;

const PASSWORD: &str = "correct horse battery staple";
const ORIGIN: &str = "https://comments.example.com"; // the test app's public URL

async fn confirmed(app: &TestApp, name: &str) {
    let email = format!("{name}@example.com");
    app.post("/api/v1/auth/signup", &json!({ "username": name, "email": email, "password": PASSWORD }))
        .await
        .expect(StatusCode::ACCEPTED);
    let text = app.mailer.to(&email).pop().unwrap().text;
    let token = text[text.find("token=").unwrap() + 6..].split_whitespace().next().unwrap().to_owned();
    app.post("/api/v1/auth/verify", &json!({ "token": token })).await.expect(StatusCode::OK);
}

async fn page(app: &TestApp, cookie: &str) -> Resp {
    app.send(Method::GET, "/account", None, &[("cookie", cookie)]).await
}

/// Logs in through the form; returns the `name=value` cookie.
async fn log_in(app: &TestApp, name: &str) -> String {
    let r =
        form(app, "/account/login", &format!("login={name}&password=correct+horse+battery+staple"), Some(ORIGIN), None)
            .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(r.headers[header::LOCATION], "/account");
    let set = r.headers[header::SET_COOKIE].to_str().unwrap().to_owned();
    set.split(';').next().unwrap().to_owned()
}

async fn signed_in(app: &TestApp, cookie: &str) -> bool {
    page(app, cookie).await.text.contains("Signed in as")
}

fn csrf_of(page: &Resp) -> String {
    let at = page.text.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    page.text[at..at + 64].to_owned()
}

#[tokio::test]
async fn the_cookie_is_locked_down_and_only_the_account_page_reads_it() {
    let app = TestApp::new().await;
    confirmed(&app, "ann").await;
    let anonymous = app.get("/account").await.expect(StatusCode::OK);
    assert!(anonymous.text.contains("action=\"/account/login\""));

    let r = form(&app, "/account/login", "login=ann&password=correct+horse+battery+staple", Some(ORIGIN), None).await;
    let set = r.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(set.starts_with("__Host-confab_session="), "{set}");
    for attr in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/", "Max-Age=2592000"] {
        assert!(set.contains(attr), "{attr} missing: {set}");
    }
    let cookie = set.split(';').next().unwrap().to_owned();
    let home = page(&app, &cookie).await.expect(StatusCode::OK);
    assert!(home.text.contains("Signed in as <strong>ann</strong>"), "{}", home.text);
    assert_eq!(home.headers["cache-control"], "no-store");

    // The API never takes the cookie: no API call can be forged with it.
    app.send(Method::GET, "/api/v1/me", None, &[("cookie", &cookie)])
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "login_required");
    // A cookie whose signature does not match is no session.
    let (token, sig) = cookie.split_once('.').unwrap();
    let forged = format!("{token}.{}", sig.chars().rev().collect::<String>());
    assert!(page(&app, &forged).await.text.contains("action=\"/account/login\""));
    let stolen_shape = cookie.replace(token.split_once('=').unwrap().1, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    assert!(page(&app, &stolen_shape).await.text.contains("action=\"/account/login\""));
}

#[tokio::test]
async fn every_write_needs_our_origin_and_the_sessions_csrf_token() {
    let app = TestApp::new().await;
    confirmed(&app, "ann").await;
    confirmed(&app, "bob").await;
    // Log-in itself must come from our own page (no log-in CSRF).
    for origin in [None, Some("https://evil.example")] {
        let r = form(&app, "/account/login", "login=ann&password=correct+horse+battery+staple", origin, None).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert!(!r.headers.contains_key(header::SET_COOKIE));
    }
    let ann = log_in(&app, "ann").await;
    let bob = log_in(&app, "bob").await;
    let ann_csrf = csrf_of(&page(&app, &ann).await);
    let bob_csrf = csrf_of(&page(&app, &bob).await);
    assert_ne!(ann_csrf, bob_csrf);

    for (body, origin) in [
        (format!("csrf={ann_csrf}"), Some("https://evil.example")),
        (format!("csrf={ann_csrf}"), None),
        (format!("csrf={bob_csrf}"), Some(ORIGIN)),
        ("csrf=".to_owned(), Some(ORIGIN)),
        ("csrf=zz".to_owned(), Some(ORIGIN)),
    ] {
        let r = form(&app, "/account/logout", &body, origin, Some(&ann)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{body} from {origin:?}");
        assert!(signed_in(&app, &ann).await);
    }
    let r = form(
        &app,
        "/account/delete",
        &format!("csrf={bob_csrf}&password=correct+horse+battery+staple"),
        Some(ORIGIN),
        Some(&ann),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(signed_in(&app, &ann).await);

    let r = form(&app, "/account/logout", &format!("csrf={ann_csrf}"), Some(ORIGIN), Some(&ann)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(r.headers[header::SET_COOKIE].to_str().unwrap().contains("Max-Age=0"), "the cookie is cleared");
    assert!(!signed_in(&app, &ann).await, "the session ended on the server");
}

#[tokio::test]
async fn sessions_are_listed_and_ended_export_downloads_and_delete_asks_for_the_password() {
    let app = TestApp::new().await;
    confirmed(&app, "ann").await;
    let browser = log_in(&app, "ann").await;
    let phone = log_in(&app, "ann").await;
    let home = page(&app, &browser).await;
    assert_eq!(home.text.matches("<li>Signed in").count(), 2);
    assert_eq!(home.text.matches("(this browser)").count(), 1);
    let csrf = csrf_of(&home);
    // End the phone's session from the browser.
    let phone_home = page(&app, &phone).await;
    let at = phone_home.text.find("(this browser)").unwrap();
    let id_at = phone_home.text[at..].find("name=\"session\" value=\"").unwrap() + at + 22;
    let phone_id: String = phone_home.text[id_at..].chars().take_while(|c| c.is_ascii_digit()).collect();
    let r = form(
        &app,
        "/account/sessions/revoke",
        &format!("csrf={csrf}&session={phone_id}"),
        Some(ORIGIN),
        Some(&browser),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(!page(&app, &phone).await.text.contains("Signed in as"));
    assert!(page(&app, &browser).await.text.contains("Signed in as"));

    let export = app.send(Method::GET, "/account/export", None, &[("cookie", &browser)]).await.expect(StatusCode::OK);
    assert_eq!(export.json["account"]["username"], "ann");
    assert!(export.headers[header::CONTENT_DISPOSITION].to_str().unwrap().starts_with("attachment"));
    assert_eq!(app.get("/account/export").await.status, StatusCode::SEE_OTHER, "no cookie, no data");

    let wrong =
        form(&app, "/account/delete", &format!("csrf={csrf}&password=wrong"), Some(ORIGIN), Some(&browser)).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let done = form(
        &app,
        "/account/delete",
        &format!("csrf={csrf}&password=correct+horse+battery+staple"),
        Some(ORIGIN),
        Some(&browser),
    )
    .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    assert!(done.text.contains("Account deleted"));
    assert!(!page(&app, &browser).await.text.contains("Signed in as"));
    app.post("/api/v1/auth/login", &json!({ "login": "ann", "password": PASSWORD }))
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
}

#[tokio::test]
async fn the_form_log_in_says_what_went_wrong() {
    let app = TestApp::new().await;
    app.post("/api/v1/auth/signup", &json!({ "username": "ann", "email": "ann@example.com", "password": PASSWORD }))
        .await
        .expect(StatusCode::ACCEPTED);
    let r = form(&app, "/account/login", "login=ann&password=correct+horse+battery+staple", Some(ORIGIN), None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.text.contains("Confirm your email address first"));
    let r = form(&app, "/account/login", "login=ann&password=nope", Some(ORIGIN), None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.text.contains("do not match"));
    let r = form(&app, "/account/login", "login=%3Cscript%3E&password=x", Some(ORIGIN), None).await;
    assert!(!r.text.contains("<script>"));
}

/// Confab's own pages answer no cross-origin read: no `Access-Control-Allow-Origin`, no
/// preflight; the API and the scripts still do.
#[tokio::test]
async fn own_pages_answer_no_cors_while_the_api_does() {
    let app = TestApp::with_forum().await;
    let from = [("origin", "https://evil.example")];
    for path in ["/account", "/account/window?forum=blog&origin=https%3A%2F%2Fa.example", "/dashboard", "/unsubscribe"]
    {
        let r = app.send(Method::GET, path, None, &from).await;
        assert!(!r.headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN), "{path}: {:?}", r.headers);
        let pre = app
            .send(
                Method::OPTIONS,
                path,
                None,
                &[("origin", "https://evil.example"), ("access-control-request-method", "POST")],
            )
            .await;
        assert!(!pre.headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN), "{path} preflight: {:?}", pre.headers);
    }
    let api = app.send(Method::GET, "/api/v1/forums/blog", None, &from).await.expect(StatusCode::OK);
    assert_eq!(api.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    let js = app.send(Method::GET, "/embed-i18n/de.js", None, &from).await.expect(StatusCode::OK);
    assert_eq!(js.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
}
