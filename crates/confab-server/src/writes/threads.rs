//! Threads' writes: one made ahead of its first post, corrected, closed or reopened.
//! The caller has checked that the principal may manage the forum's threads.

use confab_core::id::Id;
use confab_core::input::{Title, WebUrl};
use confab_core::model::{Forum, Thread, ThreadSpec};

use super::{Change, Writes};
use crate::error::ApiError;

/// A thread made before anyone comments (its page's address and title given).
pub(crate) async fn create(w: &Writes, forum: &Forum, spec: ThreadSpec) -> Result<Thread, ApiError> {
    let thread = w.store.thread_create(forum, spec, w.clock.now()).await?;
    // "No such thread" may be cached for its page: the look-ups are made anew.
    w.committed(&[Change::Thread(thread.id)]).await;
    Ok(thread)
}

/// A thread's address or title corrected in place (its comments stay).
pub(crate) async fn correct(w: &Writes, id: Id, url: Option<WebUrl>, title: Option<Title>) -> Result<Thread, ApiError> {
    let thread = w.store.thread_correct(id, url, title).await?;
    w.committed(&[Change::Thread(id)]).await;
    Ok(thread)
}

/// Closes a thread to new comments, or reopens it.
pub(crate) async fn set_closed(w: &Writes, id: Id, closed: bool) -> Result<Thread, ApiError> {
    let thread = w.store.thread_set_closed(id, closed).await?;
    w.committed(&[Change::Thread(id)]).await;
    Ok(thread)
}
