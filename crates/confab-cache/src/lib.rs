//! Confab's caches:
//! - [`ketama`]: the consistent hashing that places keys on a memcached pool exactly as
//!   libmemcached (and so pylibmc, PHP's memcached and the other clients built on it)
//!   does, so that applications sharing a pool agree on where each key lives;
//! - [`memcached`]: the pool itself — timeouts, auto-eject and retry, outages degrading
//!   to misses;
//! - [`redis`]: Redis as a backend and as the channel of change notices;
//! - [`tiered`]: an in-process L1 in front of memcached or Redis, kept coherent by
//!   those notices;
//! - [`Cache`]: reads through a [`Backend`] ([`InProcess`], [`MemcachedBackend`],
//!   [`RedisBackend`] or [`Tiered`])
//!   with one fill per key per process at a time, stale-while-revalidate, early
//!   probabilistic refresh, versioned puts ("set, don't delete") and the request's
//!   [`keep`]-cache.

pub mod backend;
pub mod cache;
pub mod entry;
pub mod keep;
pub mod ketama;
pub mod memcached;
pub mod redis;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tiered;

pub use backend::{Backend, InProcess, MemcachedBackend};
pub use cache::{Cache, Filled, Policy, StatsSnapshot};
pub use redis::{LIVE_CHANNEL, Redis, RedisBackend, RedisConfig};
pub use tiered::Tiered;
