//! Where entries live: in this process ([`InProcess`], the embedded default), on a
//! memcached pool ([`MemcachedBackend`]) or a Redis server
//! ([`RedisBackend`](crate::redis::RedisBackend)), the shared ones optionally behind an
//! in-process L1 ([`Tiered`](crate::tiered::Tiered)). Best effort by contract: a backend that
//! cannot answer answers a miss, and a put it cannot make is dropped.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use moka::ops::compute::Op;

use crate::entry::Entry;
use crate::memcached::{CasOutcome, Memcached};

#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// Entries for `keys`, in order (`None`: a miss).
    async fn get_many(&self, keys: &[&str]) -> Vec<Option<Entry>>;
    /// Stores `entry` for `ttl` unless what is stored has a higher version (so a slow
    /// writer with an old value never replaces a newer one). `false`: not stored.
    async fn put(&self, key: &str, entry: &Entry, ttl: Duration) -> bool;
    async fn remove(&self, key: &str);
    /// What it is, for operators: `memory`, `memcached`, `redis`, or one of the last two
    /// with `+l1`.
    fn name(&self) -> &'static str;
    /// Its gauges now, for operators (entries held, servers out…).
    fn gauges(&self) -> Vec<(&'static str, u64)> {
        Vec::new()
    }
}

/// Entries in this process: bounded by their size in bytes, each expiring at its own
/// time, the least recently used evicted first (moka's TinyLFU).
pub struct InProcess {
    cache: moka::sync::Cache<String, Arc<Stored>>,
}

pub struct Stored {
    entry: Entry,
    ttl: Duration,
}

struct PerEntry;

impl moka::Expiry<String, Arc<Stored>> for PerEntry {
    fn expire_after_create(&self, _: &String, v: &Arc<Stored>, _: Instant) -> Option<Duration> {
        Some(v.ttl)
    }

    fn expire_after_update(&self, _: &String, v: &Arc<Stored>, _: Instant, _: Option<Duration>) -> Option<Duration> {
        Some(v.ttl)
    }
}

impl InProcess {
    /// At most `bytes` of entries (keys and values).
    pub fn new(bytes: u64) -> InProcess {
        let cache = moka::sync::Cache::builder()
            .max_capacity(bytes)
            .weigher(|k: &String, v: &Arc<Stored>| u32::try_from(k.len() + v.entry.weight()).unwrap_or(u32::MAX))
            .expire_after(PerEntry)
            .build();
        InProcess { cache }
    }

    /// Entries held now (after pending evictions are applied).
    pub fn len(&self) -> u64 {
        self.cache.run_pending_tasks();
        self.cache.entry_count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops `key` now (what [`Backend::remove`] does, without awaiting).
    pub fn forget(&self, key: &str) {
        self.cache.invalidate(key);
    }

    /// Drops every entry.
    pub fn clear(&self) {
        self.cache.invalidate_all();
    }
}

#[async_trait]
impl Backend for InProcess {
    async fn get_many(&self, keys: &[&str]) -> Vec<Option<Entry>> {
        keys.iter().map(|k| self.cache.get(*k).map(|s| s.entry.clone())).collect()
    }

    async fn put(&self, key: &str, entry: &Entry, ttl: Duration) -> bool {
        let new = Arc::new(Stored { entry: entry.clone(), ttl });
        let result = self.cache.entry(key.to_owned()).and_compute_with(|old| match old {
            Some(old) if old.value().entry.version > entry.version => Op::Nop,
            _ => Op::Put(new),
        });
        !matches!(result, moka::ops::compute::CompResult::Unchanged(_))
    }

    async fn remove(&self, key: &str) {
        self.forget(key);
    }

    fn name(&self) -> &'static str {
        "memory"
    }

    fn gauges(&self) -> Vec<(&'static str, u64)> {
        self.cache.run_pending_tasks();
        vec![("entries", self.cache.entry_count()), ("bytes", self.cache.weighted_size())]
    }
}

/// Entries on a memcached pool. The version check on put is a compare-and-set loop:
/// read the item with its CAS token, give up if it is newer, else write conditionally
/// (or add, when there is none), and start again if someone wrote in between.
pub struct MemcachedBackend {
    pub pool: Arc<Memcached>,
}

/// Compare-and-set rounds before a put gives up. A lost round means another writer
/// stored in between — possibly an older version, so the put must go on until it
/// stores or finds a newer one; rounds are bounded by the writers that got in, and
/// this bound only guards against a server that keeps answering conflicts.
const CAS_ROUNDS: usize = 64;

#[async_trait]
impl Backend for MemcachedBackend {
    async fn get_many(&self, keys: &[&str]) -> Vec<Option<Entry>> {
        self.pool
            .get_many(keys)
            .await
            .into_iter()
            .map(|i| i.and_then(|i| Entry::decode(bytes::Bytes::from(i.value))))
            .collect()
    }

    async fn put(&self, key: &str, entry: &Entry, ttl: Duration) -> bool {
        let bytes = entry.encode();
        for _ in 0..CAS_ROUNDS {
            let outcome = match self.pool.get(key).await {
                None => self.pool.add(key, &bytes, ttl).await,
                Some(item) => {
                    let newer =
                        Entry::decode(bytes::Bytes::from(item.value)).is_some_and(|old| old.version > entry.version);
                    if newer {
                        return false;
                    }
                    self.pool.set_if_unchanged(key, &bytes, ttl, item.cas).await
                }
            };
            match outcome {
                CasOutcome::Stored => return true,
                CasOutcome::Conflict => continue,
                CasOutcome::Unavailable => return false,
            }
        }
        false
    }

    async fn remove(&self, key: &str) {
        self.pool.delete(key).await;
    }

    fn name(&self) -> &'static str {
        "memcached"
    }

    fn gauges(&self) -> Vec<(&'static str, u64)> {
        vec![("servers_out", self.pool.servers_out() as u64)]
    }
}
