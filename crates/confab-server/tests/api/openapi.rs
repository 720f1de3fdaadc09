//! The OpenAPI document: generated from the same list that builds the router (so every
//! route is documented and nothing documented is missing), committed as a snapshot, and
//! every operation in it answers.

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

/// The document is generated from the router; `openapi.json` beside the crate is the
/// same text for readers and reviews, so a change to any handler's or view's
/// attributes shows up there as a diff. `CONFAB_BLESS=1` rewrites it.
#[test]
fn the_committed_document_is_the_generated_one() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");
    let generated = confab_server::openapi_json();
    if std::env::var_os("CONFAB_BLESS").is_some() {
        std::fs::write(path, generated).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap();
    assert!(
        committed == generated,
        "openapi.json is not what the code generates: run CONFAB_BLESS=1 cargo test -p confab-server --test api openapi, and review the diff"
    );
}

/// Valid OpenAPI 3.1, as a third party's validator reads it (openapi-spec-validator,
/// installed by `scripts/test-deps`): what client generators will be given.
#[test]
fn the_document_is_valid_openapi() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = root.join(".cache/venv/bin/python");
    assert!(python.exists(), "run scripts/test-deps (scripts/test does) to install openapi-spec-validator");
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), confab_server::openapi_json()).unwrap();
    let out = std::process::Command::new(python)
        .args(["-m", "openapi_spec_validator"])
        .arg(file.path())
        .output()
        .expect("run openapi-spec-validator");
    assert!(
        out.status.success(),
        "the document is not valid OpenAPI: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn the_server_serves_the_generated_document() {
    let app = TestApp::new().await;
    let r = app.get("/api/v1/openapi.json").await.expect(StatusCode::OK);
    assert_eq!(r.headers["content-type"], "application/json");
    assert_eq!(r.text, confab_server::openapi_json());
    assert_eq!(r.json["openapi"], "3.1.0");
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
    let text = confab_server::openapi_json();
    let doc: Value = serde_json::from_str(text).unwrap();
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
