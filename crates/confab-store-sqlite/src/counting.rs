//! Counts the statements SQLite runs into the request's [`QueryStats`].
//!
//! SQLite's trace hook takes a plain function pointer, so the current request's
//! counter lives in a thread-local set for the duration of one pooled closure (which
//! runs entirely on one blocking thread). `SQLITE_TRACE_STMT` fires once per
//! statement execution, including BEGIN and COMMIT — every round trip a networked
//! database would see.

use std::cell::RefCell;
use std::sync::Arc;

use confab_store::stats::QueryStats;
use rusqlite::Connection;
use rusqlite::trace::{TraceEvent, TraceEventCodes};

thread_local! {
    static CURRENT: RefCell<Option<Arc<QueryStats>>> = const { RefCell::new(None) };
}

fn on_trace(event: TraceEvent<'_>) {
    if let TraceEvent::Stmt(_, sql) = event {
        // Trigger bodies report as comments ("-- ..."): not separate round trips.
        if !sql.starts_with("--") {
            CURRENT.with(|c| {
                if let Some(stats) = c.borrow().as_ref() {
                    stats.add_statement();
                }
            });
        }
    }
}

pub(crate) fn install(conn: &Connection) {
    conn.trace_v2(TraceEventCodes::SQLITE_TRACE_STMT, Some(on_trace));
}

/// Runs `f` with `scope` as this thread's counter.
pub(crate) fn with_scope<R>(scope: Option<Arc<QueryStats>>, f: impl FnOnce() -> R) -> R {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            CURRENT.with(|c| c.borrow_mut().take());
        }
    }
    CURRENT.with(|c| *c.borrow_mut() = scope);
    let _reset = Reset;
    f()
}
