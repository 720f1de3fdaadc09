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
use confab_core::jobs::{EventKind, PostSnapshot, Screen, Task};
use confab_core::model::{Author, AuthorKind, Post, PostState, SpamFilter};
use confab_core::signature;
use confab_core::spam::{self, Action};
use confab_core::switches;
use confab_jobs::{Failure, Handler};
use confab_store::{Job, NewJob, SpamRecord, Store, StoreError, WebhookAttempt};
use serde_json::json;

use std::time::Duration;

use crate::Clock;
use crate::mail::Mailer;
use crate::notify;
use crate::outbound::{Outbound, SendError};
use crate::views::{PostView, ThreadView, rfc3339};

/// Runs Confab's tasks.
pub struct Effects {
    pub store: Arc<dyn Store>,
    pub outbound: Outbound,
    pub clock: Clock,
    pub mailer: Arc<dyn Mailer>,
    /// Confab's public base URL, for links in mails.
    pub public_url: String,
    /// Signs unsubscribe links (the store's page key).
    pub link_key: [u8; 32],
    /// At most one mail per recipient per thread in this interval; then a digest.
    pub notify_interval: Duration,
    /// The operator's Akismet-compatible service, for forums that use it.
    pub akismet: Option<crate::akismet::Akismet>,
    /// How long after a forum's deletion began its last rows wait: until no process can
    /// still write to it from a copy read before (see [`forum_grace`]).
    pub forum_grace: Duration,
    /// What the jobs' own writes (a spam verdict's state change) do once committed: the
    /// server's in `confab serve`; in `confab worker`, refreshes over the configured
    /// shared cache (see [`crate::worker_reads`]), or nothing without one.
    pub writes: crate::writes::Writes,
    /// The feature switches (mail, webhooks and the spam service wait while theirs is off).
    pub live: Arc<crate::live::Live>,
}

impl Effects {
    /// For a worker process: the link key comes from the store, as the server's does.
    pub async fn load(
        store: Arc<dyn Store>,
        outbound: Outbound,
        clock: Clock,
        mailer: Arc<dyn Mailer>,
        public_url: String,
        notify_interval: Duration,
        live: Arc<crate::live::Live>,
    ) -> Result<Self, StoreError> {
        let key = store.secret_get_or_init(crate::PAGE_KEY_SECRET, confab_core::secret::random_key().to_vec()).await?;
        let link_key: [u8; 32] =
            key.try_into().map_err(|_| StoreError::Internal("stored page key has the wrong length".into()))?;
        Ok(Effects {
            writes: crate::writes::Writes::new(Arc::clone(&store), clock.clone(), None, None),
            store,
            outbound,
            clock,
            mailer,
            public_url,
            link_key,
            notify_interval,
            akismet: None,
            forum_grace: forum_grace(crate::reads::DEFAULT_POLICY.fresh),
            live,
        })
    }
}

#[async_trait]
impl Handler for Effects {
    async fn run(&self, job: &Job, task: Task) -> Result<Vec<NewJob>, Failure> {
        let switch = match &task {
            Task::Webhook { .. } => Some(switches::WEBHOOKS),
            Task::Notify { .. } | Task::Digest { .. } => Some(switches::EMAIL),
            _ => None,
        };
        if let Some(key) = switch
            && !self.switched_on(key, job.forum_id).await?
        {
            return Err(Failure::Paused(format!("the {key} switch is off")));
        }
        match task {
            Task::Event { event, thread, post, snapshot } => self.fan_out(job, event, thread, post, snapshot).await,
            Task::Webhook { webhook, event, body } => self.deliver(job, webhook, event, body).await.map(|()| vec![]),
            Task::Notify { email, thread, post, reason } => {
                notify::notify(self, job, parse_email(&email)?, thread, post, reason).await
            }
            Task::Digest { email, thread } => notify::digest(self, job, parse_email(&email)?, thread).await,
            Task::Screen { post, order } => self.screen(job, post, order).await,
            Task::ForumPurge { forum, since } => self.purge_forum(job, forum, since).await,
        }
    }
}

impl Effects {
    /// Whether `key` is on for jobs of `forum`. The forum is read only when a switch on
    /// the way is selective (it may name forums); otherwise the node decides alone.
    async fn switched_on(&self, key: &str, forum: Id) -> Result<bool, Failure> {
        if !self.live.selective(key) {
            return Ok(self.live.on(key));
        }
        match self.store.forum_get(forum).await {
            Ok(f) => Ok(self.live.on_for(key, Some(f.shortname.as_str()), None)),
            Err(StoreError::ForumNotFound) => Ok(self.live.on(key)),
            Err(e) => Err(e.into()),
        }
    }
}

/// A process keeps a forum it read for at most the cache's fresh time, and a write
/// that began with it ends within its deadline (seconds on either store): after this,
/// nothing more can be written to a deleted forum.
pub fn forum_grace(fresh: Duration) -> Duration {
    fresh + Duration::from_secs(30)
}

/// A forum's purge: threads per transaction, and transactions per run (a run stays
/// well inside its lease; the job queues itself again while threads are left).
const PURGE_THREADS_PER_STEP: u32 = 100;
const PURGE_STEPS_PER_RUN: usize = 20;

impl Effects {
    /// A forum's deletion: batches of its threads, then, once the grace after the
    /// deletion began is over, the rest of it.
    async fn purge_forum(&self, job: &Job, forum: Id, since: i64) -> Result<Vec<NewJob>, Failure> {
        let finish_at = since.saturating_add(self.forum_grace.as_millis() as i64);
        let again = |run_at| vec![NewJob { forum_id: forum, task: Task::ForumPurge { forum, since }, run_at }];
        let (mut threads, mut posts) = (0, 0);
        for _ in 0..PURGE_STEPS_PER_RUN {
            let finish = self.clock.now() >= finish_at;
            let step = self.store.forum_purge(forum, job.id, PURGE_THREADS_PER_STEP, finish).await?;
            (threads, posts) = (threads + step.threads, posts + step.posts);
            if step.done {
                tracing::info!(forum = %forum, threads, posts, "forum deleted");
                return Ok(vec![]);
            }
            if step.threads == 0 {
                tracing::info!(forum = %forum, threads, posts, "forum purged; its last rows wait out the grace");
                return Ok(again(finish_at));
            }
        }
        tracing::info!(forum = %forum, threads, posts, "forum purge goes on");
        Ok(again(self.clock.now()))
    }

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
        // A new post is announced once screened (`screen`); a post approved later
        // (by the filter or a moderator) is announced here.
        let mails = event == EventKind::PostApproved;
        if hooks.is_empty() && !mails {
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
        let mut follow_ups = Vec::new();
        if mails && let Some(p) = &post {
            let author_email = match &author {
                Some(a) if a.kind == confab_core::model::AuthorKind::Account => {
                    match self.store.account_get(a.id).await {
                        Ok(acc) => Some(acc.email),
                        Err(StoreError::AccountNotFound) => None,
                        Err(e) => return Err(e.into()),
                    }
                }
                Some(a) => a.email.clone(),
                None => None,
            };
            for (email, reason) in notify::recipients(self, p, author_email.as_ref()).await? {
                follow_ups.push(NewJob {
                    forum_id: job.forum_id,
                    task: Task::Notify { email: email.as_str().to_owned(), thread: thread.id, post: p.id, reason },
                    run_at: self.clock.now(),
                });
            }
        }
        if hooks.is_empty() {
            return Ok(follow_ups);
        }
        let body = json!({
            "id": job.id,
            "event": event,
            "occurred_at": rfc3339(job.created_at),
            "forum": { "id": forum.id, "shortname": forum.shortname.as_str() },
            "thread": ThreadView::new(&thread, forum.shortname.as_str()),
            "post": post.as_ref().map(|p| PostView::new(p, author.as_ref())),
        })
        .to_string();
        follow_ups.extend(hooks.into_iter().map(|h| NewJob {
            forum_id: job.forum_id,
            task: Task::Webhook { webhook: h.id, event, body: body.clone() },
            run_at: self.clock.now(),
        }));
        Ok(follow_ups)
    }

    /// The notify jobs for a post in its current state: replies and subscribers for an
    /// approved post, moderators for a pending one.
    async fn announce(&self, job: &Job, p: &Post, author: Option<&Author>) -> Result<Vec<NewJob>, Failure> {
        let author_email = match author {
            Some(a) if a.kind == AuthorKind::Account => match self.store.account_get(a.id).await {
                Ok(acc) => Some(acc.email),
                Err(StoreError::AccountNotFound) => None,
                Err(e) => return Err(e.into()),
            },
            Some(a) => a.email.clone(),
            None => None,
        };
        Ok(notify::recipients(self, p, author_email.as_ref())
            .await?
            .into_iter()
            .map(|(email, reason)| NewJob {
                forum_id: job.forum_id,
                task: Task::Notify { email: email.as_str().to_owned(), thread: p.thread_id, post: p.id, reason },
                run_at: self.clock.now(),
            })
            .collect())
    }

    /// Judges a new post, moves it to the verdict's state, and announces it.
    async fn screen(&self, job: &Job, id: Id, order: Screen) -> Result<Vec<NewJob>, Failure> {
        let post = match self.store.post_get(id).await {
            Ok(p) if matches!(p.state, PostState::Approved | PostState::Pending) => p,
            // Deleted or marked spam before the filter ran: nothing to judge or announce.
            Ok(_) | Err(StoreError::PostNotFound) => return Ok(vec![]),
            Err(e) => return Err(e.into()),
        };
        let forum = self.store.forum_get(post.forum_id).await?;
        let author = self.store.authors_get_many(&[post.author_id]).await?.into_iter().next();
        let mut verdict_reasons: Option<Vec<&str>> = None;
        let action = match forum.policy.spam_filter {
            SpamFilter::Off => Action::Approve,
            SpamFilter::After | SpamFilter::Before => {
                let verdict = self.judge(&forum, &post, author.as_ref(), order.client.as_ref()).await?;
                let record = SpamRecord {
                    action: verdict.action,
                    score: verdict.score,
                    reasons: verdict.reasons.iter().map(|r| r.to_string()).collect(),
                    at: self.clock.now(),
                };
                self.store.spam_verdict_set(post.id, record).await?;
                tracing::info!(post = %post.id, action = ?verdict.action, score = verdict.score, reasons = ?verdict.reasons, "post screened");
                verdict_reasons = Some(verdict.reasons.clone());
                verdict.action
            }
        };
        let target = match action {
            Action::Approve => order.clean,
            Action::Hold => PostState::Pending,
            Action::Spam => PostState::Spam,
        };
        if target == post.state {
            return self.announce(job, &post, author.as_ref()).await;
        }
        let why = verdict_reasons.filter(|r| !r.is_empty()).map(|r| r.join(", "));
        let queued = order.queued.unwrap_or(post.state);
        let Some(change) = crate::writes::moderation::screened(&self.writes, &post, queued, target, why).await? else {
            // A moderator (or the author, or readers' flags) decided while it waited or
            // while the filter judged it: their decision stands. The verdict is recorded.
            tracing::info!(post = %post.id, "decided on since it was queued; the filter's verdict is not applied");
            return Ok(vec![]);
        };
        if change.after.state == PostState::Approved {
            // Its post.approved event announces it.
            return Ok(vec![]);
        }
        self.announce(job, &change.after, author.as_ref()).await
    }

    /// The built-in filter's verdict, then the outside service's opinion if the forum
    /// asks for it (its failure is logged, not fatal: the built-in verdict stands).
    async fn judge(
        &self,
        forum: &confab_core::model::Forum,
        post: &Post,
        author: Option<&Author>,
        client: Option<&confab_core::jobs::ClientInfo>,
    ) -> Result<spam::Verdict, Failure> {
        let tokens = spam::tokens(post.message.as_str());
        let learnt = self.store.spam_model(forum.id, &tokens).await?;
        let score = spam::spam_probability(spam::Model::seed(), Some(&learnt), &tokens);
        let now = self.clock.now();
        let ctx = self.store.spam_context(post, now, 24 * 3600 * 1000, 10 * 60 * 1000).await?;
        let signals = spam::Signals {
            duplicates: ctx.duplicates,
            author_posts: ctx.author_posts,
            author_recent: ctx.author_recent,
            signed_in: author.is_some_and(|a| a.kind != AuthorKind::Guest),
        };
        let mut verdict = spam::judge(post.message.as_str(), &tokens, score, signals);
        if let (true, Some(service), Some(client)) = (forum.policy.akismet, &self.akismet, client)
            && verdict.action != Action::Spam
            && self.live.on_for(switches::SPAM_SERVICE, Some(forum.shortname.as_str()), None)
        {
            let thread = self.store.thread_get(post.thread_id).await?;
            match service.check(&self.outbound, post, author, &thread, client).await {
                Ok(crate::akismet::Opinion::Ham) => {}
                Ok(crate::akismet::Opinion::Spam | crate::akismet::Opinion::Blatant) => {
                    verdict.action = Action::Spam;
                    verdict.reasons.push("akismet");
                }
                Err(e) => {
                    tracing::warn!(post = %post.id, error = %e, "the spam service failed; the built-in verdict stands")
                }
            }
        }
        Ok(verdict)
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

fn parse_email(s: &str) -> Result<confab_core::input::Email, Failure> {
    confab_core::input::Email::parse(s).map_err(|_| Failure::Permanent("the recipient address is invalid".into()))
}
