//! Posts' writes: a new post, and its author's edit and deletion. The handler has
//! parsed the request and checked who is asking (the origin, the session, the rate
//! limits, the edit token); these decide what the post becomes and write it in one
//! transaction.

use std::net::IpAddr;

use confab_core::admission::{self, Poster};
use confab_core::id::Id;
use confab_core::input::{Email, Message};
use confab_core::jobs::{ClientInfo, Screen};
use confab_core::model::{Forum, NewPost, Post, PostAuthor, Role, ThreadSpec};
use confab_core::render::render_markdown;
use confab_core::rules;
use confab_core::secret::Token;
use confab_store::{CreatedPost, DeletedPost};

use super::bans::{self, Standing};
use super::{Change, Writes};
use crate::auth::Actor;
use crate::error::ApiError;

/// A new post as the request asked for it, parsed and checked.
pub(crate) struct Draft {
    pub actor: Actor,
    pub author: PostAuthor,
    pub thread: ThreadSpec,
    pub parent: Option<Id>,
    pub message: Message,
    /// Mail the author about replies.
    pub notify: bool,
    /// Subscribe this address to the thread, in the post's transaction.
    pub subscribe: Option<Email>,
    /// The poster's address, for network bans (never stored).
    pub ip: Option<IpAddr>,
    /// The keyed hash of the poster's network, kept with the post for moderators' search.
    pub network: Option<[u8; 32]>,
    /// What an outside spam service needs about the request, when the forum asks one.
    pub client: Option<ClientInfo>,
}

/// A post written, and the token that lets its author edit it within the window.
pub(crate) struct Created {
    pub created: CreatedPost,
    pub edit_token: Token,
}

/// Trusted members, moderators and owners of the forum, and global administrators,
/// post straight through the forum's rules.
pub(crate) async fn skips_rules(w: &Writes, forum: &Forum, actor: &Actor) -> Result<bool, ApiError> {
    let Actor::Account(me) = actor else { return Ok(false) };
    if me.account.is_admin {
        return Ok(true);
    }
    let role = w.store.role_get(forum.id, me.account.id).await?;
    Ok(role.is_some_and(|r| r >= Role::Trusted))
}

/// Writes a new post in `forum`: refused in a read-only forum or to a banned poster;
/// its state, hold reason and screening decided by [`admission::admit`] from the
/// forum's rules, the poster's trust and standing; then the post, its thread (made on a
/// first post), its subscription and events in one transaction.
pub(crate) async fn create(w: &Writes, forum: &Forum, draft: Draft) -> Result<Created, ApiError> {
    if forum.policy.read_only {
        return Err(ApiError::ReadOnly);
    }
    let guest_email = match &draft.author {
        PostAuthor::Guest(g) => g.email.as_ref(),
        _ => None,
    };
    let probe = bans::probe(&draft.actor, guest_email);
    let standing = bans::check(&*w.store, forum, &probe, draft.ip, w.clock.now()).await?;
    // The forum's rules (trusted members and moderators skip them), the poster's
    // standing and the spam filter: one decision.
    let trusted = forum.policy.has_rules() && skips_rules(w, forum, &draft.actor).await?;
    let name = match (&draft.actor, &draft.author) {
        (_, PostAuthor::Guest(g)) => Some(g.name.to_string()),
        (Actor::Account(me), _) => Some(me.account.username.to_string()),
        (_, PostAuthor::Sso(u)) => Some(u.name.to_string()),
        _ => None,
    };
    let poster = match draft.actor {
        Actor::Guest => Poster::Guest,
        Actor::Account(_) => Poster::Account,
        Actor::Sso(_) => Poster::Sso,
    };
    let admitted = admission::admit(&admission::Request {
        policy: &forum.policy,
        poster,
        trusted,
        name: name.as_deref(),
        message: draft.message.as_str(),
        shadow: standing == Standing::Shadow,
    })?;
    let screen = admitted.screen_clean.map(|clean| Screen { clean, queued: None, client: draft.client });
    let html = render_markdown(draft.message.as_str());
    let edit_token = Token::generate();
    let new = NewPost {
        thread: draft.thread,
        parent_id: draft.parent,
        author: draft.author,
        message: draft.message,
        html,
        state: admitted.state,
        notify: draft.notify,
        screen,
        held: admitted.held,
        hold_first_post: admitted.hold_first_post,
        network: draft.network,
        subscribe: draft.subscribe,
    };
    let created = w.store.post_create(forum, new, edit_token.hash(), w.clock.now()).await?;
    w.committed(&[Change::Author(&created.author), Change::Thread(created.thread.id)]).await;
    tracing::info!(post = %created.post.id, thread = %created.thread.id, thread_created = created.thread_created, "post created");
    Ok(Created { created, edit_token })
}

/// The author's new text for `post`: refused in a read-only forum; held for review
/// when it brings in a restricted word (unless the author is trusted here).
pub(crate) async fn edit(
    w: &Writes,
    forum: &Forum,
    post: &Post,
    actor: &Actor,
    message: Message,
) -> Result<Post, ApiError> {
    if forum.policy.read_only {
        return Err(ApiError::ReadOnly);
    }
    // An edit cannot bring in what the forum's word rules keep out.
    let mut hold = None;
    if rules::find(&forum.policy.restricted_words, message.as_str()).is_some() && !skips_rules(w, forum, actor).await? {
        hold = admission::admit_edit(&forum.policy, message.as_str())?;
    }
    let html = render_markdown(message.as_str());
    let edited = w.store.post_edit(post.id, message, html, hold, w.clock.now()).await?;
    w.committed(&[Change::Thread(edited.thread_id)]).await;
    Ok(edited)
}

/// The author's deletion of `post` (its replies stay, under a placeholder).
pub(crate) async fn delete(w: &Writes, post: &Post) -> Result<DeletedPost, ApiError> {
    let deleted = w.store.post_delete(post.id, w.clock.now()).await?;
    w.committed(&[Change::Thread(deleted.thread.id)]).await;
    Ok(deleted)
}
