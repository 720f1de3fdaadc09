//! The server's API suites, one module per area, in one test binary: the whole app is
//! linked once for them all, not once per file. Suites that need a process of their own
//! stay beside this directory: `log_privacy` (it installs the global log subscriber),
//! `pg_failures`, `pg_freeze` and `read_your_writes` (they stop, freeze or pause replay
//! on the shared PostgreSQL topology, which tests running beside them would see).

#[path = "../common/mod.rs"]
mod common;

mod account_page;
mod accounts;
mod api_flow;
mod authorization;
mod bad_input;
mod bans;
mod blns;
mod caching;
mod dashboard;
mod embed;
mod http_cache;
mod moderation;
mod notifications;
mod openapi;
mod origins;
mod query_counts;
mod rate_limits;
mod reader_credentials;
mod rules;
mod shared_cache;
mod smtp;
mod spam;
mod sso;
mod switches;
mod webhooks;
mod wire_contract;
