//! An in-process L1 in front of memcached, kept coherent by change notices on Redis:
//! two `Tiered` caches here stand for two Confab processes sharing one memcached and one
//! Redis (each with its own origin and its own subscription, as separate processes have).

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use confab_cache::entry::Entry;
use confab_cache::testing::{self, Server as Process};
use confab_cache::{Backend, Tiered};

const TTL: Duration = Duration::from_secs(60);

fn entry(version: u64, value: &'static str) -> Entry {
    Entry { version, fresh_until: u64::MAX, fill_ms: 0, value: Bytes::from(value) }
}

fn memcached_backend(port: u16) -> Arc<dyn Backend> {
    Arc::new(testing::memcached_backend(&[port], Duration::from_secs(10)))
}

/// A shared backend whose reads answer late with what they found at once: a slow read
/// that a notice overtakes.
struct SlowReads(Arc<dyn Backend>, Duration);

#[async_trait]
impl Backend for SlowReads {
    async fn get_many(&self, keys: &[&str]) -> Vec<Option<Entry>> {
        let found = self.0.get_many(keys).await;
        tokio::time::sleep(self.1).await;
        found
    }
    async fn put(&self, key: &str, entry: &Entry, ttl: Duration) -> bool {
        self.0.put(key, entry, ttl).await
    }
    async fn remove(&self, key: &str) {
        self.0.remove(key).await
    }
    fn name(&self) -> &'static str {
        self.0.name()
    }
}

struct Setup {
    memcached: Process,
    redis: Process,
}

impl Setup {
    fn new() -> Setup {
        Setup { memcached: testing::memcached(), redis: testing::redis() }
    }

    /// One process's cache, once its subscription is live.
    async fn process(&self, l2: Arc<dyn Backend>) -> Arc<Tiered> {
        testing::live_tiered(l2, &self.redis.redis_url(), TTL).await
    }
}

/// Polls `ok` until it holds, for at most `limit`; how long it took.
async fn until(limit: Duration, mut ok: impl FnMut() -> bool) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if ok() {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    None
}

async fn get(t: &Tiered, key: &str) -> Option<Bytes> {
    t.get_many(&[key]).await.remove(0).map(|e| e.value)
}

fn gauge(t: &Tiered, name: &str) -> u64 {
    t.gauges().into_iter().find(|(n, _)| *n == name).map(|(_, v)| v).unwrap()
}

/// Reads `key` from `t` until it answers `want`, for at most a second.
async fn sees(t: &Tiered, key: &str, want: Option<&'static str>) -> Duration {
    let started = Instant::now();
    loop {
        if get(t, key).await == want.map(Bytes::from) {
            return started.elapsed();
        }
        assert!(started.elapsed() < Duration::from_secs(1), "{key} never became {want:?}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Reads `key` until `t` answers it from its L1, for at most a second.
async fn in_l1(t: &Tiered, key: &str) {
    let started = Instant::now();
    loop {
        let hits = gauge(t, "l1_hits");
        assert!(get(t, key).await.is_some());
        if gauge(t, "l1_hits") > hits {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(1), "{key} never reached L1");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_in_one_process_reaches_the_others_l1() {
    let s = Setup::new();
    let a = s.process(memcached_backend(s.memcached.port)).await;
    let b = s.process(memcached_backend(s.memcached.port)).await;
    assert_eq!(b.name(), "memcached+l1");

    assert!(a.put("c1:pg:7:newest", &entry(1, "one comment"), TTL).await);
    assert_eq!(get(&b, "c1:pg:7:newest").await, Some(Bytes::from("one comment")));
    // The first read may have raced a's notice, and then leaves nothing in L1; soon
    // reads are served from b's L1, and memcached is not asked.
    // (A copy made before a's notice arrived is dropped by it: then one more read.)
    let started = Instant::now();
    loop {
        in_l1(&b, "c1:pg:7:newest").await;
        let hits = gauge(&b, "l1_hits");
        for _ in 0..10 {
            assert_eq!(get(&b, "c1:pg:7:newest").await, Some(Bytes::from("one comment")));
        }
        if gauge(&b, "l1_hits") == hits + 10 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(2), "b's L1 never kept the page");
    }

    // a writes a newer page: b's L1 copy goes, and b reads the new one.
    assert!(a.put("c1:pg:7:newest", &entry(2, "two comments"), TTL).await);
    let delay = sees(&b, "c1:pg:7:newest", Some("two comments")).await;
    eprintln!("a change reached the other process in {delay:?}");
    assert_eq!(get(&a, "c1:pg:7:newest").await, Some(Bytes::from("two comments")), "and the writer's own");
    // A removal too, and a key with characters a separator would trip on.
    let odd = "c1:tk:1:id with\nnewline";
    assert!(a.put(odd, &entry(1, "found"), TTL).await);
    assert_eq!(get(&b, odd).await, Some(Bytes::from("found")));
    a.remove(odd).await;
    sees(&b, odd, None).await;
    // A process's own notices are not applied to itself: its fresh L1 copy stays.
    let hits = gauge(&a, "l1_hits");
    assert!(a.put("c1:ct:7", &entry(3, "3"), TTL).await);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(get(&a, "c1:ct:7").await, Some(Bytes::from("3")));
    assert_eq!(gauge(&a, "l1_hits"), hits + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notice_that_overtakes_a_read_is_not_undone_by_it() {
    let s = Setup::new();
    let a = s.process(memcached_backend(s.memcached.port)).await;
    let slow = Arc::new(SlowReads(memcached_backend(s.memcached.port), Duration::from_millis(300)));
    let b = s.process(slow).await;
    assert!(a.put("c1:pg:9:newest", &entry(1, "old"), TTL).await);
    // b starts reading "old"; while its read is under way, a stores "new".
    let reader = {
        let b = Arc::clone(&b);
        tokio::spawn(async move { get(&b, "c1:pg:9:newest").await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(a.put("c1:pg:9:newest", &entry(2, "new"), TTL).await);
    let heard = gauge(&b, "notices_heard");
    until(Duration::from_secs(1), || gauge(&b, "notices_heard") > heard).await.expect("b heard the notice");
    assert_eq!(reader.await.unwrap(), Some(Bytes::from("old")), "the read that started before the write");
    // The slow read did not copy "old" into b's L1 after the notice.
    assert_eq!(get(&b, "c1:pg:9:newest").await, Some(Bytes::from("new")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_notices_l1_is_bypassed_and_starts_empty_when_they_return() {
    let mut s = Setup::new();
    let a = s.process(memcached_backend(s.memcached.port)).await;
    let b = s.process(memcached_backend(s.memcached.port)).await;
    assert!(a.put("c1:pg:3:newest", &entry(1, "before"), TTL).await);
    in_l1(&b, "c1:pg:3:newest").await;
    assert_eq!(gauge(&b, "l1_entries"), 1);

    s.redis.kill();
    until(Duration::from_secs(10), || !b.is_live() && !a.is_live()).await.expect("both notice the loss");
    assert_eq!(gauge(&b, "l1_live"), 0);
    // a's notice cannot be sent; b reads memcached, not its L1 copy.
    assert!(a.put("c1:pg:3:newest", &entry(2, "during"), TTL).await);
    assert_eq!(get(&b, "c1:pg:3:newest").await, Some(Bytes::from("during")));

    s.redis.restart();
    until(Duration::from_secs(10), || b.is_live()).await.expect("b subscribes again");
    assert_eq!(gauge(&b, "l1_entries"), 0, "L1 starts empty: notices were missed");
    assert_eq!(get(&b, "c1:pg:3:newest").await, Some(Bytes::from("during")));
}
