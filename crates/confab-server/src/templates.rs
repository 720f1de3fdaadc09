//! The one template environment (minijinja) for everything the server writes as a
//! document: mail (`templates/mail/`) and the dashboard's pages (`templates/dashboard/`).
//! Escaping follows the file name: `.html` templates escape every value they are given
//! (minijinja's default), `.txt` ones write text as it is. Values that are already safe
//! HTML (a post's sanitised rendering) come in as `Value::from_safe_string`, decided in
//! one place per kind of value, never in a template.
//!
//! The templates are compiled into the binary (`include_str!`), so a running server needs
//! no files beside it; a test renders each of them.

use std::sync::LazyLock;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use minijinja::{Environment, Value};

use crate::error::ApiError;

macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        [$(($name, include_str!(concat!("../templates/", $name)))),*]
    };
}

const SOURCES: [(&str, &str); 25] = templates![
    "mail/notify.txt",
    "mail/notify.html",
    "mail/digest.txt",
    "mail/digest.html",
    "dashboard/layout.html",
    "dashboard/macros.html",
    "dashboard/message.html",
    "dashboard/home.html",
    "dashboard/queue.html",
    "dashboard/thread.html",
    "dashboard/user.html",
    "dashboard/bans.html",
    "dashboard/settings.html",
    "dashboard/stats.html",
    "dashboard/switches.html",
    "dashboard/posts.html",
    "pages/frame.html",
    "pages/message.html",
    "pages/login.html",
    "pages/account.html",
    "pages/verify.html",
    "pages/reset.html",
    "pages/unsubscribe.html",
    "pages/window.html",
    "pages/handoff.html",
];

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_trim_blocks(true);
    for (name, source) in SOURCES {
        env.add_template(name, source).expect("the templates parse");
    }
    env
});

/// `name` rendered with `ctx`. The templates are ours and each is rendered by a test, so
/// an error is a bug in this crate, reported with the template's name and line.
pub(crate) fn render(name: &str, ctx: &Value) -> Result<String, minijinja::Error> {
    ENV.get_template(name)?.render(ctx)
}

/// A page of Confab's own origin: the template `name` drawn with `ctx`, under the
/// Content-Security-Policy `csp`, never cached, never framed, sent only to this origin
/// (`Referrer-Policy: same-origin`, which also keeps link tokens in query strings here).
pub(crate) fn page(status: StatusCode, name: &str, ctx: &Value, csp: &'static str) -> Response {
    let html = match render(name, ctx) {
        Ok(html) => html,
        // The templates are ours and each page has a test: a failure here is a bug.
        Err(e) => {
            let cause = format!("template {name}: {e:#}");
            return ApiError::Store(confab_store::StoreError::Internal(cause)).into_response();
        }
    };
    let headers = [
        (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(csp)),
        (header::REFERRER_POLICY, HeaderValue::from_static("same-origin")),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
    ];
    (status, headers, Html(html)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses_and_html_escapes() {
        for (name, _) in SOURCES {
            ENV.get_template(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        let escaped = ENV.render_named_str("t.html", "{{ v }}", minijinja::context! { v => "<b a=\"1\">" }).unwrap();
        assert_eq!(escaped, "&lt;b a=&quot;1&quot;&gt;");
        let text = ENV.render_named_str("t.txt", "{{ v }}", minijinja::context! { v => "<b>" }).unwrap();
        assert_eq!(text, "<b>");
    }
}
