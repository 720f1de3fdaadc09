//! Confab's HTTP server: the JSON API v1 under `/api/v1`, its OpenAPI document, and
//! the middleware every request passes through (statement counting, request log,
//! body limit, panic guard).
//!
//! Handlers are short scripts: parse input into domain types, authorise, call the
//! store, shape the response. SQL never appears here.

mod api;
pub mod auth;
pub mod embed;
mod error;
mod extract;
mod middleware;
pub mod ratelimit;
mod views;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use confab_core::cursor::CursorCodec;
use confab_core::model::UnixMs;
use confab_core::secret::TokenHash;
use confab_store::Store;

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
}

/// Limits on writes, per client network (IPv4 /24, IPv6 /48) and per forum.
#[derive(Debug, Clone)]
pub struct RateLimits {
    pub posts_per_network: ratelimit::Quota,
    pub votes_per_network: ratelimit::Quota,
    pub posts_per_forum: ratelimit::Quota,
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
    /// SHA-256 of the admin token that authorises forum creation and thread control.
    pub admin_token: TokenHash,
    pub settings: Settings,
    pub clock: Clock,
    pub limiter: Arc<ratelimit::Limiter>,
}

/// Name of the store secret that keys cursor signatures.
pub const CURSOR_KEY_SECRET: &str = "cursor_hmac_key";

impl AppState {
    /// Builds the state, loading (or creating) the cursor key from the store.
    pub async fn new(
        store: Arc<dyn Store>,
        admin_token: TokenHash,
        settings: Settings,
        clock: Clock,
    ) -> Result<Self, confab_store::StoreError> {
        let key = store.secret_get_or_init(CURSOR_KEY_SECRET, confab_core::secret::random_key().to_vec()).await?;
        let key: [u8; 32] = key
            .try_into()
            .map_err(|_| confab_store::StoreError::Internal("stored cursor key has the wrong length".into()))?;
        Ok(AppState {
            store,
            cursors: CursorCodec::new(key),
            admin_token,
            settings,
            clock,
            limiter: Arc::new(ratelimit::Limiter::default()),
        })
    }
}

/// The whole application as one router.
pub fn app(state: AppState) -> Router {
    let expose = state.settings.expose_query_count;
    api::routes()
        .merge(browser_routes())
        .fallback(api::route_not_found)
        .method_not_allowed_fallback(api::method_not_allowed)
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
        .route("/demo/demo.css", get(embed::demo_css))
        .route("/demo/{slug}", get(embed::demo_article))
}

/// The widget runs inside other sites' pages and calls the API across origins. No
/// cookies cross (credentials are tokens in headers the widget keeps), so any origin
/// may read; restricting writes to a forum's trusted origins belongs to the identity
/// work. Preflights are cached for a day.
fn cors() -> tower_http::cors::CorsLayer {
    use axum::http::{HeaderName, Method, header};
    tower_http::cors::CorsLayer::new()
        .allow_origin(tower_http::cors::Any)
        .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
        .allow_headers([
            header::CONTENT_TYPE,
            HeaderName::from_static(auth::EDIT_TOKEN_HEADER),
            HeaderName::from_static(auth::VOTER_TOKEN_HEADER),
        ])
        .expose_headers([header::RETRY_AFTER, header::LOCATION])
        .max_age(Duration::from_secs(24 * 3600))
}
