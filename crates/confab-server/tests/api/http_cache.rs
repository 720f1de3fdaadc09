//! HTTP caching headers of every route: the public reads carry an ETag and
//! `Cache-Control: public, max-age, stale-while-revalidate` and answer `If-None-Match`
//! with 304; every other answer, errors included, is `no-store`. Routes are taken from
//! the OpenAPI document (which `tests/openapi.rs` holds equal to the router), so a new
//! route is checked without being listed here.

use crate::common::{TestApp, id_of};
use axum::http::{Method, StatusCode};
use confab_server::http_cache::PUBLIC_ROUTES;
use serde_json::json;

const PUBLIC_CONTROL: &str = "public, max-age=10, stale-while-revalidate=60";

#[tokio::test]
async fn every_route_says_how_it_may_be_cached() {
    let app = TestApp::with_forum().await;
    let root = app.comment("cached", None, "First", "Ann").await;
    let reply = app.comment("cached", Some(&id_of(&root["post"])), "Second", "Bob").await;
    let thread = root["thread"]["id"].as_str().unwrap().to_owned();
    let doc = app.get("/api/v1/openapi.json").await.json;
    // Each public route answers 200 with these queries.
    let query = |path: &str| match path {
        "/api/v1/forums/{forum}/thread-page" | "/api/v1/forums/{forum}/threads" | "/api/v1/forums/{forum}/counts" => {
            "?identifier=cached"
        }
        _ => "",
    };
    let mut seen_public = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "post", "patch", "delete", "put"] {
            if item.get(method).is_none() {
                continue;
            }
            let uri = path
                .replace("{forum}", "blog")
                .replace("{thread}", &thread)
                .replace("{post}", &id_of(&reply["post"]))
                .replace("{username}", "nobody")
                .replace("{webhook}", "1")
                .replace("{job}", "1")
                .replace("{ban}", "1")
                .replace("{session}", "1");
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let public = method == "get" && PUBLIC_ROUTES.contains(&path.as_str());
            // Anonymous, and as the administrator: private answers stay private either way.
            for auth in [None, Some(format!("Bearer {}", app.admin))] {
                let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("authorization", a.as_str())).collect();
                let uri = format!("{uri}{}", if public { query(path) } else { "" });
                let body = (method != "get" && method != "delete").then(|| json!({}));
                let r = app.send(m.clone(), &uri, body.as_ref(), &headers).await;
                let control = r.headers.get("cache-control").map(|v| v.to_str().unwrap().to_owned());
                if public {
                    assert_eq!(r.status, StatusCode::OK, "{method} {uri}: {}", r.text);
                    assert_eq!(control.as_deref(), Some(PUBLIC_CONTROL), "{method} {uri}");
                    assert!(r.headers["etag"].to_str().unwrap().starts_with("W/\""), "{method} {uri}");
                    seen_public.push(path.clone());
                } else {
                    let control = control.unwrap_or_else(|| panic!("{method} {uri} ({}) says nothing", r.status));
                    assert!(control.contains("no-store"), "{method} {uri} ({}): {control}", r.status);
                    assert!(r.headers.get("etag").is_none(), "{method} {uri}");
                }
            }
        }
    }
    seen_public.sort();
    seen_public.dedup();
    let mut listed: Vec<String> = PUBLIC_ROUTES.iter().map(|s| s.to_string()).collect();
    listed.sort();
    assert_eq!(seen_public, listed, "every public route is documented and was checked");
    // Errors of public routes are not kept by anyone.
    let missing = app.get("/api/v1/forums/nope/thread-page?identifier=x").await.expect(StatusCode::NOT_FOUND);
    assert_eq!(missing.headers["cache-control"], "no-store");
    assert!(missing.headers.get("etag").is_none());
    // Nor are answers outside the API that do not choose for themselves.
    for uri in ["/dashboard", "/account", "/no/such/page"] {
        let r = app.get(uri).await;
        assert!(r.headers["cache-control"].to_str().unwrap().contains("no-store"), "{uri}: {:?}", r.headers);
    }
    // The public answers vary only by encoding, not by the embedding site.
    let r = app.send(Method::GET, &TestApp::page_uri("cached", ""), None, &[("origin", "https://a.example")]).await;
    assert_eq!(r.headers["access-control-allow-origin"], "*");
    let vary: Vec<_> = r.headers.get_all("vary").iter().map(|v| v.to_str().unwrap().to_lowercase()).collect();
    assert!(vary.iter().all(|v| !v.contains("origin")), "{vary:?}");
}

#[tokio::test]
async fn if_none_match_gets_304_until_the_page_changes() {
    let app = TestApp::with_forum().await;
    app.comment("etag", None, "First", "Ann").await;
    let uri = TestApp::page_uri("etag", "");
    let first = app.get(&uri).await.expect(StatusCode::OK);
    let tag = first.headers["etag"].to_str().unwrap().to_owned();
    // The same page again: 304, no body, the same validator and caching rules.
    let again = app.send(Method::GET, &uri, None, &[("if-none-match", &tag)]).await.expect(StatusCode::NOT_MODIFIED);
    assert!(again.text.is_empty());
    assert_eq!(again.headers["etag"], tag.as_str());
    assert_eq!(again.headers["cache-control"], PUBLIC_CONTROL);
    // A list of tags, one of them current, and a strong copy of the weak tag match too.
    let list = format!("W/\"0123\", {tag}");
    app.send(Method::GET, &uri, None, &[("if-none-match", &list)]).await.expect(StatusCode::NOT_MODIFIED);
    let strong = tag.trim_start_matches("W/").to_owned();
    app.send(Method::GET, &uri, None, &[("if-none-match", &strong)]).await.expect(StatusCode::NOT_MODIFIED);
    // A new comment changes the page: 200 with a new tag.
    app.comment("etag", None, "Second", "Bob").await;
    let changed = app.send(Method::GET, &uri, None, &[("if-none-match", &tag)]).await.expect(StatusCode::OK);
    assert_ne!(changed.headers["etag"], tag.as_str());
    assert_eq!(changed.json["thread"]["posts"], 2);
    // Counts revalidate the same way.
    let counts = app.get("/api/v1/forums/blog/counts?identifier=etag").await.expect(StatusCode::OK);
    let ctag = counts.headers["etag"].to_str().unwrap().to_owned();
    app.send(Method::GET, "/api/v1/forums/blog/counts?identifier=etag", None, &[("if-none-match", &ctag)])
        .await
        .expect(StatusCode::NOT_MODIFIED);
    // A page that does not exist yet (most of the long tail) is cacheable too.
    let empty = app.get(&TestApp::page_uri("never-commented", "")).await.expect(StatusCode::OK);
    assert_eq!(empty.json["thread"], serde_json::Value::Null);
    assert_eq!(empty.headers["cache-control"], PUBLIC_CONTROL);
}
