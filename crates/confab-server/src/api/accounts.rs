//! Local accounts: sign up, confirm the address, log in and out, sessions, password
//! reset. Accounts are global: one account comments on every forum of the server.
//!
//! No response tells a stranger whether an email address has an account: sign-up and
//! reset requests answer the same whatever the address (the mail says what happened),
//! and a failed log-in never says whether the name or the password was wrong. Usernames
//! are public (they sign comments), so a taken one is reported.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use confab_core::input::{Email, InputError, Password, Username, login_key};
use confab_core::model::{Account, LinkPurpose, NewAccount};
use confab_core::secret::Token;
use confab_core::switches;
use confab_store::StoreError;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::auth::{AnySession, ClientIp, SignedIn};
use crate::error::ApiError;
use crate::extract::{Json, PathId};
use crate::mail::Mail;
use crate::ratelimit::Key;
use crate::views::SessionView;
use crate::views::accounts::{Accepted, AccountExport, AccountResult, Deleted, LoggedIn, SessionList};
use crate::views::errors::ErrorEnvelope;
use confab_core::id::Id;
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SignUp {
    #[schema(pattern = "^[A-Za-z0-9][A-Za-z0-9_.-]{1,29}$")]
    username: String,
    email: String,
    #[schema(min_length = 8, max_length = 256)]
    password: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LogIn {
    /// Username or email address.
    login: String,
    password: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LinkToken {
    token: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResetRequest {
    email: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Reset {
    token: String,
    #[schema(min_length = 8, max_length = 256)]
    password: String,
}

fn no_store() -> [(header::HeaderName, &'static str); 1] {
    [(header::CACHE_CONTROL, "no-store")]
}

fn sha256(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

/// Creates a one-time link for the account and mails it. Failures to send are logged
/// (without the address) and otherwise swallowed: the response must not differ.
async fn send_link(state: &AppState, account: &Account, purpose: LinkPurpose) -> Result<(), ApiError> {
    let s = &state.settings.accounts;
    let ttl = match purpose {
        LinkPurpose::Verify => s.verify_link_ttl,
        LinkPurpose::Reset => s.reset_link_ttl,
    };
    let token = Token::generate();
    let now = state.clock.now();
    state
        .store
        .link_create(token.hash(), account.id, purpose, &account.email, now, now + ttl.as_millis() as i64)
        .await?;
    let url = format!("{}/account/{}?token={}", s.public_url, purpose.as_str(), token.expose());
    let hours = ttl.as_secs().div_ceil(3600);
    let (subject, text) = match purpose {
        LinkPurpose::Verify => (
            "Confirm your email address".to_owned(),
            format!(
                "Hello {name},\n\nplease confirm that this is your address to finish creating your account:\n\n\
                 {url}\n\nThe link works once, for {hours} hours. If you did not sign up, ignore this mail: \
                 no account is used until the address is confirmed.\n",
                name = account.username
            ),
        ),
        LinkPurpose::Reset => (
            "Reset your password".to_owned(),
            format!(
                "Hello {name},\n\nto choose a new password, open:\n\n{url}\n\nThe link works once, for {hours} \
                 hour(s). Setting a new password signs you out everywhere. If you did not ask for this, ignore \
                 this mail: your password stays as it is.\n",
                name = account.username
            ),
        ),
    };
    deliver(state, Mail::plain(account.email.clone(), subject, text)).await;
    Ok(())
}

async fn deliver(state: &AppState, mail: Mail) {
    let subject = mail.subject.clone();
    if let Err(e) = state.mailer.send(mail).await {
        tracing::warn!(subject = %subject, error = %e, "mail not sent");
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/auth/signup",
    operation_id = "signUp",
    summary = "Create an account (confirmed by a mailed link)",
    description = "Always 202 for valid input, whether or not the address already has an account: the mail says which. Log in once the address is confirmed.",
    request_body = inline(SignUp),
    responses(
        (status = 202, description = "A confirmation mail is on its way", body = Accepted),
        (status = 403, description = "signups_closed: the operator has switched sign-ups off", body = ErrorEnvelope),
        (status = 409, description = "username_taken", body = ErrorEnvelope),
        (status = 422, description = "invalid_input / invalid_body", body = ErrorEnvelope),
        (status = 429, description = "rate_limited: too many sign-ups from this network", body = ErrorEnvelope),
    ),
)]
pub(crate) async fn sign_up(
    State(state): State<AppState>,
    client: ClientIp,
    Json(body): Json<SignUp>,
) -> Result<impl IntoResponse, ApiError> {
    register(&state, &client, &body.username, &body.email, &body.password).await?;
    Ok((
        StatusCode::ACCEPTED,
        no_store(),
        axum::Json(Accepted {
            status: "confirmation_sent",
            message: "Check your inbox: we sent a link to confirm the address. Log in once it is confirmed.",
        }),
    ))
}

/// Creates an account and mails the link that confirms its address (shared with the
/// log-in window). The answer is the same whether or not the address had an account.
pub(crate) async fn register(
    state: &AppState,
    client: &ClientIp,
    username: &str,
    email: &str,
    password: &str,
) -> Result<(), ApiError> {
    if !state.live.on_for(switches::SIGNUPS, None, client.0) {
        return Err(ApiError::SignupsClosed);
    }
    let username = Username::parse(username.trim())?;
    let email = Email::parse(email)?;
    let password = Password::parse(password)?;
    if login_key(password.expose()) == username.key() || login_key(password.expose()) == email.as_str() {
        return Err(InputError::new("password", "too_guessable", "must not be your username or email").into());
    }
    client.limit(state, Key::SignupsFromNetwork, state.settings.rate_limits.signups_per_network)?;
    let password_hash = state.passwords.hash(password).await?;
    let new = NewAccount { username, email: email.clone(), password_hash };
    match state.store.account_create(new, state.clock.now()).await {
        Ok(account) => {
            tracing::info!(account = %account.id, "account created");
            send_link(state, &account, LinkPurpose::Verify).await?;
        }
        Err(StoreError::EmailTaken) => {
            // Same answer as a new sign-up; the owner of the address learns what happened.
            if let Some(existing) = state.store.account_by_email(&email).await? {
                if existing.email_verified {
                    deliver(
                        state,
                        Mail::plain(
                            existing.email.clone(),
                            "You already have an account",
                            format!(
                                "Hello {name},\n\nsomeone (perhaps you) tried to sign up with this address, which \
                             already has an account: {name}. To log in without your password, ask for a reset \
                             link from any comment section's log-in form. If it was not you, nothing has \
                             changed.\n",
                                name = existing.username
                            ),
                        ),
                    )
                    .await;
                } else {
                    send_link(state, &existing, LinkPurpose::Verify).await?;
                }
            }
        }
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    operation_id = "logIn",
    summary = "Log in with username or email and password",
    request_body = inline(LogIn),
    responses(
        (status = 200, description = "A new session; keep the token", body = LoggedIn),
        (status = 401, description = "invalid_credentials (never says which part was wrong)", body = ErrorEnvelope),
        (status = 403, description = "email_not_verified (a new confirmation link was mailed)", body = ErrorEnvelope),
        (status = 422, description = "invalid_input / invalid_body", body = ErrorEnvelope),
        (status = 429, description = "rate_limited: too many attempts from this network or for this name", body = ErrorEnvelope),
    ),
)]
pub(crate) async fn log_in(
    State(state): State<AppState>,
    client: ClientIp,
    Json(body): Json<LogIn>,
) -> Result<impl IntoResponse, ApiError> {
    let key = login_key(&body.login);
    if key.is_empty() || key.chars().count() > confab_core::input::MAX_EMAIL_CHARS {
        return Err(InputError::new("login", "invalid_login", "give your username or email address").into());
    }
    let (token, session, account) = authenticate(&state, &client, &key, &body.password, None).await?;
    Ok((no_store(), axum::Json(LoggedIn::new(token.expose().to_owned(), &session, &account))))
}

/// Checks a log-in (limits, password, confirmed address) and opens a session (a reader
/// credential for `forum` alone when one is given); shared by the API, the account page
/// and the log-in window.
pub(crate) async fn authenticate(
    state: &AppState,
    client: &ClientIp,
    key: &str,
    password: &str,
    forum: Option<confab_core::id::Id>,
) -> Result<(Token, confab_core::model::Session, Account), ApiError> {
    let limits = &state.settings.rate_limits;
    client.limit(state, Key::LoginsFromNetwork, limits.logins_per_network)?;
    state
        .limiter
        .check(
            Key::LoginsForName(sha256(key), client.0.map(crate::ratelimit::network)),
            limits.logins_per_name,
            state.clock.now(),
        )
        .map_err(ApiError::RateLimited)?;
    let password = Password::presented(password).ok_or(ApiError::InvalidCredentials)?;
    let found = state.store.account_for_login(key).await?;
    let (account, stored) = match found {
        Some((a, h)) => (Some(a), Some(h)),
        None => (None, None),
    };
    if !state.passwords.verify(password, stored).await? {
        return Err(ApiError::InvalidCredentials);
    }
    let account = account.ok_or(ApiError::InvalidCredentials)?;
    if !account.email_verified {
        send_link(state, &account, LinkPurpose::Verify).await?;
        return Err(ApiError::EmailNotVerified);
    }
    let token = Token::generate();
    let now = state.clock.now();
    let expires = now + state.settings.accounts.session_ttl.as_millis() as i64;
    let session = state.store.session_create(account.id, token.hash(), now, expires, forum).await?;
    tracing::info!(account = %account.id, session = %session.id, "signed in");
    Ok((token, session, account))
}

#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    operation_id = "logOut",
    summary = "End this session",
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, description = "login_required / invalid_session", body = ErrorEnvelope),
    ),
    security(("session" = [])),
)]
pub(crate) async fn log_out(
    State(state): State<AppState>,
    AnySession(me): AnySession,
) -> Result<impl IntoResponse, ApiError> {
    state.store.session_revoke(me.account.id, me.session.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/api/v1/me",
    operation_id = "getMe",
    summary = "The signed-in account",
    responses(
        (status = 200, description = "The account", body = AccountResult),
        (status = 401, description = "login_required / invalid_session", body = ErrorEnvelope),
    ),
    security(("session" = [])),
)]
pub(crate) async fn me(AnySession(me): AnySession) -> impl IntoResponse {
    (no_store(), axum::Json(AccountResult::from(&me.account)))
}

#[utoipa::path(
    get,
    path = "/api/v1/me/sessions",
    operation_id = "listSessions",
    summary = "The account's live sessions, newest first",
    responses(
        (status = 200, description = "Sessions", body = inline(SessionList)),
        (status = 401, description = "login_required / invalid_session", body = ErrorEnvelope),
    ),
    security(("session" = [])),
)]
pub(crate) async fn list_sessions(State(state): State<AppState>, me: SignedIn) -> Result<impl IntoResponse, ApiError> {
    let sessions = state.store.session_list(me.account.id, state.clock.now()).await?;
    let views: Vec<SessionView> = sessions.iter().map(|s| SessionView::new(s, me.session.id)).collect();
    Ok((no_store(), axum::Json(SessionList { sessions: views })))
}

#[utoipa::path(
    delete,
    path = "/api/v1/me/sessions/{session}",
    operation_id = "revokeSession",
    summary = "End one of the account's sessions (e.g. a lost device)",
    params(
        ("session" = Id, Path, description = "Session id"),
    ),
    responses(
        (status = 204, description = "Ended"),
        (status = 400, description = "invalid_id", body = ErrorEnvelope),
        (status = 401, description = "login_required / invalid_session", body = ErrorEnvelope),
        (status = 404, description = "session_not_found (not one of this account's)", body = ErrorEnvelope),
    ),
    security(("session" = [])),
)]
pub(crate) async fn revoke_session(
    State(state): State<AppState>,
    me: SignedIn,
    PathId(session): PathId,
) -> Result<impl IntoResponse, ApiError> {
    state.store.session_revoke(me.account.id, session).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Everything Confab stores about the account, as one JSON document to download.
#[utoipa::path(
    get,
    path = "/api/v1/me/export",
    operation_id = "exportAccount",
    summary = "Everything stored about the account, as a JSON download: account, sessions, roles, posts, votes",
    responses(
        (status = 200, description = "The export (Content-Disposition: attachment)", body = inline(AccountExport)),
        (status = 401, description = "login_required / invalid_session", body = ErrorEnvelope),
    ),
    security(("session" = [])),
)]
pub(crate) async fn export(State(state): State<AppState>, me: SignedIn) -> Result<impl IntoResponse, ApiError> {
    let body = export_document(&state, &me).await?;
    tracing::info!(account = %me.account.id, "data exported");
    Ok((
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"confab-account.json\""),
        ],
        axum::Json(body),
    ))
}

/// The export document (shared with the account page's download).
pub(crate) async fn export_document(state: &AppState, me: &SignedIn) -> Result<AccountExport, ApiError> {
    let now = state.clock.now();
    let sessions = state.store.session_list(me.account.id, now).await?;
    let data = state.store.account_data(me.account.id, crate::auth::account_voter(me.account.id)).await?;
    let sessions = sessions.iter().map(|s| SessionView::new(s, me.session.id)).collect();
    Ok(AccountExport::new(now, &me.account, sessions, &data))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeleteAccount {
    /// The current password, again: a borrowed session alone cannot delete an account.
    password: String,
}

/// Deletes the account: posts anonymised or removed as each forum decides, then the
/// account itself with its sessions and roles.
#[utoipa::path(
    delete,
    path = "/api/v1/me",
    operation_id = "deleteAccount",
    summary = "Delete the account; its posts are anonymised or removed as each forum's policy says",
    request_body = inline(DeleteAccount),
    responses(
        (status = 200, description = "Deleted", body = inline(Deleted)),
        (status = 401, description = "login_required / invalid_session / invalid_credentials (wrong password)", body = ErrorEnvelope),
        (status = 409, description = "last_owner: hand your forums over first", body = ErrorEnvelope),
        (status = 422, description = "invalid_body", body = ErrorEnvelope),
        (status = 429, description = "rate_limited", body = ErrorEnvelope),
    ),
    security(("session" = [])),
)]
pub(crate) async fn delete_account(
    State(state): State<AppState>,
    me: SignedIn,
    Json(body): Json<DeleteAccount>,
) -> Result<impl IntoResponse, ApiError> {
    let done = delete_with_password(&state, &me, &body.password).await?;
    Ok((no_store(), axum::Json(Deleted::from(&done))))
}

/// Checks the password again and deletes the account (shared with the account page).
pub(crate) async fn delete_with_password(
    state: &AppState,
    me: &SignedIn,
    password: &str,
) -> Result<confab_store::AccountDeleted, ApiError> {
    state
        .limiter
        .check(
            Key::LoginsForName(sha256(&me.account.username.key()), None),
            state.settings.rate_limits.logins_per_name,
            state.clock.now(),
        )
        .map_err(ApiError::RateLimited)?;
    let stored = state.store.account_for_login(&me.account.username.key()).await?.map(|(_, h)| h);
    let password = Password::presented(password).ok_or(ApiError::InvalidCredentials)?;
    if !state.passwords.verify(password, stored).await? {
        return Err(ApiError::InvalidCredentials);
    }
    crate::writes::accounts::delete(&state.writes, me.account.id).await
}

/// A link token as pasted from a mail; anything malformed is simply an invalid link.
pub(crate) fn link_token(s: &str) -> Result<Token, ApiError> {
    Token::from_client(s.trim()).ok_or(ApiError::Store(StoreError::LinkInvalid))
}

/// Confirms an address (shared with the HTML page the mailed link opens).
pub(crate) async fn confirm_email(state: &AppState, token: &str) -> Result<Account, ApiError> {
    let token = link_token(token)?;
    let account = state.store.account_verify_email(token.hash(), state.clock.now()).await?;
    tracing::info!(account = %account.id, "email confirmed");
    Ok(account)
}

/// Sets a new password from a reset link (shared with the HTML page).
pub(crate) async fn reset_password(state: &AppState, token: &str, password: &str) -> Result<Account, ApiError> {
    let token = link_token(token)?;
    let password = Password::parse(password)?;
    let hash = state.passwords.hash(password).await?;
    let account = state.store.account_reset_password(token.hash(), hash, state.clock.now()).await?;
    tracing::info!(account = %account.id, "password reset; sessions ended");
    Ok(account)
}

#[utoipa::path(
    post,
    path = "/api/v1/auth/verify",
    operation_id = "verifyEmail",
    summary = "Confirm an address with the token from the mailed link",
    request_body = inline(LinkToken),
    responses(
        (status = 200, description = "Confirmed", body = AccountResult),
        (status = 400, description = "invalid_link: unknown, expired or already used", body = ErrorEnvelope),
        (status = 422, description = "invalid_body", body = ErrorEnvelope),
    ),
)]
pub(crate) async fn verify(
    State(state): State<AppState>,
    Json(body): Json<LinkToken>,
) -> Result<impl IntoResponse, ApiError> {
    let account = confirm_email(&state, &body.token).await?;
    Ok((no_store(), axum::Json(AccountResult::from(&account))))
}

#[utoipa::path(
    post,
    path = "/api/v1/auth/reset-request",
    operation_id = "requestPasswordReset",
    summary = "Mail a password-reset link",
    description = "Always 202 for a valid address, whether or not it has an account.",
    request_body = inline(ResetRequest),
    responses(
        (status = 202, description = "If the address has an account, a link is on its way", body = Accepted),
        (status = 422, description = "invalid_input / invalid_body", body = ErrorEnvelope),
        (status = 429, description = "rate_limited", body = ErrorEnvelope),
    ),
)]
pub(crate) async fn request_reset(
    State(state): State<AppState>,
    client: ClientIp,
    Json(body): Json<ResetRequest>,
) -> Result<impl IntoResponse, ApiError> {
    send_reset(&state, &client, &body.email).await?;
    Ok((
        StatusCode::ACCEPTED,
        no_store(),
        axum::Json(Accepted {
            status: "reset_sent",
            message: "If an account uses this address, a link to reset its password is on its way.",
        }),
    ))
}

/// Mails a reset link if an account uses the address (shared with the log-in window);
/// the answer is the same either way.
pub(crate) async fn send_reset(state: &AppState, client: &ClientIp, email: &str) -> Result<(), ApiError> {
    let email = Email::parse(email)?;
    let limits = &state.settings.rate_limits;
    client.limit(state, Key::ResetsFromNetwork, limits.resets_per_network)?;
    state
        .limiter
        .check(Key::ResetsForEmail(sha256(email.as_str())), limits.resets_per_email, state.clock.now())
        .map_err(ApiError::RateLimited)?;
    if let Some(account) = state.store.account_by_email(&email).await? {
        send_link(state, &account, LinkPurpose::Reset).await?;
    }
    Ok(())
}

#[utoipa::path(
    post,
    path = "/api/v1/auth/reset",
    operation_id = "resetPassword",
    summary = "Set a new password with the token from the mailed link; ends every session",
    request_body = inline(Reset),
    responses(
        (status = 200, description = "Password changed; log in again", body = AccountResult),
        (status = 400, description = "invalid_link", body = ErrorEnvelope),
        (status = 422, description = "invalid_input (the password breaks the rules; the link stays valid)", body = ErrorEnvelope),
    ),
)]
pub(crate) async fn reset(
    State(state): State<AppState>,
    Json(body): Json<Reset>,
) -> Result<impl IntoResponse, ApiError> {
    let account = reset_password(&state, &body.token, &body.password).await?;
    Ok((no_store(), axum::Json(AccountResult::from(&account))))
}
