//! The cache of public reads over HTTP: a storm on a just-expired hot thread
//! reaches the store once; writes push new pages so the author and everyone else see
//! them on their next read; moderation and votes show at once; what no write pushes (a
//! write by another process) shows within the fresh time; counts and "no such thread"
//! are cached and pushed too.

use std::time::Duration;

use crate::common::{TestApp, id_of};
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

const FRESH: Duration = confab_server::reads::DEFAULT_POLICY.fresh;

async fn page(app: &TestApp, identifier: &str) -> crate::common::Resp {
    app.get(&TestApp::page_uri(identifier, "")).await.expect(StatusCode::OK)
}

fn messages(page: &Value) -> Vec<String> {
    page["posts"].as_array().unwrap().iter().map(|p| p["raw_message"].as_str().unwrap_or("").to_owned()).collect()
}

async fn moderate(app: &TestApp, who: &str, post: &str, action: &str) {
    app.send(
        Method::POST,
        &format!("/api/v1/posts/{post}/moderation"),
        Some(&json!({ "action": action })),
        &[("authorization", who)],
    )
    .await
    .expect(StatusCode::OK);
}

/// `n` readers at once; the statements they ran, all together.
async fn storm(app: &TestApp, identifier: &str, n: usize) -> (u32, Vec<Value>) {
    let uri = TestApp::page_uri(identifier, "");
    let all = futures_util::future::join_all((0..n).map(|_| app.get(&uri))).await;
    let statements = all.iter().map(|r| r.queries()).sum();
    (statements, all.into_iter().map(|r| r.expect(StatusCode::OK).json).collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_on_a_hot_thread_reaches_the_store_once() {
    let app = TestApp::with_forum().await;
    for i in 0..30 {
        app.comment("hot", None, &format!("comment {i}"), &format!("reader {}", i % 7)).await;
    }
    // What one read of the page costs when nothing is cached: the yardstick.
    app.advance(Duration::from_secs(3600));
    let cold = page(&app, "hot").await.queries();
    assert!(cold >= 4, "a cold read makes the page: {cold} statements");

    // Everything expired again: 1,000 readers at once run one cold read's statements.
    app.advance(Duration::from_secs(3600));
    let fills = app.cache.as_ref().unwrap().stats().fills;
    let (statements, pages) = storm(&app, "hot", 1000).await;
    assert_eq!(statements, cold, "1,000 readers, one store read");
    assert!(pages.iter().all(|p| p == &pages[0]), "everyone got the same page");
    assert_eq!(pages[0]["thread"]["posts"], 30);
    // One fill for the look-up and one for the page (authors: a batch inside the page's).
    assert!(app.cache.as_ref().unwrap().stats().fills - fills <= 3);

    // Just changed: the write pushed the new page, so the storm reads nothing at all.
    app.comment("hot", None, "breaking", "Ann").await;
    let (statements, pages) = storm(&app, "hot", 1000).await;
    assert_eq!(statements, 0, "the write set the new page: no reader goes to the store");
    assert!(pages.iter().all(|p| messages(p)[0] == "breaking" && p["thread"]["posts"] == 31));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_and_moderation_show_in_the_next_read_of_everyone() {
    let app = TestApp::with_forum().await;
    let mona = app.member("mona", "blog", "moderator").await;
    let first = id_of(&app.comment("t", None, "first", "Ann").await["post"]);
    // Cached now, for every sort a reader asked for.
    for sort in ["newest", "oldest"] {
        app.get(&TestApp::page_uri("t", &format!("sort={sort}"))).await.expect(StatusCode::OK);
    }
    let reply = app.comment("t", Some(&first), "a reply", "Bob").await;
    let reply_id = id_of(&reply["post"]);
    let second = id_of(&app.comment("t", None, "second", "Cy").await["post"]);
    let p = page(&app, "t").await;
    assert_eq!(p.queries(), 0, "served from the cache");
    assert_eq!(messages(&p.json), ["second", "first"]);
    assert_eq!(p.json["posts"][1]["replies"][0]["raw_message"], "a reply");
    let oldest = app.get(&TestApp::page_uri("t", "sort=oldest")).await;
    assert_eq!((oldest.queries(), messages(&oldest.json)), (0, vec!["first".into(), "second".into()]));

    // An edit by its author.
    let token = reply["edit_token"].as_str().unwrap();
    app.send(
        Method::PATCH,
        &format!("/api/v1/posts/{reply_id}"),
        Some(&json!({ "message": "a better reply" })),
        &[("x-confab-edit-token", token)],
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(page(&app, "t").await.json["posts"][1]["replies"][0]["raw_message"], "a better reply");

    // Spam, delete, approve, pin, close: each in the next read.
    moderate(&app, &mona, &second, "spam").await;
    assert_eq!(messages(&page(&app, "t").await.json), ["first"]);
    assert_eq!(page(&app, "t").await.json["thread"]["posts"], 2);
    moderate(&app, &mona, &reply_id, "delete").await;
    let replies = page(&app, "t").await.json["posts"][0]["replies"].clone();
    assert!(!replies.to_string().contains("a better reply"), "{replies}");
    moderate(&app, &mona, &second, "approve").await;
    assert_eq!(messages(&page(&app, "t").await.json), ["second", "first"]);
    moderate(&app, &mona, &first, "pin").await;
    assert_eq!(page(&app, "t").await.json["pinned"]["id"], first.as_str());
    let thread = page(&app, "t").await.json["thread"]["id"].as_str().unwrap().to_owned();
    app.send(Method::POST, &format!("/api/v1/threads/{thread}/close"), None, &[("authorization", &mona)])
        .await
        .expect(StatusCode::OK);
    assert_eq!(page(&app, "t").await.json["thread"]["closed"], true);
    assert_eq!(page(&app, "t").await.queries(), 0, "all of it pushed, none of it read by readers");
    let oldest = app.get(&TestApp::page_uri("t", "sort=oldest")).await;
    assert_eq!((oldest.queries(), oldest.json["thread"]["closed"].clone()), (0, json!(true)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_no_write_pushes_shows_within_the_fresh_time() {
    let app = TestApp::with_forum().await;
    let first = id_of(&app.comment("t", None, "first", "Ann").await["post"]);
    assert_eq!(page(&app, "t").await.json["posts"][0]["likes"], 0);
    // A vote does not move the thread's version, but it is pushed: the voter reloads and
    // sees it counted.
    app.post(&format!("/api/v1/posts/{first}/vote"), &json!({ "value": 1 })).await.expect(StatusCode::OK);
    assert_eq!(page(&app, "t").await.json["posts"][0]["likes"], 1);
    // A write by another process (straight into the store) is not pushed either.
    let forum = app.store.forum_by_shortname("blog").await.unwrap();
    let mut new =
        confab_store::contract::new_post("t", None, "from elsewhere", confab_core::model::PostState::Approved);
    new.thread.url = None;
    app.store.post_create(&forum, new, confab_core::secret::Token::generate().hash(), 1).await.unwrap();
    assert_eq!(messages(&page(&app, "t").await.json), ["first"]);

    // Once fresh time has passed, the next reader gets the stale page at once and starts
    // one refill; the reader after that has the change.
    app.advance(FRESH + Duration::from_secs(1));
    let stale = page(&app, "t").await;
    assert_eq!(messages(&stale.json), ["first"]);
    let mut seen = None;
    for _ in 0..100 {
        let p = page(&app, "t").await.json;
        if p["thread"]["posts"] == 2 {
            seen = Some(p);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let p = seen.expect("the refill landed");
    assert_eq!(messages(&p), ["from elsewhere", "first"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_threads_and_counts_are_cached_and_pushed() {
    let app = TestApp::with_forum().await;
    // The long tail: a page nobody commented on costs the store once.
    assert!(page(&app, "quiet").await.queries() > 0);
    let again = page(&app, "quiet").await;
    assert_eq!((again.queries(), again.json["thread"].clone()), (0, Value::Null));
    let counts = "/api/v1/forums/blog/counts?identifier=quiet&url=https://blog.example/post";
    let c = app.get(counts).await.expect(StatusCode::OK);
    assert_eq!(
        c.json["counts"],
        json!([{ "identifier": "quiet", "posts": 0 }, { "url": "https://blog.example/post", "posts": 0 }])
    );
    assert_eq!(app.get(counts).await.queries(), 0);

    // The first comment creates the thread: the look-up, the counts and the page follow
    // at once, without a store read.
    app.comment("quiet", None, "hello", "Ann").await;
    let p = page(&app, "quiet").await;
    assert_eq!(messages(&p.json), ["hello"]);
    let c = app.get(counts).await;
    assert_eq!(c.queries(), 0);
    assert_eq!(
        c.json["counts"],
        json!([{ "identifier": "quiet", "posts": 1 }, { "url": "https://blog.example/post", "posts": 1 }])
    );
    let by_url = app.get("/api/v1/forums/blog/thread-page?url=https://blog.example/post").await;
    assert_eq!(messages(&by_url.json), ["hello"]);

    // Counts move with comments and moderation.
    let second = id_of(&app.comment("quiet", None, "again", "Bob").await["post"]);
    assert_eq!(app.get(counts).await.json["counts"][0]["posts"], 2);
    let mona = app.member("mona", "blog", "moderator").await;
    moderate(&app, &mona, &second, "spam").await;
    assert_eq!(app.get(counts).await.json["counts"][0]["posts"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shadow_banned_posts_never_reach_the_cached_page() {
    let app = TestApp::with_forum().await;
    app.comment("t", None, "first", "Ann").await;
    assert_eq!(messages(&page(&app, "t").await.json), ["first"]);
    let mona = app.member("mona", "blog", "moderator").await;
    app.ban(&mona, "blog", json!({ "kind": "ip", "value": "192.0.2.0/24", "shadow": true }))
        .await
        .expect(StatusCode::CREATED);
    let body = json!({ "thread": { "identifier": "t" }, "message": "from the banned", "author": { "name": "Zed" } });
    app.post_from("/api/v1/forums/blog/posts", &body, [192, 0, 2, 7]).await.expect(StatusCode::CREATED);
    let p = page(&app, "t").await;
    assert_eq!(messages(&p.json), ["first"]);
    assert_eq!(p.json["thread"]["posts"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_read_the_cache_counters() {
    let app = TestApp::with_forum().await;
    app.comment("t", None, "first", "Ann").await;
    page(&app, "t").await;
    page(&app, "t").await;
    app.get("/api/v1/cache").await.expect_error(StatusCode::UNAUTHORIZED, "unauthorized");
    let admin = format!("Bearer {}", app.admin);
    let s = app.send(Method::GET, "/api/v1/cache", None, &[("authorization", &admin)]).await.expect(StatusCode::OK);
    assert_eq!(s.json["backend"], "memory");
    assert!(s.json["hits"].as_u64().unwrap() >= 2, "{}", s.text);
    assert!(s.json["entries"].as_u64().unwrap() >= 3, "{}", s.text);
    assert!(s.json["hit_ratio"].as_f64().unwrap() > 0.0);
    let off = TestApp::uncached().await;
    let admin = format!("Bearer {}", off.admin);
    let s = off.send(Method::GET, "/api/v1/cache", None, &[("authorization", &admin)]).await;
    assert_eq!(s.expect(StatusCode::OK).json, json!({ "backend": "off" }));
}
