//! What operators see of the outbox and the cache.

use confab_core::id::Id;
use confab_core::jobs::{EventKind, JobState, NotifyReason, Task};
use confab_store::Job;
use serde::Serialize;

use super::rfc3339;
use utoipa::ToSchema;

/// What a job is about, never its payload: a webhook body quotes a comment, a mail names
/// its recipient, a screening carries the client's address.
#[derive(Serialize, ToSchema)]
#[schema(as = JobTask)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum JobAbout {
    Event {
        event: EventKind,
        thread: Id,
        post: Option<Id>,
    },
    Webhook {
        event: EventKind,
        webhook: Id,
    },
    Notify {
        reason: NotifyReason,
        thread: Id,
        post: Id,
    },
    Digest {
        thread: Id,
    },
    Screen {
        post: Id,
    },
    ForumPurge {
        forum: Id,
        since: String,
    },
    /// A task no worker of this version can read (it dies visibly).
    Unreadable,
}

impl JobAbout {
    fn of(task: &str) -> Self {
        match Task::from_json(task) {
            Ok(Task::Event { event, thread, post, .. }) => JobAbout::Event { event, thread, post },
            Ok(Task::Webhook { webhook, event, .. }) => JobAbout::Webhook { event, webhook },
            Ok(Task::Notify { thread, post, reason, .. }) => JobAbout::Notify { reason, thread, post },
            Ok(Task::Digest { thread, .. }) => JobAbout::Digest { thread },
            Ok(Task::Screen { post, .. }) => JobAbout::Screen { post },
            Ok(Task::ForumPurge { forum, since }) => JobAbout::ForumPurge { forum, since: rfc3339(since) },
            Err(_) => JobAbout::Unreadable,
        }
    }
}

/// A job as operators see it.
#[derive(Serialize, ToSchema)]
#[schema(as = Job)]
pub struct JobView {
    pub id: Id,
    pub forum_id: Id,
    /// What the job is about (type event, webhook or unreadable), never its payload
    pub task: JobAbout,
    pub state: JobState,
    pub attempts: u32,
    #[schema(format = DateTime)]
    pub run_at: String,
    #[schema(required = true)]
    pub last_error: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl From<&Job> for JobView {
    fn from(j: &Job) -> Self {
        JobView {
            id: j.id,
            forum_id: j.forum_id,
            task: JobAbout::of(&j.task),
            state: j.state,
            attempts: j.attempts,
            run_at: rfc3339(j.run_at),
            last_error: j.last_error.clone(),
            created_at: rfc3339(j.created_at),
            updated_at: rfc3339(j.updated_at),
        }
    }
}

/// `GET /jobs`: a page of jobs, the cursor to the next, and how many there are per state.
#[derive(Serialize, ToSchema)]
pub struct JobList {
    pub jobs: Vec<JobView>,
    #[schema(required = true)]
    pub before: Option<String>,
    /// Per state, in the store's order (a map of names to numbers on the wire).
    pub counts: serde_json::Map<String, serde_json::Value>,
}

/// `GET /cache`: where the cache of public reads lives and its counters since start,
/// then the backend's own gauges (entries and bytes in process, servers out of a pool).
#[derive(Serialize, ToSchema)]
#[schema(as = CacheStats)]
#[serde(untagged)]
pub enum CacheStatsView {
    Off {
        backend: &'static str,
    },
    On {
        backend: &'static str,
        hits: u64,
        stale: u64,
        early: u64,
        misses: u64,
        fills: u64,
        fill_errors: u64,
        kept: u64,
        hit_ratio: f64,
        #[serde(flatten)]
        gauges: serde_json::Map<String, serde_json::Value>,
    },
}
