//! Votes: up (1), down (-1), clear (0). The voter is a token the client keeps in
//! `X-Confab-Voter`; without one, the server mints one and returns it once.

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use confab_core::input::InputError;
use confab_core::model::VoteValue;
use confab_core::secret::Token;
use serde::Deserialize;
use serde_json::json;

use crate::AppState;
use crate::auth::{ClientIp, VOTER_TOKEN_HEADER, check_origin_of, header_token};
use crate::error::ApiError;
use crate::extract::{Json, PathId};
use crate::ratelimit::Key;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct VoteBody {
    value: i64,
}

pub(crate) async fn vote_post(
    State(state): State<AppState>,
    PathId(id): PathId,
    client: ClientIp,
    headers: HeaderMap,
    Json(body): Json<VoteBody>,
) -> Result<impl IntoResponse, ApiError> {
    let value = VoteValue::from_i64(body.value)
        .ok_or_else(|| InputError::new("value", "invalid_vote", "must be -1 (down), 0 (clear) or 1 (up)"))?;
    client.limit(&state, Key::VotesFromNetwork, state.settings.rate_limits.votes_per_network)?;
    if headers.contains_key(axum::http::header::ORIGIN) {
        let post = state.store.post_get(id).await?;
        check_origin_of(&state, post.forum_id, &headers).await?;
    }
    let (voter, minted) = match headers.get(VOTER_TOKEN_HEADER) {
        None => {
            let t = Token::generate();
            (t.clone(), Some(t))
        }
        Some(_) => (
            header_token(&headers, VOTER_TOKEN_HEADER)
                .ok_or_else(|| ApiError::InvalidQuery("X-Confab-Voter must be 16-128 URL-safe characters".into()))?,
            None,
        ),
    };
    let outcome = state.store.vote_set(id, voter.hash(), value, state.clock.now()).await?;
    let p = &outcome.post;
    let mut body = json!({
        "post": { "id": p.id, "likes": p.likes, "dislikes": p.dislikes, "points": p.points() },
        "vote": outcome.current.as_i64(),
        "previous": outcome.previous.as_i64(),
    });
    if let Some(t) = minted {
        body["voter_token"] = json!(t.expose());
    }
    // Personal (the reader's vote, perhaps a token): never cached.
    Ok(([(header::CACHE_CONTROL, "no-store")], axum::Json(body)))
}
