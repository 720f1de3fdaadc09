//! Moderation's writes: a moderator's (or owner's, or the forum's key's) decision on a
//! post, highlights and pins, and the spam filter's verdict from the screening job.
//! The caller has checked that `by` may moderate the post's forum.

use confab_core::input::InputError;
use confab_core::model::{Moderator, Post, PostState, Thread};
use confab_store::StateChange;
use serde::Deserialize;

use super::{Change, Writes};
use crate::error::ApiError;

/// What a moderator does to a post.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[schema(as = ModerationAction)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Action {
    /// Show it (also restores a deleted or spam post).
    Approve,
    /// Take it off the page to decide later.
    Hold,
    Spam,
    /// Soft delete: restorable, replies keep their place.
    Delete,
    /// Mark it as worth reading (the widget sets it apart).
    Highlight,
    Unhighlight,
    /// Put it at the top of its thread (one pinned post per thread).
    Pin,
    Unpin,
}

impl Action {
    /// The state the action moves a post to; `None` for the marks that leave it be.
    pub(crate) fn state(self) -> Option<PostState> {
        match self {
            Action::Approve => Some(PostState::Approved),
            Action::Hold => Some(PostState::Pending),
            Action::Spam => Some(PostState::Spam),
            Action::Delete => Some(PostState::Deleted),
            Action::Highlight | Action::Unhighlight | Action::Pin | Action::Unpin => None,
        }
    }
}

/// Moves `post` to `to` on `by`'s word (logged with `why`), and teaches the forum's
/// classifier what a moderator says about spam.
pub(crate) async fn decide(
    w: &Writes,
    by: Moderator,
    post: &Post,
    to: PostState,
    why: Option<String>,
) -> Result<StateChange, ApiError> {
    let change = w.store.post_set_state(post.id, to, by, why, w.clock.now()).await?;
    if change.before.state == change.after.state {
        return Ok(change);
    }
    w.committed(&[Change::Thread(post.thread_id)]).await;
    // A moderator's word on spam is what the forum's classifier learns from.
    let learn = match (change.before.state, change.after.state) {
        (_, PostState::Spam) => Some(true),
        (PostState::Spam | PostState::Pending, PostState::Approved) => Some(false),
        _ => None,
    };
    if let Some(spam) = learn {
        let tokens = confab_core::spam::tokens(post.message.as_str());
        w.store.spam_learn(post.forum_id, &tokens, spam).await?;
    }
    tracing::info!(post = %post.id, from = ?change.before.state, to = ?change.after.state, by = by.kind(), "post moderated");
    Ok(change)
}

/// Highlights or pins `post` (only what readers can see), or undoes it. Returns the
/// post and its thread as they are now, and whether anything changed.
pub(crate) async fn mark(w: &Writes, post: &Post, action: Action) -> Result<(Post, Thread, bool), ApiError> {
    let on = matches!(action, Action::Highlight | Action::Pin);
    if on && post.state != PostState::Approved {
        return Err(
            InputError::new("action", "not_approved", "only an approved post can be highlighted or pinned").into()
        );
    }
    let (post, thread, changed) = match action {
        Action::Highlight | Action::Unhighlight => {
            let changed = post.highlighted != on;
            let after =
                if changed { w.store.post_set_highlighted(post.id, on, w.clock.now()).await? } else { post.clone() };
            (after, w.store.thread_get(post.thread_id).await?, changed)
        }
        _ => {
            let thread = w.store.thread_get(post.thread_id).await?;
            let target = if on { Some(post.id) } else { thread.pinned.filter(|p| *p != post.id) };
            let changed = thread.pinned != target;
            let thread = if changed { w.store.thread_set_pinned(thread.id, target).await? } else { thread };
            (post.clone(), thread, changed)
        }
    };
    if changed {
        w.committed(&[Change::Thread(thread.id)]).await;
    }
    Ok((post, thread, changed))
}

/// The spam filter's verdict on a post it screened: `target`, if nobody decided on the
/// post since it was queued in state `queued` (else `None`: their decision stands).
pub(crate) async fn screened(
    w: &Writes,
    post: &Post,
    queued: PostState,
    target: PostState,
    why: Option<String>,
) -> Result<Option<StateChange>, confab_store::StoreError> {
    let change = w.store.post_screened(post.id, queued, target, why, w.clock.now()).await?;
    if change.is_some() {
        w.committed(&[Change::Thread(post.thread_id)]).await;
    }
    Ok(change)
}
