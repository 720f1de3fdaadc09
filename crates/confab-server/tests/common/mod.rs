//! The test application: the real router in-process over a real SQLite database in a
//! temporary directory, an admin token, and a clock the test moves by hand.

#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use confab_core::IdGenerator;
use confab_core::secret::Token;
use confab_server::mail::MemoryMailer;
use confab_server::{AppState, Clock, Settings};
use confab_store::Store;
use confab_store_sqlite::{SqliteOptions, SqliteStore};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

pub const START: i64 = 1_800_000_000_000;

/// Settings for tests: query counts exposed, the given limits, and password hashing
/// cheap enough for many log-ins (Argon2id all the same).
pub fn test_settings(rate_limits: confab_server::RateLimits) -> Settings {
    Settings {
        edit_window: Duration::from_secs(15 * 60),
        expose_query_count: true,
        rate_limits,
        accounts: confab_server::AccountSettings {
            public_url: "https://comments.example.com".into(),
            password_cost: confab_server::passwords::PasswordCost { memory_kib: 1024, iterations: 1, parallelism: 1 },
            ..Default::default()
        },
        ..Settings::default()
    }
}

pub struct TestApp {
    pub router: Router,
    pub store: Arc<dyn Store>,
    pub admin: String,
    pub now: Arc<AtomicI64>,
    /// Every mail the app sent.
    pub mailer: Arc<MemoryMailer>,
    /// A worker over the app's store and clock (not running: `run_jobs` drives it).
    /// Outbound requests may reach loopback, where tests run their receivers.
    pub worker: confab_jobs::Worker,
    /// The app's cache of public reads.
    #[allow(dead_code)]
    pub cache: Option<Arc<confab_cache::Cache>>,
    #[allow(dead_code)]
    pub state: AppState,
    _dir: tempfile::TempDir,
    /// A PostgreSQL test's databases, dropped after everything else.
    _pg: Option<confab_store_pg::testing::Databases>,
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Resp {
    /// The error code of an error response.
    pub fn code(&self) -> &str {
        self.json["error"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("not an error envelope: {} {}", self.status, self.text))
    }

    /// Statements the request ran.
    pub fn queries(&self) -> u32 {
        self.headers["x-confab-queries"].to_str().unwrap().parse().unwrap()
    }

    #[track_caller]
    pub fn expect(self, status: StatusCode) -> Self {
        assert_eq!(self.status, status, "body: {}", self.text);
        self
    }

    #[track_caller]
    pub fn expect_error(self, status: StatusCode, code: &str) -> Self {
        assert_eq!(self.status, status, "body: {}", self.text);
        assert_eq!(self.code(), code, "body: {}", self.text);
        assert!(!self.json["error"]["message"].as_str().unwrap_or("").is_empty(), "errors carry a message");
        self
    }
}

impl TestApp {
    pub async fn new() -> Self {
        Self::with_settings(test_settings(confab_server::RateLimits::off())).await
    }

    pub async fn with_settings(settings: Settings) -> Self {
        Self::build(settings, None, confab_store_pg::testing::selected()).await
    }

    /// Without the cache: every read reaches the store (for what a test asserts of the
    /// store's own reads: statements, replicas).
    #[allow(dead_code)]
    pub async fn uncached() -> Self {
        let mut app = Self::new().await;
        app.router = confab_server::app(app.state.clone().without_cache());
        app.cache = None;
        app
    }

    /// A test app on the PostgreSQL topology whatever `CONFAB_TEST_STORE` says (for
    /// what only a store with replicas does).
    pub async fn on_postgres() -> Self {
        Self::build(test_settings(confab_server::RateLimits::off()), None, true).await
    }

    /// As [`TestApp::on_postgres`], without the cache.
    #[allow(dead_code)]
    pub async fn on_postgres_uncached() -> Self {
        let mut app = Self::on_postgres().await;
        app.router = confab_server::app(app.state.clone().without_cache());
        app.cache = None;
        app
    }

    /// A test app whose mail goes to a real SMTP server at `smtp_url`.
    pub async fn with_smtp(settings: Settings, smtp_url: &str) -> Self {
        let smtp =
            confab_server::mail::SmtpMailer::new(smtp_url, "Comments <c@example.com>".into(), Duration::from_secs(5))
                .unwrap();
        Self::build(settings, Some(Arc::new(smtp)), confab_store_pg::testing::selected()).await
    }

    async fn build(settings: Settings, mail: Option<Arc<dyn confab_server::mail::Mailer>>, postgres: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        // The same suites run on either store: `CONFAB_TEST_STORE=postgres` selects fresh
        // databases on the local PostgreSQL topology.
        let mut pg_databases = None;
        let store: Arc<dyn Store> = if postgres {
            let (store, dbs) = confab_store_pg::testing::fresh_store("api").await;
            pg_databases = Some(dbs);
            store
        } else {
            let mut opts = SqliteOptions::new(dir.path().join("confab.db"));
            opts.readers = 4;
            Arc::new(SqliteStore::open(&opts, Arc::new(IdGenerator::new())).unwrap())
        };
        let admin = Token::generate();
        let now = Arc::new(AtomicI64::new(START));
        let clock_now = Arc::clone(&now);
        let clock = Clock::from_fn(move || clock_now.load(Ordering::SeqCst));
        let mailer = Arc::new(MemoryMailer::default());
        let policy = confab_server::outbound::OutboundPolicy {
            allow_loopback: true,
            total_timeout: Duration::from_secs(5),
            ..Default::default()
        };
        let state = AppState::new(Arc::clone(&store), admin.hash(), settings, clock.clone())
            .await
            .unwrap()
            .with_mailer(mail.unwrap_or_else(|| Arc::clone(&mailer) as Arc<dyn confab_server::mail::Mailer>))
            .with_outbound(policy)
            .unwrap()
            // The product's default: public reads through an in-process cache.
            .with_cache(Arc::new(confab_cache::InProcess::new(64 << 20)), confab_server::reads::DEFAULT_POLICY);
        let cache = state.reads.cache().cloned();
        let worker_config = confab_jobs::WorkerConfig {
            max_attempts: 4,
            backoff: confab_core::jobs::Backoff { base: Duration::from_secs(10), max: Duration::from_secs(60) },
            ..Default::default()
        };
        let worker = confab_jobs::Worker::new(
            store.clone(),
            Arc::new(state.effects()),
            worker_config,
            Arc::new(move || clock.now()),
        );
        let router = confab_server::app(state.clone());
        TestApp {
            router,
            store,
            admin: admin.expose().to_owned(),
            now,
            mailer,
            worker,
            cache,
            state,
            _dir: dir,
            _pg: pg_databases,
        }
    }

    /// A test app with the forum `blog`.
    pub async fn with_forum() -> Self {
        let app = Self::new().await;
        app.create_forum("blog").await;
        app
    }

    /// Runs every job due now (and the jobs they lead to) until none is due.
    pub async fn run_jobs(&self) -> usize {
        self.worker.run_until_idle().await
    }

    pub fn advance(&self, d: Duration) {
        self.now.fetch_add(d.as_millis() as i64, Ordering::SeqCst);
    }

    pub async fn raw(&self, req: Request<Body>) -> Resp {
        raw_via(&self.router, req).await
    }

    /// The same app reading through `backend` (as `[cache] backend` configures it).
    #[allow(dead_code)]
    pub fn reading_through(mut self, backend: Arc<dyn confab_cache::Backend>) -> Self {
        self.state = self.state.clone().with_cache(backend, confab_server::reads::DEFAULT_POLICY);
        self.router = confab_server::app(self.state.clone());
        self.cache = self.state.reads.cache().cloned();
        self
    }

    /// Another Confab process on the same store with its own cache layer over `backend`
    /// (requests to it go through [`raw_via`]).
    #[allow(dead_code)]
    pub fn other_process(&self, backend: Arc<dyn confab_cache::Backend>) -> Router {
        confab_server::app(self.state.clone().with_cache(backend, confab_server::reads::DEFAULT_POLICY))
    }

    pub async fn send(&self, method: Method, uri: &str, body: Option<&Value>, headers: &[(&str, &str)]) -> Resp {
        let mut req = Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let body = match body {
            Some(v) => {
                req = req.header("content-type", "application/json");
                Body::from(serde_json::to_vec(v).unwrap())
            }
            None => Body::empty(),
        };
        self.raw(req.body(body).unwrap()).await
    }

    pub async fn get(&self, uri: &str) -> Resp {
        self.send(Method::GET, uri, None, &[]).await
    }

    /// A JSON `POST` from a client at `ip` (what rate limits, bans and read-your-writes
    /// key on).
    #[allow(dead_code)]
    pub async fn post_from(&self, uri: &str, body: &Value, ip: [u8; 4]) -> Resp {
        let req = Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header("content-type", "application/json")
            .extension(axum::extract::ConnectInfo(std::net::SocketAddr::from((ip, 4000))))
            .body(Body::from(body.to_string()))
            .unwrap();
        self.raw(req).await
    }

    /// `POST /api/v1/forums/{forum}/bans` with `body`, as `who` (an `authorization` value).
    #[allow(dead_code)]
    pub async fn ban(&self, who: &str, forum: &str, body: Value) -> Resp {
        self.send(Method::POST, &format!("/api/v1/forums/{forum}/bans"), Some(&body), &[("authorization", who)]).await
    }

    pub async fn post(&self, uri: &str, body: &Value) -> Resp {
        self.send(Method::POST, uri, Some(body), &[]).await
    }

    pub async fn admin_post(&self, uri: &str, body: Option<&Value>) -> Resp {
        let auth = format!("Bearer {}", self.admin);
        self.send(Method::POST, uri, body, &[("authorization", &auth)]).await
    }

    pub async fn create_forum(&self, shortname: &str) -> Value {
        self.admin_post("/api/v1/forums", Some(&json!({ "shortname": shortname })))
            .await
            .expect(StatusCode::CREATED)
            .json
    }

    /// Posts a comment as a guest; returns the whole 201 body.
    pub async fn comment(&self, identifier: &str, parent: Option<&str>, message: &str, name: &str) -> Value {
        let mut body = json!({
            "thread": { "identifier": identifier, "url": "https://blog.example/post", "title": "A post" },
            "message": message,
            "author": { "name": name },
        });
        if let Some(p) = parent {
            body["parent"] = json!(p);
        }
        self.post("/api/v1/forums/blog/posts", &body).await.expect(StatusCode::CREATED).json
    }

    /// A confirmed account, signed in, with `role` in `forum` (granted by the admin
    /// token); returns its `Authorization` header value. Mail goes to the memory mailer.
    pub async fn member(&self, name: &str, forum: &str, role: &str) -> String {
        let email = format!("{name}@example.com");
        let password = "correct horse battery";
        self.post("/api/v1/auth/signup", &json!({ "username": name, "email": email, "password": password }))
            .await
            .expect(StatusCode::ACCEPTED);
        let mail = self.mailer.to(&email).pop().expect("a confirmation mail");
        let token = mail.text.split("token=").nth(1).unwrap().split_whitespace().next().unwrap().to_owned();
        self.post("/api/v1/auth/verify", &json!({ "token": token })).await.expect(StatusCode::OK);
        let login = self.post("/api/v1/auth/login", &json!({ "login": name, "password": password })).await;
        let bearer = format!("Bearer {}", login.expect(StatusCode::OK).json["token"].as_str().unwrap());
        let admin = format!("Bearer {}", self.admin);
        self.send(
            Method::PUT,
            &format!("/api/v1/forums/{forum}/roles/{name}"),
            Some(&json!({ "role": role })),
            &[("authorization", &admin)],
        )
        .await
        .expect(StatusCode::OK);
        bearer
    }

    pub fn page_uri(identifier: &str, query: &str) -> String {
        format!("/api/v1/forums/blog/thread-page?identifier={}&{query}", urlencode(identifier))
    }
}

/// A form POST (`application/x-www-form-urlencoded`) with an optional `Origin` and cookie,
/// as a browser sends from Confab's own pages.
pub async fn form(app: &TestApp, uri: &str, body: &str, origin: Option<&str>, cookie: Option<&str>) -> Resp {
    let mut req = Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header(axum::http::header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(o) = origin {
        req = req.header(axum::http::header::ORIGIN, o);
    }
    if let Some(c) = cookie {
        req = req.header(axum::http::header::COOKIE, c);
    }
    app.raw(req.body(Body::from(body.to_owned())).unwrap()).await
}

pub fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("ids are strings").to_owned()
}

/// `req` answered by `router` (a [`TestApp`]'s, or another process's).
pub async fn raw_via(router: &Router, req: Request<Body>) -> Resp {
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8(bytes.to_vec()).expect("responses are UTF-8");
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Resp { status, headers, text, json }
}
