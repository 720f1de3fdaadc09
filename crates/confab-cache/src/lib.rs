//! Confab's caches (issue 9, being built). So far:
//! - [`ketama`]: the consistent hashing that places keys on a memcached pool exactly as
//!   libmemcached (and so pylibmc, PHP's memcached and the other clients built on it)
//!   does, so that applications sharing a pool agree on where each key lives;
//! - [`memcached`]: the pool itself — timeouts, auto-eject and retry, outages degrading
//!   to misses.

pub mod ketama;
pub mod memcached;
