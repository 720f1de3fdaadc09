//! Webhooks as their forum's owners see them, with the log of delivery attempts.

use confab_core::id::Id;
use confab_core::jobs::EventKind;
use confab_store::{Webhook, WebhookAttempt};
use serde::Serialize;

use super::rfc3339;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
#[schema(as = Webhook)]
pub struct WebhookView {
    pub id: Id,
    pub url: String,
    pub events: Vec<EventKind>,
    pub hub_signature: bool,
    /// Signs every delivery (`X-Confab-Signature`, and `X-Hub-Signature` when asked);
    /// shown to owners only.
    pub secret: String,
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl From<&Webhook> for WebhookView {
    fn from(h: &Webhook) -> Self {
        WebhookView {
            id: h.id,
            url: h.url.to_string(),
            events: h.events.clone(),
            hub_signature: h.hub_signature,
            secret: h.secret.clone(),
            created_at: rfc3339(h.created_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct WebhookList {
    pub webhooks: Vec<WebhookView>,
}

#[derive(Serialize, ToSchema)]
#[schema(as = WebhookAttempt)]
pub struct AttemptView {
    /// The delivery's id: the same for every attempt of one delivery.
    pub delivery: Id,
    pub event: EventKind,
    pub attempt: u32,
    #[schema(format = DateTime)]
    pub at: String,
    #[schema(required = true)]
    pub status: Option<u16>,
    #[schema(required = true)]
    pub error: Option<String>,
    pub duration_ms: u32,
}

impl From<&WebhookAttempt> for AttemptView {
    fn from(a: &WebhookAttempt) -> Self {
        AttemptView {
            delivery: a.delivery_id,
            event: a.event,
            attempt: a.attempt,
            at: rfc3339(a.at),
            status: a.status,
            error: a.error.clone(),
            duration_ms: a.duration_ms,
        }
    }
}

/// A page of the attempt log, newest first; `before` continues it.
#[derive(Serialize, ToSchema)]
pub struct AttemptLog {
    pub attempts: Vec<AttemptView>,
    #[schema(required = true)]
    pub before: Option<i64>,
}
