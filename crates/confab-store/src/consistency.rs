//! Read-your-writes across replicas, independent of the backend.
//!
//! A [`ReadScope`] wraps a request (or any unit of work): reads inside it may be served
//! by replicas, but only by one that has replayed the writes the scope knows of — those
//! made inside it, and the positions it started with (a client's earlier writes, kept
//! by the server between requests). Outside any scope a backend reads from its primary.
//! Positions are opaque numbers per database cluster (a WAL position for PostgreSQL);
//! a store without replicas ignores scopes.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

/// Write positions per cluster name.
pub type Positions = HashMap<String, u64>;

#[derive(Debug, Default)]
pub struct ReadScope {
    positions: Mutex<Positions>,
    primary_only: bool,
}

impl ReadScope {
    /// A scope that starts knowing `positions` (a client's earlier writes).
    pub fn new(positions: Positions) -> Arc<ReadScope> {
        Arc::new(ReadScope { positions: Mutex::new(positions), primary_only: false })
    }

    /// A scope for work that writes: its reads go to primaries (what a write checks
    /// must be current), and its writes' positions are recorded like any scope's.
    pub fn for_writes(positions: Positions) -> Arc<ReadScope> {
        Arc::new(ReadScope { positions: Mutex::new(positions), primary_only: true })
    }

    /// Whether reads in this scope may use replicas at all.
    pub fn replicas_allowed(&self) -> bool {
        !self.primary_only
    }

    /// Every position known now: the starting ones and the scope's own writes.
    pub fn positions(&self) -> Positions {
        self.positions.lock().expect("not poisoned").clone()
    }

    /// A write at `at` on `cluster` (positions only move forward).
    pub fn wrote(&self, cluster: &str, at: u64) {
        let mut p = self.positions.lock().expect("not poisoned");
        let e = p.entry(cluster.to_owned()).or_insert(at);
        *e = (*e).max(at);
    }

    /// What a replica of `cluster` must have replayed to serve this scope.
    pub fn position(&self, cluster: &str) -> Option<u64> {
        self.positions.lock().expect("not poisoned").get(cluster).copied()
    }
}

tokio::task_local! {
    static CURRENT: Arc<ReadScope>;
}

/// Runs `fut` with its reads allowed on replicas, read-your-writes by `scope`.
pub async fn scope<F: Future>(scope: Arc<ReadScope>, fut: F) -> F::Output {
    CURRENT.scope(scope, fut).await
}

/// The scope the caller runs in, if any.
pub fn current() -> Option<Arc<ReadScope>> {
    CURRENT.try_with(Arc::clone).ok()
}
