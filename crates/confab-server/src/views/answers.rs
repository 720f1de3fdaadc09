//! The answers of the writes and small reads that are not a resource of their own: a
//! post created or deleted, a vote, counts, bans, a subscription, a flag.

use confab_core::id::Id;
use confab_core::model::{Ban, Moderator, Post};
use serde::Serialize;

use super::{PostView, ThreadView, rfc3339};

/// `POST /forums/{forum}/posts`: the post as its author sees it, its thread, and the
/// token that lets a guest edit it until `edit_expires_at` (shown once).
#[derive(Serialize)]
pub struct CreatedPostView {
    pub post: PostView,
    pub thread: ThreadView,
    pub edit_token: String,
    pub edit_expires_at: String,
}

/// A post and its thread after a change (a deletion).
#[derive(Serialize)]
pub struct PostAndThread {
    pub post: PostView,
    pub thread: ThreadView,
}

/// Posts without a cursor (the reader's own held posts).
#[derive(Serialize)]
pub struct PostList {
    pub posts: Vec<PostView>,
}

/// A page of replies; `cursor` continues it (null when complete).
#[derive(Serialize)]
pub struct RepliesPageView {
    pub posts: Vec<PostView>,
    pub cursor: Option<String>,
}

/// A post's counters after a vote.
#[derive(Serialize)]
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
#[derive(Serialize)]
pub struct VoteResult {
    pub post: VoteCounts,
    pub vote: i64,
    pub previous: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voter_token: Option<String>,
}

/// A thread's count, named as it was asked for.
#[derive(Serialize)]
#[serde(untagged)]
pub enum CountView {
    Identifier { identifier: String, posts: i64 },
    Url { url: String, posts: i64 },
}

#[derive(Serialize)]
pub struct CountsView {
    pub counts: Vec<CountView>,
}

#[derive(Serialize)]
pub struct BanView {
    pub id: Id,
    pub kind: &'static str,
    pub value: String,
    pub reason: Option<String>,
    pub by: Moderator,
    pub expires_at: Option<String>,
    pub shadow: bool,
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

#[derive(Serialize)]
pub struct BanList {
    pub bans: Vec<BanView>,
}

#[derive(Serialize)]
pub struct Subscribed {
    pub subscribed: bool,
}

/// A flag taken (the answer never says how many a post has).
#[derive(Serialize)]
pub struct Flagged {
    pub flagged: bool,
}

/// `GET /health`.
#[derive(Serialize)]
pub struct Health {
    pub status: &'static str,
}
