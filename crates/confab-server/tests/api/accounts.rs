//! Local accounts end to end through the HTTP API: sign-up, address confirmation,
//! log-in, sessions, password reset, posting and voting as an account, and what a
//! stranger can and cannot learn.

use std::time::Duration;

use crate::common::{Resp, TestApp, id_of, test_settings};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use confab_server::RateLimits;
use confab_server::ratelimit::Quota;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";

/// The token of the last link mailed to `to` (`…?token=<token>`).
fn link_token(app: &TestApp, to: &str) -> String {
    let mails = app.mailer.to(to);
    let mail = mails.last().unwrap_or_else(|| panic!("no mail to {to}"));
    let start = mail.text.find("token=").expect("a link in the mail") + "token=".len();
    mail.text[start..].split_whitespace().next().unwrap().to_owned()
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

async fn sign_up(app: &TestApp, username: &str, email: &str) -> Resp {
    app.post("/api/v1/auth/signup", &json!({ "username": username, "email": email, "password": PASSWORD })).await
}

async fn log_in(app: &TestApp, login: &str, password: &str) -> Resp {
    app.post("/api/v1/auth/login", &json!({ "login": login, "password": password })).await
}

/// A confirmed account, logged in; returns its session token.
async fn account(app: &TestApp, username: &str, email: &str) -> String {
    sign_up(app, username, email).await.expect(StatusCode::ACCEPTED);
    let token = link_token(app, email);
    app.post("/api/v1/auth/verify", &json!({ "token": token })).await.expect(StatusCode::OK);
    log_in(app, username, PASSWORD).await.expect(StatusCode::OK).json["token"].as_str().unwrap().to_owned()
}

async fn as_user(app: &TestApp, method: Method, uri: &str, body: Option<&Value>, session: &str) -> Resp {
    app.send(method, uri, body, &[("authorization", &bearer(session))]).await
}

fn post_body(message: &str) -> Value {
    json!({ "thread": { "identifier": "t", "url": "https://blog.example/t" }, "message": message })
}

#[tokio::test]
async fn sign_up_confirm_log_in_post_and_log_out() {
    let app = TestApp::with_forum().await;
    let r = sign_up(&app, "Ann_Reader", "Ann@Example.com").await.expect(StatusCode::ACCEPTED);
    assert_eq!(r.json["status"], "confirmation_sent");
    assert_eq!(r.headers["cache-control"], "no-store");
    let mails = app.mailer.to("ann@example.com");
    assert_eq!(mails.len(), 1);
    assert!(mails[0].text.contains("https://comments.example.com/account/verify?token="), "{}", mails[0].text);

    // Not before the address is confirmed: the right password gets a fresh link.
    log_in(&app, "ann_reader", PASSWORD).await.expect_error(StatusCode::FORBIDDEN, "email_not_verified");
    assert_eq!(app.mailer.to("ann@example.com").len(), 2);
    let token = link_token(&app, "ann@example.com");
    let verified = app.post("/api/v1/auth/verify", &json!({ "token": token })).await.expect(StatusCode::OK);
    assert_eq!(verified.json["account"]["email_verified"], true);
    app.post("/api/v1/auth/verify", &json!({ "token": token }))
        .await
        .expect_error(StatusCode::BAD_REQUEST, "invalid_link");

    // By username (any case) or by email.
    let login = log_in(&app, "ANN_READER", PASSWORD).await.expect(StatusCode::OK);
    assert_eq!(login.headers["cache-control"], "no-store");
    assert_eq!(login.json["account"]["username"], "Ann_Reader");
    assert_eq!(login.json["session"]["current"], true);
    let session = login.json["token"].as_str().unwrap().to_owned();
    log_in(&app, "ann@example.com", PASSWORD).await.expect(StatusCode::OK);

    let me = as_user(&app, Method::GET, "/api/v1/me", None, &session).await.expect(StatusCode::OK);
    assert_eq!(me.json["account"]["email"], "ann@example.com");
    assert_eq!(me.headers["cache-control"], "no-store");

    // Posting as the account: no author details, and none accepted.
    let created = as_user(&app, Method::POST, "/api/v1/forums/blog/posts", Some(&post_body("Hello")), &session)
        .await
        .expect(StatusCode::CREATED);
    let author = &created.json["post"]["author"];
    assert_eq!(author["kind"], "account");
    assert_eq!(author["name"], "Ann_Reader");
    assert_eq!(author["avatar_hash"].as_str().unwrap().len(), 64);
    assert!(!created.text.contains("ann@example.com"), "emails never reach other readers");
    let page = app.get(&TestApp::page_uri("t", "")).await.expect(StatusCode::OK);
    assert!(!page.text.contains("ann@example.com"));
    let mut both = post_body("x");
    both["author"] = json!({ "name": "Someone else" });
    as_user(&app, Method::POST, "/api/v1/forums/blog/posts", Some(&both), &session)
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");

    // The account edits its post after the guest edit window, with no edit token.
    app.advance(Duration::from_secs(3600));
    let post = id_of(&created.json["post"]);
    let edit = json!({ "message": "Hello, edited" });
    as_user(&app, Method::PATCH, &format!("/api/v1/posts/{post}"), Some(&edit), &session).await.expect(StatusCode::OK);

    // Log-out ends this session only.
    as_user(&app, Method::POST, "/api/v1/auth/logout", None, &session).await.expect(StatusCode::NO_CONTENT);
    as_user(&app, Method::GET, "/api/v1/me", None, &session)
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "invalid_session");
    // A revoked token is refused, not silently treated as a guest.
    as_user(&app, Method::POST, "/api/v1/forums/blog/posts", Some(&post_body("ghost")), &session)
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "invalid_session");
}

#[tokio::test]
async fn only_the_author_changes_a_post() {
    let app = TestApp::with_forum().await;
    let ann = account(&app, "ann", "ann@example.com").await;
    let bob = account(&app, "bob", "bob@example.com").await;
    let created = as_user(&app, Method::POST, "/api/v1/forums/blog/posts", Some(&post_body("mine")), &ann)
        .await
        .expect(StatusCode::CREATED);
    let uri = format!("/api/v1/posts/{}", id_of(&created.json["post"]));
    as_user(&app, Method::PATCH, &uri, Some(&json!({ "message": "bob was here" })), &bob)
        .await
        .expect_error(StatusCode::FORBIDDEN, "invalid_edit_token");
    as_user(&app, Method::DELETE, &uri, None, &bob).await.expect_error(StatusCode::FORBIDDEN, "invalid_edit_token");
    // A guest's post is not any account's to change.
    let guest = app.comment("t", None, "a guest", "Gus").await;
    let guest_uri = format!("/api/v1/posts/{}", id_of(&guest["post"]));
    as_user(&app, Method::DELETE, &guest_uri, None, &ann)
        .await
        .expect_error(StatusCode::FORBIDDEN, "invalid_edit_token");
    as_user(&app, Method::DELETE, &uri, None, &ann).await.expect(StatusCode::OK);
    assert_eq!(app.get(&uri).await.json["state"], "deleted");
}

#[tokio::test]
async fn strangers_learn_nothing_about_who_has_an_account() {
    let app = TestApp::with_forum().await;
    account(&app, "ann", "ann@example.com").await;
    let before = app.mailer.to("ann@example.com").len();

    // Sign-up with a taken address answers exactly like a fresh one; the mail tells the owner.
    let taken = sign_up(&app, "someone", "ann@example.com").await;
    let fresh = sign_up(&app, "newbie", "new@example.com").await;
    assert_eq!((taken.status, &taken.json), (fresh.status, &fresh.json));
    let mails = app.mailer.to("ann@example.com");
    assert_eq!(mails.len(), before + 1);
    assert!(mails.last().unwrap().text.contains("already has an account"));
    assert!(!mails.last().unwrap().text.contains(PASSWORD));
    log_in(&app, "someone", PASSWORD).await.expect_error(StatusCode::UNAUTHORIZED, "invalid_credentials");

    // Log-in: an unknown name and a wrong password are indistinguishable.
    let unknown = log_in(&app, "nobody@example.com", PASSWORD).await;
    let wrong = log_in(&app, "ann@example.com", "not the password").await;
    assert_eq!((unknown.status, &unknown.json), (wrong.status, &wrong.json));
    assert_eq!(unknown.code(), "invalid_credentials");
    assert_eq!(unknown.headers["www-authenticate"], "Bearer");

    // Reset requests too.
    let known = app.post("/api/v1/auth/reset-request", &json!({ "email": "ann@example.com" })).await;
    let unknown = app.post("/api/v1/auth/reset-request", &json!({ "email": "nobody@example.com" })).await;
    assert_eq!((known.status, &known.json), (unknown.status, &unknown.json));
    assert_eq!(known.status, StatusCode::ACCEPTED);
    assert!(app.mailer.to("nobody@example.com").is_empty());

    // Usernames sign comments, so they are public: a taken one is said plainly.
    sign_up(&app, "ANN", "other@example.com").await.expect_error(StatusCode::CONFLICT, "username_taken");
}

#[tokio::test]
async fn sign_up_input_is_checked_and_nothing_is_half_written() {
    let app = TestApp::new().await;
    let cases = [
        (json!({ "username": "a", "email": "a@example.com", "password": PASSWORD }), "username"),
        (json!({ "username": "has space", "email": "a@example.com", "password": PASSWORD }), "username"),
        (json!({ "username": "ann", "email": "not-an-email", "password": PASSWORD }), "email"),
        (json!({ "username": "ann", "email": "a@example.com", "password": "short" }), "password"),
        (json!({ "username": "ann", "email": "a@example.com", "password": "        " }), "password"),
        (json!({ "username": "ann", "email": "a@example.com", "password": "x".repeat(257) }), "password"),
        (json!({ "username": "annabelle", "email": "a@example.com", "password": "AnnaBelle" }), "password"),
    ];
    for (body, field) in cases {
        let r = app
            .post("/api/v1/auth/signup", &body)
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
        assert_eq!(r.json["error"]["field"], field, "{body}");
    }
    app.post("/api/v1/auth/signup", &json!({ "username": "ann", "email": "a@example.com" }))
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    assert!(app.mailer.sent().is_empty(), "no mail for refused input");
    // The refused names are still free.
    sign_up(&app, "ann", "a@example.com").await.expect(StatusCode::ACCEPTED);
}

#[tokio::test]
async fn a_password_reset_ends_every_session_and_works_once() {
    let app = TestApp::with_forum().await;
    let phone = account(&app, "ann", "ann@example.com").await;
    let laptop = log_in(&app, "ann", PASSWORD).await.json["token"].as_str().unwrap().to_owned();
    app.post("/api/v1/auth/reset-request", &json!({ "email": "ANN@example.com" })).await.expect(StatusCode::ACCEPTED);
    let token = link_token(&app, "ann@example.com");
    assert!(app.mailer.to("ann@example.com").last().unwrap().text.contains("/account/reset?token="));

    // A password that breaks the rules leaves the link unspent.
    app.post("/api/v1/auth/reset", &json!({ "token": token, "password": "short" }))
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    let new_password = "a brand new passphrase";
    app.post("/api/v1/auth/reset", &json!({ "token": token, "password": new_password })).await.expect(StatusCode::OK);
    for s in [&phone, &laptop] {
        as_user(&app, Method::GET, "/api/v1/me", None, s)
            .await
            .expect_error(StatusCode::UNAUTHORIZED, "invalid_session");
    }
    log_in(&app, "ann", PASSWORD).await.expect_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    log_in(&app, "ann", new_password).await.expect(StatusCode::OK);
    app.post("/api/v1/auth/reset", &json!({ "token": token, "password": "yet another one!" }))
        .await
        .expect_error(StatusCode::BAD_REQUEST, "invalid_link");
    for junk in ["", "x", "../../etc/passwd", &"a".repeat(300)] {
        app.post("/api/v1/auth/reset", &json!({ "token": junk, "password": "whatever password" }))
            .await
            .expect_error(StatusCode::BAD_REQUEST, "invalid_link");
    }
}

#[tokio::test]
async fn links_and_sessions_expire() {
    let app = TestApp::new().await;
    sign_up(&app, "ann", "ann@example.com").await.expect(StatusCode::ACCEPTED);
    let stale = link_token(&app, "ann@example.com");
    app.advance(Duration::from_secs(48 * 3600));
    app.post("/api/v1/auth/verify", &json!({ "token": stale }))
        .await
        .expect_error(StatusCode::BAD_REQUEST, "invalid_link");
    // Log-in sends a fresh one.
    log_in(&app, "ann", PASSWORD).await.expect_error(StatusCode::FORBIDDEN, "email_not_verified");
    app.post("/api/v1/auth/verify", &json!({ "token": link_token(&app, "ann@example.com") }))
        .await
        .expect(StatusCode::OK);
    let session = log_in(&app, "ann", PASSWORD).await.json["token"].as_str().unwrap().to_owned();
    app.advance(Duration::from_secs(30 * 24 * 3600 - 1));
    as_user(&app, Method::GET, "/api/v1/me", None, &session).await.expect(StatusCode::OK);
    app.advance(Duration::from_secs(1));
    as_user(&app, Method::GET, "/api/v1/me", None, &session)
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "invalid_session");
}

#[tokio::test]
async fn an_account_lists_and_ends_its_own_sessions_only() {
    let app = TestApp::new().await;
    let ann1 = account(&app, "ann", "ann@example.com").await;
    let ann2 = log_in(&app, "ann", PASSWORD).await.json["token"].as_str().unwrap().to_owned();
    let bob = account(&app, "bob", "bob@example.com").await;
    let list = as_user(&app, Method::GET, "/api/v1/me/sessions", None, &ann1).await.expect(StatusCode::OK);
    let sessions = list.json["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    let other = sessions.iter().find(|s| s["current"] == false).unwrap();
    let bobs = as_user(&app, Method::GET, "/api/v1/me/sessions", None, &bob).await.json["sessions"][0].clone();
    // Bob's session is not Ann's to end.
    as_user(&app, Method::DELETE, &format!("/api/v1/me/sessions/{}", id_of(&bobs)), None, &ann1)
        .await
        .expect_error(StatusCode::NOT_FOUND, "session_not_found");
    as_user(&app, Method::GET, "/api/v1/me", None, &bob).await.expect(StatusCode::OK);
    as_user(&app, Method::DELETE, &format!("/api/v1/me/sessions/{}", id_of(other)), None, &ann1)
        .await
        .expect(StatusCode::NO_CONTENT);
    as_user(&app, Method::GET, "/api/v1/me", None, &ann2)
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "invalid_session");
    as_user(&app, Method::GET, "/api/v1/me", None, &ann1).await.expect(StatusCode::OK);
}

#[tokio::test]
async fn credentials_that_are_not_a_session_are_refused() {
    let app = TestApp::new().await;
    app.get("/api/v1/me").await.expect_error(StatusCode::UNAUTHORIZED, "login_required");
    for header in
        ["Basic dXNlcjpwYXNz", "Bearer", "Bearer short", "Bearer has spaces in the token!!", "Token abcdefghijklmnopq"]
    {
        app.send(Method::GET, "/api/v1/me", None, &[("authorization", header)])
            .await
            .expect_error(StatusCode::UNAUTHORIZED, "invalid_session");
    }
    // The admin token is not a session.
    let admin = bearer(&app.admin);
    app.send(Method::GET, "/api/v1/me", None, &[("authorization", &admin)])
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "invalid_session");
}

#[tokio::test]
async fn log_in_is_throttled_per_name_whoever_tries() {
    let limits = RateLimits { logins_per_name: Quota { per_minute: 1, burst: 3 }, ..RateLimits::off() };
    let app = TestApp::with_settings(test_settings(limits)).await;
    account(&app, "ann", "ann@example.com").await; // one attempt used
    for _ in 0..2 {
        log_in(&app, "ann", "guess guess guess").await.expect_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    }
    // Even the right password waits now: a guesser cannot tell a hit by the timing of the brake.
    let r = log_in(&app, "ANN", PASSWORD).await.expect_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert!(r.headers.contains_key("retry-after"));
    // Other names are unaffected; an unknown name is braked exactly the same way.
    for _ in 0..3 {
        log_in(&app, "ghost", "guess guess guess").await.expect_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    }
    log_in(&app, "ghost", "guess guess guess").await.expect_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    app.advance(Duration::from_secs(60));
    log_in(&app, "ann", PASSWORD).await.expect(StatusCode::OK);
}

#[tokio::test]
async fn someone_hammering_a_name_does_not_lock_its_owner_out() {
    let limits = RateLimits { logins_per_name: Quota { per_minute: 1, burst: 3 }, ..RateLimits::off() };
    let app = TestApp::with_settings(test_settings(limits)).await;
    account(&app, "ann", "ann@example.com").await;
    let guess = json!({ "login": "ann", "password": "guess guess guess" });
    for _ in 0..3 {
        app.post_from("/api/v1/auth/login", &guess, [198, 51, 100, 9]).await.expect(StatusCode::UNAUTHORIZED);
    }
    // The attacker's network is braked, from any of its addresses...
    for ip in [[198, 51, 100, 9], [198, 51, 100, 200]] {
        app.post_from("/api/v1/auth/login", &guess, ip)
            .await
            .expect_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    }
    // ...while Ann, from her own network, logs in at once.
    let right = json!({ "login": "ann", "password": PASSWORD });
    app.post_from("/api/v1/auth/login", &right, [203, 0, 113, 7]).await.expect(StatusCode::OK);
}

#[tokio::test]
async fn the_forum_says_who_may_vote() {
    let app = TestApp::new().await;
    for (name, voting) in [("members", "accounts"), ("quiet", "off"), ("open", "anyone")] {
        app.admin_post("/api/v1/forums", Some(&json!({ "shortname": name, "policy": { "voting": voting } })))
            .await
            .expect(StatusCode::CREATED);
    }
    let ann = account(&app, "ann", "ann@example.com").await;
    let ann_again = log_in(&app, "ann", PASSWORD).await.json["token"].as_str().unwrap().to_owned();
    let mut ids = std::collections::HashMap::new();
    for forum in ["members", "quiet", "open"] {
        let mut body = post_body("vote on me");
        body["author"] = json!({ "name": "Gus" });
        let r = app.post(&format!("/api/v1/forums/{forum}/posts"), &body).await.expect(StatusCode::CREATED);
        ids.insert(forum, id_of(&r.json["post"]));
    }
    let up = json!({ "value": 1 });
    let vote = |forum: &str| format!("/api/v1/posts/{}/vote", ids[forum]);

    app.post(&vote("members"), &up).await.expect_error(StatusCode::UNAUTHORIZED, "login_required");
    let r = as_user(&app, Method::POST, &vote("members"), Some(&up), &ann).await.expect(StatusCode::OK);
    assert!(r.json.get("voter_token").is_none(), "accounts need no voter token");
    // One account, one vote, whichever device it votes from.
    let r = as_user(&app, Method::POST, &vote("members"), Some(&up), &ann_again).await.expect(StatusCode::OK);
    assert_eq!((r.json["post"]["likes"].as_i64(), r.json["previous"].as_i64()), (Some(1), Some(1)));

    app.post(&vote("quiet"), &up).await.expect_error(StatusCode::FORBIDDEN, "voting_not_allowed");
    as_user(&app, Method::POST, &vote("quiet"), Some(&up), &ann)
        .await
        .expect_error(StatusCode::FORBIDDEN, "voting_not_allowed");

    let r = app.post(&vote("open"), &up).await.expect(StatusCode::OK);
    assert!(r.json["voter_token"].is_string());
    as_user(&app, Method::POST, &vote("open"), Some(&up), &ann).await.expect(StatusCode::OK);
    assert_eq!(app.get(&format!("/api/v1/posts/{}", ids["open"])).await.json["likes"], 2);

    app.admin_post("/api/v1/forums", Some(&json!({ "shortname": "bad", "policy": { "voting": "sometimes" } })))
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
}

#[tokio::test]
async fn accounts_post_where_guests_may_not() {
    let app = TestApp::new().await;
    app.admin_post("/api/v1/forums", Some(&json!({ "shortname": "closed", "policy": { "allow_guests": false } })))
        .await
        .expect(StatusCode::CREATED);
    let ann = account(&app, "ann", "ann@example.com").await;
    let mut guest = post_body("guest");
    guest["author"] = json!({ "name": "Gus" });
    app.post("/api/v1/forums/closed/posts", &guest).await.expect_error(StatusCode::FORBIDDEN, "guests_not_allowed");
    app.post("/api/v1/forums/closed/posts", &post_body("no author"))
        .await
        .expect_error(StatusCode::FORBIDDEN, "guests_not_allowed");
    as_user(&app, Method::POST, "/api/v1/forums/closed/posts", Some(&post_body("member")), &ann)
        .await
        .expect(StatusCode::CREATED);
}

async fn form(app: &TestApp, uri: &str, body: &str) -> Resp {
    let req = Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(body.to_owned()))
        .unwrap();
    app.raw(req).await
}

#[tokio::test]
async fn the_mailed_links_open_pages_that_act_only_when_asked() {
    let app = TestApp::new().await;
    sign_up(&app, "ann", "ann@example.com").await.expect(StatusCode::ACCEPTED);
    let token = link_token(&app, "ann@example.com");

    // Opening the link (or a mail scanner fetching it) changes nothing.
    let page = app.get(&format!("/account/verify?token={token}")).await.expect(StatusCode::OK);
    assert!(page.text.contains(&format!("name=\"token\" value=\"{token}\"")), "{}", page.text);
    assert_eq!(page.headers["referrer-policy"], "same-origin");
    assert_eq!(page.headers["cache-control"], "no-store");
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("form-action 'self'"), "{csp}");
    log_in(&app, "ann", PASSWORD).await.expect_error(StatusCode::FORBIDDEN, "email_not_verified");

    let token = link_token(&app, "ann@example.com");
    let done = form(&app, "/account/verify", &format!("token={token}")).await.expect(StatusCode::OK);
    assert!(done.text.contains("Address confirmed"), "{}", done.text);
    let again = form(&app, "/account/verify", &format!("token={token}")).await.expect(StatusCode::BAD_REQUEST);
    assert!(again.text.contains("This link does not work"));
    // Markup in the query comes back escaped.
    let hostile = app.get("/account/reset?token=%22%3E%3Cscript%3Ealert(1)%3C/script%3E").await;
    assert!(!hostile.text.contains("<script>") && hostile.text.contains("&lt;script&gt;"), "{}", hostile.text);
    app.get("/account/reset").await.expect(StatusCode::BAD_REQUEST);

    // Reset through the page: mismatched and short passwords show the form again.
    app.post("/api/v1/auth/reset-request", &json!({ "email": "ann@example.com" })).await.expect(StatusCode::ACCEPTED);
    let token = link_token(&app, "ann@example.com");
    app.get(&format!("/account/reset?token={token}")).await.expect(StatusCode::OK);
    let r = form(&app, "/account/reset", &format!("token={token}&password=abcdefghij&confirm=abcdefghik")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text.contains("differ"));
    let r = form(&app, "/account/reset", &format!("token={token}&password=short&confirm=short")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r =
        form(&app, "/account/reset", &format!("token={token}&password=new+pass+phrase&confirm=new+pass+phrase")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    log_in(&app, "ann", "new pass phrase").await.expect(StatusCode::OK);
    let css = app.get("/account/account.css").await.expect(StatusCode::OK);
    assert!(css.headers["content-type"].to_str().unwrap().starts_with("text/css"));
}

#[tokio::test]
async fn an_account_downloads_its_data_and_deletes_itself() {
    let app = TestApp::with_forum().await;
    app.admin_post(
        "/api/v1/forums",
        Some(&json!({ "shortname": "strict", "policy": { "on_account_delete": "remove" } })),
    )
    .await
    .expect(StatusCode::CREATED);
    let ann = account(&app, "ann", "ann@example.com").await;
    let kept = as_user(&app, Method::POST, "/api/v1/forums/blog/posts", Some(&post_body("I was here")), &ann)
        .await
        .expect(StatusCode::CREATED);
    let gone = as_user(&app, Method::POST, "/api/v1/forums/strict/posts", Some(&post_body("Erase me")), &ann)
        .await
        .expect(StatusCode::CREATED);
    let other = app.comment("t", None, "someone else", "Gus").await;
    let vote = format!("/api/v1/posts/{}/vote", id_of(&other["post"]));
    as_user(&app, Method::POST, &vote, Some(&json!({ "value": -1 })), &ann).await.expect(StatusCode::OK);

    let export = as_user(&app, Method::GET, "/api/v1/me/export", None, &ann).await.expect(StatusCode::OK);
    assert_eq!(export.headers["cache-control"], "no-store");
    assert!(export.headers["content-disposition"].to_str().unwrap().starts_with("attachment"));
    let data = &export.json;
    assert_eq!(data["account"]["email"], "ann@example.com");
    let mut messages: Vec<&str> =
        data["posts"].as_array().unwrap().iter().map(|p| p["message"].as_str().unwrap()).collect();
    messages.sort();
    assert_eq!(messages, ["Erase me", "I was here"]);
    assert_eq!(data["votes"], json!([{ "post": id_of(&other["post"]), "value": -1, "at": data["votes"][0]["at"] }]));
    assert_eq!(data["sessions"].as_array().unwrap().len(), 1);

    // Deleting asks for the password again; a wrong one changes nothing.
    as_user(&app, Method::DELETE, "/api/v1/me", Some(&json!({ "password": "not it at all" })), &ann)
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    as_user(&app, Method::GET, "/api/v1/me", None, &ann).await.expect(StatusCode::OK);
    let done = as_user(&app, Method::DELETE, "/api/v1/me", Some(&json!({ "password": PASSWORD })), &ann)
        .await
        .expect(StatusCode::OK);
    assert_eq!((done.json["posts_anonymized"].as_u64(), done.json["posts_removed"].as_u64()), (Some(1), Some(1)));
    as_user(&app, Method::GET, "/api/v1/me", None, &ann)
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "invalid_session");
    log_in(&app, "ann", PASSWORD).await.expect_error(StatusCode::UNAUTHORIZED, "invalid_credentials");

    let kept = app.get(&format!("/api/v1/posts/{}", id_of(&kept.json["post"]))).await.json;
    assert_eq!((kept["message"].as_str().is_some(), kept["author"]["name"].as_str()), (true, Some("Deleted account")));
    assert!(kept["author"]["avatar_hash"].is_null(), "nothing left to identify the author");
    let strict_page = app.get("/api/v1/forums/strict/thread-page?identifier=t").await;
    assert!(!strict_page.text.contains("Erase me"), "{}", strict_page.text);
    let gone = app.get(&format!("/api/v1/posts/{}", id_of(&gone.json["post"]))).await.expect(StatusCode::OK).json;
    assert_eq!(
        (gone["state"].as_str(), gone["message"].is_null(), gone["author"].is_null()),
        (Some("deleted"), true, true)
    );
    // The name and the address are free again.
    sign_up(&app, "ann", "ann@example.com").await.expect(StatusCode::ACCEPTED);
}

#[tokio::test]
async fn the_only_owner_of_a_forum_hands_it_over_before_leaving() {
    let app = TestApp::new().await;
    let ann = account(&app, "ann", "ann@example.com").await;
    app.admin_post("/api/v1/forums", Some(&json!({ "shortname": "anns", "owner": "ann" })))
        .await
        .expect(StatusCode::CREATED);
    as_user(&app, Method::DELETE, "/api/v1/me", Some(&json!({ "password": PASSWORD })), &ann)
        .await
        .expect_error(StatusCode::CONFLICT, "last_owner");
    as_user(&app, Method::GET, "/api/v1/me", None, &ann).await.expect(StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simultaneous_guesses_at_one_name_pass_the_brake_exactly_burst_times() {
    let limits = RateLimits { logins_per_name: Quota { per_minute: 1, burst: 5 }, ..RateLimits::off() };
    let app = std::sync::Arc::new(TestApp::with_settings(test_settings(limits)).await);
    let tasks: Vec<_> = (0..30)
        .map(|i| {
            let app = std::sync::Arc::clone(&app);
            tokio::spawn(async move { log_in(&app, "victim@example.com", &format!("guess number {i}")).await.status })
        })
        .collect();
    let (mut tried, mut braked) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            StatusCode::UNAUTHORIZED => tried += 1,
            StatusCode::TOO_MANY_REQUESTS => braked += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!((tried, braked), (5, 25), "no over-admission under concurrency");
}
