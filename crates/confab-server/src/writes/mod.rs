//! The write side, the counterpart of [`crate::reads`]. Each use case that changes what
//! readers see is one function here: authorise → decide → one store transaction →
//! [`Writes::committed`]. Handlers, the dashboard and the job workers call these rather
//! than the store, so `confab serve`, `confab worker` and a dashboard button do the same
//! after the same write. (The CLI's `forum delete` runs without a server: it begins the
//! deletion and purges through the store itself, with no cache to refresh.)
//!
//! `committed` is the one place after-commit effects live: the workers are woken for the
//! jobs the transaction queued (its events, mail, screening), and every cached value the
//! write changed is made again and stored over the old one (set, don't delete). It runs
//! only after the transaction committed, so nothing is announced for a write that
//! rolled back. A new effect of writes (live updates, say) is added there, once.
//!
//! - [`accounts`]: an account's deletion, its comments anonymised or removed.
//! - [`bans`]: bans and timeouts, and the poster's standing every reader's write checks.
//! - [`forums`]: a forum's settings, keys and deletion.
//! - [`posts`]: a new post (its admission decided by `confab_core::admission`), an
//!   author's edit and deletion.
//! - [`moderation`]: a moderator's decision on a post, highlights and pins, the spam
//!   filter's verdict.
//! - [`readers`]: a reader's vote and flag.
//! - [`threads`]: a thread made ahead of its first post, corrected, closed, reopened.

pub(crate) mod accounts;
pub(crate) mod bans;
pub(crate) mod forums;
pub(crate) mod moderation;
pub(crate) mod posts;
pub(crate) mod readers;
pub(crate) mod threads;

use std::sync::Arc;

use confab_core::id::Id;
use confab_core::model::{Author, Forum};
use confab_store::Store;
use tokio::sync::Notify;

use crate::Clock;
use crate::reads::Reads;

/// What a committed write changed, for the effects that follow it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Change<'a> {
    /// What the thread's pages show (its posts, their states, votes, pins, counts).
    Thread(Id),
    /// An author's public view (an SSO user's new name or avatar).
    Author(&'a Author),
    /// A forum's name, origins or policy.
    Forum(&'a Forum),
    /// A forum whose deletion began: hidden from every read.
    ForumGone(&'a Forum),
    /// Only jobs were queued (mail, webhooks, a purge): nothing cached changed.
    Jobs,
}

/// Everything a write needs after its transaction: the store, the clock, the reads
/// whose cache it refreshes, and the wake-up of this process's workers. Cheap to clone.
#[derive(Clone)]
pub struct Writes {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Clock,
    /// `None` in a worker process without a cache: nothing to refresh.
    reads: Option<Arc<Reads>>,
    /// `None` where no workers run in this process (they poll).
    wake: Option<Arc<Notify>>,
}

impl Writes {
    pub fn new(store: Arc<dyn Store>, clock: Clock, reads: Option<Arc<Reads>>, wake: Option<Arc<Notify>>) -> Writes {
        Writes { store, clock, reads, wake }
    }

    /// The effects of a write that committed with `changes`: workers woken, cached
    /// values made again. Returns once the refreshed pages are stored (or after the
    /// refresh's bounded wait), so the writer's next read shows its write.
    pub(crate) async fn committed(&self, changes: &[Change<'_>]) {
        if let Some(wake) = &self.wake {
            wake.notify_one();
        }
        let Some(reads) = &self.reads else { return };
        for change in changes {
            match *change {
                Change::Thread(id) => reads.thread_changed(id).await,
                Change::Author(a) => crate::reads::author_changed(reads, a).await,
                Change::Forum(f) => reads.forum_changed(f),
                Change::ForumGone(f) => reads.forum_gone(f),
                Change::Jobs => {}
            }
        }
    }
}
