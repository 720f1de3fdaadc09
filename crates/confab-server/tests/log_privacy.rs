//! Logs never carry emails, IP addresses, tokens or comment bodies, even at the most
//! verbose setting. This test binary installs a global subscriber with the filter of
//! `log = "trace"` that writes every event (from every thread, the store's blocking
//! threads included) to memory, runs a full flow through the API, and searches the
//! captured text for each secret.

mod common;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode};
use common::TestApp;
use serde_json::json;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_log() {
    let logs = Captured::default();
    let sink = logs.clone();
    // The filter an operator gets with `log = "trace"`, the most they can ask for.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(confab_server::log_filter("trace")))
        .with_writer(move || sink.clone())
        .json()
        .init();

    const EMAIL: &str = "ann.private@example.com";
    const BODY: &str = "BODY-SENTINEL-7f3a a comment nobody logs";
    const EDITED: &str = "EDITED-SENTINEL-91c2";
    const IP: &str = "203.0.113.77";
    const VOTER: &str = "voter-token-sentinel-0123456789abcdef";

    let app = TestApp::new().await;
    app.create_forum("blog").await;
    let peer: SocketAddr = format!("{IP}:51000").parse().unwrap();
    let body = json!({
        "thread": { "identifier": "t", "url": "https://blog.example/t" },
        "message": BODY,
        "author": { "name": "Ann", "email": EMAIL },
    });
    let req = Request::builder()
        .method("POST")
        .uri("/api/v1/forums/blog/posts")
        .header("content-type", "application/json")
        .header("x-forwarded-for", "198.51.100.200")
        .extension(ConnectInfo(peer))
        .body(Body::from(body.to_string()))
        .unwrap();
    let created = app.raw(req).await.expect(StatusCode::CREATED).json;
    let id = created["post"]["id"].as_str().unwrap().to_owned();
    let edit_token = created["edit_token"].as_str().unwrap().to_owned();

    let post = format!("/api/v1/posts/{id}");
    app.send(Method::PATCH, &post, Some(&json!({ "message": EDITED })), &[("x-confab-edit-token", &edit_token)])
        .await
        .expect(StatusCode::OK);
    app.send(Method::POST, &format!("{post}/vote"), Some(&json!({ "value": 1 })), &[("x-confab-voter", VOTER)])
        .await
        .expect(StatusCode::OK);
    // Failures log too: a wrong token, bad input carrying an email, a wrong admin token.
    app.send(Method::DELETE, &post, None, &[("x-confab-edit-token", "wrong-token-but-long-enough-0000")])
        .await
        .expect_error(StatusCode::FORBIDDEN, "invalid_edit_token");
    let bad = json!({ "thread": { "identifier": "t" }, "message": BODY, "author": { "name": "Bo", "email": format!("not-an-email {EMAIL}") } });
    app.post("/api/v1/forums/blog/posts", &bad).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    app.send(
        Method::POST,
        "/api/v1/forums",
        Some(&json!({ "shortname": "x" })),
        &[("authorization", "Bearer guessed-admin-token-00000000")],
    )
    .await
    .expect_error(StatusCode::UNAUTHORIZED, "unauthorized");
    app.get(&format!("/api/v1/forums/blog/thread-page?identifier=t&url={EMAIL}")).await;
    app.send(Method::DELETE, &post, None, &[("x-confab-edit-token", &edit_token)]).await.expect(StatusCode::OK);

    // Accounts: passwords, session tokens, mailed link tokens and the account's address.
    const ACCOUNT_EMAIL: &str = "zed.secret@example.org";
    const PASSWORD: &str = "PASSWORD-SENTINEL-5d1e";
    const NEW_PASSWORD: &str = "NEWPASS-SENTINEL-c0de";
    const WRONG_PASSWORD: &str = "WRONGPASS-SENTINEL-aa11";
    let link = |app: &TestApp| {
        let text = app.mailer.to(ACCOUNT_EMAIL).last().unwrap().text.clone();
        text[text.find("token=").unwrap() + 6..].split_whitespace().next().unwrap().to_owned()
    };
    let signup = json!({ "username": "zed", "email": ACCOUNT_EMAIL, "password": PASSWORD });
    app.post("/api/v1/auth/signup", &signup).await.expect(StatusCode::ACCEPTED);
    let verify_token = link(&app);
    app.get(&format!("/account/verify?token={verify_token}")).await.expect(StatusCode::OK);
    app.post("/api/v1/auth/verify", &json!({ "token": verify_token })).await.expect(StatusCode::OK);
    app.post("/api/v1/auth/login", &json!({ "login": ACCOUNT_EMAIL, "password": WRONG_PASSWORD }))
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    let session = app
        .post("/api/v1/auth/login", &json!({ "login": "zed", "password": PASSWORD }))
        .await
        .expect(StatusCode::OK)
        .json["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let as_zed = format!("Bearer {session}");
    let mine = json!({ "thread": { "identifier": "t" }, "message": BODY });
    app.send(Method::POST, "/api/v1/forums/blog/posts", Some(&mine), &[("authorization", &as_zed)])
        .await
        .expect(StatusCode::CREATED);
    app.post("/api/v1/auth/reset-request", &json!({ "email": ACCOUNT_EMAIL })).await.expect(StatusCode::ACCEPTED);
    let reset_token = link(&app);
    app.post("/api/v1/auth/reset", &json!({ "token": reset_token, "password": NEW_PASSWORD }))
        .await
        .expect(StatusCode::OK);
    app.send(Method::GET, "/api/v1/me", None, &[("authorization", &as_zed)])
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "invalid_session");

    // SSO: the payload, the user's address and the forum's secret key.
    const SSO_EMAIL: &str = "sso.hidden@site.example";
    let auth = format!("Bearer {}", app.admin);
    let keys = app.send(Method::GET, "/api/v1/forums/blog/keys", None, &[("authorization", &auth)]).await.json;
    let sso_secret = keys["secret_key"].as_str().unwrap().to_owned();
    let user = json!({ "id": "s-1", "username": "Sy", "email": SSO_EMAIL }).to_string();
    let sso = confab_core::sso::sign_disqus(&user, sso_secret.as_bytes(), common::START / 1000);
    app.send(Method::POST, "/api/v1/forums/blog/posts", Some(&mine), &[("x-confab-sso", &sso)])
        .await
        .expect(StatusCode::CREATED);
    let forged = confab_core::sso::sign_disqus(&user, b"guess", common::START / 1000);
    app.send(Method::POST, "/api/v1/forums/blog/posts", Some(&mine), &[("x-confab-sso", &forged)])
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "invalid_sso");

    // Workers: notification mails (the recipient, the unsubscribe link's signature),
    // webhook deliveries (the secret, the body) and spam screening.
    const NOTIFY_EMAIL: &str = "nell.notify@example.net";
    let receiver = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_url = format!("http://{}/hook", receiver.local_addr().unwrap());
    tokio::spawn(async move {
        let app = axum::Router::new().route("/hook", axum::routing::post(|| async { "ok" }));
        axum::serve(receiver, app).await.unwrap()
    });
    let hook = app
        .send(
            Method::POST,
            "/api/v1/forums/blog/webhooks",
            Some(&json!({ "url": hook_url, "hub_signature": true })),
            &[("authorization", &auth)],
        )
        .await
        .expect(StatusCode::CREATED)
        .json;
    let hook_secret = hook["secret"].as_str().unwrap().to_owned();
    // (Fresh texts: the sentinel posted over and over is, rightly, judged spam.)
    let root = json!({ "thread": { "identifier": "t" }, "message": "NOTIFY-ROOT-SENTINEL-4b1", "author": { "name": "Nell", "email": NOTIFY_EMAIL }, "notify": true });
    let root = app.post("/api/v1/forums/blog/posts", &root).await.expect(StatusCode::CREATED).json;
    let reply = json!({ "thread": { "identifier": "t" }, "parent": root["post"]["id"], "message": "NOTIFY-REPLY-SENTINEL-9d0", "author": { "name": "Rex" } });
    app.post("/api/v1/forums/blog/posts", &reply).await.expect(StatusCode::CREATED);
    app.run_jobs().await;
    let notice = app.mailer.to(NOTIFY_EMAIL).pop().expect("the reply was mailed");
    let unsubscribe_sig = notice.unsubscribe.unwrap().rsplit("s=").next().unwrap().to_owned();

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("post created"), "the capture works: {text}");
    assert!(text.contains("webhook delivery attempted") && text.contains("post screened"), "worker logs are captured");
    assert!(text.contains("password reset; sessions ended"), "the account flow is captured");
    assert!(text.contains("confab::request"), "request lines are captured");
    assert!(text.contains("\"level\":\"TRACE\""), "trace events are captured");
    for secret in [
        EMAIL,
        "ann.private",
        "BODY-SENTINEL",
        "EDITED-SENTINEL",
        IP,
        "198.51.100.200",
        VOTER,
        &edit_token,
        "wrong-token-but-long-enough",
        "guessed-admin-token",
        &app.admin,
        ACCOUNT_EMAIL,
        "zed.secret",
        PASSWORD,
        NEW_PASSWORD,
        WRONG_PASSWORD,
        &session,
        &verify_token,
        &reset_token,
        SSO_EMAIL,
        &sso_secret,
        sso.split(' ').next().unwrap(),
        forged.split(' ').nth(1).unwrap(),
        NOTIFY_EMAIL,
        "NOTIFY-ROOT-SENTINEL",
        "NOTIFY-REPLY-SENTINEL",
        &hook_secret,
        &unsubscribe_sig,
    ] {
        assert!(!text.contains(secret), "{secret:?} appears in the log:\n{text}");
    }
}
