//! `GET /dashboard/{forum}`: a queue (pending, flagged, spam, shadow, all) or a search;
//! `POST /dashboard/{forum}/moderate`: one post's button, or a bulk selection.

use std::collections::HashMap;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use confab_core::id::Id;
use serde::Serialize;
use serde_json::json;

use super::cards::{CardInfo, PostList};
use super::gate::{Desk, DeskForm, Moderate};
use super::{back_to, error_page, message, not_done};
use crate::AppState;
use crate::account_site::csrf_token;
use crate::api::moderation::QueueQuery;
use crate::error::ApiError;
use crate::writes::moderation::{Action, decide, mark};

/// Posts per page of a queue.
const PAGE: u32 = 50;
const STATES: [&str; 7] = ["pending", "flagged", "spam", "shadow", "approved", "deleted", "all"];

/// The search form as the reader last sent it.
#[derive(Serialize)]
struct SearchForm<'a> {
    open: bool,
    state: &'a str,
    q: &'a str,
    email: &'a str,
    author: &'a str,
    ip: &'a str,
    thread: &'a str,
    since: &'a str,
    until: &'a str,
}

pub(super) async fn page(
    State(state): State<AppState>,
    desk: Desk<Moderate>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let Desk { me, forum, here, .. } = desk;
    let q: HashMap<String, String> =
        url::form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes()).into_owned().collect();
    let query: QueueQuery = match serde_json::from_value(json!({
        "state": q.get("state"), "q": q.get("q"), "author": q.get("author"), "email": q.get("email"), "ip": q.get("ip"),
        "thread": q.get("thread"), "since": q.get("since"), "until": q.get("until"), "before": q.get("before"),
        "limit": PAGE,
    })) {
        Ok(v) => v,
        Err(e) => return Ok(message(StatusCode::BAD_REQUEST, "Not a search", Some(&forum), &e.to_string())),
    };
    let search = match query.search(&state) {
        Ok(s) => s,
        Err(e) => return Ok(message(StatusCode::BAD_REQUEST, "Not a search", Some(&forum), &e.to_string())),
    };
    let posts = state.store.moderation_queue(forum.id, &search).await?;
    let info = CardInfo::of(&state, &forum, &posts).await?;
    let sizes = state.store.queue_sizes(forum.id).await?;
    let active = q.get("state").map_or("pending", String::as_str);
    let title = match active {
        "pending" => format!("Pending ({})", sizes.pending),
        "flagged" => format!("Flagged ({})", sizes.flagged),
        "spam" => format!("Spam ({})", sizes.spam),
        "shadow" => format!("Shadow ({})", sizes.shadow),
        "all" => "All comments".to_owned(),
        other => format!("{}{}", other[..1].to_uppercase(), &other[1..]),
    };
    let field = |k: &str| q.get(k).map_or("", String::as_str);
    let form = SearchForm {
        open: ["q", "email", "author", "thread", "since", "until"].iter().any(|k| !field(k).is_empty()),
        state: active,
        q: field("q"),
        email: field("email"),
        author: field("author"),
        ip: field("ip"),
        thread: field("thread"),
        since: field("since"),
        until: field("until"),
    };
    // A full page may have more behind it: the next one starts before its last post.
    let older = (posts.len() as u32 == PAGE).then(|| posts.last()).flatten().map(|last| {
        let next = q.iter().filter(|(k, _)| *k != "before").map(|(k, v)| (k.as_str(), v.as_str()));
        let last = last.id.to_string();
        url::form_urlencoded::Serializer::new(String::new()).extend_pairs(next).append_pair("before", &last).finish()
    });
    let list = PostList::new(&forum, &posts, &info, csrf_token(&state, &me), here);
    let ctx = minijinja::context! { search => form, states => STATES, list, older };
    Ok(super::page(StatusCode::OK, "queue.html", &title, Some(&forum), active, ctx))
}

pub(super) async fn moderate(State(state): State<AppState>, form: DeskForm<Moderate>) -> Result<Response, ApiError> {
    let DeskForm { me, forum, fields, .. } = form;
    let by = confab_core::model::Moderator::Account(me.account.id);
    let Ok(action) = serde_json::from_value::<Action>(json!(fields.one("action"))) else {
        return Ok(not_done(&forum, "Unknown action."));
    };
    let single = fields.one("post");
    if single.is_empty() && action.state().is_none() {
        return Ok(not_done(&forum, "Highlight and pin work on one comment at a time."));
    }
    let ids: Vec<&str> = if single.is_empty() { fields.all("posts") } else { vec![single] };
    if ids.is_empty() || ids.len() > 100 {
        return Ok(not_done(&forum, "Select 1 to 100 comments."));
    }
    for raw in ids {
        let Ok(id) = raw.parse::<Id>() else { continue };
        // A post of another forum is not found here: tenants stay apart.
        let post = match state.store.post_get(id).await {
            Ok(p) if p.forum_id == forum.id => p,
            Ok(_) | Err(confab_store::StoreError::PostNotFound) => continue,
            Err(e) => return Err(e.into()),
        };
        let done = match action.state() {
            Some(to) => decide(&state.writes, by, &post, to, None).await.map(drop),
            None => mark(&state.writes, &post, action).await.map(drop),
        };
        if let Err(e) = done {
            return Ok(error_page(e, Some(&forum)));
        }
    }
    let anchor = fields.one("next");
    Ok(back_to(&forum, fields.one("back"), (!anchor.is_empty()).then_some(anchor)))
}
