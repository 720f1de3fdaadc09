//! The worker runtime against a real SQLite store: retries, dead letters, poison jobs,
//! panics, leases, concurrency and shutdown.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use confab_core::id::{Id, IdGenerator};
use confab_core::jobs::{Backoff, EventKind, JobState, Task};
use confab_jobs::{Failure, Handler, Worker, WorkerConfig};
use confab_store::contract::{NOW, forum, post};
use confab_store::{Job, JobFilter, NewJob, Store};
use confab_store_sqlite::{SqliteOptions, SqliteStore};

/// What the test handler does with the event of a post.
#[derive(Clone, Copy)]
enum Act {
    Ok,
    Fail,
    Poison,
    Panic,
    Slow,
    Pause,
}

#[derive(Default)]
struct Script {
    acts: Mutex<HashMap<Id, Act>>,
    runs: Mutex<Vec<(Id, u32)>>,
    running: AtomicUsize,
    most_at_once: AtomicUsize,
}

#[async_trait]
impl Handler for Script {
    async fn run(&self, job: &Job, task: Task) -> Result<Vec<NewJob>, Failure> {
        self.runs.lock().unwrap().push((job.id, job.attempts));
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_at_once.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(20)).await;
        self.running.fetch_sub(1, Ordering::SeqCst);
        let act = match task {
            Task::Event { post: Some(p), .. } => self.acts.lock().unwrap().get(&p).copied().unwrap_or(Act::Ok),
            Task::Event { .. } => Act::Ok,
            _ => Act::Ok,
        };
        match act {
            Act::Ok => Ok(vec![]),
            Act::Fail => Err(Failure::Retry("receiver down".into())),
            Act::Poison => Err(Failure::Permanent("cannot ever work".into())),
            Act::Panic => panic!("handler bug"),
            Act::Pause => Err(Failure::Paused("switched off".into())),
            Act::Slow => {
                tokio::time::sleep(Duration::from_secs(30)).await;
                Ok(vec![])
            }
        }
    }
}

struct Rig {
    store: Arc<dyn Store>,
    script: Arc<Script>,
    clock: Arc<AtomicI64>,
    worker: Worker,
    forum: confab_core::model::Forum,
    _dir: tempfile::TempDir,
}

async fn rig(config: WorkerConfig) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&SqliteOptions::new(dir.path().join("c.db")), Arc::new(IdGenerator::new())).unwrap(),
    );
    let script = Arc::new(Script::default());
    let clock = Arc::new(AtomicI64::new(NOW));
    let c = Arc::clone(&clock);
    let worker = Worker::new(store.clone(), script.clone(), config, Arc::new(move || c.load(Ordering::SeqCst)));
    let forum = forum(&*store, "blog").await;
    Rig { store, script, clock, worker, forum, _dir: dir }
}

fn config() -> WorkerConfig {
    WorkerConfig {
        concurrency: 4,
        batch: 8,
        max_attempts: 3,
        backoff: Backoff { base: Duration::from_secs(10), max: Duration::from_secs(60) },
        ..WorkerConfig::default()
    }
}

impl Rig {
    /// A post whose event job the handler treats with `act`.
    async fn job(&self, act: Act) -> Id {
        let p = post(&*self.store, &self.forum, "page", None, NOW).await;
        self.script.acts.lock().unwrap().insert(p.id, act);
        p.id
    }

    async fn job_of(&self, post: Id) -> Job {
        let all = self.store.jobs_list(JobFilter { limit: 1000, ..Default::default() }).await.unwrap();
        all.into_iter()
            .find(|j| matches!(Task::from_json(&j.task), Ok(Task::Event { post: Some(p), .. }) if p == post))
            .unwrap()
    }

    fn advance(&self, ms: i64) {
        self.clock.fetch_add(ms, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_job_dies_without_holding_up_the_others() {
    let r = rig(config()).await;
    let poison = r.job(Act::Poison).await;
    let flaky = r.job(Act::Fail).await;
    let fine: Vec<Id> = futures_join(&r, 10).await;
    r.worker.run_until_idle().await;
    assert_eq!(r.job_of(poison).await.state, JobState::Dead, "a permanent failure is dead at once");
    assert_eq!(r.job_of(poison).await.last_error.as_deref(), Some("cannot ever work"));
    for id in &fine {
        assert_eq!(r.job_of(*id).await.state, JobState::Done);
    }
    // The flaky one waits out its backoff: not before 5 s (half the 10 s base), by 10 s.
    let j = r.job_of(flaky).await;
    assert_eq!((j.state, j.attempts), (JobState::Ready, 1));
    assert!((NOW + 5_000..=NOW + 10_000).contains(&j.run_at), "{}", j.run_at - NOW);
    assert_eq!(r.worker.run_until_idle().await, 0, "nothing due before its time");
    r.advance(10_000);
    r.worker.run_until_idle().await;
    let j = r.job_of(flaky).await;
    assert_eq!((j.state, j.attempts), (JobState::Ready, 2));
    assert!(j.run_at - (NOW + 10_000) >= 10_000, "the second wait is longer");
    r.advance(20_000);
    r.worker.run_until_idle().await;
    let j = r.job_of(flaky).await;
    assert_eq!((j.state, j.attempts), (JobState::Dead, 3), "dead after max_attempts");
    assert_eq!(j.last_error.as_deref(), Some("receiver down"));

    // An operator fixes the receiver and retries the dead letter.
    r.script.acts.lock().unwrap().insert(flaky, Act::Ok);
    r.store.job_retry(j.id, NOW + 30_000).await.unwrap();
    r.worker.run_until_idle().await;
    assert_eq!(r.job_of(flaky).await.state, JobState::Done);
    let stats = &r.worker.stats;
    assert_eq!(stats.dead.load(Ordering::SeqCst), 2);
    assert_eq!(stats.retried.load(Ordering::SeqCst), 2);
}

async fn futures_join(r: &Rig, n: usize) -> Vec<Id> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(r.job(Act::Ok).await);
    }
    out
}

/// A job whose feature is switched off waits, as often as it takes, without using up
/// its attempts, and runs once the feature is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_job_waits_without_spending_its_attempts() {
    let r = rig(config()).await;
    let paused = r.job(Act::Pause).await;
    // The first run also does the post's other job; the paused one comes back alone.
    r.worker.run_until_idle().await;
    r.advance(10_000);
    let jobs = 1;
    for round in 0..5 {
        assert_eq!(r.worker.run_until_idle().await, jobs, "round {round}: each tried once");
        let j = r.job_of(paused).await;
        assert_eq!((j.state, j.attempts), (JobState::Ready, 0), "round {round}: the attempt does not count");
        assert_eq!(j.run_at, r.clock.load(Ordering::SeqCst) + 10_000, "back after the pause");
        assert_eq!(j.last_error, None, "a pause is not an error");
        assert_eq!(r.worker.run_until_idle().await, 0, "not before the pause is over");
        r.advance(10_000);
    }
    assert_eq!(r.worker.stats.paused.load(Ordering::SeqCst), 6 * jobs as u64);
    r.script.acts.lock().unwrap().insert(paused, Act::Ok);
    r.worker.run_until_idle().await;
    assert_eq!(r.job_of(paused).await.state, JobState::Done);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_fails_its_job_only() {
    let r = rig(config()).await;
    let bad = r.job(Act::Panic).await;
    let good = r.job(Act::Ok).await;
    r.worker.run_until_idle().await;
    let j = r.job_of(bad).await;
    assert_eq!((j.state, j.last_error.as_deref()), (JobState::Ready, Some("the job's handler panicked")));
    assert_eq!(r.job_of(good).await.state, JobState::Done);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_task_is_a_visible_dead_letter() {
    let r = rig(config()).await;
    let id = r.job(Act::Ok).await;
    let job = r.job_of(id).await;
    // A row written by a future version that this one cannot read.
    let path = r._dir.path().join("c.db");
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute("UPDATE outbox SET task = '{\"type\":\"teleport\"}' WHERE id = ?1", [job.id.as_i64()]).unwrap();
    drop(c);
    r.worker.run_until_idle().await;
    let j = r.store.job_get(job.id).await.unwrap();
    assert_eq!(j.state, JobState::Dead);
    assert!(j.last_error.unwrap().starts_with("unreadable task"));
    assert!(r.script.runs.lock().unwrap().iter().all(|(j, _)| *j != job.id), "the handler never saw it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_whose_worker_died_runs_again_after_its_lease() {
    let r = rig(config()).await;
    let id = r.job(Act::Ok).await;
    // Another worker claims everything, then dies without settling.
    let held = r.store.jobs_claim(NOW, NOW + 120_000, 100).await.unwrap();
    assert_eq!(held.len(), 2, "thread.created and post.created");
    assert_eq!(r.worker.run_until_idle().await, 0, "held by the dead worker");
    r.advance(120_000);
    assert_eq!(r.worker.run_until_idle().await, 2);
    let j = r.job_of(id).await;
    assert_eq!((j.state, j.attempts), (JobState::Done, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_kills_every_worker_ends_dead() {
    let r = rig(config()).await;
    let id = r.job(Act::Ok).await;
    for _ in 0..3 {
        r.store.jobs_claim(r.clock.load(Ordering::SeqCst), r.clock.load(Ordering::SeqCst) + 1_000, 100).await.unwrap();
        r.advance(1_000);
    }
    r.worker.run_until_idle().await;
    let j = r.job_of(id).await;
    assert_eq!(j.state, JobState::Dead);
    assert!(j.last_error.unwrap().contains("stopped during each"));
    assert!(r.script.runs.lock().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_concurrency_limit_holds() {
    let r = rig(WorkerConfig { concurrency: 3, batch: 50, ..config() }).await;
    futures_join(&r, 20).await;
    // An old delivery-log row, which a running worker prunes (30 days by default).
    let hook = r
        .store
        .webhook_create(
            r.forum.id,
            confab_store::NewWebhook {
                url: confab_core::input::WebUrl::parse("url", "https://example.com/h").unwrap(),
                secret: "s".into(),
                events: vec![EventKind::PostDeleted],
                hub_signature: false,
            },
            NOW,
        )
        .await
        .unwrap();
    for at in [NOW - 31 * 24 * 3600 * 1000, NOW - 1000] {
        let attempt = confab_store::WebhookAttempt {
            seq: 0,
            webhook_id: hook.id,
            delivery_id: hook.id,
            event: EventKind::PostDeleted,
            attempt: 1,
            at,
            status: Some(200),
            error: None,
            duration_ms: 1,
        };
        r.store.webhook_attempt_log(attempt).await.unwrap();
    }
    let w = r.worker.clone();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move { w.run(async { rx.await.unwrap_or(()) }).await });
    for _ in 0..200 {
        let counts: HashMap<JobState, u64> = r.store.job_counts().await.unwrap().into_iter().collect();
        if counts.get(&JobState::Done) == Some(&21) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tx.send(()).unwrap();
    task.await.unwrap();
    assert_eq!(r.worker.stats.done.load(Ordering::SeqCst), 21);
    assert_eq!(r.script.most_at_once.load(Ordering::SeqCst), 3);
    let log = r.store.webhook_attempts(hook.id, None, 10).await.unwrap();
    assert_eq!(log.iter().map(|a| a.at).collect::<Vec<_>>(), vec![NOW - 1000], "the month-old row went");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_gives_back_what_it_cannot_finish() {
    let r = rig(WorkerConfig { shutdown_grace: Duration::from_millis(200), ..config() }).await;
    let slow = r.job(Act::Slow).await;
    let w = r.worker.clone();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move { w.run(async { rx.await.unwrap_or(()) }).await });
    while r.job_of(slow).await.state != JobState::Running {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task).await.expect("stops within the grace").unwrap();
    let j = r.job_of(slow).await;
    assert_eq!((j.state, j.attempts), (JobState::Ready, 0), "given back, attempt not counted");
    assert_eq!(r.worker.stats.released.load(Ordering::SeqCst), 1);
    // The thread's event finished inside the grace period.
    let done = r.store.jobs_list(JobFilter { state: Some(JobState::Done), limit: 10, ..Default::default() });
    assert_eq!(done.await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_ups_are_queued_when_their_job_is_done() {
    struct FanOut;
    #[async_trait]
    impl Handler for FanOut {
        async fn run(&self, job: &Job, task: Task) -> Result<Vec<NewJob>, Failure> {
            Ok(match task {
                Task::Event { event, .. } => (0..3)
                    .map(|i| NewJob {
                        forum_id: job.forum_id,
                        task: Task::Webhook { webhook: job.id, event, body: i.to_string() },
                        run_at: job.run_at,
                    })
                    .collect(),
                _ => vec![],
            })
        }
    }
    let r = rig(config()).await;
    let worker = Worker::new(r.store.clone(), Arc::new(FanOut), config(), Arc::new(|| NOW));
    r.job(Act::Ok).await;
    assert_eq!(worker.run_until_idle().await, 2 + 6, "two events, three deliveries each");
    let done = r.store.jobs_list(JobFilter { state: Some(JobState::Done), limit: 100, ..Default::default() });
    let done = done.await.unwrap();
    let webhooks = done.iter().filter(|j| j.task.contains("\"webhook\"")).count();
    assert_eq!(webhooks, 6);
    assert!(done.iter().any(|j| j.task.contains(EventKind::ThreadCreated.as_str())));
}
