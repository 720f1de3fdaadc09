//! The cache of public reads on shared servers over HTTP: two Confab
//! processes with an in-process L1 in front of one memcached, kept coherent by change
//! notices on Redis; and a memcached node killed mid-load, which costs fills but never
//! an error, its keys moving to the others and coming back after the retry timeout.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::common::{Resp, TestApp, raw_via};
use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use confab_cache::testing;
use confab_cache::{Backend, Tiered};
use serde_json::Value;

/// One process's cache: L1 in front of memcached, notices on Redis, once subscribed.
async fn tiered(memcached_port: u16, redis_url: &str) -> Arc<Tiered> {
    let l2 = Arc::new(testing::memcached_backend(&[memcached_port], Duration::from_secs(10)));
    testing::live_tiered(l2, redis_url, confab_server::reads::DEFAULT_POLICY.fresh).await
}

async fn get(router: &Router, uri: &str) -> Resp {
    raw_via(router, Request::get(uri).body(Body::empty()).unwrap()).await
}

async fn cache_stats(app: &TestApp, router: &Router) -> Value {
    let req = Request::get("/api/v1/cache").header("authorization", format!("Bearer {}", app.admin));
    raw_via(router, req.body(Body::empty()).unwrap()).await.expect(StatusCode::OK).json
}

fn messages(page: &Value) -> Vec<&str> {
    page["posts"].as_array().unwrap().iter().map(|p| p["raw_message"].as_str().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_with_l1_over_one_memcached_see_each_others_writes() {
    let (mc, redis) = (testing::memcached(), testing::redis());
    let a = TestApp::with_forum().await.reading_through(tiered(mc.port, &redis.redis_url()).await);
    let b_cache = tiered(mc.port, &redis.redis_url()).await;
    let b = a.other_process(b_cache.clone());
    let uri = TestApp::page_uri("news", "");
    a.comment("news", None, "first", "Ann").await;

    // b reads the page; soon from its own L1, reaching neither the store nor memcached.
    assert_eq!(messages(&get(&b, &uri).await.expect(StatusCode::OK).json), ["first"]);
    let l1_hits = |t: &Tiered| t.gauges().into_iter().find(|(n, _)| *n == "l1_hits").unwrap().1;
    let started = Instant::now();
    loop {
        let before = l1_hits(&b_cache);
        let r = get(&b, &uri).await.expect(StatusCode::OK);
        if l1_hits(&b_cache) > before {
            assert_eq!(r.queries(), 0);
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(2), "b never served the page from its L1");
    }
    let stats = cache_stats(&a, &b).await;
    assert_eq!(stats["backend"], "memcached+l1");
    assert_eq!(stats["l1_live"], 1);

    // A comment through a: its author sees it at once on a; b, whose L1 held the old
    // page, shows it as soon as a's notice arrives, without reading the store.
    a.comment("news", None, "second", "Bob").await;
    assert_eq!(messages(&get(&a.router, &uri).await.expect(StatusCode::OK).json), ["second", "first"]);
    let started = Instant::now();
    loop {
        let r = get(&b, &uri).await.expect(StatusCode::OK);
        if messages(&r.json) == ["second", "first"] {
            assert_eq!(r.queries(), 0, "a pushed the page to memcached; b read it there");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(1), "b still shows {:?}", messages(&r.json));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    eprintln!("a's comment reached b's readers in {:?}", started.elapsed());
    // Moderation too: the comment removed on a is gone from b.
    let second = a.get(&uri).await.json["posts"][0]["id"].as_str().unwrap().to_owned();
    a.send(
        Method::POST,
        &format!("/api/v1/posts/{second}/moderation"),
        Some(&serde_json::json!({ "action": "spam" })),
        &[("authorization", &format!("Bearer {}", a.admin))],
    )
    .await
    .expect(StatusCode::OK);
    let started = Instant::now();
    while messages(&get(&b, &uri).await.json) != ["first"] {
        assert!(started.elapsed() < Duration::from_secs(1), "spam still shown on b");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Sends `GET`s for `uris` from 8 readers until `stop`; every answer must be a 200
/// with the page's own comment. Counts the answers.
fn load(
    router: Router,
    uris: Arc<Vec<(String, String)>>,
    stop: Arc<AtomicBool>,
    done: Arc<AtomicUsize>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..8)
        .map(|reader| {
            let (router, uris, stop, done) = (router.clone(), uris.clone(), stop.clone(), done.clone());
            tokio::spawn(async move {
                let mut i = reader;
                while !stop.load(Ordering::SeqCst) {
                    let (uri, message) = &uris[i % uris.len()];
                    let r = get(&router, uri).await;
                    assert_eq!(r.status, StatusCode::OK, "{uri}: {}", r.text);
                    assert_eq!(messages(&r.json), [message.as_str()], "{uri}");
                    done.fetch_add(1, Ordering::SeqCst);
                    i += 7;
                }
            })
        })
        .collect()
}

/// memcached's own counters for one server (`stats`).
async fn server_stat(port: u16, name: &str) -> u64 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut c = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    c.write_all(b"stats\r\n").await.unwrap();
    let mut text = String::new();
    while !text.ends_with("END\r\n") {
        let mut buf = [0u8; 4096];
        let n = c.read(&mut buf).await.unwrap();
        assert!(n > 0);
        text.push_str(std::str::from_utf8(&buf[..n]).unwrap());
    }
    let line = text.lines().find(|l| l.starts_with(&format!("STAT {name} "))).unwrap();
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memcached_node_killed_mid_load_costs_no_errors() {
    let mut nodes: Vec<_> = (0..3).map(|_| testing::memcached()).collect();
    let ports: Vec<u16> = nodes.iter().map(|n| n.port).collect();
    let pool = Arc::new(testing::memcached_backend(&ports, Duration::from_secs(2)));
    let app = TestApp::with_forum().await.reading_through(pool.clone());
    let mut uris = Vec::new();
    let mut page_keys = Vec::new();
    for i in 0..30 {
        let identifier = format!("t{i}");
        app.comment(&identifier, None, &format!("comment {i}"), "Ann").await;
        let uri = TestApp::page_uri(&identifier, "");
        let thread = get(&app.router, &uri).await.json["thread"]["id"].as_str().unwrap().to_owned();
        page_keys.push((uri.clone(), format!("c1:pg:{thread}:newest")));
        uris.push((uri, format!("comment {i}")));
    }
    let uris = Arc::new(uris);
    // The pages that live on the node that will die.
    let victim = 1;
    let on_victim: Vec<&(String, String)> =
        page_keys.iter().filter(|(_, key)| pool.pool.server_for(key) == Some(victim)).collect();
    assert!(!on_victim.is_empty(), "some pages live on each node");

    let (stop, done) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)));
    let readers = load(app.router.clone(), uris.clone(), stop.clone(), done.clone());
    tokio::time::sleep(Duration::from_millis(500)).await;
    nodes[victim].kill();
    let killed_at = done.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::SeqCst);
    for r in readers {
        r.await.expect("no reader saw an error or a wrong page");
    }
    let after_kill = done.load(Ordering::SeqCst) - killed_at;
    assert!(after_kill > 50, "reads went on after the kill: {after_kill}");
    let stats = cache_stats(&app, &app.router).await;
    assert_eq!(stats["servers_out"], 1, "{stats}");

    // Its keys moved: the pages it held are cached on the others now.
    for (uri, key) in &on_victim {
        assert_ne!(pool.pool.server_for(key), Some(victim));
        get(&app.router, uri).await.expect(StatusCode::OK);
        assert_eq!(get(&app.router, uri).await.expect(StatusCode::OK).queries(), 0, "{uri} cached elsewhere");
    }

    // Back (empty): after the retry timeout it is in the continuum again and used.
    nodes[victim].restart();
    tokio::time::sleep(Duration::from_millis(2200)).await;
    for (uri, _) in uris.iter() {
        get(&app.router, uri).await.expect(StatusCode::OK);
    }
    let stats = cache_stats(&app, &app.router).await;
    assert_eq!(stats["servers_out"], 0, "{stats}");
    assert!(server_stat(ports[victim], "cmd_get").await > 0, "the returned node is read again");
    assert!(server_stat(ports[victim], "curr_items").await > 0, "and holds pages again");
    for (_, key) in &on_victim {
        assert_eq!(pool.pool.server_for(key), Some(victim));
    }
}
