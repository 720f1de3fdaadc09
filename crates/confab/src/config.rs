//! Configuration: typed, documented here, read from an optional TOML file and then
//! from `CONFAB_*` environment variables (which win). Unknown keys are errors, so a
//! typo never silently falls back to a default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
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
    /// Admin token (16–128 URL-safe characters). When unset, the first start creates
    /// one, prints it once, and stores only its hash.
    pub admin_token: Option<Secret>,
    /// Seconds after posting during which an author may edit or delete. Default 900.
    pub edit_window_secs: u64,
    /// Send `X-Confab-Queries` (statements per request) on responses. Default false.
    pub expose_query_count: bool,
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
    /// Reverse proxies (addresses or networks) whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<String>,
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
            sqlite_readers: 8,
            db_acquire_timeout_ms: 5_000,
            demo: true,
            rate_limit_posts_per_minute: 6,
            rate_limit_posts_burst: 10,
            rate_limit_votes_per_minute: 60,
            rate_limit_votes_burst: 30,
            rate_limit_forum_posts_per_minute: 600,
            rate_limit_forum_posts_burst: 300,
            trusted_proxies: Vec::new(),
            log: "info".into(),
            log_format: LogFormat::Text,
        }
    }
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
        fig.merge(Env::prefixed("CONFAB_").ignore(&["CONFIG"])).extract().map_err(Box::new)
    }

    /// The rate limits in force; refuses malformed proxy networks.
    pub fn rate_limits(&self) -> anyhow::Result<confab_server::RateLimits> {
        use confab_server::ratelimit::{Cidr, Quota};
        let proxies = self
            .trusted_proxies
            .iter()
            .map(|p| Cidr::parse(p).map_err(|e| anyhow::anyhow!("trusted_proxies: {e}")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(confab_server::RateLimits {
            posts_per_network: Quota {
                per_minute: self.rate_limit_posts_per_minute,
                burst: self.rate_limit_posts_burst,
            },
            votes_per_network: Quota {
                per_minute: self.rate_limit_votes_per_minute,
                burst: self.rate_limit_votes_burst,
            },
            posts_per_forum: Quota {
                per_minute: self.rate_limit_forum_posts_per_minute,
                burst: self.rate_limit_forum_posts_burst,
            },
            trusted_proxies: proxies,
        })
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
}
