//! `GET /dashboard/{forum}/users/{author}`: a person's comments here, and what to do
//! about them (ban, time out, shadow-ban; trust, for owners).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use confab_core::id::Id;
use confab_core::model::{AuthorKind, PostState, Role};
use confab_store::PostSearch;
use serde::Serialize;

use super::cards::{CardInfo, PostList, verdicts_of};
use super::gate::{Desk, Moderate};
use super::message;
use crate::AppState;
use crate::account_site::csrf_token;
use crate::auth::{Power, Principal};
use crate::error::ApiError;

/// The most recent comments shown.
const PAGE: u32 = 50;

#[derive(Serialize)]
struct AuthorView {
    kind: &'static str,
    name: String,
    email: Option<String>,
}

#[derive(Serialize)]
struct Counts {
    all: usize,
    approved: usize,
    pending: usize,
    spam: usize,
    deleted: usize,
    shadow: usize,
}

/// An account's role here, and the button that changes it (owners only, and not for
/// the team).
#[derive(Serialize)]
struct RoleView {
    name: String,
    change: Option<(&'static str, &'static str)>,
}

pub(super) async fn page(
    State(state): State<AppState>,
    desk: Desk<Moderate>,
    Path((_, author)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let Desk { me, forum, here, .. } = desk;
    let found = match author.parse::<Id>().ok() {
        Some(id) => state.store.authors_get_many(&[id]).await?.into_iter().next(),
        None => None,
    };
    let Some(author) = found else {
        return Ok(message(StatusCode::NOT_FOUND, "Not found", Some(&forum), "No such author."));
    };
    let search = PostSearch { authors: Some(vec![author.id]), limit: PAGE, ..Default::default() };
    let posts = state.store.moderation_queue(forum.id, &search).await?;
    if posts.is_empty() {
        // Nobody's history is shown in a forum they never wrote in.
        return Ok(message(StatusCode::NOT_FOUND, "Not found", Some(&forum), "No comments by this author here."));
    }
    let count = |s: PostState| posts.iter().filter(|p| p.state == s).count();
    let counts = Counts {
        all: posts.len(),
        approved: count(PostState::Approved),
        pending: count(PostState::Pending),
        spam: count(PostState::Spam),
        deleted: count(PostState::Deleted),
        shadow: count(PostState::Shadow),
    };
    // Whom a ban from here would name: the account, the address, the address's domain.
    let mut targets: Vec<(String, String)> = Vec::new();
    if author.kind == AuthorKind::Account {
        targets.push((format!("account:{}", author.name), format!("the account {}", author.name)));
    }
    if let Some(e) = &author.email {
        targets.push((format!("email:{}", e.as_str()), format!("the address {}", e.as_str())));
        if let Some((_, d)) = e.as_str().rsplit_once('@') {
            targets.push((format!("domain:{d}"), format!("every address at {d}")));
        }
    }
    let role = if author.kind == AuthorKind::Account {
        let owner = Principal::Account(me.clone()).require(&state, Some(&forum), Power::ManageForum).await.is_ok();
        let role = state.store.role_get(forum.id, author.id).await?;
        let change = (owner && role.is_none_or(|r| r < Role::Moderator)).then_some(if role == Some(Role::Trusted) {
            ("member", "Stop trusting")
        } else {
            ("trusted", "Trust (skips pre-moderation and rules)")
        });
        Some(RoleView { name: role.map_or("no role".to_owned(), |r| r.as_str().to_owned()), change })
    } else {
        None
    };
    let view = AuthorView {
        kind: match author.kind {
            AuthorKind::Guest => "Guest",
            AuthorKind::Account => "Account",
            AuthorKind::Sso => "SSO user",
        },
        name: author.name.as_str().to_owned(),
        email: author.email.as_ref().map(|e| e.as_str().to_owned()),
    };
    let info = CardInfo {
        verdicts: verdicts_of(&state, &forum, &posts).await?,
        authors: [(author.id, author.clone())].into_iter().collect(),
    };
    let list = PostList::new(&forum, &posts, &info, csrf_token(&state, &me), here);
    let ctx = minijinja::context! { author => view, counts, role, targets, list };
    Ok(super::page(StatusCode::OK, "user.html", author.name.as_str(), Some(&forum), "", ctx))
}
