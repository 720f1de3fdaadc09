//! `GET /dashboard/{forum}/bans`: the bans in force, and a form for any kind;
//! `POST` there bans (from here or a user's page) or lifts a ban.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use confab_core::id::Id;
use confab_core::model::BanTarget;
use serde::Serialize;

use super::gate::{Desk, DeskForm, Moderate};
use super::{back_to, error_page, minute, not_done};
use crate::AppState;
use crate::account_site::csrf_token;
use crate::error::ApiError;

#[derive(Serialize)]
struct BanRow {
    id: String,
    what: String,
    shadow: bool,
    until: String,
    reason: String,
}

pub(super) async fn page(State(state): State<AppState>, desk: Desk<Moderate>) -> Result<Response, ApiError> {
    let Desk { me, forum, here, .. } = desk;
    let mut rows = Vec::new();
    for b in state.store.bans_list(forum.id, state.clock.now()).await? {
        let what = match &b.target {
            BanTarget::Account(id) => state
                .store
                .account_get(*id)
                .await
                .map(|a| format!("account {}", a.username.as_str()))
                .unwrap_or_else(|_| "a deleted account".into()),
            t => format!("{} {}", t.kind(), t.value()),
        };
        rows.push(BanRow {
            id: b.id.to_string(),
            what,
            shadow: b.shadow,
            until: b.expires_at.map_or("until lifted".to_owned(), minute),
            reason: b.reason.unwrap_or_default(),
        });
    }
    let ctx = minijinja::context! { bans => rows, here, csrf => csrf_token(&state, &me) };
    Ok(super::page(StatusCode::OK, "bans.html", "Bans", Some(&forum), "bans", ctx))
}

pub(super) async fn ban_or_lift(State(state): State<AppState>, form: DeskForm<Moderate>) -> Result<Response, ApiError> {
    let DeskForm { me, forum, fields, .. } = form;
    if fields.one("op") == "lift" {
        let done = match fields.one("ban").parse::<Id>() {
            Ok(id) => crate::writes::bans::lift(&state.writes, &forum, id).await,
            Err(_) => Err(confab_store::StoreError::BanNotFound.into()),
        };
        return Ok(match done {
            Ok(()) => back_to(&forum, &format!("/dashboard/{}/bans", forum.shortname.as_str()), None),
            Err(e) => error_page(e, Some(&forum)),
        });
    }
    // A user's page names its target in one field (`kind:value`); this page in two.
    let (kind, value) = match fields.one("target").split_once(':') {
        Some((k, v)) => (k, v),
        None => (fields.one("kind"), fields.one("value")),
    };
    let duration = match fields.one("duration") {
        "" => None,
        d => match d.parse::<u64>() {
            Ok(secs) => Some(secs),
            Err(_) => return Ok(not_done(&forum, "Unknown duration.")),
        },
    };
    let reason = Some(fields.one("reason").to_owned());
    let by = confab_core::model::Moderator::Account(me.account.id);
    let made =
        crate::writes::bans::create(&state.writes, &forum, by, kind, value, reason, duration, fields.flag("shadow"))
            .await;
    if let Err(e) = made {
        return Ok(error_page(e, Some(&forum)));
    }
    Ok(back_to(&forum, fields.one("back"), None))
}
