//! The README's walkthrough as a test: a forum, a thread created by its first post,
//! replies, every sort, votes, edits within the window, deletion, counts, closing.

use std::time::Duration;

use crate::common::{TestApp, id_of};
use axum::http::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn forums_are_created_by_the_admin_and_readable_by_all() {
    let app = TestApp::new().await;
    let body = json!({ "shortname": "my-blog", "name": "My blog", "origins": ["https://Blog.Example"], "policy": { "premoderate": true } });
    app.post("/api/v1/forums", &body).await.expect_error(StatusCode::UNAUTHORIZED, "unauthorized");
    let wrong = [("authorization", "Bearer not-the-admin-token-at-all")];
    app.send(Method::POST, "/api/v1/forums", Some(&body), &wrong)
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "unauthorized");
    let created = app.admin_post("/api/v1/forums", Some(&body)).await.expect(StatusCode::CREATED).json;
    assert_eq!(created["origins"], json!(["https://blog.example"]));
    assert_eq!(
        created["policy"],
        json!({ "allow_guests": true, "require_guest_email": false, "premoderate": true, "voting": "anyone", "sso_max_age_secs": 7200, "on_account_delete": "anonymize", "spam_filter": "after", "akismet": false,
                "premoderate_guests": false, "premoderate_first_posts": false, "premoderate_links": false, "restricted_words": [], "restricted_names": [],
                "restricted_action": "hold", "flag_threshold": 3, "auto_close_days": 0, "read_only": false })
    );
    let mut got = app.get("/api/v1/forums/my-blog").await.expect(StatusCode::OK).json;
    // The public does not see the restricted lists; the rest is the same.
    let policy = got["policy"].as_object_mut().unwrap();
    assert!(policy.remove("restricted_words").is_none() && policy.remove("restricted_names").is_none());
    let mut expected = created.clone();
    expected["policy"]
        .as_object_mut()
        .unwrap()
        .retain(|k, _| !k.starts_with("restricted_") || k == "restricted_action");
    assert_eq!(got, expected);
    let admin = format!("Bearer {}", app.admin);
    let full = app.send(Method::GET, "/api/v1/forums/my-blog", None, &[("authorization", &admin)]).await;
    assert_eq!(full.json, created, "moderators see the whole policy");
    app.admin_post("/api/v1/forums", Some(&body)).await.expect_error(StatusCode::CONFLICT, "forum_exists");
    app.get("/api/v1/forums/nope").await.expect_error(StatusCode::NOT_FOUND, "forum_not_found");
    let auth = format!("Bearer {}", app.admin);
    let list =
        app.send(Method::GET, "/api/v1/forums", None, &[("authorization", &auth)]).await.expect(StatusCode::OK).json;
    assert_eq!(list["forums"].as_array().unwrap().len(), 1);
    app.get("/api/v1/forums").await.expect_error(StatusCode::UNAUTHORIZED, "unauthorized");
}

#[tokio::test]
async fn a_thread_is_created_by_its_first_post_and_never_by_a_read() {
    let app = TestApp::with_forum().await;
    let page = app.get(&TestApp::page_uri("post-1", "")).await.expect(StatusCode::OK).json;
    assert_eq!(page["thread"], json!(null));
    assert_eq!(page["posts"], json!([]));
    app.get("/api/v1/forums/blog/threads?identifier=post-1")
        .await
        .expect_error(StatusCode::NOT_FOUND, "thread_not_found");

    let created = app.comment("post-1", None, "First!", "Ann").await;
    assert_eq!(created["thread"]["identifier"], "post-1");
    assert_eq!(created["thread"]["posts"], 1);
    assert_eq!(created["thread"]["title"], "A post");
    let thread = app.get("/api/v1/forums/blog/threads?identifier=post-1").await.expect(StatusCode::OK).json;
    assert_eq!(thread["id"], created["thread"]["id"]);
    let by_url =
        app.get("/api/v1/forums/blog/threads?url=https%3A%2F%2Fblog.example%2Fpost").await.expect(StatusCode::OK).json;
    assert_eq!(by_url["id"], created["thread"]["id"]);
    let by_id = app.get(&format!("/api/v1/threads/{}", id_of(&thread))).await.expect(StatusCode::OK).json;
    assert_eq!(by_id, thread);
}

#[tokio::test]
async fn threads_can_be_created_explicitly_closed_and_reopened() {
    let app = TestApp::with_forum().await;
    let spec = json!({ "identifier": "launch", "url": "https://blog.example/launch", "title": "Launch day" });
    app.post("/api/v1/forums/blog/threads", &spec).await.expect_error(StatusCode::UNAUTHORIZED, "unauthorized");
    let thread = app.admin_post("/api/v1/forums/blog/threads", Some(&spec)).await.expect(StatusCode::CREATED).json;
    assert_eq!((thread["title"].as_str(), thread["posts"].as_i64()), (Some("Launch day"), Some(0)));
    app.admin_post("/api/v1/forums/blog/threads", Some(&spec))
        .await
        .expect_error(StatusCode::CONFLICT, "thread_exists");
    let no_title = json!({ "url": "https://blog.example/x" });
    let r = app
        .admin_post("/api/v1/forums/blog/threads", Some(&no_title))
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    assert_eq!(r.json["error"]["field"], "thread.title");

    let id = id_of(&thread);
    let closed = app.admin_post(&format!("/api/v1/threads/{id}/close"), None).await.expect(StatusCode::OK).json;
    assert_eq!(closed["closed"], true);
    let post = json!({ "thread": { "identifier": "launch" }, "message": "hi", "author": { "name": "Ann" } });
    app.post("/api/v1/forums/blog/posts", &post).await.expect_error(StatusCode::FORBIDDEN, "thread_closed");
    app.post(&format!("/api/v1/threads/{id}/open"), &json!({}))
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "unauthorized");
    app.admin_post(&format!("/api/v1/threads/{id}/open"), None).await.expect(StatusCode::OK);
    app.post("/api/v1/forums/blog/posts", &post).await.expect(StatusCode::CREATED);
    app.admin_post("/api/v1/threads/123/close", None).await.expect_error(StatusCode::NOT_FOUND, "thread_not_found");
}

#[tokio::test]
async fn replies_nest_and_every_sort_lists_them() {
    let app = TestApp::with_forum().await;
    let a = app.comment("t", None, "A", "Ann").await;
    app.advance(Duration::from_secs(60));
    let b = app.comment("t", None, "B", "Bob").await;
    let a_id = id_of(&a["post"]);
    let b_id = id_of(&b["post"]);
    let a1 = app.comment("t", Some(&a_id), "A1", "Bob").await;
    let a1_id = id_of(&a1["post"]);
    let a1x = app.comment("t", Some(&a1_id), "A1x", "Cy").await;
    assert_eq!(a1x["post"]["depth"], 2);
    assert_eq!(a1x["post"]["parent"], a1_id.as_str());
    // B gets two up-votes: best and hot put it first; A is older.
    for _ in 0..2 {
        app.post(&format!("/api/v1/posts/{b_id}/vote"), &json!({ "value": 1 })).await.expect(StatusCode::OK);
    }
    let roots = |sort: &'static str| {
        let app = &app;
        async move {
            let page = app.get(&TestApp::page_uri("t", &format!("sort={sort}"))).await.expect(StatusCode::OK).json;
            assert_eq!(page["sort"], sort);
            page["posts"].as_array().unwrap().iter().map(id_of).collect::<Vec<_>>()
        }
    };
    assert_eq!(roots("newest").await, [b_id.clone(), a_id.clone()]);
    assert_eq!(roots("oldest").await, [a_id.clone(), b_id.clone()]);
    assert_eq!(roots("best").await, [b_id.clone(), a_id.clone()]);
    assert_eq!(roots("hot").await, [b_id.clone(), a_id.clone()]);

    let page = app.get(&TestApp::page_uri("t", "sort=oldest")).await.json;
    let first = &page["posts"][0];
    let replies: Vec<String> = first["replies"].as_array().unwrap().iter().map(id_of).collect();
    assert_eq!(replies, [a1_id.clone(), id_of(&a1x["post"])]);
    assert_eq!(first["descendants"], 2);
    assert_eq!(first["replies_cursor"], json!(null));
    assert_eq!(first["author"]["name"], "Ann");
    assert_eq!(page["thread"]["posts"], 4);
}

#[tokio::test]
async fn pages_and_reply_cursors_walk_the_whole_thread() {
    let app = TestApp::with_forum().await;
    let mut roots = Vec::new();
    for i in 0..5 {
        roots.push(id_of(&app.comment("t", None, &format!("root {i}"), "Ann").await["post"]));
        app.advance(Duration::from_secs(1));
    }
    let mut replies = Vec::new();
    for i in 0..4 {
        replies.push(id_of(&app.comment("t", Some(&roots[0]), &format!("reply {i}"), "Bob").await["post"]));
    }
    let page = app.get(&TestApp::page_uri("t", "sort=oldest&limit=2&replies=1")).await.expect(StatusCode::OK).json;
    let ids: Vec<String> = page["posts"].as_array().unwrap().iter().map(id_of).collect();
    assert_eq!(ids, roots[..2]);
    let first = &page["posts"][0];
    assert_eq!(first["replies"].as_array().unwrap().len(), 1);
    let replies_cursor = first["replies_cursor"].as_str().expect("more replies");
    let more = app
        .get(&format!("/api/v1/posts/{}/replies?limit=2&cursor={replies_cursor}", roots[0]))
        .await
        .expect(StatusCode::OK)
        .json;
    let more_ids: Vec<String> = more["posts"].as_array().unwrap().iter().map(id_of).collect();
    assert_eq!(more_ids, replies[1..3]);
    let last =
        app.get(&format!("/api/v1/posts/{}/replies?cursor={}", roots[0], more["cursor"].as_str().unwrap())).await.json;
    assert_eq!(last["posts"].as_array().unwrap().len(), 1);
    assert_eq!(last["cursor"], json!(null));

    let thread = page["thread"]["id"].as_str().unwrap();
    let mut cursor = page["cursor"].as_str().unwrap().to_owned();
    let mut all = ids;
    loop {
        let next = app
            .get(&format!("/api/v1/threads/{thread}/posts?sort=oldest&limit=2&cursor={cursor}"))
            .await
            .expect(StatusCode::OK)
            .json;
        all.extend(next["posts"].as_array().unwrap().iter().map(id_of));
        match next["cursor"].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => break,
        }
    }
    assert_eq!(all, roots);
    // A cursor of one sort is refused by another.
    app.get(&format!("/api/v1/threads/{thread}/posts?sort=newest&cursor={}", page["cursor"].as_str().unwrap()))
        .await
        .expect_error(StatusCode::BAD_REQUEST, "invalid_cursor");
}

#[tokio::test]
async fn votes_count_once_per_voter_and_change_by_difference() {
    let app = TestApp::with_forum().await;
    let p = id_of(&app.comment("t", None, "vote on me", "Ann").await["post"]);
    let uri = format!("/api/v1/posts/{p}/vote");
    let first = app.post(&uri, &json!({ "value": 1 })).await.expect(StatusCode::OK);
    assert_eq!(first.headers["cache-control"], "no-store");
    let first = first.json;
    let voter = first["voter_token"].as_str().expect("a voter token is minted").to_owned();
    assert_eq!(first["post"]["likes"], 1);
    let h = [("x-confab-voter", voter.as_str())];
    let again = app.send(Method::POST, &uri, Some(&json!({ "value": 1 })), &h).await.expect(StatusCode::OK).json;
    assert_eq!((again["post"]["likes"].as_i64(), again["voter_token"].is_null()), (Some(1), true));
    let down = app.send(Method::POST, &uri, Some(&json!({ "value": -1 })), &h).await.json;
    assert_eq!(
        (down["post"]["likes"].as_i64(), down["post"]["dislikes"].as_i64(), down["post"]["points"].as_i64()),
        (Some(0), Some(1), Some(-1))
    );
    assert_eq!(down["previous"], 1);
    let clear = app.send(Method::POST, &uri, Some(&json!({ "value": 0 })), &h).await.json;
    assert_eq!((clear["post"]["likes"].as_i64(), clear["post"]["dislikes"].as_i64()), (Some(0), Some(0)));
    let other = app
        .send(Method::POST, &uri, Some(&json!({ "value": 1 })), &[("x-confab-voter", "another-voter-token-123")])
        .await
        .json;
    assert_eq!(other["post"]["likes"], 1);
    app.send(Method::POST, &uri, Some(&json!({ "value": 1 })), &[("x-confab-voter", "short")])
        .await
        .expect_error(StatusCode::BAD_REQUEST, "invalid_query");
}

#[tokio::test]
async fn authors_edit_and_delete_within_the_window_only() {
    let app = TestApp::with_forum().await;
    let created = app.comment("t", None, "Frist", "Ann").await;
    let raw = app
        .post(
            "/api/v1/forums/blog/posts",
            &json!({ "thread": { "identifier": "other" }, "message": "m", "author": { "name": "A" } }),
        )
        .await;
    assert_eq!(raw.headers["cache-control"], "no-store", "responses carrying an edit token are never cached");
    let id = id_of(&created["post"]);
    let token = created["edit_token"].as_str().unwrap().to_owned();
    assert!(created["edit_expires_at"].as_str().unwrap().ends_with('Z'));
    let uri = format!("/api/v1/posts/{id}");
    let edit = json!({ "message": "First, *edited*" });

    app.send(Method::PATCH, &uri, Some(&edit), &[]).await.expect_error(StatusCode::FORBIDDEN, "invalid_edit_token");
    let forged = [("x-confab-edit-token", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")];
    app.send(Method::PATCH, &uri, Some(&edit), &forged).await.expect_error(StatusCode::FORBIDDEN, "invalid_edit_token");
    let h = [("x-confab-edit-token", token.as_str())];
    app.advance(Duration::from_secs(14 * 60));
    let edited = app.send(Method::PATCH, &uri, Some(&edit), &h).await.expect(StatusCode::OK).json;
    assert_eq!(edited["message"], "<p>First, <em>edited</em></p>\n");
    assert_eq!(edited["raw_message"], "First, *edited*");
    assert!(edited["edited_at"].is_string());
    assert_eq!(app.get(&uri).await.json, edited);

    app.advance(Duration::from_secs(2 * 60));
    app.send(Method::PATCH, &uri, Some(&edit), &h).await.expect_error(StatusCode::FORBIDDEN, "edit_window_closed");
    app.send(Method::DELETE, &uri, None, &h).await.expect_error(StatusCode::FORBIDDEN, "edit_window_closed");

    let second = app.comment("t", None, "oops", "Ann").await;
    let reply = app.comment("t", Some(&id_of(&second["post"])), "reply", "Bob").await;
    let h2 = [("x-confab-edit-token", second["edit_token"].as_str().unwrap())];
    let deleted = app
        .send(Method::DELETE, &format!("/api/v1/posts/{}", id_of(&second["post"])), None, &h2)
        .await
        .expect(StatusCode::OK)
        .json;
    assert_eq!(deleted["post"]["state"], "deleted");
    assert_eq!(deleted["post"]["message"], json!(null));
    assert_eq!(deleted["thread"]["posts"], 2);
    let page = app.get(&TestApp::page_uri("t", "sort=newest")).await.json;
    let placeholder = &page["posts"][0];
    assert_eq!((placeholder["state"].as_str(), placeholder["author"].is_null()), (Some("deleted"), true));
    assert_eq!(placeholder["replies"][0]["id"], reply["post"]["id"]);
    app.send(Method::PATCH, &format!("/api/v1/posts/{}", id_of(&second["post"])), Some(&edit), &h2)
        .await
        .expect_error(StatusCode::NOT_FOUND, "post_not_found");
}

#[tokio::test]
async fn counts_answer_for_many_threads_at_once() {
    let app = TestApp::with_forum().await;
    for _ in 0..3 {
        app.comment("a", None, "x", "Ann").await;
    }
    app.comment("b c", None, "x", "Ann").await;
    let r = app.get("/api/v1/forums/blog/counts?identifier=a&identifier=b%20c&identifier=none&url=https%3A%2F%2Fblog.example%2Fpost").await;
    let counts = r.expect(StatusCode::OK).json;
    assert_eq!(
        counts,
        json!({ "counts": [
            { "identifier": "a", "posts": 3 },
            { "identifier": "b c", "posts": 1 },
            { "identifier": "none", "posts": 0 },
            { "url": "https://blog.example/post", "posts": 3 },
        ]})
    );
    let too_many: String = (0..101).map(|i| format!("identifier={i}&")).collect();
    app.get(&format!("/api/v1/forums/blog/counts?{too_many}"))
        .await
        .expect_error(StatusCode::BAD_REQUEST, "invalid_query");
    app.get("/api/v1/forums/blog/counts").await.expect_error(StatusCode::BAD_REQUEST, "invalid_query");
}

#[tokio::test]
async fn forum_policy_governs_guests_and_premoderation() {
    let app = TestApp::new().await;
    let auth = format!("Bearer {}", app.admin);
    for (name, policy) in [
        ("closed", json!({ "allow_guests": false })),
        ("emails", json!({ "require_guest_email": true })),
        ("held", json!({ "premoderate": true })),
    ] {
        app.send(
            Method::POST,
            "/api/v1/forums",
            Some(&json!({ "shortname": name, "policy": policy })),
            &[("authorization", &auth)],
        )
        .await
        .expect(StatusCode::CREATED);
    }
    let post =
        |author: serde_json::Value| json!({ "thread": { "identifier": "t" }, "message": "hi", "author": author });
    app.post("/api/v1/forums/closed/posts", &post(json!({ "name": "Ann" })))
        .await
        .expect_error(StatusCode::FORBIDDEN, "guests_not_allowed");
    let r = app
        .post("/api/v1/forums/emails/posts", &post(json!({ "name": "Ann" })))
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    assert_eq!(r.json["error"]["field"], "author.email");
    let ok = app
        .post("/api/v1/forums/emails/posts", &post(json!({ "name": "Ann", "email": "Ann@Example.com" })))
        .await
        .expect(StatusCode::CREATED);
    let hash = ok.json["post"]["author"]["avatar_hash"].as_str().unwrap();
    assert_eq!(hash, confab_core::secret::sha256_hex(b"ann@example.com"));
    assert!(
        !ok.text.contains("ann@example.com") && !ok.text.contains("Ann@Example.com"),
        "emails never leave the server"
    );

    let held =
        app.post("/api/v1/forums/held/posts", &post(json!({ "name": "Ann" }))).await.expect(StatusCode::CREATED).json;
    assert_eq!(held["post"]["state"], "pending");
    let page = app.get("/api/v1/forums/held/thread-page?identifier=t").await.json;
    assert_eq!((page["posts"].as_array().unwrap().len(), page["thread"]["posts"].as_i64()), (0, Some(0)));
    app.get(&format!("/api/v1/posts/{}", id_of(&held["post"])))
        .await
        .expect_error(StatusCode::NOT_FOUND, "post_not_found");
}

#[tokio::test]
async fn health_landing_and_unknown_routes() {
    let app = TestApp::new().await;
    assert_eq!(app.get("/healthz").await.expect(StatusCode::OK).json, json!({ "status": "ok" }));
    assert!(app.get("/").await.expect(StatusCode::OK).text.contains("Confab"));
    app.get("/api/v1/nothing").await.expect_error(StatusCode::NOT_FOUND, "route_not_found");
    app.send(Method::PUT, "/api/v1/forums", None, &[])
        .await
        .expect_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
}

/// A vote from a guest at `ip`, with a fresh voter token each time, as a script would.
async fn guest_vote(app: &TestApp, post: &str, ip: [u8; 4]) -> serde_json::Value {
    let req = axum::http::Request::builder()
        .method(Method::POST)
        .uri(format!("/api/v1/posts/{post}/vote"))
        .header("content-type", "application/json")
        .header("x-confab-voter", confab_core::secret::Token::generate().expose())
        .extension(axum::extract::ConnectInfo(std::net::SocketAddr::from((ip, 4000))))
        .body(axum::body::Body::from(json!({ "value": 1 }).to_string()))
        .unwrap();
    app.raw(req).await.expect(StatusCode::OK).json
}

#[tokio::test]
async fn guests_vote_once_per_post_per_network_whatever_tokens_they_send() {
    let app = TestApp::with_forum().await;
    let p = id_of(&app.comment("t", None, "vote on me", "Ann").await["post"]);
    // Thirty fresh voter tokens from one network (and its neighbours in the /24) count once.
    for i in 0..30u8 {
        let r = guest_vote(&app, &p, [198, 51, 100, 1 + i]).await;
        assert_eq!(r["post"]["likes"], 1, "vote {i} from the same network counted: {r}");
    }
    // Another network is another guest.
    assert_eq!(guest_vote(&app, &p, [203, 0, 113, 9]).await["post"]["likes"], 2);
    // An account votes as itself, wherever it is.
    let member = app.member("mia", "blog", "member").await;
    let req = axum::http::Request::builder()
        .method(Method::POST)
        .uri(format!("/api/v1/posts/{p}/vote"))
        .header("content-type", "application/json")
        .header("authorization", &member)
        .extension(axum::extract::ConnectInfo(std::net::SocketAddr::from(([198, 51, 100, 7], 4000))))
        .body(axum::body::Body::from(json!({ "value": 1 }).to_string()))
        .unwrap();
    assert_eq!(app.raw(req).await.expect(StatusCode::OK).json["post"]["likes"], 3);
}

/// An owner deletes their forum: confirmed by its name, refused to anyone else; gone
/// from every read at once (cached pages and counts too); its data purged by the job,
/// whose last step waits out the grace for other processes; then the name is free.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_deletes_a_forum_with_all_its_comments() {
    let app = TestApp::with_forum().await;
    app.create_forum("other").await;
    let owner = app.member("olive", "blog", "owner").await;
    let moderator = app.member("mo", "blog", "moderator").await;
    let guest = json!({ "thread": { "identifier": "t" }, "message": "soon gone", "author": { "name": "Ann" } });
    let first = app.post("/api/v1/forums/blog/posts", &guest).await.expect(StatusCode::CREATED).json;
    app.post("/api/v1/forums/other/posts", &guest).await.expect(StatusCode::CREATED);
    app.run_jobs().await;
    // Cached reads, as readers make them.
    let page = TestApp::page_uri("t", "");
    assert_eq!(app.get(&page).await.expect(StatusCode::OK).json["posts"].as_array().unwrap().len(), 1);
    app.get("/api/v1/forums/blog/counts?identifier=t").await.expect(StatusCode::OK);

    let delete = |who: &str, confirm: serde_json::Value| {
        let (app, who) = (&app, who.to_owned());
        async move {
            let body = json!({ "confirm": confirm });
            app.send(Method::DELETE, "/api/v1/forums/blog", Some(&body), &[("authorization", &who)]).await
        }
    };
    delete("", json!("blog")).await.expect_error(StatusCode::UNAUTHORIZED, "unauthorized");
    delete(&moderator, json!("blog")).await.expect_error(StatusCode::FORBIDDEN, "forbidden");
    let wrong = delete(&owner, json!("blog2")).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    assert_eq!(
        (wrong.json["error"]["field"].as_str(), wrong.json["error"]["reason"].as_str()),
        (Some("confirm"), Some("confirmation_mismatch"))
    );
    app.send(Method::DELETE, "/api/v1/forums/blog", None, &[("authorization", &owner)])
        .await
        .expect(StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(app.get(&page).await.status, StatusCode::OK, "nothing happened yet");

    let accepted = delete(&owner, json!(" blog ")).await.expect(StatusCode::ACCEPTED);
    let job = accepted.json["job"].as_str().unwrap().to_owned();
    assert_eq!(accepted.headers["location"], format!("/api/v1/jobs/{job}"));
    // Gone at once, for everyone, whatever was cached.
    app.get(&page).await.expect_error(StatusCode::NOT_FOUND, "forum_not_found");
    app.get("/api/v1/forums/blog/counts?identifier=t").await.expect_error(StatusCode::NOT_FOUND, "forum_not_found");
    app.get("/api/v1/forums/blog").await.expect_error(StatusCode::NOT_FOUND, "forum_not_found");
    app.post("/api/v1/forums/blog/posts", &guest).await.expect_error(StatusCode::NOT_FOUND, "forum_not_found");
    delete(&owner, json!("blog")).await.expect_error(StatusCode::NOT_FOUND, "forum_not_found");
    let admin = format!("Bearer {}", app.admin);
    let listed = app.send(Method::GET, "/api/v1/forums", None, &[("authorization", &admin)]).await.json;
    assert_eq!(listed["forums"].as_array().unwrap().len(), 1, "{listed}");

    // The job takes the threads now, and the forum's own rows after the grace.
    app.run_jobs().await;
    let post_id: confab_core::id::Id = id_of(&first["post"]).parse().unwrap();
    assert!(matches!(app.store.post_get(post_id).await, Err(confab_store::StoreError::PostNotFound)));
    app.admin_post("/api/v1/forums", Some(&json!({ "shortname": "blog" })))
        .await
        .expect_error(StatusCode::CONFLICT, "forum_exists");
    let waiting = app.send(Method::GET, &format!("/api/v1/jobs/{job}"), None, &[("authorization", &admin)]).await;
    assert_eq!(waiting.json["task"]["type"], "forum_purge");
    app.advance(Duration::from_secs(60));
    app.run_jobs().await;
    app.create_forum("blog").await;
    assert_eq!(app.get(&page).await.expect(StatusCode::OK).json["posts"].as_array().unwrap().len(), 0);
    let other = app.get("/api/v1/forums/other/thread-page?identifier=t").await.json;
    assert_eq!(other["posts"].as_array().unwrap().len(), 1, "another forum keeps its comments");
}
