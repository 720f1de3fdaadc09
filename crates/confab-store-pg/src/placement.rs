//! Where forums live: 1024 logical shards, each placed on one forum-shard cluster. Pure
//! data and choices; kept in the global database (`shard_map`, and `forum_pins` for
//! the forums that have a shard of their own) and loaded by [`crate::Topology`].
//!
//! Every id a forum's data gets carries the forum's logical shard, so routing needs
//! nothing but the shard. A forum pinned to a cluster is therefore a forum with a
//! logical shard of its own, placed on that cluster: at creation it takes a shard no
//! forum uses; later, its shard (with any small forums sharing it) is moved there
//! (see [`crate::PgStore::pin_forum`]). Forums created without a pin never land on a
//! pinned forum's shard nor on a `dedicated` cluster.

use std::collections::{BTreeMap, HashSet};

use confab_core::id::LogicalShard;

pub const LOGICAL_SHARDS: u16 = 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardMap {
    /// Index: logical shard; value: cluster name.
    clusters: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlacementError {
    #[error("the shard map has {0} entries; it needs one per logical shard ({LOGICAL_SHARDS})")]
    Incomplete(usize),
    #[error("the shard map names cluster {0:?}, which the configuration does not have")]
    UnknownCluster(String),
}

impl ShardMap {
    /// The first placement: logical shards in contiguous, near-equal ranges over the
    /// clusters in name order (so moving a range later moves whole forums' neighbours).
    /// Callers leave out dedicated clusters.
    pub fn even(clusters: &[String]) -> ShardMap {
        assert!(!clusters.is_empty(), "at least one cluster");
        let n = clusters.len();
        let per = usize::from(LOGICAL_SHARDS);
        let map = (0..per).map(|s| clusters[s * n / per].clone()).collect();
        ShardMap { clusters: map }
    }

    /// A map read back from the database, checked against the configured clusters.
    pub fn from_rows(
        rows: impl IntoIterator<Item = (u16, String)>,
        known: &[String],
    ) -> Result<ShardMap, PlacementError> {
        let rows: BTreeMap<u16, String> = rows.into_iter().collect();
        let complete = rows.len() == usize::from(LOGICAL_SHARDS) && rows.keys().copied().eq(0..LOGICAL_SHARDS);
        if !complete {
            return Err(PlacementError::Incomplete(rows.len()));
        }
        if let Some(c) = rows.values().find(|c| !known.contains(c)) {
            return Err(PlacementError::UnknownCluster(c.clone()));
        }
        Ok(ShardMap { clusters: rows.into_values().collect() })
    }

    /// The rows to store for this map.
    pub fn rows(&self) -> impl Iterator<Item = (u16, &str)> {
        self.clusters.iter().enumerate().map(|(i, c)| (i as u16, c.as_str()))
    }

    /// The cluster a logical shard is placed on: where any id of that shard routes.
    pub fn cluster_of_shard(&self, shard: LogicalShard) -> &str {
        &self.clusters[usize::from(shard.get()) % self.clusters.len()]
    }

    /// Places one logical shard on `cluster`.
    pub fn place(&mut self, shard: LogicalShard, cluster: &str) {
        self.clusters[usize::from(shard.get())] = cluster.to_owned();
    }

    /// How many logical shards each cluster holds.
    pub fn counts(&self) -> BTreeMap<&str, usize> {
        let mut out = BTreeMap::new();
        for c in &self.clusters {
            *out.entry(c.as_str()).or_default() += 1;
        }
        out
    }

    /// The logical shard for a new forum without a pin: the one `key` hashes to, or the
    /// first after it that may be shared — not `reserved` (a pinned forum's) and not
    /// on a `dedicated` cluster. `None` only when no shard may be shared at all.
    pub fn shard_for_shared(
        &self,
        key: &str,
        reserved: &HashSet<u16>,
        dedicated: &HashSet<&str>,
    ) -> Option<LogicalShard> {
        probe(key).find(|s| !reserved.contains(&s.get()) && !dedicated.contains(self.cluster_of_shard(*s)))
    }
}

/// A logical shard for a forum of its own: the first from the one `key` hashes to that
/// no forum uses (`used`), never shard 0 (the global shard of accounts and guests).
pub fn empty_shard(key: &str, used: &HashSet<u16>) -> Option<LogicalShard> {
    probe(key).find(|s| *s != LogicalShard::GLOBAL && !used.contains(&s.get()))
}

/// Every logical shard once, starting at the one `key` hashes to.
fn probe(key: &str) -> impl Iterator<Item = LogicalShard> {
    let start = LogicalShard::for_key(key).get();
    (0..LOGICAL_SHARDS).filter_map(move |i| LogicalShard::new((start + i) % LOGICAL_SHARDS))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn names(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("c{i}")).collect()
    }

    #[test]
    fn two_clusters_split_the_shards_in_halves() {
        let m = ShardMap::even(&names(2));
        assert_eq!(m.counts().into_iter().collect::<Vec<_>>(), vec![("c1", 512), ("c2", 512)]);
        assert_eq!(m.cluster_of_shard(LogicalShard::new(0).unwrap()), "c1");
        assert_eq!(m.cluster_of_shard(LogicalShard::new(1023).unwrap()), "c2");
    }

    #[test]
    fn stored_maps_are_checked() {
        let m = ShardMap::even(&names(2));
        let rows: Vec<(u16, String)> = m.rows().map(|(s, c)| (s, c.to_owned())).collect();
        assert_eq!(ShardMap::from_rows(rows.clone(), &names(2)), Ok(m));
        assert_eq!(ShardMap::from_rows(rows[..1000].to_vec(), &names(2)), Err(PlacementError::Incomplete(1000)));
        assert_eq!(ShardMap::from_rows(rows, &names(1)), Err(PlacementError::UnknownCluster("c2".into())));
    }

    #[test]
    fn a_shard_of_its_own_is_moved_by_placing_it() {
        let mut m = ShardMap::even(&names(2));
        let s = empty_shard("big-news", &HashSet::new()).unwrap();
        assert_eq!(s, LogicalShard::for_key("big-news"), "the key's own shard when nobody uses it");
        m.place(s, "big");
        assert_eq!(m.cluster_of_shard(s), "big");
        assert_eq!(m.counts().get("big"), Some(&1));
        // Shard 0 is never given away, even when the key hashes there.
        let zero_key = (0..).map(|i| format!("k{i}")).find(|k| LogicalShard::for_key(k).get() == 0).unwrap();
        assert_ne!(empty_shard(&zero_key, &HashSet::new()).unwrap().get(), 0);
        let all: HashSet<u16> = (0..LOGICAL_SHARDS).collect();
        assert_eq!(empty_shard("any", &all), None, "every shard used: none is free");
    }

    proptest! {
        /// A forum without a pin never lands on a reserved shard or a dedicated cluster
        /// while one shard remains that it may share; an empty shard is really unused.
        #[test]
        fn new_forums_avoid_pinned_shards_and_dedicated_clusters(
            key in "[a-z0-9-]{2,20}",
            reserved in proptest::collection::hash_set(0u16..LOGICAL_SHARDS, 0..1000),
            moved in proptest::collection::vec(0u16..LOGICAL_SHARDS, 0..50),
        ) {
            let mut m = ShardMap::even(&names(2));
            for s in &moved {
                m.place(LogicalShard::new(*s).unwrap(), "big");
            }
            let dedicated: HashSet<&str> = ["big"].into();
            let shareable = (0..LOGICAL_SHARDS)
                .filter(|s| !reserved.contains(s) && m.cluster_of_shard(LogicalShard::new(*s).unwrap()) != "big")
                .count();
            match m.shard_for_shared(&key, &reserved, &dedicated) {
                Some(s) => {
                    prop_assert!(!reserved.contains(&s.get()));
                    prop_assert_ne!(m.cluster_of_shard(s), "big");
                    if !reserved.contains(&LogicalShard::for_key(&key).get()) && !moved.contains(&LogicalShard::for_key(&key).get()) {
                        prop_assert_eq!(s, LogicalShard::for_key(&key), "the hashed shard when it is free to share");
                    }
                }
                None => prop_assert_eq!(shareable, 0),
            }
            if let Some(s) = empty_shard(&key, &reserved) {
                prop_assert!(!reserved.contains(&s.get()) && s.get() != 0);
            }
        }

        /// Every logical shard has exactly one cluster, shares differ by at most one,
        /// and each cluster's shards are one contiguous range.
        #[test]
        fn even_placement_is_balanced_and_contiguous(n in 1usize..=40) {
            let m = ShardMap::even(&names(n));
            let counts = m.counts();
            prop_assert_eq!(counts.len(), n);
            let (lo, hi) = (counts.values().min().unwrap(), counts.values().max().unwrap());
            prop_assert!(hi - lo <= 1);
            prop_assert_eq!(counts.values().sum::<usize>(), 1024);
            let order: Vec<&str> = m.rows().map(|(_, c)| c).collect();
            let mut seen = std::collections::HashSet::new();
            for w in order.windows(2) {
                if w[0] != w[1] {
                    prop_assert!(seen.insert(w[0]), "cluster {} appears in two ranges", w[0]);
                }
            }
        }
    }
}
