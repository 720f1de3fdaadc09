//! Where forums live: 1024 logical shards, each placed on one forum-shard cluster, and
//! forums pinned to a cluster of their own. Pure data; kept in the global database
//! (`shard_map`, `forum_pins`) and loaded by [`crate::Topology`].

use std::collections::{BTreeMap, HashMap};

use confab_core::id::{Id, LogicalShard};

pub const LOGICAL_SHARDS: u16 = 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardMap {
    /// Index: logical shard; value: cluster name.
    clusters: Vec<String>,
    pins: HashMap<Id, String>,
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
    pub fn even(clusters: &[String]) -> ShardMap {
        assert!(!clusters.is_empty(), "at least one cluster");
        let n = clusters.len();
        let per = usize::from(LOGICAL_SHARDS);
        let map = (0..per).map(|s| clusters[s * n / per].clone()).collect();
        ShardMap { clusters: map, pins: HashMap::new() }
    }

    /// A map read back from the database, checked against the configured clusters.
    pub fn from_rows(
        rows: impl IntoIterator<Item = (u16, String)>,
        pins: impl IntoIterator<Item = (Id, String)>,
        known: &[String],
    ) -> Result<ShardMap, PlacementError> {
        let rows: BTreeMap<u16, String> = rows.into_iter().collect();
        let complete = rows.len() == usize::from(LOGICAL_SHARDS) && rows.keys().copied().eq(0..LOGICAL_SHARDS);
        if !complete {
            return Err(PlacementError::Incomplete(rows.len()));
        }
        let pins: HashMap<Id, String> = pins.into_iter().collect();
        for c in rows.values().chain(pins.values()) {
            if !known.contains(c) {
                return Err(PlacementError::UnknownCluster(c.clone()));
            }
        }
        Ok(ShardMap { clusters: rows.into_values().collect(), pins })
    }

    /// The rows to store for this map.
    pub fn rows(&self) -> impl Iterator<Item = (u16, &str)> {
        self.clusters.iter().enumerate().map(|(i, c)| (i as u16, c.as_str()))
    }

    /// The cluster serving a forum: its pin, else its logical shard's cluster.
    pub fn cluster_of(&self, forum: Id, shard: LogicalShard) -> &str {
        match self.pins.get(&forum) {
            Some(c) => c,
            None => &self.clusters[usize::from(shard.get()) % self.clusters.len()],
        }
    }

    /// The cluster a logical shard is placed on.
    pub fn cluster_of_shard(&self, shard: LogicalShard) -> &str {
        &self.clusters[usize::from(shard.get()) % self.clusters.len()]
    }

    /// How many logical shards each cluster holds.
    pub fn counts(&self) -> BTreeMap<&str, usize> {
        let mut out = BTreeMap::new();
        for c in &self.clusters {
            *out.entry(c.as_str()).or_default() += 1;
        }
        out
    }
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
        let forum = Id::from_raw(1).unwrap();
        assert_eq!(m.cluster_of(forum, LogicalShard::new(0).unwrap()), "c1");
        assert_eq!(m.cluster_of(forum, LogicalShard::new(1023).unwrap()), "c2");
    }

    #[test]
    fn stored_maps_are_checked() {
        let m = ShardMap::even(&names(2));
        let rows: Vec<(u16, String)> = m.rows().map(|(s, c)| (s, c.to_owned())).collect();
        let pin = (Id::from_raw(7).unwrap(), "c2".to_owned());
        let back = ShardMap::from_rows(rows.clone(), [pin.clone()], &names(2)).unwrap();
        assert_eq!(back.cluster_of(pin.0, LogicalShard::new(0).unwrap()), "c2", "a pin wins over the shard");
        assert_eq!(ShardMap::from_rows(rows[..1000].to_vec(), [], &names(2)), Err(PlacementError::Incomplete(1000)));
        assert_eq!(ShardMap::from_rows(rows, [], &names(1)), Err(PlacementError::UnknownCluster("c2".into())));
    }

    proptest! {
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
