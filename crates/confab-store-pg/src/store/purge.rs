//! Deleting a forum with all its data on the topology ([`confab_store::Store::forum_delete_begin`]
//! and [`confab_store::Store::forum_purge`]): a batch of threads per transaction on the
//! forum's cluster, then its shard rows, then its global rows, the forum's row last (so
//! its shortname stays taken, and the purge can be resumed, until the very end).
//!
//! A guest's author row (in the global database) goes once no cluster holds a post of
//! theirs; it is checked after each batch commits. A purge that dies between a batch and
//! that check leaves those guests' rows behind (a name, perhaps an address, and no
//! posts): the one thing a resumed purge cannot find again.

use confab_core::id::Id;
use confab_core::jobs::Task;
use confab_core::model::UnixMs;
use confab_store::shape::{PURGE_GLOBAL_ROWS, PURGE_SHARD_ROWS, PURGE_THREAD_ROWS};
use confab_store::{NewJob, PurgeStep, StoreError, StoreResult};
use tokio_postgres::GenericClient;

use super::{PgStore, shard};
use crate::sql::{args, begin, col, commit, exec, id_col, opt, rows};

/// The global rows beyond `shape::PURGE_GLOBAL_ROWS`: the forum's pin, then its row.
const GLOBAL_LAST: &[(&str, &str)] = &[("forum_pins", "forum_id = {f}"), ("forums", "id = {f}")];

/// Every table a forum's purge looks in, by database (for the schema check in tests).
pub fn tables() -> (Vec<&'static str>, Vec<&'static str>) {
    let names = |lists: &[&[(&'static str, &str)]]| {
        let mut v: Vec<&'static str> = lists.iter().flat_map(|l| l.iter().map(|(t, _)| *t)).collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let mut global = names(&[PURGE_GLOBAL_ROWS, GLOBAL_LAST]);
    global.push("mutes");
    (names(&[PURGE_THREAD_ROWS, PURGE_SHARD_ROWS]), global)
}

fn list(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

async fn delete(c: &impl GenericClient, table: &str, cond: &str) -> StoreResult<u64> {
    let r =
        rows(c, &format!("WITH d AS (DELETE FROM {table} WHERE {cond} RETURNING 1) SELECT count(*) FROM d"), args![])
            .await?;
    Ok(col::<i64>(&r[0], 0)? as u64)
}

impl PgStore {
    pub(crate) async fn purge_begin(&self, forum: Id, now: UnixMs) -> StoreResult<Id> {
        let marked = write_on!(self, &self.t.global, |c, _ids| {
            exec(
                &*c,
                "UPDATE forums SET deleted_at = coalesce(deleted_at, $2) WHERE id = $1 RETURNING 1",
                args![forum.as_i64(), now],
            )
            .await
        })?;
        if marked == 0 {
            return Err(StoreError::ForumNotFound);
        }
        write_on!(self, self.cluster(forum.shard()).await?, |c, ids| {
            let tx = begin(c).await?;
            let waiting = opt(
                &tx,
                "SELECT id FROM outbox WHERE forum_id = $1 AND state IN (0, 1) AND task->>'type' = 'forum_purge' \
                 ORDER BY id LIMIT 1",
                args![forum.as_i64()],
            )
            .await?;
            let job = match waiting {
                Some(r) => id_col(&r, 0)?,
                None => {
                    let job = NewJob { forum_id: forum, task: Task::ForumPurge { forum, since: now }, run_at: now };
                    shard::enqueue(&tx, ids, &job, now).await?
                }
            };
            commit(tx).await?;
            Ok(job)
        })
    }

    pub(crate) async fn purge_step(&self, forum: Id, keep: Id, threads: u32, finish: bool) -> StoreResult<PurgeStep> {
        let marked = {
            let g = self.t.global.primary().await?;
            opt(&**g, "SELECT deleted_at FROM forums WHERE id = $1", args![forum.as_i64()]).await?
        };
        match marked.map(|r| col::<Option<i64>>(&r, 0)).transpose()? {
            None => return Ok(PurgeStep { done: true, ..PurgeStep::default() }),
            Some(None) => return Err(StoreError::Internal(format!("forum {forum} is not being deleted"))),
            Some(Some(_)) => {}
        }
        let (f, keep) = (forum.as_i64(), keep.as_i64());
        let (mut step, batch, guests) = write_on!(self, self.cluster(forum.shard()).await?, |c, _ids| {
            let tx = begin(c).await?;
            // Its other jobs first: nothing more is mailed or delivered for it.
            delete(&tx, "outbox", &format!("forum_id = {f} AND id <> {keep} AND state IN (0, 1)")).await?;
            let batch: Vec<i64> = rows(
                &tx,
                "SELECT id FROM threads WHERE forum_id = $1 ORDER BY id LIMIT $2",
                args![f, i64::from(threads)],
            )
            .await?
            .iter()
            .map(|r| col(r, 0))
            .collect::<StoreResult<_>>()?;
            let mut step = PurgeStep::default();
            let mut guests: Vec<i64> = Vec::new();
            if batch.is_empty() && !finish {
                // Nothing to do until the caller may finish.
            } else if batch.is_empty() {
                for (table, cond) in PURGE_SHARD_ROWS {
                    delete(&tx, table, &cond.replace("{f}", &f.to_string()).replace("{keep}", &keep.to_string()))
                        .await?;
                }
            } else {
                // Integers from the database, so splicing them is safe.
                let t = list(&batch);
                guests = rows(&tx, &format!("SELECT DISTINCT author_id FROM posts WHERE thread_id IN ({t})"), args![])
                    .await?
                    .iter()
                    .map(|r| col(r, 0))
                    .collect::<StoreResult<_>>()?;
                for (table, cond) in PURGE_THREAD_ROWS {
                    let n = delete(&tx, table, &cond.replace("{t}", &t)).await?;
                    match *table {
                        "posts" => step.posts = n,
                        "threads" => step.threads = n,
                        _ => {}
                    }
                }
            }
            commit(tx).await?;
            Ok((step, batch, guests))
        })?;
        if !batch.is_empty() {
            self.purge_globals_of(&batch, guests).await?;
            return Ok(step);
        }
        if !finish {
            return Ok(step);
        }
        write_on!(self, &self.t.global, |c, _ids| {
            let tx = begin(c).await?;
            for (table, cond) in PURGE_GLOBAL_ROWS.iter().chain(GLOBAL_LAST) {
                delete(&tx, table, &cond.replace("{f}", &f.to_string())).await?;
            }
            commit(tx).await
        })?;
        step.done = true;
        Ok(step)
    }

    /// After a batch: the mutes of its threads, and the guests among `authors` who have
    /// no post left on any cluster (read on the primaries).
    async fn purge_globals_of(&self, threads: &[i64], authors: Vec<i64>) -> StoreResult<()> {
        let mut gone: Vec<i64> = Vec::new();
        for chunk in authors.chunks(1000) {
            let mut left: Vec<i64> = Vec::new();
            for cluster in self.t.clusters.values() {
                let c = cluster.primary().await?;
                let r =
                    rows(&**c, "SELECT DISTINCT author_id FROM posts WHERE author_id = ANY($1)", args![chunk.to_vec()])
                        .await?;
                left.extend(r.iter().map(|r| col::<i64>(r, 0)).collect::<StoreResult<Vec<_>>>()?);
            }
            gone.extend(chunk.iter().filter(|a| !left.contains(a)));
        }
        let t = list(threads);
        write_on!(self, &self.t.global, |c, _ids| {
            let tx = begin(c).await?;
            delete(&tx, "mutes", &format!("thread_id IN ({t})")).await?;
            if !gone.is_empty() {
                exec(&tx, "DELETE FROM authors WHERE kind = 'guest' AND id = ANY($1)", args![gone.clone()]).await?;
            }
            commit(tx).await
        })
    }
}
