//! Confab's HTTP server: the JSON API v1 under `/api/v1`, its OpenAPI document, and
//! the middleware every request passes through (statement counting, request log,
//! body limit, panic guard).
//!
//! Handlers are short scripts: parse input into domain types, authorise, call the
//! store, shape the response. SQL never appears here.

mod account_site;
pub mod akismet;
pub(crate) mod api;
pub mod auth;
mod consistency;
mod dashboard;
pub mod embed;
mod error;
pub mod reads;
pub use error::MAX_URI_BYTES;
mod extract;
pub mod http_cache;
pub mod jobs;
pub mod live;
mod login_window;
pub mod mail;
mod middleware;
pub mod notify;
pub mod outbound;
mod pages;
pub mod passwords;
pub mod ratelimit;
mod redirect;
mod templates;
mod views;
pub use views::rfc3339;
pub mod writes;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use confab_core::cursor::CursorCodec;
use confab_core::model::UnixMs;
use confab_store::Store;

/// The OpenAPI document `GET /api/v1/openapi.json` serves.
pub use api::docs::openapi_json;
pub use api::jobs::job_view;
pub use error::ApiError;

/// Where the current time comes from: the system clock, or a test's hand.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> UnixMs + Send + Sync>);

impl Clock {
    pub fn system() -> Self {
        Clock(Arc::new(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0)
        }))
    }

    pub fn from_fn(f: impl Fn() -> UnixMs + Send + Sync + 'static) -> Self {
        Clock(Arc::new(f))
    }

    pub fn now(&self) -> UnixMs {
        (self.0)()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clock")
    }
}

/// Behaviour the operator can tune (from `confab`'s configuration).
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long after posting an author may edit or delete with their edit token.
    pub edit_window: Duration,
    /// Send `X-Confab-Queries` (statements run by the request) on every response.
    pub expose_query_count: bool,
    /// The `demo` forum exists: serve the demo site at `/`.
    pub demo: bool,
    pub rate_limits: RateLimits,
    pub accounts: AccountSettings,
    /// At most one notification mail per recipient per thread in this interval.
    pub notify_interval: Duration,
    /// The operator's Akismet-compatible service, if any.
    pub akismet: Option<akismet::Akismet>,
    /// How long shared caches may keep public reads ([`http_cache`]).
    pub http_cache: HttpCacheSettings,
    /// This process's name, which feature switches can target (`node_name`, else the
    /// host's name).
    pub node: Arc<str>,
    /// How often the feature switches are re-read from the store (besides notices).
    pub switch_refresh: Duration,
}

/// `Cache-Control` of the public reads: `max-age` (how long a CDN or browser may
/// answer without asking) and `stale-while-revalidate` (how long after that it may
/// answer while it asks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpCacheSettings {
    pub max_age: Duration,
    pub stale: Duration,
}

impl Default for HttpCacheSettings {
    fn default() -> Self {
        HttpCacheSettings { max_age: Duration::from_secs(10), stale: Duration::from_secs(60) }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            edit_window: Duration::from_secs(15 * 60),
            expose_query_count: false,
            demo: false,
            rate_limits: RateLimits::default(),
            accounts: AccountSettings::default(),
            notify_interval: Duration::from_secs(15 * 60),
            akismet: None,
            http_cache: HttpCacheSettings::default(),
            node: "local".into(),
            switch_refresh: live::DEFAULT_REFRESH,
        }
    }
}

/// Local accounts: where mailed links point, how long sessions and links live, what
/// a password hash costs.
#[derive(Debug, Clone)]
pub struct AccountSettings {
    /// Confab's public base URL (scheme, host, optional port and path prefix), without
    /// a trailing slash: links in mails start with it.
    pub public_url: String,
    /// How long a log-in lasts.
    pub session_ttl: Duration,
    /// How long a sign-up confirmation link works.
    pub verify_link_ttl: Duration,
    /// How long a password-reset link works.
    pub reset_link_ttl: Duration,
    pub password_cost: passwords::PasswordCost,
}

impl Default for AccountSettings {
    fn default() -> Self {
        AccountSettings {
            public_url: "http://127.0.0.1:8080".into(),
            session_ttl: Duration::from_secs(30 * 24 * 3600),
            verify_link_ttl: Duration::from_secs(48 * 3600),
            reset_link_ttl: Duration::from_secs(3600),
            password_cost: passwords::PasswordCost::default(),
        }
    }
}

/// Limits on writes, per client network (IPv4 /24, IPv6 /48) and per forum.
#[derive(Debug, Clone)]
pub struct RateLimits {
    pub posts_per_network: ratelimit::Quota,
    pub votes_per_network: ratelimit::Quota,
    pub posts_per_forum: ratelimit::Quota,
    /// Posts and votes by one signed-in account (besides its network's limits).
    pub posts_per_account: ratelimit::Quota,
    pub votes_per_account: ratelimit::Quota,
    pub signups_per_network: ratelimit::Quota,
    /// Log-in attempts from one network, and for one username or email (whoever
    /// tries): the second is the brute-force brake, the same for names that exist and
    /// names that do not.
    pub logins_per_network: ratelimit::Quota,
    pub logins_per_name: ratelimit::Quota,
    /// Password-reset requests from one network, and for one address.
    pub resets_per_network: ratelimit::Quota,
    pub resets_per_email: ratelimit::Quota,
    /// Peers whose `X-Forwarded-For` names the client (reverse proxies, load balancers).
    pub trusted_proxies: Vec<ratelimit::Cidr>,
}

impl Default for RateLimits {
    /// A person posts a few comments a minute and votes in short bursts; a whole forum
    /// gets ten posts a second before it is a flood.
    fn default() -> Self {
        use ratelimit::Quota;
        RateLimits {
            posts_per_network: Quota { per_minute: 6, burst: 10 },
            votes_per_network: Quota { per_minute: 60, burst: 30 },
            posts_per_forum: Quota { per_minute: 600, burst: 300 },
            posts_per_account: Quota { per_minute: 6, burst: 10 },
            votes_per_account: Quota { per_minute: 60, burst: 30 },
            signups_per_network: Quota { per_minute: 2, burst: 5 },
            logins_per_network: Quota { per_minute: 10, burst: 20 },
            logins_per_name: Quota { per_minute: 2, burst: 10 },
            resets_per_network: Quota { per_minute: 2, burst: 5 },
            resets_per_email: Quota { per_minute: 1, burst: 3 },
            trusted_proxies: Vec::new(),
        }
    }
}

impl RateLimits {
    /// No limits (benchmarks, tests of other things).
    pub fn off() -> Self {
        use ratelimit::Quota;
        RateLimits {
            posts_per_network: Quota::OFF,
            votes_per_network: Quota::OFF,
            posts_per_forum: Quota::OFF,
            posts_per_account: Quota::OFF,
            votes_per_account: Quota::OFF,
            signups_per_network: Quota::OFF,
            logins_per_network: Quota::OFF,
            logins_per_name: Quota::OFF,
            resets_per_network: Quota::OFF,
            resets_per_email: Quota::OFF,
            trusted_proxies: Vec::new(),
        }
    }
}

/// Everything a handler can reach. Cheap to clone (all shared).
#[derive(Clone)]
pub struct AppState {
    /// The storage backend chosen at start-up.
    pub store: Arc<dyn Store>,
    /// Signs and checks pagination cursors (key from the store's secrets).
    pub cursors: CursorCodec,
    /// The admin token that authorises forum creation and thread control.
    pub admin_token: auth::AdminToken,
    pub settings: Settings,
    pub clock: Clock,
    pub limiter: Arc<ratelimit::Limiter>,
    pub passwords: Arc<passwords::Passwords>,
    /// Where account mails go (verification, password reset).
    pub mailer: Arc<dyn mail::Mailer>,
    /// Signs the account page's session cookie and derives its CSRF tokens.
    pub(crate) page_key: [u8; 32],
    /// Clients' recent write positions, for read-your-writes on replicas.
    pub(crate) write_positions: Arc<consistency::WritePositions>,
    /// The guarded client for outbound HTTP (webhooks); its policy also checks the
    /// URLs owners register.
    pub outbound: outbound::Outbound,
    /// Wakes this process's workers after a write queued jobs.
    pub jobs_wake: Arc<tokio::sync::Notify>,
    /// Public reads through the cache, and the refreshes writes push into it.
    pub reads: Arc<reads::Reads>,
    /// The write side's after-commit effects, over the reads and the wake-up above.
    pub(crate) writes: writes::Writes,
    /// The feature switches, as this process holds them.
    pub live: Arc<live::Live>,
}

/// Name of the store secret that keys cursor signatures.
pub const CURSOR_KEY_SECRET: &str = "cursor_hmac_key";

/// The codec of the cursors pages carry, under the key kept in the store (made on
/// first start), so every process of a store signs alike.
async fn cursor_codec(store: &dyn confab_store::Store) -> Result<CursorCodec, confab_store::StoreError> {
    let key = store.secret_get_or_init(CURSOR_KEY_SECRET, confab_core::secret::random_key().to_vec()).await?;
    let key: [u8; 32] = key
        .try_into()
        .map_err(|_| confab_store::StoreError::Internal("stored cursor key has the wrong length".into()))?;
    Ok(CursorCodec::new(key))
}

fn cache_on(backend: Arc<dyn confab_cache::Backend>, clock: &Clock) -> Arc<confab_cache::Cache> {
    let clock = clock.clone();
    confab_cache::Cache::with_clock(backend, Arc::new(move || u64::try_from(clock.now()).unwrap_or(0)))
}

/// The reads of a `confab worker` process: the same pages, over the same shared cache
/// as the servers', so that the changes its jobs make (spam verdicts) reach cached
/// pages at once, as they do from the workers inside `confab serve`.
pub async fn worker_reads(
    store: Arc<dyn confab_store::Store>,
    clock: Clock,
    backend: Arc<dyn confab_cache::Backend>,
    policy: confab_cache::Policy,
) -> Result<Arc<reads::Reads>, confab_store::StoreError> {
    let cursors = cursor_codec(&*store).await?;
    let cache = cache_on(backend, &clock);
    Ok(Arc::new(reads::Reads::new(store, cursors, clock, cache, policy)))
}
/// Name of the store secret that signs page cookies and CSRF tokens.
pub const PAGE_KEY_SECRET: &str = "page_hmac_key";

impl AppState {
    /// Builds the state, loading (or creating) the cursor key from the store.
    pub async fn new(
        store: Arc<dyn Store>,
        admin_token: impl Into<auth::AdminToken>,
        settings: Settings,
        clock: Clock,
    ) -> Result<Self, confab_store::StoreError> {
        let cursors = cursor_codec(&*store).await?;
        let page_key: [u8; 32] = store
            .secret_get_or_init(PAGE_KEY_SECRET, confab_core::secret::random_key().to_vec())
            .await?
            .try_into()
            .map_err(|_| confab_store::StoreError::Internal("stored page key has the wrong length".into()))?;
        let passwords = passwords::Passwords::new(settings.accounts.password_cost)
            .map_err(|e| confab_store::StoreError::Internal(format!("password hashing parameters: {e}")))?;
        let reads = Arc::new(reads::Reads::off(Arc::clone(&store), cursors.clone(), clock.clone()));
        let live =
            live::Live::load(Arc::clone(&store) as Arc<dyn confab_store::LiveStore>, settings.node.to_string()).await?;
        live.follow(settings.switch_refresh);
        let jobs_wake = Arc::new(tokio::sync::Notify::new());
        let writes = writes::Writes::new(
            Arc::clone(&store),
            clock.clone(),
            Some(Arc::clone(&reads)),
            Some(Arc::clone(&jobs_wake)),
        );
        Ok(AppState {
            reads,
            store,
            cursors,
            admin_token: admin_token.into(),
            settings,
            clock,
            limiter: Arc::new(ratelimit::Limiter::default()),
            passwords: Arc::new(passwords),
            mailer: Arc::new(mail::DropMailer),
            page_key,
            outbound: outbound::Outbound::new(outbound::OutboundPolicy::default())
                .map_err(confab_store::StoreError::Internal)?,
            jobs_wake,
            write_positions: Arc::default(),
            writes,
            live,
        })
    }

    /// The writes' effects over this state's current reads and wake-up (after a
    /// builder below changed either).
    fn rewired(mut self) -> Self {
        self.writes = writes::Writes::new(
            Arc::clone(&self.store),
            self.clock.clone(),
            Some(Arc::clone(&self.reads)),
            Some(Arc::clone(&self.jobs_wake)),
        );
        self
    }

    /// The same state reading every value from the store.
    pub fn without_cache(mut self) -> Self {
        self.reads = Arc::new(reads::Reads::off(Arc::clone(&self.store), self.cursors.clone(), self.clock.clone()));
        self.rewired()
    }

    /// The same state reading through `cache` (its clock is the state's, so a test
    /// that moves time moves the cache's too).
    pub fn with_cache(mut self, backend: Arc<dyn confab_cache::Backend>, policy: confab_cache::Policy) -> Self {
        let cache = cache_on(backend, &self.clock);
        self.reads = Arc::new(reads::Reads::new(
            Arc::clone(&self.store),
            self.cursors.clone(),
            self.clock.clone(),
            cache,
            policy,
        ));
        self.rewired()
    }

    /// The same state with outbound requests under `policy`.
    pub fn with_outbound(mut self, policy: outbound::OutboundPolicy) -> Result<Self, String> {
        self.outbound = outbound::Outbound::new(policy)?;
        Ok(self)
    }

    /// The same state waking `wake` after writes (a worker's [`confab_jobs::Worker::waker`]).
    pub fn with_jobs_wake(mut self, wake: Arc<tokio::sync::Notify>) -> Self {
        self.jobs_wake = wake;
        self.rewired()
    }

    /// The task handler workers of this server run.
    pub fn effects(&self) -> jobs::Effects {
        jobs::Effects {
            store: Arc::clone(&self.store),
            outbound: self.outbound.clone(),
            clock: self.clock.clone(),
            mailer: Arc::clone(&self.mailer),
            public_url: self.settings.accounts.public_url.clone(),
            link_key: self.page_key,
            notify_interval: self.settings.notify_interval,
            akismet: self.settings.akismet.clone(),
            forum_grace: jobs::forum_grace(self.reads.policy.fresh),
            writes: self.writes.clone(),
            live: Arc::clone(&self.live),
        }
    }

    /// The same state sending mail through `mailer`.
    pub fn with_mailer(mut self, mailer: Arc<dyn mail::Mailer>) -> Self {
        self.mailer = mailer;
        self
    }
}

/// The whole application as one router.
pub fn app(state: AppState) -> Router {
    let expose = state.settings.expose_query_count;
    api::routes()
        .merge(browser_routes())
        .merge(own_pages())
        .merge(dashboard::routes())
        .fallback(api::route_not_found)
        .method_not_allowed_fallback(api::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(state.clone(), consistency::read_your_writes))
        .layer(axum::middleware::from_fn_with_state(state.clone(), http_cache::layer))
        .layer(axum::middleware::from_fn(reads::keep_layer))
        .with_state(state)
        .layer(DefaultBodyLimit::max(confab_core::input::MAX_BODY_BYTES))
        .layer(cors())
        .layer(tower_http::compression::CompressionLayer::new())
        .layer(axum::middleware::from_fn(move |req, next| middleware::observe(expose, req, next)))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(middleware::panic_response))
}

/// The log filter in force for an operator's `log` setting: their directives, then
/// caps on the libraries that would log request content at debug or trace level (the
/// HTML parser under the sanitiser traces every character of a comment; axum traces
/// rejection texts, which quote the body). Later directives win, so even `log = "trace"`
/// keeps comment bodies, emails and tokens out of the log.
pub fn log_filter(user: &str) -> String {
    const CAPS: &str = "html5ever=warn,markup5ever=warn,ammonia=warn,pulldown_cmark=warn,linkify=warn,\
                        axum::rejection=warn,hyper=info,hyper_util=info,serde_path_to_error=warn";
    if user.trim().is_empty() { CAPS.to_owned() } else { format!("{user},{CAPS}") }
}

/// What browsers load besides the API: the embed scripts and the demo site.
fn browser_routes() -> Router<AppState> {
    use axum::routing::get;
    Router::new()
        .route("/embed.js", get(embed::embed_js))
        .route("/count.js", get(embed::count_js))
        .route("/embed-i18n/{file}", get(embed::language_js))
        .route("/demo/demo.css", get(embed::demo_css))
        .route("/demo/{slug}", get(embed::demo_article))
}

/// Confab's own pages, on its origin: the account page, the log-in window, the pages
/// mailed links open. Forms and a cookie session; no CORS.
fn own_pages() -> Router<AppState> {
    use axum::routing::get;
    Router::new()
        .route("/account/account.css", get(pages::stylesheet))
        .route("/account", get(account_site::home))
        .route("/account/login", axum::routing::post(account_site::log_in))
        .route("/account/window", get(login_window::show).post(login_window::submit))
        .route("/account/handoff.js", get(login_window::handoff_js))
        .route("/account/logout", axum::routing::post(account_site::log_out))
        .route("/account/sessions/revoke", axum::routing::post(account_site::revoke))
        .route("/account/export", get(account_site::export))
        .route("/account/delete", axum::routing::post(account_site::delete))
        .route("/account/verify", get(pages::verify_form).post(pages::verify_submit))
        .route("/account/reset", get(pages::reset_form).post(pages::reset_submit))
        .route("/unsubscribe", get(pages::unsubscribe_form).post(pages::unsubscribe_submit))
}

/// The widget runs inside other sites' pages and calls the API across origins. No
/// cookies cross (credentials are tokens in headers the widget keeps: edit and voter
/// tokens, and a session's bearer token), so any origin may read; writes are held to a
/// forum's trusted origins by the handlers (`auth::check_origin`). Preflights are
/// cached for a day.
fn cors() -> tower_http::cors::CorsLayer {
    use axum::http::{HeaderName, Method, header};
    tower_http::cors::CorsLayer::new()
        .allow_origin(tower_http::cors::Any)
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            HeaderName::from_static(auth::EDIT_TOKEN_HEADER),
            HeaderName::from_static(auth::EDIT_TOKENS_HEADER),
            HeaderName::from_static(auth::VOTER_TOKEN_HEADER),
            HeaderName::from_static(auth::SSO_HEADER),
            HeaderName::from_static(auth::API_KEY_HEADER),
        ])
        .expose_headers([header::RETRY_AFTER, header::LOCATION, header::ETAG])
        .max_age(Duration::from_secs(24 * 3600))
        // Any origin gets the same answer (`*`, never an echo), so public reads need
        // no `Vary: Origin` splitting shared caches per embedding site.
        .vary([])
}
