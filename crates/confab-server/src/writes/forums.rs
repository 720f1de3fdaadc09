//! Forums' writes: settings, keys, deletion. The caller has checked that the principal
//! owns the forum (or holds the admin token), and the settings are checked values.

use confab_core::id::Id;
use confab_core::model::{Forum, ForumKeys, ForumUpdate};

use super::{Change, Writes};
use crate::error::ApiError;

/// A forum's name, origins or policy changed; the forum as it is now.
pub(crate) async fn update(w: &Writes, forum: &Forum, update: ForumUpdate) -> Result<Forum, ApiError> {
    let forum = w.store.forum_update(forum.id, update).await?;
    w.committed(&[Change::Forum(&forum)]).await;
    tracing::info!(forum = %forum.id, "forum settings changed");
    Ok(forum)
}

/// New public and secret keys: every SSO payload signed with the old secret ends.
pub(crate) async fn rotate_keys(w: &Writes, forum: &Forum) -> Result<ForumKeys, ApiError> {
    let keys = w.store.forum_keys_rotate(forum.id, ForumKeys::generate(w.clock.now())).await?;
    tracing::info!(forum = %forum.id, "forum keys rotated");
    Ok(keys)
}

/// Begins a forum's deletion (see `Store::forum_delete_begin`): hidden from every read
/// at once, its data purged by the job whose id this returns.
pub(crate) async fn delete(w: &Writes, forum: &Forum) -> Result<Id, ApiError> {
    let job = w.store.forum_delete_begin(forum.id, w.clock.now()).await?;
    w.committed(&[Change::ForumGone(forum)]).await;
    tracing::info!(forum = %forum.id, job = %job, "forum deletion begun");
    Ok(job)
}
