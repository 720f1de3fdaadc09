//! What browsers load: the embed widget (`/embed.js`), the comment-count script
//! (`/count.js`) and the demo site at `/`.
//!
//! The scripts are hand-written and served as written: no build step, so what is in
//! `embed/` is what runs. The widget's stylesheet lives in its own file for editing
//! and is inlined into `embed.js` once at start-up, so the widget costs one request.

use confab_core::keys::hex;
use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::error::ApiError;

pub const EMBED_JS_SOURCE: &str = include_str!("../embed/embed.js");
pub const EMBED_CSS: &str = include_str!("../embed/embed.css");
pub const COUNT_JS: &str = include_str!("../embed/count.js");
/// The account panel (log in, sign up, reset), an ES module the widget loads on use.
const DEMO_CSS: &str = include_str!("../embed/demo/demo.css");
const DEMO_PAGE: &str = include_str!("../embed/demo/page.html");

/// Where `embed.js` takes its stylesheet: this exact token is replaced by a JSON string.
const CSS_PLACEHOLDER: &str = "\"__CONFAB_CSS__\"";

/// A static text asset with its strong validator.
pub struct Asset {
    pub body: String,
    pub etag: String,
    content_type: &'static str,
}

impl Asset {
    pub(crate) fn new(body: String, content_type: &'static str) -> Self {
        let digest = Sha256::digest(body.as_bytes());
        let etag = format!("\"{}\"", &hex(&digest)[..32]);
        Asset { body, etag, content_type }
    }

    /// 304 when the client holds this version; else the body. Scripts are revalidated
    /// every five minutes so a Confab upgrade reaches readers quickly.
    pub(crate) fn respond(&self, headers: &HeaderMap) -> Response {
        let fresh = headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim() == self.etag || t.trim() == "*"));
        let common = [
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300")),
            (header::ETAG, HeaderValue::from_str(&self.etag).expect("hex etag is a valid header")),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        ];
        if fresh {
            return (StatusCode::NOT_MODIFIED, common).into_response();
        }
        let ct = [(header::CONTENT_TYPE, HeaderValue::from_static(self.content_type))];
        (common, ct, self.body.clone()).into_response()
    }
}

/// The script as served: its source less the lines that are only a `//` comment (the
/// source is written to be read; readers' browsers need none of that). Safe for this
/// source: it has no template literal or multi-line string a line could start inside,
/// which a test keeps so. Trailing comments and the `/*!` licence header stay.
pub fn without_comment_lines(js: &str) -> String {
    js.lines().filter(|l| !l.trim_start().starts_with("//")).map(|l| format!("{l}\n")).collect()
}

/// The widget with its stylesheet inlined as a JSON string literal (valid JavaScript).
pub static EMBED: LazyLock<Asset> = LazyLock::new(|| {
    assert!(EMBED_JS_SOURCE.contains(CSS_PLACEHOLDER), "embed.js lost its stylesheet placeholder");
    let css = serde_json::to_string(EMBED_CSS).expect("a string serialises");
    Asset::new(without_comment_lines(&EMBED_JS_SOURCE.replace(CSS_PLACEHOLDER, &css)), "text/javascript; charset=utf-8")
});
static COUNT: LazyLock<Asset> = LazyLock::new(|| Asset::new(COUNT_JS.into(), "text/javascript; charset=utf-8"));
/// The widget's other languages (English is built in), one ES module each.
pub const WIDGET_LANGUAGES: [(&str, &str); 2] =
    [("de", include_str!("../embed/i18n/de.js")), ("fr", include_str!("../embed/i18n/fr.js"))];
static LANGUAGES: LazyLock<Vec<(&str, Asset)>> = LazyLock::new(|| {
    WIDGET_LANGUAGES.iter().map(|(l, src)| (*l, Asset::new((*src).into(), "text/javascript; charset=utf-8"))).collect()
});
static DEMO_STYLE: LazyLock<Asset> = LazyLock::new(|| Asset::new(DEMO_CSS.into(), "text/css; charset=utf-8"));

pub(crate) async fn embed_js(headers: HeaderMap) -> Response {
    EMBED.respond(&headers)
}

pub(crate) async fn count_js(headers: HeaderMap) -> Response {
    COUNT.respond(&headers)
}

/// `/embed-i18n/{lang}.js`: the widget's strings in one language.
pub(crate) async fn language_js(Path(file): Path<String>, headers: HeaderMap) -> Response {
    let lang = file.strip_suffix(".js").unwrap_or("");
    match LANGUAGES.iter().find(|(l, _)| *l == lang) {
        Some((_, asset)) => asset.respond(&headers),
        None => ApiError::RouteNotFound.into_response(),
    }
}

pub(crate) async fn demo_css(headers: HeaderMap) -> Response {
    DEMO_STYLE.respond(&headers)
}

/// One article of the demo site.
struct Article {
    slug: &'static str,
    title: &'static str,
    lede: &'static str,
    /// Paragraphs of the body (trusted constants, written as HTML).
    body: &'static [&'static str],
    /// Embedded with Disqus's "universal code" (config function, `disqus_thread`).
    disqus_style: bool,
}

const ARTICLES: &[Article] = &[
    Article {
        slug: "welcome",
        title: "Welcome to Confab",
        lede: "Comments that load fast, stay out of your readers' way and never follow them around.",
        body: &[
            "This page is a sample article. Below it is the Confab widget, embedded with one \
             <code>&lt;div&gt;</code> and one script tag — exactly what you would put on your own site.",
            "Write a comment, reply to someone, vote, change the sort order. Your name is remembered in this \
             browser, and you can edit or delete what you wrote for a while after posting.",
            "Comments are written in Markdown: <code>**bold**</code>, <code>_italic_</code>, \
             <code>`code`</code>, links and lists. HTML is shown as text, never run.",
        ],
        disqus_style: false,
    },
    Article {
        slug: "lighthouse",
        title: "The last lighthouse keeper",
        lede: "For forty years she climbed 137 steps twice a day. Then the light went automatic.",
        body: &[
            "The lamp has not needed a keeper since 1998, but the island still keeps its own hours: \
             the ferry at nine, the supply boat on Thursdays, the fog horn whenever it pleases.",
            "Visitors ask what she misses most. \"The weather,\" she says. \"You stop watching it when \
             nothing depends on you.\"",
        ],
        disqus_style: false,
    },
    Article {
        slug: "sourdough",
        title: "Sourdough, slowly",
        lede: "A starter, some patience, and a loaf that needs nothing from a shop. (Embedded the Disqus way.)",
        body: &[
            "This page embeds comments with Disqus's universal code, unchanged except for the script \
             address: a <code>disqus_config</code> function and a <code>&lt;div id=\"disqus_thread\"&gt;</code>.",
            "Feed the starter twice a day for a week. When it doubles in four hours, it is ready to bake with.",
        ],
        disqus_style: true,
    },
];

pub(crate) fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The demo pages forbid inline scripts and styles: the widget must work under a strict
/// policy. The Disqus-style page keeps its inline configuration script, as such sites do.
fn demo_csp(disqus_style: bool) -> HeaderValue {
    let script = if disqus_style { "'self' 'unsafe-inline'" } else { "'self'" };
    HeaderValue::from_str(&format!(
        "default-src 'none'; script-src {script}; style-src 'self'; connect-src 'self'; img-src 'self' data:; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ))
    .expect("static policy")
}

fn render_article(a: &Article) -> Response {
    let body: String = a.body.iter().map(|p| format!("<p>{p}</p>\n")).collect();
    let others: String = ARTICLES
        .iter()
        .map(|o| {
            let href = if o.slug == "welcome" { "/".to_owned() } else { format!("/demo/{}", o.slug) };
            format!(
                "<li><a href=\"{href}\">{}</a> · <a class=\"count\" href=\"{href}#confab_thread\" \
                 data-confab-identifier=\"{}\">Comments</a></li>\n",
                escape(o.title),
                o.slug
            )
        })
        .collect();
    let embed = if a.disqus_style {
        format!(
            "<div id=\"disqus_thread\"></div>\n<script>\n  var disqus_config = function () {{\n    \
             this.page.identifier = '{slug}';\n    this.page.title = '{title}';\n  }};\n  \
             (function () {{\n    var d = document, s = d.createElement('script');\n    \
             s.src = '/embed.js?forum=demo';\n    s.setAttribute('data-timestamp', +new Date());\n    \
             (d.head || d.body).appendChild(s);\n  }})();\n</script>",
            slug = a.slug,
            title = escape(a.title).replace('\'', "\\'"),
        )
    } else {
        format!(
            "<div id=\"confab_thread\" data-identifier=\"{}\" data-title=\"{}\"></div>\n\
             <script async src=\"/embed.js\" data-forum=\"demo\"></script>",
            a.slug,
            escape(a.title)
        )
    };
    let html = DEMO_PAGE
        .replace("{{title}}", &escape(a.title))
        .replace("{{lede}}", &escape(a.lede))
        .replace("{{body}}", &body)
        .replace("{{embed}}", &embed)
        .replace("{{articles}}", &others);
    (
        [
            (header::CONTENT_SECURITY_POLICY, demo_csp(a.disqus_style)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        Html(html),
    )
        .into_response()
}

/// `/`: the demo article when the demo forum exists, else a short landing page.
#[utoipa::path(
    get,
    path = "/",
    operation_id = "landing",
    summary = "The demo article with the embedded widget when the demo forum exists, else a landing page (HTML). The widget itself is /embed.js and the count script /count.js; both are outside this API.",
    responses(
        (status = 200, description = "HTML page", body = String, content_type = "text/html"),
    ),
)]
pub(crate) async fn home(axum::extract::State(state): axum::extract::State<crate::AppState>) -> Response {
    if state.settings.demo {
        render_article(&ARTICLES[0])
    } else {
        Html(include_str!("api/landing.html")).into_response()
    }
}

pub(crate) async fn demo_article(
    axum::extract::State(state): axum::extract::State<crate::AppState>,
    Path(slug): Path<String>,
) -> Result<Response, ApiError> {
    match ARTICLES.iter().find(|a| a.slug == slug) {
        Some(a) if state.settings.demo => Ok(render_article(a)),
        _ => Err(ApiError::RouteNotFound),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stylesheet_is_inlined_once_as_a_string() {
        assert!(!EMBED.body.contains("__CONFAB_CSS__"));
        assert!(EMBED.body.contains(&serde_json::to_string(EMBED_CSS).unwrap()));
    }

    #[test]
    fn every_demo_page_renders_with_its_widget() {
        for a in ARTICLES {
            let html = DEMO_PAGE.replace("{{title}}", a.title);
            assert!(html.contains(a.title));
            let resp = render_article(a);
            assert!(resp.headers().contains_key(header::CONTENT_SECURITY_POLICY));
        }
    }
}
