//! Votes (forum shard): one per voter per post; counters move by deltas in SQL.

use confab_core::id::Id;
use confab_core::model::{PostState, UnixMs, VoteValue};
use confab_core::secret::TokenHash;
use confab_store::{StoreError, StoreResult, VoteOutcome};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::posts;
use crate::rows::{self, POST_COLS, sql_err};

pub(crate) fn set(
    c: &mut Connection,
    post: Id,
    voter: TokenHash,
    value: VoteValue,
    now: UnixMs,
) -> StoreResult<VoteOutcome> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql_err)?;
    let state = posts::get(&tx, post)?.state;
    if state != PostState::Approved {
        return Err(StoreError::PostNotVotable);
    }
    let previous: Option<i64> = tx
        .prepare_cached("SELECT value FROM votes WHERE post_id = ?1 AND voter = ?2")
        .and_then(|mut s| s.query_row(params![post.as_i64(), &voter.0[..]], |r| r.get(0)).optional())
        .map_err(sql_err)?;
    let previous = previous.and_then(VoteValue::from_i64).unwrap_or(VoteValue::Clear);

    match value {
        VoteValue::Clear => tx
            .prepare_cached("DELETE FROM votes WHERE post_id = ?1 AND voter = ?2")
            .and_then(|mut s| s.execute(params![post.as_i64(), &voter.0[..]])),
        _ => tx
            .prepare_cached(
                "INSERT INTO votes (post_id, voter, value, created_at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (post_id, voter) DO UPDATE SET value = excluded.value",
            )
            .and_then(|mut s| s.execute(params![post.as_i64(), &voter.0[..], value.as_i64(), now])),
    }
    .map_err(sql_err)?;

    let ((l0, d0), (l1, d1)) = (previous.tallies(), value.tallies());
    let (dl, dd) = (l1 - l0, d1 - d0);
    let updated = if (dl, dd) == (0, 0) {
        posts::get(&tx, post)?
    } else {
        // Deltas applied atomically; the scores are recomputed from the new counters in
        // the same statement (SQLite evaluates SET expressions on the old row).
        tx.prepare_cached(&format!(
            "UPDATE posts SET likes = likes + ?2, dislikes = dislikes + ?3, \
             best = confab_best(likes + ?2, dislikes + ?3), \
             hot = confab_hot(likes + ?2 - dislikes - ?3, created_at) \
             WHERE id = ?1 RETURNING {POST_COLS}"
        ))
        .and_then(|mut s| s.query_row(params![post.as_i64(), dl, dd], rows::post))
        .map_err(sql_err)?
    };
    tx.commit().map_err(sql_err)?;
    Ok(VoteOutcome { post: updated, previous, current: value })
}
