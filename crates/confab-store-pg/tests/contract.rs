//! The shared store contract (`confab_store::contract`), run against the PostgreSQL
//! store on the local topology: a global database and two shard clusters, one with a
//! streaming replica, fresh databases per test.
//!
//! The same cases as SQLite's, every one of them.

use confab_store_pg::testing as common;

use std::sync::Arc;

use confab_core::IdGenerator;
use confab_store::contract::Fresh;
use confab_store_pg::{PgStore, Topology, migrate::migrate_all};

async fn fresh() -> Fresh {
    let (config, dbs) = common::fresh("contract").await;
    let t = Topology::new(config).unwrap();
    migrate_all(&t).await.unwrap();
    let store = PgStore::open(t, Arc::new(IdGenerator::new())).await.unwrap();
    // The store (its pools) goes first, then the databases.
    Fresh { store: Arc::new(store), guard: Box::new(dbs) }
}

confab_store::store_contract_tests!(fresh);
