//! Forums: create (admin), list (admin), details (public).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use confab_core::input::{DisplayName, InputError, MAX_ORIGINS, Origin, Shortname};
use confab_core::model::{ForumPolicy, NewForum};
use serde::Deserialize;

use crate::AppState;
use crate::auth::Admin;
use crate::error::ApiError;
use crate::extract::{Json, PathForum};
use crate::views::ForumView;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateForum {
    shortname: String,
    /// Defaults to the shortname.
    name: Option<String>,
    #[serde(default)]
    origins: Vec<String>,
    #[serde(default)]
    policy: ForumPolicy,
}

pub(crate) async fn create_forum(
    State(state): State<AppState>,
    _: Admin,
    Json(body): Json<CreateForum>,
) -> Result<impl IntoResponse, ApiError> {
    let shortname = Shortname::parse(&body.shortname)?;
    let name = DisplayName::parse("name", body.name.as_deref().unwrap_or(&body.shortname))?;
    if body.origins.len() > MAX_ORIGINS {
        return Err(InputError::new("origins", "too_many", format!("at most {MAX_ORIGINS} origins")).into());
    }
    let origins = body.origins.iter().map(|o| Origin::parse(o)).collect::<Result<Vec<_>, _>>()?;
    let forum =
        state.store.forum_create(NewForum { shortname, name, origins, policy: body.policy }, state.clock.now()).await?;
    Ok((StatusCode::CREATED, axum::Json(ForumView::from(&forum))))
}

pub(crate) async fn list_forums(State(state): State<AppState>, _: Admin) -> Result<impl IntoResponse, ApiError> {
    let forums = state.store.forum_list().await?;
    Ok(axum::Json(serde_json::json!({ "forums": forums.iter().map(ForumView::from).collect::<Vec<_>>() })))
}

pub(crate) async fn get_forum(
    State(state): State<AppState>,
    PathForum(forum): PathForum,
) -> Result<impl IntoResponse, ApiError> {
    let forum = state.store.forum_by_shortname(&forum).await?;
    Ok(axum::Json(ForumView::from(&forum)))
}
