//! The shared store contract, run against SQLite on a temporary file.

use std::sync::Arc;

use confab_core::IdGenerator;
use confab_store::contract::Fresh;
use confab_store_sqlite::{SqliteOptions, SqliteStore};

async fn fresh() -> Fresh {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = SqliteOptions::new(dir.path().join("confab.db"));
    opts.readers = 4;
    let store = SqliteStore::open(&opts, Arc::new(IdGenerator::new())).unwrap();
    Fresh { store: Arc::new(store), guard: Box::new(dir) }
}

confab_store::store_contract_tests!(fresh);
