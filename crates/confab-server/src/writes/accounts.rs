//! Accounts' writes that change what pages show: deleting an account takes its name
//! off its comments, or the comments away, as each forum's policy says.

use confab_core::id::Id;
use confab_store::AccountDeleted;

use super::{Change, Writes};
use crate::error::ApiError;

/// Deletes the account (the caller has checked its password again).
pub(crate) async fn delete(w: &Writes, account: Id) -> Result<AccountDeleted, ApiError> {
    let done = w.store.account_delete(account, w.clock.now()).await?;
    // What they wrote leaves the cached pages now, not when those expire.
    let changes: Vec<Change> = done.threads.iter().map(|t| Change::Thread(*t)).collect();
    w.committed(&changes).await;
    tracing::info!(%account, removed = done.posts_removed, anonymized = done.posts_anonymized, "account deleted");
    Ok(done)
}
