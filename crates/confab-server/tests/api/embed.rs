//! What browsers load from Confab: the widget and count scripts (size budget, caching,
//! compression), the demo site, and the CORS answers that let the widget call the API
//! from other sites' pages. Behaviour in a real browser is tested in `e2e/`.

use std::io::Read;

use crate::common::TestApp;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use confab_server::Settings;
use confab_server::embed::{COUNT_JS, EMBED};
use http_body_util::BodyExt;
use tower::ServiceExt;

/// The issue's budget for the widget: script and stylesheet together, gzipped.
const WIDGET_BUDGET_GZ: usize = 15 * 1024;

fn gzip_len(s: &str) -> usize {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(s.as_bytes()).unwrap();
    enc.finish().unwrap().len()
}

#[test]
fn the_widget_fits_its_size_budget() {
    let widget = gzip_len(&EMBED.body);
    let count = gzip_len(COUNT_JS);
    println!("embed.js (with its CSS): {} bytes, {widget} gzipped; count.js: {count} gzipped", EMBED.body.len());
    assert!(widget <= WIDGET_BUDGET_GZ, "embed.js is {widget} bytes gzipped, over the {WIDGET_BUDGET_GZ} budget");
    assert!(count <= 2 * 1024, "count.js is {count} bytes gzipped");
}

#[test]
fn the_scripts_need_no_eval_and_define_one_namespace() {
    for (name, src) in [("embed.js", EMBED.body.as_str()), ("count.js", COUNT_JS)] {
        for banned in ["eval(", "new Function", "document.write", "setTimeout('", "setTimeout(\""] {
            assert!(!src.contains(banned), "{name} uses {banned}");
        }
        assert!(src.trim_start().starts_with("/*!") && src.contains("(function () {\n  'use strict';"), "{name}");
    }
}

/// The served widget drops the source's comment-only lines, which is safe only while no
/// line can start inside a template literal or a multi-line string.
#[test]
fn the_served_widget_is_its_source_less_comment_lines() {
    let source = include_str!("../../embed/embed.js");
    // The one backtick pair is inside a quoted string (the formatting help's code sample).
    let code_lines = || source.lines().filter(|l| !l.trim_start().starts_with("//"));
    assert!(code_lines().filter(|l| l.contains('`')).all(|l| l.contains("var HELP = [")), "a template literal");
    assert!(source.lines().any(|l| l.trim_start().starts_with("//")), "the source explains itself");
    let served = EMBED.body.as_str();
    assert!(!served.lines().any(|l| l.trim_start().starts_with("//")), "a comment line was served");
    let code = |s: &str| s.lines().filter(|l| !l.trim_start().starts_with("//")).count();
    assert_eq!(code(served), code(&source.replace("__CONFAB_CSS__", "")), "every line of code is served");
}

/// Every language module has every English key, and nothing else.
#[test]
fn each_widget_language_has_every_string() {
    fn keys(obj: &str) -> std::collections::BTreeSet<String> {
        // Keys are `name:` at the start of an entry; values are strings or string arrays.
        let mut out = std::collections::BTreeSet::new();
        let mut depth = 0;
        let mut in_str: Option<char> = None;
        let mut word = String::new();
        for c in obj.chars() {
            if let Some(q) = in_str {
                if c == q {
                    in_str = None;
                }
                continue;
            }
            match c {
                '\'' | '"' => in_str = Some(c),
                '[' => depth += 1,
                ']' => depth -= 1,
                ':' if depth == 0 && !word.is_empty() => {
                    out.insert(std::mem::take(&mut word));
                }
                c if c.is_ascii_alphanumeric() || c == '_' => word.push(c),
                _ => word.clear(),
            }
        }
        out
    }
    let src = confab_server::embed::EMBED_JS_SOURCE;
    let en_start = src.find("    en: {").unwrap() + "    en: {".len();
    let en = &src[en_start..en_start + src[en_start..].find("\n    }").unwrap()];
    let english = keys(en);
    assert!(english.len() > 40, "{english:?}");
    for (lang, module) in confab_server::embed::WIDGET_LANGUAGES {
        let body = &module[module.find("export default {").unwrap() + 16..module.rfind('}').unwrap()];
        assert_eq!(keys(body), english, "{lang}");
        assert!(src.contains(&format!("'{lang}'")), "embed.js lists {lang}");
    }
}

#[tokio::test]
async fn scripts_are_served_cacheable_with_validators() {
    let app = TestApp::new().await;
    for path in ["/embed.js", "/count.js", "/account/handoff.js", "/embed-i18n/de.js", "/embed-i18n/fr.js"] {
        let r = app.get(path).await.expect(StatusCode::OK);
        assert_eq!(r.headers[header::CONTENT_TYPE], "text/javascript; charset=utf-8");
        assert_eq!(r.headers[header::CACHE_CONTROL], "public, max-age=300");
        assert_eq!(r.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        let etag = r.headers[header::ETAG].to_str().unwrap().to_owned();
        let again = app.send(Method::GET, path, None, &[("if-none-match", &etag)]).await;
        assert_eq!(again.status, StatusCode::NOT_MODIFIED, "{path}");
        assert!(again.text.is_empty());
        let stale = app.send(Method::GET, path, None, &[("if-none-match", "\"other\"")]).await;
        assert_eq!(stale.status, StatusCode::OK);
    }
    let js = app.get("/embed.js").await.text;
    assert!(js.contains(".cf {"), "the stylesheet is inlined");
    assert!(!js.contains("__CONFAB_CSS__"));
}

#[tokio::test]
async fn responses_are_gzipped_when_asked() {
    let app = TestApp::new().await;
    let req = Request::get("/embed.js").header(header::ACCEPT_ENCODING, "gzip, br").body(Body::empty()).unwrap();
    let resp = app.router.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.headers()[header::CONTENT_ENCODING], "gzip");
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    assert!(bytes.len() <= WIDGET_BUDGET_GZ);
    let mut plain = String::new();
    flate2::read::GzDecoder::new(&bytes[..]).read_to_string(&mut plain).unwrap();
    assert_eq!(plain, EMBED.body);
}

#[tokio::test]
async fn the_api_answers_cross_origin_reads_and_preflights() {
    let app = TestApp::with_forum().await;
    let r = app
        .send(Method::GET, "/api/v1/forums/blog/thread-page?identifier=x", None, &[("origin", "https://blog.example")])
        .await
        .expect(StatusCode::OK);
    assert_eq!(r.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    assert!(r.headers.get(header::ACCESS_CONTROL_ALLOW_CREDENTIALS).is_none(), "no cookies cross origins");

    let preflight = app
        .send(
            Method::OPTIONS,
            "/api/v1/posts/1/vote",
            None,
            &[
                ("origin", "https://blog.example"),
                ("access-control-request-method", "POST"),
                ("access-control-request-headers", "content-type, x-confab-voter"),
            ],
        )
        .await
        .expect(StatusCode::OK);
    let allowed = preflight.headers[header::ACCESS_CONTROL_ALLOW_HEADERS].to_str().unwrap();
    for h in ["content-type", "x-confab-edit-token", "x-confab-voter"] {
        assert!(allowed.contains(h), "{allowed}");
    }
    let methods = preflight.headers[header::ACCESS_CONTROL_ALLOW_METHODS].to_str().unwrap();
    for m in ["GET", "POST", "PATCH", "DELETE"] {
        assert!(methods.contains(m), "{methods}");
    }
    assert_eq!(preflight.headers[header::ACCESS_CONTROL_MAX_AGE], "86400");

    // Errors carry the header too, so the widget can read their codes.
    let err = app
        .send(Method::GET, "/api/v1/forums/nope/thread-page?identifier=x", None, &[("origin", "https://blog.example")])
        .await
        .expect_error(StatusCode::NOT_FOUND, "forum_not_found");
    assert_eq!(err.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
}

fn demo_settings() -> Settings {
    Settings { demo: true, rate_limits: confab_server::RateLimits::off(), ..Settings::default() }
}

#[tokio::test]
async fn the_demo_site_is_served_under_a_strict_policy() {
    let app = TestApp::with_settings(demo_settings()).await;
    let home = app.get("/").await.expect(StatusCode::OK);
    assert!(home.text.contains(r#"<div id="confab_thread" data-identifier="welcome""#), "{}", home.text);
    assert!(home.text.contains(r#"<script async src="/embed.js" data-forum="demo"></script>"#));
    assert!(home.text.contains(r#"<script async src="/count.js" data-forum="demo"></script>"#));
    assert!(home.text.contains(r##"href="/demo/lighthouse#confab_thread""##));
    let csp = home.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("script-src 'self';") && csp.contains("style-src 'self';"), "{csp}");

    let disqus = app.get("/demo/sourdough").await.expect(StatusCode::OK);
    assert!(disqus.text.contains(r#"<div id="disqus_thread"></div>"#));
    assert!(disqus.text.contains("var disqus_config = function () {"));
    assert!(disqus.text.contains("this.page.identifier = 'sourdough';"));

    app.get("/demo/lighthouse").await.expect(StatusCode::OK);
    app.get("/demo/demo.css").await.expect(StatusCode::OK);
    app.get("/demo/no-such-article").await.expect_error(StatusCode::NOT_FOUND, "route_not_found");
}

#[tokio::test]
async fn without_the_demo_forum_the_root_is_a_landing_page() {
    let app = TestApp::new().await;
    let home = app.get("/").await.expect(StatusCode::OK);
    assert!(home.text.contains("Confab is running"));
    assert!(!home.text.contains("<div id=\"confab_thread\""), "no widget without the demo");
    app.get("/demo/lighthouse").await.expect_error(StatusCode::NOT_FOUND, "route_not_found");
}

/// Every method the widget's scripts call the API with, read from their source (so a
/// new call cannot be added without its preflight passing), preflighted from a foreign
/// origin with every header the widget may send.
#[tokio::test]
async fn every_method_and_header_the_widget_sends_passes_a_cross_origin_preflight() {
    let app = TestApp::with_forum().await;
    let sources = [include_str!("../../embed/embed.js")];
    // `api(METHOD, path, …)`: the quoted words of the first argument (`a ? 'PUT' : 'DELETE'` too).
    let mut methods = std::collections::BTreeSet::new();
    for src in sources {
        for (at, _) in src.match_indices("api(") {
            let first = src[at + 4..].split(',').next().unwrap();
            methods.extend(
                first
                    .split('\'')
                    .skip(1)
                    .step_by(2)
                    .filter(|w| w.chars().all(|c| c.is_ascii_uppercase()))
                    .map(String::from),
            );
        }
    }
    assert!(methods.is_superset(&["GET", "POST", "PUT", "PATCH", "DELETE"].map(String::from).into()), "{methods:?}");
    // Every `X-Confab-…` header the widget names, with the standard ones it sends.
    let mut names: std::collections::BTreeSet<String> = ["content-type", "authorization"].map(String::from).into();
    for src in sources {
        for (at, _) in src.match_indices("X-Confab-") {
            let name = src[at..].split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')).next().unwrap();
            names.insert(name.to_ascii_lowercase());
        }
    }
    assert!(names.contains("x-confab-edit-tokens") && names.contains("x-confab-sso"), "{names:?}");
    let headers = names.into_iter().collect::<Vec<_>>().join(", ");
    let headers = headers.as_str();
    for (method, path) in methods.iter().flat_map(|m| {
        ["/api/v1/threads/1/subscription", "/api/v1/posts/1", "/api/v1/forums/blog/posts", "/api/v1/auth/login"]
            .map(move |p| (m.clone(), p))
    }) {
        let preflight = app
            .send(
                Method::OPTIONS,
                path,
                None,
                &[
                    ("origin", "https://blog.example"),
                    ("access-control-request-method", &method),
                    ("access-control-request-headers", headers),
                ],
            )
            .await
            .expect(StatusCode::OK);
        let allowed = preflight.headers[header::ACCESS_CONTROL_ALLOW_METHODS].to_str().unwrap();
        assert!(allowed.split(',').any(|m| m.trim() == method), "{method} {path}: {allowed}");
        let allowed = preflight.headers[header::ACCESS_CONTROL_ALLOW_HEADERS].to_str().unwrap().to_ascii_lowercase();
        for h in headers.split(", ") {
            assert!(allowed.split(',').any(|a| a.trim() == h), "{method} {path}: {h} not in {allowed}");
        }
    }
}
