//! The spam filter in the write path: posts judged after (or before) they show, held
//! for review or marked spam with their counts and events, duplicates, per-forum
//! learning, and an Akismet-compatible service (a local fake speaking its protocol).

use std::sync::{Arc, Mutex};

use crate::common::{TestApp, id_of, test_settings};
use axum::http::{Method, StatusCode};
use confab_core::id::Id;
use confab_core::spam::Action;
use serde_json::{Value, json};

const SPAM: &str = "URGENT! You have WON a £1000 cash prize. Call 09061701461 now to claim, T&Cs apply, txt STOP";
const HAM: &str = "I think the author is right about the second point, but the chart is misleading.";

async fn forum_with(app: &TestApp, shortname: &str, policy: Value) {
    app.admin_post("/api/v1/forums", Some(&json!({ "shortname": shortname, "policy": policy })))
        .await
        .expect(StatusCode::CREATED);
}

/// Posts as a guest over a "connection" from 203.0.113.7, with a browser's headers.
async fn say(app: &TestApp, forum: &str, text: &str, name: &str) -> Value {
    let body = json!({ "thread": { "identifier": "t" }, "message": text, "author": { "name": name } });
    let mut req = axum::http::Request::builder()
        .method(Method::POST)
        .uri(format!("/api/v1/forums/{forum}/posts"))
        .header("content-type", "application/json")
        .header("user-agent", "Mozilla/5.0 (test)")
        .header("referer", "https://blog.example/t")
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    req.extensions_mut().insert(axum::extract::ConnectInfo(std::net::SocketAddr::from(([203, 0, 113, 7], 40000))));
    app.raw(req).await.expect(StatusCode::CREATED).json
}

async fn state_of(app: &TestApp, post: &Value) -> String {
    let id: Id = id_of(&post["post"]).parse().unwrap();
    serde_json::to_value(app.store.post_get(id).await.unwrap().state).unwrap().as_str().unwrap().to_owned()
}

async fn count(app: &TestApp, forum: &str) -> i64 {
    app.get(&format!("/api/v1/forums/{forum}/counts?identifier=t")).await.json["counts"][0]["posts"]
        .as_i64()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spam_shows_at_first_then_leaves_the_page_and_the_counts() {
    let app = TestApp::with_forum().await;
    let ham = say(&app, "blog", HAM, "Ann").await;
    let spam = say(&app, "blog", SPAM, "Prize").await;
    assert_eq!(spam["post"]["state"], "approved", "the default filters after publishing");
    assert_eq!(count(&app, "blog").await, 2);
    app.run_jobs().await;
    assert_eq!(state_of(&app, &spam).await, "spam");
    assert_eq!(state_of(&app, &ham).await, "approved");
    assert_eq!(count(&app, "blog").await, 1, "counts follow");
    let page = app.get("/api/v1/forums/blog/thread-page?identifier=t").await.json;
    assert_eq!(page["posts"].as_array().unwrap().len(), 1);
    app.get(&format!("/api/v1/posts/{}", id_of(&spam["post"]))).await.expect(StatusCode::NOT_FOUND);
    let verdict = app.store.spam_verdict(id_of(&spam["post"]).parse().unwrap()).await.unwrap().unwrap();
    assert_eq!(verdict.action, Action::Spam);
    assert!(verdict.score > 0.99 && verdict.reasons == ["classifier"], "{verdict:?}");
    let clean = app.store.spam_verdict(id_of(&ham["post"]).parse().unwrap()).await.unwrap().unwrap();
    assert_eq!(clean.action, Action::Approve);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forum_that_filters_first_shows_only_what_passed() {
    let app = TestApp::new().await;
    forum_with(&app, "strict", json!({ "spam_filter": "before" })).await;
    let ham = say(&app, "strict", HAM, "Ann").await;
    let spam = say(&app, "strict", SPAM, "Prize").await;
    assert_eq!(ham["post"]["state"], "pending");
    assert_eq!(count(&app, "strict").await, 0, "nothing shows before the filter");
    app.run_jobs().await;
    assert_eq!(state_of(&app, &ham).await, "approved");
    assert_eq!(state_of(&app, &spam).await, "spam");
    assert_eq!(count(&app, "strict").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspicious_posts_are_held_and_moderators_told() {
    let app = TestApp::new().await;
    forum_with(&app, "blog", json!({})).await;
    // A moderator with a confirmed address.
    app.post(
        "/api/v1/auth/signup",
        &json!({ "username": "mona", "email": "mona@example.com", "password": "correct horse battery" }),
    )
    .await
    .expect(StatusCode::ACCEPTED);
    let mail = app.mailer.to("mona@example.com").pop().unwrap();
    let token = mail.text.split("token=").nth(1).unwrap().split_whitespace().next().unwrap().to_owned();
    app.post("/api/v1/auth/verify", &json!({ "token": token })).await.expect(StatusCode::OK);
    let admin = format!("Bearer {}", app.admin);
    app.send(
        Method::PUT,
        "/api/v1/forums/blog/roles/mona",
        Some(&json!({ "role": "moderator" })),
        &[("authorization", &admin)],
    )
    .await
    .expect(StatusCode::OK);

    let short = say(&app, "blog", "Interesting, more at https://bit.ly/3xYz", "Linker").await;
    let hidden = say(&app, "blog", "Great\u{200B}post, thanks", "Hider").await;
    app.run_jobs().await;
    assert_eq!(state_of(&app, &short).await, "pending");
    assert_eq!(state_of(&app, &hidden).await, "pending");
    let notices: Vec<_> =
        app.mailer.to("mona@example.com").into_iter().filter(|m| m.subject.contains("awaits review")).collect();
    assert_eq!(notices.len(), 1, "one mail, the other waits for the digest");
    let v = app.store.spam_verdict(id_of(&short["post"]).parse().unwrap()).await.unwrap().unwrap();
    assert_eq!((v.action, v.reasons.contains(&"link_shortener".to_owned())), (Action::Hold, true), "{v:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_text_again_and_again_is_spam() {
    let app = TestApp::with_forum().await;
    let posts = [
        say(&app, "blog", "Check my profile for something nice", "A").await,
        say(&app, "blog", "check my  profile for something NICE", "B").await,
        say(&app, "blog", "Check my profile for something nice", "C").await,
    ];
    app.run_jobs().await;
    let states = [state_of(&app, &posts[0]).await, state_of(&app, &posts[1]).await, state_of(&app, &posts[2]).await];
    assert_eq!(states.iter().filter(|s| *s == "spam").count(), 3, "each has two twins: {states:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forum_learns_its_own_spam_and_keeps_it_to_itself() {
    let app = TestApp::with_forum().await;
    app.create_forum("other").await;
    let blog = app.store.forum_by_shortname("blog").await.unwrap();
    // What the moderation queue feeds it: moderators' decisions.
    // (Spam as forums see it: words and a link. Words alone are never marked spam by
    // the classifier by itself.)
    for i in 0..20 {
        let t =
            confab_core::spam::tokens(&format!("zorbling deals {i}, cheap grobbet offers at https://zorbling.shop"));
        app.store.spam_learn(blog.id, &t, true).await.unwrap();
        let h = confab_core::spam::tokens(&format!("thoughtful reply number {i} about the article"));
        app.store.spam_learn(blog.id, &h, false).await.unwrap();
    }
    let text = "zorbling deals, cheap grobbet offers, the best zorbling at https://zorbling.shop";
    let here = say(&app, "blog", text, "Z").await;
    let there = say(&app, "other", text, "Z").await;
    app.run_jobs().await;
    assert_eq!(state_of(&app, &here).await, "spam");
    // Elsewhere only the seed judges it: a first comment with a link, at most held.
    assert_ne!(state_of(&app, &there).await, "spam", "one forum's learning stays in that forum");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forum_with_the_filter_off_keeps_everything() {
    let app = TestApp::new().await;
    forum_with(&app, "open", json!({ "spam_filter": "off" })).await;
    let spam = say(&app, "open", SPAM, "Prize").await;
    app.run_jobs().await;
    assert_eq!(state_of(&app, &spam).await, "approved");
    assert!(app.store.spam_verdict(id_of(&spam["post"]).parse().unwrap()).await.unwrap().is_none());
}

/// A local service speaking the Akismet protocol: `POST /1.1/comment-check`, a form,
/// `true`/`false`, `invalid` with a debug header for a wrong key.
/// Every form the fake received, as (name, value) pairs.
type Calls = Arc<Mutex<Vec<Vec<(String, String)>>>>;

async fn fake_akismet() -> (String, Calls) {
    let seen: Calls = Arc::default();
    let s = Arc::clone(&seen);
    let app = axum::Router::new().route(
        "/1.1/comment-check",
        axum::routing::post(move |body: String| {
            let s = Arc::clone(&s);
            async move {
                let form: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes()).into_owned().collect();
                let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
                s.lock().unwrap().push(form.clone());
                if get("api_key") != "fake-key-123" {
                    return (
                        [("x-akismet-debug-help", "We were unable to verify your API key.")],
                        "invalid".to_owned(),
                    );
                }
                if get("blog").is_empty() || get("user_ip").is_empty() || get("comment_content").is_empty() {
                    return (
                        [("x-akismet-debug-help", "Empty \"blog\", \"user_ip\" or \"comment_content\"")],
                        "invalid".to_owned(),
                    );
                }
                let spam = get("comment_content").contains("rolex") || get("comment_author") == "viagra-test-123";
                ([("x-akismet-debug-help", "")], spam.to_string())
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

async fn akismet_app(endpoint: &str, key: &str) -> TestApp {
    let mut settings = test_settings(confab_server::RateLimits::off());
    settings.akismet = Some(confab_server::akismet::Akismet {
        endpoint: url::Url::parse(endpoint).unwrap(),
        key: key.into(),
        blog: "https://comments.example.com".into(),
    });
    let app = TestApp::with_settings(settings).await;
    forum_with(&app, "blog", json!({ "akismet": true })).await;
    forum_with(&app, "own", json!({})).await;
    app
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_akismet_compatible_service_catches_what_the_filter_misses() {
    let (endpoint, seen) = fake_akismet().await;
    let app = akismet_app(&endpoint, "fake-key-123").await;
    let watch = say(&app, "blog", "Lovely watches, a rolex for everyone", "Seller").await;
    let fine = say(&app, "blog", HAM, "Ann").await;
    let elsewhere = say(&app, "own", "Lovely watches, a rolex for everyone", "Seller").await;
    app.run_jobs().await;
    assert_eq!(state_of(&app, &watch).await, "spam");
    assert_eq!(state_of(&app, &fine).await, "approved");
    assert_eq!(state_of(&app, &elsewhere).await, "approved", "only forums that opt in ask the service");
    let v = app.store.spam_verdict(id_of(&watch["post"]).parse().unwrap()).await.unwrap().unwrap();
    assert!(v.reasons.contains(&"akismet".to_owned()), "{v:?}");
    let calls = seen.lock().unwrap().clone();
    assert_eq!(calls.len(), 2, "one call per post of the opted-in forum");
    let get = |k: &str| calls[0].iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
    assert_eq!(get("blog"), "https://comments.example.com");
    assert_eq!(get("comment_type"), "comment");
    assert_eq!(get("user_ip"), "203.0.113.7", "the request's address goes to the service");
    assert_eq!(get("user_agent"), "Mozilla/5.0 (test)");
    assert_eq!(get("referrer"), "https://blog.example/t");
    // Job listings never show the client's details.
    let jobs = app
        .send(Method::GET, "/api/v1/jobs?limit=100", None, &[("authorization", &format!("Bearer {}", app.admin))])
        .await;
    assert!(jobs.text.contains("\"screen\"") && !jobs.text.contains("203.0.113.7"), "{}", jobs.text);
}

/// With the `spam_service` switch off, nothing goes out to the service: the built-in
/// filter alone decides. Selective by forum, it asks only for the forums named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_spam_service_switched_off_is_not_asked() {
    let (endpoint, seen) = fake_akismet().await;
    let app = akismet_app(&endpoint, "fake-key-123").await;
    let admin = format!("Bearer {}", app.admin);
    let switch = |body: Value| {
        let admin = admin.clone();
        let app = &app;
        async move {
            app.send(Method::PUT, "/api/v1/switches/spam_service", Some(&body), &[("authorization", &admin)])
                .await
                .expect(StatusCode::OK);
        }
    };
    switch(json!({ "state": "off" })).await;
    let watch = say(&app, "blog", "Lovely watches, a rolex for everyone", "Seller").await;
    app.run_jobs().await;
    assert_eq!(state_of(&app, &watch).await, "approved", "the built-in filter alone lets it through");
    assert!(seen.lock().unwrap().is_empty(), "nothing was sent to the service");
    switch(json!({ "state": "selective", "include": { "forums": ["blog"] } })).await;
    let again = say(&app, "blog", "Lovely watches, a rolex for everyone today", "Seller").await;
    app.run_jobs().await;
    assert_eq!(state_of(&app, &again).await, "spam");
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_service_leaves_the_built_in_verdict_standing() {
    let (endpoint, _) = fake_akismet().await;
    let app = akismet_app(&endpoint, "wrong-key").await;
    let watch = say(&app, "blog", "Lovely watches, a rolex for everyone", "Seller").await;
    let spam = say(&app, "blog", SPAM, "Prize").await;
    app.run_jobs().await;
    assert_eq!(state_of(&app, &watch).await, "approved");
    assert_eq!(state_of(&app, &spam).await, "spam");
}

async fn decide(app: &TestApp, post: &Value, action: &str) {
    let body = json!({ "action": action });
    let uri = format!("/api/v1/posts/{}/moderation", id_of(&post["post"]));
    app.send(Method::POST, &uri, Some(&body), &[("authorization", &format!("Bearer {}", app.admin))])
        .await
        .expect(StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn screening_never_undoes_a_decision_made_before_it_ran() {
    let app = TestApp::with_forum().await;
    // Held by a moderator before the filter ran: a clean verdict must not publish it,
    // nor a spam verdict move it out of the moderator's queue.
    let held_ham = say(&app, "blog", HAM, "Ann").await;
    let held_spam = say(&app, "blog", SPAM, "Prize").await;
    decide(&app, &held_ham, "hold").await;
    decide(&app, &held_spam, "hold").await;
    // Held and approved again (back to the state it was queued in): still a decision.
    let approved = say(&app, "blog", &format!("{SPAM} again"), "Prize").await;
    decide(&app, &approved, "hold").await;
    decide(&app, &approved, "approve").await;
    // Deleted or marked spam by a moderator: stays so.
    let deleted = say(&app, "blog", "A comment the moderator removed before screening.", "Bo").await;
    decide(&app, &deleted, "delete").await;
    let marked = say(&app, "blog", "A comment the moderator marked as spam.", "Cy").await;
    decide(&app, &marked, "spam").await;
    // Nobody touched this one: the filter still does its work.
    let untouched = say(&app, "blog", &format!("{SPAM} once more"), "Prize").await;
    app.run_jobs().await;
    assert_eq!(state_of(&app, &held_ham).await, "pending");
    assert_eq!(state_of(&app, &held_spam).await, "pending");
    assert_eq!(state_of(&app, &approved).await, "approved");
    assert_eq!(state_of(&app, &deleted).await, "deleted");
    assert_eq!(state_of(&app, &marked).await, "spam");
    assert_eq!(state_of(&app, &untouched).await, "spam");
    // The verdict is still recorded for the moderator to see.
    let v = app.store.spam_verdict(id_of(&approved["post"]).parse().unwrap()).await.unwrap().unwrap();
    assert_eq!(v.action, Action::Spam);
    assert_eq!(count(&app, "blog").await, 1, "only the re-approved comment counts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forum_that_filters_first_keeps_a_moderators_early_approval() {
    let app = TestApp::new().await;
    forum_with(&app, "strict", json!({ "spam_filter": "before" })).await;
    let early = say(&app, "strict", SPAM, "Prize").await;
    assert_eq!(early["post"]["state"], "pending");
    decide(&app, &early, "approve").await;
    app.run_jobs().await;
    assert_eq!(state_of(&app, &early).await, "approved", "the moderator approved it before the filter ran");
}

/// An Akismet-compatible service that answers "spam" only when the test lets it: the
/// moderator decides while the outside service is still judging.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_made_while_the_outside_service_judges_stands() {
    let (asked_tx, mut asked) = tokio::sync::mpsc::channel::<()>(1);
    let gate = Arc::new(tokio::sync::Notify::new());
    let g = Arc::clone(&gate);
    let service = axum::Router::new().route(
        "/1.1/comment-check",
        axum::routing::post(move || {
            let (asked_tx, g) = (asked_tx.clone(), Arc::clone(&g));
            async move {
                asked_tx.send(()).await.unwrap();
                g.notified().await;
                "true"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, service).await.unwrap() });
    let app = akismet_app(&endpoint, "any-key").await;
    let post = say(&app, "blog", HAM, "Ann").await;
    let moderator = async {
        asked.recv().await.expect("the filter asks the service");
        decide(&app, &post, "hold").await;
        decide(&app, &post, "approve").await;
        gate.notify_one();
    };
    tokio::join!(app.run_jobs(), moderator);
    assert_eq!(state_of(&app, &post).await, "approved", "the moderator's approval stands over the service's spam");
    let v = app.store.spam_verdict(id_of(&post["post"]).parse().unwrap()).await.unwrap().unwrap();
    assert_eq!(v.action, Action::Spam, "the service's verdict is recorded: {v:?}");
}

/// A guest's comment that the filter holds after it showed: gone from the page, but
/// its author, by the edit token their browser kept, still sees it waiting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_still_sees_their_comment_once_the_filter_holds_it() {
    let app = TestApp::with_forum().await;
    let held = say(&app, "blog", "Interesting, more at https://bit.ly/3xYz", "Linker").await;
    let shown = say(&app, "blog", HAM, "Ann").await;
    assert_eq!(held["post"]["state"], "approved", "shown at first");
    app.run_jobs().await;
    assert_eq!(state_of(&app, &held).await, "pending");
    let page = app.get("/api/v1/forums/blog/thread-page?identifier=t").await.json;
    assert_eq!(page["posts"].as_array().unwrap().len(), 1, "not on the public page");

    let mine = format!("/api/v1/threads/{}/mine", held["thread"]["id"].as_str().unwrap());
    let pair = |p: &Value| format!("{}.{}", id_of(&p["post"]), p["edit_token"].as_str().unwrap());
    let ask = |tokens: String| {
        let (app, mine) = (&app, &mine);
        async move { app.send(Method::GET, mine, None, &[("x-confab-edit-tokens", &tokens)]).await }
    };
    let r = ask(format!("{}, {}", pair(&held), pair(&shown))).await.expect(StatusCode::OK);
    assert_eq!(r.headers["cache-control"], "no-store");
    let posts = r.json["posts"].as_array().unwrap();
    assert_eq!(posts.len(), 1, "only the hidden one: {posts:?}");
    assert_eq!(
        (posts[0]["id"].as_str(), posts[0]["state"].as_str()),
        (Some(id_of(&held["post"]).as_str()), Some("pending"))
    );

    // Another post's token, or a made-up one, proves nothing.
    let stolen = format!("{}.{}", id_of(&held["post"]), shown["edit_token"].as_str().unwrap());
    assert!(ask(stolen).await.expect(StatusCode::OK).json["posts"].as_array().unwrap().is_empty());
    assert!(app.get(&mine).await.expect(StatusCode::OK).json["posts"].as_array().unwrap().is_empty());
    // Malformed, or too many, is refused whole with a reason.
    for bad in ["nonsense".to_owned(), format!("{}.short", id_of(&held["post"])), vec![pair(&held); 51].join(",")] {
        ask(bad).await.expect_error(StatusCode::BAD_REQUEST, "invalid_edit_tokens");
    }
}
