//! Statement counts: the thread page runs a constant number of statements whatever the
//! thread's size and however many distinct authors it has.

use crate::common::{TestApp, id_of};
use axum::http::StatusCode;

/// Fills thread `identifier` with `roots` roots, each with `replies` replies, written by
/// `authors` distinct guests.
async fn fill(app: &TestApp, identifier: &str, roots: usize, replies: usize, authors: usize) {
    let mut n = 0;
    for r in 0..roots {
        let root = app.comment(identifier, None, &format!("root {r}"), &format!("author {}", n % authors)).await;
        n += 1;
        let root_id = id_of(&root["post"]);
        let mut parent = root_id.clone();
        for i in 0..replies {
            let reply =
                app.comment(identifier, Some(&parent), &format!("reply {i}"), &format!("author {}", n % authors)).await;
            n += 1;
            // Alternate between nesting deeper and answering the root.
            parent = if i % 2 == 0 { id_of(&reply["post"]) } else { root_id.clone() };
        }
    }
}

#[tokio::test]
async fn thread_page_statements_do_not_grow_with_the_thread() {
    let app = TestApp::uncached().await;
    app.create_forum("blog").await;
    fill(&app, "small", 1, 0, 1).await;
    fill(&app, "big", 120, 4, 97).await;
    let mut counts = Vec::new();
    for identifier in ["small", "big"] {
        for sort in ["newest", "oldest", "best", "hot"] {
            let r = app
                .get(&TestApp::page_uri(identifier, &format!("sort={sort}&limit=100&replies=5")))
                .await
                .expect(StatusCode::OK);
            counts.push((identifier, sort, r.queries()));
        }
    }
    let first = counts[0].2;
    assert!(counts.iter().all(|c| c.2 == first), "{counts:?}");
    // forum + thread + roots + replies of all roots + authors
    assert_eq!(first, 5, "{counts:?}");

    // Later pages and reply pages are constant too.
    let page = app.get(&TestApp::page_uri("big", "limit=10")).await.json;
    let thread = page["thread"]["id"].as_str().unwrap();
    let cursor = page["cursor"].as_str().unwrap();
    let next =
        app.get(&format!("/api/v1/threads/{thread}/posts?limit=100&cursor={cursor}")).await.expect(StatusCode::OK);
    assert_eq!(next.queries(), 5, "thread + forum + roots + replies + authors");
    let root = id_of(&page["posts"][0]);
    let replies = app.get(&format!("/api/v1/posts/{root}/replies?limit=100")).await.expect(StatusCode::OK);
    assert_eq!(replies.queries(), 3, "node + replies + authors");
}

#[tokio::test]
async fn a_missing_thread_costs_two_statements() {
    let app = TestApp::uncached().await;
    app.create_forum("blog").await;
    let r = app.get(&TestApp::page_uri("nothing-here", "")).await.expect(StatusCode::OK);
    assert_eq!(r.queries(), 2, "forum + thread look-up");
}

#[tokio::test]
async fn writes_are_one_transaction_of_bounded_size() {
    let app = TestApp::uncached().await;
    app.create_forum("blog").await;
    let first = app
        .post(
            "/api/v1/forums/blog/posts",
            &serde_json::json!({ "thread": { "identifier": "t" }, "message": "m", "author": { "name": "A" } }),
        )
        .await;
    // forum + bans + BEGIN + thread look-up + thread insert + author + post + thread counter
    // + the thread.created and post.created events + the screening job + COMMIT
    assert_eq!(first.queries(), 12, "{}", first.text);
    let mut parent = id_of(&first.json["post"]);
    let mut last = 0;
    for depth in 0..30 {
        let r = app
            .post(
                "/api/v1/forums/blog/posts",
                &serde_json::json!({ "thread": { "identifier": "t" }, "message": "m", "author": { "name": "A" }, "parent": parent }),
            )
            .await
            .expect(StatusCode::CREATED);
        parent = id_of(&r.json["post"]);
        if depth > 0 {
            assert_eq!(r.queries(), last, "a reply's cost does not grow with its depth");
        }
        last = r.queries();
    }
}

#[tokio::test]
async fn an_edit_reads_the_post_and_its_token_at_once() {
    let app = TestApp::uncached().await;
    app.create_forum("blog").await;
    let created = app.comment("t", None, "before", "Ann").await;
    let token = created["edit_token"].as_str().unwrap();
    let r = app
        .send(
            axum::http::Method::PATCH,
            &format!("/api/v1/posts/{}", id_of(&created["post"])),
            Some(&serde_json::json!({ "message": "after" })),
            &[("x-confab-edit-token", token)],
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        r.queries(),
        7,
        "post with token + forum (origins, read-only, word rules) + BEGIN + update + post.updated event + COMMIT + author"
    );
}

/// What identity adds to a request, in statements: a session is one indexed look-up
/// (joined with its account); an SSO payload is one read of the forum's keys.
#[tokio::test]
async fn identity_costs_a_fixed_number_of_statements() {
    use axum::http::Method;
    use serde_json::json;
    let app = TestApp::uncached().await;
    app.create_forum("blog").await;
    app.post(
        "/api/v1/auth/signup",
        &json!({ "username": "ann", "email": "ann@example.com", "password": "a long password" }),
    )
    .await
    .expect(StatusCode::ACCEPTED);
    let mail = app.mailer.to("ann@example.com").pop().unwrap().text;
    let token = mail[mail.find("token=").unwrap() + 6..].split_whitespace().next().unwrap().to_owned();
    app.post("/api/v1/auth/verify", &json!({ "token": token })).await.expect(StatusCode::OK);
    let login = app.post("/api/v1/auth/login", &json!({ "login": "ann", "password": "a long password" })).await;
    // account look-up + BEGIN + expired-session sweep + insert + COMMIT
    assert_eq!(login.queries(), 5, "{}", login.text);
    let auth = format!("Bearer {}", login.json["token"].as_str().unwrap());

    let me = app.send(Method::GET, "/api/v1/me", None, &[("authorization", &auth)]).await.expect(StatusCode::OK);
    assert_eq!(me.queries(), 1, "the session and its account in one statement");

    let body = json!({ "thread": { "identifier": "t" }, "message": "m" });
    let as_ann = app
        .send(Method::POST, "/api/v1/forums/blog/posts", Some(&body), &[("authorization", &auth)])
        .await
        .expect(StatusCode::CREATED);
    // session + forum + bans + BEGIN + thread look-up + thread insert + author read + post
    // + counter + two events + the screening job + COMMIT
    assert_eq!(as_ann.queries(), 13, "{}", as_ann.text);

    let keys = app
        .send(Method::GET, "/api/v1/forums/blog/keys", None, &[("authorization", &format!("Bearer {}", app.admin))])
        .await;
    let secret = keys.json["secret_key"].as_str().unwrap().to_owned();
    let user = json!({ "id": "7", "username": "Sy" }).to_string();
    let sso = confab_core::sso::sign_disqus(&user, secret.as_bytes(), crate::common::START / 1000);
    let as_sso = app
        .send(Method::POST, "/api/v1/forums/blog/posts", Some(&body), &[("x-confab-sso", &sso)])
        .await
        .expect(StatusCode::CREATED);
    // forum + keys + bans + BEGIN + thread look-up + author upsert + post + counter + event
    // + the screening job + COMMIT
    assert_eq!(as_sso.queries(), 11, "{}", as_sso.text);

    let vote = format!("/api/v1/posts/{}/vote", id_of(&as_sso.json["post"]));
    let r = app.send(Method::POST, &vote, Some(&json!({ "value": 1 })), &[("authorization", &auth)]).await;
    // session + post + forum (policy, origins) + bans, then the vote's own transaction:
    // BEGIN + post state + previous vote + upsert + counters + COMMIT. PostgreSQL reads
    // the previous vote and upserts in one statement (a data-modifying CTE).
    let vote_statements = if confab_store_pg::testing::selected() { 9 } else { 10 };
    assert_eq!(r.expect(StatusCode::OK).queries(), vote_statements);
}
