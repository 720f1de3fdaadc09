//! Benchmark of the foundation: a thread of 10,000 posts, page 100 of roots against
//! page 1 (in the store alone, and over HTTP), and the requests/s of the thread page
//! and of post creation.
//!
//! Run: `cargo run --release -p confab --example bench_foundation [-- SECONDS CONNECTIONS]`
//!
//! Everything runs in one process on loopback: the server on its runtime, the load as
//! closed-loop keep-alive connections on the same runtime. On a 2-core machine client
//! and server share the cores, so absolute figures are conservative; the page-100 /
//! page-1 ratios compare like with like in the same run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes_body::{Empty, Full};
use confab_core::IdGenerator;
use confab_core::cursor::RootCursor;
use confab_core::input::{DisplayName, Identifier, Message, Shortname, Title, WebUrl};
use confab_core::model::{ForumPolicy, GuestAuthor, NewForum, NewPost, PostAuthor, PostState, Sort, ThreadSpec};
use confab_core::render::render_markdown;
use confab_core::secret::Token;
use confab_server::{AppState, Clock, Settings};
use confab_store::prelude::*;
use confab_store::{PageLimits, Store};
use confab_store_sqlite::{SqliteOptions, SqliteStore};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

mod bytes_body {
    pub use http_body_util::{Empty, Full};
}

const ROOTS: usize = 4_000;
const POSTS: usize = 10_000;
const PAGE: u32 = 25;

fn spec(identifier: &str) -> ThreadSpec {
    ThreadSpec {
        identifier: Identifier::parse(identifier).unwrap(),
        url: Some(WebUrl::parse("url", "https://bench.example/big").unwrap()),
        title: Some(Title::parse("Big thread").unwrap()),
    }
}

fn new_post(identifier: &str, parent: Option<confab_core::Id>, i: usize) -> NewPost {
    let text = format!("Comment number {i}: *Lorem ipsum* dolor sit amet, see https://example.com/{i} for more.");
    NewPost {
        thread: spec(identifier),
        parent_id: parent,
        author: PostAuthor::Guest(GuestAuthor {
            name: DisplayName::parse("name", &format!("Reader {}", i % 500)).unwrap(),
            email: None,
            url: None,
        }),
        html: render_markdown(&text),
        message: Message::parse(&text).unwrap(),
        state: PostState::Approved,
        notify: false,
        screen: None,
        held: None,
        hold_first_post: false,
        network: None,
        subscribe: None,
    }
}

struct Stats {
    requests: usize,
    errors: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Stats {
    fn rps(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
    fn pct(&self, p: f64) -> f64 {
        let i = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies[i].as_secs_f64() * 1000.0
    }
}

/// Closed loop: `connections` tasks each send the next request when the last returns.
async fn load(uri: String, body: Option<String>, seconds: u64, connections: usize) -> Stats {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            let (uri, body) = (uri.clone(), body.clone());
            tokio::spawn(async move {
                let client = Client::builder(TokioExecutor::new())
                    .build_http::<http_body_util::Either<Full<bytes::Bytes>, Empty<bytes::Bytes>>>();
                let (mut lat, mut errors) = (Vec::new(), 0usize);
                while Instant::now() < deadline {
                    let req = match &body {
                        Some(b) => hyper::Request::post(&uri)
                            .header("content-type", "application/json")
                            .body(http_body_util::Either::Left(Full::from(b.clone())))
                            .unwrap(),
                        None => hyper::Request::get(&uri).body(http_body_util::Either::Right(Empty::new())).unwrap(),
                    };
                    let t = Instant::now();
                    match client.request(req).await {
                        Ok(resp) => {
                            let ok = resp.status().is_success();
                            let _ = http_body_util::BodyExt::collect(resp.into_body()).await;
                            if ok { lat.push(t.elapsed()) } else { errors += 1 }
                        }
                        Err(_) => errors += 1,
                    }
                }
                (lat, errors)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.unwrap();
        latencies.extend(l);
        errors += e;
    }
    latencies.sort();
    Stats { requests: latencies.len(), errors, elapsed: started.elapsed(), latencies }
}

async fn time_store_calls<F: std::future::Future<Output = ()>>(n: usize, mut f: impl FnMut() -> F) -> Duration {
    let t = Instant::now();
    for _ in 0..n {
        f().await;
    }
    t.elapsed() / n as u32
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seconds: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(5);
    let connections: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(16);

    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        SqliteStore::open(&SqliteOptions::new(dir.path().join("confab.db")), Arc::new(IdGenerator::new())).unwrap(),
    );
    let forum = store
        .forum_create(
            NewForum {
                owner: None,
                shortname: Shortname::parse("bench").unwrap(),
                name: DisplayName::parse("name", "Bench").unwrap(),
                origins: vec![],
                policy: ForumPolicy::default(),
            },
            0,
        )
        .await
        .unwrap();

    // Seed: 4,000 roots, then 6,000 replies under random earlier posts of a root.
    let t = Instant::now();
    let mut roots = Vec::with_capacity(ROOTS);
    let mut rng: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut by_root: Vec<Vec<confab_core::Id>> = Vec::new();
    let now = Clock::system().now();
    for i in 0..ROOTS {
        let p = store
            .post_create(&forum, new_post("big", None, i), Token::generate().hash(), now + i as i64)
            .await
            .unwrap()
            .post;
        roots.push(p.id);
        by_root.push(vec![p.id]);
    }
    for i in ROOTS..POSTS {
        let r = (next() % ROOTS as u64) as usize;
        let parent = by_root[r][(next() % by_root[r].len() as u64) as usize];
        let p = store
            .post_create(&forum, new_post("big", Some(parent), i), Token::generate().hash(), now + i as i64)
            .await
            .unwrap()
            .post;
        by_root[r].push(p.id);
    }
    let seed = t.elapsed();
    let thread = store
        .thread_find(&forum, &confab_core::model::ThreadKey::Identifier(Identifier::parse("big").unwrap()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(thread.posts as usize, POSTS);

    // The cursor that starts page 100 of roots (newest first).
    let limits = PageLimits { roots: PAGE, replies_per_root: 3 };
    let mut cursor: Option<RootCursor> = None;
    for _ in 0..99 {
        cursor = store.thread_roots(thread.id, Sort::Newest, cursor, limits).await.unwrap().next;
    }
    let page100 = cursor.expect("the thread has more than 100 pages");

    // Store level: the page queries alone (roots + first replies), no HTTP.
    let n = 2_000;
    let s = Arc::clone(&store);
    let p1 = time_store_calls(n, || {
        let s = Arc::clone(&s);
        async move {
            s.thread_roots(thread.id, Sort::Newest, None, limits).await.unwrap();
        }
    })
    .await;
    let p100 = time_store_calls(n, || {
        let s = Arc::clone(&s);
        async move {
            s.thread_roots(thread.id, Sort::Newest, Some(page100), limits).await.unwrap();
        }
    })
    .await;

    // HTTP level.
    let admin = Token::generate();
    let state = AppState::new(
        store.clone() as Arc<dyn Store>,
        admin.hash(),
        Settings { rate_limits: confab_server::RateLimits::off(), ..Settings::default() },
        Clock::system(),
    )
    .await
    .unwrap();
    let cursor_text = state.cursors.encode_root(thread.id, Sort::Newest, page100);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, confab_server::app(state)).await.unwrap() });

    let page_uri = format!("{base}/api/v1/forums/bench/thread-page?identifier=big");
    let roots1_uri = format!("{base}/api/v1/threads/{}/posts", thread.id);
    let roots100_uri = format!("{base}/api/v1/threads/{}/posts?cursor={cursor_text}", thread.id);
    let post_body = r#"{"thread":{"identifier":"writes","url":"https://bench.example/w","title":"Writes"},"message":"A new comment with *some* Markdown.","author":{"name":"Bench"}}"#;

    let warm = load(page_uri.clone(), None, 1, connections).await;
    assert_eq!(warm.errors, 0);
    let page = load(page_uri, None, seconds, connections).await;
    let r1 = load(roots1_uri, None, seconds, connections).await;
    let r100 = load(roots100_uri, None, seconds, connections).await;
    let writes = load(format!("{base}/api/v1/forums/bench/posts"), Some(post_body.into()), seconds, connections).await;

    println!("# Confab foundation benchmark");
    println!();
    println!(
        "thread: {POSTS} posts ({ROOTS} roots), pages of {PAGE} roots with 3 replies each; {connections} connections, {seconds} s per row"
    );
    println!(
        "seeded {POSTS} posts one transaction each in {:.2} s ({:.0} posts/s)",
        seed.as_secs_f64(),
        POSTS as f64 / seed.as_secs_f64()
    );
    println!();
    println!("| measure | page 1 | page 100 | page 100 / page 1 |");
    println!("|---|---|---|---|");
    println!(
        "| store: roots + replies query, mean | {:.1} µs | {:.1} µs | {:.2} |",
        p1.as_secs_f64() * 1e6,
        p100.as_secs_f64() * 1e6,
        p100.as_secs_f64() / p1.as_secs_f64()
    );
    println!(
        "| HTTP: GET /threads/{{id}}/posts, req/s | {:.0} | {:.0} | {:.2} |",
        r1.rps(),
        r100.rps(),
        r100.rps() / r1.rps()
    );
    println!(
        "| HTTP: p50 latency | {:.2} ms | {:.2} ms | {:.2} |",
        r1.pct(0.5),
        r100.pct(0.5),
        r100.pct(0.5) / r1.pct(0.5)
    );
    println!();
    println!("| workload | req/s | p50 | p99 | errors |");
    println!("|---|---|---|---|---|");
    for (name, s) in [
        ("thread page (GET /forums/{f}/thread-page)", &page),
        ("roots page 1", &r1),
        ("roots page 100", &r100),
        ("post creation (POST /forums/{f}/posts)", &writes),
    ] {
        println!("| {name} | {:.0} | {:.2} ms | {:.2} ms | {} |", s.rps(), s.pct(0.5), s.pct(0.99), s.errors);
    }
}
