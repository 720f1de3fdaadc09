//! [`Cache`]: values read through a [`Backend`], filled from the source of truth at
//! most once per key per process at a time, served stale while one refill runs
//! (stale-while-revalidate, as Disqus's MintCache did), refreshed early with a
//! probability that grows near expiry (XFetch: Vattani, Chierichetti and Lowenstein,
//! "Optimal Probabilistic Cache Stampede Prevention", VLDB 2015), and remembered for
//! the rest of the request in the [`keep`] scope.
//!
//! Writers push new values with [`Cache::put`] rather than deleting ("set, don't
//! delete"), so readers never find a hole; every value carries a version and a put
//! never replaces a higher one.

use std::collections::HashMap;
use std::fmt::Display;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::sync::OnceCell;

use crate::backend::Backend;
use crate::entry::Entry;
use crate::keep;

/// How long values live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Served as fresh for this long after a fill.
    pub fresh: Duration,
    /// Then served stale for up to this long while one refill runs; after that, gone.
    pub stale: Duration,
}

/// What a fill made: the value and its version (higher is newer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filled {
    pub version: u64,
    pub value: Bytes,
}

/// Counters since start.
#[derive(Debug, Default)]
pub struct Stats {
    pub hits: AtomicU64,
    /// Stale values served while a refill ran.
    pub stale: AtomicU64,
    /// Fresh values served that also started an early refresh.
    pub early: AtomicU64,
    pub misses: AtomicU64,
    /// Values made by the source of truth.
    pub fills: AtomicU64,
    pub fill_errors: AtomicU64,
    /// Reads answered by the request's own memo.
    pub kept: AtomicU64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatsSnapshot {
    pub hits: u64,
    pub stale: u64,
    pub early: u64,
    pub misses: u64,
    pub fills: u64,
    pub fill_errors: u64,
    pub kept: u64,
}

impl StatsSnapshot {
    /// Reads answered from the cache (fresh or stale) over all cache reads.
    pub fn hit_ratio(&self) -> f64 {
        let served = self.hits + self.stale + self.early;
        let all = served + self.misses;
        if all == 0 { 0.0 } else { served as f64 / all as f64 }
    }
}

type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

pub struct Cache {
    backend: Arc<dyn Backend>,
    inflight: Mutex<HashMap<String, Arc<OnceCell<Entry>>>>,
    stats: Stats,
    /// XFetch's β: 1 is the paper's choice; 0 turns early refresh off.
    beta: f64,
    clock: Clock,
}

fn system_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

impl Cache {
    pub fn new(backend: Arc<dyn Backend>) -> Arc<Cache> {
        Cache::with_clock(backend, Arc::new(system_ms))
    }

    /// With a clock of Unix milliseconds (tests move it instead of sleeping).
    pub fn with_clock(backend: Arc<dyn Backend>, clock: Clock) -> Arc<Cache> {
        Arc::new(Cache { backend, inflight: Mutex::new(HashMap::new()), stats: Stats::default(), beta: 1.0, clock })
    }

    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    pub fn stats(&self) -> StatsSnapshot {
        let s = &self.stats;
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        StatsSnapshot {
            hits: l(&s.hits),
            stale: l(&s.stale),
            early: l(&s.early),
            misses: l(&s.misses),
            fills: l(&s.fills),
            fill_errors: l(&s.fill_errors),
            kept: l(&s.kept),
        }
    }

    /// The value for `key`, at least at `min_version` (0: any):
    /// - fresh in the cache: returned;
    /// - stale, or fresh but drawn for an early refresh: returned, and one refill per
    ///   key runs in the background (none if one is running);
    /// - missing or older than `min_version`: filled by `fill` — once per key at a
    ///   time in this process, every concurrent caller waiting for that one fill —
    ///   stored, and returned.
    ///
    /// A fill error goes to the caller that waited for it (the next one tries again).
    pub async fn get_or_fill<E, F, Fut>(
        self: &Arc<Self>,
        key: &str,
        policy: Policy,
        min_version: u64,
        fill: F,
    ) -> Result<Bytes, E>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<Filled, E>> + Send + 'static,
        E: Display + Send + 'static,
    {
        if let Some(v) = keep::get(key, min_version) {
            self.stats.kept.fetch_add(1, Ordering::Relaxed);
            return Ok(v);
        }
        let found = self.backend.get_many(&[key]).await.pop().flatten();
        let now = (self.clock)();
        let entry = match found {
            // Past its stale window by this clock: gone, whatever the backend's own
            // expiry (which runs on its own time) says.
            Some(e) if e.version >= min_version && now < e.fresh_until + policy.stale.as_millis() as u64 => {
                if now >= e.fresh_until {
                    self.stats.stale.fetch_add(1, Ordering::Relaxed);
                    self.refresh_in_background(key, policy, e.fresh_until, fill);
                } else if self.draw_early(&e, now) {
                    self.stats.early.fetch_add(1, Ordering::Relaxed);
                    self.refresh_in_background(key, policy, e.fresh_until, fill);
                } else {
                    self.stats.hits.fetch_add(1, Ordering::Relaxed);
                }
                e
            }
            _ => {
                self.stats.misses.fetch_add(1, Ordering::Relaxed);
                self.fill_once(key, policy, min_version, fill).await?
            }
        };
        keep::put(key, entry.version, &entry.value);
        Ok(entry.value)
    }

    /// Values for many keys with one backend round trip (a page's authors, a batch of
    /// counts). The keys missing, stale or older than `min_version` are made by one call
    /// of `fill` with their indexes — one store statement for the lot rather than one
    /// per key — then stored. `None`: `fill` made nothing for that key.
    ///
    /// No single flight here: batches differ from caller to caller, and a batch's fill
    /// is one cheap statement; what calls it (a page's fill) is itself single-flight.
    pub async fn get_many_or_fill<E, F, Fut>(
        &self,
        keys: &[String],
        policy: Policy,
        min_version: u64,
        fill: F,
    ) -> Result<Vec<Option<Bytes>>, E>
    where
        F: FnOnce(Vec<usize>) -> Fut,
        Fut: Future<Output = Result<Vec<(usize, Filled)>, E>>,
    {
        let mut out: Vec<Option<Bytes>> = keys.iter().map(|k| keep::get(k, min_version)).collect();
        let kept = out.iter().filter(|v| v.is_some()).count() as u64;
        self.stats.kept.fetch_add(kept, Ordering::Relaxed);
        let asked: Vec<usize> = (0..keys.len()).filter(|&i| out[i].is_none()).collect();
        if asked.is_empty() {
            return Ok(out);
        }
        let refs: Vec<&str> = asked.iter().map(|&i| keys[i].as_str()).collect();
        let found = self.backend.get_many(&refs).await;
        let now = (self.clock)();
        let mut missing = Vec::new();
        for (&i, e) in asked.iter().zip(found) {
            match e {
                Some(e) if e.version >= min_version && now < e.fresh_until => {
                    self.stats.hits.fetch_add(1, Ordering::Relaxed);
                    keep::put(&keys[i], e.version, &e.value);
                    out[i] = Some(e.value);
                }
                _ => missing.push(i),
            }
        }
        if missing.is_empty() {
            return Ok(out);
        }
        self.stats.misses.fetch_add(missing.len() as u64, Ordering::Relaxed);
        let made = match fill(missing).await {
            Ok(m) => m,
            Err(e) => {
                self.stats.fill_errors.fetch_add(1, Ordering::Relaxed);
                return Err(e);
            }
        };
        self.stats.fills.fetch_add(1, Ordering::Relaxed);
        let fresh_until = (self.clock)() + policy.fresh.as_millis() as u64;
        for (i, filled) in made {
            let Some(key) = keys.get(i) else { continue };
            let entry = Entry { version: filled.version, fresh_until, fill_ms: 0, value: filled.value };
            self.backend.put(key, &entry, policy.fresh + policy.stale).await;
            keep::put(key, entry.version, &entry.value);
            out[i] = Some(entry.value);
        }
        Ok(out)
    }

    /// Which of `keys` hold a value now or are being filled in this process: what a
    /// writer refreshes after a change (values nobody reads are not made).
    pub async fn present(&self, keys: &[&str]) -> Vec<bool> {
        let found = self.backend.get_many(keys).await;
        let filling = self.inflight.lock().expect("inflight lock");
        keys.iter().zip(found).map(|(k, e)| e.is_some() || filling.contains_key(*k)).collect()
    }

    /// Stores a value a writer made ("set, don't delete"); ignored by the backend when
    /// it holds a higher version. `false`: not stored.
    pub async fn put(&self, key: &str, policy: Policy, filled: Filled) -> bool {
        let entry = Entry {
            version: filled.version,
            fresh_until: (self.clock)() + policy.fresh.as_millis() as u64,
            fill_ms: 0,
            value: filled.value,
        };
        keep::forget(key);
        self.backend.put(key, &entry, policy.fresh + policy.stale).await
    }

    /// XFetch: refresh early with a probability that grows as expiry nears, faster
    /// for values that are slow to make.
    fn draw_early(&self, e: &Entry, now: u64) -> bool {
        if self.beta <= 0.0 || e.fill_ms == 0 {
            return false;
        }
        let r: f64 = rand::random::<f64>().max(f64::MIN_POSITIVE);
        let lead = f64::from(e.fill_ms) * self.beta * -r.ln();
        now as f64 + lead >= e.fresh_until as f64
    }

    /// The flight for `key`, joined or started.
    fn flight(&self, key: &str) -> (Arc<OnceCell<Entry>>, bool) {
        let mut m = self.inflight.lock().expect("inflight lock");
        match m.get(key) {
            Some(c) => (Arc::clone(c), false),
            None => {
                let c = Arc::new(OnceCell::new());
                m.insert(key.to_owned(), Arc::clone(&c));
                (c, true)
            }
        }
    }

    fn land(&self, key: &str, cell: &Arc<OnceCell<Entry>>) {
        let mut m = self.inflight.lock().expect("inflight lock");
        if m.get(key).is_some_and(|c| Arc::ptr_eq(c, cell)) {
            m.remove(key);
        }
    }

    /// Runs `fill` and stores its value.
    async fn make<E, Fut>(&self, key: &str, policy: Policy, fill: impl FnOnce() -> Fut) -> Result<Entry, E>
    where
        Fut: Future<Output = Result<Filled, E>>,
    {
        let started = (self.clock)();
        let filled = match fill().await {
            Ok(f) => f,
            Err(e) => {
                self.stats.fill_errors.fetch_add(1, Ordering::Relaxed);
                return Err(e);
            }
        };
        self.stats.fills.fetch_add(1, Ordering::Relaxed);
        let now = (self.clock)();
        let entry = Entry {
            version: filled.version,
            fresh_until: now + policy.fresh.as_millis() as u64,
            fill_ms: u32::try_from(now.saturating_sub(started)).unwrap_or(u32::MAX).max(1),
            value: filled.value,
        };
        // Stored before the flight lands, so that a caller arriving after it finds it.
        self.backend.put(key, &entry, policy.fresh + policy.stale).await;
        Ok(entry)
    }

    async fn fill_once<E, F, Fut>(&self, key: &str, policy: Policy, min_version: u64, fill: F) -> Result<Entry, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Filled, E>>,
    {
        // Ours to run in the flight, or after it when the flight we joined was made for
        // an older version than we need.
        let fill = Mutex::new(Some(fill));
        let take = || fill.lock().expect("fill lock").take();
        let (cell, _) = self.flight(key);
        let result = cell
            .get_or_try_init(|| async {
                // A flight that landed between our read and this one has stored it.
                let now = (self.clock)();
                if let Some(e) = self.backend.get_many(&[key]).await.pop().flatten()
                    && e.version >= min_version
                    && now < e.fresh_until
                {
                    return Ok(e);
                }
                let fill = take().expect("the fill runs once");
                self.make(key, policy, fill).await
            })
            .await
            .cloned();
        self.land(key, &cell);
        match (result, take()) {
            (Ok(e), Some(fill)) if e.version < min_version => self.make(key, policy, fill).await,
            (result, _) => result,
        }
    }

    /// One refill of `key`, whose value was seen fresh until `seen`, unless one runs;
    /// skipped when the value was refilled since it was seen (a flight that landed
    /// between the read and this call).
    fn refresh_in_background<E, F, Fut>(self: &Arc<Self>, key: &str, policy: Policy, seen: u64, fill: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<Filled, E>> + Send + 'static,
        E: Display + Send + 'static,
    {
        let (cell, started) = self.flight(key);
        if !started {
            return;
        }
        let (this, key) = (Arc::clone(self), key.to_owned());
        tokio::spawn(async move {
            let r = cell
                .get_or_try_init(|| async {
                    if let Some(e) = this.backend.get_many(&[&key]).await.pop().flatten()
                        && e.fresh_until > seen
                    {
                        return Ok(e);
                    }
                    this.make(&key, policy, fill).await
                })
                .await
                .map(drop);
            if let Err(e) = r {
                tracing::warn!(error = %e, "background cache refill failed; the stale value stays");
            }
            this.land(&key, &cell);
        });
    }
}
