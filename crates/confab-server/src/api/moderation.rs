//! Moderation: a post's state changed by a moderator (approve, hold, spam, delete,
//! restore), one at a time or in bulk, with the reason in the moderation log; the
//! queues; a post's history. Every action checks the moderator's role in the post's
//! own forum. Decisions about spam teach the forum's classifier.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use confab_core::id::Id;
use confab_core::input::InputError;
use confab_core::model::{Author, Forum, ModerationEntry, Post, PostState};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::{Power, Principal};
use crate::error::ApiError;
use crate::extract::{Json, PathForum, PathId, Query};
use crate::views::{AuthorView, PostView, ThreadView, rfc3339};

const MAX_REASON_CHARS: usize = 500;
const MAX_BULK: usize = 100;
const MAX_PAGE: u32 = 100;

/// What a moderator does to a post.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Action {
    /// Show it (also restores a deleted or spam post).
    Approve,
    /// Take it off the page to decide later.
    Hold,
    Spam,
    /// Soft delete: restorable, replies keep their place.
    Delete,
}

impl Action {
    fn state(self) -> PostState {
        match self {
            Action::Approve => PostState::Approved,
            Action::Hold => PostState::Pending,
            Action::Spam => PostState::Spam,
            Action::Delete => PostState::Deleted,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Decision {
    action: Action,
    reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BulkDecision {
    posts: Vec<Id>,
    action: Action,
    reason: Option<String>,
}

fn reason(r: Option<String>) -> Result<Option<String>, ApiError> {
    match r.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty()) {
        Some(r) if r.chars().count() > MAX_REASON_CHARS => {
            Err(InputError::new("reason", "too_long", format!("at most {MAX_REASON_CHARS} characters")).into())
        }
        r => Ok(r),
    }
}

/// A post as moderators see it: every state, the author's address.
fn mod_view(p: &Post, author: Option<&Author>) -> Value {
    let mut v = serde_json::to_value(PostView::new(p, author)).expect("views serialise");
    // Moderators see what was there, also in a deleted post.
    v["message"] = json!(p.html);
    v["raw_message"] = json!(p.message.as_str());
    v["author"] = json!(author.map(AuthorView::from));
    v["author_email"] = json!(author.and_then(|a| a.email.as_ref()).map(|e| e.as_str()));
    v
}

fn entry_view(e: &ModerationEntry) -> Value {
    json!({
        "by": e.by,
        "from": e.from,
        "to": e.to,
        "reason": e.reason,
        "at": rfc3339(e.at),
    })
}

/// The post and its forum, once the principal may moderate there.
async fn moderated(state: &AppState, who: &Principal, id: Id) -> Result<(Post, Forum), ApiError> {
    let post = state.store.post_get(id).await?;
    let forum = state.store.forum_get(post.forum_id).await?;
    who.require(state, Some(&forum), Power::Moderate).await?;
    Ok((post, forum))
}

/// Applies a decision to one post the principal may moderate; teaches the classifier.
async fn decide(
    state: &AppState,
    who: &Principal,
    post: &Post,
    action: Action,
    why: Option<String>,
) -> Result<confab_store::StateChange, ApiError> {
    let by = who.moderator().ok_or(ApiError::Unauthorized)?;
    let change = state.store.post_set_state(post.id, action.state(), by, why, state.clock.now()).await?;
    if change.before.state != change.after.state {
        state.wake_workers();
        // A moderator's word on spam is what the forum's classifier learns from.
        let learn = match (change.before.state, change.after.state) {
            (_, PostState::Spam) => Some(true),
            (PostState::Spam | PostState::Pending, PostState::Approved) => Some(false),
            _ => None,
        };
        if let Some(spam) = learn {
            let tokens = confab_core::spam::tokens(post.message.as_str());
            state.store.spam_learn(post.forum_id, &tokens, spam).await?;
        }
        tracing::info!(post = %post.id, from = ?change.before.state, to = ?change.after.state, by = by.kind(), "post moderated");
    }
    Ok(change)
}

pub(crate) async fn moderate_post(
    State(state): State<AppState>,
    who: Principal,
    PathId(id): PathId,
    Json(body): Json<Decision>,
) -> Result<impl IntoResponse, ApiError> {
    let why = reason(body.reason)?;
    let (post, forum) = moderated(&state, &who, id).await?;
    let change = decide(&state, &who, &post, body.action, why).await?;
    let author = state.store.authors_get_many(&[change.after.author_id]).await?.into_iter().next();
    Ok((
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(json!({
            "post": mod_view(&change.after, author.as_ref()),
            "thread": ThreadView::new(&change.thread, forum.shortname.as_str()),
            "changed": change.before.state != change.after.state,
        })),
    ))
}

pub(crate) async fn moderate_many(
    State(state): State<AppState>,
    who: Principal,
    PathForum(forum): PathForum,
    Json(body): Json<BulkDecision>,
) -> Result<impl IntoResponse, ApiError> {
    let why = reason(body.reason)?;
    if body.posts.is_empty() || body.posts.len() > MAX_BULK {
        return Err(InputError::new("posts", "count", format!("1 to {MAX_BULK} post ids")).into());
    }
    let forum = state.store.forum_by_shortname(&forum).await?;
    who.require(&state, Some(&forum), Power::Moderate).await?;
    let mut results = Vec::with_capacity(body.posts.len());
    for id in body.posts {
        // Each post on its own: one that is missing or of another forum does not stop the rest.
        let outcome = match state.store.post_get(id).await {
            Ok(p) if p.forum_id == forum.id => decide(&state, &who, &p, body.action, why.clone()).await.map(Some),
            Ok(_) | Err(confab_store::StoreError::PostNotFound) => Ok(None),
            Err(e) => Err(e.into()),
        };
        results.push(match outcome {
            Ok(Some(c)) => json!({ "id": id, "state": c.after.state, "changed": c.before.state != c.after.state }),
            Ok(None) => json!({ "id": id, "error": "post_not_found" }),
            Err(e) => json!({ "id": id, "error": e.code() }),
        });
    }
    Ok(([(header::CACHE_CONTROL, "no-store")], axum::Json(json!({ "results": results }))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct QueueQuery {
    state: Option<String>,
    before: Option<String>,
    limit: Option<u32>,
}

pub(crate) async fn queue(
    State(state): State<AppState>,
    who: Principal,
    PathForum(forum): PathForum,
    Query(q): Query<QueueQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let forum = state.store.forum_by_shortname(&forum).await?;
    who.require(&state, Some(&forum), Power::Moderate).await?;
    let wanted = match q.state.as_deref().unwrap_or("pending") {
        "all" => None,
        s => Some(
            serde_json::from_value::<PostState>(json!(s))
                .map_err(|_| ApiError::InvalidQuery("state: pending, approved, spam, deleted or all".into()))?,
        ),
    };
    let before = q
        .before
        .map(|b| b.parse::<Id>().map_err(|_| ApiError::InvalidQuery("before: a post id".into())))
        .transpose()?;
    let limit = q.limit.unwrap_or(50).clamp(1, MAX_PAGE);
    let posts = state.store.moderation_queue(forum.id, wanted, before, limit).await?;
    let ids: Vec<Id> = posts.iter().map(|p| p.author_id).collect();
    let authors: std::collections::HashMap<Id, Author> =
        state.store.authors_get_many(&ids).await?.into_iter().map(|a| (a.id, a)).collect();
    let next = (posts.len() as u32 == limit).then(|| posts.last().map(|p| p.id.to_string())).flatten();
    let body = json!({
        "posts": posts.iter().map(|p| mod_view(p, authors.get(&p.author_id))).collect::<Vec<_>>(),
        "before": next,
    });
    Ok(([(header::CACHE_CONTROL, "no-store")], axum::Json(body)))
}

pub(crate) async fn history(
    State(state): State<AppState>,
    who: Principal,
    PathId(id): PathId,
) -> Result<impl IntoResponse, ApiError> {
    let (post, _) = moderated(&state, &who, id).await?;
    let log = state.store.moderation_log(post.id).await?;
    let verdict = state
        .store
        .spam_verdict(post.id)
        .await?
        .map(|v| json!({ "action": v.action, "score": v.score, "reasons": v.reasons, "at": rfc3339(v.at) }));
    let author = state.store.authors_get_many(&[post.author_id]).await?.into_iter().next();
    Ok((
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(json!({
            "post": mod_view(&post, author.as_ref()),
            "spam_verdict": verdict,
            "log": log.iter().map(entry_view).collect::<Vec<_>>(),
        })),
    ))
}
