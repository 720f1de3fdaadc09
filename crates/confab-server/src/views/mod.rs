//! JSON views: the wire contract of API v1. Domain types map into these and nothing
//! else is serialised, so private fields (emails, edit tokens, paths) cannot leak by
//! accident. Ids are strings; times are RFC 3339 in UTC with milliseconds.

use std::collections::HashMap;

use confab_core::id::Id;
use confab_core::model::{Account, Author, Forum, ForumPolicy, Post, PostState, Session, Thread, UnixMs};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub mod accounts;
pub mod answers;
pub mod errors;
pub mod forums;
pub mod jobs;
pub mod moderation;
pub mod switches;
pub mod webhooks;

pub fn rfc3339(ms: UnixMs) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    t.format(&fmt).unwrap_or_default()
}

#[derive(Serialize, ToSchema)]
#[schema(as = Forum)]
pub struct ForumView {
    pub id: Id,
    pub shortname: String,
    pub name: String,
    pub origins: Vec<String>,
    /// Without `restricted_words` and `restricted_names` unless the reader moderates the
    /// forum.
    #[schema(value_type = ForumPolicy)]
    pub policy: PolicyView,
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl From<&Forum> for ForumView {
    /// The whole view, as the forum's moderators and administrators see it.
    fn from(f: &Forum) -> Self {
        ForumView {
            id: f.id,
            shortname: f.shortname.to_string(),
            name: f.name.to_string(),
            origins: f.origins.iter().map(ToString::to_string).collect(),
            policy: PolicyView { policy: f.policy.clone(), restricted: true },
            created_at: rfc3339(f.created_at),
        }
    }
}

impl ForumView {
    /// The view for everyone else: the restricted word and name lists are for the
    /// forum's moderators only (shown to all, they would be a spammer's list of what to
    /// avoid).
    pub fn public(f: &Forum) -> Self {
        let mut v = ForumView::from(f);
        v.policy.restricted = false;
        v
    }
}

/// A forum's policy with or without its restricted lists.
pub struct PolicyView {
    policy: ForumPolicy,
    restricted: bool,
}

impl Serialize for PolicyView {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.restricted {
            return self.policy.serialize(s);
        }
        // Every other field as the policy serialises it, so a field added later is shown.
        let mut fields = serde_json::to_value(&self.policy).map_err(serde::ser::Error::custom)?;
        if let Some(map) = fields.as_object_mut() {
            map.remove("restricted_words");
            map.remove("restricted_names");
        }
        fields.serialize(s)
    }
}

#[derive(Serialize, ToSchema)]
#[schema(as = Thread)]
pub struct ThreadView {
    pub id: Id,
    pub forum: String,
    pub identifier: String,
    #[schema(required = true)]
    pub url: Option<String>,
    #[schema(required = true)]
    pub title: Option<String>,
    /// Takes no posts: closed by a moderator, past the forum's auto-close age, or the
    /// forum is read-only.
    pub closed: bool,
    /// Approved posts
    pub posts: i64,
    /// The post moderators pinned to the top; null when none.
    #[schema(required = true)]
    pub pinned: Option<Id>,
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl ThreadView {
    pub fn new(t: &Thread, forum: &str) -> Self {
        ThreadView {
            id: t.id,
            forum: forum.to_owned(),
            identifier: t.identifier.to_string(),
            url: t.url.as_ref().map(ToString::to_string),
            title: t.title.as_ref().map(ToString::to_string),
            closed: t.closed,
            posts: t.posts,
            pinned: t.pinned,
            created_at: rfc3339(t.created_at),
        }
    }

    /// The view with the forum's policy applied to `closed` (read-only, auto-close).
    pub fn in_forum(t: &Thread, forum: &Forum, now: UnixMs) -> Self {
        let mut v = ThreadView::new(t, forum.shortname.as_str());
        v.closed = t.closed || forum.policy.read_only || forum.policy.auto_closed(t.created_at, now);
        v
    }
}

/// Also what the cache keeps of an author (public fields only).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = Author)]
pub struct AuthorView {
    pub id: Id,
    pub kind: confab_core::model::AuthorKind,
    pub name: String,
    #[schema(required = true)]
    pub url: Option<String>,
    /// SHA-256 of the lowercased email, for Gravatar/Libravatar; null without email.
    #[schema(required = true)]
    pub avatar_hash: Option<String>,
    /// An avatar image the author's site supplied (SSO users); null otherwise.
    #[schema(required = true)]
    pub avatar_url: Option<String>,
}

impl From<&Author> for AuthorView {
    fn from(a: &Author) -> Self {
        AuthorView {
            id: a.id,
            kind: a.kind,
            name: a.name.to_string(),
            url: a.url.as_ref().map(ToString::to_string),
            avatar_hash: a.email.as_ref().map(|e| e.avatar_hash()),
            avatar_url: a.avatar_url.as_ref().map(ToString::to_string),
        }
    }
}

/// An account as its holder sees it (only ever sent to the account's own session).
#[derive(Serialize, ToSchema)]
#[schema(as = Account)]
pub struct AccountView {
    pub id: Id,
    pub username: String,
    pub email: String,
    pub email_verified: bool,
    pub avatar_hash: String,
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl From<&Account> for AccountView {
    fn from(a: &Account) -> Self {
        AccountView {
            id: a.id,
            username: a.username.to_string(),
            email: a.email.to_string(),
            email_verified: a.email_verified,
            avatar_hash: a.email.avatar_hash(),
            created_at: rfc3339(a.created_at),
        }
    }
}

/// A signed-in device, as listed to its account.
#[derive(Serialize, ToSchema)]
#[schema(as = Session)]
pub struct SessionView {
    pub id: Id,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub expires_at: String,
    /// The session this request is made with.
    pub current: bool,
}

impl SessionView {
    pub fn new(s: &Session, current: Id) -> Self {
        SessionView {
            id: s.id,
            created_at: rfc3339(s.created_at),
            expires_at: rfc3339(s.expires_at),
            current: s.id == current,
        }
    }
}

/// A post. Deleted posts keep their place and counters but show no text or author.
#[derive(Serialize, ToSchema)]
#[schema(as = Post)]
pub struct PostView {
    pub id: Id,
    pub thread: Id,
    #[schema(required = true)]
    pub parent: Option<Id>,
    #[schema(minimum = 0)]
    pub depth: u32,
    pub state: PostState,
    /// Sanitised HTML; null when deleted.
    #[schema(required = true)]
    pub message: Option<String>,
    /// The Markdown as written; null when deleted.
    #[schema(required = true)]
    pub raw_message: Option<String>,
    #[schema(required = true)]
    pub author: Option<AuthorView>,
    pub likes: i64,
    pub dislikes: i64,
    pub points: i64,
    /// Approved replies below this post, at any depth.
    pub descendants: i64,
    /// Moderators marked it as worth reading.
    pub highlighted: bool,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(required = true, format = DateTime)]
    pub edited_at: Option<String>,
}

impl PostView {
    pub fn new(p: &Post, author: Option<&Author>) -> Self {
        PostView::public(p, author.map(AuthorView::from))
    }

    /// With the author's public view (as the cache keeps it).
    pub fn public(p: &Post, author: Option<AuthorView>) -> Self {
        let shown = p.state != PostState::Deleted;
        PostView {
            id: p.id,
            thread: p.thread_id,
            parent: p.parent_id,
            depth: p.depth,
            state: p.state,
            message: shown.then(|| p.html.clone()),
            raw_message: shown.then(|| p.message.to_string()),
            author: author.filter(|_| shown),
            likes: p.likes,
            dislikes: p.dislikes,
            points: p.points(),
            descendants: p.descendants,
            highlighted: p.highlighted && shown,
            created_at: rfc3339(p.created_at),
            edited_at: p.edited_at.map(rfc3339),
        }
    }

    /// Maps posts with their authors from a `get_many` result.
    pub fn many<'a>(posts: impl IntoIterator<Item = &'a Post>, authors: &HashMap<Id, AuthorView>) -> Vec<PostView> {
        posts.into_iter().map(|p| PostView::public(p, authors.get(&p.author_id).cloned())).collect()
    }
}

/// A root in a thread page with the first replies of its subtree.
#[derive(Serialize, ToSchema)]
#[schema(as = RootPost)]
pub struct RootView {
    #[serde(flatten)]
    pub post: PostView,
    /// Replies in tree order (each names its parent and depth).
    pub replies: Vec<PostView>,
    /// Pass to `GET /api/v1/posts/{id}/replies` to continue this subtree; null when complete.
    #[schema(required = true)]
    pub replies_cursor: Option<String>,
}
