//! 64-bit ids: time-ordered, unique across every process sharing a store, and carrying the
//! logical shard so that any id routes to its database without a lookup.
//!
//! Layout (most significant first): 1 zero bit, 41 bits of milliseconds since
//! [`EPOCH_MS`], 10 bits of logical shard, 5 bits of node, 7 bits of sequence.
//! 41 bits of milliseconds last about 69 years. The node is leased by each process
//! from the global database at start (see [`IdGenerator::lease`]), so processes
//! sharing one store never mint the same id and need no coordination per id: up to
//! 31 processes at once. 7 bits of sequence allow 128 ids per millisecond per process
//! (128,000 a second, sustained) before the generator borrows from the next
//! millisecond; it never runs more than [`MAX_AHEAD_MS`] ahead of the clock, so a
//! burst of over a million ids (an import) runs at full speed.
//!
//! Ids minted before node bits existed carry their sequence's high bits there; they
//! are all older than any id minted since, so the two never meet.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// 2025-01-01T00:00:00Z in Unix milliseconds: the zero of the id clock.
pub const EPOCH_MS: u64 = 1_735_689_600_000;
/// Number of logical shards; forums are assigned one each.
pub const LOGICAL_SHARDS: u16 = 1024;

/// Number of node numbers processes lease; node 0 is never leased (see [`IdGenerator::new`]).
pub const NODES: u16 = 32;
/// How far ahead of the wall clock the generator may borrow milliseconds. A lease's
/// next holder starts after its last holder's lease end plus this, so a process that
/// died while running ahead cannot meet its successor.
pub const MAX_AHEAD_MS: u64 = 10_000;

const SHARD_BITS: u32 = 10;
const NODE_BITS: u32 = 5;
const SEQ_BITS: u32 = 7;
/// Bits below the shard: node and sequence.
const LOW_BITS: u32 = NODE_BITS + SEQ_BITS;
const SEQ_MASK: u64 = (1 << SEQ_BITS) - 1;
const SHARD_MASK: u64 = (1 << SHARD_BITS) - 1;
const NODE_MASK: u64 = (1 << NODE_BITS) - 1;
const MS_MASK: u64 = (1 << 41) - 1;

/// A logical shard number, `0..1024`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LogicalShard(u16);

impl LogicalShard {
    /// The shard of global data (forums' own rows live on their assigned shard instead).
    pub const GLOBAL: LogicalShard = LogicalShard(0);

    pub fn new(n: u16) -> Option<Self> {
        (n < LOGICAL_SHARDS).then_some(LogicalShard(n))
    }

    /// Picks a shard for a new tenant from its key, spreading tenants evenly.
    pub fn for_key(key: &str) -> Self {
        // FNV-1a: stable across releases and platforms, unlike std's hasher.
        let mut h: u32 = 0x811c_9dc5;
        for b in key.bytes() {
            h ^= u32::from(b);
            h = h.wrapping_mul(0x0100_0193);
        }
        LogicalShard((h % u32::from(LOGICAL_SHARDS)) as u16)
    }

    pub fn get(self) -> u16 {
        self.0
    }
}

/// A Confab id. Serialised in JSON as a decimal string, because JavaScript numbers
/// lose precision past 2^53.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(u64);

impl Id {
    /// Wraps a raw value read back from storage. Values with the sign bit set are
    /// never produced by the generator and are rejected.
    pub fn from_raw(raw: u64) -> Option<Self> {
        (raw >> 63 == 0 && raw != 0).then_some(Id(raw))
    }

    pub fn get(self) -> u64 {
        self.0
    }

    /// The value as stored in SQL `BIGINT`/`INTEGER` columns (always non-negative).
    pub fn as_i64(self) -> i64 {
        self.0 as i64
    }

    pub fn from_i64(v: i64) -> Option<Self> {
        u64::try_from(v).ok().and_then(Id::from_raw)
    }

    pub fn shard(self) -> LogicalShard {
        LogicalShard(((self.0 >> LOW_BITS) & SHARD_MASK) as u16)
    }

    /// The node number of the process that minted it.
    pub fn node(self) -> u16 {
        ((self.0 >> SEQ_BITS) & NODE_MASK) as u16
    }

    /// Unix milliseconds at which the id was generated (to the generator's clock).
    pub fn unix_ms(self) -> u64 {
        (self.0 >> (LOW_BITS + SHARD_BITS)) + EPOCH_MS
    }

    /// Big-endian bytes: byte order equals numeric order, which the post path relies on.
    pub fn to_be_bytes(self) -> [u8; 8] {
        self.0.to_be_bytes()
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// Why a string is not an id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid id")]
pub struct InvalidId;

impl FromStr for Id {
    type Err = InvalidId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // u64::from_str accepts a leading '+', which would give one id two spellings.
        if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvalidId);
        }
        s.parse::<u64>().ok().and_then(Id::from_raw).ok_or(InvalidId)
    }
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(|_| serde::de::Error::custom("expected an id as a decimal string"))
    }
}

/// In the OpenAPI document an id is one named schema, a decimal string, which every
/// field and path parameter that holds one refers to.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Id {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some("^[1-9][0-9]{0,18}$"))
            .description(Some("64-bit id as a decimal string"))
            .examples(["250378419585638401"])
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Id {}

/// Generates ids. One per process is enough: it is lock-free and shared.
///
/// The state packs `milliseconds << 7 | sequence`; each id takes
/// `max(now << 7, previous + 1)`, so ids strictly increase even when the wall clock
/// steps backwards or more than 128 ids are asked for in one millisecond (the
/// generator then runs slightly ahead of the clock until it catches up).
#[derive(Debug, Default)]
pub struct IdGenerator {
    state: AtomicU64,
    node: AtomicU64,
    /// Unix ms at which the node lease ends unless renewed; 0 for no lease (node 0).
    lease_until: AtomicU64,
}

impl IdGenerator {
    /// A generator on node 0, which no process leases: for tests and for tools that
    /// write to a store no server shares. Servers, workers and commands that write
    /// to a shared store lease a node first ([`IdGenerator::lease`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// The node this generator mints on.
    pub fn node(&self) -> u16 {
        self.node.load(Ordering::Acquire) as u16
    }

    /// Mints on `node` from now on, no id earlier than `floor_unix_ms`, while the
    /// lease lasts (`until_unix_ms`, extended by [`IdGenerator::renewed`]).
    pub fn lease(&self, node: u16, floor_unix_ms: u64, until_unix_ms: u64) {
        assert!(node > 0 && node < NODES, "node {node} is not leasable");
        let floor = (floor_unix_ms.saturating_sub(EPOCH_MS) & MS_MASK) << SEQ_BITS;
        self.state.fetch_max(floor, Ordering::AcqRel);
        self.node.store(u64::from(node), Ordering::Release);
        self.lease_until.store(until_unix_ms, Ordering::Release);
    }

    /// The lease now lasts until `until_unix_ms`.
    pub fn renewed(&self, until_unix_ms: u64) {
        self.lease_until.store(until_unix_ms, Ordering::Release);
    }

    /// Unix ms of the latest id minted: a lease's next holder starts after it.
    pub fn high_water_unix_ms(&self) -> u64 {
        (self.state.load(Ordering::Acquire) >> SEQ_BITS) + EPOCH_MS
    }

    /// A new id on `shard`, using the system clock.
    ///
    /// Never mints on a lapsed lease (the process was paused past its end, and the
    /// node may be another's now) or further than [`MAX_AHEAD_MS`] ahead of the clock:
    /// it waits instead, for the renewal or the clock. A lease still lapsed after a few
    /// seconds is a fault no retry mends, and panics with the reason.
    pub fn next(&self, shard: LogicalShard) -> Id {
        let started = std::time::Instant::now();
        loop {
            let now = now_ms();
            let until = self.lease_until.load(Ordering::Acquire);
            let lapsed = until != 0 && now > until;
            let ahead = (self.state.load(Ordering::Relaxed) >> SEQ_BITS) + EPOCH_MS > now + MAX_AHEAD_MS;
            if !lapsed && !ahead {
                return self.next_at(shard, now);
            }
            if lapsed && started.elapsed() > std::time::Duration::from_secs(5) {
                panic!("the id node lease lapsed (was the process paused?) and was not renewed; no ids are minted");
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    /// A new id on `shard` as if the clock read `unix_ms` (tests drive this directly).
    pub fn next_at(&self, shard: LogicalShard, unix_ms: u64) -> Id {
        let ms = unix_ms.saturating_sub(EPOCH_MS) & MS_MASK;
        let floor = ms << SEQ_BITS;
        let mut prev = self.state.load(Ordering::Relaxed);
        let state = loop {
            let candidate = floor.max(prev + 1);
            match self.state.compare_exchange_weak(prev, candidate, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => break candidate,
                Err(actual) => prev = actual,
            }
        };
        let (ms, seq) = (state >> SEQ_BITS, state & SEQ_MASK);
        let node = self.node.load(Ordering::Acquire) & NODE_MASK;
        Id((ms << (LOW_BITS + SHARD_BITS)) | (u64::from(shard.0) << LOW_BITS) | (node << SEQ_BITS) | seq)
    }
}

/// The wall clock in Unix ms: ids and their leases follow it, not a test's clock.
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(EPOCH_MS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;
    use std::sync::Arc;

    #[test]
    fn ids_carry_shard_and_time() {
        let g = IdGenerator::new();
        let shard = LogicalShard::new(1023).unwrap();
        let id = g.next_at(shard, EPOCH_MS + 123_456);
        assert_eq!(id.shard(), shard);
        assert_eq!(id.unix_ms(), EPOCH_MS + 123_456);
        assert!(LogicalShard::new(1024).is_none());
    }

    #[test]
    fn leased_nodes_never_mint_the_same_id() {
        let (a, b) = (IdGenerator::new(), IdGenerator::new());
        a.lease(1, 0, u64::MAX);
        b.lease(2, 0, u64::MAX);
        let s = LogicalShard::new(3).unwrap();
        let mut seen = HashSet::new();
        // Same clock, same shard, more than a millisecond's worth: only the node differs.
        for _ in 0..200 {
            for g in [&a, &b] {
                let id = g.next_at(s, EPOCH_MS + 77);
                assert!(seen.insert(id), "{id} minted twice");
                assert_eq!(id.shard(), s);
            }
        }
        assert!(seen.iter().all(|id| id.node() == 1 || id.node() == 2));
    }

    #[test]
    fn a_lease_floor_holds_and_the_generator_keeps_near_the_clock() {
        let g = IdGenerator::new();
        let floor = now_ms() + MAX_AHEAD_MS + 300;
        g.lease(5, floor, u64::MAX);
        let id = g.next(LogicalShard::GLOBAL);
        assert!(id.unix_ms() >= floor, "an id before the lease's floor");
        assert!(now_ms() + MAX_AHEAD_MS >= id.unix_ms(), "minted more than MAX_AHEAD_MS ahead of the clock");
        assert_eq!(id.node(), 5);
        assert!(g.high_water_unix_ms() >= floor);
    }

    #[test]
    fn a_lapsed_lease_mints_nothing_until_renewed() {
        let g = Arc::new(IdGenerator::new());
        g.lease(9, 0, now_ms() - 1);
        let renewed = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let renewer = {
            let (g, renewed) = (Arc::clone(&g), Arc::clone(&renewed));
            std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(50));
                renewed.store(true, Ordering::SeqCst);
                g.renewed(now_ms() + 60_000);
            })
        };
        let id = g.next(LogicalShard::GLOBAL);
        assert!(renewed.load(Ordering::SeqCst), "minted {id} on a lapsed lease");
        renewer.join().unwrap();
    }

    #[test]
    fn ids_increase_when_the_clock_steps_back_or_a_millisecond_overflows() {
        let g = IdGenerator::new();
        let s = LogicalShard::new(7).unwrap();
        let mut last = g.next_at(s, EPOCH_MS + 10_000);
        for _ in 0..10_000 {
            let id = g.next_at(s, EPOCH_MS + 10_000);
            assert!(id > last);
            last = id;
        }
        let back = g.next_at(s, EPOCH_MS + 5_000);
        assert!(back > last, "clock stepping back must not reorder ids");
    }

    #[test]
    fn ids_are_unique_and_ordered_per_thread_under_concurrency() {
        let g = Arc::new(IdGenerator::new());
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let g = Arc::clone(&g);
                std::thread::spawn(move || {
                    let shard = LogicalShard::new(t).unwrap();
                    let ids: Vec<Id> = (0..5_000).map(|_| g.next(shard)).collect();
                    assert!(ids.windows(2).all(|w| w[0] < w[1]), "each thread sees increasing ids");
                    ids
                })
            })
            .collect();
        let mut all = HashSet::new();
        for h in handles {
            for id in h.join().unwrap() {
                assert!(all.insert(id.get() & !(SHARD_MASK << LOW_BITS)), "time+sequence part repeated: {id}");
            }
        }
        assert_eq!(all.len(), 40_000);
    }

    #[test]
    fn parsing_is_strict() {
        for bad in [
            "",
            "+1",
            "-1",
            "0",
            "1.0",
            " 1",
            "18446744073709551615",
            "9223372036854775808",
            "abc",
            "123456789012345678901",
        ] {
            assert!(bad.parse::<Id>().is_err(), "{bad:?} must not parse");
        }
        assert_eq!("42".parse::<Id>().unwrap().get(), 42);
    }

    #[test]
    fn json_carries_ids_as_strings() {
        let id = Id::from_raw(9_007_199_254_740_993).unwrap();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, "\"9007199254740993\"");
        assert_eq!(serde_json::from_str::<Id>(&json).unwrap(), id);
        assert!(serde_json::from_str::<Id>("9007199254740993").is_err());
    }

    proptest! {
        #[test]
        fn id_round_trips_through_text_and_bytes(ms in 0u64..(1 << 41), shard in 0u16..1024) {
            let g = IdGenerator::new();
            let id = g.next_at(LogicalShard::new(shard).unwrap(), EPOCH_MS + ms);
            prop_assert_eq!(id.to_string().parse::<Id>().unwrap(), id);
            prop_assert_eq!(Id::from_i64(id.as_i64()).unwrap(), id);
            prop_assert_eq!(id.shard().get(), shard);
        }

        #[test]
        fn byte_order_is_numeric_order(a in 1u64..(1 << 63), b in 1u64..(1 << 63)) {
            let (a, b) = (Id::from_raw(a).unwrap(), Id::from_raw(b).unwrap());
            prop_assert_eq!(a.cmp(&b), a.to_be_bytes().cmp(&b.to_be_bytes()));
        }

        #[test]
        fn shard_for_key_is_in_range(key in ".{0,64}") {
            prop_assert!(LogicalShard::for_key(&key).get() < LOGICAL_SHARDS);
        }
    }
}
