//! Bans and timeouts: a forum's moderators bar an account, an address, a whole email
//! domain or an IP network from posting there, for good or for a while.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use confab_core::id::Id;
use confab_core::input::{Email, InputError, Username};
use confab_core::model::{Ban, BanProbe, BanTarget, Forum, NewBan, UnixMs};
use serde::Deserialize;

use crate::AppState;
use crate::auth::{Power, Principal};
use crate::error::ApiError;
use crate::extract::{Json, PathForum};
use crate::ratelimit::Cidr;
use crate::views::answers::{BanList, BanView};
use crate::views::rfc3339;

/// Longest timeout: ten years (longer is a ban).
const MAX_DURATION_SECS: u64 = 10 * 365 * 24 * 3600;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BanInput {
    /// `account` (a username), `email`, `domain` or `ip` (an address or a CIDR network).
    kind: String,
    value: String,
    reason: Option<String>,
    /// A timeout: lifted by itself after this many seconds. Left out: until lifted.
    duration_secs: Option<u64>,
    /// A shadow ban: the reader's posts are taken but shown only to them.
    #[serde(default)]
    shadow: bool,
}

async fn moderated_forum(state: &AppState, who: &Principal, forum: &str) -> Result<Forum, ApiError> {
    let forum = state.store.forum_by_shortname(forum).await?;
    who.require(state, Some(&forum), Power::Moderate).await?;
    Ok(forum)
}

async fn target(state: &AppState, kind: &str, value: &str) -> Result<BanTarget, ApiError> {
    let value = value.trim();
    Ok(match kind {
        "account" => {
            let name = Username::parse(value)?;
            let account = state.store.account_by_username(&name).await?.ok_or_else(|| {
                ApiError::from(InputError::new("value", "unknown_account", "no account has this username"))
            })?;
            BanTarget::Account(account.id)
        }
        "email" => BanTarget::Email(Email::parse(value)?.as_str().to_owned()),
        "domain" => {
            let d = value.trim_start_matches('@').to_ascii_lowercase();
            let ok = d.len() <= 253
                && d.contains('.')
                && d.split('.').all(|l| {
                    !l.is_empty() && l.len() <= 63 && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                });
            if !ok {
                return Err(InputError::new("value", "invalid_domain", "a domain such as example.com").into());
            }
            BanTarget::Domain(d)
        }
        "ip" => {
            let net = if value.contains('/') {
                value.to_owned()
            } else if value.contains(':') {
                format!("{value}/128")
            } else {
                format!("{value}/32")
            };
            Cidr::parse(&net).map_err(|e| InputError::new("value", "invalid_network", e))?;
            BanTarget::Ip(net)
        }
        _ => return Err(InputError::new("kind", "unknown_kind", "one of: account, email, domain, ip").into()),
    })
}

pub(crate) async fn create_ban(
    State(state): State<AppState>,
    who: Principal,
    PathForum(forum): PathForum,
    Json(body): Json<BanInput>,
) -> Result<impl IntoResponse, ApiError> {
    let forum = moderated_forum(&state, &who, &forum).await?;
    let by = who.moderator().ok_or(ApiError::Unauthorized)?;
    let ban = create(&state, &forum, by, &body.kind, &body.value, body.reason, body.duration_secs, body.shadow).await?;
    Ok((StatusCode::CREATED, [(header::CACHE_CONTROL, "no-store")], axum::Json(BanView::from(&ban))))
}

/// Checks a ban's parts and creates it: the API's and the dashboard's one way in.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn create(
    state: &AppState,
    forum: &Forum,
    by: confab_core::model::Moderator,
    kind: &str,
    value: &str,
    reason: Option<String>,
    duration_secs: Option<u64>,
    shadow: bool,
) -> Result<Ban, ApiError> {
    let target = target(state, kind, value).await?;
    let reason = reason.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
    if reason.as_ref().is_some_and(|r| r.chars().count() > 500) {
        return Err(InputError::new("reason", "too_long", "at most 500 characters").into());
    }
    let now = state.clock.now();
    let expires_at = match duration_secs {
        None => None,
        Some(s) if (1..=MAX_DURATION_SECS).contains(&s) => Some(now + (s * 1000) as i64),
        Some(_) => {
            return Err(InputError::new(
                "duration_secs",
                "out_of_range",
                "1 second to 10 years; leave it out for a ban",
            )
            .into());
        }
    };
    let ban = state.store.ban_create(forum.id, NewBan { target, reason, by, expires_at, shadow }, now).await?;
    tracing::info!(forum = %forum.id, ban = %ban.id, kind = ban.target.kind(), timed = expires_at.is_some(), shadow = ban.shadow, "ban created");
    Ok(ban)
}

pub(crate) async fn list_bans(
    State(state): State<AppState>,
    who: Principal,
    PathForum(forum): PathForum,
) -> Result<impl IntoResponse, ApiError> {
    let forum = moderated_forum(&state, &who, &forum).await?;
    let bans = state.store.bans_list(forum.id, state.clock.now()).await?;
    Ok(([(header::CACHE_CONTROL, "no-store")], axum::Json(BanList { bans: bans.iter().map(BanView::from).collect() })))
}

pub(crate) async fn delete_ban(
    State(state): State<AppState>,
    who: Principal,
    axum::extract::Path((forum, id)): axum::extract::Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let forum = moderated_forum(&state, &who, &forum).await?;
    let id: Id = id.parse().map_err(|_| ApiError::InvalidId(id))?;
    state.store.ban_delete(forum.id, id).await?;
    tracing::info!(forum = %forum.id, ban = %id, "ban lifted");
    Ok(StatusCode::NO_CONTENT)
}

/// The ban probe of an actor: its account and its address (a guest's, when posting).
pub(crate) fn probe(actor: &crate::auth::Actor, guest_email: Option<&Email>) -> BanProbe {
    use crate::auth::Actor;
    BanProbe {
        account: match actor {
            Actor::Account(me) => Some(me.account.id),
            _ => None,
        },
        email: guest_email.cloned().or_else(|| actor.email()).map(|e| e.as_str().to_owned()),
    }
}

/// What the bans say of a poster who may go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Standing {
    Clear,
    /// Shadow-banned: their posts are taken and shown to them alone.
    Shadow,
}

/// Refuses a poster the forum has banned: by account, address, domain, or network.
/// A shadow ban does not refuse: it is reported, and the caller hides the post.
pub(crate) async fn check(
    store: &dyn confab_store::Store,
    forum: &Forum,
    probe: &BanProbe,
    ip: Option<std::net::IpAddr>,
    now: UnixMs,
) -> Result<Standing, ApiError> {
    let found = store.bans_matching(forum.id, probe, now).await?;
    let hits: Vec<&Ban> = found
        .iter()
        .filter(|b| match &b.target {
            BanTarget::Ip(net) => ip.is_some_and(|ip| Cidr::parse(net).is_ok_and(|c| c.contains(ip))),
            _ => true,
        })
        .collect();
    let (shadow, hits): (Vec<&Ban>, Vec<&Ban>) = hits.into_iter().partition(|b| b.shadow);
    if hits.is_empty() {
        return Ok(if shadow.is_empty() { Standing::Clear } else { Standing::Shadow });
    }
    // The longest one decides: a ban outlasts any timeout.
    let until =
        if hits.iter().any(|b| b.expires_at.is_none()) { None } else { hits.iter().filter_map(|b| b.expires_at).max() };
    Err(ApiError::Banned(match until {
        None => "you cannot post in this forum".to_owned(),
        Some(t) => format!("you cannot post in this forum until {}", rfc3339(t)),
    }))
}
