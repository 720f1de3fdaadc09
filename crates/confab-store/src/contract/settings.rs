//! The store contract: Settings, the admin token and id-node leases.

use super::*;

pub async fn id_nodes_are_leased_to_one_holder_at_a_time(store: &dyn Store) {
    use crate::id_nodes::CLOCK_SKEW_MS;
    use confab_core::id::{MAX_AHEAD_MS, NODES};
    let (now, until) = (5_000_000u64, 5_060_000u64);
    // Processes starting at once all get different nodes.
    let (a, b, c, d) = tokio::join!(
        store.id_node_acquire("a", now, until),
        store.id_node_acquire("b", now, until),
        store.id_node_acquire("c", now, until),
        store.id_node_acquire("d", now, until),
    );
    let taken: Vec<u16> = [a, b, c, d].into_iter().map(|l| l.unwrap().node).collect();
    assert_eq!(taken.iter().collect::<HashSet<_>>().len(), 4, "nodes shared: {taken:?}");
    assert!(taken.iter().all(|n| (1..NODES).contains(n)), "node 0 is never leased: {taken:?}");
    // Only the holder renews.
    assert!(store.id_node_renew(taken[0], "a", now + 10, until + 10_000).await.unwrap());
    assert!(!store.id_node_renew(taken[0], "b", now + 10, until + 10_000).await.unwrap());
    // A node given back is taken again (it ended longest ago) after the ids it minted.
    store.id_node_release(taken[1], "b", now + 500).await.unwrap();
    store.id_node_release(taken[1], "z", now + 900_000).await.unwrap(); // not z's: no effect
    let mut rest = Vec::new();
    loop {
        match store.id_node_acquire("e", now + 1, until).await {
            Ok(l) => rest.push(l),
            Err(StoreError::Unavailable(_)) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(rest.len(), usize::from(NODES) - 1 - 3, "every free node is leased once, then none");
    let again = rest.iter().find(|l| l.node == taken[1]).expect("the given-back node is leased again");
    assert_eq!(again.floor_ms, now + 501);
    // A lapsed lease is taken over, starting after all its holder can have minted.
    let later = until + 70_000;
    let took = store.id_node_acquire("f", later, later + 60_000).await.unwrap();
    assert_ne!(took.node, taken[0], "the lease renewed furthest is taken last");
    assert_eq!(took.floor_ms, until + MAX_AHEAD_MS + CLOCK_SKEW_MS);
    let before = [(taken[2], "c"), (taken[3], "d")].iter().find(|(n, _)| *n == took.node).map_or("e", |(_, h)| *h);
    assert!(!store.id_node_renew(took.node, before, later, later).await.unwrap(), "the old holder lost it");
}

pub async fn secrets_and_admin_token_are_set_once(store: &dyn Store) {
    let first = store.secret_get_or_init("cursor", vec![1, 2, 3]).await.unwrap();
    assert_eq!(first, vec![1, 2, 3]);
    assert_eq!(store.secret_get_or_init("cursor", vec![9]).await.unwrap(), vec![1, 2, 3]);
    assert!(store.admin_token_hash().await.unwrap().is_none());
    let t = Token::generate();
    assert!(store.admin_token_init(t.hash()).await.unwrap());
    assert!(!store.admin_token_init(token()).await.unwrap());
    assert!(store.admin_token_hash().await.unwrap().unwrap().matches(&t.hash()));
}
