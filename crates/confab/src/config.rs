//! Configuration: typed, documented here, read from an optional TOML file and then
//! from `CONFAB_*` environment variables (which win). Unknown keys are errors, so a
//! typo never silently falls back to a default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// A secret string: `Debug` never prints it.
#[derive(Clone, Deserialize, Serialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// Every setting, with its default. Environment names are `CONFAB_` + the upper-cased
/// key (e.g. `CONFAB_LISTEN=0.0.0.0:8080`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP server binds. Default `127.0.0.1:8080` (loopback only).
    pub listen: SocketAddr,
    /// Directory for the embedded database. Default `./confab-data`.
    pub data_dir: PathBuf,
    /// The distributed store's PostgreSQL topology (`[postgres]`: `global`, `clusters`,
    /// pool and timeout settings; see `confab_store_pg::PgConfig`). `confab migrate`
    /// migrates every database in it, and `serve` and `worker` use it instead of the
    /// embedded store.
    pub postgres: Option<confab_store_pg::PgConfig>,
    /// The cache of public reads (`[cache]`): in this process by default.
    pub cache: CacheConfig,
    /// Admin token (16–128 URL-safe characters). When unset, the first start creates
    /// one, prints it once, and stores only its hash.
    pub admin_token: Option<Secret>,
    /// Seconds after posting during which an author may edit or delete. Default 900.
    pub edit_window_secs: u64,
    /// Send `X-Confab-Queries` (statements per request) on responses. Default false.
    pub expose_query_count: bool,
    /// Seconds a CDN or browser may keep a public read (thread pages, counts) without
    /// asking again (`Cache-Control: max-age`). Default 10.
    pub http_max_age_secs: u64,
    /// Seconds after that it may still answer with it while it asks
    /// (`stale-while-revalidate`). Default 60.
    pub http_stale_secs: u64,
    /// Seconds a connection may take to send a request's headers, counted from its
    /// opening or its previous response's end: slow clients and idle keep-alive
    /// connections are closed after it. Default 20.
    pub http_header_timeout_secs: u64,
    /// Open connections at most; at the cap a new one closes the connection idle
    /// longest. Default: the descriptor limit (raised to its maximum) less 256.
    pub http_max_connections: Option<usize>,
    /// Reader connections to the embedded database. Default 8.
    pub sqlite_readers: usize,
    /// Milliseconds a request waits for a database connection before a 503. Default 5000.
    pub db_acquire_timeout_ms: u64,
    /// Create the `demo` forum with a welcome thread on first start. Default true.
    pub demo: bool,
    /// Posts per minute from one network (IPv4 /24, IPv6 /48); 0 turns the limit off. Default 6.
    pub rate_limit_posts_per_minute: u32,
    /// Posts one network may send at once before the per-minute rate applies. Default 10.
    pub rate_limit_posts_burst: u32,
    /// Votes per minute from one network. Default 60, burst 30.
    pub rate_limit_votes_per_minute: u32,
    pub rate_limit_votes_burst: u32,
    /// Posts per minute into one forum from everyone together. Default 600, burst 300.
    pub rate_limit_forum_posts_per_minute: u32,
    pub rate_limit_forum_posts_burst: u32,
    /// Sign-ups per minute from one network. Default 2, burst 5.
    pub rate_limit_signups_per_minute: u32,
    pub rate_limit_signups_burst: u32,
    /// Log-in attempts per minute from one network. Default 10, burst 20.
    pub rate_limit_logins_per_minute: u32,
    pub rate_limit_logins_burst: u32,
    /// Log-in attempts per minute for one username or email, from anywhere: the
    /// brute-force brake. Default 2, burst 10.
    pub rate_limit_login_name_per_minute: u32,
    pub rate_limit_login_name_burst: u32,
    /// Password-reset requests per minute from one network (default 2, burst 5); one
    /// address gets half of that (at least 1).
    pub rate_limit_resets_per_minute: u32,
    pub rate_limit_resets_burst: u32,
    /// Reverse proxies (addresses or networks) whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<String>,
    /// Confab's public address, where links in mails point (e.g.
    /// `https://comments.example.com`). Default `http://` + `listen`.
    pub public_url: Option<String>,
    /// Days a log-in lasts. Default 30.
    pub session_days: u64,
    /// Directory where account mails (address confirmation, password reset) are
    /// written as `.eml` files until SMTP is configured. Default `<data_dir>/mail-outbox`.
    pub mail_dir: Option<PathBuf>,
    /// The From address of every mail. Default `Confab <confab@localhost>`.
    pub mail_from: String,
    /// Send mail through this SMTP server instead of writing files to `mail_dir`:
    /// `smtp://host:25` (plain, a local relay), `smtp://user:pass@host:587?tls=required`
    /// (STARTTLS) or `smtps://user:pass@host:465` (TLS). Default unset.
    pub smtp_url: Option<Secret>,
    /// Seconds an SMTP exchange may take. Default 15.
    pub smtp_timeout_secs: u64,
    /// At most one notification mail per recipient per thread in this many seconds;
    /// the rest wait for a digest. Default 900.
    pub notify_interval_secs: u64,
    /// Run background workers inside `confab serve`. Default true; set false when
    /// `confab worker` processes do the work.
    pub workers: bool,
    /// Jobs a worker process runs at once. Default 8.
    pub worker_concurrency: usize,
    /// Attempts before a job is dead-lettered. Default 12.
    pub job_max_attempts: u32,
    /// First retry after about this many seconds, doubling up to `job_backoff_max_secs`
    /// (with jitter). Defaults 10 and 3600.
    pub job_backoff_base_secs: u64,
    pub job_backoff_max_secs: u64,
    /// Seconds a claimed job is held before another worker may take it over (after a
    /// crash). Default 120.
    pub job_lease_secs: u64,
    /// Milliseconds between looks for due jobs when idle. Default 500.
    pub job_poll_ms: u64,
    /// Let webhooks reach loopback (127.0.0.0/8, ::1). Default false.
    pub outbound_allow_loopback: bool,
    /// Let webhooks reach private networks (10/8, 172.16/12, 192.168/16, 100.64/10,
    /// fc00::/7). Link-local and metadata addresses are never allowed. Default false.
    pub outbound_allow_private: bool,
    /// Seconds to connect, and for a whole outbound request. Defaults 5 and 15.
    pub outbound_connect_timeout_secs: u64,
    pub outbound_timeout_secs: u64,
    /// An Akismet-compatible spam service, used by forums whose policy sets `akismet`:
    /// its API key (unset: no service) and its address.
    pub akismet_key: Option<Secret>,
    /// Default `https://rest.akismet.com/`.
    pub akismet_url: String,
    /// This process's name, which feature switches can target (their `nodes`
    /// condition). Default: the host's name.
    pub node_name: Option<String>,
    /// Milliseconds between re-reads of the feature switches (besides the notices that
    /// bring a change at once). Default 500.
    pub switch_refresh_ms: u64,
    /// Log filter, in `RUST_LOG` syntax. Default `info`.
    pub log: String,
    /// `text` or `json`. Default `text`.
    pub log_format: LogFormat,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./confab-data"),
            admin_token: None,
            edit_window_secs: 15 * 60,
            expose_query_count: false,
            http_max_age_secs: 10,
            http_stale_secs: 60,
            http_header_timeout_secs: 20,
            http_max_connections: None,
            sqlite_readers: 8,
            db_acquire_timeout_ms: 5_000,
            demo: true,
            rate_limit_posts_per_minute: 6,
            rate_limit_posts_burst: 10,
            rate_limit_votes_per_minute: 60,
            rate_limit_votes_burst: 30,
            rate_limit_forum_posts_per_minute: 600,
            rate_limit_forum_posts_burst: 300,
            rate_limit_signups_per_minute: 2,
            rate_limit_signups_burst: 5,
            rate_limit_logins_per_minute: 10,
            rate_limit_logins_burst: 20,
            rate_limit_login_name_per_minute: 2,
            rate_limit_login_name_burst: 10,
            rate_limit_resets_per_minute: 2,
            rate_limit_resets_burst: 5,
            trusted_proxies: Vec::new(),
            public_url: None,
            session_days: 30,
            mail_dir: None,
            mail_from: "Confab <confab@localhost>".into(),
            smtp_url: None,
            smtp_timeout_secs: 15,
            notify_interval_secs: 900,
            workers: true,
            worker_concurrency: 8,
            job_max_attempts: 12,
            job_backoff_base_secs: 10,
            job_backoff_max_secs: 3600,
            job_lease_secs: 120,
            job_poll_ms: 500,
            outbound_allow_loopback: false,
            outbound_allow_private: false,
            outbound_connect_timeout_secs: 5,
            outbound_timeout_secs: 15,
            akismet_key: None,
            akismet_url: "https://rest.akismet.com/".into(),
            node_name: None,
            switch_refresh_ms: 500,
            log: "info".into(),
            log_format: LogFormat::Text,
            postgres: None,
            cache: CacheConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheBackend {
    /// In this process, bounded by `memory_mb`.
    Memory,
    /// The `servers` pool, shared by every Confab process (and placed as libmemcached
    /// places keys, so other applications sharing the pool agree).
    Memcached,
    /// The Redis server at `redis_url`, shared by every Confab process.
    Redis,
    /// No cache: every read goes to the store.
    Off,
}

/// `[cache]`: where cached reads live and how long they stay.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// `memory` (default), `memcached`, `redis` or `off`.
    pub backend: CacheBackend,
    /// Megabytes the in-process cache may hold. Default 256.
    pub memory_mb: u64,
    /// memcached servers, `host:port` or `host:port:weight`.
    pub servers: Vec<String>,
    /// How keys are spread over `servers`, as libmemcached names it: `ketama_weighted`
    /// (default; pylibmc's `ketama: True`), `ketama` (one-at-a-time hash, weights
    /// ignored) or `ketama_md5`.
    pub distribution: String,
    /// Milliseconds to connect to a server, and for one request. Defaults 250 and 250.
    pub connect_timeout_ms: u64,
    pub timeout_ms: u64,
    /// Consecutive failures that take a server out of the pool. Default 2.
    pub failure_limit: u32,
    /// Seconds a server stays out before it is tried again. Default 10.
    pub retry_timeout_secs: u64,
    /// `redis://[:password@]host:port[/db]`: the server of `backend = "redis"`, and the channel of
    /// the change notices that keep each process's L1 coherent.
    pub redis_url: Option<Secret>,
    /// Megabytes of in-process L1 in front of memcached or Redis. Needs `redis_url`
    /// (its change notices); default 64 when there is one, else none. 0: none.
    pub l1_mb: Option<u64>,
    /// Seconds a cached page, count or look-up is served as fresh. Writes push new
    /// values at once; this bounds what they cannot reach (votes, forum settings,
    /// another process's in-process cache). Default 10.
    pub fresh_secs: u64,
    /// Seconds after that it is still served while one refill runs. Default 300.
    pub stale_secs: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            backend: CacheBackend::Memory,
            memory_mb: 256,
            servers: Vec::new(),
            distribution: "ketama_weighted".into(),
            connect_timeout_ms: 250,
            timeout_ms: 250,
            failure_limit: 2,
            retry_timeout_secs: 10,
            redis_url: None,
            l1_mb: None,
            fresh_secs: confab_server::reads::DEFAULT_POLICY.fresh.as_secs(),
            stale_secs: confab_server::reads::DEFAULT_POLICY.stale.as_secs(),
        }
    }
}

impl CacheConfig {
    /// The Redis server of `redis_url`, if any: a cache backend, and the channel of
    /// change notices (the L1's, the switches').
    pub fn redis(&self) -> anyhow::Result<Option<Arc<confab_cache::Redis>>> {
        let Some(url) = &self.redis_url else { return Ok(None) };
        let mut cfg = confab_cache::RedisConfig::new(url.expose().trim());
        cfg.connect_timeout = Duration::from_millis(self.connect_timeout_ms);
        cfg.op_timeout = Duration::from_millis(self.timeout_ms);
        cfg.failure_limit = self.failure_limit.max(1);
        cfg.retry_timeout = Duration::from_secs(self.retry_timeout_secs);
        Ok(Some(Arc::new(confab_cache::Redis::new(cfg).map_err(|e| anyhow::anyhow!("cache: {e}"))?)))
    }

    /// The backend it names, over `redis` (the process's one client of [`Self::redis`]);
    /// `None` when the cache is off. Refuses a malformed pool, a Redis backend without a
    /// server, and an L1 without notices to keep it coherent. Starts the L1's notice
    /// tasks, so it runs inside the runtime.
    pub fn backend(
        &self,
        redis: Option<Arc<confab_cache::Redis>>,
    ) -> anyhow::Result<Option<Arc<dyn confab_cache::Backend>>> {
        use confab_cache::ketama::{Distribution, KeyHash};
        use confab_cache::memcached::{Memcached, MemcachedConfig};
        let shared: Arc<dyn confab_cache::Backend> = match self.backend {
            CacheBackend::Off | CacheBackend::Memory => {
                if self.l1_mb.is_some_and(|mb| mb > 0) {
                    anyhow::bail!("cache: l1_mb is for backend = \"memcached\" or \"redis\"");
                }
                return Ok(match self.backend {
                    CacheBackend::Off => None,
                    _ => Some(Arc::new(confab_cache::InProcess::new(self.memory_mb.max(1) << 20))),
                });
            }
            CacheBackend::Memcached => {
                if self.servers.is_empty() {
                    anyhow::bail!("cache: backend = \"memcached\" needs servers (\"host:port\", …)");
                }
                let servers = self.servers.iter().map(|s| parse_server(s)).collect::<anyhow::Result<Vec<_>>>()?;
                let mut cfg = MemcachedConfig::new(servers);
                cfg.distribution = match self.distribution.as_str() {
                    "ketama_weighted" => Distribution::Weighted,
                    "ketama" => Distribution::Ketama(KeyHash::OneAtATime),
                    "ketama_md5" => Distribution::Ketama(KeyHash::Md5),
                    other => anyhow::bail!(
                        "cache: unknown distribution {other:?}: use ketama_weighted, ketama or ketama_md5"
                    ),
                };
                cfg.connect_timeout = Duration::from_millis(self.connect_timeout_ms);
                cfg.op_timeout = Duration::from_millis(self.timeout_ms);
                cfg.failure_limit = self.failure_limit.max(1);
                cfg.retry_timeout = Duration::from_secs(self.retry_timeout_secs);
                Arc::new(confab_cache::MemcachedBackend { pool: Arc::new(Memcached::new(cfg)) })
            }
            CacheBackend::Redis => match &redis {
                Some(redis) => Arc::new(confab_cache::RedisBackend::new(Arc::clone(redis))),
                None => anyhow::bail!("cache: backend = \"redis\" needs redis_url (\"redis://host:port\")"),
            },
        };
        let l1_mb = match (self.l1_mb, &redis) {
            (Some(mb), None) if mb > 0 => {
                anyhow::bail!("cache: l1_mb needs redis_url, whose change notices keep each process's L1 coherent")
            }
            (Some(mb), _) => mb,
            (None, Some(_)) => 64,
            (None, None) => 0,
        };
        Ok(Some(match redis {
            // Without notices an L1 copy could only be bounded by its expiry; the L1
            // stays within the fresh time even if a notice is lost.
            Some(redis) if l1_mb > 0 => confab_cache::Tiered::with_redis_notices(
                shared,
                l1_mb << 20,
                Duration::from_secs(self.fresh_secs.max(1)),
                redis,
            ),
            _ => shared,
        }))
    }

    pub fn policy(&self) -> confab_cache::Policy {
        confab_cache::Policy {
            fresh: Duration::from_secs(self.fresh_secs),
            stale: Duration::from_secs(self.stale_secs),
        }
    }
}

/// `host:port` or `host:port:weight`.
fn parse_server(s: &str) -> anyhow::Result<confab_cache::ketama::Server> {
    let bad = || anyhow::anyhow!("cache: server {s:?} is not host:port or host:port:weight");
    let mut parts = s.rsplitn(3, ':').collect::<Vec<_>>();
    parts.reverse();
    let (host, port, weight) = match parts.as_slice() {
        [host, port] => (*host, *port, "1"),
        [host, port, weight] => (*host, *port, *weight),
        _ => return Err(bad()),
    };
    let port: u16 = port.parse().map_err(|_| bad())?;
    let weight: u32 = weight.parse().map_err(|_| bad())?;
    if host.is_empty() || host.contains(':') || port == 0 || weight == 0 {
        return Err(bad());
    }
    let mut server = confab_cache::ketama::Server::new(host, port);
    server.weight = weight;
    Ok(server)
}

impl Config {
    /// Defaults, then the file (if given, it must exist), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, Box<figment::Error>> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.exists() {
                return Err(Box::new(figment::Error::from(format!("config file {} does not exist", path.display()))));
            }
            fig = fig.merge(Toml::file(path));
        }
        // `CONFAB_CACHE__BACKEND=off` sets `[cache] backend`.
        fig.merge(Env::prefixed("CONFAB_").ignore(&["CONFIG"]).split("__")).extract().map_err(Box::new)
    }

    /// The rate limits in force; refuses malformed proxy networks.
    pub fn rate_limits(&self) -> anyhow::Result<confab_server::RateLimits> {
        use confab_server::ratelimit::{Cidr, Quota};
        let proxies = self
            .trusted_proxies
            .iter()
            .map(|p| Cidr::parse(p).map_err(|e| anyhow::anyhow!("trusted_proxies: {e}")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let q = |per_minute, burst| Quota { per_minute, burst };
        let posts = q(self.rate_limit_posts_per_minute, self.rate_limit_posts_burst);
        let votes = q(self.rate_limit_votes_per_minute, self.rate_limit_votes_burst);
        let resets = q(self.rate_limit_resets_per_minute, self.rate_limit_resets_burst);
        Ok(confab_server::RateLimits {
            posts_per_network: posts,
            votes_per_network: votes,
            posts_per_forum: q(self.rate_limit_forum_posts_per_minute, self.rate_limit_forum_posts_burst),
            // An account gets what one network gets.
            posts_per_account: posts,
            votes_per_account: votes,
            signups_per_network: q(self.rate_limit_signups_per_minute, self.rate_limit_signups_burst),
            logins_per_network: q(self.rate_limit_logins_per_minute, self.rate_limit_logins_burst),
            logins_per_name: q(self.rate_limit_login_name_per_minute, self.rate_limit_login_name_burst),
            resets_per_network: resets,
            // One address gets at most half a network's reset mails, at least one a minute.
            resets_per_email: q((resets.per_minute / 2).max(1).min(resets.per_minute), (resets.burst / 2).max(1)),
            trusted_proxies: proxies,
        })
    }

    /// Account settings; refuses a public URL that is not a plain http(s) base.
    pub fn accounts(&self) -> anyhow::Result<confab_server::AccountSettings> {
        let public_url = match &self.public_url {
            Some(u) => {
                let parsed = url::Url::parse(u.trim()).map_err(|e| anyhow::anyhow!("public_url {u:?}: {e}"))?;
                if !matches!(parsed.scheme(), "http" | "https")
                    || parsed.query().is_some()
                    || parsed.fragment().is_some()
                    || !parsed.username().is_empty()
                {
                    anyhow::bail!("public_url {u:?} must be an http(s) address without query, fragment or user");
                }
                parsed.as_str().trim_end_matches('/').to_owned()
            }
            None => format!("http://{}", self.listen),
        };
        if self.session_days == 0 {
            anyhow::bail!("session_days must be at least 1");
        }
        Ok(confab_server::AccountSettings {
            public_url,
            session_ttl: Duration::from_secs(self.session_days * 24 * 3600),
            ..confab_server::AccountSettings::default()
        })
    }

    /// The worker settings; refuses values that would stop work.
    pub fn worker(&self) -> anyhow::Result<confab_jobs::WorkerConfig> {
        if self.worker_concurrency == 0 || self.job_max_attempts == 0 {
            anyhow::bail!("worker_concurrency and job_max_attempts must be at least 1");
        }
        if self.job_backoff_base_secs == 0 || self.job_backoff_max_secs < self.job_backoff_base_secs {
            anyhow::bail!("job_backoff_base_secs must be at least 1 and at most job_backoff_max_secs");
        }
        if self.job_lease_secs <= self.outbound_timeout_secs {
            anyhow::bail!("job_lease_secs must be longer than outbound_timeout_secs, or jobs would run twice");
        }
        Ok(confab_jobs::WorkerConfig {
            concurrency: self.worker_concurrency,
            batch: (self.worker_concurrency * 4).min(256) as u32,
            lease: Duration::from_secs(self.job_lease_secs),
            max_attempts: self.job_max_attempts,
            backoff: confab_core::jobs::Backoff {
                base: Duration::from_secs(self.job_backoff_base_secs),
                max: Duration::from_secs(self.job_backoff_max_secs),
            },
            idle_poll: Duration::from_millis(self.job_poll_ms.max(10)),
            ..confab_jobs::WorkerConfig::default()
        })
    }

    /// `node_name`, else the host's name (else `local`).
    pub fn node(&self) -> String {
        self.node_name.clone().unwrap_or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| "local".into())
        })
    }

    pub fn switch_refresh(&self) -> Duration {
        Duration::from_millis(self.switch_refresh_ms.max(50))
    }

    pub fn outbound(&self) -> confab_server::outbound::OutboundPolicy {
        confab_server::outbound::OutboundPolicy {
            allow_loopback: self.outbound_allow_loopback,
            allow_private: self.outbound_allow_private,
            connect_timeout: Duration::from_secs(self.outbound_connect_timeout_secs.max(1)),
            total_timeout: Duration::from_secs(self.outbound_timeout_secs.max(1)),
            ..confab_server::outbound::OutboundPolicy::default()
        }
    }

    /// The mail sender in force: SMTP when `smtp_url` is set, else `.eml` files in
    /// `mail_dir`. Returns it with a line for the start-up banner.
    pub fn mailer(&self) -> anyhow::Result<(std::sync::Arc<dyn confab_server::mail::Mailer>, String)> {
        use confab_server::mail::{DirMailer, SmtpMailer};
        match &self.smtp_url {
            Some(url) => {
                let timeout = Duration::from_secs(self.smtp_timeout_secs.max(1));
                let m = SmtpMailer::new(url.expose(), self.mail_from.clone(), timeout).map_err(anyhow::Error::msg)?;
                Ok((std::sync::Arc::new(m), "SMTP (smtp_url)".into()))
            }
            None => {
                let dir = self.mail_dir();
                let m = DirMailer::new(dir.clone(), self.mail_from.clone())
                    .map_err(|e| anyhow::anyhow!("cannot create the mail directory {}: {e}", dir.display()))?;
                Ok((std::sync::Arc::new(m), format!("{}  (set smtp_url to send)", dir.display())))
            }
        }
    }

    /// The Akismet-compatible service, when a key is configured.
    pub fn akismet(&self) -> anyhow::Result<Option<confab_server::akismet::Akismet>> {
        let Some(key) = &self.akismet_key else { return Ok(None) };
        let mut endpoint = url::Url::parse(&self.akismet_url)
            .map_err(|e| anyhow::anyhow!("akismet_url {:?}: {e}", self.akismet_url))?;
        if !endpoint.path().ends_with('/') {
            endpoint.set_path(&format!("{}/", endpoint.path()));
        }
        Ok(Some(confab_server::akismet::Akismet {
            endpoint,
            key: key.expose().to_owned(),
            blog: self.accounts()?.public_url,
        }))
    }

    pub fn mail_dir(&self) -> PathBuf {
        self.mail_dir.clone().unwrap_or_else(|| self.data_dir.join("mail-outbox"))
    }

    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("confab.db")
    }

    pub fn edit_window(&self) -> Duration {
        Duration::from_secs(self.edit_window_secs)
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closures must return figment::Error.
mod tests {
    use super::*;

    #[test]
    fn file_and_environment_layer_over_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "c.toml",
                "listen = \"127.0.0.1:9999\"\nedit_window_secs = 60\nadmin_token = \"abcdefghijklmnopqrst\"",
            )?;
            jail.set_env("CONFAB_EDIT_WINDOW_SECS", "120");
            let c = Config::load(Some(Path::new("c.toml"))).map_err(|e| *e)?;
            assert_eq!(c.listen.port(), 9999);
            assert_eq!(c.edit_window_secs, 120, "environment wins over the file");
            assert_eq!(c.sqlite_readers, 8);
            assert_eq!(format!("{:?}", c.admin_token), "Some(Secret(<redacted>))");
            Ok(())
        });
    }

    #[test]
    fn account_settings_check_the_public_url() {
        let mut c = Config::default();
        assert_eq!(c.accounts().unwrap().public_url, "http://127.0.0.1:8080");
        c.public_url = Some("https://comments.example.com/confab/".into());
        assert_eq!(c.accounts().unwrap().public_url, "https://comments.example.com/confab");
        for bad in ["comments.example.com", "ftp://x.example", "https://x.example/?a=1", "https://u:p@x.example"] {
            c.public_url = Some(bad.into());
            assert!(c.accounts().is_err(), "{bad}");
        }
        c.public_url = None;
        c.session_days = 0;
        assert!(c.accounts().is_err());
        assert_eq!(c.mail_dir(), PathBuf::from("./confab-data/mail-outbox"));
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("typo.toml", "lisen = \"127.0.0.1:1\"")?;
            assert!(Config::load(Some(Path::new("typo.toml"))).is_err());
            jail.create_file("bad.toml", "edit_window_secs = \"soon\"")?;
            assert!(Config::load(Some(Path::new("bad.toml"))).is_err());
            assert!(Config::load(Some(Path::new("missing.toml"))).is_err());
            Ok(())
        });
    }

    fn cache(toml: &str) -> anyhow::Result<Option<Arc<dyn confab_cache::Backend>>> {
        let mut out = None;
        figment::Jail::expect_with(|jail| {
            jail.create_file("c.toml", toml)?;
            out = Some(Config::load(Some(Path::new("c.toml"))).map_err(|e| *e)?.cache);
            Ok(())
        });
        let cache = out.unwrap();
        cache.backend(cache.redis()?)
    }

    fn refused(toml: &str, says: &str) {
        let e = cache(toml).err().unwrap_or_else(|| panic!("{toml} was accepted")).to_string();
        assert!(e.contains(says), "{toml}: {e}");
    }

    #[tokio::test]
    async fn the_cache_section_names_its_backends_and_refuses_what_cannot_work() {
        assert_eq!(cache("").unwrap().unwrap().name(), "memory");
        assert!(cache("[cache]\nbackend = \"off\"").unwrap().is_none());
        let memcached = "[cache]\nbackend = \"memcached\"\nservers = [\"127.0.0.1:11211:2\"]";
        assert_eq!(cache(memcached).unwrap().unwrap().name(), "memcached");
        let redis = "[cache]\nbackend = \"redis\"\nredis_url = \"redis://127.0.0.1:6390\"";
        // With a notice channel, an L1 sits in front (64 MB unless told), unless 0.
        assert_eq!(cache(redis).unwrap().unwrap().name(), "redis+l1");
        assert_eq!(cache(&format!("{redis}\nl1_mb = 0")).unwrap().unwrap().name(), "redis");
        let tiered = format!("{memcached}\nredis_url = \"redis://127.0.0.1:6390\"\nl1_mb = 8");
        assert_eq!(cache(&tiered).unwrap().unwrap().name(), "memcached+l1");

        refused("[cache]\nbackend = \"memcached\"", "needs servers");
        refused("[cache]\nbackend = \"memcached\"\nservers = [\"localhost\"]", "not host:port");
        refused("[cache]\nbackend = \"memcached\"\nservers = [\"h:11211:0\"]", "not host:port");
        refused(&format!("{memcached}\ndistribution = \"modula\""), "unknown distribution");
        refused("[cache]\nbackend = \"redis\"", "needs redis_url");
        refused("[cache]\nbackend = \"redis\"\nredis_url = \"http://x\"", "redis url");
        refused(&format!("{memcached}\nl1_mb = 16"), "l1_mb needs redis_url");
        refused("[cache]\nl1_mb = 16", "l1_mb is for");
        // The URL's password stays out of what the configuration prints.
        let with_password = "[cache]\nredis_url = \"redis://:hunter2@127.0.0.1:6390\"";
        figment::Jail::expect_with(|jail| {
            jail.create_file("c.toml", with_password)?;
            let config = Config::load(Some(Path::new("c.toml"))).map_err(|e| *e)?;
            assert!(!format!("{config:?}").contains("hunter2"));
            Ok(())
        });
    }
}
