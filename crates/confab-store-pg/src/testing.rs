//! For tests (feature `testing`): the local topology of `scripts/pg-topology`, started
//! on demand, and fresh databases on it — a global database and two shard clusters, the
//! first with a streaming replica — so each test has its own, as each SQLite test has
//! its own file. Used by this crate's tests and by the server's suites run on PostgreSQL.

use std::process::Command;
use std::sync::OnceLock;

use crate::{ClusterConfig, PgConfig};
use tokio_postgres::NoTls;

/// Runs `scripts/pg-topology` with `args`; panics with its output if it fails.
pub fn script(args: &[&str]) {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let out = Command::new(format!("{root}/scripts/pg-topology")).args(args).output().expect("run scripts/pg-topology");
    assert!(
        out.status.success(),
        "pg-topology {args:?}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The topology's first port (`PGTOPO_BASE_PORT`, as for the script).
static BASE: OnceLock<u16> = OnceLock::new();

pub fn base_port() -> u16 {
    *BASE.get_or_init(|| std::env::var("PGTOPO_BASE_PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(54320))
}

pub fn url(port: u16, db: &str) -> String {
    format!("postgres://postgres@127.0.0.1:{port}/{db}")
}

/// Starts the topology once for this test binary (idempotent, quick when it runs).
pub fn topology_up() {
    static UP: OnceLock<()> = OnceLock::new();
    UP.get_or_init(|| {
        script(&["start"]);
    });
}

pub async fn admin(port: u16) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(&url(port, "postgres"), NoTls).await.expect("connect as admin");
    tokio::spawn(conn);
    client
}

/// A test's databases, dropped (`WITH (FORCE)`, so open pools do not stop it) when this
/// is dropped: hundreds of tests would otherwise leave gigabytes behind.
#[must_use = "the databases are dropped with this value"]
pub struct Databases(Vec<(u16, String)>);

impl Drop for Databases {
    fn drop(&mut self) {
        for (port, db) in &self.0 {
            let _ = Command::new("psql")
                .args([&url(*port, "postgres"), "-qc", &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")])
                .output();
        }
    }
}

fn unix_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Test databases older than two hours, left by runs that were killed before their
/// `Databases` could drop them; dropped once per process.
async fn drop_leftovers() {
    let cutoff = unix_secs().saturating_sub(2 * 3600);
    for port in [base_port(), base_port() + 1, base_port() + 3] {
        let c = admin(port).await;
        let Ok(rows) = c
            .query("SELECT datname FROM pg_database WHERE datname ~ '^[a-z0-9_]+_t[0-9]{10}_[0-9]+_(g|s1|s2|s3)$'", &[])
            .await
        else {
            continue;
        };
        for r in rows {
            let db: String = r.get(0);
            let born = db.split('_').find_map(|part| part.strip_prefix('t')?.parse::<u64>().ok()).unwrap_or(u64::MAX);
            if born < cutoff {
                let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).await;
            }
        }
    }
}

/// Fresh databases for one test: `{name}_g` on the global server, `{name}_s1` on shard1
/// (and so on its replica), `{name}_s2` on shard2; dropped with the returned guard.
pub async fn fresh(name: &str) -> (PgConfig, Databases) {
    topology_up();
    static CLEANED: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    CLEANED.get_or_init(drop_leftovers).await;
    let tag = format!("{name}_t{}_{}", unix_secs(), rand_suffix());
    let (g, s1, s2) = (format!("{tag}_g"), format!("{tag}_s1"), format!("{tag}_s2"));
    let dbs = Databases(vec![(base_port(), g.clone()), (base_port() + 1, s1.clone()), (base_port() + 3, s2.clone())]);
    admin(base_port()).await.batch_execute(&format!("CREATE DATABASE {g}")).await.unwrap();
    admin(base_port() + 1).await.batch_execute(&format!("CREATE DATABASE {s1}")).await.unwrap();
    admin(base_port() + 3).await.batch_execute(&format!("CREATE DATABASE {s2}")).await.unwrap();
    // The replica has the new database once it has replayed its creation (it may still
    // be catching up after a restart by another test binary).
    let mut replayed = false;
    for _ in 0..600 {
        if let Ok((_, conn)) = tokio_postgres::connect(&url(base_port() + 2, &s1), NoTls).await {
            drop(conn);
            replayed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(replayed, "the replica has {s1}");
    let config = PgConfig {
        global: ClusterConfig { primary: url(base_port(), &g), replicas: vec![], listen: None, dedicated: false },
        clusters: [
            (
                "c1".to_owned(),
                ClusterConfig {
                    primary: url(base_port() + 1, &s1),
                    replicas: vec![url(base_port() + 2, &s1)],
                    listen: None,
                    dedicated: false,
                },
            ),
            (
                "c2".to_owned(),
                ClusterConfig { primary: url(base_port() + 3, &s2), replicas: vec![], listen: None, dedicated: false },
            ),
        ]
        .into_iter()
        .collect(),
        pool_size: 4,
        acquire_timeout_ms: 300,
        connect_timeout_ms: 1000,
        statement_timeout_ms: 5000,
        health_interval_ms: 50,
    };
    (config, dbs)
}

/// As [`fresh`], with a third cluster `big`, `dedicated` (kept for pinned forums), on
/// its own database `{name}_…_s3` on the second shard server.
pub async fn fresh_with_dedicated(name: &str) -> (PgConfig, Databases) {
    let (mut config, mut dbs) = fresh(name).await;
    let s3 = dbs.0.last().expect("fresh makes three databases").1.replace("_s2", "_s3");
    admin(base_port() + 3).await.batch_execute(&format!("CREATE DATABASE {s3}")).await.unwrap();
    dbs.0.push((base_port() + 3, s3.clone()));
    config.clusters.insert(
        "big".to_owned(),
        ClusterConfig { primary: url(base_port() + 3, &s3), dedicated: true, ..ClusterConfig::default() },
    );
    (config, dbs)
}

fn rand_suffix() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos());
    (h.finish() % 1_000_000_000) as u32
}

/// A migrated, open store on fresh databases (dropped with the guard).
pub async fn fresh_store(name: &str) -> (std::sync::Arc<crate::PgStore>, Databases) {
    let (config, dbs) = fresh(name).await;
    let t = crate::Topology::new(config).expect("a valid test topology");
    crate::migrate::migrate_all(&t).await.expect("migrations apply");
    assert_eq!(t.await_replicas(std::time::Duration::from_secs(10)).await, Vec::<String>::new(), "replicas caught up");
    let ids = std::sync::Arc::new(confab_core::id::IdGenerator::new());
    (std::sync::Arc::new(crate::PgStore::open(t, ids).await.expect("the store opens")), dbs)
}

/// Whether the tests of this process run on PostgreSQL (`CONFAB_TEST_STORE=postgres`)
/// rather than on the embedded store.
pub fn selected() -> bool {
    std::env::var("CONFAB_TEST_STORE").is_ok_and(|v| v == "postgres")
}
