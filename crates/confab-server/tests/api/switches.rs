//! Feature switches through the admin API: who may see and change them, what each
//! switch turns off, the checks on what is set, and the audit trail.

use crate::common::{TestApp, id_of};
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";

fn admin(app: &TestApp) -> String {
    format!("Bearer {}", app.admin)
}

async fn put(app: &TestApp, key: &str, body: Value) -> crate::common::Resp {
    app.send(Method::PUT, &format!("/api/v1/switches/{key}"), Some(&body), &[("authorization", &admin(app))]).await
}

async fn clear(app: &TestApp, key: &str) -> crate::common::Resp {
    app.send(Method::DELETE, &format!("/api/v1/switches/{key}"), None, &[("authorization", &admin(app))]).await
}

async fn sign_up_from(app: &TestApp, name: &str, ip: [u8; 4]) -> crate::common::Resp {
    let body = json!({ "username": name, "email": format!("{name}@example.com"), "password": PASSWORD });
    app.post_from("/api/v1/auth/signup", &body, ip).await
}

#[tokio::test]
async fn only_administrators_see_or_change_switches() {
    let app = TestApp::with_forum().await;
    let moderator = app.member("mo", "blog", "moderator").await;
    for (m, uri) in [
        (Method::GET, "/api/v1/switches"),
        (Method::GET, "/api/v1/switches/signups"),
        (Method::PUT, "/api/v1/switches/signups"),
        (Method::DELETE, "/api/v1/switches/signups"),
        (Method::GET, "/api/v1/switch-changes"),
    ] {
        let body = (m == Method::PUT).then(|| json!({ "state": "off" }));
        app.send(m.clone(), uri, body.as_ref(), &[]).await.expect_error(StatusCode::UNAUTHORIZED, "unauthorized");
        app.send(m, uri, body.as_ref(), &[("authorization", &moderator)])
            .await
            .expect_error(StatusCode::FORBIDDEN, "forbidden");
    }
    let list = app.send(Method::GET, "/api/v1/switches", None, &[("authorization", &admin(&app))]).await;
    let list = list.expect(StatusCode::OK).json;
    let keys: Vec<&str> = list["switches"].as_array().unwrap().iter().map(|s| s["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["signups", "spam_service", "webhooks", "email", "sort_hot"]);
    for s in list["switches"].as_array().unwrap() {
        assert_eq!((s["default"].as_bool(), s["on_here"].as_bool(), &s["set"]), (Some(true), Some(true), &Value::Null));
        assert!(!s["about"].as_str().unwrap().is_empty());
    }
}

#[tokio::test]
async fn signups_switched_off_refuse_new_accounts_and_write_nothing() {
    let app = TestApp::new().await;
    let r = put(&app, "signups", json!({ "state": "off", "note": "spam wave" })).await.expect(StatusCode::OK);
    assert_eq!(r.json["switch"]["set"], json!({ "state": "off", "note": "spam wave" }));
    assert_eq!(r.json["switch"]["on_here"], false);
    sign_up_from(&app, "ann", [192, 0, 2, 1]).await.expect_error(StatusCode::FORBIDDEN, "signups_closed");
    assert!(app.mailer.sent().is_empty(), "no mail, no account");
    let name = confab_core::input::Username::parse("ann").unwrap();
    assert!(app.store.account_by_username(&name).await.unwrap().is_none());

    // Open to one network only: the office tries it first.
    put(&app, "signups", json!({ "state": "selective", "include": { "networks": ["10.0.0.0/8"] } }))
        .await
        .expect(StatusCode::OK);
    sign_up_from(&app, "bob", [10, 1, 2, 3]).await.expect(StatusCode::ACCEPTED);
    sign_up_from(&app, "cat", [192, 0, 2, 1]).await.expect_error(StatusCode::FORBIDDEN, "signups_closed");
    // An exclusion wins over the inclusion.
    put(
        &app,
        "signups",
        json!({ "state": "selective", "include": { "networks": ["10.0.0.0/8"] }, "exclude": { "networks": ["10.1.0.0/16"] } }),
    )
    .await
    .expect(StatusCode::OK);
    sign_up_from(&app, "dan", [10, 1, 2, 3]).await.expect_error(StatusCode::FORBIDDEN, "signups_closed");
    sign_up_from(&app, "eve", [10, 2, 0, 1]).await.expect(StatusCode::ACCEPTED);

    let r = clear(&app, "signups").await.expect(StatusCode::OK);
    assert_eq!(r.json["switch"]["set"], Value::Null);
    sign_up_from(&app, "ann", [192, 0, 2, 1]).await.expect(StatusCode::ACCEPTED);
}

#[tokio::test]
async fn what_would_mean_nothing_is_refused_and_changes_nothing() {
    let app = TestApp::new().await;
    let cases = [
        ("signup", json!({ "state": "off" }), "unknown_switch"),
        ("Signups", json!({ "state": "off" }), "invalid_switch_key"),
        ("signups", json!({ "state": "selective" }), "no_conditions"),
        ("signups", json!({ "state": "on", "include": { "percent": 5 } }), "conditions_unused"),
        ("signups", json!({ "state": "selective", "include": { "percent": 101 } }), "invalid_percent"),
        ("signups", json!({ "state": "selective", "include": { "forums": ["No Such"] } }), "invalid_shortname"),
    ];
    for (key, body, reason) in cases {
        let r = put(&app, key, body.clone()).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
        assert_eq!(r.json["error"]["reason"], reason, "{key} {body}: {}", r.text);
    }
    for body in [
        json!({ "state": "sideways" }),
        json!({ "state": "off", "colour": "red" }),
        json!({ "state": "selective", "include": { "networks": ["10.0.0.0/33"] } }),
    ] {
        put(&app, "signups", body).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    }
    let log = app.send(Method::GET, "/api/v1/switch-changes", None, &[("authorization", &admin(&app))]).await;
    assert_eq!(log.expect(StatusCode::OK).json["log"], json!([]), "nothing was written");
}

#[tokio::test]
async fn every_change_is_in_the_audit_log_with_who_and_what() {
    let app = TestApp::new().await;
    put(&app, "webhooks", json!({ "state": "off" })).await.expect(StatusCode::OK);
    // The same again changes nothing and is not logged.
    put(&app, "webhooks", json!({ "state": "off" })).await.expect(StatusCode::OK);
    clear(&app, "webhooks").await.expect(StatusCode::OK);
    let r = app.send(Method::GET, "/api/v1/switches/webhooks", None, &[("authorization", &admin(&app))]).await;
    let log = r.expect(StatusCode::OK).json["log"].clone();
    assert_eq!(log.as_array().unwrap().len(), 2);
    assert_eq!((&log[0]["before"], &log[0]["after"]), (&json!({ "state": "off" }), &Value::Null));
    assert_eq!((&log[1]["before"], &log[1]["after"]), (&Value::Null, &json!({ "state": "off" })));
    assert_eq!(log[0]["by"], "admin-token");
    assert!(log[0]["seq"].as_u64() > log[1]["seq"].as_u64());
    assert!(log[0]["at"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn the_hot_sort_switched_off_serves_the_default_sort() {
    let app = TestApp::with_forum().await;
    for i in 0..26 {
        app.comment("page", None, &format!("comment {i}"), "Ann").await;
    }
    let hot = TestApp::page_uri("page", "sort=hot");
    let first = app.get(&hot).await.expect(StatusCode::OK).json;
    assert_eq!(first["sort"], "hot");
    let cursor = first["cursor"].as_str().expect("a second page").to_owned();
    put(&app, "sort_hot", json!({ "state": "off" })).await.expect(StatusCode::OK);
    let page = app.get(&hot).await.expect(StatusCode::OK).json;
    assert_eq!(page["sort"], "newest", "served, in the default sort");
    let thread = id_of(&page["thread"]);
    let roots = app.get(&format!("/api/v1/threads/{thread}/posts?sort=hot")).await.expect(StatusCode::OK).json;
    assert_eq!(roots["sort"], "newest");
    // A reader already paging in it finishes: their cursor is a hot one.
    let next = format!("/api/v1/threads/{thread}/posts?sort=hot&cursor={}", crate::common::urlencode(&cursor));
    let next = app.get(&next).await.expect(StatusCode::OK).json;
    assert_eq!((next["sort"].as_str(), next["posts"].as_array().unwrap().len()), (Some("hot"), 1));
    // Only for the forums it names.
    put(&app, "sort_hot", json!({ "state": "selective", "include": { "forums": ["news"] } }))
        .await
        .expect(StatusCode::OK);
    assert_eq!(app.get(&hot).await.expect(StatusCode::OK).json["sort"], "newest");
    put(&app, "sort_hot", json!({ "state": "selective", "include": { "forums": ["blog"] } }))
        .await
        .expect(StatusCode::OK);
    assert_eq!(app.get(&hot).await.expect(StatusCode::OK).json["sort"], "hot");
    // For a share of readers, drawn on their address: all of them, then none.
    let from = |ip: [u8; 4]| {
        let req = axum::http::Request::builder()
            .uri(hot.as_str())
            .extension(axum::extract::ConnectInfo(std::net::SocketAddr::from((ip, 4000))))
            .body(axum::body::Body::empty())
            .unwrap();
        app.raw(req)
    };
    put(&app, "sort_hot", json!({ "state": "selective", "include": { "percent": 100 } })).await.expect(StatusCode::OK);
    assert_eq!(from([192, 0, 2, 7]).await.expect(StatusCode::OK).json["sort"], "hot");
    assert_eq!(app.get(&hot).await.expect(StatusCode::OK).json["sort"], "newest", "no address, no draw");
    put(&app, "sort_hot", json!({ "state": "selective", "include": { "percent": 0 } })).await.expect(StatusCode::OK);
    assert_eq!(from([192, 0, 2, 7]).await.expect(StatusCode::OK).json["sort"], "newest");
}
