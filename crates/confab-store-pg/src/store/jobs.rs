//! The outbox of each shard: claimed with `FOR UPDATE SKIP LOCKED`, so any number of
//! workers in any number of processes share the due rows and never take one twice.

use confab_core::id::{Id, IdGenerator};
use confab_core::jobs::JobState;
use confab_core::model::UnixMs;
use confab_store::{Job, JobFilter, JobOutcome, StoreError, StoreResult};
use tokio_postgres::{Client, GenericClient, Row};

use crate::sql::{args, begin, col, commit, exec, id_col, opt, rows as query};

const JOB_COLS: &str = "id, forum_id, task::text, state::int8, attempts, run_at, last_error, created_at, updated_at";

fn job(r: &Row) -> StoreResult<Job> {
    Ok(Job {
        id: id_col(r, 0)?,
        forum_id: id_col(r, 1)?,
        task: col(r, 2)?,
        state: JobState::from_code(col(r, 3)?).ok_or_else(|| StoreError::Internal("corrupt row: job state".into()))?,
        attempts: u32::try_from(col::<i32>(r, 4)?).unwrap_or(0),
        run_at: col(r, 5)?,
        last_error: col(r, 6)?,
        created_at: col(r, 7)?,
        updated_at: col(r, 8)?,
    })
}

pub(crate) async fn claim(
    c: &impl GenericClient,
    now: UnixMs,
    lease_until: UnixMs,
    limit: u32,
) -> StoreResult<Vec<Job>> {
    let rs = query(
        c,
        &format!(
            "UPDATE outbox SET state = 1, attempts = attempts + 1, lease_until = $2, updated_at = $1 \
             WHERE id IN (SELECT id FROM outbox WHERE state IN (0, 1) AND run_at <= $1 \
                          AND (state = 0 OR lease_until <= $1) ORDER BY run_at LIMIT $3 FOR UPDATE SKIP LOCKED) \
             RETURNING {JOB_COLS}"
        ),
        args![now, lease_until, i64::from(limit)],
    )
    .await?;
    let mut jobs = rs.iter().map(job).collect::<StoreResult<Vec<_>>>()?;
    jobs.sort_by_key(|j| (j.run_at, j.id));
    Ok(jobs)
}

pub(crate) async fn settle(
    c: &mut Client,
    ids: &IdGenerator,
    id: Id,
    attempt: u32,
    outcome: JobOutcome,
    now: UnixMs,
) -> StoreResult<bool> {
    let (state, run_at, error) = outcome.settlement();
    let tx = begin(c).await?;
    let n = exec(
        &tx,
        "UPDATE outbox SET state = $3, run_at = COALESCE($4, run_at), last_error = COALESCE($5, last_error), \
         lease_until = NULL, updated_at = $6 WHERE id = $1 AND state = 1 AND attempts = $2 RETURNING 1",
        args![id.as_i64(), attempt as i32, state.code() as i16, run_at, error, now],
    )
    .await?;
    if n == 0 {
        return Ok(false);
    }
    if let JobOutcome::Done { follow_ups } = &outcome {
        for f in follow_ups {
            super::shard::enqueue(&tx, ids, f, now).await?;
        }
    }
    commit(tx).await?;
    Ok(true)
}

pub(crate) async fn release(
    c: &impl GenericClient,
    id: Id,
    attempt: u32,
    run_at: UnixMs,
    now: UnixMs,
) -> StoreResult<bool> {
    let n = exec(
        c,
        "UPDATE outbox SET state = 0, attempts = attempts - 1, lease_until = NULL, run_at = $3, updated_at = $4 \
         WHERE id = $1 AND state = 1 AND attempts = $2 RETURNING 1",
        args![id.as_i64(), attempt as i32, run_at, now],
    )
    .await?;
    Ok(n == 1)
}

pub(crate) async fn get(c: &impl GenericClient, id: Id) -> StoreResult<Job> {
    let r = opt(c, &format!("SELECT {JOB_COLS} FROM outbox WHERE id = $1"), args![id.as_i64()]).await?;
    r.as_ref().map(job).transpose()?.ok_or(StoreError::JobNotFound)
}

pub(crate) async fn list(c: &impl GenericClient, f: JobFilter) -> StoreResult<Vec<Job>> {
    let rs = query(
        c,
        &format!(
            "SELECT {JOB_COLS} FROM outbox WHERE ($1::int2 IS NULL OR state = $1) AND ($2::int8 IS NULL OR forum_id = $2) \
             AND ($3::int8 IS NULL OR id < $3) ORDER BY id DESC LIMIT $4"
        ),
        args![
            f.state.map(|s| s.code() as i16),
            f.forum.map(Id::as_i64),
            f.before.map(Id::as_i64),
            i64::from(f.limit)
        ],
    )
    .await?;
    rs.iter().map(job).collect()
}

pub(crate) async fn counts(c: &impl GenericClient) -> StoreResult<Vec<(JobState, u64)>> {
    let rs = query(c, "SELECT state::int8, count(*) FROM outbox GROUP BY state", &[]).await?;
    let mut out = Vec::new();
    for r in &rs {
        if let Some(s) = JobState::from_code(col(r, 0)?) {
            out.push((s, col::<i64>(r, 1)? as u64));
        }
    }
    Ok(out)
}

pub(crate) async fn retry(c: &impl GenericClient, id: Id, now: UnixMs) -> StoreResult<Job> {
    let r = opt(
        c,
        &format!(
            "UPDATE outbox SET state = 0, attempts = 0, run_at = $2, updated_at = $2 WHERE id = $1 AND state = 3 \
             RETURNING {JOB_COLS}"
        ),
        args![id.as_i64(), now],
    )
    .await?;
    match r {
        Some(r) => job(&r),
        None => get(c, id).await.and(Err(StoreError::JobNotDead)),
    }
}

pub(crate) async fn discard(c: &impl GenericClient, id: Id) -> StoreResult<()> {
    let n = exec(c, "DELETE FROM outbox WHERE id = $1 AND state = 3 RETURNING 1", args![id.as_i64()]).await?;
    if n == 1 { Ok(()) } else { get(c, id).await.and(Err(StoreError::JobNotDead)) }
}

pub(crate) async fn prune(c: &impl GenericClient, before: UnixMs) -> StoreResult<u64> {
    let r = crate::sql::one(
        c,
        "WITH d AS (DELETE FROM outbox WHERE state = 2 AND updated_at < $1 RETURNING 1) SELECT count(*) FROM d",
        args![before],
    )
    .await?;
    Ok(col::<i64>(&r, 0)? as u64)
}
