//! Votes: up (1), down (-1), clear (0). A signed-in reader votes as their account (one
//! vote per account on any device). A guest votes as its network (IPv4 /24, IPv6 /48,
//! keyed under a server secret): one vote per post per network. Where the client's
//! address is unknown, a guest is the token it keeps in `X-Confab-Voter` (without one,
//! the server mints one and returns it once). The forum's
//! policy says whether guests, only accounts, or nobody may vote.

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use confab_core::input::InputError;
use confab_core::model::{VotePolicy, VoteValue};
use confab_core::secret::{Token, TokenHash};
use serde::Deserialize;

use crate::AppState;
use crate::auth::{ClientIp, VOTER_TOKEN_HEADER, Viewer, actor, check_origin, header_token};
use crate::error::ApiError;
use crate::extract::{Json, PathId};
use crate::ratelimit::{Key, network_hash};
use crate::views::answers::{VoteCounts, VoteResult};
use crate::views::errors::ErrorEnvelope;
use crate::writes::readers::{self, Voted};
use confab_core::id::Id;
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct VoteBody {
    /// 1 likes, -1 dislikes, 0 takes the vote back.
    #[schema(minimum = -1, maximum = 1)]
    value: i64,
}

#[utoipa::path(
    post,
    path = "/api/v1/posts/{post}/vote",
    operation_id = "votePost",
    summary = "Vote up (1), down (-1) or clear (0)",
    description = "One vote per voter per post. Signed in (Authorization: Bearer <session token>), the voter is the account. Otherwise the voter is the token in X-Confab-Voter; without one the server mints one and returns it as voter_token: keep it. The forum's policy.voting may allow only accounts, or nobody.",
    params(
        ("post" = Id, Path, description = "Post id"),
        ("X-Confab-Voter" = Option<String>, Header, min_length = 16, max_length = 128),
        ("X-Confab-SSO" = Option<String>, Header, description = "An SSO payload signed with the forum's secret key: Disqus remote_auth_s3 (\"<base64 JSON user> <hex HMAC-SHA1> <unix seconds>\") or an HS256 JWT. {} means logged out.", max_length = 8192),
        ("X-Confab-Api-Key" = Option<String>, Header, description = "The forum's public key; when sent, it must match"),
    ),
    request_body = inline(VoteBody),
    responses(
        (status = 200, description = "Counters after the vote", body = VoteResult),
        (status = 400, description = "invalid_query (malformed voter token)", body = ErrorEnvelope),
        (status = 403, description = "origin_not_allowed / voting_not_allowed / invalid_api_key", body = ErrorEnvelope),
        (status = 404, description = "post_not_found", body = ErrorEnvelope),
        (status = 409, description = "post_not_votable", body = ErrorEnvelope),
        (status = 422, description = "invalid_input / invalid_body", body = ErrorEnvelope),
        (status = 429, description = "rate_limited, with Retry-After: too many votes from this network", body = ErrorEnvelope),
        (status = 401, description = "login_required (the forum takes votes from accounts only) / invalid_session / invalid_sso", body = ErrorEnvelope),
    ),
    security((), ("session" = [])),
)]
pub(crate) async fn vote_post(
    State(state): State<AppState>,
    PathId(id): PathId,
    client: ClientIp,
    Viewer(viewer): Viewer,
    headers: HeaderMap,
    Json(body): Json<VoteBody>,
) -> Result<impl IntoResponse, ApiError> {
    let value = VoteValue::from_i64(body.value)
        .ok_or_else(|| InputError::new("value", "invalid_vote", "must be -1 (down), 0 (clear) or 1 (up)"))?;
    let limits = &state.settings.rate_limits;
    client.limit(&state, Key::VotesFromNetwork, limits.votes_per_network)?;
    // The forum's policy and origins: two point reads by primary key.
    let post = state.store.post_get(id).await?;
    let forum = state.store.forum_get(post.forum_id).await?;
    check_origin(&forum, &headers)?;
    let actor = actor(&state, &forum, viewer, &headers).await?;
    match forum.policy.voting {
        VotePolicy::Off => return Err(ApiError::VotingNotAllowed("this forum does not take votes")),
        VotePolicy::Accounts if !actor.is_signed_in() => return Err(ApiError::LoginRequired),
        _ => {}
    }
    let (voter, minted) = who_votes(&state, &forum, &actor, &client, &headers)?;
    let Voted { post: p, current, previous } =
        readers::vote(&state.writes, &forum, post, &actor, client.0, voter, value).await?;
    let body = VoteResult {
        post: VoteCounts::from(&p),
        vote: current.as_i64(),
        previous: previous.as_i64(),
        voter_token: minted.map(|t| t.expose().to_owned()),
    };
    // Personal (the reader's vote, perhaps a token): never cached.
    Ok(([(header::CACHE_CONTROL, "no-store")], axum::Json(body)))
}

/// Who the reader votes as, and the voter token minted for a guest who has none.
fn who_votes(
    state: &AppState,
    forum: &confab_core::model::Forum,
    actor: &crate::auth::Actor,
    client: &ClientIp,
    headers: &HeaderMap,
) -> Result<(TokenHash, Option<Token>), ApiError> {
    let limits = &state.settings.rate_limits;
    // A guest votes once per post per network, whatever voter tokens it sends (fresh
    // tokens from one network do not add up; accounts vote anywhere). Without the
    // client's address (in-process callers) the voter token stands in.
    let guest_network = client.0.map(|ip| TokenHash(network_hash(&state.page_key, ip)));
    Ok(match (actor.voter(forum.id), headers.get(VOTER_TOKEN_HEADER)) {
        (None, _) if let Some(network) = guest_network => (network, None),
        (Some(person), _) => {
            state
                .limiter
                .check(Key::VotesByPerson(person.0), limits.votes_per_account, state.clock.now())
                .map_err(ApiError::RateLimited)?;
            (person, None)
        }
        (None, None) => {
            let t = Token::generate();
            (t.hash(), Some(t))
        }
        (None, Some(_)) => (
            header_token(headers, VOTER_TOKEN_HEADER)
                .ok_or_else(|| ApiError::InvalidQuery("X-Confab-Voter must be 16-128 URL-safe characters".into()))?
                .hash(),
            None,
        ),
    })
}
