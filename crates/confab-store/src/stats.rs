//! Per-request statement counting.
//!
//! The server opens a scope for each request ([`scope`]); backends call [`current`] in
//! the request's task and bump the returned counter once per statement they run
//! (SQLite from its trace hook, on whatever thread runs the statement). Tests and the
//! request log read the total, so "the thread page runs a constant number of
//! statements" is asserted, not hoped for.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

/// Statement counter of one request.
#[derive(Debug, Default)]
pub struct QueryStats {
    statements: AtomicU32,
}

impl QueryStats {
    pub fn add_statement(&self) {
        self.statements.fetch_add(1, Ordering::Relaxed);
    }

    pub fn statements(&self) -> u32 {
        self.statements.load(Ordering::Relaxed)
    }
}

tokio::task_local! {
    static CURRENT: Arc<QueryStats>;
}

/// Runs `fut` with `stats` as the current scope.
pub async fn scope<F: Future>(stats: Arc<QueryStats>, fut: F) -> F::Output {
    CURRENT.scope(stats, fut).await
}

/// The current request's counter, if the caller runs inside a scope.
pub fn current() -> Option<Arc<QueryStats>> {
    CURRENT.try_with(Arc::clone).ok()
}
