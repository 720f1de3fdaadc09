//! Confab's distributed store on PostgreSQL: one **global** database (settings, forums,
//! accounts, sessions, authors, the shard map) and N **forum-shard clusters**, each a
//! primary with zero or more streaming replicas. Forums live on 1024 logical shards;
//! the shard map in the global database places each logical shard on a cluster, and a
//! forum can be pinned to a cluster of its own (a logical shard of its own, placed there).
//!
//! - [`store`]: [`PgStore`], the whole `Store` on this topology, and the placement
//!   operations (pinned forums, moving a logical shard);
//! - [`config`]: the topology as the operator writes it, checked;
//! - [`placement`]: the shard map and the choice of a new forum's shard (pure);
//! - [`pool`]: connection pools per database with acquire timeouts, replicas with health
//!   and fallback to the primary, read-your-writes by WAL position, errors mapped to the
//!   store's (`Unavailable`, 503);
//! - [`migrate`]: migrations applied to every database of the topology, safely from
//!   several processes at once and through a transaction-pooling pgbouncer.
//!
//! Queries use `query_typed` / `batch_execute` (unnamed statements or the simple
//! protocol), never named prepared statements, so they work through pgbouncer 1.18 in
//! transaction mode, which does not track prepared statements.

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
pub use pool::{APPLICATION, Cluster, Db, Lsn, MAINTENANCE, Topology, write_position};
pub use store::{PgStore, PinError, PinReport};
