//! The store contract: The outbox: events queued with their writes, claims, retries and dead letters.

use super::*;

pub async fn writes_queue_their_events_in_the_same_transaction(store: &dyn Store) {
    let f = forum(store, "blog").await;
    let p = post(store, &f, "page", None, NOW).await;
    let reply = post(store, &f, "page", Some(p.id), NOW).await;
    assert_eq!(
        drain_events(store, NOW).await,
        vec![
            (EventKind::ThreadCreated, None),
            (EventKind::PostCreated, Some(p.id)),
            (EventKind::PostCreated, Some(reply.id))
        ]
    );
    store.post_edit(p.id, Message::parse("changed").unwrap(), "<p>changed</p>".into(), None, NOW).await.unwrap();
    store.post_delete(reply.id, NOW).await.unwrap();
    let t = store.thread_create(&f, spec("other"), NOW).await.unwrap();
    let events = drain_events(store, NOW).await;
    assert_eq!(
        events,
        vec![
            (EventKind::PostUpdated, Some(p.id)),
            (EventKind::PostDeleted, Some(reply.id)),
            (EventKind::ThreadCreated, None)
        ]
    );
    let all = store.jobs_list(crate::JobFilter { limit: 100, ..Default::default() }).await.unwrap();
    assert!(all.iter().all(|j| j.forum_id == f.id && j.id.shard() == f.shard), "jobs live in the forum's shard");
    assert!(all.iter().any(|j| j.task.contains(&t.id.to_string())));

    // A write that fails queues nothing.
    store.thread_set_closed(t.id, true).await.unwrap();
    let refused = store.post_create(&f, new_post("other", None, "x", PostState::Approved), token(), NOW).await;
    assert!(matches!(refused, Err(StoreError::ThreadClosed)));
    assert!(matches!(
        store.post_edit(Id::from_raw(999).unwrap(), Message::parse("x").unwrap(), "x".into(), None, NOW).await,
        Err(StoreError::PostNotFound)
    ));
    assert_eq!(drain_events(store, NOW).await, vec![]);
    // An import is history, not news: it queues nothing.
    let batch = vec![ImportPost {
        parent: None,
        author: GuestAuthor { name: DisplayName::parse("name", "Old").unwrap(), email: None, url: None },
        message: Message::parse("old").unwrap(),
        html: "<p>old</p>".into(),
        state: PostState::Approved,
        created_at: NOW - 1000,
        likes: 0,
        dislikes: 0,
    }];
    store.thread_import(&f, spec("imported"), batch, NOW).await.unwrap();
    assert_eq!(drain_events(store, NOW).await, vec![]);
}

pub async fn jobs_are_claimed_once_retried_and_dead_lettered(store: &dyn Store) {
    use crate::{JobFilter, NewJob};
    let f = forum(store, "blog").await;
    post(store, &f, "page", None, NOW).await; // thread.created + post.created
    // Not due yet: nothing to claim.
    assert!(store.jobs_claim(NOW - 1, NOW + 60_000, 10).await.unwrap().is_empty());
    let first = store.jobs_claim(NOW, NOW + 60_000, 1).await.unwrap();
    assert_eq!(first.len(), 1, "the limit holds");
    assert_eq!(first[0].attempts, 1);
    let rest = store.jobs_claim(NOW, NOW + 60_000, 10).await.unwrap();
    assert_eq!(rest.len(), 1, "a held job is not claimed again");
    assert_ne!(rest[0].id, first[0].id);
    let (a, b) = (first[0].clone(), rest[0].clone());

    // Retry later; a settle by a stale attempt changes nothing.
    let retry = JobOutcome::Retry { at: NOW + 5_000, error: "receiver said 503".into() };
    assert!(store.job_settle(a.id, 1, retry, NOW).await.unwrap());
    assert!(!store.job_settle(a.id, 1, JobOutcome::Done { follow_ups: vec![] }, NOW).await.unwrap(), "not held");
    let got = store.job_get(a.id).await.unwrap();
    assert_eq!((got.state, got.attempts, got.run_at), (JobState::Ready, 1, NOW + 5_000));
    assert_eq!(got.last_error.as_deref(), Some("receiver said 503"));
    assert!(store.jobs_claim(NOW + 4_999, NOW + 60_000, 10).await.unwrap().is_empty());

    // A worker that dies holding a job: once the lease ends another claims it, and the
    // first one's late settle is refused.
    let again = store.jobs_claim(NOW + 5_000, NOW + 6_000, 10).await.unwrap();
    assert_eq!(again.iter().map(|j| (j.id, j.attempts)).collect::<Vec<_>>(), vec![(a.id, 2)]);
    let stolen = store.jobs_claim(NOW + 6_000, NOW + 70_000, 10).await.unwrap();
    assert_eq!(stolen.iter().map(|j| (j.id, j.attempts)).collect::<Vec<_>>(), vec![(a.id, 3)]);
    let follow = NewJob {
        forum_id: f.id,
        task: Task::Webhook { webhook: a.id, event: EventKind::PostCreated, body: "{}".into() },
        run_at: NOW + 6_000,
    };
    let done = JobOutcome::Done { follow_ups: vec![follow.clone()] };
    assert!(!store.job_settle(a.id, 2, done.clone(), NOW + 6_000).await.unwrap(), "the lapsed attempt");
    assert!(store.job_settle(a.id, 3, done, NOW + 6_000).await.unwrap());
    assert_eq!(store.job_get(a.id).await.unwrap().state, JobState::Done);
    let queued = store.jobs_claim(NOW + 6_000, NOW + 70_000, 10).await.unwrap();
    assert_eq!(queued.len(), 1, "the follow-up was queued exactly once");
    assert_eq!(Task::from_json(&queued[0].task).unwrap(), follow.task);
    assert!(store.job_release(queued[0].id, 1, NOW + 9_000, NOW + 6_000).await.unwrap());
    let released = store.job_get(queued[0].id).await.unwrap();
    assert_eq!((released.state, released.attempts), (JobState::Ready, 0), "a release does not count");
    assert!(store.jobs_claim(NOW + 8_999, NOW + 70_000, 10).await.unwrap().is_empty(), "not before its time");
    let again = store.jobs_claim(NOW + 9_000, NOW + 70_000, 10).await.unwrap();
    assert_eq!(again.len(), 1);
    assert!(store.job_release(again[0].id, 1, NOW + 9_000, NOW + 9_000).await.unwrap());

    // Dead letters: listed, retried, discarded; only dead ones.
    assert!(store.job_settle(b.id, 1, JobOutcome::Dead { error: "x".repeat(5_000) }, NOW).await.unwrap());
    let dead =
        store.jobs_list(JobFilter { state: Some(JobState::Dead), limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(dead.iter().map(|j| j.id).collect::<Vec<_>>(), vec![b.id]);
    assert!(dead[0].last_error.as_ref().unwrap().len() <= 500, "errors are clipped");
    assert!(matches!(store.job_retry(a.id, NOW).await, Err(StoreError::JobNotDead)));
    assert!(matches!(store.job_discard(a.id).await, Err(StoreError::JobNotDead)));
    assert!(matches!(store.job_retry(Id::from_raw(12345).unwrap(), NOW).await, Err(StoreError::JobNotFound)));
    let retried = store.job_retry(b.id, NOW + 7_000).await.unwrap();
    assert_eq!((retried.state, retried.attempts, retried.run_at), (JobState::Ready, 0, NOW + 7_000));
    let b2 = store.jobs_claim(NOW + 7_000, NOW + 70_000, 10).await.unwrap();
    assert!(b2.iter().any(|j| j.id == b.id));
    assert!(store.job_settle(b.id, 1, JobOutcome::Dead { error: "again".into() }, NOW + 7_000).await.unwrap());
    store.job_discard(b.id).await.unwrap();
    assert!(matches!(store.job_get(b.id).await, Err(StoreError::JobNotFound)));

    let counts: HashMap<JobState, u64> = store.job_counts().await.unwrap().into_iter().collect();
    assert_eq!(counts.get(&JobState::Done), Some(&1));
    assert_eq!(store.jobs_prune(NOW + 6_001).await.unwrap(), 1);
    assert_eq!(store.jobs_prune(NOW + 6_001).await.unwrap(), 0);
    assert!(matches!(store.job_get(a.id).await, Err(StoreError::JobNotFound)));
}

pub async fn concurrent_claims_never_share_a_job(store: Arc<dyn Store>) {
    let f = forum(&*store, "blog").await;
    for _ in 0..30 {
        post(&*store, &f, "busy", None, NOW).await;
    }
    let claimers: Vec<_> = (0..6)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let got = store.jobs_claim(NOW, NOW + 60_000, 3).await.unwrap();
                    if got.is_empty() {
                        return mine;
                    }
                    mine.extend(got.into_iter().map(|j| j.id));
                }
            })
        })
        .collect();
    let mut seen = HashSet::new();
    for c in claimers {
        for id in c.await.unwrap() {
            assert!(seen.insert(id), "job {id} claimed twice");
        }
    }
    assert_eq!(seen.len(), 31, "30 posts and the thread");
}
