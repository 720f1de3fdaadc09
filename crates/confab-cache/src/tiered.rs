//! An in-process L1 in front of a shared backend (memcached or Redis), kept coherent
//! by change notices: every key this process stores or removes in the shared backend
//! is announced to the others, which drop their L1 copy, so a hot page is served from
//! memory in every process and still changes everywhere within a notice's delay.
//!
//! What keeps it correct when notices race reads:
//! - L1 is used only while the notice subscription is live. When it drops, L1 is
//!   bypassed; when it comes back, L1 starts empty (notices may have been missed).
//! - A read that missed L1 and found the value in the shared backend copies it into
//!   L1 only if no notice (and no write by this process) touched that key's bucket
//!   meanwhile, so a notice that overtook a slow read cannot be undone by it.
//! - L1 copies live at most `l1_ttl`, which bounds what a notice lost in transit
//!   (a publisher cut off from Redis while the listeners are not) can leave behind.

use std::hash::BuildHasher;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::mpsc;

use crate::backend::{Backend, InProcess};
use crate::entry::Entry;

/// Buckets of keys that share a notice generation: more buckets, fewer L1 copies
/// skipped because an unrelated key changed during the read.
const BUCKETS: usize = 1024;

pub struct Tiered {
    l1: InProcess,
    l2: Arc<dyn Backend>,
    l1_ttl: Duration,
    origin: u64,
    live: AtomicBool,
    generations: Box<[AtomicU64]>,
    hasher: std::collections::hash_map::RandomState,
    outbox: mpsc::UnboundedSender<String>,
    l1_hits: AtomicU64,
    notices_heard: AtomicU64,
}

impl Tiered {
    /// `l1_bytes` of L1 in front of `l2`. The keys to announce go to the returned
    /// receiver, for the notice channel ([`crate::redis::spawn_notices`]); until the
    /// channel reports itself subscribed, L1 is not used.
    pub fn new(
        l2: Arc<dyn Backend>,
        l1_bytes: u64,
        l1_ttl: Duration,
    ) -> (Arc<Tiered>, mpsc::UnboundedReceiver<String>) {
        let (outbox, rx) = mpsc::unbounded_channel();
        let tiered = Tiered {
            l1: InProcess::new(l1_bytes),
            l2,
            l1_ttl,
            origin: rand::random(),
            live: AtomicBool::new(false),
            generations: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            hasher: Default::default(),
            outbox,
            l1_hits: AtomicU64::new(0),
            notices_heard: AtomicU64::new(0),
        };
        (Arc::new(tiered), rx)
    }

    /// L1 in front of `l2`, its notices carried by `redis` (pub/sub).
    pub fn with_redis_notices(
        l2: Arc<dyn Backend>,
        l1_bytes: u64,
        l1_ttl: Duration,
        redis: Arc<crate::redis::Redis>,
    ) -> Arc<Tiered> {
        let (tiered, outbox) = Tiered::new(l2, l1_bytes, l1_ttl);
        crate::redis::spawn_notices(redis, &tiered, outbox);
        tiered
    }

    /// This process's mark on its notices (its own are not applied twice).
    pub fn origin(&self) -> u64 {
        self.origin
    }

    /// Whether L1 is in use (the notice subscription is live).
    pub fn is_live(&self) -> bool {
        self.live.load(Ordering::Acquire)
    }

    fn bucket(&self, key: &str) -> &AtomicU64 {
        &self.generations[(self.hasher.hash_one(key) as usize) % BUCKETS]
    }

    fn touched(&self, key: &str) {
        self.bucket(key).fetch_add(1, Ordering::AcqRel);
        self.l1.forget(key);
    }

    /// The subscription is (again) live: start from an empty L1, since notices sent
    /// while it was down are lost.
    pub fn subscribed(&self) {
        for g in self.generations.iter() {
            g.fetch_add(1, Ordering::AcqRel);
        }
        self.l1.clear();
        self.live.store(true, Ordering::Release);
    }

    pub fn unsubscribed(&self) {
        self.live.store(false, Ordering::Release);
    }

    /// A notice as received: drops the keys it names from L1 unless this process sent it.
    pub fn notice(&self, payload: &[u8]) {
        self.notices_heard.fetch_add(1, Ordering::Relaxed);
        let Some((origin, keys)) = decode_notice(payload) else { return };
        if origin == self.origin {
            return;
        }
        for key in keys {
            self.touched(key);
        }
    }

    fn announce(&self, key: &str) {
        // Fails only once the publisher has stopped, i.e. while shutting down.
        let _ = self.outbox.send(key.to_owned());
    }
}

#[async_trait]
impl Backend for Tiered {
    async fn get_many(&self, keys: &[&str]) -> Vec<Option<Entry>> {
        if !self.is_live() {
            return self.l2.get_many(keys).await;
        }
        let mut found: Vec<Option<Entry>> = self.l1.get_many(keys).await;
        let missing: Vec<usize> = (0..keys.len()).filter(|&i| found[i].is_none()).collect();
        self.l1_hits.fetch_add((keys.len() - missing.len()) as u64, Ordering::Relaxed);
        if missing.is_empty() {
            return found;
        }
        let asked: Vec<&str> = missing.iter().map(|&i| keys[i]).collect();
        let before: Vec<u64> = asked.iter().map(|k| self.bucket(k).load(Ordering::Acquire)).collect();
        let from_l2 = self.l2.get_many(&asked).await;
        for ((i, entry), (key, generation)) in missing.into_iter().zip(from_l2).zip(asked.iter().zip(before)) {
            if let Some(entry) = &entry
                && self.is_live()
                && self.bucket(key).load(Ordering::Acquire) == generation
            {
                self.l1.put(key, entry, self.l1_ttl).await;
            }
            found[i] = entry;
        }
        found
    }

    async fn put(&self, key: &str, entry: &Entry, ttl: Duration) -> bool {
        // Before the shared write: a read of the old value that is under way in this
        // process must not copy it into L1 afterwards.
        self.touched(key);
        let stored = self.l2.put(key, entry, ttl).await;
        if stored {
            self.announce(key);
            if self.is_live() {
                self.l1.put(key, entry, ttl.min(self.l1_ttl)).await;
            }
        }
        stored
    }

    async fn remove(&self, key: &str) {
        self.touched(key);
        self.l2.remove(key).await;
        self.announce(key);
    }

    fn name(&self) -> &'static str {
        match self.l2.name() {
            "memcached" => "memcached+l1",
            "redis" => "redis+l1",
            other => other,
        }
    }

    fn gauges(&self) -> Vec<(&'static str, u64)> {
        let mut g = self.l2.gauges();
        g.extend(self.l1.gauges().into_iter().map(|(name, v)| match name {
            "entries" => ("l1_entries", v),
            "bytes" => ("l1_bytes", v),
            other => (other, v),
        }));
        g.push(("l1_hits", self.l1_hits.load(Ordering::Relaxed)));
        g.push(("l1_live", u64::from(self.is_live())));
        g.push(("notices_heard", self.notices_heard.load(Ordering::Relaxed)));
        g
    }
}

/// A notice: the sender's origin (8 bytes, big-endian), then each key as a 4-byte
/// big-endian length and its bytes. Keys carry readers' identifiers, which may hold
/// any character, hence lengths rather than separators.
pub fn encode_notice(origin: u64, keys: &[String]) -> Vec<u8> {
    let mut b = Vec::with_capacity(8 + keys.iter().map(|k| 4 + k.len()).sum::<usize>());
    b.extend_from_slice(&origin.to_be_bytes());
    for k in keys {
        b.extend_from_slice(&(k.len() as u32).to_be_bytes());
        b.extend_from_slice(k.as_bytes());
    }
    b
}

/// `None` for anything malformed (another application on the channel): ignored whole.
pub fn decode_notice(b: &[u8]) -> Option<(u64, Vec<&str>)> {
    let origin = u64::from_be_bytes(b.get(..8)?.try_into().ok()?);
    let mut rest = &b[8..];
    let mut keys = Vec::new();
    while !rest.is_empty() {
        let len = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
        let key = std::str::from_utf8(rest.get(4..4 + len)?).ok()?;
        keys.push(key);
        rest = &rest[4 + len..];
    }
    Some((origin, keys))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn notices_round_trip(origin: u64, keys: Vec<String>) {
            let b = encode_notice(origin, &keys);
            let (o, k) = decode_notice(&b).expect("decodes");
            prop_assert_eq!(o, origin);
            prop_assert_eq!(k, keys.iter().map(String::as_str).collect::<Vec<_>>());
        }

        #[test]
        fn garbage_never_panics(b: Vec<u8>) {
            let _ = decode_notice(&b);
        }
    }

    #[test]
    fn truncated_notices_are_ignored() {
        let b = encode_notice(7, &["c1:pg:1:newest".to_owned()]);
        assert!(decode_notice(&b[..b.len() - 1]).is_none());
        assert!(decode_notice(&b[..5]).is_none());
    }
}
