//! Backend-neutral pieces of the store's work, so that every backend computes them the
//! same way: the shape of a bulk import, the tree arithmetic of paths and counters, the
//! assembly of a roots page, what a state change emits, how a job attempt settles.

use std::collections::HashMap;

use confab_core::cursor::RootCursor;
use confab_core::id::Id;
use confab_core::jobs::{EventKind, JobState};
use confab_core::model::{MAX_DEPTH, Post, PostState, UnixMs};

use crate::{ImportPost, JobOutcome, RootWithReplies, RootsPage, StoreError, StoreResult};

/// The moderation-log entries that are somebody's decision on a post, as a condition on
/// `moderation_log` (both stores' SQL): every actor but the filter itself and the rules
/// that held the post as it was written. The spam filter never overrides them.
pub const DECIDED_BY_SOMEONE: &str = "actor_kind NOT IN ('filter', 'rules')";

/// A forum's purge, table by table (both stores' SQL; `Store::forum_purge`). A batch of
/// threads, children first (`{t}`: the batch's thread ids); the mutes of those threads
/// live in the global data and are the backend's to remove.
pub const PURGE_THREAD_ROWS: &[(&str, &str)] = &[
    ("votes", "post_id IN (SELECT id FROM posts WHERE thread_id IN ({t}))"),
    ("spam_verdicts", "post_id IN (SELECT id FROM posts WHERE thread_id IN ({t}))"),
    ("flags", "post_id IN (SELECT id FROM posts WHERE thread_id IN ({t}))"),
    ("moderation_log", "post_id IN (SELECT id FROM posts WHERE thread_id IN ({t}))"),
    ("subscriptions", "thread_id IN ({t})"),
    ("notify_state", "thread_id IN ({t})"),
    ("notify_pending", "thread_id IN ({t})"),
    ("notify_sent", "thread_id IN ({t})"),
    ("posts", "thread_id IN ({t})"),
    ("threads", "id IN ({t})"),
];

/// The forum's other rows in the forum-shard data, once no thread is left (`{f}`: its
/// id, `{keep}`: the running purge job).
pub const PURGE_SHARD_ROWS: &[(&str, &str)] = &[
    ("webhook_attempts", "webhook_id IN (SELECT id FROM webhooks WHERE forum_id = {f})"),
    ("webhooks", "forum_id = {f}"),
    ("outbox", "forum_id = {f} AND id <> {keep}"),
    ("spam_tokens", "forum_id = {f}"),
    ("spam_docs", "forum_id = {f}"),
    ("spam_verdicts", "post_id IN (SELECT id FROM posts WHERE forum_id = {f})"),
    ("moderation_log", "forum_id = {f}"),
    ("bans", "forum_id = {f}"),
    ("flags", "forum_id = {f}"),
    ("subscriptions", "forum_id = {f}"),
];

/// Its rows in the global data, last; the forum's own row goes after these, at the very
/// end (until then its shortname stays taken).
pub const PURGE_GLOBAL_ROWS: &[(&str, &str)] = &[
    // Reader credentials handed to the forum's site.
    ("sessions", "forum_id = {f}"),
    ("forum_roles", "forum_id = {f}"),
    ("forum_keys", "forum_id = {f}"),
    // The site's SSO users are the forum's alone.
    ("authors", "kind = 'sso' AND sso_forum = {f}"),
];

/// Each post's depth in a bulk import, checked before anything is written: a parent
/// must come earlier in the batch, and the tree must not nest deeper than `MAX_DEPTH`.
pub fn import_depths(batch: &[ImportPost]) -> StoreResult<Vec<u32>> {
    let mut depths: Vec<u32> = Vec::with_capacity(batch.len());
    for (i, p) in batch.iter().enumerate() {
        let depth = match p.parent {
            None => 0,
            Some(pi) if pi < i => depths[pi] + 1,
            Some(_) => return Err(StoreError::ParentNotFound),
        };
        if depth > MAX_DEPTH {
            return Err(StoreError::ParentTooDeep);
        }
        depths.push(depth);
    }
    Ok(depths)
}

/// Approved descendants of each post of a (checked) import: each approved post counts
/// once for every ancestor.
pub fn import_descendants(batch: &[ImportPost]) -> Vec<i64> {
    let mut descendants = vec![0i64; batch.len()];
    for p in batch.iter().filter(|p| p.state == PostState::Approved) {
        let mut up = p.parent;
        while let Some(a) = up {
            descendants[a] += 1;
            up = batch[a].parent;
        }
    }
    descendants
}

/// The ids of a post's ancestors, read off its path (every segment but the last).
pub fn ancestors(path: &[u8]) -> Vec<i64> {
    let segments = path.len() / 8;
    path.chunks_exact(8)
        .take(segments.saturating_sub(1))
        .map(|c| i64::from_be_bytes(c.try_into().expect("8 bytes")))
        .collect()
}

/// How a change of state moves the approved counters (of the thread and ancestors).
pub fn approved_delta(before: PostState, after: PostState) -> i64 {
    match (before == PostState::Approved, after == PostState::Approved) {
        (false, true) => 1,
        (true, false) => -1,
        _ => 0,
    }
}

/// The event a move to `state` emits.
pub fn state_event(state: PostState) -> EventKind {
    match state {
        PostState::Approved => EventKind::PostApproved,
        PostState::Spam => EventKind::PostSpam,
        PostState::Deleted => EventKind::PostDeleted,
        PostState::Pending | PostState::Shadow => EventKind::PostUpdated,
    }
}

/// Longest error text kept on a job or a delivery attempt (errors come from remote
/// servers).
pub const MAX_ERROR_CHARS: usize = 500;

pub fn clip_error(s: &str) -> String {
    s.chars().take(MAX_ERROR_CHARS).collect()
}

impl JobOutcome {
    /// The job's state after this outcome, when it runs next (a retry), and the error
    /// to keep (clipped).
    pub fn settlement(&self) -> (JobState, Option<UnixMs>, Option<String>) {
        match self {
            JobOutcome::Done { .. } => (JobState::Done, None, None),
            JobOutcome::Retry { at, error } => (JobState::Ready, Some(*at), Some(clip_error(error))),
            JobOutcome::Dead { error } => (JobState::Dead, None, Some(clip_error(error))),
        }
    }
}

/// A roots page from what the two queries returned: up to `limit + 1` roots with their
/// sort scores (one more than asked tells that a next page exists), and the first
/// `per_root + 1` listed replies of each root, grouped by root in tree order.
pub fn roots_page(mut roots: Vec<(Post, f64)>, limit: usize, replies: Vec<Post>, per_root: u32) -> RootsPage {
    let next = if roots.len() > limit {
        roots.truncate(limit);
        roots.last().map(|(p, s)| RootCursor { score: *s, id: p.id })
    } else {
        None
    };
    let mut by_root: HashMap<Id, Vec<Post>> = HashMap::new();
    for reply in replies {
        by_root.entry(reply.root_id).or_default().push(reply);
    }
    let roots = roots
        .into_iter()
        .map(|(root, _)| {
            let mut mine = by_root.remove(&root.id).unwrap_or_default();
            // With no replies asked for, the counter alone says whether any exist.
            let more = mine.len() > per_root as usize || (per_root == 0 && root.descendants > 0);
            mine.truncate(per_root as usize);
            RootWithReplies { root, replies: mine, more_replies: more }
        })
        .collect();
    RootsPage { roots, next }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ancestors_come_from_the_path() {
        let path: Vec<u8> = [1i64, 2, 3].iter().flat_map(|v| v.to_be_bytes()).collect();
        assert_eq!(ancestors(&path), vec![1, 2]);
        assert!(ancestors(&path[..8]).is_empty());
    }

    #[test]
    fn only_moves_in_or_out_of_approved_count() {
        assert_eq!(approved_delta(PostState::Pending, PostState::Approved), 1);
        assert_eq!(approved_delta(PostState::Approved, PostState::Spam), -1);
        assert_eq!(approved_delta(PostState::Spam, PostState::Deleted), 0);
    }
}
