//! The store contract: Webhooks and their delivery log.

use super::*;

pub async fn webhooks_belong_to_their_forum(store: &dyn Store) {
    use crate::{NewWebhook, WebhookAttempt};
    let (a, b) = (forum(store, "blog").await, forum(store, "other").await);
    let new = |u: &str| NewWebhook {
        url: WebUrl::parse("url", u).unwrap(),
        secret: "whsec_x".into(),
        events: vec![EventKind::PostCreated, EventKind::PostDeleted],
        hub_signature: true,
    };
    let h1 = store.webhook_create(a.id, new("https://a.example/hook"), NOW).await.unwrap();
    let h2 = store.webhook_create(b.id, new("https://b.example/hook"), NOW).await.unwrap();
    assert_eq!(store.webhooks_list(a.id).await.unwrap(), vec![h1.clone()]);
    assert_eq!(store.webhook_get(h2.id).await.unwrap().events, vec![EventKind::PostCreated, EventKind::PostDeleted]);
    assert!(matches!(store.webhook_delete(a.id, h2.id).await, Err(StoreError::WebhookNotFound)), "not A's");
    for attempt in 1..=3 {
        let log = WebhookAttempt {
            seq: 0,
            webhook_id: h1.id,
            delivery_id: Id::from_raw(77).unwrap(),
            event: EventKind::PostCreated,
            attempt,
            at: NOW + attempt as i64,
            status: (attempt == 3).then_some(200),
            error: (attempt < 3).then(|| "connection refused".into()),
            duration_ms: 12,
        };
        store.webhook_attempt_log(log).await.unwrap();
    }
    let log = store.webhook_attempts(h1.id, None, 2).await.unwrap();
    assert_eq!(log.iter().map(|l| l.attempt).collect::<Vec<_>>(), vec![3, 2], "newest first");
    let older = store.webhook_attempts(h1.id, Some(log[1].seq), 10).await.unwrap();
    assert_eq!(older.iter().map(|l| l.attempt).collect::<Vec<_>>(), vec![1]);
    assert!(store.webhook_attempts(h2.id, None, 10).await.unwrap().is_empty());
    assert_eq!(store.webhook_attempts_prune(NOW + 2).await.unwrap(), 1, "attempt 1 is older");
    assert_eq!(store.webhook_attempts(h1.id, None, 10).await.unwrap().len(), 2);
    store.webhook_delete(a.id, h1.id).await.unwrap();
    assert!(matches!(store.webhook_get(h1.id).await, Err(StoreError::WebhookNotFound)));
    assert!(store.webhook_attempts(h1.id, None, 10).await.unwrap().is_empty(), "its log went with it");
    assert_eq!(store.webhooks_list(b.id).await.unwrap().len(), 1);
}
