//! Bans' writes and the decision they feed: a moderator bars an account, an address, a
//! whole email domain or an IP network from posting in a forum, for good or for a while
//! (a timeout), openly or in the shadow; and a poster's standing, which every write of a
//! reader checks. Bans change no page already shown, so nothing is refreshed.

use confab_core::id::Id;
use confab_core::input::{Email, InputError, Username};
use confab_core::model::{Ban, BanProbe, BanTarget, Forum, NewBan, UnixMs};

use super::Writes;
use crate::error::ApiError;
use crate::ratelimit::Cidr;
use crate::views::rfc3339;

/// Longest timeout: ten years (longer is a ban).
const MAX_DURATION_SECS: u64 = 10 * 365 * 24 * 3600;

async fn target(w: &Writes, kind: &str, value: &str) -> Result<BanTarget, ApiError> {
    let value = value.trim();
    Ok(match kind {
        "account" => {
            let name = Username::parse(value)?;
            let account = w.store.account_by_username(&name).await?.ok_or_else(|| {
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

/// Checks a ban's parts and creates it: the API's and the dashboard's one way in.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn create(
    w: &Writes,
    forum: &Forum,
    by: confab_core::model::Moderator,
    kind: &str,
    value: &str,
    reason: Option<String>,
    duration_secs: Option<u64>,
    shadow: bool,
) -> Result<Ban, ApiError> {
    let target = target(w, kind, value).await?;
    let reason = reason.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
    if reason.as_ref().is_some_and(|r| r.chars().count() > 500) {
        return Err(InputError::new("reason", "too_long", "at most 500 characters").into());
    }
    let now = w.clock.now();
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
    let ban = w.store.ban_create(forum.id, NewBan { target, reason, by, expires_at, shadow }, now).await?;
    tracing::info!(forum = %forum.id, ban = %ban.id, kind = ban.target.kind(), timed = expires_at.is_some(), shadow = ban.shadow, "ban created");
    Ok(ban)
}

/// Lifts a ban of `forum` (another forum's ban is not found here).
pub(crate) async fn lift(w: &Writes, forum: &Forum, id: Id) -> Result<(), ApiError> {
    w.store.ban_delete(forum.id, id).await?;
    tracing::info!(forum = %forum.id, ban = %id, "ban lifted");
    Ok(())
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
