//! The account page on Confab's own origin (`/account`): log in with a form, see the
//! account and its signed-in devices, end any of them, download the data, delete the
//! account. Server-rendered, no script.
//!
//! It authenticates with a **cookie**, unlike the widget and the API (bearer tokens):
//! `confab_session` (`__Host-confab_session` over https) holds the session token and an
//! HMAC of it under a server key, is `HttpOnly`, `SameSite=Strict`, `Path=/`, and
//! `Secure` over https. Only these pages read it; the JSON API never does, so no API call
//! can be forged with it. Every write here is a form POST that must come from Confab's
//! own origin (the `Origin` header) and carry the session's CSRF token (an HMAC of the
//! session id under the same key, compared in constant time). The moderation dashboard
//! will use the same session and the same checks.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use confab_core::input::login_key;
use confab_core::keys::hex;
use confab_core::secret::Token;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use crate::AppState;
use crate::api::accounts::{authenticate, delete_with_password, export_document};
use crate::auth::{ClientIp, SignedIn};
use crate::error::ApiError;
use crate::pages::{message, message_with_link, render};
use crate::views::rfc3339;

fn secure(state: &AppState) -> bool {
    state.settings.accounts.public_url.starts_with("https://")
}

/// `__Host-` binds the cookie to this exact host over https; browsers refuse it on http.
fn cookie_name(state: &AppState) -> &'static str {
    if secure(state) { "__Host-confab_session" } else { "confab_session" }
}

fn mac(state: &AppState, purpose: &[u8], data: &[u8]) -> Hmac<Sha256> {
    let mut m = Hmac::<Sha256>::new_from_slice(&state.page_key).expect("HMAC takes any key length");
    m.update(purpose);
    m.update(data);
    m
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || s.len() > 128 {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

fn cookie_value(state: &AppState, token: &Token) -> String {
    format!("{}.{}", token.expose(), hex(&mac(state, b"cookie\0", token.expose().as_bytes()).finalize().into_bytes()))
}

/// The CSRF token of a session: stable for its life, useless for any other.
pub(crate) fn csrf_token(state: &AppState, me: &SignedIn) -> String {
    hex(&mac(state, b"csrf\0", &me.session.id.as_i64().to_be_bytes()).finalize().into_bytes())
}

fn csrf_ok(state: &AppState, me: &SignedIn, presented: &str) -> bool {
    unhex(presented)
        .is_some_and(|b| mac(state, b"csrf\0", &me.session.id.as_i64().to_be_bytes()).verify_slice(&b).is_ok())
}

/// The signed-in account behind the cookie, if the cookie is genuine and its session lives.
pub(crate) async fn from_cookie(state: &AppState, jar: &CookieJar) -> Result<Option<SignedIn>, ApiError> {
    let Some(c) = jar.get(cookie_name(state)) else { return Ok(None) };
    let Some((token, sig)) = c.value().split_once('.') else { return Ok(None) };
    let Some(token) = Token::from_client(token) else { return Ok(None) };
    // A forged cookie is turned away without touching the database.
    let genuine =
        unhex(sig).is_some_and(|s| mac(state, b"cookie\0", token.expose().as_bytes()).verify_slice(&s).is_ok());
    if !genuine {
        return Ok(None);
    }
    Ok(state
        .store
        .session_lookup(token.hash(), state.clock.now())
        .await?
        .map(|(session, account)| SignedIn { session, account }))
}

/// Writes must come from a page of Confab's own origin.
pub(crate) fn same_origin(state: &AppState, headers: &HeaderMap) -> bool {
    let ours = url::Url::parse(&state.settings.accounts.public_url).map(|u| u.origin().ascii_serialization());
    let sent = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    matches!((ours, sent), (Ok(o), Some(s)) if o == s)
}

pub(crate) fn refused() -> Response {
    message_with_link(
        StatusCode::FORBIDDEN,
        "Request refused",
        "This form must be sent from this site's own account page.",
        "/account",
        "Back to your account",
    )
}

fn to_account() -> Response {
    Redirect::to("/account").into_response()
}

/// Where a log-in may send the browser next: a page of the dashboard, nothing else (no
/// open redirect).
fn safe_next(next: &str) -> Option<String> {
    crate::redirect::confined(next, "/dashboard")
}

pub(crate) fn login_page(status: StatusCode, error: Option<&str>) -> Response {
    login_page_to(status, error, None)
}

/// The log-in form; `next` (a dashboard page) is where a successful log-in goes.
pub(crate) fn login_page_to(status: StatusCode, error: Option<&str>, next: Option<&str>) -> Response {
    let next = next.and_then(safe_next);
    render(status, "login.html", "Your account", minijinja::context! { error, next })
}

#[derive(serde::Serialize)]
struct SessionRow {
    id: String,
    created_at: String,
    expires_at: String,
    /// The session this page is read with.
    current: bool,
}

fn account_page(me: &SignedIn, sessions: &[confab_core::model::Session], csrf: &str) -> Response {
    let rows: Vec<SessionRow> = sessions
        .iter()
        .map(|s| SessionRow {
            id: s.id.to_string(),
            created_at: rfc3339(s.created_at),
            expires_at: rfc3339(s.expires_at),
            current: s.id == me.session.id,
        })
        .collect();
    let a = &me.account;
    let ctx = minijinja::context! { name => a.username.as_str(), email => a.email.as_str(), sessions => rows, csrf };
    render(StatusCode::OK, "account.html", "Your account", ctx)
}

/// `GET /account`: the account, or the log-in form.
pub(crate) async fn home(State(state): State<AppState>, jar: CookieJar) -> Result<Response, ApiError> {
    match from_cookie(&state, &jar).await? {
        Some(me) => {
            let sessions = state.store.session_list(me.account.id, state.clock.now()).await?;
            Ok(account_page(&me, &sessions, &csrf_token(&state, &me)))
        }
        None => Ok(login_page(StatusCode::OK, None)),
    }
}

#[derive(Deserialize)]
pub(crate) struct LoginForm {
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
    /// A dashboard page to go to once signed in.
    #[serde(default)]
    next: String,
}

pub(crate) async fn log_in(
    State(state): State<AppState>,
    client: ClientIp,
    headers: HeaderMap,
    jar: CookieJar,
    axum::Form(form): axum::Form<LoginForm>,
) -> Result<Response, ApiError> {
    // Also stops log-in CSRF (signing a victim into the attacker's account).
    if !same_origin(&state, &headers) {
        return Ok(refused());
    }
    let key = login_key(&form.login);
    match authenticate(&state, &client, &key, &form.password, None).await {
        Ok((token, session, _)) => {
            let ttl = (session.expires_at - state.clock.now()).max(0) / 1000;
            let cookie = Cookie::build((cookie_name(&state), cookie_value(&state, &token)))
                .http_only(true)
                .same_site(SameSite::Strict)
                .secure(secure(&state))
                .path("/")
                .max_age(time::Duration::seconds(ttl))
                .build();
            let to = safe_next(&form.next).map_or_else(to_account, |n| Redirect::to(&n).into_response());
            Ok((jar.add(cookie), to).into_response())
        }
        Err(ApiError::InvalidCredentials) => Ok(login_page_to(
            StatusCode::UNAUTHORIZED,
            Some("The username or email and password do not match an account."),
            Some(&form.next),
        )),
        Err(ApiError::EmailNotVerified) => Ok(login_page_to(
            StatusCode::FORBIDDEN,
            Some("Confirm your email address first: we have sent you a new link."),
            Some(&form.next),
        )),
        Err(ApiError::RateLimited(ms)) => {
            let mut r =
                login_page(StatusCode::TOO_MANY_REQUESTS, Some("Too many attempts. Wait a minute and try again."));
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(ms.div_ceil(1000).max(1)));
            Ok(r)
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
pub(crate) struct CsrfForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    session: String,
    #[serde(default)]
    password: String,
}

/// The signed-in account of a write, if the write is genuine (own origin, right token).
pub(crate) async fn checked(
    state: &AppState,
    headers: &HeaderMap,
    jar: &CookieJar,
    csrf: &str,
) -> Result<Option<SignedIn>, ApiError> {
    if !same_origin(state, headers) {
        return Ok(None);
    }
    Ok(from_cookie(state, jar).await?.filter(|me| csrf_ok(state, me, csrf)))
}

fn clear(state: &AppState, jar: CookieJar) -> CookieJar {
    jar.remove(Cookie::build((cookie_name(state), "")).path("/").build())
}

pub(crate) async fn log_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    axum::Form(form): axum::Form<CsrfForm>,
) -> Result<Response, ApiError> {
    let Some(me) = checked(&state, &headers, &jar, &form.csrf).await? else { return Ok(refused()) };
    state.store.session_revoke(me.account.id, me.session.id).await?;
    Ok((clear(&state, jar), to_account()).into_response())
}

pub(crate) async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    axum::Form(form): axum::Form<CsrfForm>,
) -> Result<Response, ApiError> {
    let Some(me) = checked(&state, &headers, &jar, &form.csrf).await? else { return Ok(refused()) };
    let Ok(id) = form.session.parse() else { return Ok(to_account()) };
    match state.store.session_revoke(me.account.id, id).await {
        Ok(()) | Err(confab_store::StoreError::SessionNotFound) => {}
        Err(e) => return Err(e.into()),
    }
    if id == me.session.id {
        return Ok((clear(&state, jar), to_account()).into_response());
    }
    Ok(to_account())
}

pub(crate) async fn export(State(state): State<AppState>, jar: CookieJar) -> Result<Response, ApiError> {
    let Some(me) = from_cookie(&state, &jar).await? else { return Ok(to_account()) };
    let body = export_document(&state, &me).await?;
    Ok((
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"confab-account.json\""),
        ],
        axum::Json(body),
    )
        .into_response())
}

pub(crate) async fn delete(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    axum::Form(form): axum::Form<CsrfForm>,
) -> Result<Response, ApiError> {
    let Some(me) = checked(&state, &headers, &jar, &form.csrf).await? else { return Ok(refused()) };
    match delete_with_password(&state, &me, &form.password).await {
        Ok(_) => Ok((
            clear(&state, jar),
            message(StatusCode::OK, "Account deleted", "Your account and everything tied to it are gone."),
        )
            .into_response()),
        Err(ApiError::InvalidCredentials) => Ok(message_with_link(
            StatusCode::UNAUTHORIZED,
            "Account not deleted",
            "That was not your password.",
            "/account",
            "Back to your account",
        )),
        Err(ApiError::Store(confab_store::StoreError::LastOwner)) => Ok(message_with_link(
            StatusCode::CONFLICT,
            "Account not deleted",
            "You are the only owner of a forum: make someone else its owner first.",
            "/account",
            "Back to your account",
        )),
        Err(e) => Err(e),
    }
}
