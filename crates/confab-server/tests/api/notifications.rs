//! Email notifications end to end, through the outbox and workers, to a real SMTP
//! server (aiosmtpd on loopback): replies to authors who asked, thread subscriptions
//! with the throttle and its digest, notices of held posts to moderators, one-click
//! unsubscribe, and a mail server that is down for a while.

use std::time::Duration;

use crate::common::{TestApp, id_of, test_settings};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use confab_testkit::{SmtpSink, decode_qp, header};
use serde_json::{Value, json};

async fn app(sink: &SmtpSink) -> TestApp {
    let app = TestApp::with_smtp(test_settings(confab_server::RateLimits::off()), &sink.url()).await;
    app.create_forum("blog").await;
    app
}

async fn guest_post(
    app: &TestApp,
    parent: Option<&str>,
    text: &str,
    name: &str,
    email: Option<&str>,
    notify: bool,
) -> Value {
    let mut body = json!({
        "thread": { "identifier": "t", "url": "https://blog.example/post", "title": "A post" },
        "message": text,
        "author": { "name": name, "email": email },
        "notify": notify,
    });
    if let Some(p) = parent {
        body["parent"] = json!(p);
    }
    app.post("/api/v1/forums/blog/posts", &body).await.expect(StatusCode::CREATED).json
}

/// Messages to `to`, waiting for SMTP delivery to land in the Maildir: up to 20 s, as a
/// loaded CI machine (2 cores, every suite in parallel) once took more than 5.
async fn mails_to(sink: &SmtpSink, to: &str, at_least: usize) -> Vec<String> {
    for _ in 0..400 {
        let got = sink.to(to);
        if got.len() >= at_least {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    sink.to(to)
}

/// A verified account, signed in; returns its bearer header value.
async fn signed_in(app: &TestApp, sink: &SmtpSink, name: &str) -> String {
    let email = format!("{name}@example.com");
    let password = "correct horse battery";
    app.post("/api/v1/auth/signup", &json!({ "username": name, "email": email, "password": password }))
        .await
        .expect(StatusCode::ACCEPTED);
    let mail = decode_qp(&mails_to(sink, &email, 1).await.pop().expect("a confirmation mail"));
    let token = mail.split("token=").nth(1).unwrap().split_whitespace().next().unwrap().to_owned();
    app.post("/api/v1/auth/verify", &json!({ "token": token })).await.expect(StatusCode::OK);
    let login = app.post("/api/v1/auth/login", &json!({ "login": name, "password": password })).await;
    format!("Bearer {}", login.expect(StatusCode::OK).json["token"].as_str().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_mails_the_author_who_asked_and_nobody_else() {
    let sink = SmtpSink::start();
    let app = app(&sink).await;
    let ann = guest_post(&app, None, "What do you think?", "Ann", Some("ann@example.com"), true).await;
    let quiet = guest_post(&app, None, "No mail for me", "Cy", Some("cy@example.com"), false).await;
    let reply =
        guest_post(&app, Some(&id_of(&ann["post"])), "I think **yes**.", "Bob", Some("bob@example.com"), true).await;
    guest_post(&app, Some(&id_of(&quiet["post"])), "Reply to Cy", "Bob", None, false).await;
    // Ann answering herself is not news to her.
    guest_post(&app, Some(&id_of(&ann["post"])), "Adding to my own", "Ann", Some("ann@example.com"), false).await;
    app.run_jobs().await;

    let got = mails_to(&sink, "ann@example.com", 1).await;
    assert_eq!(got.len(), 1, "one reply, one mail");
    let raw = &got[0];
    assert_eq!(header(raw, "From").as_deref(), Some("Comments <c@example.com>"));
    assert!(header(raw, "Subject").unwrap().contains("Bob replied"), "{raw}");
    let text = decode_qp(raw);
    assert!(text.contains("I think **yes**."), "the text part quotes the comment: {text}");
    assert!(text.contains("<strong>yes</strong>"), "the HTML part renders it: {text}");
    assert!(text.contains(&format!("https://blog.example/post#comment-{}", id_of(&reply["post"]))), "{text}");
    let unsubscribe = header(raw, "List-Unsubscribe").unwrap();
    assert!(unsubscribe.starts_with("<https://comments.example.com/unsubscribe?"), "{unsubscribe}");
    assert_eq!(header(raw, "List-Unsubscribe-Post").as_deref(), Some("List-Unsubscribe=One-Click"));
    assert!(sink.to("cy@example.com").is_empty(), "Cy did not ask");
    assert!(sink.to("bob@example.com").is_empty());
    assert_eq!(sink.messages().len(), 1);

    // Asking without an address is a clear error.
    let r = app
        .post(
            "/api/v1/forums/blog/posts",
            &json!({ "thread": { "identifier": "t" }, "message": "m", "author": { "name": "X" }, "notify": true }),
        )
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    assert_eq!(r.json["error"]["reason"], "email_required");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_thread_sends_one_mail_then_a_digest() {
    let sink = SmtpSink::start();
    let app = app(&sink).await;
    let first = guest_post(&app, None, "opening", "Ann", None, false).await;
    app.run_jobs().await;
    let thread = id_of(&first["thread"]);
    let carl = signed_in(&app, &sink, "carl").await;
    let sub = format!("/api/v1/threads/{thread}/subscription");
    let auth = [("authorization", carl.as_str())];
    assert_eq!(app.send(Method::GET, &sub, None, &auth).await.expect(StatusCode::OK).json["subscribed"], false);
    app.send(Method::PUT, &sub, None, &auth).await.expect(StatusCode::OK);
    assert_eq!(app.send(Method::GET, &sub, None, &auth).await.json["subscribed"], true);
    app.get(&sub).await.expect_error(StatusCode::UNAUTHORIZED, "login_required");

    for i in 1..=5 {
        guest_post(&app, None, &format!("busy comment {i}"), "Dee", None, false).await;
        app.advance(Duration::from_secs(60));
        app.run_jobs().await;
    }
    let got = mails_to(&sink, "carl@example.com", 2).await;
    assert_eq!(got.len(), 2, "the confirmation and one notification: the rest wait");
    assert!(decode_qp(&got[1]).contains("busy comment 1"));
    // After the quiet interval (15 minutes from the first mail) the digest goes out.
    app.advance(Duration::from_secs(11 * 60));
    app.run_jobs().await;
    let got = mails_to(&sink, "carl@example.com", 3).await;
    assert_eq!(got.len(), 3);
    let digest = decode_qp(&got[2]);
    assert!(header(&got[2], "Subject").unwrap().contains("4 new comments"), "{digest}");
    for i in 2..=5 {
        assert!(digest.contains(&format!("busy comment {i}")), "{digest}");
    }
    // Quiet again: the next comment after a full interval is mailed at once.
    app.advance(Duration::from_secs(16 * 60));
    guest_post(&app, None, "much later", "Dee", None, false).await;
    app.run_jobs().await;
    assert_eq!(mails_to(&sink, "carl@example.com", 4).await.len(), 4);

    // Carl's own comments never mail Carl; unsubscribing stops the rest.
    app.send(
        Method::POST,
        "/api/v1/forums/blog/posts",
        Some(&json!({ "thread": { "identifier": "t" }, "message": "me" })),
        &auth,
    )
    .await
    .expect(StatusCode::CREATED);
    app.send(Method::DELETE, &sub, None, &auth).await.expect(StatusCode::OK);
    app.advance(Duration::from_secs(16 * 60));
    guest_post(&app, None, "after unsubscribing", "Dee", None, false).await;
    app.run_jobs().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.to("carl@example.com").len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_click_unsubscribe_stops_the_mail_and_checks_its_signature() {
    let sink = SmtpSink::start();
    let app = app(&sink).await;
    let ann = guest_post(&app, None, "first", "Ann", Some("ann@example.com"), true).await;
    let parent = id_of(&ann["post"]);
    guest_post(&app, Some(&parent), "reply one", "Bob", None, false).await;
    app.run_jobs().await;
    let raw = mails_to(&sink, "ann@example.com", 1).await.remove(0);
    let link = header(&raw, "List-Unsubscribe").unwrap();
    let path = link.trim_matches(['<', '>']).trim_start_matches("https://comments.example.com").to_owned();

    // Opening the link only asks.
    let page = app.get(&path).await.expect(StatusCode::OK);
    assert!(page.text.contains("<button"), "{}", page.text);
    // A forged or altered link does nothing.
    let forged = path.replace("ann%40example.com", "bob%40example.com");
    let r = one_click(&app, &forged).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // The mail client's one-click POST (RFC 8058).
    let r = one_click(&app, &path).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.text.contains("No more mail about “A post”"), "{}", r.text);

    app.advance(Duration::from_secs(3600));
    guest_post(&app, Some(&parent), "reply two", "Bob", None, false).await;
    app.run_jobs().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.to("ann@example.com").len(), 1, "nothing after unsubscribing");
}

async fn one_click(app: &TestApp, path: &str) -> crate::common::Resp {
    app.raw(
        Request::builder()
            .method(Method::POST)
            .uri(path)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from("List-Unsubscribe=One-Click"))
            .unwrap(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_posts_are_announced_to_moderators() {
    let sink = SmtpSink::start();
    let app = TestApp::with_smtp(test_settings(confab_server::RateLimits::off()), &sink.url()).await;
    app.admin_post("/api/v1/forums", Some(&json!({ "shortname": "blog", "policy": { "premoderate": true } })))
        .await
        .expect(StatusCode::CREATED);
    signed_in(&app, &sink, "mona").await;
    let admin = format!("Bearer {}", app.admin);
    app.send(
        Method::PUT,
        "/api/v1/forums/blog/roles/mona",
        Some(&json!({ "role": "moderator" })),
        &[("authorization", &admin)],
    )
    .await
    .expect(StatusCode::OK);
    guest_post(&app, None, "please approve me", "Ann", Some("ann@example.com"), true).await;
    app.run_jobs().await;
    let got = mails_to(&sink, "mona@example.com", 2).await;
    assert_eq!(got.len(), 2, "confirmation and the notice");
    assert!(header(&got[1], "Subject").unwrap().contains("awaits review"));
    assert!(decode_qp(&got[1]).contains("please approve me"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mail_server_that_is_down_gets_the_mail_once_it_is_back() {
    let mut sink = SmtpSink::start();
    let app = app(&sink).await;
    let ann = guest_post(&app, None, "first", "Ann", Some("ann@example.com"), true).await;
    sink.stop();
    guest_post(&app, Some(&id_of(&ann["post"])), "while the mail server is down", "Bob", None, false).await;
    app.run_jobs().await;
    sink.restart();
    assert!(sink.messages().is_empty());
    app.advance(Duration::from_secs(10));
    app.run_jobs().await;
    let got = mails_to(&sink, "ann@example.com", 1).await;
    assert_eq!(got.len(), 1, "delivered exactly once after the retry");
    assert!(decode_qp(&got[0]).contains("while the mail server is down"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_digest_that_meets_a_mail_outage_is_sent_whole_when_it_is_back() {
    let mut sink = SmtpSink::start();
    let app = app(&sink).await;
    let ann = guest_post(&app, None, "opening", "Ann", Some("ann@example.com"), true).await;
    let parent = id_of(&ann["post"]);
    for i in 1..=3 {
        guest_post(&app, Some(&parent), &format!("reply {i}"), "Bob", None, false).await;
        app.advance(Duration::from_secs(60));
        app.run_jobs().await;
    }
    // The first reply went at once; replies 2 and 3 wait for the digest.
    assert_eq!(mails_to(&sink, "ann@example.com", 1).await.len(), 1);
    sink.stop();
    // The digest comes due while the mail server is down: its attempts fail...
    app.advance(Duration::from_secs(13 * 60));
    app.run_jobs().await;
    app.advance(Duration::from_secs(10));
    app.run_jobs().await;
    sink.restart();
    assert_eq!(sink.to("ann@example.com").len(), 1, "nothing more got through");
    // ...and the next one, with the server back, carries every reply that waited.
    app.advance(Duration::from_secs(5 * 60));
    app.run_jobs().await;
    let got = mails_to(&sink, "ann@example.com", 2).await;
    assert_eq!(got.len(), 2, "the first reply's mail, then one digest");
    let digest = decode_qp(&got[1]);
    assert!(header(&got[1], "Subject").unwrap().contains("2 new comments"), "{digest}");
    assert!(digest.contains("reply 2") && digest.contains("reply 3"), "{digest}");
}

/// A notify job retried after its worker died past the gate (so its mail may have gone
/// out) whose resend fails is retried as the same mail, never handed to the digest that
/// opened meanwhile: that would be a second mail under another Message-ID.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_mail_that_fails_again_is_never_put_in_a_digest() {
    let mut sink = SmtpSink::start();
    let app = app(&sink).await;
    let ann = guest_post(&app, None, "opening", "Ann", Some("ann@example.com"), true).await;
    let thread: confab_core::id::Id = ann["thread"]["id"].as_str().unwrap().parse().unwrap();
    let parent = id_of(&ann["post"]);
    let email = confab_core::input::Email::parse("ann@example.com").unwrap();
    let first = guest_post(&app, Some(&parent), "the retried one", "Bob", None, false).await;
    let first_id: confab_core::id::Id = id_of(&first["post"]).parse().unwrap();
    // Its first attempt passed the gate, then its worker died (as if mid-send).
    let now = app.state.clock.now();
    let min = 60_000;
    assert_eq!(
        app.store.notify_gate(&email, thread, first_id, now, 15 * min).await.unwrap(),
        confab_store::NotifyGate::Send
    );
    // Another reply opens the digest meanwhile.
    let second = guest_post(&app, Some(&parent), "for the digest", "Cy", None, false).await;
    let second_id: confab_core::id::Id = id_of(&second["post"]).parse().unwrap();
    let opened = app.store.notify_gate(&email, thread, second_id, now + 1, 15 * min).await.unwrap();
    assert!(matches!(opened, confab_store::NotifyGate::Digest { schedule: true, .. }));

    // The retry meets a mail outage.
    sink.stop();
    app.run_jobs().await;
    assert_eq!(app.store.digest_waiting(&email, thread).await.unwrap(), vec![second_id], "not handed to the digest");
    sink.restart();
    app.advance(Duration::from_secs(120));
    app.run_jobs().await;
    let got = mails_to(&sink, "ann@example.com", 1).await;
    assert_eq!(got.len(), 1, "the retried mail, once");
    assert!(decode_qp(&got[0]).contains("the retried one"));
}

/// Thread squatting: a stranger who posts first fixes a thread's url and title. A forum
/// that lists its sites refuses thread urls elsewhere; mails never link to a url the
/// forum does not vouch for (one set before it listed them); moderators correct both.
#[tokio::test]
async fn a_squatted_thread_is_refused_unlinked_and_corrected() {
    let sink = SmtpSink::start();
    let app = app(&sink).await;
    let admin = format!("Bearer {}", app.admin);
    let squat = json!({
        "thread": { "identifier": "launch", "url": "https://evil.example/sign-in", "title": "Your account is suspended" },
        "message": "first!", "author": { "name": "Mallory" },
    });
    // Before the forum lists its sites, any url goes (the default)...
    let first = app.post("/api/v1/forums/blog/posts", &squat).await.expect(StatusCode::CREATED).json;
    let thread = first["thread"]["id"].as_str().unwrap().to_owned();
    let origins = json!({ "origins": ["https://blog.example"] });
    app.send(Method::PATCH, "/api/v1/forums/blog", Some(&origins), &[("authorization", &admin)])
        .await
        .expect(StatusCode::OK);
    // ...after, a new thread elsewhere is refused, and nothing is written.
    let mut other = squat.clone();
    other["thread"]["identifier"] = json!("another");
    let r = app
        .post("/api/v1/forums/blog/posts", &other)
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    assert_eq!(
        (r.json["error"]["field"].as_str(), r.json["error"]["reason"].as_str()),
        (Some("thread.url"), Some("url_not_on_forum_sites"))
    );
    let page = app.get("/api/v1/forums/blog/thread-page?identifier=another").await.expect(StatusCode::OK).json;
    assert!(page["thread"].is_null(), "{page}");

    // A reply to the squatted thread mails its subscriber without the foreign link.
    let mut ask = json!({
        "thread": { "identifier": "launch", "url": "https://blog.example/launch" },
        "message": "A real question", "author": { "name": "Ann", "email": "ann@example.com" }, "notify": true,
    });
    let ann = app.post("/api/v1/forums/blog/posts", &ask).await.expect(StatusCode::CREATED).json;
    ask["parent"] = json!(id_of(&ann["post"]));
    ask["author"] = json!({ "name": "Bob" });
    ask["notify"] = json!(false);
    app.post("/api/v1/forums/blog/posts", &ask).await.expect(StatusCode::CREATED);
    app.run_jobs().await;
    let text = decode_qp(&mails_to(&sink, "ann@example.com", 1).await[0]);
    assert!(!text.contains("evil.example"), "a link the forum does not vouch for: {text}");

    // Moderators (not readers, not strangers) correct the url and title.
    let fix = json!({ "url": "https://blog.example/launch", "title": "Launch day" });
    let uri = format!("/api/v1/threads/{thread}");
    app.send(Method::PATCH, &uri, Some(&fix), &[]).await.expect_error(StatusCode::UNAUTHORIZED, "unauthorized");
    let reader = signed_in(&app, &sink, "rita").await;
    app.send(Method::PATCH, &uri, Some(&fix), &[("authorization", &reader)]).await.expect(StatusCode::FORBIDDEN);
    let moderator = signed_in(&app, &sink, "mo").await;
    app.send(
        Method::PUT,
        "/api/v1/forums/blog/roles/mo",
        Some(&json!({ "role": "moderator" })),
        &[("authorization", &admin)],
    )
    .await
    .expect(StatusCode::OK);
    let off_site = json!({ "url": "https://evil.example/again" });
    app.send(Method::PATCH, &uri, Some(&off_site), &[("authorization", &moderator)])
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    let fixed =
        app.send(Method::PATCH, &uri, Some(&fix), &[("authorization", &moderator)]).await.expect(StatusCode::OK);
    assert_eq!(
        (fixed.json["url"].as_str(), fixed.json["title"].as_str()),
        (Some("https://blog.example/launch"), Some("Launch day"))
    );
    let page = app.get("/api/v1/forums/blog/thread-page?identifier=launch").await.expect(StatusCode::OK).json;
    assert_eq!(page["thread"]["title"], "Launch day", "the cached page shows the correction");
}

/// With the `email` switch off, notification mail waits in the outbox (attempts
/// unspent) and goes out, once, when it is on again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notification_mail_waits_while_the_email_switch_is_off() {
    let sink = SmtpSink::start();
    let app = app(&sink).await;
    let admin = format!("Bearer {}", app.admin);
    app.send(Method::PUT, "/api/v1/switches/email", Some(&json!({ "state": "off" })), &[("authorization", &admin)])
        .await
        .expect(StatusCode::OK);
    let ann = guest_post(&app, None, "What do you think?", "Ann", Some("ann@example.com"), true).await;
    guest_post(&app, Some(&id_of(&ann["post"])), "I think so.", "Bob", None, false).await;
    for _ in 0..20 {
        app.run_jobs().await;
        app.advance(Duration::from_secs(60));
    }
    let jobs = app.store.jobs_list(confab_store::JobFilter { limit: 100, ..Default::default() }).await.unwrap();
    let waiting: Vec<_> = jobs.iter().filter(|j| j.task.contains("\"notify\"")).collect();
    assert_eq!(waiting.len(), 1, "{jobs:?}");
    assert_eq!((waiting[0].state, waiting[0].attempts), (confab_core::jobs::JobState::Ready, 0));

    app.send(Method::DELETE, "/api/v1/switches/email", None, &[("authorization", &admin)]).await.expect(StatusCode::OK);
    app.advance(Duration::from_secs(60));
    app.run_jobs().await;
    assert_eq!(mails_to(&sink, "ann@example.com", 1).await.len(), 1);
    let job = app.store.job_get(waiting[0].id).await.unwrap();
    assert_eq!(job.state, confab_core::jobs::JobState::Done);
}
