//! Moderation through the API: decisions with reasons in the log, counts and pages
//! that follow at once, restore, bulk, the queues, the classifier learning from
//! decisions, and every action held to the moderator's own forum.

use crate::common::{TestApp, id_of};
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

async fn premoderated(app: &TestApp, shortname: &str) {
    let policy = json!({ "premoderate": true, "spam_filter": "off" });
    app.admin_post("/api/v1/forums", Some(&json!({ "shortname": shortname, "policy": policy })))
        .await
        .expect(StatusCode::CREATED);
}

async fn say(app: &TestApp, forum: &str, text: &str, parent: Option<&str>) -> Value {
    let mut body = json!({ "thread": { "identifier": "t" }, "message": text, "author": { "name": "Gia", "email": "gia@example.com" } });
    if let Some(p) = parent {
        body["parent"] = json!(p);
    }
    app.post(&format!("/api/v1/forums/{forum}/posts"), &body).await.expect(StatusCode::CREATED).json
}

async fn decide(app: &TestApp, who: &str, post: &str, action: &str, reason: Option<&str>) -> crate::common::Resp {
    let body = json!({ "action": action, "reason": reason });
    app.send(Method::POST, &format!("/api/v1/posts/{post}/moderation"), Some(&body), &[("authorization", who)]).await
}

async fn count(app: &TestApp, forum: &str) -> i64 {
    app.get(&format!("/api/v1/forums/{forum}/counts?identifier=t")).await.json["counts"][0]["posts"]
        .as_i64()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moderator_approves_holds_spams_deletes_and_restores_with_reasons() {
    let app = TestApp::new().await;
    premoderated(&app, "blog").await;
    let mod_ = app.member("mona", "blog", "moderator").await;
    let root = say(&app, "blog", "A thoughtful first comment", None).await;
    let id = id_of(&root["post"]);
    assert_eq!(count(&app, "blog").await, 0, "held for review");

    // The queue shows it, with the author's address (moderators only).
    let queue = app
        .send(Method::GET, "/api/v1/forums/blog/queue", None, &[("authorization", &mod_)])
        .await
        .expect(StatusCode::OK);
    assert_eq!(queue.json["posts"][0]["id"], json!(id));
    assert_eq!(queue.json["posts"][0]["author_email"], "gia@example.com");
    assert_eq!(queue.headers["cache-control"], "no-store");

    let r = decide(&app, &mod_, &id, "approve", Some("fine")).await.expect(StatusCode::OK);
    assert_eq!((r.json["post"]["state"].as_str(), r.json["changed"].as_bool()), (Some("approved"), Some(true)));
    assert_eq!(count(&app, "blog").await, 1, "counts follow at once");
    let page = app.get("/api/v1/forums/blog/thread-page?identifier=t").await.json;
    assert_eq!(page["posts"][0]["id"], json!(id));

    let reply = say(&app, "blog", "a reply", Some(&id)).await;
    decide(&app, &mod_, &id_of(&reply["post"]), "approve", None).await.expect(StatusCode::OK);
    decide(&app, &mod_, &id, "delete", Some("off topic")).await.expect(StatusCode::OK);
    assert_eq!(count(&app, "blog").await, 1, "the reply still counts");
    let page = app.get("/api/v1/forums/blog/thread-page?identifier=t").await.json;
    assert_eq!(page["posts"][0]["state"], "deleted", "a placeholder keeps the reply's place");
    decide(&app, &mod_, &id, "approve", Some("restored on appeal")).await.expect(StatusCode::OK);
    decide(&app, &mod_, &id, "spam", None).await.expect(StatusCode::OK);
    app.get(&format!("/api/v1/posts/{id}")).await.expect(StatusCode::NOT_FOUND);
    let same = decide(&app, &mod_, &id, "spam", None).await.expect(StatusCode::OK);
    assert_eq!(same.json["changed"], false);

    let history =
        app.send(Method::GET, &format!("/api/v1/posts/{id}/moderation"), None, &[("authorization", &mod_)]).await;
    let log = history.expect(StatusCode::OK).json["log"].as_array().unwrap().clone();
    let steps: Vec<(String, String, Value)> = log
        .iter()
        .map(|e| (e["from"].as_str().unwrap().to_owned(), e["to"].as_str().unwrap().to_owned(), e["reason"].clone()))
        .collect();
    assert_eq!(
        steps,
        vec![
            ("pending".into(), "pending".into(), json!("the forum pre-moderates every post")),
            ("pending".into(), "approved".into(), json!("fine")),
            ("approved".into(), "deleted".into(), json!("off topic")),
            ("deleted".into(), "approved".into(), json!("restored on appeal")),
            ("approved".into(), "spam".into(), Value::Null),
        ]
    );
    assert_eq!((log[0]["by"]["kind"].clone(), log[1]["by"]["kind"].clone()), (json!("rules"), json!("account")));

    // Decisions about spam taught the forum's classifier: one ham (the approval of a
    // held post), one spam.
    let forum = app.store.forum_by_shortname("blog").await.unwrap();
    let learnt = app.store.spam_model(forum.id, &confab_core::spam::tokens("thoughtful")).await.unwrap();
    assert_eq!((learnt.docs.ham, learnt.docs.spam), (2, 1), "two approvals of held posts, one spam");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moderation_is_held_to_the_moderators_own_forum() {
    let app = TestApp::new().await;
    premoderated(&app, "blog").await;
    premoderated(&app, "other").await;
    let mod_ = app.member("mona", "blog", "moderator").await;
    let trusted = app.member("tess", "blog", "trusted").await;
    let theirs = id_of(&say(&app, "other", "over there", None).await["post"]);
    let ours = id_of(&say(&app, "blog", "over here", None).await["post"]);

    decide(&app, &mod_, &theirs, "approve", None).await.expect_error(StatusCode::FORBIDDEN, "forbidden");
    decide(&app, &trusted, &ours, "approve", None).await.expect_error(StatusCode::FORBIDDEN, "forbidden");
    app.post(&format!("/api/v1/posts/{ours}/moderation"), &json!({ "action": "approve" }))
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "unauthorized");
    for uri in ["/api/v1/forums/other/queue", &format!("/api/v1/posts/{theirs}/moderation")] {
        app.send(Method::GET, uri, None, &[("authorization", &mod_)])
            .await
            .expect_error(StatusCode::FORBIDDEN, "forbidden");
    }
    let bulk = json!({ "posts": [ours], "action": "approve" });
    app.send(Method::POST, "/api/v1/forums/other/moderation", Some(&bulk), &[("authorization", &mod_)])
        .await
        .expect_error(StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(count(&app, "other").await, 0, "nothing moved");

    // The site's server moderates its own forum with its secret key, and only it.
    let admin = format!("Bearer {}", app.admin);
    let keys = app.send(Method::GET, "/api/v1/forums/blog/keys", None, &[("authorization", &admin)]).await.json;
    let sk = format!("Bearer {}", keys["secret_key"].as_str().unwrap());
    decide(&app, &sk, &ours, "approve", None).await.expect(StatusCode::OK);
    decide(&app, &sk, &theirs, "approve", None).await.expect_error(StatusCode::UNAUTHORIZED, "unauthorized");
    let log =
        app.send(Method::GET, &format!("/api/v1/posts/{ours}/moderation"), None, &[("authorization", &sk)]).await.json;
    // First the rules that held it, then the site's decision.
    assert_eq!(log["log"][0]["by"]["kind"], "rules");
    assert_eq!(log["log"][1]["by"]["kind"], "secret_key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_decisions_report_each_post_and_the_queue_pages() {
    let app = TestApp::new().await;
    premoderated(&app, "blog").await;
    premoderated(&app, "other").await;
    let mod_ = app.member("mona", "blog", "moderator").await;
    let mut ours = Vec::new();
    for i in 0..5 {
        ours.push(id_of(&say(&app, "blog", &format!("comment number {i}"), None).await["post"]));
    }
    let theirs = id_of(&say(&app, "other", "elsewhere", None).await["post"]);
    let queue = |before: Option<&str>| {
        let uri = match before {
            Some(b) => format!("/api/v1/forums/blog/queue?limit=2&before={b}"),
            None => "/api/v1/forums/blog/queue?limit=2".to_owned(),
        };
        let mod_ = mod_.clone();
        let app = &app;
        async move { app.send(Method::GET, &uri, None, &[("authorization", &mod_)]).await.expect(StatusCode::OK).json }
    };
    let first = queue(None).await;
    let second = queue(first["before"].as_str()).await;
    let ids = |v: &Value| v["posts"].as_array().unwrap().iter().map(id_of).collect::<Vec<_>>();
    assert_eq!(ids(&first), vec![ours[4].clone(), ours[3].clone()], "newest first");
    assert_eq!(ids(&second), vec![ours[2].clone(), ours[1].clone()]);

    let body = json!({ "posts": [ours[0], ours[1], theirs, "123456"], "action": "approve", "reason": "bulk" });
    let r = app.send(Method::POST, "/api/v1/forums/blog/moderation", Some(&body), &[("authorization", &mod_)]).await;
    let results = r.expect(StatusCode::OK).json["results"].as_array().unwrap().clone();
    assert_eq!(results[0]["state"], "approved");
    assert_eq!(results[1]["state"], "approved");
    assert_eq!(results[2]["error"], "post_not_found", "another forum's post is not found here");
    assert_eq!(results[3]["error"], "post_not_found");
    assert_eq!(count(&app, "blog").await, 2);
    assert_eq!(count(&app, "other").await, 0);
    let pending = queue(None).await;
    assert_eq!(ids(&pending), vec![ours[4].clone(), ours[3].clone()]);
    let all =
        app.send(Method::GET, "/api/v1/forums/blog/queue?state=all&limit=100", None, &[("authorization", &mod_)]).await;
    assert_eq!(all.json["posts"].as_array().unwrap().len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_decisions_are_refused_with_reasons() {
    let app = TestApp::new().await;
    premoderated(&app, "blog").await;
    let mod_ = app.member("mona", "blog", "moderator").await;
    let id = id_of(&say(&app, "blog", "x", None).await["post"]);
    decide(&app, &mod_, &id, "obliterate", None).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    let long = "r".repeat(501);
    let r = decide(&app, &mod_, &id, "spam", Some(&long))
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    assert_eq!(r.json["error"]["reason"], "too_long");
    decide(&app, &mod_, "999999", "spam", None).await.expect_error(StatusCode::NOT_FOUND, "post_not_found");
    let empty = json!({ "posts": [], "action": "approve" });
    app.send(Method::POST, "/api/v1/forums/blog/moderation", Some(&empty), &[("authorization", &mod_)])
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    app.send(Method::GET, "/api/v1/forums/blog/queue?state=weird", None, &[("authorization", &mod_)])
        .await
        .expect_error(StatusCode::BAD_REQUEST, "invalid_query");
    assert_eq!(count(&app, "blog").await, 0, "nothing half-done");
}
