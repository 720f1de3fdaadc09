//! The worker runtime. A [`Worker`] claims due outbox jobs in batches, runs each under
//! a concurrency limit through a [`Handler`], and settles it: done (with follow-up
//! jobs, in one transaction), retried later with exponential backoff and jitter, or
//! dead after the last allowed attempt — kept and visible for an operator.
//!
//! Delivery is at least once and effects are keyed by outbox id: a claim holds a job
//! for a lease; if its worker dies, the lease lapses and another worker runs it again,
//! and the late settle of the dead attempt is refused by the store. Effects inside the
//! store (follow-up jobs) therefore happen exactly once; effects outside (a webhook
//! POST, a mail) carry the job's id so that their receiver can recognise a repeat.
//!
//! Shutdown stops claiming, lets running jobs finish for a grace period, then gives
//! the unfinished ones back (ready at once, the attempt not counted).

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use confab_core::id::Id;
use confab_core::jobs::{Backoff, Task};
use confab_core::model::UnixMs;
use confab_store::{Job, JobOutcome, NewJob, OutboxStore, StoreError};
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;

/// Why a job failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Worth trying again later (a receiver down, a timeout, a 5xx).
    Retry(String),
    /// Will never work (a forbidden address, an unreadable task): dead at once.
    Permanent(String),
    /// Not to be done now (its feature is switched off): given back unstarted, the
    /// attempt not counted, to run again after [`WorkerConfig::paused_delay`].
    Paused(String),
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Retry(format!("store: {e}"))
    }
}

/// What runs a job's task.
#[async_trait]
pub trait Handler: Send + Sync + 'static {
    /// Does the work of `task` (the parsed `job.task`); returns the jobs it leads to,
    /// queued when the job is settled done.
    async fn run(&self, job: &Job, task: Task) -> Result<Vec<NewJob>, Failure>;
}

/// How a worker behaves.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Jobs running at once.
    pub concurrency: usize,
    /// Most jobs claimed per store round trip.
    pub batch: u32,
    /// How long a claim holds a job; longer than any job takes, shorter than the wait
    /// you accept after a crash.
    pub lease: Duration,
    /// Attempts before a job is dead.
    pub max_attempts: u32,
    pub backoff: Backoff,
    /// How often an idle worker looks for due jobs (writes in this process wake it at
    /// once; other processes' writes and retries come due by this poll).
    pub idle_poll: Duration,
    /// On shutdown, how long running jobs may take to finish before they are given back.
    pub shutdown_grace: Duration,
    /// Done jobs are deleted after this long.
    pub keep_done: Duration,
    /// Webhook delivery-log rows are deleted after this long.
    pub keep_delivery_log: Duration,
    /// How long a paused job ([`Failure::Paused`]) waits before it is tried again.
    pub paused_delay: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            concurrency: 8,
            batch: 32,
            lease: Duration::from_secs(120),
            max_attempts: 12,
            backoff: Backoff::default(),
            idle_poll: Duration::from_millis(500),
            shutdown_grace: Duration::from_secs(10),
            keep_done: Duration::from_secs(24 * 3600),
            keep_delivery_log: Duration::from_secs(30 * 24 * 3600),
            paused_delay: Duration::from_secs(10),
        }
    }
}

/// Counts since the worker started.
#[derive(Debug, Default)]
pub struct WorkerStats {
    pub done: AtomicU64,
    pub retried: AtomicU64,
    pub dead: AtomicU64,
    /// Settles refused because the lease had lapsed (another worker took over).
    pub lost: AtomicU64,
    pub released: AtomicU64,
    /// Attempts given back because their feature was switched off.
    pub paused: AtomicU64,
}

/// The current time, from the system clock or a test's hand.
pub type Now = Arc<dyn Fn() -> UnixMs + Send + Sync>;

/// Drains the outbox. Cheap to clone; clones share the wake-up signal and stats.
#[derive(Clone)]
pub struct Worker {
    store: Arc<dyn OutboxStore>,
    handler: Arc<dyn Handler>,
    config: WorkerConfig,
    now: Now,
    wake: Arc<Notify>,
    /// (job, attempt) pairs this worker is running, to give back at shutdown.
    held: Arc<Mutex<HashSet<(Id, u32)>>>,
    pub stats: Arc<WorkerStats>,
}

impl Worker {
    pub fn new(store: Arc<dyn OutboxStore>, handler: Arc<dyn Handler>, config: WorkerConfig, now: Now) -> Self {
        Worker {
            store,
            handler,
            config,
            now,
            wake: Arc::new(Notify::new()),
            held: Arc::default(),
            stats: Arc::default(),
        }
    }

    /// A handle that wakes the worker (call it after a write queued jobs).
    pub fn waker(&self) -> Arc<Notify> {
        Arc::clone(&self.wake)
    }

    /// Runs until `shutdown` resolves, then finishes or gives back what is running.
    pub async fn run(&self, shutdown: impl std::future::Future<Output = ()>) {
        let permits = Arc::new(Semaphore::new(self.config.concurrency.max(1)));
        let mut running: JoinSet<(Job, bool)> = JoinSet::new();
        let mut last_prune: UnixMs = 0;
        tokio::pin!(shutdown);
        tracing::info!(concurrency = self.config.concurrency, "worker started");
        loop {
            let now = (self.now)();
            if now - last_prune > 60_000 {
                last_prune = now;
                self.prune(now).await;
            }
            let free = permits.available_permits();
            let mut claimed = 0;
            if free > 0 {
                let limit = (free as u32).min(self.config.batch);
                match self.store.jobs_claim(now, now + self.config.lease.as_millis() as i64, limit).await {
                    Ok(jobs) => {
                        claimed = jobs.len();
                        for job in jobs {
                            let permit = Arc::clone(&permits).try_acquire_owned().expect("claimed within free permits");
                            let me = self.clone();
                            running.spawn(async move {
                                let done = me.run_one(&job).await;
                                drop(permit);
                                (job, done)
                            });
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "claiming jobs failed"),
                }
            }
            if claimed > 0 && claimed == free {
                // Full: wait for a slot (or shutdown).
                tokio::select! {
                    _ = &mut shutdown => break,
                    _ = running.join_next() => {}
                }
            } else if claimed == 0 {
                tokio::select! {
                    _ = &mut shutdown => break,
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(self.config.idle_poll) => {}
                    Some(_) = running.join_next(), if !running.is_empty() => {}
                }
            }
            // Reap finished tasks without waiting.
            while running.try_join_next().is_some() {}
        }
        self.shut_down(running).await;
    }

    async fn shut_down(&self, mut running: JoinSet<(Job, bool)>) {
        tracing::info!(running = running.len(), "worker stopping");
        let deadline = tokio::time::Instant::now() + self.config.shutdown_grace;
        while !running.is_empty() {
            match tokio::time::timeout_at(deadline, running.join_next()).await {
                Ok(_) => {}
                Err(_) => break,
            }
        }
        // The rest are cut off and given back for another worker (or the next start).
        // Their tasks know their job; abort them, then release by the jobs we hold.
        let left = running.len();
        running.abort_all();
        while running.join_next().await.is_some() {}
        if left > 0 {
            self.release_held().await;
        }
        tracing::info!(released = left, "worker stopped");
    }

    /// Gives back every job this process holds (used at shutdown after aborting).
    async fn release_held(&self) {
        let held: Vec<(Id, u32)> =
            self.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner).drain().collect();
        let now = (self.now)();
        for (id, attempt) in held {
            match self.store.job_release(id, attempt, now, now).await {
                Ok(true) => {
                    self.stats.released.fetch_add(1, Ordering::Relaxed);
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(job = %id, error = %e, "releasing a job failed; its lease will lapse"),
            }
        }
    }

    async fn prune(&self, now: UnixMs) {
        let before = now - self.config.keep_done.as_millis() as i64;
        match self.store.jobs_prune(before).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(pruned = n, "done jobs pruned"),
            Err(e) => tracing::warn!(error = %e, "pruning done jobs failed"),
        }
        let before = now - self.config.keep_delivery_log.as_millis() as i64;
        if let Err(e) = self.store.webhook_attempts_prune(before).await {
            tracing::warn!(error = %e, "pruning the delivery log failed");
        }
    }

    /// Claims and runs everything due now, again and again, until nothing is due.
    /// Returns how many attempts ran. For tests and `confab worker --once`.
    pub async fn run_until_idle(&self) -> usize {
        let mut ran = 0;
        loop {
            let now = (self.now)();
            let jobs =
                match self.store.jobs_claim(now, now + self.config.lease.as_millis() as i64, self.config.batch).await {
                    Ok(j) => j,
                    Err(e) => {
                        tracing::warn!(error = %e, "claiming jobs failed");
                        return ran;
                    }
                };
            if jobs.is_empty() {
                return ran;
            }
            let mut set = JoinSet::new();
            let permits = Arc::new(Semaphore::new(self.config.concurrency.max(1)));
            for job in jobs {
                let me = self.clone();
                let permits = Arc::clone(&permits);
                set.spawn(async move {
                    let _p = permits.acquire_owned().await;
                    me.run_one(&job).await
                });
            }
            ran += set.join_all().await.len();
        }
    }

    /// Runs one claimed attempt and settles it. Returns whether it settled.
    async fn run_one(&self, job: &Job) -> bool {
        self.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert((job.id, job.attempts));
        let outcome = match self.attempt(job).await {
            Attempt::Settle(o) => o,
            Attempt::Paused(why) => return self.pause(job, &why).await,
        };
        let kind = outcome_name(&outcome);
        let now = (self.now)();
        let settled = match self.store.job_settle(job.id, job.attempts, outcome, now).await {
            Ok(true) => {
                let counter = match kind {
                    "done" => &self.stats.done,
                    "retry" => &self.stats.retried,
                    _ => &self.stats.dead,
                };
                counter.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(job = %job.id, attempt = job.attempts, outcome = kind, "job settled");
                true
            }
            Ok(false) => {
                self.stats.lost.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(job = %job.id, attempt = job.attempts, "job lease lapsed before it settled");
                false
            }
            Err(e) => {
                tracing::warn!(job = %job.id, error = %e, "settling a job failed; it runs again when its lease lapses");
                false
            }
        };
        self.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&(job.id, job.attempts));
        settled
    }

    /// Gives a paused job back, to run after the pause; the attempt does not count.
    async fn pause(&self, job: &Job, why: &str) -> bool {
        let now = (self.now)();
        let at = now + self.config.paused_delay.as_millis() as i64;
        let given = self.store.job_release(job.id, job.attempts, at, now).await;
        self.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&(job.id, job.attempts));
        match given {
            Ok(given) => {
                tracing::debug!(job = %job.id, why, "job paused");
                self.stats.paused.fetch_add(1, Ordering::Relaxed);
                given
            }
            Err(e) => {
                tracing::warn!(job = %job.id, error = %e, "giving a paused job back failed; it runs when its lease lapses");
                false
            }
        }
    }

    async fn attempt(&self, job: &Job) -> Attempt {
        let max = self.config.max_attempts.max(1);
        if job.attempts > max {
            // Every allowed attempt was claimed and none settled: the job stops its
            // worker (a crash, an abort). Do not try it again.
            let error = format!("no attempt of {max} finished (the worker stopped during each)");
            tracing::warn!(job = %job.id, "{error}");
            return Attempt::Settle(JobOutcome::Dead { error });
        }
        let task = match Task::from_json(&job.task) {
            Ok(t) => t,
            Err(error) => {
                tracing::warn!(job = %job.id, "unreadable job task");
                return Attempt::Settle(JobOutcome::Dead { error });
            }
        };
        let kind = task.kind();
        // Run in its own task so that a panic in a handler fails this job only.
        let handler = Arc::clone(&self.handler);
        let owned = job.clone();
        let result = match tokio::spawn(async move { handler.run(&owned, task).await }).await {
            Ok(r) => r,
            Err(e) if e.is_panic() => Err(Failure::Retry("the job's handler panicked".into())),
            Err(_) => Err(Failure::Retry("the job was cancelled".into())),
        };
        Attempt::Settle(match result {
            Ok(follow_ups) => JobOutcome::Done { follow_ups },
            Err(Failure::Paused(why)) => return Attempt::Paused(why),
            Err(Failure::Permanent(error)) => {
                tracing::warn!(job = %job.id, kind, "job failed for good");
                JobOutcome::Dead { error }
            }
            Err(Failure::Retry(error)) if job.attempts >= max => {
                tracing::warn!(job = %job.id, kind, attempts = job.attempts, "job failed its last attempt");
                JobOutcome::Dead { error }
            }
            Err(Failure::Retry(error)) => {
                let delay = self.config.backoff.delay(job.attempts, rand::random::<f64>());
                tracing::info!(job = %job.id, kind, attempt = job.attempts, retry_in_ms = delay.as_millis() as u64, "job failed; will retry");
                JobOutcome::Retry { at: (self.now)() + delay.as_millis() as i64, error }
            }
        })
    }
}

/// What an attempt comes to: an outcome to settle, or a pause.
enum Attempt {
    Settle(JobOutcome),
    Paused(String),
}

fn outcome_name(o: &JobOutcome) -> &'static str {
    match o {
        JobOutcome::Done { .. } => "done",
        JobOutcome::Retry { .. } => "retry",
        JobOutcome::Dead { .. } => "dead",
    }
}
