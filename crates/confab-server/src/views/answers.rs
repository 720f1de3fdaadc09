//! The answers of the writes and small reads that are not a resource of their own: a
//! post created or deleted, a vote, counts, bans, a subscription, a flag.

use confab_core::id::Id;
use confab_core::model::{Ban, Moderator, Post};
use serde::Serialize;

use super::{PostView, ThreadView, rfc3339};
use utoipa::ToSchema;

/// `POST /forums/{forum}/posts`: the post as its author sees it, its thread, and the
/// token that lets a guest edit it until `edit_expires_at` (shown once).
#[derive(Serialize, ToSchema)]
#[schema(as = CreatedPost)]
pub struct CreatedPostView {
    pub post: PostView,
    pub thread: ThreadView,
    /// Send as X-Confab-Edit-Token to edit or delete; shown only here
    pub edit_token: String,
    #[schema(format = DateTime)]
    pub edit_expires_at: String,
}

/// A post and its thread after a change (a deletion).
#[derive(Serialize, ToSchema)]
pub struct PostAndThread {
    pub post: PostView,
    pub thread: ThreadView,
}

/// Posts without a cursor (the reader's own held posts).
#[derive(Serialize, ToSchema)]
pub struct PostList {
    pub posts: Vec<PostView>,
}

/// A page of replies; `cursor` continues it (null when complete).
#[derive(Serialize, ToSchema)]
#[schema(as = RepliesPage)]
pub struct RepliesPageView {
    pub posts: Vec<PostView>,
    #[schema(required = true)]
    pub cursor: Option<String>,
}

/// A post's counters after a vote.
#[derive(Serialize, ToSchema)]
pub struct VoteCounts {
    pub id: Id,
    pub likes: i64,
    pub dislikes: i64,
    pub points: i64,
}

impl From<&Post> for VoteCounts {
    fn from(p: &Post) -> Self {
        VoteCounts { id: p.id, likes: p.likes, dislikes: p.dislikes, points: p.points() }
    }
}

/// The reader's vote now and before; a guest without a voter token gets one, once.
#[derive(Serialize, ToSchema)]
pub struct VoteResult {
    pub post: VoteCounts,
    #[schema(minimum = -1, maximum = 1)]
    pub vote: i64,
    #[schema(minimum = -1, maximum = 1)]
    pub previous: i64,
    /// Only when the server minted one: keep it
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voter_token: Option<String>,
}

/// A thread's count, named as it was asked for.
#[derive(Serialize, ToSchema)]
#[schema(as = ThreadCount)]
#[serde(untagged)]
pub enum CountView {
    Identifier { identifier: String, posts: i64 },
    Url { url: String, posts: i64 },
}

#[derive(Serialize, ToSchema)]
#[schema(as = Counts)]
pub struct CountsView {
    pub counts: Vec<CountView>,
}

#[derive(Serialize, ToSchema)]
#[schema(as = Ban)]
pub struct BanView {
    pub id: Id,
    #[schema(schema_with = ban_kinds)]
    pub kind: &'static str,
    pub value: String,
    #[schema(required = true)]
    pub reason: Option<String>,
    pub by: Moderator,
    #[schema(required = true, format = DateTime)]
    pub expires_at: Option<String>,
    /// A shadow ban: posts are taken but shown only to their author
    pub shadow: bool,
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl From<&Ban> for BanView {
    fn from(b: &Ban) -> Self {
        BanView {
            id: b.id,
            kind: b.target.kind(),
            value: b.target.value(),
            reason: b.reason.clone(),
            by: b.by,
            expires_at: b.expires_at.map(rfc3339),
            shadow: b.shadow,
            created_at: rfc3339(b.created_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct BanList {
    pub bans: Vec<BanView>,
}

#[derive(Serialize, ToSchema)]
pub struct Subscribed {
    pub subscribed: bool,
}

/// A flag taken (the answer never says how many a post has).
#[derive(Serialize, ToSchema)]
pub struct Flagged {
    pub flagged: bool,
}

/// `GET /health`.
#[derive(Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
}

/// What a ban names: the four kinds [`confab_core::model::BanTarget`] parses.
pub(crate) fn ban_kinds() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .enum_values(Some(["account", "email", "domain", "ip"]))
        .build()
}
