//! Readers' writes on a post: a vote and a flag. The handler has derived who the reader
//! is (`voter`: their account or SSO identity, or a guest's network or token) and
//! counted the rate limits; these check that the forum takes the write from them, and
//! make it.

use std::net::IpAddr;

use confab_core::model::{Flag, Forum, Post, PostState, VoteValue};
use confab_core::secret::TokenHash;
use confab_store::{StoreError, VoteOutcome};

use super::bans::{self, Standing};
use super::{Change, Writes};
use crate::auth::Actor;
use crate::error::ApiError;

/// What the reader is told of their vote.
pub(crate) struct Voted {
    pub post: Post,
    pub current: VoteValue,
    pub previous: VoteValue,
}

/// Refused in a read-only forum or to a banned reader; `Shadow` for a shadow-banned one.
async fn standing(w: &Writes, forum: &Forum, actor: &Actor, ip: Option<IpAddr>) -> Result<Standing, ApiError> {
    if forum.policy.read_only {
        return Err(ApiError::ReadOnly);
    }
    // A guest is known here by network only.
    bans::check(&*w.store, forum, &bans::probe(actor, None), ip, w.clock.now()).await
}

/// `voter`'s vote on `post`. A shadow-banned reader's vote is taken and dropped: the
/// answer looks the same to them.
pub(crate) async fn vote(
    w: &Writes,
    forum: &Forum,
    post: Post,
    actor: &Actor,
    ip: Option<IpAddr>,
    voter: TokenHash,
    value: VoteValue,
) -> Result<Voted, ApiError> {
    if standing(w, forum, actor, ip).await? == Standing::Shadow {
        if post.state != PostState::Approved {
            return Err(StoreError::PostNotVotable.into());
        }
        return Ok(Voted { post, current: value, previous: VoteValue::Clear });
    }
    let VoteOutcome { post, previous, current } = w.store.vote_set(post.id, voter, value, w.clock.now()).await?;
    if current != previous {
        // The voter reloads and expects their vote counted: the thread's cached pages
        // are made again (one refresh per thread at a time, however many votes).
        w.committed(&[Change::Thread(post.thread_id)]).await;
    }
    Ok(Voted { post, current, previous })
}

/// `voter`'s flag on `post`; at the forum's threshold of readers the post leaves the
/// page for review. A shadow-banned reader's flag is taken and dropped. Without a
/// voter (no account, no known network) the reader must sign in.
pub(crate) async fn flag(
    w: &Writes,
    forum: &Forum,
    post: &Post,
    actor: &Actor,
    ip: Option<IpAddr>,
    voter: Option<TokenHash>,
    flag: Flag,
) -> Result<(), ApiError> {
    let standing = standing(w, forum, actor, ip).await?;
    let voter = voter.ok_or(ApiError::LoginRequired)?;
    if standing == Standing::Shadow {
        if post.state != PostState::Approved {
            return Err(StoreError::PostNotFound.into());
        }
        return Ok(());
    }
    let outcome = w.store.flag_add(post.id, voter, flag, forum.policy.flag_threshold, w.clock.now()).await?;
    if outcome.held {
        w.committed(&[Change::Thread(post.thread_id)]).await;
        tracing::info!(post = %post.id, "post held for review by readers' flags");
    }
    Ok(())
}
