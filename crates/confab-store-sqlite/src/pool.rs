//! A checkout pool of SQLite connections run on tokio's blocking threads.
//!
//! Written by hand because the pool crates for rusqlite either validate each
//! connection with a query on every checkout (deadpool-sqlite), doubling the work of
//! a short read, or are blocking-only (r2d2). SQLite connections to a local file do
//! not go stale, so a checkout needs no check: this is a mutex-guarded stack of
//! connections, a semaphore to wait for one, and `spawn_blocking` to run the closure.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use confab_store::{StoreError, stats};
use rusqlite::Connection;
use tokio::sync::Semaphore;

use crate::counting;

pub(crate) struct Pool {
    idle: Mutex<Vec<Connection>>,
    permits: Semaphore,
    acquire_timeout: Duration,
    name: &'static str,
}

impl Pool {
    pub(crate) fn new(name: &'static str, conns: Vec<Connection>, acquire_timeout: Duration) -> Arc<Self> {
        Arc::new(Pool { permits: Semaphore::new(conns.len()), idle: Mutex::new(conns), acquire_timeout, name })
    }

    /// Runs `f` on a pooled connection, counting its statements into the caller's
    /// [`stats`] scope. Waits at most the acquire timeout for a free connection.
    pub(crate) async fn run<R, F>(self: &Arc<Self>, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&mut Connection) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        let permit = tokio::time::timeout(self.acquire_timeout, self.permits.acquire())
            .await
            .map_err(|_| StoreError::Unavailable(format!("no {} connection free in time", self.name)))?
            .map_err(|_| StoreError::Unavailable("pool closed".into()))?;
        let pool = Arc::clone(self);
        let scope = stats::current();
        let result = tokio::task::spawn_blocking(move || {
            let mut conn =
                pool.idle.lock().unwrap_or_else(|p| p.into_inner()).pop().expect("a permit guarantees a connection");
            // The connection goes back even if `f` panics: an open Transaction has
            // rolled back while unwinding, so the connection is clean again.
            let out =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| counting::with_scope(scope, || f(&mut conn))));
            pool.idle.lock().unwrap_or_else(|p| p.into_inner()).push(conn);
            out.unwrap_or_else(|_| {
                tracing::error!(pool = pool.name, "storage closure panicked");
                Err(StoreError::Internal("storage closure panicked".into()))
            })
        })
        .await;
        drop(permit);
        result.map_err(|e| StoreError::Internal(format!("storage task failed: {e}")))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(timeout_ms: u64) -> Arc<Pool> {
        Pool::new("reader", vec![Connection::open_in_memory().unwrap()], Duration::from_millis(timeout_ms))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_exhausted_pool_answers_unavailable_instead_of_hanging() {
        let p = pool(100);
        let busy = {
            let p = Arc::clone(&p);
            tokio::spawn(async move {
                p.run(|_| {
                    std::thread::sleep(Duration::from_millis(600));
                    Ok(())
                })
                .await
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        let waited = p.run(|_| Ok(())).await;
        assert!(matches!(waited, Err(StoreError::Unavailable(_))), "{waited:?}");
        busy.await.unwrap().unwrap();
        assert!(p.run(|_| Ok(())).await.is_ok(), "the connection is back once freed");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panicking_closure_returns_its_connection() {
        let p = pool(1_000);
        let r: Result<(), _> = p.run(|_| panic!("boom")).await;
        assert!(matches!(r, Err(StoreError::Internal(_))));
        let n: i64 =
            p.run(|c| c.query_row("SELECT 41 + 1", [], |r| r.get(0)).map_err(crate::rows::sql_err)).await.unwrap();
        assert_eq!(n, 42);
    }
}
