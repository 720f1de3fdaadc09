//! Readers' flags: a reader reports a post (spam, abuse, off topic, other) once; at
//! the forum's threshold of distinct readers the post leaves the page for review.
//!
//! A reader is their account or SSO identity, and a guest is their network (/24 or /48,
//! as the keyed hash posts keep), so one person cannot reach the threshold alone by
//! clearing their browser. The answer never says how many flags a post has.

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use confab_core::input::InputError;
use confab_core::model::{Flag, FlagReason};
use confab_core::secret::TokenHash;
use serde::Deserialize;

use crate::AppState;
use crate::auth::{ClientIp, Viewer, actor, check_origin};
use crate::error::ApiError;
use crate::extract::{Json, PathId};
use crate::ratelimit::{Key, network_hash};
use crate::views::answers::Flagged;
use crate::views::errors::ErrorEnvelope;
use crate::writes::readers;
use confab_core::id::Id;
use utoipa::ToSchema;

const MAX_NOTE_CHARS: usize = 500;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct FlagBody {
    /// `spam`, `abuse`, `off_topic` or `other`.
    #[schema(value_type = FlagReason)]
    reason: String,
    /// What the reader wants moderators to know.
    #[schema(max_length = 500)]
    note: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/posts/{post}/flags",
    operation_id = "flagPost",
    summary = "Flag a post for the moderators (once per reader: an account, an SSO user, or a guest's network). At the forum's flag_threshold the post leaves the page for review.",
    params(
        ("post" = Id, Path, description = "Post id"),
    ),
    request_body = inline(FlagBody),
    responses(
        (status = 200, description = "Taken (the same answer when this reader had flagged it already)", body = inline(Flagged)),
        (status = 401, description = "login_required: a guest whose address is unknown", body = ErrorEnvelope),
        (status = 403, description = "banned, read_only, origin_not_allowed", body = ErrorEnvelope),
        (status = 404, description = "post_not_found (also for posts readers cannot see)", body = ErrorEnvelope),
        (status = 422, description = "invalid_body, invalid_input (unknown_reason, too_long)", body = ErrorEnvelope),
        (status = 429, description = "rate_limited (shares the votes' budget)", body = ErrorEnvelope),
    ),
)]
pub(crate) async fn flag_post(
    State(state): State<AppState>,
    PathId(id): PathId,
    client: ClientIp,
    Viewer(viewer): Viewer,
    headers: HeaderMap,
    Json(body): Json<FlagBody>,
) -> Result<impl IntoResponse, ApiError> {
    let reason = FlagReason::parse(&body.reason)
        .ok_or_else(|| InputError::new("reason", "unknown_reason", "one of: spam, abuse, off_topic, other"))?;
    let note = body.note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    if note.as_ref().is_some_and(|n| n.chars().count() > MAX_NOTE_CHARS) {
        return Err(InputError::new("note", "too_long", format!("at most {MAX_NOTE_CHARS} characters")).into());
    }
    let limits = &state.settings.rate_limits;
    // Flags share the votes' budget per network: both are one click per post.
    client.limit(&state, Key::VotesFromNetwork, limits.votes_per_network)?;
    let post = state.store.post_get(id).await?;
    let forum = state.store.forum_get(post.forum_id).await?;
    check_origin(&forum, &headers)?;
    let actor = actor(&state, &forum, viewer, &headers).await?;
    let voter = match (actor.voter(forum.id), client.0) {
        (Some(person), _) => Some(person),
        // The keyed hash of the network that posts keep: stable for the reader, names no one.
        (None, Some(ip)) => Some(TokenHash(network_hash(&state.page_key, ip))),
        // Nobody to count the flag against (an in-process caller without an address).
        (None, None) => None,
    };
    let flag = Flag { reason, note, at: state.clock.now() };
    readers::flag(&state.writes, &forum, &post, &actor, client.0, voter, flag).await?;
    Ok(([(header::CACHE_CONTROL, "no-store")], axum::Json(Flagged { flagged: true })))
}
