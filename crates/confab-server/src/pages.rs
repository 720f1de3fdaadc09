//! The pages mailed links open, on Confab's own origin: confirm an address, choose a
//! new password. Server-rendered, no script, one small stylesheet.
//!
//! Opening a link changes nothing: the page shows a button that POSTs the token, so a
//! mail scanner that fetches every link cannot spend it. The token travels in the
//! query string of the GET (never logged: the request log records the route, not the
//! URI) and in the form body of the POST; `Referrer-Policy: same-origin` keeps it from
//! leaking to any other site (the pages load and link nothing outside Confab). Not
//! `no-referrer`: with it, browsers send `Origin: null` on form posts, and the account
//! page's writes are checked by their `Origin`.

use std::sync::LazyLock;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use crate::AppState;
use crate::api::accounts::{confirm_email, reset_password};
use crate::embed::Asset;
use crate::error::ApiError;

static STYLE: LazyLock<Asset> =
    LazyLock::new(|| Asset::new(include_str!("../embed/account.css").into(), "text/css; charset=utf-8"));

pub(crate) async fn stylesheet(headers: HeaderMap) -> Response {
    STYLE.respond(&headers)
}

#[derive(Deserialize)]
pub(crate) struct TokenQuery {
    #[serde(default)]
    token: String,
}

#[derive(Deserialize)]
pub(crate) struct ResetFormBody {
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

/// An own page: `template` (under `templates/pages/`) drawn with `ctx` and the title,
/// in the server's one template environment (every value escaped); one stylesheet, no
/// script, never cached, never framed.
pub(crate) fn render(status: StatusCode, template: &str, title: &str, ctx: minijinja::Value) -> Response {
    const CSP: &str =
        "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
    render_with_csp(status, template, title, ctx, CSP)
}

/// As [`render`], under the Content-Security-Policy `csp` (the log-in window's hand-off
/// runs one script of ours).
pub(crate) fn render_with_csp(
    status: StatusCode,
    template: &str,
    title: &str,
    ctx: minijinja::Value,
    csp: &'static str,
) -> Response {
    let ctx = minijinja::context! { title, ..ctx };
    crate::templates::page(status, &format!("pages/{template}"), &ctx, csp)
}

/// A page that says one thing.
pub(crate) fn message(status: StatusCode, title: &str, text: &str) -> Response {
    render(status, "message.html", title, minijinja::context! { text })
}

/// A page that says one thing and links the way on.
pub(crate) fn message_with_link(status: StatusCode, title: &str, text: &str, href: &str, link: &str) -> Response {
    let link = minijinja::context! { href, text => link };
    render(status, "message.html", title, minijinja::context! { text, link })
}

fn invalid_link() -> Response {
    message(
        StatusCode::BAD_REQUEST,
        "This link does not work",
        "It is incomplete, has expired, or has been used already. Ask for a new one from the log-in form of any \
         comment section.",
    )
}

/// The error page for a failure that is not about the link.
fn failure(e: &ApiError) -> Response {
    match e {
        ApiError::Store(confab_store::StoreError::LinkInvalid) => invalid_link(),
        other => other.attach_cause(message(other.status(), "Something went wrong", "Please try again in a moment.")),
    }
}

pub(crate) async fn verify_form(Query(q): Query<TokenQuery>) -> Response {
    if q.token.is_empty() {
        return invalid_link();
    }
    render(StatusCode::OK, "verify.html", "Confirm your email address", minijinja::context! { token => q.token })
}

pub(crate) async fn verify_submit(State(state): State<AppState>, axum::Form(form): axum::Form<TokenQuery>) -> Response {
    match confirm_email(&state, &form.token).await {
        Ok(account) => message(
            StatusCode::OK,
            "Address confirmed",
            &format!(
                "Thank you, {}. Your account is ready: log in from any comment section to join the discussion.",
                account.username
            ),
        ),
        Err(e) => failure(&e),
    }
}

fn reset_page(status: StatusCode, token: &str, error: Option<&str>) -> Response {
    let ctx = minijinja::context! {
        token,
        error,
        min => confab_core::input::MIN_PASSWORD_CHARS,
        max => confab_core::input::MAX_PASSWORD_CHARS,
    };
    render(status, "reset.html", "Choose a new password", ctx)
}

pub(crate) async fn reset_form(Query(q): Query<TokenQuery>) -> Response {
    if q.token.is_empty() {
        return invalid_link();
    }
    reset_page(StatusCode::OK, &q.token, None)
}

pub(crate) async fn reset_submit(
    State(state): State<AppState>,
    axum::Form(form): axum::Form<ResetFormBody>,
) -> Response {
    if form.password != form.confirm {
        return reset_page(StatusCode::UNPROCESSABLE_ENTITY, &form.token, Some("The two passwords differ."));
    }
    match reset_password(&state, &form.token, &form.password).await {
        Ok(account) => message(
            StatusCode::OK,
            "Password changed",
            &format!(
                "Done, {}. You have been signed out everywhere; log in again with the new password.",
                account.username
            ),
        ),
        // A password that breaks the rules: the form again, the link still unspent.
        Err(ApiError::InvalidInput(e)) => {
            reset_page(StatusCode::UNPROCESSABLE_ENTITY, &form.token, Some(&format!("The password {}.", e.message)))
        }
        Err(e) => failure(&e),
    }
}

/// An unsubscribe link: the address, the thread (0: every discussion) and the signature.
#[derive(Deserialize)]
pub(crate) struct UnsubscribeQuery {
    #[serde(default)]
    e: String,
    #[serde(default)]
    t: String,
    #[serde(default)]
    s: String,
}

/// The address and thread of a correctly signed link.
fn unsubscribe_target(
    state: &AppState,
    q: &UnsubscribeQuery,
) -> Option<(confab_core::input::Email, Option<confab_core::id::Id>)> {
    let email = confab_core::input::Email::parse(&q.e).ok()?;
    let thread = match q.t.as_str() {
        "0" => None,
        t => Some(t.parse::<confab_core::id::Id>().ok()?),
    };
    crate::notify::unsubscribe_signature_ok(&state.page_key, &email, thread, &q.s).then_some((email, thread))
}

fn invalid_unsubscribe() -> Response {
    message(
        StatusCode::BAD_REQUEST,
        "This link does not work",
        "It is incomplete or was changed. Use the unsubscribe link at the bottom of the mail itself.",
    )
}

async fn discussion_name(state: &AppState, thread: Option<confab_core::id::Id>) -> String {
    match thread {
        None => "any discussion".into(),
        Some(t) => match state.store.thread_get(t).await {
            Ok(t) => format!("“{}”", t.title.as_ref().map_or(t.identifier.as_str(), |x| x.as_str())),
            Err(_) => "this discussion".into(),
        },
    }
}

/// Opening the link asks first (mail scanners fetch links); the button, or a mail
/// client's one-click POST (RFC 8058), does it.
pub(crate) async fn unsubscribe_form(State(state): State<AppState>, Query(q): Query<UnsubscribeQuery>) -> Response {
    let Some((email, thread)) = unsubscribe_target(&state, &q) else { return invalid_unsubscribe() };
    let name = discussion_name(&state, thread).await;
    let ctx = minijinja::context! { done => false, email => email.as_str(), name };
    render(StatusCode::OK, "unsubscribe.html", "Unsubscribe", ctx)
}

pub(crate) async fn unsubscribe_submit(State(state): State<AppState>, Query(q): Query<UnsubscribeQuery>) -> Response {
    let Some((email, thread)) = unsubscribe_target(&state, &q) else { return invalid_unsubscribe() };
    if let Err(e) = state.store.mute(&email, thread, state.clock.now()).await {
        return failure(&e.into());
    }
    tracing::info!(thread = ?thread.map(|t| t.to_string()), "unsubscribed by link");
    let name = discussion_name(&state, thread).await;
    // A link for one discussion offers every discussion next.
    let everything = thread.map(|_| crate::notify::unsubscribe_url("", &state.page_key, &email, None));
    let ctx = minijinja::context! { done => true, name, everything };
    render(StatusCode::OK, "unsubscribe.html", "Unsubscribed", ctx)
}
