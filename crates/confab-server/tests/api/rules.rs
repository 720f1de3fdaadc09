//! Forum rules and the moderation tools beyond states: restricted words and names
//! (hold or refuse), pre-moderating guests, links and first posts, trusted members,
//! shadow bans, readers' flags, highlighted and pinned posts, auto-close and the
//! read-only switch, the search and the stats. Each shows at once in public pages and
//! counts, and each is refused to moderators of another forum.

use std::time::Duration;

use crate::common::{TestApp, id_of};
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

async fn set_policy(app: &TestApp, forum: &str, policy: Value) -> crate::common::Resp {
    let admin = format!("Bearer {}", app.admin);
    app.send(
        Method::PATCH,
        &format!("/api/v1/forums/{forum}"),
        Some(&json!({ "policy": policy })),
        &[("authorization", &admin)],
    )
    .await
}

/// A guest post from `ip` in thread `t`.
async fn guest_post(app: &TestApp, name: &str, message: &str, ip: [u8; 4]) -> crate::common::Resp {
    let body = json!({ "thread": { "identifier": "t" }, "message": message, "author": { "name": name } });
    app.post_from("/api/v1/forums/blog/posts", &body, ip).await
}

async fn account_post(app: &TestApp, who: &str, message: &str) -> crate::common::Resp {
    let body = json!({ "thread": { "identifier": "t" }, "message": message });
    app.send(Method::POST, "/api/v1/forums/blog/posts", Some(&body), &[("authorization", who)]).await
}

/// The ids of the posts the public sees in thread `t`, and its count.
async fn public(app: &TestApp) -> (Vec<String>, i64) {
    let page = app.get(&TestApp::page_uri("t", "sort=oldest")).await.expect(StatusCode::OK).json;
    let ids = page["posts"].as_array().map(|a| a.iter().map(id_of).collect()).unwrap_or_default();
    let count = app.get("/api/v1/forums/blog/counts?identifier=t").await.json["counts"][0]["posts"].as_i64().unwrap();
    (ids, count)
}

async fn history(app: &TestApp, mod_auth: &str, post: &str) -> Value {
    app.send(Method::GET, &format!("/api/v1/posts/{post}/moderation"), None, &[("authorization", mod_auth)])
        .await
        .expect(StatusCode::OK)
        .json
}

async fn moderate(app: &TestApp, who: &str, post: &str, action: &str) -> crate::common::Resp {
    app.send(
        Method::POST,
        &format!("/api/v1/posts/{post}/moderation"),
        Some(&json!({ "action": action })),
        &[("authorization", who)],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restricted_words_and_names_hold_or_refuse_and_trusted_members_pass() {
    let app = TestApp::with_forum().await;
    let mona = app.member("mona", "blog", "moderator").await;
    let tess = app.member("tess", "blog", "trusted").await;
    set_policy(&app, "blog", json!({ "restricted_words": ["casino*", "buy * now"], "restricted_names": ["*admin*"] }))
        .await
        .expect(StatusCode::OK);

    // Held: the post waits, the log says which rule.
    let held = guest_post(&app, "Sam", "Best CASINOS in town", [198, 51, 100, 1]).await.expect(StatusCode::CREATED);
    assert_eq!(held.json["post"]["state"], "pending");
    let id = id_of(&held.json["post"]);
    let log = history(&app, &mona, &id).await;
    assert_eq!(log["log"][0]["by"]["kind"], "rules");
    assert_eq!(log["log"][0]["reason"], "restricted word: casino*");
    let name = guest_post(&app, "SiteAdministrator", "hello", [198, 51, 100, 1]).await.expect(StatusCode::CREATED);
    assert_eq!(name.json["post"]["state"], "pending");
    // Clean text and a trusted member's restricted word go straight through.
    guest_post(&app, "Ann", "I bought it, now what?", [198, 51, 100, 1]).await.expect(StatusCode::CREATED);
    let t = account_post(&app, &tess, "casino night was fun").await.expect(StatusCode::CREATED);
    assert_eq!(t.json["post"]["state"], "approved");
    assert_eq!(public(&app).await.1, 2, "held posts count nowhere");

    // Refused: a clear error that names the rule, and nothing written.
    set_policy(&app, "blog", json!({ "restricted_action": "reject" })).await.expect(StatusCode::OK);
    let r = guest_post(&app, "Sam", "buy pills now", [198, 51, 100, 1]).await;
    let r = r.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    assert_eq!(r.json["error"]["reason"], "restricted_word");
    assert!(r.json["error"]["message"].as_str().unwrap().contains("buy * now"));
    let r = guest_post(&app, "admin", "hi", [198, 51, 100, 1]).await;
    assert_eq!(r.json["error"]["reason"], "restricted_name");
    assert_eq!(public(&app).await.1, 2);

    // An edit cannot bring a restricted word in either.
    let ann_bearer = app.member("ann", "blog", "member").await;
    let ann = account_post(&app, &ann_bearer, "innocent").await;
    let ann_post = id_of(&ann.expect(StatusCode::CREATED).json["post"]);
    let edit = json!({ "message": "now visit casino42" });
    let r = app
        .send(Method::PATCH, &format!("/api/v1/posts/{ann_post}"), Some(&edit), &[("authorization", &ann_bearer)])
        .await;
    assert_eq!(r.expect(StatusCode::UNPROCESSABLE_ENTITY).json["error"]["reason"], "restricted_word");

    // Bad lists are refused with the field named.
    let r = set_policy(&app, "blog", json!({ "restricted_words": ["**"] })).await;
    r.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    let r = set_policy(&app, "blog", json!({ "flag_threshold": 5000 })).await;
    assert_eq!(r.json["error"]["field"], "policy.flag_threshold");
    // Lists are stored normalised.
    let f = set_policy(&app, "blog", json!({ "restricted_words": ["  Foo   BAR "] })).await.expect(StatusCode::OK);
    assert_eq!(f.json["policy"]["restricted_words"], json!(["foo bar"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guests_links_and_first_posts_wait_for_a_moderator() {
    let app = TestApp::with_forum().await;
    let mona = app.member("mona", "blog", "moderator").await;
    let bob = app.member("bob", "blog", "member").await;

    set_policy(&app, "blog", json!({ "premoderate_guests": true })).await.expect(StatusCode::OK);
    let g = guest_post(&app, "Guest", "hello", [198, 51, 100, 1]).await.expect(StatusCode::CREATED);
    assert_eq!(g.json["post"]["state"], "pending");
    assert_eq!(account_post(&app, &bob, "hi").await.expect(StatusCode::CREATED).json["post"]["state"], "approved");

    set_policy(&app, "blog", json!({ "premoderate_guests": false, "premoderate_links": true }))
        .await
        .expect(StatusCode::OK);
    let l = account_post(&app, &bob, "see cheap-stuff.example/deal").await.expect(StatusCode::CREATED);
    assert_eq!(l.json["post"]["state"], "pending");
    assert_eq!(history(&app, &mona, &id_of(&l.json["post"])).await["log"][0]["reason"], "the post has a link");

    // First posts: Carl's first waits (and the filter, finding it clean, leaves it
    // waiting); once a moderator approves it, his next goes straight through. Bob,
    // who has an approved post already, is not held.
    set_policy(&app, "blog", json!({ "premoderate_links": false, "premoderate_first_posts": true }))
        .await
        .expect(StatusCode::OK);
    let carl = app.member("carl", "blog", "member").await;
    let first = account_post(&app, &carl, "my first comment").await.expect(StatusCode::CREATED);
    assert_eq!(first.json["post"]["state"], "pending");
    app.run_jobs().await;
    let first_id = id_of(&first.json["post"]);
    assert_eq!(history(&app, &mona, &first_id).await["post"]["state"], "pending", "the filter did not publish it");
    let second = account_post(&app, &carl, "another before approval").await.expect(StatusCode::CREATED);
    assert_eq!(second.json["post"]["state"], "pending");
    moderate(&app, &mona, &first_id, "approve").await.expect(StatusCode::OK);
    let third = account_post(&app, &carl, "now I am known").await.expect(StatusCode::CREATED);
    assert_eq!(third.json["post"]["state"], "approved");
    assert_eq!(account_post(&app, &bob, "again").await.json["post"]["state"], "approved");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shadow_ban_hides_posts_from_everyone_but_their_author() {
    let app = TestApp::with_forum().await;
    let mona = app.member("mona", "blog", "moderator").await;
    let troll = app.member("troll", "blog", "member").await;
    let reader = app.member("reader", "blog", "member").await;
    let visible = account_post(&app, &reader, "a normal comment").await.expect(StatusCode::CREATED);
    let visible_id = id_of(&visible.json["post"]);
    app.ban(&mona, "blog", json!({ "kind": "account", "value": "troll", "shadow": true }))
        .await
        .expect(StatusCode::CREATED);

    // The troll is told nothing: the post looks approved to them.
    let p = account_post(&app, &troll, "you are all wrong").await.expect(StatusCode::CREATED);
    assert_eq!(p.json["post"]["state"], "approved");
    let shadow_id = id_of(&p.json["post"]);
    let thread = p.json["thread"]["id"].as_str().unwrap().to_owned();
    app.run_jobs().await;

    // Everyone else: not on the page, not in the count, not by id.
    let (ids, count) = public(&app).await;
    assert_eq!((ids, count), (vec![visible_id.clone()], 1));
    app.get(&format!("/api/v1/posts/{shadow_id}")).await.expect_error(StatusCode::NOT_FOUND, "post_not_found");
    let mine = format!("/api/v1/threads/{thread}/mine");
    let others = app.send(Method::GET, &mine, None, &[("authorization", &reader)]).await.expect(StatusCode::OK);
    assert_eq!(others.json["posts"], json!([]));
    assert_eq!(others.headers["cache-control"], "no-store");
    // The author: their own call brings it back, looking approved.
    let own = app.send(Method::GET, &mine, None, &[("authorization", &troll)]).await.expect(StatusCode::OK);
    assert_eq!(own.json["posts"].as_array().unwrap().len(), 1);
    assert_eq!(own.json["posts"][0]["id"], shadow_id.as_str());
    assert_eq!(own.json["posts"][0]["state"], "approved");
    // They can answer it, as in any thread; the answer is hidden the same way.
    let reply = json!({ "thread": { "identifier": "t" }, "message": "and another thing", "parent": shadow_id });
    let r = app.send(Method::POST, "/api/v1/forums/blog/posts", Some(&reply), &[("authorization", &troll)]).await;
    let r = r.expect(StatusCode::CREATED);
    assert_eq!(r.json["post"]["state"], "approved");
    let reply_id = id_of(&r.json["post"]);
    let own = app.send(Method::GET, &mine, None, &[("authorization", &troll)]).await.json;
    assert_eq!(own["posts"].as_array().unwrap().len(), 2);
    assert_eq!(public(&app).await.1, 1);
    // Others cannot answer what they cannot see.
    let other = json!({ "thread": { "identifier": "t" }, "message": "hm", "parent": shadow_id });
    let r = app.send(Method::POST, "/api/v1/forums/blog/posts", Some(&other), &[("authorization", &reader)]).await;
    r.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "parent_not_replyable");
    // They can still edit it; their vote is taken and dropped.
    let r = app
        .send(
            Method::PATCH,
            &format!("/api/v1/posts/{shadow_id}"),
            Some(&json!({ "message": "edited" })),
            &[("authorization", &troll)],
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(r.json["state"], "approved");
    let v = app
        .send(
            Method::POST,
            &format!("/api/v1/posts/{visible_id}/vote"),
            Some(&json!({ "value": 1 })),
            &[("authorization", &troll)],
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(v.json["vote"], 1);
    let post = app.get(&format!("/api/v1/posts/{visible_id}")).await.json;
    assert_eq!(post["likes"], 0, "the shadow-banned vote counted for nobody");
    // Moderators find the post in the shadow queue.
    let q = app
        .send(Method::GET, "/api/v1/forums/blog/queue?state=shadow", None, &[("authorization", &mona)])
        .await
        .expect(StatusCode::OK);
    let ids: Vec<String> = q.json["posts"].as_array().unwrap().iter().map(id_of).collect();
    assert_eq!(ids, vec![reply_id, shadow_id.clone()]);
    assert_eq!(q.json["posts"][1]["state"], "shadow");
    // Approving it publishes it like any other.
    moderate(&app, &mona, &shadow_id, "approve").await.expect(StatusCode::OK);
    assert_eq!(public(&app).await.1, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_flags_send_a_post_to_review_at_the_threshold() {
    let app = TestApp::with_forum().await;
    let mona = app.member("mona", "blog", "moderator").await;
    set_policy(&app, "blog", json!({ "flag_threshold": 3 })).await.expect(StatusCode::OK);
    let target = id_of(&guest_post(&app, "Loud", "a rude remark", [198, 51, 100, 1]).await.json["post"]);
    let flag_uri = format!("/api/v1/posts/{target}/flags");
    let flag = |who: String, reason: &'static str| {
        let app = &app;
        let flag_uri = flag_uri.clone();
        async move {
            app.send(
                Method::POST,
                &flag_uri,
                Some(&json!({ "reason": reason, "note": "not nice" })),
                &[("authorization", &who)],
            )
            .await
        }
    };
    let (a, b, c) = (
        app.member("amy", "blog", "member").await,
        app.member("ben", "blog", "member").await,
        app.member("cat", "blog", "member").await,
    );
    flag(a.clone(), "abuse").await.expect(StatusCode::OK);
    flag(a.clone(), "abuse").await.expect(StatusCode::OK);
    // Two guests from one network are one reader.
    for ip in [[203, 0, 113, 5], [203, 0, 113, 6]] {
        app.post_from(&flag_uri, &json!({ "reason": "spam" }), ip).await.expect(StatusCode::OK);
    }
    let h = history(&app, &mona, &target).await;
    assert_eq!((h["post"]["flags"].clone(), h["post"]["state"].clone()), (json!(2), json!("approved")));
    let flagged =
        app.send(Method::GET, "/api/v1/forums/blog/queue?state=flagged", None, &[("authorization", &mona)]).await.json;
    assert_eq!(flagged["posts"][0]["id"], target.as_str());
    flag(b, "off_topic").await.expect(StatusCode::OK);
    // The third reader: off the page, in review, logged as the readers'.
    let h = history(&app, &mona, &target).await;
    assert_eq!(h["post"]["state"], "pending");
    assert_eq!(h["log"][0]["by"]["kind"], "flags");
    assert_eq!(h["log"][0]["reason"], "flagged by 3 readers");
    assert_eq!(h["flags"].as_array().unwrap().len(), 3);
    assert_eq!(public(&app).await.1, 0);
    // A held post cannot be flagged; bad reasons are refused.
    flag(c.clone(), "abuse").await.expect_error(StatusCode::NOT_FOUND, "post_not_found");
    let r = app.send(Method::POST, &flag_uri, Some(&json!({ "reason": "boring" })), &[("authorization", &c)]).await;
    assert_eq!(r.expect(StatusCode::UNPROCESSABLE_ENTITY).json["error"]["reason"], "unknown_reason");
    // The moderator approves: flags start again from zero.
    moderate(&app, &mona, &target, "approve").await.expect(StatusCode::OK);
    let h = history(&app, &mona, &target).await;
    assert_eq!((h["post"]["flags"].clone(), h["flags"].clone()), (json!(0), json!([])));
    assert_eq!(public(&app).await.1, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pins_highlights_auto_close_and_read_only_show_in_the_public_page() {
    let app = TestApp::with_forum().await;
    let mona = app.member("mona", "blog", "moderator").await;
    let first = id_of(&guest_post(&app, "A", "first", [198, 51, 100, 1]).await.json["post"]);
    let second = id_of(&guest_post(&app, "B", "second", [198, 51, 100, 1]).await.json["post"]);

    moderate(&app, &mona, &second, "pin").await.expect(StatusCode::OK);
    moderate(&app, &mona, &first, "highlight").await.expect(StatusCode::OK);
    let page = app.get(&TestApp::page_uri("t", "sort=oldest")).await.json;
    assert_eq!(page["thread"]["pinned"], second.as_str());
    assert_eq!(page["pinned"]["id"], second.as_str());
    assert_eq!(page["posts"][0]["highlighted"], true);
    assert_eq!(page["posts"][1]["highlighted"], false);
    // Pinning another replaces it; unpinning clears; a held post cannot be pinned.
    moderate(&app, &mona, &first, "pin").await.expect(StatusCode::OK);
    assert_eq!(app.get(&TestApp::page_uri("t", "")).await.json["pinned"]["id"], first.as_str());
    moderate(&app, &mona, &first, "unpin").await.expect(StatusCode::OK);
    assert!(app.get(&TestApp::page_uri("t", "")).await.json.get("pinned").is_none());
    moderate(&app, &mona, &second, "hold").await.expect(StatusCode::OK);
    let r = moderate(&app, &mona, &second, "pin").await;
    assert_eq!(r.expect(StatusCode::UNPROCESSABLE_ENTITY).json["error"]["reason"], "not_approved");
    // Marks are not for bulk.
    let bulk = app
        .send(
            Method::POST,
            "/api/v1/forums/blog/moderation",
            Some(&json!({ "posts": [first], "action": "pin" })),
            &[("authorization", &mona)],
        )
        .await;
    assert_eq!(bulk.expect(StatusCode::UNPROCESSABLE_ENTITY).json["error"]["reason"], "not_bulk");

    // Auto-close: after the set age the thread takes no posts and says so.
    set_policy(&app, "blog", json!({ "auto_close_days": 7 })).await.expect(StatusCode::OK);
    guest_post(&app, "C", "still open", [198, 51, 100, 1]).await.expect(StatusCode::CREATED);
    app.advance(Duration::from_secs(7 * 86_400));
    assert_eq!(app.get(&TestApp::page_uri("t", "")).await.json["thread"]["closed"], true);
    guest_post(&app, "C", "too late", [198, 51, 100, 1]).await.expect_error(StatusCode::FORBIDDEN, "thread_closed");
    set_policy(&app, "blog", json!({ "auto_close_days": 0 })).await.expect(StatusCode::OK);

    // Read-only: no posts, edits, votes or flags; reading goes on.
    set_policy(&app, "blog", json!({ "read_only": true })).await.expect(StatusCode::OK);
    let page = app.get(&TestApp::page_uri("t", "")).await.expect(StatusCode::OK);
    assert_eq!(page.json["thread"]["closed"], true);
    guest_post(&app, "D", "hello", [198, 51, 100, 1]).await.expect_error(StatusCode::FORBIDDEN, "read_only");
    app.post(&format!("/api/v1/posts/{first}/vote"), &json!({ "value": 1 }))
        .await
        .expect_error(StatusCode::FORBIDDEN, "read_only");
    app.post(&format!("/api/v1/posts/{first}/flags"), &json!({ "reason": "spam" }))
        .await
        .expect_error(StatusCode::FORBIDDEN, "read_only");
    set_policy(&app, "blog", json!({ "read_only": false })).await.expect(StatusCode::OK);
    guest_post(&app, "D", "hello again", [198, 51, 100, 1]).await.expect(StatusCode::CREATED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_search_and_the_stats_answer_moderators_of_the_forum_only() {
    let app = TestApp::with_forum().await;
    app.create_forum("other").await;
    let mona = app.member("mona", "blog", "moderator").await;
    let olga = app.member("olga", "other", "moderator").await;
    let body = |name: &str, email: &str, msg: &str| json!({ "thread": { "identifier": "t" }, "message": msg, "author": { "name": name, "email": email } });
    app.post("/api/v1/forums/blog/posts", &body("Ann", "Ann@Example.com", "Pineapple belongs on pizza"))
        .await
        .expect(StatusCode::CREATED);
    app.advance(Duration::from_secs(2 * 86_400));
    let b = app.post("/api/v1/forums/blog/posts", &body("Bob", "bob@example.com", "No it does not")).await;
    let bob_post = id_of(&b.expect(StatusCode::CREATED).json["post"]);
    let search = |q: &str| {
        let app = &app;
        let mona = mona.clone();
        let uri = format!("/api/v1/forums/blog/queue?state=all&{q}");
        async move { app.send(Method::GET, &uri, None, &[("authorization", &mona)]).await }
    };
    let names = |r: crate::common::Resp| -> Vec<String> {
        r.expect(StatusCode::OK).json["posts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["author"]["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(search("q=PINEAPPLE").await), vec!["Ann"]);
    assert_eq!(names(search("email=ann%40example.com").await), vec!["Ann"]);
    let author = search("q=does").await.json["posts"][0]["author"]["id"].as_str().unwrap().to_owned();
    assert_eq!(names(search(&format!("author={author}")).await), vec!["Bob"]);
    let today =
        &app.get(&format!("/api/v1/posts/{bob_post}")).await.json["created_at"].as_str().unwrap()[..10].to_owned();
    assert_eq!(names(search(&format!("since={today}")).await), vec!["Bob"]);
    assert_eq!(names(search(&format!("until={today}")).await), vec!["Ann"]);
    search("since=yesterday").await.expect_error(StatusCode::BAD_REQUEST, "invalid_query");
    search("state=nonsense").await.expect_error(StatusCode::BAD_REQUEST, "invalid_query");

    let stats = app
        .send(Method::GET, "/api/v1/forums/blog/stats?days=7", None, &[("authorization", &mona)])
        .await
        .expect(StatusCode::OK)
        .json;
    assert_eq!(stats["days"].as_array().unwrap().len(), 7);
    assert_eq!(stats["posts"], 2);
    assert_eq!(stats["days"][6]["posts"], 1);
    assert_eq!(stats["days"][4]["posts"], 1);
    assert_eq!(stats["queues"]["pending"], 0);

    // By IP address: the posts from its network, found through the keyed hash kept
    // with each post (no address is stored).
    guest_post(&app, "Net", "from a network", [203, 0, 113, 9]).await.expect(StatusCode::CREATED);
    assert_eq!(names(search("ip=203.0.113.200").await), vec!["Net"]);
    assert!(names(search("ip=198.51.100.1").await).is_empty());
    search("ip=203.0.113").await.expect_error(StatusCode::BAD_REQUEST, "invalid_query");

    // Tenant isolation: another forum's moderator can do none of it here.
    for (m, uri, body) in [
        (Method::GET, "/api/v1/forums/blog/stats".to_owned(), None),
        (Method::GET, "/api/v1/forums/blog/queue?state=flagged".to_owned(), None),
        (Method::POST, format!("/api/v1/posts/{bob_post}/moderation"), Some(json!({ "action": "pin" }))),
        (Method::POST, format!("/api/v1/posts/{bob_post}/moderation"), Some(json!({ "action": "highlight" }))),
        (Method::GET, format!("/api/v1/posts/{bob_post}/moderation"), None),
        (
            Method::POST,
            "/api/v1/forums/blog/bans".to_owned(),
            Some(json!({ "kind": "email", "value": "x@y.example", "shadow": true })),
        ),
    ] {
        let r = app.send(m.clone(), &uri, body.as_ref(), &[("authorization", &olga)]).await;
        r.expect_error(StatusCode::FORBIDDEN, "forbidden");
    }
}
