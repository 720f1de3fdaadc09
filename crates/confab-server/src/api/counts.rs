//! Comment counts for up to 100 threads in one request, by identifiers and/or URLs
//! (`?identifier=a&identifier=b&url=https://…`). Unknown threads count 0.

use axum::extract::State;
use axum::response::IntoResponse;
use confab_core::input::{Identifier, WebUrl};
use confab_core::model::ThreadKey;
use serde::Deserialize;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{PathForum, Query};
use crate::views::answers::{CountView, CountsView};
use crate::views::errors::ErrorEnvelope;
use utoipa::IntoParams;

pub const MAX_COUNT_KEYS: usize = 100;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct CountsQuery {
    /// Threads by identifier; repeat the parameter for several.
    #[serde(default)]
    #[param(style = Form, explode)]
    identifier: Vec<String>,
    /// Threads by page URL; repeat the parameter for several.
    #[serde(default)]
    #[param(style = Form, explode)]
    url: Vec<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/forums/{forum}/counts",
    operation_id = "threadCounts",
    summary = "Comment counts of up to 100 threads at once",
    params(
        ("forum" = String, Path, description = "Forum shortname"),
        CountsQuery,
    ),
    responses(
        (status = 200, description = "One entry per requested key, in order; unknown threads count 0", body = CountsView),
        (status = 400, description = "invalid_query", body = ErrorEnvelope),
        (status = 404, description = "forum_not_found", body = ErrorEnvelope),
    ),
)]
pub(crate) async fn thread_counts(
    State(state): State<AppState>,
    PathForum(forum): PathForum,
    Query(q): Query<CountsQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let n = q.identifier.len() + q.url.len();
    if n == 0 || n > MAX_COUNT_KEYS {
        return Err(ApiError::InvalidQuery(format!(
            "give 1 to {MAX_COUNT_KEYS} identifier or url parameters (got {n})"
        )));
    }
    let mut keys = Vec::with_capacity(n);
    for i in &q.identifier {
        keys.push(ThreadKey::Identifier(Identifier::parse(i).map_err(ApiError::query_param)?));
    }
    for u in &q.url {
        keys.push(ThreadKey::Url(WebUrl::parse("url", u).map_err(ApiError::query_param)?));
    }
    let posts = state.reads.counts(&forum, &keys).await?;
    let counts: Vec<_> = keys
        .iter()
        .zip(posts)
        .map(|(k, posts)| match k {
            ThreadKey::Identifier(i) => CountView::Identifier { identifier: i.to_string(), posts },
            ThreadKey::Url(u) => CountView::Url { url: u.to_string(), posts },
        })
        .collect();
    Ok(axum::Json(CountsView { counts }))
}
