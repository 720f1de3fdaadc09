//! Connection pools and routing: a pool per database (deadpool-postgres), a cluster as a
//! primary and its replicas, and the topology that finds a forum's cluster.
//!
//! - Writes and transactions go to a cluster's primary ([`Cluster::primary`]).
//! - Reads may go to a replica ([`Cluster::reader`]): the next healthy one in turn, else
//!   the primary. A replica whose connection fails is marked unhealthy and skipped; a
//!   background check tries it again every `health_interval_ms`.
//! - Waiting longer than `acquire_timeout_ms` for a connection, or failing to connect,
//!   is `StoreError::Unavailable` (503 with a clear code), never a hang.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use confab_core::id::LogicalShard;
use confab_store::{StoreError, StoreResult};
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime, Timeouts};
use tokio::sync::RwLock;

use crate::config::PgConfig;
use crate::placement::ShardMap;

/// One database (a primary or a replica) and its pool.
pub struct Db {
    /// `cluster/primary` or `cluster/replica-N`, for logs (never the URL: it may hold a password).
    pub label: String,
    pool: Pool,
    healthy: AtomicBool,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("label", &self.label).field("healthy", &self.is_healthy()).finish()
    }
}

/// Maps a pool or driver failure to the store's errors: no connection is
/// `Unavailable` (the request may be retried); anything else is `Internal`.
pub fn unavailable(label: &str, e: PoolError) -> StoreError {
    match e {
        PoolError::Timeout(_) => StoreError::Unavailable(format!("{label}: no free database connection")),
        PoolError::Backend(e) => StoreError::Unavailable(format!("{label}: {e}")),
        PoolError::Closed => StoreError::Unavailable(format!("{label}: pool closed")),
        other => StoreError::Internal(format!("{label}: {other}")),
    }
}

impl Db {
    pub fn new(label: String, url: &str, cfg: &PgConfig, app: &str) -> StoreResult<Db> {
        let mut pg: tokio_postgres::Config =
            url.parse().map_err(|e| StoreError::Internal(format!("{label}: bad URL: {e}")))?;
        pg.connect_timeout(Duration::from_millis(cfg.connect_timeout_ms));
        // A peer gone without a reset (host down, network cut) is noticed in about 30 s
        // even on an idle pooled connection; a frozen server the kernel still answers for
        // is bounded by the statement deadline instead (`sql::answered`).
        pg.keepalives(true);
        pg.keepalives_idle(Duration::from_secs(15));
        pg.keepalives_interval(Duration::from_secs(5));
        pg.keepalives_retries(3);
        pg.application_name(app);
        let manager =
            Manager::from_config(pg, tokio_postgres::NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let wait = Some(Duration::from_millis(cfg.acquire_timeout_ms));
        let pool = Pool::builder(manager)
            .max_size(cfg.pool_size)
            .runtime(Runtime::Tokio1)
            .timeouts(Timeouts { wait, create: Some(Duration::from_millis(cfg.connect_timeout_ms)), recycle: wait })
            .build()
            .map_err(|e| StoreError::Internal(format!("{label}: {e}")))?;
        Ok(Db { label, pool, healthy: AtomicBool::new(true) })
    }

    /// A connection, or `Unavailable` within the acquire timeout. A failure marks the
    /// database unhealthy (readers then skip it); a success marks it healthy again.
    pub async fn get(&self) -> StoreResult<Object> {
        match self.pool.get().await {
            Ok(c) => {
                self.healthy.store(true, Ordering::Relaxed);
                Ok(c)
            }
            Err(e) => {
                if matches!(e, PoolError::Backend(_) | PoolError::Timeout(deadpool_postgres::TimeoutType::Create)) {
                    self.healthy.store(false, Ordering::Relaxed);
                }
                Err(unavailable(&self.label, e))
            }
        }
    }

    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// One cheap round trip; updates the health flag.
    pub async fn check(&self) -> bool {
        let ok = match self.pool.get().await {
            Ok(c) => c.simple_query("SELECT 1").await.is_ok(),
            Err(_) => false,
        };
        self.healthy.store(ok, Ordering::Relaxed);
        ok
    }

    /// Connections open and idle, and the pool's size.
    pub fn status(&self) -> deadpool_postgres::Status {
        self.pool.status()
    }
}

/// A position in a cluster's write-ahead log (a `pg_lsn` as a number): what a write
/// returns, and what a replica must have replayed to show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Lsn(pub u64);

/// The WAL position after the writes this connection has committed (call it after the
/// commit, on the same connection: the primary's current insert position covers them).
pub async fn write_position(c: &Object) -> StoreResult<Lsn> {
    let row = c
        .query_typed("SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint", &[])
        .await
        .map_err(|e| StoreError::Internal(format!("WAL position: {e}")))?;
    Ok(Lsn(row[0].get::<_, i64>(0) as u64))
}

/// How far a replica has replayed (`None` on a primary).
async fn replayed(c: &Object) -> Result<Option<Lsn>, tokio_postgres::Error> {
    let row = c.query_typed("SELECT (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint", &[]).await?;
    Ok(row[0].get::<_, Option<i64>>(0).map(|v| Lsn(v as u64)))
}

/// A primary and its streaming replicas.
#[derive(Debug)]
pub struct Cluster {
    pub name: String,
    pub primary: Db,
    pub replicas: Vec<Db>,
    next: AtomicUsize,
}

impl Cluster {
    pub fn new(name: &str, c: &crate::ClusterConfig, cfg: &PgConfig, app: &str) -> StoreResult<Cluster> {
        Ok(Cluster {
            name: name.to_owned(),
            primary: Db::new(format!("{name}/primary"), &c.primary, cfg, app)?,
            replicas: c
                .replicas
                .iter()
                .enumerate()
                .map(|(i, url)| Db::new(format!("{name}/replica-{}", i + 1), url, cfg, app))
                .collect::<StoreResult<_>>()?,
            next: AtomicUsize::new(0),
        })
    }

    /// For writes and transactions.
    pub async fn primary(&self) -> StoreResult<Object> {
        self.primary.get().await
    }

    /// For reads that may lag a little: a healthy replica in turn, else the primary. A
    /// replica that fails now is skipped for this read too.
    pub async fn reader(&self) -> StoreResult<(Object, &Db)> {
        self.reader_after(None).await
    }

    /// Read-your-writes: a reader that has replayed the WAL at least to `after` (the
    /// position a client's last write returned), else the primary. With no position,
    /// any healthy replica will do. A position costs one extra round trip per replica
    /// tried, and only clients with a recent write have one.
    pub async fn reader_after(&self, after: Option<Lsn>) -> StoreResult<(Object, &Db)> {
        let n = self.replicas.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        for i in 0..n {
            let db = &self.replicas[(start + i) % n];
            if !db.is_healthy() {
                continue;
            }
            let c = match db.get().await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(db = %db.label, error = %e, "replica unavailable, reading elsewhere");
                    continue;
                }
            };
            let Some(after) = after else { return Ok((c, db)) };
            match replayed(&c).await {
                Ok(Some(at)) if at >= after => return Ok((c, db)),
                Ok(_) => {}
                Err(e) => tracing::warn!(db = %db.label, error = %e, "replica position unknown"),
            }
        }
        Ok((self.primary.get().await?, &self.primary))
    }

    fn all(&self) -> impl Iterator<Item = &Db> {
        std::iter::once(&self.primary).chain(self.replicas.iter())
    }
}

/// The shard map as stored in the global database behind `c`, checked against the
/// configured cluster names.
pub(crate) async fn read_map(c: &impl tokio_postgres::GenericClient, known: &[String]) -> StoreResult<ShardMap> {
    let rows = crate::sql::rows(c, "SELECT logical_shard, cluster FROM shard_map", &[]).await?;
    ShardMap::from_rows(rows.iter().map(|r| (r.get::<_, i32>(0) as u16, r.get::<_, String>(1))), known)
        .map_err(|e| StoreError::Internal(e.to_string()))
}

/// The `application_name` of Confab's servers and workers.
pub const APPLICATION: &str = "confab";
/// The `application_name` of maintenance commands such as `confab forum pin`.
pub const MAINTENANCE: &str = "confab-maintenance";

/// The whole topology: the global database, the forum-shard clusters, the shard map.
pub struct Topology {
    pub config: PgConfig,
    pub global: Cluster,
    pub clusters: BTreeMap<String, Cluster>,
    map: RwLock<Option<ShardMap>>,
}

impl std::fmt::Debug for Topology {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Topology").field("global", &self.global).field("clusters", &self.clusters).finish()
    }
}

impl Topology {
    /// How long a write may take, from its first statement to its commit, before it is
    /// abandoned: twice the statement timeout (which a live server enforces on each
    /// statement itself; a write is a few statements) and a second more. 11 s by default.
    pub fn write_deadline(&self) -> Duration {
        Duration::from_millis(2 * self.config.statement_timeout_ms + 1_000)
    }

    /// Pools for every database (connections open on first use). The shard map is
    /// loaded by [`Topology::load_map`], after migrations.
    pub fn new(config: PgConfig) -> StoreResult<Arc<Topology>> {
        Topology::named(config, APPLICATION)
    }

    /// As [`Topology::new`], its sessions named `app` in `pg_stat_activity` (the
    /// maintenance commands use [`MAINTENANCE`], so that they can tell whether any
    /// Confab server or worker is still connected).
    pub fn named(config: PgConfig, app: &str) -> StoreResult<Arc<Topology>> {
        config.check().map_err(|e| StoreError::Internal(e.to_string()))?;
        crate::sql::set_statement_deadline(config.statement_timeout_ms);
        let global = Cluster::new("global", &config.global, &config, app)?;
        let clusters = config
            .clusters
            .iter()
            .map(|(name, c)| Ok((name.clone(), Cluster::new(name, c, &config, app)?)))
            .collect::<StoreResult<_>>()?;
        Ok(Arc::new(Topology { config, global, clusters, map: RwLock::new(None) }))
    }

    pub fn cluster_names(&self) -> Vec<String> {
        self.clusters.keys().cloned().collect()
    }

    /// Reads the shard map from the global database (again after a placement change).
    pub async fn load_map(&self) -> StoreResult<()> {
        let c = self.global.primary().await?;
        let map = read_map(&**c, &self.cluster_names()).await?;
        *self.map.write().await = Some(map);
        Ok(())
    }

    /// The names of the clusters kept for pinned forums.
    pub fn dedicated(&self) -> std::collections::HashSet<&str> {
        self.config.clusters.iter().filter(|(_, c)| c.dedicated).map(|(n, _)| n.as_str()).collect()
    }

    /// The cluster holding a logical shard: where any id of that shard routes.
    pub async fn cluster_of_shard(&self, shard: LogicalShard) -> StoreResult<&Cluster> {
        let map = self.map.read().await;
        let map = map.as_ref().ok_or_else(|| StoreError::Internal("the shard map is not loaded".into()))?;
        let name = map.cluster_of_shard(shard);
        self.clusters.get(name).ok_or_else(|| StoreError::Internal(format!("no cluster {name:?}")))
    }

    /// Waits (up to `within`) until every healthy replica has replayed what its primary
    /// had written when this was called — after migrations, so that no read finds a
    /// replica without a table the primary already has. Replicas still behind at the
    /// end are reported, not waited for: the health checks and read-your-writes keep
    /// reads correct meanwhile.
    pub async fn await_replicas(&self, within: Duration) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + within;
        let mut behind = Vec::new();
        for cluster in self.clusters.values().chain(std::iter::once(&self.global)) {
            if cluster.replicas.is_empty() {
                continue;
            }
            let Ok(c) = cluster.primary().await else { continue };
            let Ok(target) = write_position(&c).await else { continue };
            for db in &cluster.replicas {
                let mut caught_up = false;
                while tokio::time::Instant::now() < deadline {
                    if let Ok(r) = db.get().await
                        && let Ok(Some(at)) = replayed(&r).await
                        && at >= target
                    {
                        caught_up = true;
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                if !caught_up {
                    behind.push(db.label.clone());
                }
            }
        }
        behind
    }

    /// Checks every unhealthy database every `health_interval_ms`, until the topology
    /// is dropped. Healthy ones are judged by their own traffic.
    pub fn watch_health(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(self);
        let every = Duration::from_millis(self.config.health_interval_ms);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(t) = weak.upgrade() else { return };
                for db in t.clusters.values().chain(std::iter::once(&t.global)).flat_map(Cluster::all) {
                    if !db.is_healthy() && db.check().await {
                        tracing::info!(db = %db.label, "database reachable again");
                    }
                }
            }
        })
    }
}
