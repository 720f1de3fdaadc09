//! The topology as the operator writes it (the `[postgres]` part of the configuration):
//!
//! ```toml
//! [postgres]
//! global = { primary = "postgres://confab@db0/confab_global" }
//! pool_size = 16
//! acquire_timeout_ms = 2000
//! statement_timeout_ms = 5000
//!
//! [postgres.clusters.c1]
//! primary = "postgres://confab@db1/confab_shard1"
//! replicas = ["postgres://confab@db1r/confab_shard1"]
//!
//! [postgres.clusters.c2]
//! primary = "postgres://confab@db2/confab_shard2"
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One database: its primary, and the streaming replicas reads may use.
#[derive(Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    pub primary: String,
    #[serde(default)]
    pub replicas: Vec<String>,
    /// A direct connection to the primary (not through a transaction-pooling pgbouncer,
    /// where LISTEN does not work), on which workers wait for new jobs. Default: `primary`.
    #[serde(default)]
    pub listen: Option<String>,
    /// A cluster kept for forums pinned to it (`confab forum create --cluster`,
    /// `confab forum pin`): the first placement gives it no logical shards, and forums
    /// created without a pin are never placed on it. Ignored for `global`.
    #[serde(default)]
    pub dedicated: bool,
}

/// URLs may carry passwords: `Debug` shows none of them.
impl std::fmt::Debug for ClusterConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterConfig")
            .field("primary", &"<url>")
            .field("replicas", &self.replicas.len())
            .field("dedicated", &self.dedicated)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PgConfig {
    pub global: ClusterConfig,
    /// Forum-shard clusters by name; the shard map refers to these names.
    pub clusters: BTreeMap<String, ClusterConfig>,
    /// Connections per database and process.
    #[serde(default = "defaults::pool_size")]
    pub pool_size: usize,
    /// How long a request waits for a free connection before it is answered 503.
    #[serde(default = "defaults::acquire_timeout_ms")]
    pub acquire_timeout_ms: u64,
    /// How long connecting may take.
    #[serde(default = "defaults::connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// The longest a statement may run; set on each database by `confab migrate`
    /// (`ALTER DATABASE … SET statement_timeout`), so it holds behind a pooler too.
    #[serde(default = "defaults::statement_timeout_ms")]
    pub statement_timeout_ms: u64,
    /// How often an unhealthy replica is tried again.
    #[serde(default = "defaults::health_interval_ms")]
    pub health_interval_ms: u64,
}

mod defaults {
    pub fn pool_size() -> usize {
        16
    }
    pub fn acquire_timeout_ms() -> u64 {
        2000
    }
    pub fn connect_timeout_ms() -> u64 {
        2000
    }
    pub fn statement_timeout_ms() -> u64 {
        5000
    }
    pub fn health_interval_ms() -> u64 {
        1000
    }
}

/// A topology that cannot work, found before connecting.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("postgres: at least one forum-shard cluster is needed")]
    NoClusters,
    #[error("postgres: at least one forum-shard cluster must not be `dedicated`: forums without a pin need a place")]
    AllDedicated,
    #[error("postgres: cluster name {0:?} must be 1-32 letters, digits, '-' or '_'")]
    BadClusterName(String),
    #[error("postgres: {0}: not a postgres:// or postgresql:// URL")]
    BadUrl(String),
    #[error("postgres: {0} must be between {1} and {2}")]
    OutOfRange(&'static str, u64, u64),
}

impl PgConfig {
    /// Checks names, URLs and numbers; the error names what is wrong.
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.clusters.is_empty() {
            return Err(ConfigError::NoClusters);
        }
        if self.clusters.values().all(|c| c.dedicated) {
            return Err(ConfigError::AllDedicated);
        }
        for name in self.clusters.keys() {
            let ok = (1..=32).contains(&name.len())
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !ok {
                return Err(ConfigError::BadClusterName(name.clone()));
            }
        }
        let all = std::iter::once(("global", &self.global)).chain(self.clusters.iter().map(|(n, c)| (n.as_str(), c)));
        for (name, c) in all {
            for url in std::iter::once(&c.primary).chain(c.replicas.iter()) {
                if url.parse::<tokio_postgres::Config>().is_err()
                    || !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
                {
                    return Err(ConfigError::BadUrl(name.to_owned()));
                }
            }
        }
        let ranges: [(&'static str, u64, u64, u64); 5] = [
            ("pool_size", self.pool_size as u64, 1, 1000),
            ("acquire_timeout_ms", self.acquire_timeout_ms, 1, 60_000),
            ("connect_timeout_ms", self.connect_timeout_ms, 1, 60_000),
            ("statement_timeout_ms", self.statement_timeout_ms, 1, 3_600_000),
            ("health_interval_ms", self.health_interval_ms, 10, 600_000),
        ];
        for (name, v, lo, hi) in ranges {
            if !(lo..=hi).contains(&v) {
                return Err(ConfigError::OutOfRange(name, lo, hi));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(clusters: &[(&str, &str)]) -> PgConfig {
        PgConfig {
            global: ClusterConfig {
                primary: "postgres://u@h/g".into(),
                replicas: vec![],
                listen: None,
                dedicated: false,
            },
            clusters: clusters
                .iter()
                .map(|(n, u)| {
                    (
                        n.to_string(),
                        ClusterConfig { primary: u.to_string(), replicas: vec![], listen: None, dedicated: false },
                    )
                })
                .collect(),
            pool_size: 4,
            acquire_timeout_ms: 100,
            connect_timeout_ms: 100,
            statement_timeout_ms: 1000,
            health_interval_ms: 100,
        }
    }

    #[test]
    fn a_topology_is_checked_before_connecting() {
        assert_eq!(config(&[("c1", "postgres://u@h/s1")]).check(), Ok(()));
        assert_eq!(config(&[]).check(), Err(ConfigError::NoClusters));
        let mut only_dedicated = config(&[("big", "postgres://u@h/s1")]);
        only_dedicated.clusters.get_mut("big").unwrap().dedicated = true;
        assert_eq!(only_dedicated.check(), Err(ConfigError::AllDedicated));
        assert_eq!(
            config(&[("bad name", "postgres://u@h/s1")]).check(),
            Err(ConfigError::BadClusterName("bad name".into()))
        );
        assert_eq!(config(&[("c1", "mysql://u@h/s1")]).check(), Err(ConfigError::BadUrl("c1".into())));
        let mut c = config(&[("c1", "postgres://u@h/s1")]);
        c.pool_size = 0;
        assert_eq!(c.check(), Err(ConfigError::OutOfRange("pool_size", 1, 1000)));
    }

    #[test]
    fn debug_output_hides_the_urls() {
        let c = ClusterConfig {
            primary: "postgres://u:hunter2@h/s1".into(),
            replicas: vec!["postgres://u:pw@r/s1".into()],
            listen: Some("postgres://u:secret3@h/s1".into()),
            dedicated: false,
        };
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2") && !shown.contains("pw@") && !shown.contains("secret3"), "{shown}");
    }

    #[test]
    fn the_toml_shape_reads_with_defaults() {
        let c: PgConfig = serde_json::from_value(serde_json::json!({
            "global": { "primary": "postgres://u@h/g" },
            "clusters": { "c1": { "primary": "postgres://u@h/s1", "replicas": ["postgres://u@r/s1"] } }
        }))
        .unwrap();
        assert_eq!((c.pool_size, c.acquire_timeout_ms, c.statement_timeout_ms), (16, 2000, 5000));
        assert_eq!(c.clusters["c1"].replicas.len(), 1);
        let unknown = serde_json::from_value::<PgConfig>(serde_json::json!({
            "global": { "primary": "postgres://u@h/g" }, "clusters": {}, "pool": 3
        }));
        assert!(unknown.is_err(), "unknown keys are refused");
    }
}
