//! The cache's promises, on the in-process backend, on real memcached and Redis, and on
//! an L1 in front of memcached: one fill for
//! a storm of readers, stale values served during a refill, versions that only move
//! forward, early refresh near expiry, the request's keep-cache, and outages that cost
//! fills but never errors.

use confab_cache::testing as common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use confab_cache::entry::Entry;
use confab_cache::{
    Backend, Cache, Filled, InProcess, MemcachedBackend, Policy, Redis, RedisBackend, RedisConfig, Tiered, keep,
};

const POLICY: Policy = Policy { fresh: Duration::from_secs(60), stale: Duration::from_secs(600) };

/// Counts reads, so tests can tell what reached the backend.
struct Counting<B> {
    inner: B,
    reads: AtomicUsize,
}

#[async_trait]
impl<B: Backend> Backend for Counting<B> {
    async fn get_many(&self, keys: &[&str]) -> Vec<Option<Entry>> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.get_many(keys).await
    }
    async fn put(&self, key: &str, entry: &Entry, ttl: Duration) -> bool {
        self.inner.put(key, entry, ttl).await
    }
    async fn remove(&self, key: &str) {
        self.inner.remove(key).await
    }
    fn name(&self) -> &'static str {
        self.inner.name()
    }
}

struct Clock(Arc<AtomicU64>);

impl Clock {
    fn new() -> Clock {
        Clock(Arc::new(AtomicU64::new(1_800_000_000_000)))
    }
    fn advance(&self, d: Duration) {
        self.0.fetch_add(d.as_millis() as u64, Ordering::SeqCst);
    }
    fn cache(&self, backend: Arc<dyn Backend>) -> Arc<Cache> {
        let now = Arc::clone(&self.0);
        Cache::with_clock(backend, Arc::new(move || now.load(Ordering::SeqCst)))
    }
}

/// A source of truth that counts its reads and answers after `delay`.
#[derive(Clone)]
struct Source {
    reads: Arc<AtomicUsize>,
    version: Arc<AtomicU64>,
    delay: Duration,
}

impl Source {
    fn new(delay: Duration) -> Source {
        Source { reads: Arc::new(AtomicUsize::new(0)), version: Arc::new(AtomicU64::new(1)), delay }
    }
    fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }
    fn fill(
        &self,
    ) -> impl FnOnce() -> std::pin::Pin<Box<dyn Future<Output = Result<Filled, String>> + Send>> + Send + 'static {
        let s = self.clone();
        move || {
            Box::pin(async move {
                s.reads.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(s.delay).await;
                let v = s.version.load(Ordering::SeqCst);
                Ok(Filled { version: v, value: Bytes::from(format!("page v{v}")) })
            })
        }
    }
}

fn memcached_backend(ports: &[u16]) -> MemcachedBackend {
    common::memcached_backend(ports, Duration::from_secs(60))
}

/// 1,000 readers of a key nobody has: one fill, everyone gets its value.
async fn storm_on_a_missing_key(backend: Arc<dyn Backend>) {
    let clock = Clock::new();
    let cache = clock.cache(backend);
    let source = Source::new(Duration::from_millis(50));
    let mut readers = Vec::new();
    for _ in 0..1000 {
        let (cache, fill) = (Arc::clone(&cache), source.fill());
        readers.push(tokio::spawn(async move { cache.get_or_fill("thread:hot", POLICY, 0, fill).await }));
    }
    for r in readers {
        assert_eq!(r.await.unwrap().unwrap(), Bytes::from("page v1"));
    }
    assert_eq!(source.reads(), 1, "one read of the source for the whole storm");
    let stats = cache.stats();
    assert_eq!(stats.fills, 1);
    assert_eq!(stats.misses + stats.hits, 1000);
}

/// 1,000 readers of a key whose value just went stale: all answered with the stale
/// value at once, one refill in the background, then the new value.
async fn storm_on_a_just_changed_key(backend: Arc<dyn Backend>) {
    let clock = Clock::new();
    let cache = clock.cache(backend);
    // A refill slower than the storm takes even on a loaded machine, so that every
    // reader is answered while it runs.
    let source = Source::new(Duration::from_secs(2));
    cache.get_or_fill("thread:news", POLICY, 0, source.fill()).await.unwrap();
    assert_eq!(source.reads(), 1);
    // A new post: the version moves, and the fresh time has passed.
    source.version.store(2, Ordering::SeqCst);
    clock.advance(POLICY.fresh + Duration::from_secs(1));
    let mut readers = Vec::new();
    for _ in 0..1000 {
        let (cache, fill) = (Arc::clone(&cache), source.fill());
        readers.push(tokio::spawn(async move { cache.get_or_fill("thread:news", POLICY, 0, fill).await }));
    }
    for r in readers {
        assert_eq!(r.await.unwrap().unwrap(), Bytes::from("page v1"), "the stale value, without waiting");
    }
    // The one refill lands; readers see the new value.
    let mut refreshed = false;
    for _ in 0..250 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if cache.get_or_fill("thread:news", POLICY, 0, source.fill()).await.unwrap() == "page v2" {
            refreshed = true;
            break;
        }
    }
    assert!(refreshed, "the refill stored the new value");
    assert_eq!(source.reads(), 2, "one refill for 1,000 stale reads");
}

/// A put never replaces a higher version; a reader who needs a version gets it.
async fn versions_only_move_forward(backend: Arc<dyn Backend>) {
    let clock = Clock::new();
    let cache = clock.cache(Arc::clone(&backend));
    let at = |v: u64| Filled { version: v, value: Bytes::from(format!("v{v}")) };
    assert!(cache.put("thread:v", POLICY, at(3)).await);
    assert!(!cache.put("thread:v", POLICY, at(2)).await, "an older value is refused");
    assert!(cache.put("thread:v", POLICY, at(3)).await, "the same version may be rewritten");
    let source = Source::new(Duration::ZERO);
    assert_eq!(cache.get_or_fill("thread:v", POLICY, 0, source.fill()).await.unwrap(), "v3");
    assert_eq!(source.reads(), 0);
    // The author of version 4 reads with min_version 4: filled at once, not stale.
    source.version.store(4, Ordering::SeqCst);
    assert_eq!(cache.get_or_fill("thread:v", POLICY, 4, source.fill()).await.unwrap(), "page v4");
    assert_eq!(source.reads(), 1);
    assert_eq!(cache.get_or_fill("thread:v", POLICY, 0, source.fill()).await.unwrap(), "page v4");
    assert_eq!(source.reads(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_storms_fill_once() {
    storm_on_a_missing_key(Arc::new(InProcess::new(1 << 20))).await;
    storm_on_a_just_changed_key(Arc::new(InProcess::new(1 << 20))).await;
    versions_only_move_forward(Arc::new(InProcess::new(1 << 20))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memcached_storms_fill_once() {
    let servers: Vec<_> = (0..3).map(|_| common::memcached()).collect();
    let ports: Vec<u16> = servers.iter().map(|m| m.port).collect();
    storm_on_a_missing_key(Arc::new(memcached_backend(&ports))).await;
    storm_on_a_just_changed_key(Arc::new(memcached_backend(&ports))).await;
    versions_only_move_forward(Arc::new(memcached_backend(&ports))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_leave_the_highest_version_on_memcached() {
    let server = common::memcached();
    let backend: Arc<dyn Backend> = Arc::new(memcached_backend(&[server.port]));
    let cache = Cache::new(Arc::clone(&backend));
    let mut writers = Vec::new();
    for v in 1..=40u64 {
        let cache = Arc::clone(&cache);
        writers.push(tokio::spawn(async move {
            cache.put("thread:race", POLICY, Filled { version: v, value: Bytes::from(format!("v{v}")) }).await
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    let stored = backend.get_many(&["thread:race"]).await.pop().flatten().unwrap();
    assert_eq!((stored.version, stored.value), (40, Bytes::from("v40")), "compare-and-set kept the newest");
}

#[tokio::test]
async fn hot_keys_refresh_early_and_cold_ones_do_not() {
    let clock = Clock::new();
    let cache = clock.cache(Arc::new(InProcess::new(1 << 20)));
    // The test clock does not move during a fill, so fills count as 1 ms. A minute
    // from expiry, a 1 ms fill is never refreshed early.
    let source = Source::new(Duration::ZERO);
    cache.get_or_fill("k", POLICY, 0, source.fill()).await.unwrap();
    for _ in 0..1000 {
        cache.get_or_fill("k", POLICY, 0, source.fill()).await.unwrap();
    }
    assert_eq!(cache.stats().early, 0);
    // A millisecond before expiry, about a third of reads draw an early refresh
    // (XFetch: -ln(r) >= 1); 50 reads without one would happen once in 10^10.
    clock.advance(POLICY.fresh - Duration::from_millis(1));
    for _ in 0..50 {
        cache.get_or_fill("k", POLICY, 0, source.fill()).await.unwrap();
    }
    assert!(cache.stats().early > 0, "{:?}", cache.stats());
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(source.reads() >= 2, "an early refill ran");
}

#[tokio::test]
async fn the_keep_cache_reads_once_per_request() {
    let backend = Arc::new(Counting { inner: InProcess::new(1 << 20), reads: AtomicUsize::new(0) });
    let cache = Cache::new(Arc::clone(&backend) as Arc<dyn Backend>);
    let source = Source::new(Duration::ZERO);
    keep::scope(async {
        for _ in 0..5 {
            assert_eq!(cache.get_or_fill("author:7", POLICY, 0, source.fill()).await.unwrap(), "page v1");
        }
    })
    .await;
    // The miss, the flight's second look, then four answers from the request's memo.
    assert_eq!(backend.reads.load(Ordering::SeqCst), 2);
    assert_eq!(cache.stats().kept, 4);
    // Another request reads the backend again (a hit), and without a scope nothing is kept.
    keep::scope(async { cache.get_or_fill("author:7", POLICY, 0, source.fill()).await.unwrap() }).await;
    cache.get_or_fill("author:7", POLICY, 0, source.fill()).await.unwrap();
    cache.get_or_fill("author:7", POLICY, 0, source.fill()).await.unwrap();
    assert_eq!(backend.reads.load(Ordering::SeqCst), 5);
    assert_eq!(source.reads(), 1);
}

#[tokio::test]
async fn a_failed_fill_reaches_its_caller_and_the_next_one_tries_again() {
    let cache = Cache::new(Arc::new(InProcess::new(1 << 20)));
    let failing = || async { Err::<Filled, String>("database down".into()) };
    assert_eq!(cache.get_or_fill("k", POLICY, 0, failing).await.unwrap_err(), "database down");
    let source = Source::new(Duration::ZERO);
    assert_eq!(cache.get_or_fill("k", POLICY, 0, source.fill()).await.unwrap(), "page v1");
    assert_eq!(cache.stats().fill_errors, 1);
}

#[tokio::test]
async fn a_cache_outage_costs_fills_not_errors() {
    // Nothing listens on this port (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let cache = Cache::new(Arc::new(memcached_backend(&[port])));
    let source = Source::new(Duration::ZERO);
    for _ in 0..5 {
        assert_eq!(cache.get_or_fill("k", POLICY, 0, source.fill()).await.unwrap(), "page v1");
    }
    assert_eq!(source.reads(), 5, "every read went to the source, none failed");
    assert!(!cache.put("k", POLICY, Filled { version: 2, value: Bytes::from("x") }).await);
}

/// A page's authors: the ones cached come from one backend read, the rest from one
/// fill for all of them; what the fill does not make stays missing (and is asked again).
async fn batches_read_once_and_fill_the_rest_at_once(backend: Arc<dyn Backend>) {
    let clock = Clock::new();
    let cache = clock.cache(backend);
    let keys: Vec<String> = (0..6).map(|i| format!("batch-author:{i}")).collect();
    let fills = AtomicUsize::new(0);
    // Authors 0..4 exist; 5 does not.
    let fill = |asked: Vec<usize>| {
        fills.fetch_add(1, Ordering::SeqCst);
        let made: Vec<(usize, Filled)> = asked
            .into_iter()
            .filter(|&i| i < 5)
            .map(|i| (i, Filled { version: 1, value: Bytes::from(format!("author {i}")) }))
            .collect();
        async move { Ok::<_, String>(made) }
    };
    let first = cache.get_many_or_fill(&keys[..3], POLICY, 0, fill).await.unwrap();
    assert_eq!(
        first,
        vec![Some(Bytes::from("author 0")), Some(Bytes::from("author 1")), Some(Bytes::from("author 2"))]
    );
    let all = cache.get_many_or_fill(&keys, POLICY, 0, fill).await.unwrap();
    assert_eq!(all[4], Some(Bytes::from("author 4")));
    assert_eq!(all[5], None);
    assert_eq!(fills.load(Ordering::SeqCst), 2, "one fill per batch");
    let misses = cache.stats().misses;
    assert_eq!(misses, 3 + 3, "the second batch missed only 3, 4 and 5");
    // All cached but the one that does not exist; a stale one is made again.
    clock.advance(POLICY.fresh + Duration::from_secs(1));
    cache.put(&keys[0], POLICY, Filled { version: 2, value: Bytes::from("author 0, renamed") }).await;
    let again = cache.get_many_or_fill(&keys, POLICY, 0, fill).await.unwrap();
    assert_eq!(again[0], Some(Bytes::from("author 0, renamed")));
    assert_eq!(cache.stats().misses - misses, 5, "1..4 went stale, 5 is still missing");
    // A fill error reaches the caller.
    let failing = |_| async { Err::<Vec<(usize, Filled)>, String>("database down".into()) };
    assert_eq!(cache.get_many_or_fill(&keys[5..], POLICY, 0, failing).await.unwrap_err(), "database down");
    assert_eq!(cache.present(&[keys[0].as_str(), "batch-author:nobody"]).await, vec![true, false]);
}

#[tokio::test]
async fn in_process_batches_read_once_and_fill_the_rest_at_once() {
    batches_read_once_and_fill_the_rest_at_once(Arc::new(InProcess::new(1 << 20))).await;
}

#[tokio::test]
async fn memcached_batches_read_once_and_fill_the_rest_at_once() {
    let servers: Vec<_> = (0..2).map(|_| common::memcached()).collect();
    let ports: Vec<u16> = servers.iter().map(|m| m.port).collect();
    batches_read_once_and_fill_the_rest_at_once(Arc::new(memcached_backend(&ports))).await;
}

fn redis_backend(url: &str) -> RedisBackend {
    let mut cfg = RedisConfig::new(url);
    cfg.op_timeout = Duration::from_secs(2);
    cfg.connect_timeout = Duration::from_secs(2);
    RedisBackend::new(Arc::new(Redis::new(cfg).unwrap()))
}

/// An L1 in front of memcached, its notices on Redis, once its subscription is live.
async fn tiered_over_memcached(ports: &[u16], redis_url: &str) -> Arc<Tiered> {
    common::live_tiered(Arc::new(memcached_backend(ports)), redis_url, POLICY.fresh).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_storms_fill_once() {
    let server = common::redis();
    storm_on_a_missing_key(Arc::new(redis_backend(&server.redis_url()))).await;
    storm_on_a_just_changed_key(Arc::new(redis_backend(&server.redis_url()))).await;
    versions_only_move_forward(Arc::new(redis_backend(&server.redis_url()))).await;
    batches_read_once_and_fill_the_rest_at_once(Arc::new(redis_backend(&server.redis_url()))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tiered_storms_fill_once() {
    let (memcached, redis) = (common::memcached(), common::redis());
    let (ports, url) = ([memcached.port], redis.redis_url());
    let tiered = || tiered_over_memcached(&ports, &url);
    storm_on_a_missing_key(tiered().await).await;
    storm_on_a_just_changed_key(tiered().await).await;
    versions_only_move_forward(tiered().await).await;
    batches_read_once_and_fill_the_rest_at_once(tiered().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_leave_the_highest_version_on_redis() {
    let server = common::redis();
    let backend = redis_backend(&server.redis_url());
    let mut writers = Vec::new();
    let backend = Arc::new(backend);
    for v in (1..=40u64).rev().chain(1..=40) {
        let backend = Arc::clone(&backend);
        writers.push(tokio::spawn(async move {
            let e = Entry { version: v, fresh_until: u64::MAX, fill_ms: 0, value: Bytes::from(format!("v{v}")) };
            backend.put("thread:race", &e, Duration::from_secs(60)).await
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    let got = backend.get_many(&["thread:race"]).await.remove(0).expect("stored");
    assert_eq!((got.version, got.value), (40, Bytes::from("v40")));
    // Versions are compared as unsigned 64-bit numbers, not as Lua numbers or text.
    let e = |v: u64| Entry { version: v, fresh_until: 0, fill_ms: 0, value: Bytes::new() };
    assert!(backend.put("thread:big", &e(u64::MAX - 1), Duration::from_secs(60)).await);
    assert!(!backend.put("thread:big", &e(255), Duration::from_secs(60)).await);
    assert!(backend.put("thread:big", &e(u64::MAX), Duration::from_secs(60)).await);
    // What another application stored there is replaced, not trusted.
    let mut raw = redis::Client::open(server.redis_url()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("SET").arg("thread:foreign").arg("plain text").query_async(&mut raw).await.unwrap();
    assert_eq!(backend.get_many(&["thread:foreign"]).await, vec![None]);
    assert!(backend.put("thread:foreign", &e(1), Duration::from_secs(60)).await);
    // A TTL is set on every entry.
    let ttl: i64 = redis::cmd("PTTL").arg("thread:foreign").query_async(&mut raw).await.unwrap();
    assert!(ttl > 0 && ttl <= 60_000, "ttl {ttl}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_costs_fills_not_errors() {
    let mut server = common::redis();
    let mut cfg = RedisConfig::new(server.redis_url());
    cfg.retry_timeout = Duration::from_secs(1);
    let redis = Arc::new(Redis::new(cfg).unwrap());
    let cache = Cache::new(Arc::new(RedisBackend::new(Arc::clone(&redis))));
    let source = Source::new(Duration::ZERO);
    assert_eq!(cache.get_or_fill("thread:o", POLICY, 0, source.fill()).await.unwrap(), "page v1");
    assert_eq!(cache.get_or_fill("thread:o", POLICY, 0, source.fill()).await.unwrap(), "page v1");
    assert_eq!(source.reads(), 1);
    server.kill();
    // Every read is a fill, none an error, and after the failure limit none waits.
    for _ in 0..5 {
        assert_eq!(cache.get_or_fill("thread:o", POLICY, 0, source.fill()).await.unwrap(), "page v1");
    }
    assert_eq!(source.reads(), 6);
    assert!(redis.is_out(), "left alone after repeated failures");
    let started = std::time::Instant::now();
    cache.get_or_fill("thread:o", POLICY, 0, source.fill()).await.unwrap();
    assert!(started.elapsed() < Duration::from_millis(200), "no timeout while Redis is out");
    // Back (empty): used again once the retry time has passed.
    server.restart();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let mut cached_again = false;
    for _ in 0..50 {
        let before = source.reads();
        cache.get_or_fill("thread:o", POLICY, 0, source.fill()).await.unwrap();
        cache.get_or_fill("thread:o", POLICY, 0, source.fill()).await.unwrap();
        if source.reads() == before + 1 {
            cached_again = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(cached_again, "Redis is used again after the retry timeout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_from_the_start_is_an_outage_not_an_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let redis = Arc::new(Redis::new(RedisConfig::new(format!("redis://127.0.0.1:{port}"))).unwrap());
    let backend = Arc::new(RedisBackend::new(Arc::clone(&redis)));
    // Twenty readers at once: all misses, and only the failure limit's worth of them
    // waits for a connection attempt.
    let started = std::time::Instant::now();
    let reads = futures_util::future::join_all((0..20).map(|_| backend.get_many(&["thread:k"]))).await;
    assert!(reads.iter().all(|r| r == &vec![None]));
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    assert!(redis.is_out());
    let e = Entry { version: 1, fresh_until: 0, fill_ms: 0, value: Bytes::new() };
    assert!(!backend.put("thread:k", &e, Duration::from_secs(1)).await);
    assert!(Redis::new(RedisConfig::new("http://example.com")).is_err(), "not a Redis URL");
}
