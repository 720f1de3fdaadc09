//! `GET /dashboard/-/switches` (global administrators): every feature switch, how it is
//! set, what it does, and its latest changes; `POST` there sets one (on, off, back to
//! its default, or on for a share of readers, some forums or networks), through the
//! same checks and audit log as the API and the command line. (`-` is never a forum's
//! shortname, so the page cannot shadow a forum's.)

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use confab_core::switches::{self, Matchers, State as SwitchState, Switch};
use serde::Serialize;

use super::{Fields, message};
use crate::AppState;
use crate::account_site::{checked, csrf_token, from_cookie, login_page_to, refused};
use crate::auth::SignedIn;
use crate::error::ApiError;

pub(super) const PATH: &str = "/dashboard/-/switches";

#[derive(Serialize)]
struct Row {
    key: &'static str,
    about: &'static str,
    /// `default (on)`, `on`, `off`, `inherit` or `selective`.
    state: String,
    /// A selective switch's conditions, as the API writes them.
    conditions: String,
    note: String,
    on_here: bool,
}

#[derive(Serialize)]
struct Change {
    seq: u64,
    at: String,
    key: String,
    by: String,
    before: String,
    after: String,
}

fn admin_only() -> Response {
    message(StatusCode::FORBIDDEN, "Administrators only", None, "Feature switches are for global administrators.")
}

pub(super) async fn page(State(state): State<AppState>, jar: CookieJar) -> Result<Response, ApiError> {
    let Some(me) = from_cookie(&state, &jar).await? else {
        return Ok(login_page_to(StatusCode::UNAUTHORIZED, None, Some(PATH)));
    };
    if !me.account.is_admin {
        return Ok(admin_only());
    }
    draw(&state, &me, StatusCode::OK, None).await
}

async fn draw(
    state: &AppState,
    me: &SignedIn,
    status: StatusCode,
    error: Option<String>,
) -> Result<Response, ApiError> {
    let snap = state.live.snapshot();
    let rows: Vec<Row> = switches::CATALOG
        .iter()
        .map(|k| {
            let set = snap.get(k.key);
            Row {
                key: k.key,
                about: k.about,
                state: Switch::label(k, set),
                conditions: set.map(Switch::conditions).unwrap_or_default(),
                note: set.map(|w| w.note.clone()).unwrap_or_default(),
                on_here: state.live.on(k.key),
            }
        })
        .collect();
    let text = |v: &Option<String>| v.clone().unwrap_or_else(|| "(default)".into());
    let log: Vec<Change> = state
        .live
        .log(None, 50)
        .await?
        .iter()
        .map(|c| Change {
            seq: c.seq,
            at: super::minute(c.at),
            key: c.key.clone(),
            by: c.by.clone(),
            before: text(&c.before),
            after: text(&c.after),
        })
        .collect();
    let ctx = minijinja::context! { switches => rows, log, error, here => PATH, csrf => csrf_token(state, me) };
    Ok(super::page(status, "switches.html", "Feature switches", None, "", ctx))
}

/// A comma- or space-separated list from a form field.
fn list(fields: &Fields, name: &str) -> Vec<String> {
    fields.one(name).split([',', ' ', '\n']).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

/// The switch a form asks for: `None` to clear it; `Err` says what is wrong with it.
fn asked(fields: &Fields) -> Result<Option<Switch>, String> {
    let note = fields.one("note").to_owned();
    let plain = |state| {
        Ok(Some(Switch { state, include: Matchers::default(), exclude: Matchers::default(), note: note.clone() }))
    };
    match fields.one("op") {
        "on" => plain(SwitchState::On),
        "off" => plain(SwitchState::Off),
        "clear" => Ok(None),
        "selective" => {
            let percent = match fields.one("percent").trim() {
                "" => None,
                p => Some(p.parse::<f64>().map_err(|_| format!("{p:?} is not a percentage"))?),
            };
            let networks = |name: &str| -> Result<Vec<ipnet::IpNet>, String> {
                list(fields, name).iter().map(|n| switches::parse_network(n)).collect()
            };
            let include = Matchers {
                percent,
                forums: list(fields, "forums"),
                networks: networks("networks")?,
                usernames: list(fields, "usernames"),
                ..Matchers::default()
            };
            let exclude = Matchers { networks: networks("exclude_networks")?, ..Matchers::default() };
            Ok(Some(Switch { state: SwitchState::Selective, include, exclude, note }))
        }
        other => Err(format!("unknown action {other:?}")),
    }
}

pub(super) async fn change(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let fields = Fields::parse(&body);
    let Some(me) = checked(&state, &headers, &jar, fields.one("csrf")).await? else { return Ok(refused()) };
    if !me.account.is_admin {
        return Ok(admin_only());
    }
    let key = fields.one("key");
    let by = format!("account:{}", me.account.username);
    let outcome = match asked(&fields) {
        Ok(to) => {
            state.live.set(key, to, &by, state.clock.now()).await.map_err(ApiError::from).map_err(|e| e.to_string())
        }
        Err(why) => Err(why),
    };
    match outcome {
        Ok(_) => Ok(Redirect::to(PATH).into_response()),
        Err(why) => draw(&state, &me, StatusCode::UNPROCESSABLE_ENTITY, Some(why)).await,
    }
}
