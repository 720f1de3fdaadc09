//! What workers do with each task: fan an event out to the forum's webhooks, and
//! deliver one webhook. The runtime (claims, retries, dead letters) is `confab-jobs`.
//!
//! A delivery's body is fixed when its event fans out, so every retry sends the same
//! bytes under the same `X-Confab-Delivery` id (the delivery's outbox id): receivers
//! de-duplicate by it. Each attempt is signed afresh with its own timestamp.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use confab_core::id::Id;
use confab_core::jobs::{EventKind, PostSnapshot, Task};
use confab_core::signature;
use confab_jobs::{Failure, Handler};
use confab_store::{Job, NewJob, Store, StoreError, WebhookAttempt};
use serde_json::json;

use crate::Clock;
use crate::outbound::{Outbound, SendError};
use crate::views::{PostView, ThreadView, rfc3339};

/// Runs Confab's tasks.
pub struct Effects {
    pub store: Arc<dyn Store>,
    pub outbound: Outbound,
    pub clock: Clock,
}

#[async_trait]
impl Handler for Effects {
    async fn run(&self, job: &Job, task: Task) -> Result<Vec<NewJob>, Failure> {
        match task {
            Task::Event { event, thread, post, snapshot } => self.fan_out(job, event, thread, post, snapshot).await,
            Task::Webhook { webhook, event, body } => self.deliver(job, webhook, event, body).await.map(|()| vec![]),
        }
    }
}

impl Effects {
    /// One delivery job per webhook of the forum that listens to the event.
    async fn fan_out(
        &self,
        job: &Job,
        event: EventKind,
        thread: Id,
        post: Option<Id>,
        snapshot: Option<PostSnapshot>,
    ) -> Result<Vec<NewJob>, Failure> {
        let hooks: Vec<_> =
            self.store.webhooks_list(job.forum_id).await?.into_iter().filter(|h| h.events.contains(&event)).collect();
        if hooks.is_empty() {
            return Ok(vec![]);
        }
        let forum = self.store.forum_get(job.forum_id).await?;
        let thread = self.store.thread_get(thread).await?;
        let post = match post {
            Some(id) => match self.store.post_get(id).await {
                // As this change left it, whatever happened since.
                Ok(p) => Some(match &snapshot {
                    Some(s) => s.apply(p),
                    None => p,
                }),
                Err(StoreError::PostNotFound) => None,
                Err(e) => return Err(e.into()),
            },
            None => None,
        };
        let author = match &post {
            Some(p) => self.store.authors_get_many(&[p.author_id]).await?.into_iter().next(),
            None => None,
        };
        let body = json!({
            "id": job.id,
            "event": event,
            "occurred_at": rfc3339(job.created_at),
            "forum": { "id": forum.id, "shortname": forum.shortname.as_str() },
            "thread": ThreadView::new(&thread, forum.shortname.as_str()),
            "post": post.as_ref().map(|p| PostView::new(p, author.as_ref())),
        })
        .to_string();
        Ok(hooks
            .into_iter()
            .map(|h| NewJob {
                forum_id: job.forum_id,
                task: Task::Webhook { webhook: h.id, event, body: body.clone() },
                run_at: self.clock.now(),
            })
            .collect())
    }

    async fn deliver(&self, job: &Job, webhook: Id, event: EventKind, body: String) -> Result<(), Failure> {
        let hook = match self.store.webhook_get(webhook).await {
            Ok(h) => h,
            // Deleted since the event: nothing to deliver.
            Err(StoreError::WebhookNotFound) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let url = url::Url::parse(hook.url.as_str()).map_err(|e| Failure::Permanent(format!("invalid URL: {e}")))?;
        let now = self.clock.now();
        let mut headers = vec![
            ("content-type", "application/json".to_owned()),
            ("x-confab-event", event.as_str().to_owned()),
            ("x-confab-delivery", job.id.to_string()),
            ("x-confab-attempt", job.attempts.to_string()),
            ("x-confab-signature", signature::confab_signature(&hook.secret, now / 1000, body.as_bytes())),
        ];
        if hook.hub_signature {
            headers.push(("x-hub-signature", signature::hub_signature(&hook.secret, body.as_bytes())));
        }
        let started = Instant::now();
        let sent = self.outbound.post(&url, headers, body).await;
        let duration_ms = started.elapsed().as_millis().min(u32::MAX as u128) as u32;
        let (status, error, result) = match sent {
            Ok(s) if (200..300).contains(&s) => (Some(s), None, Ok(())),
            Ok(s) => (Some(s), Some(format!("the receiver answered {s}")), Err(Failure::Retry(format!("HTTP {s}")))),
            Err(SendError::Blocked(b)) => (None, Some(b.0.clone()), Err(Failure::Permanent(b.0))),
            Err(SendError::Transport(t)) => (None, Some(t.clone()), Err(Failure::Retry(t))),
        };
        let attempt = WebhookAttempt {
            seq: 0,
            webhook_id: hook.id,
            delivery_id: job.id,
            event,
            attempt: job.attempts,
            at: now,
            status,
            error,
            duration_ms,
        };
        if let Err(e) = self.store.webhook_attempt_log(attempt).await {
            tracing::warn!(webhook = %hook.id, error = %e, "recording a delivery attempt failed");
        }
        tracing::info!(webhook = %hook.id, delivery = %job.id, status, duration_ms, "webhook delivery attempted");
        result
    }
}
