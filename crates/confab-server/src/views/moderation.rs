//! What moderators are shown: posts in every state with the author's address, the
//! log, the filter's verdict, readers' flags, bulk results, stats.

use confab_core::id::Id;
use confab_core::model::{Author, Flag, FlagReason, ModerationEntry, Moderator, Post, PostState};
use confab_store::SpamRecord;
use serde::Serialize;

use super::{AuthorView, PostView, ThreadView, rfc3339};
use utoipa::ToSchema;

/// A post as moderators see it: every state, what was written also when deleted, the
/// author's address, and readers' flags.
#[derive(Serialize, ToSchema)]
#[schema(as = ModeratedPost)]
pub struct ModeratedPostView {
    #[serde(flatten)]
    pub post: PostView,
    #[schema(required = true)]
    /// The address the author gave, if any.
    pub author_email: Option<String>,
    /// Readers' flags since the post was last approved.
    pub flags: i64,
}

impl ModeratedPostView {
    pub fn new(p: &Post, author: Option<&Author>) -> Self {
        let mut post = PostView::new(p, author);
        // Moderators see what was there, also in a deleted post.
        post.message = Some(p.html.clone());
        post.raw_message = Some(p.message.to_string());
        post.author = author.map(AuthorView::from);
        post.highlighted = p.highlighted;
        ModeratedPostView {
            post,
            author_email: author.and_then(|a| a.email.as_ref()).map(|e| e.as_str().to_owned()),
            flags: p.flags,
        }
    }
}

/// `POST /posts/{id}/moderation`: the post and thread after the decision.
#[derive(Serialize, ToSchema)]
pub struct ModerationResult {
    pub post: ModeratedPostView,
    pub thread: ThreadView,
    /// False when the post already was as asked.
    pub changed: bool,
}

/// One post of a bulk decision: its new state, or why it was not decided.
#[derive(Serialize, ToSchema)]
#[schema(as = BulkResult)]
#[serde(untagged)]
pub enum BulkItem {
    Done { id: Id, state: PostState, changed: bool },
    Failed { id: Id, error: &'static str },
}

#[derive(Serialize, ToSchema)]
pub struct BulkResults {
    pub results: Vec<BulkItem>,
}

/// A page of a moderation queue; `before` continues it.
#[derive(Serialize, ToSchema)]
pub struct QueuePage {
    pub posts: Vec<ModeratedPostView>,
    #[schema(required = true)]
    pub before: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[schema(as = ModerationEntry)]
pub struct EntryView {
    /// {kind: account|admin_token|secret_key|filter|author, id}
    pub by: Moderator,
    pub from: PostState,
    pub to: PostState,
    #[schema(required = true)]
    pub reason: Option<String>,
    #[schema(format = DateTime)]
    pub at: String,
}

impl From<&ModerationEntry> for EntryView {
    fn from(e: &ModerationEntry) -> Self {
        EntryView { by: e.by, from: e.from, to: e.to, reason: e.reason.clone(), at: rfc3339(e.at) }
    }
}

#[derive(Serialize, ToSchema)]
#[schema(as = SpamVerdict)]
pub struct VerdictView {
    pub action: confab_core::spam::Action,
    pub score: f64,
    pub reasons: Vec<String>,
    pub at: String,
}

impl From<SpamRecord> for VerdictView {
    fn from(v: SpamRecord) -> Self {
        VerdictView { action: v.action, score: v.score, reasons: v.reasons, at: rfc3339(v.at) }
    }
}

#[derive(Serialize, ToSchema)]
#[schema(as = ReaderFlag)]
pub struct FlagView {
    pub reason: FlagReason,
    #[schema(required = true)]
    pub note: Option<String>,
    pub at: String,
}

impl From<&Flag> for FlagView {
    fn from(f: &Flag) -> Self {
        FlagView { reason: f.reason, note: f.note.clone(), at: rfc3339(f.at) }
    }
}

/// `GET /posts/{id}/moderation`: the post, the filter's verdict, flags and the log.
#[derive(Serialize, ToSchema)]
pub struct PostHistory {
    pub post: ModeratedPostView,
    #[schema(required = true)]
    pub spam_verdict: Option<VerdictView>,
    pub flags: Vec<FlagView>,
    pub log: Vec<EntryView>,
}

#[derive(Serialize, ToSchema)]
#[schema(as = QueueSizes)]
pub struct QueueSizesView {
    pub pending: u64,
    pub flagged: u64,
    pub spam: u64,
    pub shadow: u64,
}

#[derive(Serialize, ToSchema)]
#[schema(as = StatsDay)]
pub struct DayView {
    /// `2026-12-04` (UTC).
    #[schema(format = Date)]
    pub day: String,
    pub posts: u64,
    pub spam: u64,
}

/// `GET /forums/{forum}/moderation/stats`.
#[derive(Serialize, ToSchema)]
pub struct StatsView {
    pub queues: QueueSizesView,
    pub days: Vec<DayView>,
    pub posts: u64,
    pub spam: u64,
    pub spam_rate: f64,
}
