//! Who may do what, as a matrix: every principal against every privileged action, in
//! its own forum and in another's. A role, session or key of forum A has no power in
//! forum B.

use crate::common::{TestApp, id_of};
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";

async fn account(app: &TestApp, name: &str) -> String {
    let email = format!("{name}@example.com").to_lowercase();
    app.post("/api/v1/auth/signup", &json!({ "username": name, "email": email, "password": PASSWORD }))
        .await
        .expect(StatusCode::ACCEPTED);
    let mail = app.mailer.to(&email).pop().unwrap();
    let start = mail.text.find("token=").unwrap() + 6;
    let token = mail.text[start..].split_whitespace().next().unwrap();
    app.post("/api/v1/auth/verify", &json!({ "token": token })).await.expect(StatusCode::OK);
    let login = app.post("/api/v1/auth/login", &json!({ "login": name, "password": PASSWORD })).await;
    login.expect(StatusCode::OK).json["token"].as_str().unwrap().to_owned()
}

struct World {
    app: TestApp,
    /// Principal name → the bearer credential it sends (`None`: nothing).
    who: Vec<(&'static str, Option<String>)>,
    thread_a: String,
}

async fn world() -> World {
    let app = TestApp::new().await;
    let admin = app.admin.clone();
    for f in ["site-a", "site-b"] {
        app.create_forum(f).await;
    }
    let mut who: Vec<(&'static str, Option<String>)> = vec![("anonymous", None), ("admin token", Some(admin.clone()))];
    for (name, forum, role) in [
        ("owner of A", "site-a", Some("owner")),
        ("moderator of A", "site-a", Some("moderator")),
        ("trusted in A", "site-a", Some("trusted")),
        ("owner of B", "site-b", Some("owner")),
        ("plain account", "site-a", None),
        ("global admin", "site-a", None),
    ] {
        let username = name.replace(' ', "_");
        let session = account(&app, &username).await;
        if let Some(role) = role {
            let auth = format!("Bearer {admin}");
            app.send(
                Method::PUT,
                &format!("/api/v1/forums/{forum}/roles/{username}"),
                Some(&json!({ "role": role })),
                &[("authorization", &auth)],
            )
            .await
            .expect(StatusCode::OK);
        }
        if name == "global admin" {
            let id = app.store.account_for_login(&username.to_lowercase()).await.unwrap().unwrap().0.id;
            app.store.account_set_admin(id, true).await.unwrap();
        }
        who.push((name, Some(session)));
    }
    for (name, forum) in [("secret key of A", "site-a"), ("secret key of B", "site-b")] {
        let auth = format!("Bearer {admin}");
        let keys =
            app.send(Method::GET, &format!("/api/v1/forums/{forum}/keys"), None, &[("authorization", &auth)]).await;
        who.push((name, Some(keys.json["secret_key"].as_str().unwrap().to_owned())));
    }
    let thread = app
        .admin_post(
            "/api/v1/forums/site-a/threads",
            Some(&json!({ "identifier": "t", "url": "https://a.example/t", "title": "T" })),
        )
        .await
        .expect(StatusCode::CREATED);
    World { app, who, thread_a: id_of(&thread.json) }
}

const OK: u16 = 0; // any 2xx
const NO: u16 = 401;
const FB: u16 = 403;

/// (action, expected per principal in `world().who` order:
/// anonymous, admin token, owner A, moderator A, trusted A, owner B, plain, global admin, key A, key B)
/// One privileged action and the status each principal gets.
type Row = (&'static str, Method, String, Option<Value>, [u16; 10]);

fn matrix(thread_a: &str) -> Vec<Row> {
    vec![
        ("list forums", Method::GET, "/api/v1/forums".into(), None, [NO, OK, FB, FB, FB, FB, FB, OK, NO, NO]),
        (
            "create a forum",
            Method::POST,
            "/api/v1/forums".into(),
            Some(json!({ "shortname": "new-forum" })),
            [NO, OK, FB, FB, FB, FB, FB, OK, NO, NO],
        ),
        (
            "change settings",
            Method::PATCH,
            "/api/v1/forums/site-a".into(),
            Some(json!({ "name": "Site A" })),
            [NO, OK, OK, FB, FB, FB, FB, OK, FB, NO],
        ),
        ("read keys", Method::GET, "/api/v1/forums/site-a/keys".into(), None, [NO, OK, OK, FB, FB, FB, FB, OK, FB, NO]),
        (
            "list roles",
            Method::GET,
            "/api/v1/forums/site-a/roles".into(),
            None,
            [NO, OK, OK, FB, FB, FB, FB, OK, FB, NO],
        ),
        (
            "grant a role",
            Method::PUT,
            "/api/v1/forums/site-a/roles/plain_account".into(),
            Some(json!({ "role": "member" })),
            [NO, OK, OK, FB, FB, FB, FB, OK, FB, NO],
        ),
        (
            "create a thread",
            Method::POST,
            "/api/v1/forums/site-a/threads".into(),
            Some(json!({ "identifier": "made", "url": "https://a.example/made", "title": "Made" })),
            [NO, OK, OK, OK, FB, FB, FB, OK, OK, NO],
        ),
        (
            "close a thread",
            Method::POST,
            format!("/api/v1/threads/{thread_a}/close"),
            None,
            [NO, OK, OK, OK, FB, FB, FB, OK, OK, NO],
        ),
        (
            "reopen a thread",
            Method::POST,
            format!("/api/v1/threads/{thread_a}/open"),
            None,
            [NO, OK, OK, OK, FB, FB, FB, OK, OK, NO],
        ),
    ]
}

#[tokio::test]
async fn every_principal_against_every_action() {
    let w = world().await;
    let mut failures = Vec::new();
    for (action, method, uri, body, expected) in matrix(&w.thread_a) {
        for ((name, cred), want) in w.who.iter().zip(expected) {
            let auth = cred.as_ref().map(|c| format!("Bearer {c}"));
            let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("authorization", a.as_str())).collect();
            let r = w.app.send(method.clone(), &uri, body.as_ref(), &headers).await;
            let ok = match want {
                OK => {
                    r.status.is_success()
                        || (action == "create a forum" || action == "create a thread")
                            && r.status == StatusCode::CONFLICT
                }
                code => r.status.as_u16() == code,
            };
            if !ok {
                failures.push(format!("{action} as {name}: expected {want}, got {} {}", r.status, r.text));
            }
            if want == FB && r.status == StatusCode::FORBIDDEN {
                assert_eq!(r.code(), "forbidden");
            }
            if want == NO && r.status == StatusCode::UNAUTHORIZED {
                assert_eq!(r.code(), "unauthorized");
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn owners_rotate_their_own_keys_and_nobody_elses() {
    let w = world().await;
    let cred = |name: &str| format!("Bearer {}", w.who.iter().find(|(n, _)| *n == name).unwrap().1.clone().unwrap());
    let rotate = |forum: &str| format!("/api/v1/forums/{forum}/keys/rotate");
    let r = w.app.send(Method::POST, &rotate("site-b"), None, &[("authorization", &cred("owner of A"))]).await;
    r.expect_error(StatusCode::FORBIDDEN, "forbidden");
    let r = w.app.send(Method::POST, &rotate("site-a"), None, &[("authorization", &cred("secret key of A"))]).await;
    r.expect_error(StatusCode::FORBIDDEN, "forbidden");
    let r = w.app.send(Method::POST, &rotate("site-a"), None, &[("authorization", &cred("owner of A"))]).await;
    let new_secret = r.expect(StatusCode::OK).json["secret_key"].as_str().unwrap().to_owned();
    // The old secret key is now no key at all.
    let close = format!("/api/v1/threads/{}/close", w.thread_a);
    w.app
        .send(Method::POST, &close, None, &[("authorization", &cred("secret key of A"))])
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "unauthorized");
    w.app
        .send(Method::POST, &close, None, &[("authorization", &format!("Bearer {new_secret}"))])
        .await
        .expect(StatusCode::OK);
}

#[tokio::test]
async fn a_forum_keeps_an_owner_and_owners_manage_their_team() {
    let w = world().await;
    let cred = |name: &str| format!("Bearer {}", w.who.iter().find(|(n, _)| *n == name).unwrap().1.clone().unwrap());
    let owner = cred("owner of A");
    let role = |who: &str| format!("/api/v1/forums/site-a/roles/{who}");
    w.app
        .send(Method::DELETE, &role("owner_of_A"), None, &[("authorization", &owner)])
        .await
        .expect_error(StatusCode::CONFLICT, "last_owner");
    w.app
        .send(Method::PUT, &role("owner_of_A"), Some(&json!({ "role": "moderator" })), &[("authorization", &owner)])
        .await
        .expect_error(StatusCode::CONFLICT, "last_owner");
    w.app
        .send(Method::PUT, &role("nobody_here"), Some(&json!({ "role": "member" })), &[("authorization", &owner)])
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    w.app
        .send(Method::PUT, &role("plain_account"), Some(&json!({ "role": "king" })), &[("authorization", &owner)])
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    // Promote a moderator to owner; the moderator can now manage the forum, and the
    // first owner can step down.
    w.app
        .send(Method::PUT, &role("moderator_of_A"), Some(&json!({ "role": "owner" })), &[("authorization", &owner)])
        .await
        .expect(StatusCode::OK);
    let list = w.app.send(Method::GET, "/api/v1/forums/site-a/roles", None, &[("authorization", &owner)]).await;
    let owners = list.json["roles"].as_array().unwrap().iter().filter(|r| r["role"] == "owner").count();
    assert_eq!(owners, 2);
    w.app
        .send(Method::DELETE, &role("owner_of_A"), None, &[("authorization", &owner)])
        .await
        .expect(StatusCode::NO_CONTENT);
    w.app
        .send(Method::GET, "/api/v1/forums/site-a/keys", None, &[("authorization", &owner)])
        .await
        .expect_error(StatusCode::FORBIDDEN, "forbidden");
}

#[tokio::test]
async fn owners_change_settings_and_the_change_applies_at_once() {
    let w = world().await;
    let owner = format!("Bearer {}", w.who.iter().find(|(n, _)| *n == "owner of A").unwrap().1.clone().unwrap());
    let patch = |body: Value| {
        let owner = owner.clone();
        let app = &w.app;
        async move { app.send(Method::PATCH, "/api/v1/forums/site-a", Some(&body), &[("authorization", &owner)]).await }
    };
    let r = patch(json!({ "origins": ["https://A.example"], "policy": { "allow_guests": false } })).await;
    let r = r.expect(StatusCode::OK);
    assert_eq!(r.json["origins"], json!(["https://a.example"]));
    assert_eq!(r.json["policy"]["allow_guests"], false);
    assert_eq!(r.json["policy"]["voting"], "anyone", "fields not sent keep their values");
    let guest = json!({ "thread": { "identifier": "t" }, "message": "hi", "author": { "name": "G" } });
    w.app.post("/api/v1/forums/site-a/posts", &guest).await.expect_error(StatusCode::FORBIDDEN, "guests_not_allowed");
    patch(json!({ "policy": { "allow_guests": "maybe" } }))
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    patch(json!({ "policy": { "moderate_everything": true } }))
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    patch(json!({ "origins": ["not an origin"] }))
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    patch(json!({ "shortname": "renamed" })).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    // Refused changes changed nothing.
    let forum = w.app.get("/api/v1/forums/site-a").await.json;
    assert_eq!(
        (forum["policy"]["allow_guests"].clone(), forum["origins"].clone()),
        (json!(false), json!(["https://a.example"]))
    );
}

#[tokio::test]
async fn an_account_creating_a_forum_owns_it() {
    let w = world().await;
    let gadmin = format!("Bearer {}", w.who.iter().find(|(n, _)| *n == "global admin").unwrap().1.clone().unwrap());
    w.app
        .send(Method::POST, "/api/v1/forums", Some(&json!({ "shortname": "mine" })), &[("authorization", &gadmin)])
        .await
        .expect(StatusCode::CREATED);
    let roles = w.app.send(Method::GET, "/api/v1/forums/mine/roles", None, &[("authorization", &gadmin)]).await;
    assert_eq!(
        roles.json["roles"],
        json!([{ "username": "global_admin", "account": roles.json["roles"][0]["account"], "role": "owner" }])
    );
    // The admin token names an owner explicitly, or leaves the forum without one.
    let r = w.app.admin_post("/api/v1/forums", Some(&json!({ "shortname": "theirs", "owner": "plain_account" }))).await;
    r.expect(StatusCode::CREATED);
    let r = w.app.admin_post("/api/v1/forums", Some(&json!({ "shortname": "nobodys", "owner": "ghost" }))).await;
    r.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    w.app.get("/api/v1/forums/nobodys").await.expect_error(StatusCode::NOT_FOUND, "forum_not_found");
}

#[tokio::test]
async fn trusted_members_and_moderators_skip_pre_moderation_only_where_they_have_the_role() {
    let w = world().await;
    let auth = format!("Bearer {}", w.app.admin);
    for forum in ["site-a", "site-b"] {
        w.app
            .send(
                Method::PATCH,
                &format!("/api/v1/forums/{forum}"),
                Some(&json!({ "policy": { "premoderate": true } })),
                &[("authorization", &auth)],
            )
            .await
            .expect(StatusCode::OK);
    }
    let body = json!({ "thread": { "identifier": "pm" }, "message": "hello" });
    for (who, forum, state) in [
        ("trusted in A", "site-a", "approved"),
        ("moderator of A", "site-a", "approved"),
        ("plain account", "site-a", "pending"),
        ("trusted in A", "site-b", "pending"),
        ("owner of B", "site-b", "approved"),
    ] {
        let cred = format!("Bearer {}", w.who.iter().find(|(n, _)| *n == who).unwrap().1.clone().unwrap());
        let r = w
            .app
            .send(Method::POST, &format!("/api/v1/forums/{forum}/posts"), Some(&body), &[("authorization", &cred)])
            .await
            .expect(StatusCode::CREATED);
        assert_eq!(r.json["post"]["state"], state, "{who} in {forum}");
    }
}
