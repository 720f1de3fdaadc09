//! The store contract: live values (switches) and their audit log.

use super::*;
use crate::LiveKind::Switch;

pub async fn live_values_change_with_an_audit_trail(store: &dyn Store) {
    let empty = store.live_table().await.unwrap();
    assert_eq!((empty.seq, empty.entries.len()), (0, 0));
    assert_eq!(store.live_seq().await.unwrap(), 0);

    let first = store.live_put(Switch, "signups", Some(r#"{"state":"off"}"#.into()), "cli", NOW).await.unwrap();
    let first = first.expect("a change");
    assert_eq!((first.before.as_deref(), first.after.as_deref()), (None, Some(r#"{"state":"off"}"#)));
    assert_eq!(store.live_seq().await.unwrap(), first.seq);
    // The same value again is no change: nothing written, nothing logged, seq unmoved.
    assert!(store.live_put(Switch, "signups", Some(r#"{"state":"off"}"#.into()), "cli", NOW).await.unwrap().is_none());
    assert_eq!(store.live_seq().await.unwrap(), first.seq);

    let second =
        store.live_put(Switch, "signups", Some(r#"{"state":"on"}"#.into()), "admin:1", NOW + 1).await.unwrap().unwrap();
    assert!(second.seq > first.seq);
    assert_eq!(second.before.as_deref(), Some(r#"{"state":"off"}"#));
    store.live_put(Switch, "email", Some(r#"{"state":"off"}"#.into()), "cli", NOW + 2).await.unwrap().unwrap();
    let table = store.live_table().await.unwrap();
    let got: Vec<(&str, &str)> = table.entries.iter().map(|e| (e.key.as_str(), e.value.as_str())).collect();
    assert_eq!(got, [("email", r#"{"state":"off"}"#), ("signups", r#"{"state":"on"}"#)]);
    assert_eq!(table.seq, store.live_seq().await.unwrap());

    // Clearing deletes the value and logs what it was; clearing it again is no change.
    let cleared = store.live_put(Switch, "signups", None, "cli", NOW + 3).await.unwrap().unwrap();
    assert_eq!((cleared.before.as_deref(), cleared.after), (Some(r#"{"state":"on"}"#), None));
    assert!(store.live_put(Switch, "signups", None, "cli", NOW + 4).await.unwrap().is_none());
    assert_eq!(store.live_table().await.unwrap().entries.len(), 1);

    let log = store.live_log(Switch, Some("signups"), 10).await.unwrap();
    let seqs: Vec<u64> = log.iter().map(|c| c.seq).collect();
    assert_eq!(seqs, [cleared.seq, second.seq, first.seq], "newest first");
    assert_eq!((log[1].by.as_str(), log[1].at), ("admin:1", NOW + 1));
    assert_eq!(store.live_log(Switch, None, 10).await.unwrap().len(), 4);
    assert_eq!(store.live_log(Switch, None, 2).await.unwrap().len(), 2);
}

pub async fn concurrent_live_changes_are_serialised(store: &dyn Store) {
    // Twenty writers at once, on one key: every change is logged once, each one's
    // `before` is the value the previous one (in seq order) wrote.
    let puts = (0..20).map(|i| store.live_put(Switch, "webhooks", Some(format!("{{\"n\":{i}}}")), "cli", NOW + i));
    let changes: Vec<_> = futures_util::future::join_all(puts).await.into_iter().map(|r| r.unwrap().unwrap()).collect();
    let mut log = store.live_log(Switch, Some("webhooks"), 100).await.unwrap();
    assert_eq!(log.len(), 20);
    log.reverse();
    assert_eq!(log[0].before, None);
    for pair in log.windows(2) {
        assert_eq!(pair[1].before, pair[0].after, "each change replaced the one before it");
    }
    let last = changes.iter().max_by_key(|c| c.seq).unwrap();
    let table = store.live_table().await.unwrap();
    assert_eq!(table.entries[0].value, last.after.clone().unwrap());
    assert_eq!(table.seq, last.seq);
}
