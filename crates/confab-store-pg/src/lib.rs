//! Confab's distributed store on PostgreSQL: one **global** database (settings, forums,
//! accounts, sessions, authors, the shard map) and N **forum-shard clusters**, each a
//! primary with zero or more streaming replicas. Forums live on 1024 logical shards;
//! the shard map in the global database places each logical shard on a cluster, and a
//! forum can be pinned to a cluster of its own.
//!
//! This crate has, so far, the foundation the store is built on:
//! - [`config`]: the topology as the operator writes it, checked;
//! - [`placement`]: the shard map (pure: which cluster serves a forum);
//! - [`pool`]: connection pools per database with acquire timeouts, replicas with health
//!   and fallback to the primary, read-your-writes by WAL position, errors mapped to the
//!   store's (`Unavailable`, 503);
//! - [`migrate`]: migrations applied to every database of the topology, safely from
//!   several processes at once and through a transaction-pooling pgbouncer.
//!
//! Queries use `query_typed` / `batch_execute` (unnamed statements or the simple
//! protocol), never named prepared statements, so they work through pgbouncer 1.18 in
//! transaction mode, which does not track prepared statements.
//!
//! The `Store` implementation on top of it is the next step (see docs/ARCHITECTURE.md).

pub mod config;
pub mod migrate;
pub mod placement;
pub mod pool;
mod sql;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;

pub use config::{ClusterConfig, PgConfig};
pub use placement::ShardMap;
pub use pool::{Cluster, Db, Lsn, Topology, write_position};
pub use store::PgStore;
