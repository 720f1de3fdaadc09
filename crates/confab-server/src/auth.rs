//! Credentials a request can carry: the admin bearer token, a session's bearer token
//! (a signed-in account), a post's edit token, a voter token.

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use confab_core::secret::Token;

use crate::AppState;
use crate::error::ApiError;

pub const EDIT_TOKEN_HEADER: &str = "x-confab-edit-token";
/// A guest's edit tokens for the posts they wrote in one thread, `<post id>.<token>`
/// separated by commas: the proof that lets them see their own held posts.
pub const EDIT_TOKENS_HEADER: &str = "x-confab-edit-tokens";
pub const VOTER_TOKEN_HEADER: &str = "x-confab-voter";
/// An SSO payload the site signed (`this.page.remote_auth_s3`, or an HS256 JWT).
pub const SSO_HEADER: &str = "x-confab-sso";
/// The forum's public key (`this.page.api_key`), optional beside an SSO payload.
pub const API_KEY_HEADER: &str = "x-confab-api-key";

/// The voter key of an account (see [`Actor::voter`]).
pub fn account_voter(account: confab_core::id::Id) -> confab_core::secret::TokenHash {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"confab account voter\0");
    h.update(account.as_i64().to_be_bytes());
    confab_core::secret::TokenHash(h.finalize().into())
}

/// Who acts in a forum: a guest, a local account, or the site's own user via SSO.
#[derive(Debug, Clone)]
pub enum Actor {
    Guest,
    Account(SignedIn),
    Sso(confab_core::sso::SsoUser),
}

impl Actor {
    pub fn is_signed_in(&self) -> bool {
        !matches!(self, Actor::Guest)
    }

    /// The address mail for this person goes to: an account's verified address, or the
    /// address the site vouches for in its SSO payload.
    pub fn email(&self) -> Option<confab_core::input::Email> {
        match self {
            Actor::Guest => None,
            Actor::Account(me) => me.account.email_verified.then(|| me.account.email.clone()),
            Actor::Sso(user) => user.email.clone(),
        }
    }

    /// The voter key of a signed-in actor: one vote per person whatever the device.
    /// Derived (no storage) and domain-separated from hashes of random voter tokens.
    pub fn voter(&self, forum: confab_core::id::Id) -> Option<confab_core::secret::TokenHash> {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        match self {
            Actor::Guest => return None,
            Actor::Account(me) => return Some(account_voter(me.account.id)),
            Actor::Sso(user) => {
                h.update(b"confab sso voter\0");
                h.update(forum.as_i64().to_be_bytes());
                h.update(user.id.as_bytes());
            }
        }
        Some(confab_core::secret::TokenHash(h.finalize().into()))
    }

    /// Whether the actor wrote a post by `author`.
    pub fn is_author(&self, forum: confab_core::id::Id, author: &confab_core::model::Author) -> bool {
        match self {
            Actor::Guest => false,
            Actor::Account(me) => author.id == me.account.id,
            Actor::Sso(user) => author.sso.as_ref().is_some_and(|(f, id)| *f == forum && *id == user.id),
        }
    }
}

/// The actor a request speaks for in `forum`. A valid SSO payload wins (the page says
/// who its user is); a payload saying "logged out" (`{}`) is a guest. Then a session;
/// else a guest. A payload that does not verify is refused, never downgraded to a guest.
pub async fn actor(
    state: &AppState,
    forum: &confab_core::model::Forum,
    viewer: Option<SignedIn>,
    headers: &HeaderMap,
) -> Result<Actor, ApiError> {
    // A reader credential acts only in the forum it was handed to.
    if viewer.as_ref().is_some_and(|v| !v.may_act_in(forum.id)) {
        return Err(ApiError::CredentialForOtherForum);
    }
    let Some(payload) = headers.get(SSO_HEADER) else {
        return Ok(viewer.map_or(Actor::Guest, Actor::Account));
    };
    let payload =
        payload.to_str().map_err(|_| ApiError::InvalidSso(confab_core::sso::SsoError::Malformed("not ASCII")))?;
    let keys = state.store.forum_keys(forum.id).await?;
    if let Some(sent) = headers.get(API_KEY_HEADER)
        && !bool::from(subtle::ConstantTimeEq::ct_eq(sent.as_bytes(), keys.public_key.as_bytes()))
    {
        return Err(ApiError::InvalidApiKey);
    }
    match confab_core::sso::verify(
        payload,
        keys.secret_key.as_bytes(),
        state.clock.now(),
        forum.policy.sso_max_age_secs,
    ) {
        Ok(confab_core::sso::SsoIdentity::User(user)) => Ok(Actor::Sso(user)),
        Ok(confab_core::sso::SsoIdentity::LoggedOut) => Ok(viewer.map_or(Actor::Guest, Actor::Account)),
        Err(e) => Err(ApiError::InvalidSso(e)),
    }
}

/// The bearer token of `Authorization: Bearer <token>`; `Err` when the header is there
/// but is not a well-formed bearer token.
fn bearer(parts: &Parts) -> Result<Option<Token>, ()> {
    let Some(value) = parts.headers.get(axum::http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| ())?;
    let (scheme, token) = value.split_once(' ').ok_or(())?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(());
    }
    Token::from_client(token.trim()).map(Some).ok_or(())
}

/// A live session and its account.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub session: confab_core::model::Session,
    pub account: confab_core::model::Account,
}

impl SignedIn {
    /// Whether the session may act as a reader in `forum`: an account's own session
    /// anywhere, a reader credential only in its forum.
    pub fn may_act_in(&self, forum: confab_core::id::Id) -> bool {
        self.session.forum.is_none_or(|f| f == forum)
    }

    /// A reader credential: what a site embedding the widget holds (see [`Session::forum`]).
    ///
    /// [`Session::forum`]: confab_core::model::Session::forum
    pub fn is_reader_credential(&self) -> bool {
        self.session.forum.is_some()
    }
}

/// The reader, if signed in. A request without `Authorization` is anonymous; one whose
/// bearer token names no live session is refused (401 `invalid_session`), so a client
/// holding a revoked or expired token learns to drop it instead of acting as a guest.
pub struct Viewer(pub Option<SignedIn>);

impl FromRequestParts<AppState> for Viewer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some(token) = bearer(parts).map_err(|()| ApiError::InvalidSession)? else {
            return Ok(Viewer(None));
        };
        // Looked up by the token's SHA-256 (an index probe on a hash: nothing to time).
        match state.store.session_lookup(token.hash(), state.clock.now()).await? {
            Some((session, account)) => Ok(Viewer(Some(SignedIn { session, account }))),
            None => Err(ApiError::InvalidSession),
        }
    }
}

/// The account's own session, for what concerns the account itself (its sessions, its
/// data, its deletion). A reader credential is refused (403 `reader_credential`): the
/// site that holds it must not manage the account.
impl FromRequestParts<AppState> for SignedIn {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let me = AnySession::from_request_parts(parts, state).await?.0;
        if me.is_reader_credential() { Err(ApiError::ReaderCredential) } else { Ok(me) }
    }
}

/// Any live session, reader credentials included: for who is signed in, and to log out.
pub struct AnySession(pub SignedIn);

impl FromRequestParts<AppState> for AnySession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Viewer::from_request_parts(parts, state).await?.0.map(AnySession).ok_or(ApiError::LoginRequired)
    }
}

/// Who asks for power over forums: the admin token (bootstrap), an account (a global
/// administrator, or by its role in the forum), a forum's secret key (the site's own
/// server), or nobody. Unknown credentials are `401 unauthorized`.
pub enum Principal {
    Anonymous,
    AdminToken,
    Account(SignedIn),
    SecretKey(Token),
}

/// What an action needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Power {
    /// Create forums, list all of them: the admin token or a global administrator.
    Global,
    /// Create, close and reopen threads: moderators, and the forum's secret key.
    ManageThreads,
    /// Settings, keys and roles: owners.
    ManageForum,
    /// Approve, hold, mark spam, delete and restore posts; read the queues: moderators,
    /// and the forum's secret key.
    Moderate,
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some(token) = bearer(parts).map_err(|()| ApiError::Unauthorized)? else {
            return Ok(Principal::Anonymous);
        };
        // Constant-time comparison of the hashes.
        if let AdminToken::Configured(hash) = &state.admin_token
            && hash.matches(&token.hash())
        {
            return Ok(Principal::AdminToken);
        }
        // A secret key has its own shape (`sk_` and 64 hex digits); session tokens are 43
        // base64url characters, so one can never be taken for the other.
        let key = token.expose();
        if key.len() == 67 && key.starts_with("sk_") && key[3..].bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(Principal::SecretKey(token));
        }
        if let Some((session, account)) = state.store.session_lookup(token.hash(), state.clock.now()).await? {
            // A reader credential carries no power at all: moderation, keys, settings and
            // every other forum are as closed to it as to a stranger.
            if session.forum.is_some() {
                return Ok(Principal::Anonymous);
            }
            return Ok(Principal::Account(SignedIn { session, account }));
        }
        // The stored token is read where it is kept, each time: `confab admin-token
        // rotate` takes effect at once in every process sharing the store. Sessions are
        // looked up first, so readers' requests never pay for this read.
        if matches!(state.admin_token, AdminToken::Stored)
            && state.store.admin_token_hash().await?.is_some_and(|h| h.matches(&token.hash()))
        {
            return Ok(Principal::AdminToken);
        }
        Err(ApiError::Unauthorized)
    }
}

/// Where the admin token is kept.
#[derive(Clone, Debug)]
pub enum AdminToken {
    /// Set in the configuration (`admin_token`): fixed for the process's life.
    Configured(confab_core::secret::TokenHash),
    /// In the store, made on the first start and replaced by `confab admin-token rotate`.
    Stored,
}

impl From<confab_core::secret::TokenHash> for AdminToken {
    fn from(hash: confab_core::secret::TokenHash) -> Self {
        AdminToken::Configured(hash)
    }
}

impl Principal {
    /// Who the principal is in the moderation log (`None` for anonymous).
    pub fn moderator(&self) -> Option<confab_core::model::Moderator> {
        use confab_core::model::Moderator;
        Some(match self {
            Principal::Anonymous => return None,
            Principal::AdminToken => Moderator::AdminToken,
            Principal::Account(me) => Moderator::Account(me.account.id),
            Principal::SecretKey(_) => Moderator::SecretKey,
        })
    }

    /// Ok if the principal may use `power` in `forum` (`None` for global actions).
    pub async fn require(
        &self,
        state: &AppState,
        forum: Option<&confab_core::model::Forum>,
        power: Power,
    ) -> Result<(), ApiError> {
        use confab_core::model::Role;
        match self {
            Principal::Anonymous => Err(ApiError::Unauthorized),
            Principal::AdminToken => Ok(()),
            Principal::Account(me) if me.account.is_admin => Ok(()),
            Principal::Account(me) => {
                let needed = match power {
                    Power::Global => return Err(ApiError::Forbidden),
                    Power::ManageThreads | Power::Moderate => Role::Moderator,
                    Power::ManageForum => Role::Owner,
                };
                let Some(forum) = forum else { return Err(ApiError::Forbidden) };
                let role = state.store.role_get(forum.id, me.account.id).await?;
                if role.is_some_and(|r| r >= needed) { Ok(()) } else { Err(ApiError::Forbidden) }
            }
            Principal::SecretKey(key) => {
                let Some(forum) = forum else { return Err(ApiError::Unauthorized) };
                let keys = state.store.forum_keys(forum.id).await?;
                // Another forum's key is no key at all here.
                if !bool::from(subtle::ConstantTimeEq::ct_eq(key.expose().as_bytes(), keys.secret_key.as_bytes())) {
                    return Err(ApiError::Unauthorized);
                }
                if matches!(power, Power::ManageThreads | Power::Moderate) { Ok(()) } else { Err(ApiError::Forbidden) }
            }
        }
    }

    /// The account behind the request, if it is one.
    pub fn account(&self) -> Option<&confab_core::model::Account> {
        match self {
            Principal::Account(me) => Some(&me.account),
            _ => None,
        }
    }
}

/// The `(post, token)` pairs of [`EDIT_TOKENS_HEADER`]; none when it is absent. A
/// malformed pair, or more than [`confab_store::MAX_OWN_POSTS`], is refused whole.
pub fn edit_tokens(headers: &HeaderMap) -> Result<Vec<(confab_core::id::Id, Token)>, ApiError> {
    let Some(value) = headers.get(EDIT_TOKENS_HEADER) else { return Ok(Vec::new()) };
    let bad = |message: &str| ApiError::InvalidEditTokens(message.to_owned());
    let value = value.to_str().map_err(|_| bad("must be ASCII"))?;
    let pairs: Vec<&str> = value.split(',').map(str::trim).filter(|p| !p.is_empty()).collect();
    if pairs.len() > confab_store::MAX_OWN_POSTS {
        return Err(bad(&format!("at most {} posts at a time", confab_store::MAX_OWN_POSTS)));
    }
    pairs
        .into_iter()
        .map(|pair| {
            let (id, token) = pair.split_once('.').ok_or_else(|| bad("each entry is <post id>.<edit token>"))?;
            let id = id.parse().map_err(|_| bad("a post id is not an id"))?;
            let token = Token::from_client(token).ok_or_else(|| bad("an edit token is malformed"))?;
            Ok((id, token))
        })
        .collect()
}

/// A token from a header, if present and well-formed.
pub fn header_token(headers: &HeaderMap, name: &str) -> Option<Token> {
    headers.get(name).and_then(|v| v.to_str().ok()).and_then(Token::from_client)
}

/// The client's network address for rate limits (see `ratelimit::client_ip`); `None`
/// when the server was not given connection info (in-process tests).
pub struct ClientIp(pub Option<std::net::IpAddr>);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0);
        Ok(ClientIp(crate::ratelimit::client_ip(peer, &parts.headers, &state.settings.rate_limits.trusted_proxies)))
    }
}

impl ClientIp {
    /// Counts a request against a per-network limit; 429 when over.
    pub fn limit(
        &self,
        state: &AppState,
        key: impl FnOnce(std::net::IpAddr) -> crate::ratelimit::Key,
        quota: crate::ratelimit::Quota,
    ) -> Result<(), ApiError> {
        match self.0 {
            Some(ip) => state
                .limiter
                .check(key(crate::ratelimit::network(ip)), quota, state.clock.now())
                .map_err(ApiError::RateLimited),
            None => Ok(()),
        }
    }
}

/// Whether the forum vouches for a page url: it is on one of the forum's sites, or the
/// forum lists none (then any site may embed it).
pub fn vouched(forum: &confab_core::model::Forum, url: &confab_core::input::WebUrl) -> bool {
    if forum.origins.is_empty() {
        return true;
    }
    let origin = url::Url::parse(url.as_str()).map(|u| u.origin().ascii_serialization());
    origin.ok().and_then(|o| confab_core::input::Origin::parse(&o).ok()).is_some_and(|o| forum.origins.contains(&o))
}

/// A thread's url must be one the forum vouches for: the first post fixes the url every
/// reply mail links to, so a stranger must not be able to point it at a page of theirs.
pub fn check_thread_url(
    forum: &confab_core::model::Forum,
    url: Option<&confab_core::input::WebUrl>,
) -> Result<(), ApiError> {
    match url {
        Some(u) if !vouched(forum, u) => {
            let sites: Vec<&str> = forum.origins.iter().map(|o| o.as_str()).collect();
            Err(confab_core::input::InputError::new(
                "thread.url",
                "url_not_on_forum_sites",
                format!("must be a page of this forum's sites ({})", sites.join(", ")),
            )
            .into())
        }
        _ => Ok(()),
    }
}

/// The forum's trusted origins guard writes from browsers. Browsers send `Origin` with
/// every cross-origin write (and same-origin POSTs); a request without one is not from
/// a browser page and passes. A forum that lists no origins accepts any (the default
/// until an owner lists theirs). `Origin: null` (sandboxed frames, files) never matches.
pub fn check_origin(forum: &confab_core::model::Forum, headers: &HeaderMap) -> Result<(), ApiError> {
    if forum.origins.is_empty() {
        return Ok(());
    }
    let Some(sent) = headers.get(axum::http::header::ORIGIN) else {
        return Ok(());
    };
    let allowed = sent
        .to_str()
        .ok()
        .and_then(|s| confab_core::input::Origin::parse(s).ok())
        .is_some_and(|o| forum.origins.contains(&o));
    if allowed { Ok(()) } else { Err(ApiError::OriginNotAllowed) }
}
