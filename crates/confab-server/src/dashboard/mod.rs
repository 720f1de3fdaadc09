//! The moderators' dashboard, server-rendered on Confab's own origin (`/dashboard`):
//! queues (pending, flagged, spam, shadow, all) with search, bulk selection and keyboard
//! shortcuts; a thread with its controls; a user's history with ban, timeout, shadow ban
//! and trust; bans; rules and settings, keys, origins and SSO; stats with a chart.
//!
//! One module per page; each handler is a short script: the [`gate`] extractors sign the
//! reader in and check their role in the forum (the same `Principal::require` as the
//! API), the handler gathers what the page shows into plain values, and a template in
//! `templates/dashboard/` draws it (the server's one minijinja environment, shared with
//! mail, escaping every value; post bodies are the sanitised HTML made at write time).
//! Every write is a form POST from this origin carrying the session's CSRF token. One
//! small script of our own (`dashboard.js`) adds the shortcuts; without it every action
//! still works. No third-party assets; the CSP allows only this origin.

mod bans;
mod cards;
mod gate;
mod home;
mod queue;
mod settings;
mod stats;
mod switches;
mod threads;
mod users;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use confab_core::model::Forum;
use minijinja::Value;
use serde::Serialize;

use crate::AppState;
use crate::error::ApiError;

const CSS: &str = include_str!("../../embed/dashboard.css");
const JS: &str = include_str!("../../embed/dashboard.js");

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/dashboard", get(home::page))
        .route("/dashboard/dashboard.css", get(|| async { asset("text/css; charset=utf-8", CSS) }))
        .route("/dashboard/dashboard.js", get(|| async { asset("text/javascript; charset=utf-8", JS) }))
        .route(switches::PATH, get(switches::page).post(switches::change))
        .route("/dashboard/{forum}", get(queue::page))
        .route("/dashboard/{forum}/moderate", post(queue::moderate))
        .route("/dashboard/{forum}/threads/{thread}", get(threads::page).post(threads::close_or_open))
        .route("/dashboard/{forum}/users/{author}", get(users::page))
        .route("/dashboard/{forum}/bans", get(bans::page).post(bans::ban_or_lift))
        .route("/dashboard/{forum}/settings", get(settings::page).post(settings::change))
        .route("/dashboard/{forum}/stats", get(stats::page))
}

fn asset(kind: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, kind), (header::CACHE_CONTROL, "public, max-age=300")], body).into_response()
}

/// What every page's frame shows of its forum.
#[derive(Serialize)]
struct ForumView<'a> {
    shortname: &'a str,
    name: &'a str,
}

/// A page of the dashboard: `template` (under `templates/dashboard/`) drawn with `ctx`
/// and the frame (title, the forum's tabs with `active` marked); our stylesheet and
/// script only, never cached, never framed.
fn page(status: StatusCode, template: &str, title: &str, forum: Option<&Forum>, active: &str, ctx: Value) -> Response {
    let forum = forum.map(|f| ForumView { shortname: f.shortname.as_str(), name: f.name.as_str() });
    let ctx = minijinja::context! { title, forum, active, ..ctx };
    const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; connect-src 'none'; \
                       form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
    crate::templates::page(status, &format!("dashboard/{template}"), &ctx, CSP)
}

/// A page that only says something (what went wrong, mostly), with the way back.
fn message(status: StatusCode, title: &str, forum: Option<&Forum>, text: &str) -> Response {
    page(status, "message.html", title, forum, "", minijinja::context! { text })
}

/// A form the handler would not act on, and why.
fn not_done(forum: &Forum, text: &str) -> Response {
    message(StatusCode::UNPROCESSABLE_ENTITY, "Not done", Some(forum), text)
}

/// The page for an error: who may not, what is not there, what was wrong with a form.
fn error_page(e: ApiError, forum: Option<&Forum>) -> Response {
    match e.status() {
        StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED => message(
            StatusCode::FORBIDDEN,
            "Not yours to moderate",
            None,
            "Your account does not have this role in this forum.",
        ),
        StatusCode::NOT_FOUND => message(StatusCode::NOT_FOUND, "Not found", forum, &e.to_string()),
        s if s.is_client_error() => message(StatusCode::UNPROCESSABLE_ENTITY, "Not done", forum, &e.to_string()),
        _ => e.into_response(),
    }
}

/// Form fields, repeated names kept (bulk selection sends `posts` many times).
pub(crate) struct Fields(Vec<(String, String)>);

impl Fields {
    fn parse(body: &[u8]) -> Fields {
        Fields(url::form_urlencoded::parse(body).into_owned().take(1000).collect())
    }

    fn one(&self, name: &str) -> &str {
        self.0.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
    }

    fn all(&self, name: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect()
    }

    fn flag(&self, name: &str) -> bool {
        matches!(self.one(name), "on" | "true" | "1")
    }
}

/// Where to go after an action: a page of this forum's dashboard, else its queue.
fn back_to(forum: &Forum, back: &str, anchor: Option<&str>) -> Response {
    let base = format!("/dashboard/{}", forum.shortname.as_str());
    let mut to = crate::redirect::confined(back, &base).unwrap_or(base);
    if let Some(a) = anchor.filter(|a| a.bytes().all(|b| b.is_ascii_digit())) {
        to.push_str("#p-");
        to.push_str(a);
    }
    Redirect::to(&to).into_response()
}

/// A time as the dashboard shows it: `2026-12-04 01:57`, UTC.
fn minute(t: confab_core::model::UnixMs) -> String {
    crate::views::rfc3339(t)[..16].replace('T', " ")
}
