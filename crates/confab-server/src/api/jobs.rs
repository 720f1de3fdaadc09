//! The outbox for operators: counts, listings (dead letters above all), retry and
//! discard. Global administrators only. Task bodies are not shown (a webhook body
//! quotes a comment).

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use confab_core::id::Id;
use confab_core::jobs::JobState;
use confab_store::{Job, JobFilter};
use serde::Deserialize;

use crate::AppState;
use crate::auth::{Power, Principal};
use crate::error::ApiError;
use crate::extract::{PathId, Query};
use crate::views::errors::ErrorEnvelope;
use crate::views::jobs::{CacheStatsView, JobList, JobView};
use crate::writes::Change;
use utoipa::IntoParams;

const MAX_PAGE: u32 = 100;

/// `GET /api/v1/cache`: where the cache of public reads lives and its counters since
/// start, for operators watching its hit ratio.
#[utoipa::path(
    get,
    path = "/api/v1/cache",
    operation_id = "cacheStats",
    summary = "The cache of public reads: where it lives and its counters since start (global administrators)",
    responses(
        (status = 200, description = "Cache counters", body = inline(CacheStatsView)),
        (status = 401, description = "unauthorized", body = ErrorEnvelope),
        (status = 403, description = "forbidden: the account's role does not allow this", body = ErrorEnvelope),
    ),
    security(("adminToken" = []), ("session" = [])),
)]
pub(crate) async fn cache_stats(State(state): State<AppState>, who: Principal) -> Result<impl IntoResponse, ApiError> {
    who.require(&state, None, Power::Global).await?;
    let Some(cache) = state.reads.cache() else { return Ok(axum::Json(CacheStatsView::Off { backend: "off" })) };
    let s = cache.stats();
    Ok(axum::Json(CacheStatsView::On {
        backend: cache.backend().name(),
        hits: s.hits,
        stale: s.stale,
        early: s.early,
        misses: s.misses,
        fills: s.fills,
        fill_errors: s.fill_errors,
        kept: s.kept,
        hit_ratio: s.hit_ratio(),
        gauges: cache.backend().gauges().into_iter().map(|(k, v)| (k.to_owned(), v.into())).collect(),
    }))
}

/// A job as operators see it: what it is about, not its payload.
pub fn job_view(j: &Job) -> JobView {
    JobView::from(j)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    #[param(value_type = Option<JobState>)]
    state: Option<String>,
    /// Forum shortname
    forum: Option<String>,
    /// A job id: continue below it
    before: Option<String>,
    #[param(minimum = 1, maximum = 100, default = 50)]
    limit: Option<u32>,
}

fn no_store<T: serde::Serialize>(body: T) -> impl IntoResponse {
    ([(header::CACHE_CONTROL, "no-store")], axum::Json(body))
}

#[utoipa::path(
    get,
    path = "/api/v1/jobs",
    operation_id = "listJobs",
    summary = "Outbox jobs, newest first, with counts per state (global administrators)",
    params(
        ListQuery,
    ),
    responses(
        (status = 200, description = "Jobs", body = inline(JobList)),
        (status = 401, description = "unauthorized", body = ErrorEnvelope),
        (status = 403, description = "forbidden: the account's role does not allow this", body = ErrorEnvelope),
        (status = 400, description = "invalid_query", body = ErrorEnvelope),
    ),
    security(("adminToken" = []), ("session" = [])),
)]
pub(crate) async fn list_jobs(
    State(state): State<AppState>,
    who: Principal,
    Query(q): Query<ListQuery>,
) -> Result<impl IntoResponse, ApiError> {
    who.require(&state, None, Power::Global).await?;
    let job_state = match q.state.as_deref() {
        None => None,
        Some(s) => Some(
            JobState::parse(s)
                .ok_or_else(|| ApiError::InvalidQuery("state: one of ready, running, done, dead".into()))?,
        ),
    };
    let forum = match q.forum.as_deref() {
        None => None,
        Some(f) => Some(state.store.forum_by_shortname(f).await?.id),
    };
    let before = match q.before {
        None => None,
        Some(b) => Some(b.parse::<Id>().map_err(|_| ApiError::InvalidQuery("before: a job id".into()))?),
    };
    let limit = q.limit.unwrap_or(50).clamp(1, MAX_PAGE);
    let jobs = state.store.jobs_list(JobFilter { state: job_state, forum, before, limit }).await?;
    let next = (jobs.len() as u32 == limit).then(|| jobs.last().map(|j| j.id.to_string())).flatten();
    let counts = state.store.job_counts().await?.into_iter().map(|(s, n)| (s.as_str().to_owned(), n.into())).collect();
    Ok(no_store(JobList { jobs: jobs.iter().map(JobView::from).collect(), before: next, counts }))
}

#[utoipa::path(
    get,
    path = "/api/v1/jobs/{job}",
    operation_id = "getJob",
    summary = "One job (global administrators)",
    params(
        ("job" = Id, Path, description = "Job (outbox) id"),
    ),
    responses(
        (status = 200, description = "The job", body = JobView),
        (status = 401, description = "unauthorized", body = ErrorEnvelope),
        (status = 403, description = "forbidden: the account's role does not allow this", body = ErrorEnvelope),
        (status = 404, description = "job_not_found", body = ErrorEnvelope),
    ),
    security(("adminToken" = []), ("session" = [])),
)]
pub(crate) async fn get_job(
    State(state): State<AppState>,
    who: Principal,
    PathId(id): PathId,
) -> Result<impl IntoResponse, ApiError> {
    who.require(&state, None, Power::Global).await?;
    Ok(no_store(job_view(&state.store.job_get(id).await?)))
}

#[utoipa::path(
    post,
    path = "/api/v1/jobs/{job}/retry",
    operation_id = "retryJob",
    summary = "Make a dead job ready again, attempts reset (global administrators)",
    params(
        ("job" = Id, Path, description = "Job (outbox) id"),
    ),
    responses(
        (status = 200, description = "The job", body = JobView),
        (status = 401, description = "unauthorized", body = ErrorEnvelope),
        (status = 403, description = "forbidden: the account's role does not allow this", body = ErrorEnvelope),
        (status = 404, description = "job_not_found", body = ErrorEnvelope),
        (status = 409, description = "job_not_dead", body = ErrorEnvelope),
    ),
    security(("adminToken" = []), ("session" = [])),
)]
pub(crate) async fn retry_job(
    State(state): State<AppState>,
    who: Principal,
    PathId(id): PathId,
) -> Result<impl IntoResponse, ApiError> {
    who.require(&state, None, Power::Global).await?;
    let job = state.store.job_retry(id, state.clock.now()).await?;
    state.writes.committed(&[Change::Jobs]).await;
    tracing::info!(job = %id, "dead job retried");
    Ok(no_store(job_view(&job)))
}

#[utoipa::path(
    delete,
    path = "/api/v1/jobs/{job}",
    operation_id = "discardJob",
    summary = "Delete a dead job (global administrators)",
    params(
        ("job" = Id, Path, description = "Job (outbox) id"),
    ),
    responses(
        (status = 204, description = "Discarded"),
        (status = 401, description = "unauthorized", body = ErrorEnvelope),
        (status = 403, description = "forbidden: the account's role does not allow this", body = ErrorEnvelope),
        (status = 404, description = "job_not_found", body = ErrorEnvelope),
        (status = 409, description = "job_not_dead", body = ErrorEnvelope),
    ),
    security(("adminToken" = []), ("session" = [])),
)]
pub(crate) async fn discard_job(
    State(state): State<AppState>,
    who: Principal,
    PathId(id): PathId,
) -> Result<impl IntoResponse, ApiError> {
    who.require(&state, None, Power::Global).await?;
    state.store.job_discard(id).await?;
    tracing::info!(job = %id, "dead job discarded");
    Ok(StatusCode::NO_CONTENT)
}
