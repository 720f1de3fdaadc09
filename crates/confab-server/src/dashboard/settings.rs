//! `GET /dashboard/{forum}/settings` (owners): rules and policy, origins, SSO, keys, the
//! team, and deleting the forum; `POST` there sends one of those forms.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use confab_core::model::{Forum, Role};

use super::gate::{Desk, DeskForm, Own};
use super::{Fields, back_to, error_page};
use crate::AppState;
use crate::account_site::csrf_token;
use crate::error::ApiError;
use crate::writes::forums;

pub(super) async fn page(State(state): State<AppState>, desk: Desk<Own>) -> Result<Response, ApiError> {
    let Desk { me, forum, here, .. } = desk;
    let keys = state.store.forum_keys(forum.id).await?;
    let team: Vec<(String, &str)> = state
        .store
        .roles_list(forum.id)
        .await?
        .into_iter()
        .map(|(a, r)| (a.username.as_str().to_owned(), r.as_str()))
        .collect();
    let origins = forum.origins.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n");
    let ctx = minijinja::context! {
        here,
        csrf => csrf_token(&state, &me),
        policy => &forum.policy,
        origins,
        keys => minijinja::context! { public_key => &keys.public_key, secret_key => &keys.secret_key },
        team,
    };
    Ok(super::page(StatusCode::OK, "settings.html", "Settings", Some(&forum), "settings", ctx))
}

pub(super) async fn change(State(state): State<AppState>, form: DeskForm<Own>) -> Result<Response, ApiError> {
    let DeskForm { forum, fields, .. } = form;
    let section = fields.one("section");
    let done = match section {
        "delete" => delete(&state, &forum, &fields).await,
        "rotate" => rotate(&state, &forum).await,
        "role" => set_role(&state, &forum, &fields).await,
        "policy" => save_policy(&state, &forum, &fields).await,
        _ => Err(ApiError::InvalidQuery("unknown settings form".into())),
    };
    let here = format!("/dashboard/{}/settings", forum.shortname.as_str());
    Ok(match done {
        // Its pages are gone with it.
        Ok(()) if section == "delete" => Redirect::to("/dashboard").into_response(),
        Ok(()) => {
            back_to(&forum, [fields.one("back"), &here].into_iter().find(|b| !b.is_empty()).unwrap_or(&here), None)
        }
        Err(e) => error_page(e, Some(&forum)),
    })
}

async fn delete(state: &AppState, forum: &Forum, fields: &Fields) -> Result<(), ApiError> {
    if !forum.deletion_confirmed(fields.one("confirm")) {
        return Err(crate::api::forums::confirmation_mismatch(forum).into());
    }
    forums::delete(&state.writes, forum).await?;
    Ok(())
}

async fn rotate(state: &AppState, forum: &Forum) -> Result<(), ApiError> {
    forums::rotate_keys(&state.writes, forum).await?;
    Ok(())
}

async fn set_role(state: &AppState, forum: &Forum, fields: &Fields) -> Result<(), ApiError> {
    let account = crate::api::forums::named_account(state, "username", fields.one("username")).await?;
    let role = match fields.one("role") {
        "none" => None,
        r => Some(Role::parse(r).ok_or_else(|| ApiError::InvalidQuery("unknown role".into()))?),
    };
    state.store.role_set(forum.id, account.id, role, state.clock.now()).await?;
    tracing::info!(forum = %forum.id, account = %account.id, "role changed from the dashboard");
    Ok(())
}

/// The policy form: every field is sent (unchecked boxes by their absence).
async fn save_policy(state: &AppState, forum: &Forum, fields: &Fields) -> Result<(), ApiError> {
    let lines = |name: &str| -> Vec<String> {
        fields.one(name).lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect()
    };
    let number = |name: &'static str| -> Result<u64, ApiError> {
        fields
            .one(name)
            .trim()
            .parse::<u64>()
            .map_err(|_| confab_core::input::InputError::new(name, "not_a_number", "a whole number").into())
    };
    let pick = |name: &str| serde_json::Value::String(fields.one(name).to_owned());
    let bad = |name: &str| ApiError::InvalidQuery(format!("unknown choice for {name}"));
    let mut p = forum.policy.clone();
    p.allow_guests = fields.flag("allow_guests");
    p.require_guest_email = fields.flag("require_guest_email");
    p.premoderate = fields.flag("premoderate");
    p.premoderate_guests = fields.flag("premoderate_guests");
    p.premoderate_first_posts = fields.flag("premoderate_first_posts");
    p.premoderate_links = fields.flag("premoderate_links");
    p.akismet = fields.flag("akismet");
    p.read_only = fields.flag("read_only");
    p.restricted_words = lines("restricted_words");
    p.restricted_names = lines("restricted_names");
    p.voting = serde_json::from_value(pick("voting")).map_err(|_| bad("voting"))?;
    p.spam_filter = serde_json::from_value(pick("spam_filter")).map_err(|_| bad("spam filter"))?;
    p.restricted_action = serde_json::from_value(pick("restricted_action")).map_err(|_| bad("restricted action"))?;
    p.on_account_delete = serde_json::from_value(pick("on_account_delete")).map_err(|_| bad("deleted accounts"))?;
    p.flag_threshold = u32::try_from(number("flag_threshold")?).unwrap_or(u32::MAX);
    p.auto_close_days = u32::try_from(number("auto_close_days")?).unwrap_or(u32::MAX);
    p.sso_max_age_secs = number("sso_max_age_secs")?;
    let policy = crate::api::forums::checked_policy(p)?;
    let name = confab_core::input::DisplayName::parse("name", fields.one("name"))?;
    let origins = crate::api::forums::parse_origins(&lines("origins"))?;
    let update = confab_core::model::ForumUpdate { name: Some(name), origins: Some(origins), policy: Some(policy) };
    forums::update(&state.writes, forum, update).await?;
    Ok(())
}
