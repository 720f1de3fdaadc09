//! The log-in window: a page on Confab's own origin that the widget opens in a window of
//! its own (as Disqus does), where readers log in, create an account or ask for a reset
//! link. Passwords are only ever typed here, never into the page that embeds the
//! widget: that page's scripts can read anything drawn inside it.
//!
//! A log-in here opens a **reader credential**: a session for the one forum the window
//! was opened for, which may post, vote, edit its own comments, subscribe and flag there
//! and nothing else (no moderation, keys, settings, other forums or account
//! management; see `auth`). The window hands it to the embedding page with
//! `postMessage`, addressed to the origin the widget named, which must be one of the
//! forum's trusted origins when it lists any. The page says which site is asking.
//!
//! Server-rendered; the one script is the hand-off (`/account/handoff.js`). Forms are
//! checked as the account page's are (`Origin` must be Confab's own).

use std::sync::LazyLock;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use confab_core::input::{Origin, login_key};
use confab_core::model::Forum;
use serde::Deserialize;

use crate::AppState;
use crate::api::accounts::{authenticate, register, send_reset};
use crate::auth::ClientIp;
use crate::embed::Asset;
use crate::error::ApiError;

static HANDOFF: LazyLock<Asset> =
    LazyLock::new(|| Asset::new(include_str!("../embed/handoff.js").into(), "text/javascript; charset=utf-8"));

pub(crate) async fn handoff_js(headers: HeaderMap) -> Response {
    HANDOFF.respond(&headers)
}

/// The window's words, in the widget's languages.
struct Words {
    lang: &'static str,
    title: &'static str,
    asks: &'static str,
    login: &'static str,
    password: &'static str,
    username: &'static str,
    email: &'static str,
    log_in: &'static str,
    sign_up: &'static str,
    forgot: &'static str,
    to_sign_up: &'static str,
    to_log_in: &'static str,
    send: &'static str,
    signed_up: &'static str,
    reset_sent: &'static str,
    pw_hint: &'static str,
    bad_login: &'static str,
    unverified: &'static str,
    too_many: &'static str,
    done: &'static str,
}

const EN: Words = Words {
    lang: "en",
    title: "Your account",
    asks: "Log in to comment on {site}.",
    login: "Username or email",
    password: "Password",
    username: "Username",
    email: "Email",
    log_in: "Log in",
    sign_up: "Create account",
    forgot: "Forgot your password?",
    to_sign_up: "New here? Create an account",
    to_log_in: "Have an account? Log in",
    send: "Send reset link",
    signed_up: "Almost done: open the link we just mailed you to confirm the address, then log in here.",
    reset_sent: "If an account uses this address, a reset link is on its way.",
    pw_hint: "At least 8 characters.",
    bad_login: "The username or email and password do not match an account.",
    unverified: "Confirm your email address first: we have sent you a new link.",
    too_many: "Too many attempts. Wait a minute and try again.",
    done: "You are signed in. You can close this window.",
};

const DE: Words = Words {
    lang: "de",
    title: "Ihr Konto",
    asks: "Melden Sie sich an, um auf {site} zu kommentieren.",
    login: "Benutzername oder E-Mail",
    password: "Passwort",
    username: "Benutzername",
    email: "E-Mail",
    log_in: "Anmelden",
    sign_up: "Konto anlegen",
    forgot: "Passwort vergessen?",
    to_sign_up: "Neu hier? Konto anlegen",
    to_log_in: "Schon ein Konto? Anmelden",
    send: "Link senden",
    signed_up: "Fast geschafft: Öffnen Sie den Link aus unserer E-Mail, um die Adresse zu bestätigen, und melden Sie sich dann hier an.",
    reset_sent: "Falls ein Konto diese Adresse nutzt, ist ein Link unterwegs.",
    pw_hint: "Mindestens 8 Zeichen.",
    bad_login: "Benutzername oder E-Mail und Passwort passen zu keinem Konto.",
    unverified: "Bestätigen Sie zuerst Ihre E-Mail-Adresse: Wir haben Ihnen einen neuen Link geschickt.",
    too_many: "Zu viele Versuche. Warten Sie eine Minute und versuchen Sie es erneut.",
    done: "Sie sind angemeldet. Sie können dieses Fenster schließen.",
};

const FR: Words = Words {
    lang: "fr",
    title: "Votre compte",
    asks: "Connectez-vous pour commenter sur {site}.",
    login: "Nom d’utilisateur ou e-mail",
    password: "Mot de passe",
    username: "Nom d’utilisateur",
    email: "E-mail",
    log_in: "Se connecter",
    sign_up: "Créer un compte",
    forgot: "Mot de passe oublié ?",
    to_sign_up: "Nouveau ? Créer un compte",
    to_log_in: "Déjà un compte ? Se connecter",
    send: "Envoyer le lien",
    signed_up: "Presque fini : ouvrez le lien que nous venons d’envoyer pour confirmer l’adresse, puis connectez-vous ici.",
    reset_sent: "Si un compte utilise cette adresse, un lien est en route.",
    pw_hint: "Au moins 8 caractères.",
    bad_login: "Le nom d’utilisateur ou l’e-mail et le mot de passe ne correspondent à aucun compte.",
    unverified: "Confirmez d’abord votre adresse e-mail : nous vous avons envoyé un nouveau lien.",
    too_many: "Trop de tentatives. Attendez une minute et réessayez.",
    done: "Vous êtes connecté. Vous pouvez fermer cette fenêtre.",
};

fn words(lang: &str) -> &'static Words {
    match lang.get(..2) {
        Some("de") => &DE,
        Some("fr") => &FR,
        _ => &EN,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Login,
    Signup,
    Reset,
}

impl Mode {
    fn parse(s: &str) -> Mode {
        match s {
            "signup" => Mode::Signup,
            "reset" => Mode::Reset,
            _ => Mode::Login,
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct WindowQuery {
    #[serde(default)]
    forum: String,
    #[serde(default)]
    origin: String,
    #[serde(default)]
    mode: String,
    #[serde(default)]
    lang: String,
}

#[derive(Deserialize)]
pub(crate) struct WindowForm {
    #[serde(default)]
    forum: String,
    #[serde(default)]
    origin: String,
    #[serde(default)]
    mode: String,
    #[serde(default)]
    lang: String,
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    email: String,
}

/// The forum and the embedding page's origin the window works for, or the page that
/// says why not.
async fn target(state: &AppState, forum: &str, origin: &str) -> Result<Result<(Forum, Origin), Response>, ApiError> {
    let forum = match state.store.forum_by_shortname(forum).await {
        Ok(f) => f,
        Err(confab_store::StoreError::ForumNotFound) => {
            return Ok(Err(problem(StatusCode::NOT_FOUND, "There is no such comment section here.")));
        }
        Err(e) => return Err(e.into()),
    };
    let Ok(origin) = Origin::parse(origin) else {
        return Ok(Err(problem(StatusCode::BAD_REQUEST, "This window was opened without the address of its site.")));
    };
    if !forum.origins.is_empty() && !forum.origins.contains(&origin) {
        return Ok(Err(problem(
            StatusCode::FORBIDDEN,
            &format!("{} is not one of the sites of this comment section.", origin.as_str()),
        )));
    }
    Ok(Ok((forum, origin)))
}

fn problem(status: StatusCode, text: &str) -> Response {
    crate::pages::message(status, "Cannot sign in here", text)
}

/// `GET /account/window?forum=…&origin=…[&mode=signup|reset][&lang=de]`.
pub(crate) async fn show(State(state): State<AppState>, Query(q): Query<WindowQuery>) -> Result<Response, ApiError> {
    let (forum, origin) = match target(&state, &q.forum, &q.origin).await? {
        Ok(t) => t,
        Err(page) => return Ok(page),
    };
    Ok(form_page(StatusCode::OK, words(&q.lang), Mode::parse(&q.mode), &forum, &origin, None, None))
}

/// `POST /account/window`: log in (then hand the credential over), sign up, or ask for
/// a reset link.
pub(crate) async fn submit(
    State(state): State<AppState>,
    client: ClientIp,
    headers: HeaderMap,
    axum::Form(f): axum::Form<WindowForm>,
) -> Result<Response, ApiError> {
    if !crate::account_site::same_origin(&state, &headers) {
        return Ok(crate::account_site::refused());
    }
    let (forum, origin) = match target(&state, &f.forum, &f.origin).await? {
        Ok(t) => t,
        Err(page) => return Ok(page),
    };
    let w = words(&f.lang);
    let mode = Mode::parse(&f.mode);
    let page = |status, mode, notice: Option<&str>, error: Option<&str>| {
        form_page(status, w, mode, &forum, &origin, notice, error)
    };
    let outcome = match mode {
        Mode::Login => match authenticate(&state, &client, &login_key(&f.login), &f.password, Some(forum.id)).await {
            Ok((token, _, _)) => return Ok(handoff(w, &forum, &origin, &token)),
            Err(e) => Err(e),
        },
        Mode::Signup => register(&state, &client, &f.username, &f.email, &f.password)
            .await
            .map(|()| page(StatusCode::ACCEPTED, Mode::Login, Some(w.signed_up), None)),
        Mode::Reset => send_reset(&state, &client, &f.email)
            .await
            .map(|()| page(StatusCode::ACCEPTED, Mode::Login, Some(w.reset_sent), None)),
    };
    match outcome {
        Ok(response) => Ok(response),
        Err(ApiError::InvalidCredentials) => Ok(page(StatusCode::UNAUTHORIZED, mode, None, Some(w.bad_login))),
        Err(ApiError::EmailNotVerified) => Ok(page(StatusCode::FORBIDDEN, mode, None, Some(w.unverified))),
        Err(ApiError::RateLimited(ms)) => {
            let mut r = page(StatusCode::TOO_MANY_REQUESTS, mode, None, Some(w.too_many));
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(ms.div_ceil(1000).max(1)));
            Ok(r)
        }
        Err(ApiError::InvalidInput(e)) => Ok(page(StatusCode::UNPROCESSABLE_ENTITY, mode, None, Some(&e.message))),
        Err(e) => Err(e),
    }
}

#[derive(serde::Serialize)]
struct Field {
    name: &'static str,
    label: &'static str,
    kind: &'static str,
    auto: &'static str,
}

#[derive(serde::Serialize)]
struct Link {
    /// The window's own query string for another mode.
    query: String,
    text: &'static str,
}

fn form_page(
    status: StatusCode,
    w: &Words,
    mode: Mode,
    forum: &Forum,
    origin: &Origin,
    notice: Option<&str>,
    error: Option<&str>,
) -> Response {
    let field = |name, label, kind, auto| Field { name, label, kind, auto };
    let (fields, hint, button, mode_name) = match mode {
        Mode::Login => (
            vec![
                field("login", w.login, "text", "username"),
                field("password", w.password, "password", "current-password"),
            ],
            None,
            w.log_in,
            "login",
        ),
        Mode::Signup => (
            vec![
                field("username", w.username, "text", "username"),
                field("email", w.email, "email", "email"),
                field("password", w.password, "password", "new-password"),
            ],
            Some(w.pw_hint),
            w.sign_up,
            "signup",
        ),
        Mode::Reset => (vec![field("email", w.email, "email", "email")], None, w.send, "reset"),
    };
    let link = |mode: &str, text| Link {
        query: url::form_urlencoded::Serializer::new(String::new())
            .append_pair("forum", forum.shortname.as_str())
            .append_pair("origin", origin.as_str())
            .append_pair("lang", w.lang)
            .append_pair("mode", mode)
            .finish(),
        text,
    };
    let links = match mode {
        Mode::Login => vec![link("reset", w.forgot), link("signup", w.to_sign_up)],
        _ => vec![link("login", w.to_log_in)],
    };
    // The sentence names the asking site in bold: the words around it, and the site.
    let asks = w.asks.split_once("{site}").unwrap_or((w.asks, ""));
    let ctx = minijinja::context! {
        lang => w.lang,
        asks,
        site => origin.as_str(),
        notice,
        error,
        forum => forum.shortname.as_str(),
        mode => mode_name,
        fields,
        hint,
        button,
        links,
    };
    crate::pages::render(status, "window.html", w.title, ctx)
}

/// After a log-in: the credential goes to the embedding page, addressed to its origin
/// alone, and the window closes.
fn handoff(w: &Words, forum: &Forum, origin: &Origin, token: &confab_core::secret::Token) -> Response {
    let ctx = minijinja::context! {
        lang => w.lang,
        done => w.done,
        site => origin.as_str(),
        forum => forum.shortname.as_str(),
        token => token.expose(),
    };
    tracing::info!(forum = %forum.id, "reader credential handed to the embedding page");
    const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
    crate::pages::render_with_csp(StatusCode::OK, "handoff.html", w.title, ctx, CSP)
}
