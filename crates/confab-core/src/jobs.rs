//! Delayed signals: the events a write emits and the tasks workers run for them.
//!
//! A write use case stores its follow-up work as outbox rows in its own transaction
//! (so a task exists if and only if the write committed). A row holds a [`Task`] as
//! JSON; workers claim rows, run them and record the outcome. An [`Task::Event`] fans
//! out into one task per effect (a delivery per webhook, later mails and spam checks),
//! written in the same transaction that marks the event done, so each effect is queued
//! exactly once.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::id::Id;
use crate::model::{Post, PostState, UnixMs};

/// What happened, as webhooks name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum EventKind {
    #[serde(rename = "post.created")]
    PostCreated,
    #[serde(rename = "post.updated")]
    PostUpdated,
    #[serde(rename = "post.approved")]
    PostApproved,
    #[serde(rename = "post.spam")]
    PostSpam,
    #[serde(rename = "post.deleted")]
    PostDeleted,
    #[serde(rename = "thread.created")]
    ThreadCreated,
}

impl EventKind {
    pub const ALL: [EventKind; 6] = [
        EventKind::PostCreated,
        EventKind::PostUpdated,
        EventKind::PostApproved,
        EventKind::PostSpam,
        EventKind::PostDeleted,
        EventKind::ThreadCreated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::PostCreated => "post.created",
            EventKind::PostUpdated => "post.updated",
            EventKind::PostApproved => "post.approved",
            EventKind::PostSpam => "post.spam",
            EventKind::PostDeleted => "post.deleted",
            EventKind::ThreadCreated => "thread.created",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One unit of work in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Task {
    /// A change committed: fan it out to everything that follows the forum.
    Event {
        event: EventKind,
        thread: Id,
        post: Option<Id>,
        /// The post's changeable fields as this change left them, so that an event
        /// delivered after later changes still says what this one did.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        snapshot: Option<PostSnapshot>,
    },
    /// One webhook delivery of a body fixed when the event fanned out, so every retry
    /// sends the same bytes (the signature covers them with each attempt's timestamp).
    Webhook { webhook: Id, event: EventKind, body: String },
    /// Tell one address about one post (through the throttle).
    Notify { email: String, thread: Id, post: Id, reason: NotifyReason },
    /// Send one address the posts of a thread that waited out its quiet interval.
    Digest { email: String, thread: Id },
    /// Judge a new post (spam filter), move it to the state the verdict gives, then
    /// announce it (notifications).
    Screen { post: Id, order: Screen },
    /// Delete a forum that its owner asked to delete, with all its data, a batch of
    /// threads per transaction; it queues itself again until nothing is left. `since`:
    /// when the deletion began (the forum's own rows wait out a grace period after it,
    /// for writes by processes that still held the forum in memory).
    ForumPurge {
        forum: Id,
        #[serde(default)]
        since: UnixMs,
    },
}

/// How to screen a new post: the state it gets if judged clean (approved, or pending
/// in a pre-moderated forum) and, when an outside spam service is asked, what it
/// wants to know about the client. The client details live only in the outbox row,
/// which is deleted a day after the job is done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Screen {
    pub clean: PostState,
    /// The post's state when it was queued, set by the store in the post's transaction:
    /// the filter moves only a post still in it that nobody has decided on since. (Jobs
    /// queued before this field existed compare with the state the filter reads.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queued: Option<PostState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<ClientInfo>,
}

/// The request behind a post, for Akismet-compatible services.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientInfo {
    pub ip: String,
    pub user_agent: String,
    pub referrer: String,
}

impl std::fmt::Debug for ClientInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientInfo(<redacted>)")
    }
}

/// Why an address hears about a post.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum NotifyReason {
    /// A reply to the recipient's post.
    Reply,
    /// A new comment in a thread the recipient subscribed to.
    Subscription,
    /// A post held for review, to the forum's moderators.
    Held,
}

/// What a post event changed: the fields an edit, a moderation or a deletion sets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostSnapshot {
    pub state: PostState,
    pub message: String,
    pub html: String,
    pub edited_at: Option<UnixMs>,
}

impl PostSnapshot {
    pub fn of(p: &Post) -> Self {
        PostSnapshot {
            state: p.state,
            message: p.message.as_str().to_owned(),
            html: p.html.clone(),
            edited_at: p.edited_at,
        }
    }

    /// The post with this snapshot's fields.
    pub fn apply(&self, mut p: Post) -> Post {
        p.state = self.state;
        p.message = crate::input::Message::from_trusted(self.message.clone());
        p.html = self.html.clone();
        p.edited_at = self.edited_at;
        p
    }
}

impl Task {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("tasks serialise")
    }

    pub fn from_json(s: &str) -> Result<Self, String> {
        serde_json::from_str(s).map_err(|e| format!("unreadable task: {e}"))
    }

    /// A short name for logs and listings.
    pub fn kind(&self) -> &'static str {
        match self {
            Task::Event { .. } => "event",
            Task::Webhook { .. } => "webhook",
            Task::Notify { .. } => "notify",
            Task::Digest { .. } => "digest",
            Task::Screen { .. } => "screen",
            Task::ForumPurge { .. } => "forum_purge",
        }
    }
}

/// Where an outbox row is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Waiting for its `run_at`.
    Ready,
    /// Claimed by a worker until its lease ends.
    Running,
    /// Took effect.
    Done,
    /// Failed its last allowed attempt (or cannot run at all): waits for an operator.
    Dead,
}

impl JobState {
    pub fn code(self) -> i64 {
        match self {
            JobState::Ready => 0,
            JobState::Running => 1,
            JobState::Done => 2,
            JobState::Dead => 3,
        }
    }

    pub fn from_code(c: i64) -> Option<Self> {
        Some(match c {
            0 => JobState::Ready,
            1 => JobState::Running,
            2 => JobState::Done,
            3 => JobState::Dead,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Ready => "ready",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [JobState::Ready, JobState::Running, JobState::Done, JobState::Dead].into_iter().find(|k| k.as_str() == s)
    }
}

/// Retry timing: exponential backoff from `base`, capped at `max`, with full jitter
/// ("Exponential Backoff And Jitter", AWS Architecture Blog): the delay before attempt
/// n+1 is uniform in [cap/2, cap] where cap = min(max, base·2ⁿ⁻¹). The lower half bound
/// keeps a retry from landing at once after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { base: Duration::from_secs(10), max: Duration::from_secs(3600) }
    }
}

impl Backoff {
    /// The delay after failed attempt number `attempt` (1-based), with `unit` in [0, 1)
    /// drawn by the caller.
    pub fn delay(&self, attempt: u32, unit: f64) -> Duration {
        let shift = attempt.saturating_sub(1).min(30);
        let cap = self.base.saturating_mul(1u32 << shift).min(self.max);
        cap.mul_f64(0.5 + 0.5 * unit.clamp(0.0, 1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn tasks_round_trip_through_json() {
        let tasks = [
            Task::Event {
                event: EventKind::PostCreated,
                thread: Id::from_i64(5).unwrap(),
                post: Some(Id::from_i64(9).unwrap()),
                snapshot: Some(PostSnapshot {
                    state: PostState::Approved,
                    message: "hi".into(),
                    html: "<p>hi</p>".into(),
                    edited_at: None,
                }),
            },
            Task::Event {
                event: EventKind::ThreadCreated,
                thread: Id::from_i64(5).unwrap(),
                post: None,
                snapshot: None,
            },
            Task::Webhook {
                webhook: Id::from_i64(3).unwrap(),
                event: EventKind::PostDeleted,
                body: "{\"a\":1}".into(),
            },
        ];
        for t in tasks {
            assert_eq!(Task::from_json(&t.to_json()).unwrap(), t);
        }
        assert_eq!(
            Task::Event { event: EventKind::PostSpam, thread: Id::from_i64(1).unwrap(), post: None, snapshot: None }
                .to_json(),
            r#"{"type":"event","event":"post.spam","thread":"1","post":null}"#
        );
        assert!(Task::from_json(r#"{"type":"launch_missiles"}"#).is_err());
    }

    #[test]
    fn event_names_parse_back() {
        for k in EventKind::ALL {
            assert_eq!(EventKind::parse(k.as_str()), Some(k));
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        assert_eq!(EventKind::parse("post.exploded"), None);
    }

    proptest! {
        #[test]
        fn backoff_grows_within_its_bounds(attempt in 1u32..200, unit in 0.0f64..1.0) {
            let b = Backoff { base: Duration::from_secs(10), max: Duration::from_secs(3600) };
            let d = b.delay(attempt, unit);
            let cap = Duration::from_secs(10).saturating_mul(1 << (attempt - 1).min(30)).min(b.max);
            prop_assert!(d >= cap / 2 && d <= cap, "{d:?} outside [{:?}, {cap:?}]", cap / 2);
            prop_assert!(b.delay(attempt + 1, unit) >= d, "never shrinks for the same draw");
        }
    }
}
