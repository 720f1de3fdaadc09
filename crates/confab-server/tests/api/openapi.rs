//! The OpenAPI document and the router agree: every documented operation is routed,
//! and every route in `src/api/mod.rs` is documented.

use std::collections::BTreeSet;

use crate::common::TestApp;
use axum::http::{Method, StatusCode};
use serde_json::Value;

const METHODS: [&str; 5] = ["get", "post", "patch", "delete", "put"];

fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for m in METHODS {
            if item.get(m).is_some() {
                ops.insert((m.to_owned(), path.clone()));
            }
        }
    }
    ops
}

/// The routes declared in `src/api/mod.rs`, read from its source:
/// `.route("/path", get(h).post(h))`.
fn routed() -> BTreeSet<(String, String)> {
    let src = include_str!("../../src/api/mod.rs");
    let mut ops = BTreeSet::new();
    for chunk in src.split(".route(").skip(1) {
        let Some(chunk) = chunk.trim_start().strip_prefix('"') else { continue };
        let (path, call) = chunk.split_once('"').unwrap();
        for m in METHODS {
            if call.contains(&format!(" {m}(")) || call.contains(&format!(".{m}(")) {
                ops.insert((m.to_owned(), path.to_owned()));
            }
        }
    }
    assert!(ops.len() > 10, "parsed too few routes: {ops:?}");
    ops
}

#[tokio::test]
async fn the_document_lists_exactly_the_routes() {
    let app = TestApp::new().await;
    let r = app.get("/api/v1/openapi.json").await.expect(StatusCode::OK);
    assert_eq!(r.headers["content-type"], "application/json");
    assert_eq!(r.json["openapi"], "3.1.0");
    assert_eq!(documented(&r.json), routed());
}

#[tokio::test]
async fn every_documented_operation_is_served() {
    let app = TestApp::with_forum().await;
    let doc = app.get("/api/v1/openapi.json").await.json;
    for (method, path) in documented(&doc) {
        let uri = path.replace("{forum}", "blog").replace("{thread}", "1").replace("{post}", "1");
        let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let r = app.send(m, &uri, None, &[]).await;
        assert_ne!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        if r.status == StatusCode::NOT_FOUND {
            assert_ne!(r.code(), "route_not_found", "{method} {path}");
        }
        assert!(!r.status.is_server_error(), "{method} {path}: {}", r.text);
    }
}

#[test]
fn every_reference_resolves() {
    let doc: Value = serde_json::from_str(include_str!("../../openapi.json")).unwrap();
    let text = include_str!("../../openapi.json");
    for piece in text.split("\"$ref\": \"#/components/schemas/").skip(1) {
        let name = piece.split('"').next().unwrap();
        assert!(doc["components"]["schemas"].get(name).is_some(), "dangling $ref {name}");
    }
    let ids: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| METHODS.iter().filter_map(move |m| item.get(*m)))
        .map(|op| op["operationId"].as_str().expect("every operation has an operationId"))
        .collect();
    let unique: BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "operationIds are unique");
}
