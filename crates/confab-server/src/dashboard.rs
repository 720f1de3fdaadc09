//! The moderators' dashboard, server-rendered on Confab's own origin (`/dashboard`):
//! queues (pending, flagged, spam, shadow, all) with search, bulk selection and keyboard
//! shortcuts; a thread with its controls; a user's history with ban, timeout, shadow ban
//! and trust; bans; rules and settings, keys, origins and SSO; stats with a chart.
//!
//! It signs in with the account page's cookie and takes its checks from there: every
//! write is a form POST from this origin carrying the session's CSRF token; every page
//! and action checks the account's role in that forum (moderator, or owner for settings,
//! keys and roles) through the same `Principal::require` as the API. Every value written
//! into a page is escaped (post bodies are the sanitised HTML made at write time). One
//! small script of our own (`dashboard.js`) adds the shortcuts; without it every action
//! still works. No third-party assets; the CSP allows only this origin.

use std::collections::HashMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use confab_core::id::Id;
use confab_core::model::{Author, AuthorKind, BanTarget, Forum, Post, PostState, RestrictedAction, Role};
use confab_store::PostSearch;
use serde_json::json;

use crate::AppState;
use crate::account_site::{checked, csrf_token, from_cookie, login_page_to, refused};
use crate::api::moderation::{Action, QueueQuery, decide, mark};
use crate::auth::{Power, Principal, SignedIn};
use crate::embed::escape;
use crate::error::ApiError;
use crate::views::rfc3339;

const CSS: &str = include_str!("../embed/dashboard.css");
const JS: &str = include_str!("../embed/dashboard.js");
const PAGE: u32 = 50;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/dashboard", get(home))
        .route("/dashboard/dashboard.css", get(|| async { asset("text/css; charset=utf-8", CSS) }))
        .route("/dashboard/dashboard.js", get(|| async { asset("text/javascript; charset=utf-8", JS) }))
        .route("/dashboard/{forum}", get(queue))
        .route("/dashboard/{forum}/moderate", post(moderate))
        .route("/dashboard/{forum}/threads/{thread}", get(thread_page).post(thread_action))
        .route("/dashboard/{forum}/users/{author}", get(user_page))
        .route("/dashboard/{forum}/bans", get(bans_page).post(ban_action))
        .route("/dashboard/{forum}/settings", get(settings_page).post(settings_action))
        .route("/dashboard/{forum}/stats", get(stats_page))
}

fn asset(kind: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, kind), (header::CACHE_CONTROL, "public, max-age=300")], body).into_response()
}

/// A dashboard page: our stylesheet and script only, never cached, never framed.
fn layout(status: StatusCode, title: &str, forum: Option<&Forum>, active: &str, body: &str) -> Response {
    let nav = match forum {
        None => String::new(),
        Some(f) => {
            let s = escape(f.shortname.as_str());
            let link = |href: String, label: &str, key: &str| {
                let cur = if key == active { " aria-current=\"page\"" } else { "" };
                format!("<a href=\"{href}\"{cur}>{label}</a>")
            };
            format!(
                "<nav class=\"tabs\">{}{}{}{}{}{}{}{}</nav>",
                link(format!("/dashboard/{s}?state=pending"), "Pending", "pending"),
                link(format!("/dashboard/{s}?state=flagged"), "Flagged", "flagged"),
                link(format!("/dashboard/{s}?state=spam"), "Spam", "spam"),
                link(format!("/dashboard/{s}?state=shadow"), "Shadow", "shadow"),
                link(format!("/dashboard/{s}?state=all"), "All", "all"),
                link(format!("/dashboard/{s}/bans"), "Bans", "bans"),
                link(format!("/dashboard/{s}/stats"), "Stats", "stats"),
                link(format!("/dashboard/{s}/settings"), "Settings", "settings"),
            )
        }
    };
    let forum_name = forum.map(|f| format!(" · {}", escape(f.name.as_str()))).unwrap_or_default();
    let html = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"robots\" content=\"noindex\">\n<title>{t}{forum_name} · Confab</title>\n\
         <link rel=\"stylesheet\" href=\"/dashboard/dashboard.css\">\n\
         <script src=\"/dashboard/dashboard.js\" defer></script>\n</head>\n<body>\n\
         <header><a class=\"brand\" href=\"/dashboard\">Confab</a>{forum_name}<a class=\"me\" href=\"/account\">Account</a></header>\n\
         {nav}\n<main>\n<h1>{t}</h1>\n{body}\n</main>\n</body>\n</html>\n",
        t = escape(title),
    );
    let headers = [
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; connect-src 'none'; \
                 form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            ),
        ),
        (header::REFERRER_POLICY, HeaderValue::from_static("same-origin")),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
    ];
    (status, headers, Html(html)).into_response()
}

fn message_page(status: StatusCode, title: &str, forum: Option<&Forum>, text: &str) -> Response {
    let back = forum.map_or_else(
        || "<a href=\"/dashboard\">Back</a>".to_owned(),
        |f| format!("<a href=\"/dashboard/{}\">Back to the queue</a>", escape(f.shortname.as_str())),
    );
    layout(status, title, forum, "", &format!("<p>{}</p>\n<p>{back}</p>", escape(text)))
}

/// The page for an error: who may not, what is not there, what was wrong with a form.
fn error_page(e: ApiError, forum: Option<&Forum>) -> Response {
    match e.status() {
        StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED => message_page(
            StatusCode::FORBIDDEN,
            "Not yours to moderate",
            None,
            "Your account does not have this role in this forum.",
        ),
        StatusCode::NOT_FOUND => message_page(StatusCode::NOT_FOUND, "Not found", forum, &e.to_string()),
        s if s.is_client_error() => message_page(StatusCode::UNPROCESSABLE_ENTITY, "Not done", forum, &e.to_string()),
        _ => e.into_response(),
    }
}

/// Who is signed in (or the log-in form, coming back here), and the forum if they may
/// do `power` in it.
async fn gate(
    state: &AppState,
    jar: &CookieJar,
    forum: &str,
    power: Power,
    here: &str,
) -> Result<Result<(SignedIn, Forum), Response>, ApiError> {
    let Some(me) = from_cookie(state, jar).await? else {
        return Ok(Err(login_page_to(StatusCode::UNAUTHORIZED, None, Some(here))));
    };
    Ok(allowed(state, &me, forum, power).await?.map(|forum| (me, forum)))
}

/// The forum, if it exists and the account may do `power` there; else the page saying why.
async fn allowed(
    state: &AppState,
    me: &SignedIn,
    forum: &str,
    power: Power,
) -> Result<Result<Forum, Response>, ApiError> {
    let forum = match state.store.forum_by_shortname(forum).await {
        Ok(f) => f,
        Err(e) => return Ok(Err(error_page(e.into(), None))),
    };
    match Principal::Account(me.clone()).require(state, Some(&forum), power).await {
        Ok(()) => Ok(Ok(forum)),
        Err(e) => Ok(Err(error_page(e, None))),
    }
}

/// A write's form fields, once the write is genuine (own origin, this session's token)
/// and the account may do `power` in the forum.
async fn gate_write(
    state: &AppState,
    headers: &HeaderMap,
    jar: &CookieJar,
    forum: &str,
    power: Power,
    body: &Bytes,
) -> Result<Result<(SignedIn, Forum, Fields), Response>, ApiError> {
    let fields = Fields::parse(body);
    let Some(me) = checked(state, headers, jar, fields.one("csrf")).await? else { return Ok(Err(refused())) };
    Ok(allowed(state, &me, forum, power).await?.map(|forum| (me, forum, fields)))
}

/// Form fields, repeated names kept (bulk selection sends `posts` many times).
struct Fields(Vec<(String, String)>);

impl Fields {
    fn parse(body: &[u8]) -> Fields {
        Fields(url::form_urlencoded::parse(body).into_owned().take(1000).collect())
    }

    fn one(&self, name: &str) -> &str {
        self.0.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
    }

    fn all(&self, name: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect()
    }

    fn flag(&self, name: &str) -> bool {
        matches!(self.one(name), "on" | "true" | "1")
    }
}

/// Where to go after an action: a page of this forum's dashboard, else its queue.
fn back_to(forum: &Forum, back: &str, anchor: Option<&str>) -> Response {
    let base = format!("/dashboard/{}", forum.shortname.as_str());
    let mut to = crate::redirect::confined(back, &base).unwrap_or(base);
    if let Some(a) = anchor.filter(|a| a.bytes().all(|b| b.is_ascii_digit())) {
        to.push_str("#p-");
        to.push_str(a);
    }
    Redirect::to(&to).into_response()
}

/// The end of both ban forms (a user's page, the bans page): how long, why, shadow or not.
const BAN_FIELDS: &str = "<label>For <select name=\"duration\"><option value=\"\">good (ban)</option>\
    <option value=\"3600\">1 hour</option><option value=\"86400\">1 day</option><option value=\"604800\">7 days</option>\
    <option value=\"2592000\">30 days</option></select></label>\
    <label>Reason <input name=\"reason\" maxlength=\"500\"></label>\
    <label class=\"check\"><input type=\"checkbox\" name=\"shadow\"> Shadow ban (they still see their own comments; \
    nobody else does)</label>\
    <button type=\"submit\" class=\"danger\">Ban</button>";

fn hidden(name: &str, value: &str) -> String {
    format!("<input type=\"hidden\" name=\"{name}\" value=\"{}\">", escape(value))
}

fn state_label(s: PostState) -> &'static str {
    match s {
        PostState::Pending => "pending",
        PostState::Approved => "approved",
        PostState::Spam => "spam",
        PostState::Deleted => "deleted",
        PostState::Shadow => "shadow",
    }
}

// ---- pages ----

/// `GET /dashboard`: the forums this account moderates.
async fn home(State(state): State<AppState>, jar: CookieJar) -> Result<Response, ApiError> {
    let Some(me) = from_cookie(&state, &jar).await? else {
        return Ok(login_page_to(StatusCode::UNAUTHORIZED, None, Some("/dashboard")));
    };
    let forums: Vec<(Forum, Option<Role>)> = if me.account.is_admin {
        state.store.forum_list().await?.into_iter().map(|f| (f, None)).collect()
    } else {
        let mut out = Vec::new();
        for (id, role) in state.store.roles_of(me.account.id).await? {
            if role >= Role::Moderator {
                out.push((state.store.forum_get(id).await?, Some(role)));
            }
        }
        out
    };
    let mut body = String::new();
    if forums.is_empty() {
        body.push_str("<p>You do not moderate any forum. A forum's owner can make you a moderator.</p>");
    } else {
        body.push_str("<ul class=\"forums\">");
        for (f, role) in &forums {
            let sizes = state.store.queue_sizes(f.id).await?;
            body.push_str(&format!(
                "<li><a href=\"/dashboard/{s}\"><strong>{name}</strong> <span class=\"muted\">{s}</span></a> \
                 <span class=\"badge\">{p} pending</span> <span class=\"badge\">{fl} flagged</span> \
                 <span class=\"muted\">{role}</span></li>",
                s = escape(f.shortname.as_str()),
                name = escape(f.name.as_str()),
                p = sizes.pending,
                fl = sizes.flagged,
                role = role.map_or("administrator", Role::as_str),
            ));
        }
        body.push_str("</ul>");
    }
    Ok(layout(StatusCode::OK, "Your forums", None, "", &body))
}

/// The search form and tabs' state, kept across pages.
fn search_form(forum: &Forum, q: &HashMap<String, String>) -> String {
    let v = |k: &str| escape(q.get(k).map(String::as_str).unwrap_or(""));
    let state = q.get("state").map(String::as_str).unwrap_or("pending");
    let options: String = ["pending", "flagged", "spam", "shadow", "approved", "deleted", "all"]
        .iter()
        .map(|s| format!("<option{}>{s}</option>", if *s == state { " selected" } else { "" }))
        .collect();
    format!(
        "<details class=\"search\"{open}><summary>Search</summary>\
         <form method=\"get\" action=\"/dashboard/{f}\" class=\"grid\">\
         <label>Text <input name=\"q\" value=\"{q}\"></label>\
         <label>Author email <input name=\"email\" type=\"email\" value=\"{email}\"></label>\
         <label>Author id <input name=\"author\" value=\"{author}\"></label>\
         <label>IP address <input name=\"ip\" value=\"{ip}\" inputmode=\"decimal\"></label>\
         <label>Thread id <input name=\"thread\" value=\"{thread}\"></label>\
         <label>State <select name=\"state\">{options}</select></label>\
         <label>From <input name=\"since\" type=\"date\" value=\"{since}\"></label>\
         <label>Until <input name=\"until\" type=\"date\" value=\"{until}\"></label>\
         <button type=\"submit\">Search</button></form>\
         <p class=\"muted\">An IP address finds the comments from its network (/24 or /48). Confab keeps no addresses, \
         only a keyed hash of each comment's network.</p></details>",
        open = if ["q", "email", "author", "thread", "since", "until"]
            .iter()
            .any(|k| q.get(*k).is_some_and(|v| !v.is_empty()))
        {
            " open"
        } else {
            ""
        },
        f = escape(forum.shortname.as_str()),
        q = v("q"),
        email = v("email"),
        author = v("author"),
        ip = v("ip"),
        thread = v("thread"),
        since = v("since"),
        until = v("until"),
    )
}

/// One post as a card: text, author (linked to their history), state, flags, the
/// moderator's buttons, and a box for bulk selection.
fn post_card(forum: &Forum, p: &Post, info: &CardInfo, csrf: &str, back: &str, next: Option<Id>) -> String {
    let author = info.authors.get(&p.author_id);
    let f = escape(forum.shortname.as_str());
    let who = match author {
        Some(a) => format!(
            "<a href=\"/dashboard/{f}/users/{id}\">{name}</a>{kind}{email}",
            id = a.id,
            name = escape(a.name.as_str()),
            kind = match a.kind {
                AuthorKind::Guest => " <span class=\"muted\">guest</span>",
                AuthorKind::Account => " <span class=\"muted\">account</span>",
                AuthorKind::Sso => " <span class=\"muted\">SSO</span>",
            },
            email = a
                .email
                .as_ref()
                .map(|e| format!(" <span class=\"muted\">{}</span>", escape(e.as_str())))
                .unwrap_or_default(),
        ),
        None => "<span class=\"muted\">unknown</span>".to_owned(),
    };
    let flags =
        if p.flags > 0 { format!(" <span class=\"badge warn\">{} flags</span>", p.flags) } else { String::new() };
    let marks = if p.highlighted { " <span class=\"badge\">highlighted</span>" } else { "" };
    // What the spam filter said and why, unless it simply let the post through.
    let filter = info
        .verdicts
        .get(&p.id)
        .filter(|v| v.action != confab_core::spam::Action::Approve || !v.reasons.is_empty())
        .map(|v| {
            let why: Vec<String> = v.reasons.iter().map(|r| escape(&r.replace('_', " "))).collect();
            format!(
                " · <span class=\"badge filter\" title=\"the spam filter's verdict and score\">filter: {} {:.3}{}</span>",
                v.action.as_str(),
                v.score,
                if why.is_empty() { String::new() } else { format!(" ({})", why.join(", ")) }
            )
        })
        .unwrap_or_default();
    let button = |action: &str, label: &str, key: Option<&str>, show: bool| {
        if !show {
            return String::new();
        }
        let k = key.map(|k| format!(" aria-keyshortcuts=\"{k}\" title=\"{label} ({k})\"")).unwrap_or_default();
        format!("<button name=\"action\" value=\"{action}\"{k} class=\"{action}\">{label}</button>")
    };
    let s = p.state;
    let buttons = [
        button("approve", "Approve", Some("a"), s != PostState::Approved || p.flags > 0),
        button("spam", "Spam", Some("s"), s != PostState::Spam),
        button("delete", "Delete", Some("d"), s != PostState::Deleted),
        button("hold", "Hold", None, s == PostState::Approved),
        button("highlight", "Highlight", None, s == PostState::Approved && !p.highlighted),
        button("unhighlight", "Unhighlight", None, p.highlighted),
        button("pin", "Pin", None, s == PostState::Approved),
    ]
    .concat();
    format!(
        "<article class=\"post state-{st}\" id=\"p-{id}\" data-id=\"{id}\" tabindex=\"-1\">\
         <header><label class=\"pick\"><input type=\"checkbox\" name=\"posts\" value=\"{id}\" form=\"bulk\" aria-label=\"Select\"></label>\
         {who} · <time datetime=\"{at}\">{at_short}</time> · <span class=\"badge state\">{st}</span>{flags}{marks}{filter} · \
         <a href=\"/dashboard/{f}/threads/{thread}\">thread</a></header>\
         <div class=\"body\">{html}</div>\
         <form method=\"post\" action=\"/dashboard/{f}/moderate\" class=\"actions\">{csrf}{post}{back}{next}{buttons}</form>\
         </article>",
        st = state_label(s),
        id = p.id,
        at = rfc3339(p.created_at),
        at_short = &rfc3339(p.created_at)[..16].replace('T', " "),
        thread = p.thread_id,
        html = p.html,
        csrf = hidden("csrf", csrf),
        post = hidden("post", &p.id.to_string()),
        back = hidden("back", back),
        next = next.map(|n| hidden("next", &n.to_string())).unwrap_or_default(),
    )
}

/// What cards show beside their posts: the authors, and the spam filter's verdicts.
struct CardInfo {
    authors: HashMap<Id, Author>,
    verdicts: HashMap<Id, confab_store::SpamRecord>,
}

/// Two statements for a whole list, whatever its length.
async fn card_info(state: &AppState, forum: &Forum, posts: &[Post]) -> Result<CardInfo, ApiError> {
    let ids: Vec<Id> = posts.iter().map(|p| p.author_id).collect();
    let authors = state.store.authors_get_many(&ids).await?.into_iter().map(|a| (a.id, a)).collect();
    let verdicts = verdicts_of(state, forum, posts).await?;
    Ok(CardInfo { authors, verdicts })
}

async fn verdicts_of(
    state: &AppState,
    forum: &Forum,
    posts: &[Post],
) -> Result<HashMap<Id, confab_store::SpamRecord>, ApiError> {
    let ids: Vec<Id> = posts.iter().map(|p| p.id).collect();
    Ok(state.store.spam_verdicts(forum.id, &ids).await?.into_iter().collect())
}

/// A list of posts with the bulk form and the keyboard help.
fn post_list(forum: &Forum, posts: &[Post], info: &CardInfo, csrf: &str, back: &str) -> String {
    if posts.is_empty() {
        return "<p class=\"empty\">Nothing here.</p>".to_owned();
    }
    let f = escape(forum.shortname.as_str());
    let cards: String = posts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            // After acting on a post, the page comes back at the next one.
            let next = posts.get(i + 1).or_else(|| i.checked_sub(1).and_then(|j| posts.get(j))).map(|n| n.id);
            post_card(forum, p, info, csrf, back, next)
        })
        .collect();
    format!(
        "<form method=\"post\" action=\"/dashboard/{f}/moderate\" id=\"bulk\" class=\"bulk\">{csrf}{back}\
         <span>Selected:</span> <button name=\"action\" value=\"approve\">Approve</button> \
         <button name=\"action\" value=\"spam\">Spam</button> <button name=\"action\" value=\"delete\">Delete</button></form>\
         <p class=\"keys\">Keys: <kbd>j</kbd>/<kbd>k</kbd> move, <kbd>a</kbd> approve, <kbd>s</kbd> spam, \
         <kbd>d</kbd> delete, <kbd>x</kbd> select, <kbd>?</kbd> help</p>\
         <div id=\"help\" class=\"help\" hidden><h2>Keyboard</h2><dl>\
         <dt>j / k</dt><dd>next / previous comment</dd><dt>a</dt><dd>approve</dd><dt>s</dt><dd>mark as spam</dd>\
         <dt>d</dt><dd>delete</dd><dt>x</dt><dd>select for a bulk action</dd><dt>?</dt><dd>show or hide this help</dd></dl></div>\
         <div class=\"posts\">{cards}</div>",
        csrf = hidden("csrf", csrf),
        back = hidden("back", back),
    )
}

/// `GET /dashboard/{forum}`: a queue, or the search.
async fn queue(
    State(state): State<AppState>,
    jar: CookieJar,
    Path(forum): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let here = format!("/dashboard/{forum}{}", raw.as_deref().map(|q| format!("?{q}")).unwrap_or_default());
    let (me, forum) = match gate(&state, &jar, &forum, Power::Moderate, &here).await? {
        Ok(x) => x,
        Err(page) => return Ok(page),
    };
    let q: HashMap<String, String> =
        url::form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes()).into_owned().collect();
    let query: QueueQuery = match serde_json::from_value(json!({
        "state": q.get("state"), "q": q.get("q"), "author": q.get("author"), "email": q.get("email"), "ip": q.get("ip"),
        "thread": q.get("thread"), "since": q.get("since"), "until": q.get("until"), "before": q.get("before"),
        "limit": PAGE,
    })) {
        Ok(v) => v,
        Err(e) => return Ok(message_page(StatusCode::BAD_REQUEST, "Not a search", Some(&forum), &e.to_string())),
    };
    let search = match query.search(&state) {
        Ok(s) => s,
        Err(e) => return Ok(message_page(StatusCode::BAD_REQUEST, "Not a search", Some(&forum), &e.to_string())),
    };
    let posts = state.store.moderation_queue(forum.id, &search).await?;
    let info = card_info(&state, &forum, &posts).await?;
    let sizes = state.store.queue_sizes(forum.id).await?;
    let active = q.get("state").cloned().unwrap_or_else(|| "pending".to_owned());
    let active = active.as_str();
    let title = match active {
        "pending" => format!("Pending ({})", sizes.pending),
        "flagged" => format!("Flagged ({})", sizes.flagged),
        "spam" => format!("Spam ({})", sizes.spam),
        "shadow" => format!("Shadow ({})", sizes.shadow),
        "all" => "All comments".to_owned(),
        other => format!("{}{}", other[..1].to_uppercase(), &other[1..]),
    };
    let mut body = search_form(&forum, &q);
    body.push_str(&post_list(&forum, &posts, &info, &csrf_token(&state, &me), &here));
    if posts.len() as u32 == PAGE
        && let Some(last) = posts.last()
    {
        let mut next: Vec<(String, String)> = q.into_iter().filter(|(k, _)| k != "before").collect();
        next.push(("before".into(), last.id.to_string()));
        let qs = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(next).finish();
        body.push_str(&format!(
            "<p><a href=\"/dashboard/{}?{}\">Older</a></p>",
            escape(forum.shortname.as_str()),
            escape(&qs)
        ));
    }
    Ok(layout(StatusCode::OK, &title, Some(&forum), active, &body))
}

/// `POST /dashboard/{forum}/moderate`: one post (`post`) or a selection (`posts`).
async fn moderate(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    Path(forum): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (me, forum, fields) = match gate_write(&state, &headers, &jar, &forum, Power::Moderate, &body).await? {
        Ok(x) => x,
        Err(page) => return Ok(page),
    };
    let who = Principal::Account(me);
    let Ok(action) = serde_json::from_value::<Action>(json!(fields.one("action"))) else {
        return Ok(message_page(StatusCode::UNPROCESSABLE_ENTITY, "Not done", Some(&forum), "Unknown action."));
    };
    let single = fields.one("post");
    if single.is_empty() && action.state().is_none() {
        let text = "Highlight and pin work on one comment at a time.";
        return Ok(message_page(StatusCode::UNPROCESSABLE_ENTITY, "Not done", Some(&forum), text));
    }
    let ids: Vec<&str> = if single.is_empty() { fields.all("posts") } else { vec![single] };
    if ids.is_empty() || ids.len() > 100 {
        return Ok(message_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Not done",
            Some(&forum),
            "Select 1 to 100 comments.",
        ));
    }
    for raw in ids {
        let Ok(id) = raw.parse::<Id>() else { continue };
        // A post of another forum is not found here: tenants stay apart.
        let post = match state.store.post_get(id).await {
            Ok(p) if p.forum_id == forum.id => p,
            Ok(_) | Err(confab_store::StoreError::PostNotFound) => continue,
            Err(e) => return Err(e.into()),
        };
        let done = match action.state() {
            Some(to) => decide(&state, &who, &post, to, None).await.map(drop),
            None => mark(&state, &post, action).await.map(drop),
        };
        if let Err(e) = done {
            return Ok(error_page(e, Some(&forum)));
        }
    }
    let anchor = fields.one("next");
    Ok(back_to(&forum, fields.one("back"), (!anchor.is_empty()).then_some(anchor)))
}

/// The thread named in a path, if it is one of this forum's (another forum's thread is
/// not found here).
async fn thread_of(state: &AppState, forum: &Forum, raw: &str) -> Result<Option<confab_core::model::Thread>, ApiError> {
    let Ok(id) = raw.parse::<Id>() else { return Ok(None) };
    match state.store.thread_get(id).await {
        Ok(t) if t.forum_id == forum.id => Ok(Some(t)),
        Ok(_) | Err(confab_store::StoreError::ThreadNotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// `GET /dashboard/{forum}/threads/{id}`: every post of a thread, its controls.
async fn thread_page(
    State(state): State<AppState>,
    jar: CookieJar,
    Path((forum, thread)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let here = format!("/dashboard/{forum}/threads/{thread}");
    let (me, forum) = match gate(&state, &jar, &forum, Power::Moderate, &here).await? {
        Ok(x) => x,
        Err(page) => return Ok(page),
    };
    let Some(thread) = thread_of(&state, &forum, &thread).await? else {
        return Ok(message_page(StatusCode::NOT_FOUND, "Not found", Some(&forum), "No such thread here."));
    };
    let search = PostSearch { thread: Some(thread.id), limit: 100, ..Default::default() };
    let mut posts = state.store.moderation_queue(forum.id, &search).await?;
    posts.sort_by(|a, b| a.path.cmp(&b.path));
    let info = card_info(&state, &forum, &posts).await?;
    let csrf = csrf_token(&state, &me);
    let closed = thread.closed || forum.policy.auto_closed(thread.created_at, state.clock.now());
    let title = thread.title.as_ref().map_or_else(|| thread.identifier.to_string(), |t| t.to_string());
    let mut body = format!(
        "<p>{url} · {n} approved comments · {status}{pinned}</p>\
         <form method=\"post\" action=\"{here}\" class=\"inline\">{csrf}{action}</form>",
        url = thread
            .url
            .as_ref()
            .map(|u| format!("<a href=\"{0}\" rel=\"noopener noreferrer\">{0}</a>", escape(u.as_str())))
            .unwrap_or_default(),
        n = thread.posts,
        status = if closed { "<strong>closed</strong>" } else { "open" },
        pinned = thread.pinned.map(|p| format!(" · pinned: <a href=\"#p-{p}\">{p}</a>")).unwrap_or_default(),
        here = escape(&here),
        csrf = hidden("csrf", &csrf),
        action = if thread.closed {
            "<button name=\"action\" value=\"open\">Reopen the thread</button>"
        } else {
            "<button name=\"action\" value=\"close\">Close the thread</button>"
        },
    );
    body.push_str(&post_list(&forum, &posts, &info, &csrf, &here));
    Ok(layout(StatusCode::OK, &title, Some(&forum), "", &body))
}

/// `POST /dashboard/{forum}/threads/{id}`: close or reopen.
async fn thread_action(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    Path((forum, thread)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (_, forum, fields) = match gate_write(&state, &headers, &jar, &forum, Power::ManageThreads, &body).await? {
        Ok(x) => x,
        Err(page) => return Ok(page),
    };
    let Some(thread) = thread_of(&state, &forum, &thread).await? else {
        return Ok(message_page(StatusCode::NOT_FOUND, "Not found", Some(&forum), "No such thread here."));
    };
    let id = thread.id;
    let closed = match fields.one("action") {
        "close" => true,
        "open" => false,
        _ => return Ok(message_page(StatusCode::UNPROCESSABLE_ENTITY, "Not done", Some(&forum), "Unknown action.")),
    };
    state.store.thread_set_closed(id, closed).await?;
    state.reads.thread_changed(id).await;
    Ok(back_to(&forum, &format!("/dashboard/{}/threads/{id}", forum.shortname.as_str()), None))
}

/// `GET /dashboard/{forum}/users/{author}`: a person's comments here, and what to do about them.
async fn user_page(
    State(state): State<AppState>,
    jar: CookieJar,
    Path((forum, author)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let here = format!("/dashboard/{forum}/users/{author}");
    let (me, forum) = match gate(&state, &jar, &forum, Power::Moderate, &here).await? {
        Ok(x) => x,
        Err(page) => return Ok(page),
    };
    let found = match author.parse::<Id>().ok() {
        Some(id) => state.store.authors_get_many(&[id]).await?.into_iter().next(),
        None => None,
    };
    let Some(author) = found else {
        return Ok(message_page(StatusCode::NOT_FOUND, "Not found", Some(&forum), "No such author."));
    };
    let search = PostSearch { authors: Some(vec![author.id]), limit: PAGE, ..Default::default() };
    let posts = state.store.moderation_queue(forum.id, &search).await?;
    if posts.is_empty() {
        // Nobody's history is shown in a forum they never wrote in.
        return Ok(message_page(StatusCode::NOT_FOUND, "Not found", Some(&forum), "No comments by this author here."));
    }
    let csrf = csrf_token(&state, &me);
    let counts = |s: PostState| posts.iter().filter(|p| p.state == s).count();
    let f = escape(forum.shortname.as_str());
    let mut targets: Vec<(&str, String, String)> = Vec::new();
    if author.kind == AuthorKind::Account {
        targets.push(("account", author.name.to_string(), format!("the account {}", author.name)));
    }
    if let Some(e) = &author.email {
        targets.push(("email", e.as_str().to_owned(), format!("the address {}", e.as_str())));
        if let Some((_, d)) = e.as_str().rsplit_once('@') {
            targets.push(("domain", d.to_owned(), format!("every address at {d}")));
        }
    }
    let target_options: String = targets
        .iter()
        .map(|(k, v, label)| format!("<option value=\"{k}:{}\">{}</option>", escape(v), escape(label)))
        .collect();
    let ban_form = if targets.is_empty() {
        "<p class=\"muted\">A guest without an address can be banned by network only (Bans page).</p>".to_owned()
    } else {
        format!(
            "<form method=\"post\" action=\"/dashboard/{f}/bans\" class=\"grid\">{csrf}{back}\
             <label>Who <select name=\"target\">{target_options}</select></label>\
             {fields}</form>",
            fields = BAN_FIELDS,
            csrf = hidden("csrf", &csrf),
            back = hidden("back", &here),
        )
    };
    let trust = if author.kind == AuthorKind::Account {
        let owner = Principal::Account(me.clone()).require(&state, Some(&forum), Power::ManageForum).await.is_ok();
        let role = state.store.role_get(forum.id, author.id).await?;
        let role_text = role.map_or("no role".to_owned(), |r| r.as_str().to_owned());
        if owner && role.is_none_or(|r| r < Role::Moderator) {
            let (value, label) = if role == Some(Role::Trusted) {
                ("member", "Stop trusting")
            } else {
                ("trusted", "Trust (skips pre-moderation and rules)")
            };
            format!(
                "<p>Role here: {role_text}</p><form method=\"post\" action=\"/dashboard/{f}/settings\" class=\"inline\">{csrf}{back}\
                 {kind}{who}<button name=\"role\" value=\"{value}\">{label}</button></form>",
                csrf = hidden("csrf", &csrf),
                back = hidden("back", &here),
                kind = hidden("section", "role"),
                who = hidden("username", author.name.as_str()),
            )
        } else {
            format!("<p>Role here: {role_text}</p>")
        }
    } else {
        String::new()
    };
    let info = CardInfo {
        authors: [(author.id, author.clone())].into_iter().collect(),
        verdicts: verdicts_of(&state, &forum, &posts).await?,
    };
    let body = format!(
        "<p>{kind} · {email} · {n} comments here: {a} approved, {p} pending, {s} spam, {d} deleted, {sh} shadow</p>\
         {trust}<h2>Ban, time out or shadow-ban</h2>{ban_form}<h2>Comments</h2>{list}",
        kind = match author.kind {
            AuthorKind::Guest => "Guest",
            AuthorKind::Account => "Account",
            AuthorKind::Sso => "SSO user",
        },
        email = author.email.as_ref().map_or("no address".to_owned(), |e| escape(e.as_str())),
        n = posts.len(),
        a = counts(PostState::Approved),
        p = counts(PostState::Pending),
        s = counts(PostState::Spam),
        d = counts(PostState::Deleted),
        sh = counts(PostState::Shadow),
        list = post_list(&forum, &posts, &info, &csrf, &here),
    );
    Ok(layout(StatusCode::OK, author.name.as_str(), Some(&forum), "", &body))
}

/// `GET /dashboard/{forum}/bans`: bans in force, and a form for any kind.
async fn bans_page(
    State(state): State<AppState>,
    jar: CookieJar,
    Path(forum): Path<String>,
) -> Result<Response, ApiError> {
    let here = format!("/dashboard/{forum}/bans");
    let (me, forum) = match gate(&state, &jar, &forum, Power::Moderate, &here).await? {
        Ok(x) => x,
        Err(page) => return Ok(page),
    };
    let csrf = csrf_token(&state, &me);
    let bans = state.store.bans_list(forum.id, state.clock.now()).await?;
    let mut rows = String::new();
    for b in &bans {
        let what = match &b.target {
            BanTarget::Account(id) => state
                .store
                .account_get(*id)
                .await
                .map(|a| format!("account {}", a.username.as_str()))
                .unwrap_or_else(|_| "a deleted account".into()),
            t => format!("{} {}", t.kind(), t.value()),
        };
        rows.push_str(&format!(
            "<tr><td>{what}{shadow}</td><td>{until}</td><td>{reason}</td><td>\
             <form method=\"post\" action=\"{here}\" class=\"inline\">{csrf}{op}{id}<button>Lift</button></form></td></tr>",
            what = escape(&what),
            shadow = if b.shadow { " <span class=\"badge\">shadow</span>" } else { "" },
            until = b.expires_at.map_or("until lifted".to_owned(), |t| rfc3339(t)[..16].replace('T', " ")),
            reason = escape(b.reason.as_deref().unwrap_or("")),
            here = escape(&here),
            csrf = hidden("csrf", &csrf),
            op = hidden("op", "lift"),
            id = hidden("ban", &b.id.to_string()),
        ));
    }
    let table = if bans.is_empty() {
        "<p class=\"empty\">No bans in force.</p>".to_owned()
    } else {
        format!(
            "<table><thead><tr><th>Who</th><th>Until</th><th>Reason</th><th></th></tr></thead><tbody>{rows}</tbody></table>"
        )
    };
    let body = format!(
        "{table}<h2>New ban</h2><form method=\"post\" action=\"{here}\" class=\"grid\">{csrf}{back}\
         <label>Kind <select name=\"kind\"><option value=\"account\">account (username)</option><option value=\"email\">email address</option>\
         <option value=\"domain\">email domain</option><option value=\"ip\">IP address or network (CIDR)</option></select></label>\
         <label>Value <input name=\"value\" required maxlength=\"320\"></label>\
         {fields}</form>",
        fields = BAN_FIELDS,
        here = escape(&here),
        csrf = hidden("csrf", &csrf),
        back = hidden("back", &here),
    );
    Ok(layout(StatusCode::OK, "Bans", Some(&forum), "bans", &body))
}

/// `POST /dashboard/{forum}/bans`: create (from here or a user's page) or lift.
async fn ban_action(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    Path(forum): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (me, forum, fields) = match gate_write(&state, &headers, &jar, &forum, Power::Moderate, &body).await? {
        Ok(x) => x,
        Err(page) => return Ok(page),
    };
    if fields.one("op") == "lift" {
        let done = match fields.one("ban").parse::<Id>() {
            Ok(id) => state.store.ban_delete(forum.id, id).await.map_err(ApiError::from),
            Err(_) => Err(confab_store::StoreError::BanNotFound.into()),
        };
        return Ok(match done {
            Ok(()) => back_to(&forum, &format!("/dashboard/{}/bans", forum.shortname.as_str()), None),
            Err(e) => error_page(e, Some(&forum)),
        });
    }
    let (kind, value) = match fields.one("target").split_once(':') {
        Some((k, v)) => (k, v),
        None => (fields.one("kind"), fields.one("value")),
    };
    let duration = match fields.one("duration") {
        "" => None,
        d => match d.parse::<u64>() {
            Ok(secs) => Some(secs),
            Err(_) => {
                return Ok(message_page(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Not done",
                    Some(&forum),
                    "Unknown duration.",
                ));
            }
        },
    };
    let reason = Some(fields.one("reason").to_owned());
    let by = confab_core::model::Moderator::Account(me.account.id);
    let made = crate::api::bans::create(&state, &forum, by, kind, value, reason, duration, fields.flag("shadow")).await;
    if let Err(e) = made {
        return Ok(error_page(e, Some(&forum)));
    }
    Ok(back_to(&forum, fields.one("back"), None))
}

fn checkbox(name: &str, label: &str, on: bool) -> String {
    format!(
        "<label class=\"check\"><input type=\"checkbox\" name=\"{name}\"{}> {label}</label>",
        if on { " checked" } else { "" }
    )
}

fn select(name: &str, label: &str, options: &[(&str, &str)], current: &str) -> String {
    let opts: String = options
        .iter()
        .map(|(v, l)| format!("<option value=\"{v}\"{}>{l}</option>", if *v == current { " selected" } else { "" }))
        .collect();
    format!("<label>{label} <select name=\"{name}\">{opts}</select></label>")
}

/// `GET /dashboard/{forum}/settings`: rules, policy, origins, SSO, keys and the team (owners).
async fn settings_page(
    State(state): State<AppState>,
    jar: CookieJar,
    Path(forum): Path<String>,
) -> Result<Response, ApiError> {
    let here = format!("/dashboard/{forum}/settings");
    let (me, forum) = match gate(&state, &jar, &forum, Power::ManageForum, &here).await? {
        Ok(x) => x,
        Err(page) => return Ok(page),
    };
    let csrf = csrf_token(&state, &me);
    let p = &forum.policy;
    let keys = state.store.forum_keys(forum.id).await?;
    let team: String = state
        .store
        .roles_list(forum.id)
        .await?
        .iter()
        .map(|(a, r)| format!("<li>{} — {}</li>", escape(a.username.as_str()), r.as_str()))
        .collect();
    let json = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
    let voting = json(&json!(p.voting));
    let spam_filter = json(&json!(p.spam_filter));
    let on_delete = json(&json!(p.on_account_delete));
    let body = format!(
        "<form method=\"post\" action=\"{here}\" class=\"grid settings\">{csrf}{section}\
         <fieldset><legend>Forum</legend>\
         <label>Name <input name=\"name\" value=\"{name}\" required maxlength=\"100\"></label>\
         <label>Trusted origins (one per line) <textarea name=\"origins\" rows=\"3\">{origins}</textarea></label></fieldset>\
         <fieldset><legend>Who may post</legend>{guests}{guest_email}{voting}</fieldset>\
         <fieldset><legend>Pre-moderation</legend>{pm}{pmg}{pmf}{pml}</fieldset>\
         <fieldset><legend>Restricted words and names</legend>\
         <label>Words and phrases (one per line; * for any letters) <textarea name=\"restricted_words\" rows=\"4\">{words}</textarea></label>\
         <label>Author names <textarea name=\"restricted_names\" rows=\"2\">{names}</textarea></label>{ra}</fieldset>\
         <fieldset><legend>Spam, flags and threads</legend>{sf}{akismet}\
         <label>Readers' flags before review (0: never) <input type=\"number\" name=\"flag_threshold\" min=\"0\" max=\"1000\" value=\"{ft}\"></label>\
         <label>Close threads after days (0: never) <input type=\"number\" name=\"auto_close_days\" min=\"0\" max=\"36500\" value=\"{acd}\"></label>\
         {ro}</fieldset>\
         <fieldset><legend>Accounts and SSO</legend>\
         <label>SSO payloads accepted for (seconds) <input type=\"number\" name=\"sso_max_age_secs\" min=\"0\" max=\"604800\" value=\"{sso}\"></label>{od}</fieldset>\
         <button type=\"submit\">Save settings</button></form>\
         <h2>Keys</h2><p>Public key (for the embed and SSO): <code>{pk}</code></p>\
         <details><summary>Secret key (signs SSO, manages the forum from your server)</summary><p><code>{sk}</code></p></details>\
         <form method=\"post\" action=\"{here}\" class=\"inline\">{csrf}{rotate}<button class=\"danger\">Rotate the keys</button></form>\
         <p class=\"muted\">Rotating ends every SSO payload signed with the old secret.</p>\
         <h2>Team</h2><ul>{team}</ul>\
         <form method=\"post\" action=\"{here}\" class=\"grid\">{csrf}{role_section}\
         <label>Username <input name=\"username\" required></label>\
         {role_select}<button type=\"submit\">Set role</button></form>\
         <h2>Delete this forum</h2>\
         <p>Its threads and comments, their votes and flags, its settings, keys, team, bans and webhooks all \
         go, for good: pages that embed it show nothing from the moment you confirm. Export what you want to \
         keep first.</p>\
         <form method=\"post\" action=\"{here}\" class=\"grid\">{csrf}{delete_section}\
         <label>Type the forum's shortname, <code>{shortname}</code>, to confirm \
         <input name=\"confirm\" required autocomplete=\"off\" spellcheck=\"false\"></label>\
         <button type=\"submit\" class=\"danger\">Delete the forum and all its comments</button></form>",
        here = escape(&here),
        csrf = hidden("csrf", &csrf),
        section = hidden("section", "policy"),
        name = escape(forum.name.as_str()),
        origins = escape(&forum.origins.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")),
        guests = checkbox("allow_guests", "Guests may post", p.allow_guests),
        guest_email = checkbox("require_guest_email", "Guests must give an email address", p.require_guest_email),
        voting = select(
            "voting",
            "Votes from",
            &[("anyone", "anyone"), ("accounts", "signed-in readers"), ("off", "nobody")],
            &voting
        ),
        pm = checkbox("premoderate", "Hold every comment", p.premoderate),
        pmg = checkbox("premoderate_guests", "Hold guests' comments", p.premoderate_guests),
        pmf = checkbox("premoderate_first_posts", "Hold first comments", p.premoderate_first_posts),
        pml = checkbox("premoderate_links", "Hold comments with links", p.premoderate_links),
        words = escape(&p.restricted_words.join("\n")),
        names = escape(&p.restricted_names.join("\n")),
        ra = select(
            "restricted_action",
            "When one is used",
            &[("hold", "hold for review"), ("reject", "refuse the comment")],
            if p.restricted_action == RestrictedAction::Reject { "reject" } else { "hold" },
        ),
        sf = select(
            "spam_filter",
            "Spam filter",
            &[("after", "after publishing"), ("before", "before publishing"), ("off", "off")],
            &spam_filter
        ),
        akismet = checkbox("akismet", "Also ask the Akismet-compatible service", p.akismet),
        ft = p.flag_threshold,
        acd = p.auto_close_days,
        ro = checkbox("read_only", "Read-only: no comments, edits, votes or flags anywhere in the forum", p.read_only),
        sso = p.sso_max_age_secs,
        od = select(
            "on_account_delete",
            "A deleted account's comments",
            &[("anonymize", "stay, signed \"Deleted account\""), ("remove", "are removed")],
            &on_delete,
        ),
        pk = escape(&keys.public_key),
        sk = escape(&keys.secret_key),
        rotate = hidden("section", "rotate"),
        role_section = hidden("section", "role"),
        delete_section = hidden("section", "delete"),
        shortname = escape(forum.shortname.as_str()),
        role_select = select(
            "role",
            "Role",
            &[
                ("moderator", "moderator"),
                ("trusted", "trusted"),
                ("member", "member"),
                ("owner", "owner"),
                ("none", "no role")
            ],
            "moderator",
        ),
    );
    Ok(layout(StatusCode::OK, "Settings", Some(&forum), "settings", &body))
}

/// `POST /dashboard/{forum}/settings`: the policy form, key rotation, or a role.
async fn settings_action(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    Path(forum): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (_, forum, fields) = match gate_write(&state, &headers, &jar, &forum, Power::ManageForum, &body).await? {
        Ok(x) => x,
        Err(page) => return Ok(page),
    };
    let here = format!("/dashboard/{}/settings", forum.shortname.as_str());
    let done: Result<(), ApiError> = async {
        match fields.one("section") {
            "delete" => {
                if !forum.deletion_confirmed(fields.one("confirm")) {
                    return Err(crate::api::forums::confirmation_mismatch(&forum).into());
                }
                state.delete_forum(&forum).await?;
            }
            "rotate" => {
                let keys = confab_core::model::ForumKeys::generate(state.clock.now());
                state.store.forum_keys_rotate(forum.id, keys).await?;
                tracing::info!(forum = %forum.id, "forum keys rotated from the dashboard");
            }
            "role" => {
                let account = crate::api::forums::named_account(&state, "username", fields.one("username")).await?;
                let role = match fields.one("role") {
                    "none" => None,
                    r => Some(Role::parse(r).ok_or_else(|| ApiError::InvalidQuery("unknown role".into()))?),
                };
                state.store.role_set(forum.id, account.id, role, state.clock.now()).await?;
                tracing::info!(forum = %forum.id, account = %account.id, "role changed from the dashboard");
            }
            "policy" => {
                let lines = |name: &str| -> Vec<String> {
                    fields.one(name).lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect()
                };
                let number =
                    |name: &'static str| -> Result<u64, ApiError> {
                        fields.one(name).trim().parse::<u64>().map_err(|_| {
                            confab_core::input::InputError::new(name, "not_a_number", "a whole number").into()
                        })
                    };
                let mut p = forum.policy.clone();
                p.allow_guests = fields.flag("allow_guests");
                p.require_guest_email = fields.flag("require_guest_email");
                p.premoderate = fields.flag("premoderate");
                p.premoderate_guests = fields.flag("premoderate_guests");
                p.premoderate_first_posts = fields.flag("premoderate_first_posts");
                p.premoderate_links = fields.flag("premoderate_links");
                p.akismet = fields.flag("akismet");
                p.read_only = fields.flag("read_only");
                p.restricted_words = lines("restricted_words");
                p.restricted_names = lines("restricted_names");
                let pick = |name: &str| serde_json::Value::String(fields.one(name).to_owned());
                let bad = |name: &str| ApiError::InvalidQuery(format!("unknown choice for {name}"));
                p.voting = serde_json::from_value(pick("voting")).map_err(|_| bad("voting"))?;
                p.spam_filter = serde_json::from_value(pick("spam_filter")).map_err(|_| bad("spam filter"))?;
                p.restricted_action =
                    serde_json::from_value(pick("restricted_action")).map_err(|_| bad("restricted action"))?;
                p.on_account_delete =
                    serde_json::from_value(pick("on_account_delete")).map_err(|_| bad("deleted accounts"))?;
                p.flag_threshold = u32::try_from(number("flag_threshold")?).unwrap_or(u32::MAX);
                p.auto_close_days = u32::try_from(number("auto_close_days")?).unwrap_or(u32::MAX);
                p.sso_max_age_secs = number("sso_max_age_secs")?;
                let policy = crate::api::forums::checked_policy(p)?;
                let name = confab_core::input::DisplayName::parse("name", fields.one("name"))?;
                let origins = crate::api::forums::parse_origins(&lines("origins"))?;
                let update =
                    confab_core::model::ForumUpdate { name: Some(name), origins: Some(origins), policy: Some(policy) };
                let forum = state.store.forum_update(forum.id, update).await?;
                state.reads.forum_changed(&forum);
                tracing::info!(forum = %forum.id, "forum settings changed from the dashboard");
            }
            _ => return Err(ApiError::InvalidQuery("unknown settings form".into())),
        }
        Ok(())
    }
    .await;
    match done {
        // Its pages are gone with it.
        Ok(()) if fields.one("section") == "delete" => Ok(Redirect::to("/dashboard").into_response()),
        Ok(()) => {
            Ok(back_to(&forum, [fields.one("back"), &here].into_iter().find(|b| !b.is_empty()).unwrap_or(&here), None))
        }
        Err(e) => Ok(error_page(e, Some(&forum))),
    }
}

/// `GET /dashboard/{forum}/stats`: comments per day (a chart drawn here, as SVG), the
/// queues, the spam rate.
async fn stats_page(
    State(state): State<AppState>,
    jar: CookieJar,
    Path(forum): Path<String>,
) -> Result<Response, ApiError> {
    let here = format!("/dashboard/{forum}/stats");
    let (_, forum) = match gate(&state, &jar, &forum, Power::Moderate, &here).await? {
        Ok(x) => x,
        Err(page) => return Ok(page),
    };
    let stats = crate::api::moderation::stats_of(&state, &forum, 30).await?;
    let days = stats["days"].as_array().cloned().unwrap_or_default();
    let max = days.iter().map(|d| d["posts"].as_u64().unwrap_or(0)).max().unwrap_or(0).max(1);
    let (w, h, bar) = (600u64, 160u64, 20u64);
    let mut bars = String::new();
    for (i, d) in days.iter().enumerate() {
        let posts = d["posts"].as_u64().unwrap_or(0);
        let spam = d["spam"].as_u64().unwrap_or(0);
        let ph = posts * h / max;
        let sh = spam * h / max;
        let x = i as u64 * bar;
        let day = d["day"].as_str().unwrap_or("");
        bars.push_str(&format!(
            "<g><title>{day}: {posts} comments, {spam} spam</title>\
             <rect x=\"{x}\" y=\"{y}\" width=\"{bw}\" height=\"{ph}\" class=\"bar\"/>\
             <rect x=\"{x}\" y=\"{ys}\" width=\"{bw}\" height=\"{sh}\" class=\"bar spam\"/></g>",
            y = h - ph,
            ys = h - sh,
            bw = bar - 4,
        ));
    }
    let first = days.first().and_then(|d| d["day"].as_str()).unwrap_or("");
    let last = days.last().and_then(|d| d["day"].as_str()).unwrap_or("");
    let q = &stats["queues"];
    let body = format!(
        "<ul class=\"figures\"><li><strong>{p}</strong> pending</li><li><strong>{f}</strong> flagged</li>\
         <li><strong>{s}</strong> spam</li><li><strong>{sh}</strong> shadow</li>\
         <li><strong>{total}</strong> comments in 30 days</li><li><strong>{rate:.1}%</strong> spam</li></ul>\
         <h2>Comments per day</h2>\
         <figure><svg viewBox=\"0 0 {w} {hh}\" role=\"img\" aria-label=\"Comments per day, {first} to {last}\" class=\"chart\">\
         {bars}<text x=\"0\" y=\"{ty}\">{first}</text><text x=\"{w}\" y=\"{ty}\" text-anchor=\"end\">{last}</text>\
         <text x=\"0\" y=\"12\">{max}</text></svg>\
         <figcaption>Bars: comments posted each day (UTC); darker: those now marked spam.</figcaption></figure>",
        p = q["pending"],
        f = q["flagged"],
        s = q["spam"],
        sh = q["shadow"],
        total = stats["posts"],
        rate = stats["spam_rate"].as_f64().unwrap_or(0.0) * 100.0,
        hh = h + 20,
        ty = h + 16,
    );
    Ok(layout(StatusCode::OK, "Stats", Some(&forum), "stats", &body))
}
