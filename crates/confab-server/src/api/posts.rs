//! Posts: create (guests and accounts), details, edit and delete by the author: a guest
//! with the post's edit token within the edit window, an account with its session at
//! any time.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use confab_core::id::Id;
use confab_core::input::{DisplayName, Email, InputError, Message, WebUrl};
use confab_core::jobs::ClientInfo;
use confab_core::model::{Forum, GuestAuthor, Post, PostAuthor, PostState};
use confab_store::StoreError;
use serde::Deserialize;

use super::threads::ThreadInput;
use crate::AppState;
use crate::auth::{Actor, ClientIp, EDIT_TOKEN_HEADER, SSO_HEADER, Viewer, actor, check_origin, header_token};
use crate::error::ApiError;
use crate::extract::{Json, PathForum, PathId};
use crate::ratelimit::Key;
use crate::reads::pages::{authors_of, shown_authors};
use crate::views::answers::{CreatedPostView, PostAndThread};
use crate::views::errors::ErrorEnvelope;
use crate::views::{PostView, ThreadView, rfc3339};
use crate::writes::posts;
use utoipa::ToSchema;

/// A guest's details; leave out when signed in (Authorization: Bearer <session token>).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuthorInput {
    #[schema(min_length = 1, max_length = 100)]
    name: String,
    /// Private; only its hash is ever shown
    email: Option<String>,
    #[schema(format = "uri")]
    url: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreatePost {
    thread: ThreadInput,
    /// Reply to this post (same thread)
    parent: Option<Id>,
    /// Markdown; raw HTML is shown as text
    #[schema(min_length = 1, max_length = 20000)]
    message: String,
    /// A guest's details; left out when signed in.
    author: Option<AuthorInput>,
    /// Mail the author about replies to this post. Default: yes for accounts, no for
    /// guests and SSO users (who need an email address for it).
    notify: Option<bool>,
    /// Also subscribe the author to every new comment in the thread (signed in only).
    #[serde(default)]
    #[schema(default = false)]
    subscribe: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EditPost {
    #[schema(min_length = 1, max_length = 20000)]
    message: String,
}

fn guest(a: &AuthorInput, require_email: bool) -> Result<GuestAuthor, InputError> {
    let name = DisplayName::parse("author.name", &a.name)?;
    let email = a.email.as_deref().filter(|e| !e.trim().is_empty()).map(Email::parse).transpose()?;
    if require_email && email.is_none() {
        return Err(InputError::new("author.email", "required", "this forum asks guests for an email address"));
    }
    let url = a.url.as_deref().filter(|u| !u.trim().is_empty()).map(|u| WebUrl::parse("author.url", u)).transpose()?;
    Ok(GuestAuthor { name, email, url })
}

#[utoipa::path(
    post,
    path = "/api/v1/forums/{forum}/posts",
    operation_id = "createPost",
    summary = "Post a comment as a guest; the thread is created by its first post",
    params(
        ("forum" = String, Path, description = "Forum shortname"),
        ("X-Confab-SSO" = Option<String>, Header, description = "An SSO payload signed with the forum's secret key: Disqus remote_auth_s3 (\"<base64 JSON user> <hex HMAC-SHA1> <unix seconds>\") or an HS256 JWT. {} means logged out.", max_length = 8192),
        ("X-Confab-Api-Key" = Option<String>, Header, description = "The forum's public key; when sent, it must match"),
    ),
    request_body = CreatePost,
    responses(
        (status = 201, description = "Created. Keep edit_token to edit or delete within the window.", body = CreatedPostView, headers(("Location" = String))),
        (status = 400, description = "malformed_json", body = ErrorEnvelope),
        (status = 403, description = "thread_closed / guests_not_allowed / origin_not_allowed (a browser write from a site the forum does not list) / invalid_api_key, banned (the poster is banned or timed out in this forum)", body = ErrorEnvelope),
        (status = 404, description = "forum_not_found", body = ErrorEnvelope),
        (status = 413, description = "body_too_large (64 KiB)", body = ErrorEnvelope),
        (status = 415, description = "unsupported_media_type", body = ErrorEnvelope),
        (status = 422, description = "invalid_body / invalid_input / parent_not_found / parent_not_in_thread / parent_not_replyable / parent_too_deep (replies nest at most 256 levels)", body = ErrorEnvelope),
        (status = 429, description = "rate_limited, with Retry-After: too many posts from this network or into this forum", body = ErrorEnvelope),
        (status = 401, description = "invalid_session / invalid_sso", body = ErrorEnvelope),
    ),
    security((), ("session" = [])),
)]
pub(crate) async fn create_post(
    State(state): State<AppState>,
    PathForum(forum): PathForum,
    client: ClientIp,
    Viewer(viewer): Viewer,
    headers: HeaderMap,
    Json(body): Json<CreatePost>,
) -> Result<impl IntoResponse, ApiError> {
    let forum = state.store.forum_by_shortname(&forum).await?;
    check_origin(&forum, &headers)?;
    let message = Message::parse(&body.message)?;
    let actor = actor(&state, &forum, viewer, &headers).await?;
    let (author, notify, subscriber) = who_posts(&forum, &actor, &body)?;
    let thread = body.thread.parse()?;
    crate::auth::check_thread_url(&forum, thread.url.as_ref())?;
    // Counted once the input is valid, so a mistyped form does not use up the quota.
    count_post(&state, &client, &forum, &actor)?;
    let client_info = client_info(&state, &forum, &client, &headers);
    let draft = posts::Draft {
        actor,
        author,
        thread,
        parent: body.parent,
        message,
        notify,
        subscribe: subscriber,
        ip: client.0,
        network: client.0.map(|ip| crate::ratelimit::network_hash(&state.page_key, ip)),
        client: client_info,
    };
    let posts::Created { created, edit_token } = posts::create(&state.writes, &forum, draft).await?;

    let window_ms = state.settings.edit_window.as_millis() as i64;
    let body = CreatedPostView {
        post: PostView::new(&as_author_sees(created.post.clone()), Some(&created.author)),
        thread: ThreadView::new(&created.thread, forum.shortname.as_str()),
        edit_token: edit_token.expose().to_owned(),
        edit_expires_at: rfc3339(created.post.created_at + window_ms),
    };
    let location = format!("/api/v1/posts/{}", created.post.id);
    // The body carries the edit token: no cache may keep it.
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location), (header::CACHE_CONTROL, "no-store".into())],
        axum::Json(body),
    ))
}

/// As whom the actor posts, whether they hear about replies, and whom the thread's
/// subscription (if asked) goes to: what the request may ask for, checked.
fn who_posts(
    forum: &Forum,
    actor: &Actor,
    body: &CreatePost,
) -> Result<(PostAuthor, bool, Option<confab_core::input::Email>), ApiError> {
    let author = match (actor, &body.author) {
        (Actor::Account(me), None) => PostAuthor::Account(me.account.id),
        (Actor::Sso(user), None) => PostAuthor::Sso(user.clone()),
        (Actor::Account(_) | Actor::Sso(_), Some(_)) => {
            return Err(InputError::new(
                "author",
                "signed_in",
                "signed-in users post as their account: leave author out",
            )
            .into());
        }
        (Actor::Guest, _) if !forum.policy.allow_guests => return Err(ApiError::GuestsNotAllowed),
        (Actor::Guest, None) => {
            return Err(InputError::new("author", "required", "guests give a name (or sign in to post)").into());
        }
        (Actor::Guest, Some(a)) => PostAuthor::Guest(guest(a, forum.policy.require_guest_email)?),
    };
    let notify = match (actor, &author) {
        (Actor::Account(_), _) => body.notify.unwrap_or(true),
        (Actor::Sso(user), _) => body.notify.unwrap_or(false) && user.email.is_some(),
        (Actor::Guest, PostAuthor::Guest(g)) => match body.notify {
            Some(true) if g.email.is_none() => {
                return Err(
                    InputError::new("notify", "email_required", "give an email address to hear about replies").into()
                );
            }
            n => n.unwrap_or(false),
        },
        (Actor::Guest, _) => false,
    };
    let subscriber = match (body.subscribe, actor.email()) {
        (false, _) => None,
        (true, Some(email)) => Some(email),
        (true, None) => {
            return Err(InputError::new(
                "subscribe",
                "sign_in_required",
                "subscribing to a thread needs an account with a confirmed address (guests can ask for replies with notify)",
            )
            .into());
        }
    };
    Ok((author, notify, subscriber))
}

/// The rate limits a new post counts against: its network's, its person's (an account
/// or SSO user) and its forum's.
fn count_post(state: &AppState, client: &ClientIp, forum: &Forum, actor: &Actor) -> Result<(), ApiError> {
    let limits = &state.settings.rate_limits;
    client.limit(state, Key::PostsFromNetwork, limits.posts_per_network)?;
    if let Some(voter) = actor.voter(forum.id) {
        // The per-person key is the actor's derived voter key: one bucket per account
        // or per SSO user, never shared across forums for SSO users.
        state
            .limiter
            .check(Key::PostsByPerson(voter.0), limits.posts_per_account, state.clock.now())
            .map_err(ApiError::RateLimited)?;
    }
    state
        .limiter
        .check(Key::PostsInForum(forum.id), limits.posts_per_forum, state.clock.now())
        .map_err(ApiError::RateLimited)?;
    Ok(())
}

/// What an outside spam service needs about the request, only when one is asked.
fn client_info(state: &AppState, forum: &Forum, client: &ClientIp, headers: &HeaderMap) -> Option<ClientInfo> {
    (forum.policy.akismet && state.settings.akismet.is_some()).then(|| {
        let h = |name: header::HeaderName| {
            headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").chars().take(500).collect::<String>()
        };
        ClientInfo {
            ip: client.0.map(|ip| ip.to_string()).unwrap_or_default(),
            user_agent: h(header::USER_AGENT),
            referrer: h(header::REFERER),
        }
    })
}

/// A post as its own author is shown it: a shadow post looks approved to them.
pub(crate) fn as_author_sees(mut p: Post) -> Post {
    if p.state == PostState::Shadow {
        p.state = PostState::Approved;
    }
    p
}

/// A post as the public may see it: pending and spam posts do not exist for them.
async fn public_post(state: &AppState, id: Id) -> Result<Post, ApiError> {
    let post = state.store.post_get(id).await?;
    match post.state {
        PostState::Approved | PostState::Deleted => Ok(post),
        PostState::Pending | PostState::Spam | PostState::Shadow => Err(StoreError::PostNotFound.into()),
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/posts/{post}",
    operation_id = "getPost",
    summary = "A post (pending and spam posts are not public)",
    params(
        ("post" = Id, Path, description = "Post id"),
    ),
    responses(
        (status = 200, description = "The post", body = PostView),
        (status = 400, description = "invalid_id", body = ErrorEnvelope),
        (status = 404, description = "post_not_found", body = ErrorEnvelope),
    ),
)]
pub(crate) async fn get_post(State(state): State<AppState>, PathId(id): PathId) -> Result<impl IntoResponse, ApiError> {
    let post = public_post(&state, id).await?;
    let authors = authors_of(&state.reads, shown_authors(std::iter::once(&post))).await?;
    Ok(axum::Json(PostView::public(&post, authors.get(&post.author_id).cloned())))
}

/// Checks that the request comes from the post's author: signed in as them (an
/// account's session or the site's SSO payload; no time limit), or with the post's
/// edit token within the edit window. Returns the post.
async fn authorise_edit(
    state: &AppState,
    id: Id,
    viewer: Option<crate::auth::SignedIn>,
    headers: &HeaderMap,
) -> Result<(Post, Forum), ApiError> {
    let (post, stored) = state.store.post_for_edit(id).await?;
    if post.state == PostState::Deleted {
        return Err(StoreError::PostNotFound.into());
    }
    // The forum: for its origins, and for the caller's rules (read-only, words).
    let forum = state.store.forum_get(post.forum_id).await?;
    check_origin(&forum, headers)?;
    if headers.contains_key(SSO_HEADER)
        && let Actor::Sso(user) = actor(state, &forum, None, headers).await?
    {
        let authors = state.store.authors_get_many(&[post.author_id]).await?;
        if authors.iter().any(|a| Actor::Sso(user.clone()).is_author(forum.id, a)) {
            return Ok((post, forum));
        }
        return Err(ApiError::InvalidEditToken);
    }
    if viewer.is_some_and(|v| v.may_act_in(post.forum_id) && v.account.id == post.author_id) {
        return Ok((post, forum));
    }
    let presented = header_token(headers, EDIT_TOKEN_HEADER).ok_or(ApiError::InvalidEditToken)?;
    if !stored.is_some_and(|s| s.matches(&presented.hash())) {
        return Err(ApiError::InvalidEditToken);
    }
    let window = state.settings.edit_window;
    if state.clock.now() - post.created_at > window.as_millis() as i64 {
        return Err(ApiError::EditWindowClosed(window.as_secs()));
    }
    Ok((post, forum))
}

#[utoipa::path(
    patch,
    path = "/api/v1/posts/{post}",
    operation_id = "editPost",
    summary = "Edit your post within the edit window",
    description = "The author may act with the post's edit token (X-Confab-Edit-Token) within the edit window, or signed in as the author's account at any time.",
    params(
        ("post" = Id, Path, description = "Post id"),
        ("X-Confab-Edit-Token" = String, Header),
        ("X-Confab-SSO" = Option<String>, Header, description = "An SSO payload signed with the forum's secret key: Disqus remote_auth_s3 (\"<base64 JSON user> <hex HMAC-SHA1> <unix seconds>\") or an HS256 JWT. {} means logged out.", max_length = 8192),
        ("X-Confab-Api-Key" = Option<String>, Header, description = "The forum's public key; when sent, it must match"),
    ),
    request_body = inline(EditPost),
    responses(
        (status = 200, description = "The edited post", body = PostView),
        (status = 403, description = "invalid_edit_token / edit_window_closed / origin_not_allowed / invalid_api_key", body = ErrorEnvelope),
        (status = 404, description = "post_not_found", body = ErrorEnvelope),
        (status = 422, description = "invalid_input", body = ErrorEnvelope),
        (status = 401, description = "invalid_session / invalid_sso", body = ErrorEnvelope),
    ),
    security((), ("session" = [])),
)]
pub(crate) async fn edit_post(
    State(state): State<AppState>,
    PathId(id): PathId,
    Viewer(viewer): Viewer,
    headers: HeaderMap,
    Json(body): Json<EditPost>,
) -> Result<impl IntoResponse, ApiError> {
    let message = Message::parse(&body.message)?;
    let (post, forum) = authorise_edit(&state, id, viewer.clone(), &headers).await?;
    let actor = match viewer {
        Some(v) => Actor::Account(v),
        None => Actor::Guest,
    };
    let post = posts::edit(&state.writes, &forum, &post, &actor, message).await?;
    let post = as_author_sees(post);
    let authors = authors_of(&state.reads, shown_authors(std::iter::once(&post))).await?;
    Ok(axum::Json(PostView::public(&post, authors.get(&post.author_id).cloned())))
}

#[utoipa::path(
    delete,
    path = "/api/v1/posts/{post}",
    operation_id = "deletePost",
    summary = "Delete your post within the edit window (replies keep their place)",
    description = "The author may act with the post's edit token (X-Confab-Edit-Token) within the edit window, or signed in as the author's account at any time.",
    params(
        ("post" = Id, Path, description = "Post id"),
        ("X-Confab-Edit-Token" = String, Header),
        ("X-Confab-SSO" = Option<String>, Header, description = "An SSO payload signed with the forum's secret key: Disqus remote_auth_s3 (\"<base64 JSON user> <hex HMAC-SHA1> <unix seconds>\") or an HS256 JWT. {} means logged out.", max_length = 8192),
        ("X-Confab-Api-Key" = Option<String>, Header, description = "The forum's public key; when sent, it must match"),
    ),
    responses(
        (status = 200, description = "The post, now a placeholder, and its thread", body = inline(PostAndThread)),
        (status = 403, description = "invalid_edit_token / edit_window_closed / origin_not_allowed / invalid_api_key", body = ErrorEnvelope),
        (status = 404, description = "post_not_found", body = ErrorEnvelope),
        (status = 401, description = "invalid_session / invalid_sso", body = ErrorEnvelope),
    ),
    security((), ("session" = [])),
)]
pub(crate) async fn delete_post(
    State(state): State<AppState>,
    PathId(id): PathId,
    Viewer(viewer): Viewer,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    let (post, forum) = authorise_edit(&state, id, viewer, &headers).await?;
    let confab_store::DeletedPost { post, thread } = posts::delete(&state.writes, &post).await?;
    let thread = ThreadView::in_forum(&thread, &forum, state.clock.now());
    Ok(axum::Json(PostAndThread { post: PostView::new(&post, None), thread }))
}
