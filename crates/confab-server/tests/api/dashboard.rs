//! The moderators' dashboard over HTTP: log-in coming back to it, the role checked for
//! every page and action, CSRF and Origin on every write, tenant isolation, escaping,
//! and each page doing what it says (queue actions, bulk, bans, settings, stats).
//! The browser tests drive the same pages with the keyboard.

use crate::common::{Resp, TestApp, form, id_of};
use axum::http::{Method, StatusCode, header};
use serde_json::json;

const ORIGIN: &str = "https://comments.example.com"; // the test app's public URL

/// A member with `role` in `forum`, logged in through the form; returns the cookie.
async fn cookie_for(app: &TestApp, name: &str, forum: &str, role: &str) -> String {
    app.member(name, forum, role).await;
    let r =
        form(app, "/account/login", &format!("login={name}&password=correct+horse+battery"), Some(ORIGIN), None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    r.headers[header::SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_owned()
}

async fn get(app: &TestApp, uri: &str, cookie: &str) -> Resp {
    app.send(Method::GET, uri, None, &[("cookie", cookie)]).await
}

fn csrf_of(page: &Resp) -> String {
    let at = page.text.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    page.text[at..at + 64].to_owned()
}

async fn state_of(app: &TestApp, post: &str) -> String {
    let id = post.parse().unwrap();
    let p = app.store.post_get(id).await.unwrap();
    serde_json::to_value(p.state).unwrap().as_str().unwrap().to_owned()
}

async fn held_post(app: &TestApp, name: &str, text: &str) -> String {
    let body = json!({ "thread": { "identifier": "t", "url": "https://blog.example/t", "title": "T" }, "message": text, "author": { "name": name, "email": "guest@example.com" } });
    id_of(&app.post("/api/v1/forums/blog/posts", &body).await.expect(StatusCode::CREATED).json["post"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logging_in_comes_back_to_the_dashboard_and_only_there() {
    let app = TestApp::with_forum().await;
    app.member("mona", "blog", "moderator").await;
    let r = app.get("/dashboard/blog?state=spam").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // The page escapes what it writes into attributes (`/` as `&#x2f;`); a browser reads the value back.
    let shown = r.text.replace("&#x2f;", "/");
    assert!(shown.contains("name=\"next\" value=\"/dashboard/blog?state=spam\""), "{}", r.text);
    let login =
        |next: &str| format!("login=mona&password=correct+horse+battery&next={}", crate::common::urlencode(next));
    let r = form(&app, "/account/login", &login("/dashboard/blog?state=spam"), Some(ORIGIN), None).await;
    assert_eq!(r.headers[header::LOCATION], "/dashboard/blog?state=spam");
    // Anywhere else is not a place to go after logging in (no open redirect).
    for evil in [
        "https://evil.example/",
        "//evil.example/dashboard",
        "/account/../dashboard\\x",
        "/dashboardx",
        "/dashboard/blog/../../account",
        "/dashboard/%2e%2e/account",
    ] {
        let r = form(&app, "/account/login", &login(evil), Some(ORIGIN), None).await;
        assert_eq!(r.headers[header::LOCATION], "/account", "{evil}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moderator_works_the_queue_and_nobody_else_can() {
    let app = TestApp::with_forum().await;
    app.create_forum("other").await;
    let admin = format!("Bearer {}", app.admin);
    app.send(
        Method::PATCH,
        "/api/v1/forums/blog",
        Some(&json!({ "policy": { "premoderate": true } })),
        &[("authorization", &admin)],
    )
    .await
    .expect(StatusCode::OK);
    let mona = cookie_for(&app, "mona", "blog", "moderator").await;
    let olga = cookie_for(&app, "olga", "other", "moderator").await;
    let one = held_post(&app, "<script>alert(1)</script>", "first *held*").await;
    let two = held_post(&app, "Bob", "second").await;
    let three = held_post(&app, "Cy", "third").await;

    let home = get(&app, "/dashboard", &mona).await.expect(StatusCode::OK);
    assert!(home.text.contains("href=\"/dashboard/blog\"") && !home.text.contains("/dashboard/other"));
    assert!(home.text.contains("3 pending"));
    let queue = get(&app, "/dashboard/blog", &mona).await.expect(StatusCode::OK);
    assert!(queue.headers["content-security-policy"].to_str().unwrap().contains("script-src 'self'"));
    assert_eq!(queue.headers["cache-control"], "no-store");
    assert!(queue.text.contains("&lt;script&gt;alert(1)&lt;") && !queue.text.contains("<script>alert"));
    assert!(queue.text.contains("<em>held</em>"), "the sanitised body is shown");
    assert!(queue.text.contains("guest@example.com"), "moderators see the address");
    let csrf = csrf_of(&queue);

    // One post: approve, and come back at the next one.
    // A `back` that climbs out of the forum's dashboard goes to its queue instead.
    let body = format!("csrf={csrf}&post={one}&action=approve&back=%2Fdashboard%2Fblog%2F..%2F..%2Faccount&next={two}");
    let r = form(&app, "/dashboard/blog/moderate", &body, Some(ORIGIN), Some(&mona)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(r.headers[header::LOCATION], format!("/dashboard/blog#p-{two}"));
    assert_eq!(state_of(&app, &one).await, "approved");
    // Bulk: two at once.
    let body = format!("csrf={csrf}&posts={two}&posts={three}&action=spam&back=%2Fdashboard%2Fblog");
    form(&app, "/dashboard/blog/moderate", &body, Some(ORIGIN), Some(&mona)).await.expect(StatusCode::SEE_OTHER);
    assert_eq!((state_of(&app, &two).await, state_of(&app, &three).await), ("spam".into(), "spam".into()));

    // Forged writes change nothing: no token, a wrong token, another origin, no cookie.
    for (body, origin, cookie) in [
        (format!("post={two}&action=approve"), Some(ORIGIN), Some(mona.as_str())),
        (format!("csrf={}&post={two}&action=approve", "0".repeat(64)), Some(ORIGIN), Some(mona.as_str())),
        (format!("csrf={csrf}&post={two}&action=approve"), Some("https://evil.example"), Some(mona.as_str())),
        (format!("csrf={csrf}&post={two}&action=approve"), None, Some(mona.as_str())),
        (format!("csrf={csrf}&post={two}&action=approve"), Some(ORIGIN), None),
    ] {
        let r = form(&app, "/dashboard/blog/moderate", &body, origin, cookie).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{body} {origin:?}");
    }
    assert_eq!(state_of(&app, &two).await, "spam");

    // Another forum's moderator: no page, no action — not through their own forum either.
    assert_eq!(get(&app, "/dashboard/blog", &olga).await.status, StatusCode::FORBIDDEN);
    assert_eq!(get(&app, "/dashboard/blog/settings", &olga).await.status, StatusCode::FORBIDDEN);
    let olga_csrf = csrf_of(&get(&app, "/dashboard/other/bans", &olga).await.expect(StatusCode::OK));
    let body = format!("csrf={olga_csrf}&post={two}&action=approve");
    assert_eq!(
        form(&app, "/dashboard/blog/moderate", &body, Some(ORIGIN), Some(&olga)).await.status,
        StatusCode::FORBIDDEN
    );
    let r = form(&app, "/dashboard/other/moderate", &body, Some(ORIGIN), Some(&olga)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(state_of(&app, &two).await, "spam", "a post of another forum is not found there");

    // The search, the thread and the user pages.
    let found = get(&app, "/dashboard/blog?state=all&q=second", &mona).await.expect(StatusCode::OK);
    assert!(found.text.contains(&format!("data-id=\"{two}\"")) && !found.text.contains(&format!("data-id=\"{one}\"")));
    let thread = app.store.post_get(one.parse().unwrap()).await.unwrap().thread_id;
    let t = get(&app, &format!("/dashboard/blog/threads/{thread}"), &mona).await.expect(StatusCode::OK);
    assert!(t.text.contains("Close the thread"));
    let body = format!("csrf={csrf}&action=close");
    form(&app, &format!("/dashboard/blog/threads/{thread}"), &body, Some(ORIGIN), Some(&mona))
        .await
        .expect(StatusCode::SEE_OTHER);
    assert!(app.store.thread_get(thread).await.unwrap().closed);
    assert_eq!(get(&app, &format!("/dashboard/other/threads/{thread}"), &olga).await.status, StatusCode::NOT_FOUND);
    let author = app.store.post_get(two.parse().unwrap()).await.unwrap().author_id;
    let u = get(&app, &format!("/dashboard/blog/users/{author}"), &mona).await.expect(StatusCode::OK);
    assert!(u.text.contains("1 comments here") && u.text.contains("Shadow ban"));
    assert_eq!(get(&app, &format!("/dashboard/other/users/{author}"), &olga).await.status, StatusCode::NOT_FOUND);

    // A ban from the user's page, then lifted from the bans page.
    let body = format!(
        "csrf={csrf}&target=email%3Aguest%40example.com&duration=3600&reason=spam&shadow=on&back=%2Fdashboard%2Fblog%2Fbans"
    );
    form(&app, "/dashboard/blog/bans", &body, Some(ORIGIN), Some(&mona)).await.expect(StatusCode::SEE_OTHER);
    let bans = app.store.bans_list(app.store.forum_by_shortname("blog").await.unwrap().id, 0).await.unwrap();
    assert!(bans.len() == 1 && bans[0].shadow && bans[0].expires_at.is_some());
    let page = get(&app, "/dashboard/blog/bans", &mona).await.expect(StatusCode::OK);
    assert!(page.text.contains("email guest@example.com"));
    let body = format!("csrf={csrf}&op=lift&ban={}", bans[0].id);
    form(&app, "/dashboard/blog/bans", &body, Some(ORIGIN), Some(&mona)).await.expect(StatusCode::SEE_OTHER);
    assert!(app.store.bans_list(bans[0].forum_id, 0).await.unwrap().is_empty());

    // Stats: the figures and a chart drawn on the server.
    let s = get(&app, "/dashboard/blog/stats", &mona).await.expect(StatusCode::OK);
    assert!(s.text.contains("<svg") && s.text.contains("<strong>2</strong> spam"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owners_change_rules_keys_and_roles_and_bad_settings_change_nothing() {
    let app = TestApp::with_forum().await;
    let mona = cookie_for(&app, "mona", "blog", "moderator").await;
    let owen = cookie_for(&app, "owen", "blog", "owner").await;
    app.member("tess", "blog", "member").await;
    assert_eq!(get(&app, "/dashboard/blog/settings", &mona).await.status, StatusCode::FORBIDDEN, "owners only");
    let page = get(&app, "/dashboard/blog/settings", &owen).await.expect(StatusCode::OK);
    let csrf = csrf_of(&page);
    let keys_before = app.store.forum_keys(app.store.forum_by_shortname("blog").await.unwrap().id).await.unwrap();
    assert!(page.text.contains(&keys_before.public_key));

    let settings = |words: &str, threshold: &str| {
        format!(
            "csrf={csrf}&section=policy&name=My+blog&origins=https%3A%2F%2Fblog.example&allow_guests=on&voting=anyone\
             &premoderate_links=on&restricted_words={words}&restricted_action=reject&spam_filter=after\
             &flag_threshold={threshold}&auto_close_days=30&sso_max_age_secs=7200&on_account_delete=anonymize"
        )
    };
    let r = form(&app, "/dashboard/blog/settings", &settings("Casino*%0D%0Abuy+*+now", "5"), Some(ORIGIN), Some(&owen))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let f = app.store.forum_by_shortname("blog").await.unwrap();
    assert_eq!(f.policy.restricted_words, vec!["casino*", "buy * now"]);
    assert!(f.policy.premoderate_links && !f.policy.premoderate && !f.policy.read_only);
    assert_eq!((f.policy.flag_threshold, f.policy.auto_close_days), (5, 30));
    assert_eq!(f.name.as_str(), "My blog");
    assert_eq!(f.origins.len(), 1);
    // The next post meets the new rule.
    let post = json!({ "thread": { "identifier": "t" }, "message": "casinos!", "author": { "name": "Sam" } });
    let r = app.post("/api/v1/forums/blog/posts", &post).await;
    assert_eq!(r.expect(StatusCode::UNPROCESSABLE_ENTITY).json["error"]["reason"], "restricted_word");

    // Bad values: a clear page, and nothing changed.
    let r = form(&app, "/dashboard/blog/settings", &settings("ok", "5000"), Some(ORIGIN), Some(&owen)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text.contains("flag_threshold") || r.text.contains("1000"), "{}", r.text);
    let r = form(&app, "/dashboard/blog/settings", &settings("ok", "many"), Some(ORIGIN), Some(&owen)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.store.forum_by_shortname("blog").await.unwrap(), f);

    // Keys rotate; a role is granted.
    let body = format!("csrf={csrf}&section=rotate");
    form(&app, "/dashboard/blog/settings", &body, Some(ORIGIN), Some(&owen)).await.expect(StatusCode::SEE_OTHER);
    assert_ne!(app.store.forum_keys(f.id).await.unwrap().public_key, keys_before.public_key);
    let body = format!("csrf={csrf}&section=role&username=tess&role=trusted");
    form(&app, "/dashboard/blog/settings", &body, Some(ORIGIN), Some(&owen)).await.expect(StatusCode::SEE_OTHER);
    let tess =
        app.store.account_by_username(&confab_core::input::Username::parse("tess").unwrap()).await.unwrap().unwrap();
    assert_eq!(app.store.role_get(f.id, tess.id).await.unwrap(), Some(confab_core::model::Role::Trusted));
    // A moderator's forged settings post is refused by role, not only by page.
    let mona_csrf = csrf_of(&get(&app, "/dashboard/blog/bans", &mona).await);
    let body = format!("csrf={mona_csrf}&section=rotate");
    assert_eq!(
        form(&app, "/dashboard/blog/settings", &body, Some(ORIGIN), Some(&mona)).await.status,
        StatusCode::FORBIDDEN
    );
}

/// Every dashboard page and form, tried by a moderator of another forum: refused by
/// role (403), and a forged id of this forum's post or thread, sent through their own
/// forum's forms, is not found there. Nothing changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dashboard_page_and_form_keeps_forums_apart() {
    let app = TestApp::with_forum().await;
    app.create_forum("other").await;
    let olga = cookie_for(&app, "olga", "other", "owner").await;
    let post = held_post(&app, "Ann", "a post of blog").await;
    let thread = app.store.post_get(post.parse().unwrap()).await.unwrap().thread_id;
    let author = app.store.post_get(post.parse().unwrap()).await.unwrap().author_id;
    let before = app.store.forum_by_shortname("blog").await.unwrap();
    let keys = app.store.forum_keys(before.id).await.unwrap();
    let csrf = csrf_of(&get(&app, "/dashboard/other/bans", &olga).await.expect(StatusCode::OK));

    for uri in [
        "/dashboard/blog".to_owned(),
        "/dashboard/blog?state=all".to_owned(),
        format!("/dashboard/blog/threads/{thread}"),
        format!("/dashboard/blog/users/{author}"),
        "/dashboard/blog/bans".to_owned(),
        "/dashboard/blog/settings".to_owned(),
        "/dashboard/blog/stats".to_owned(),
    ] {
        assert_eq!(get(&app, &uri, &olga).await.status, StatusCode::FORBIDDEN, "GET {uri}");
    }
    for (uri, body) in [
        ("/dashboard/blog/moderate".to_owned(), format!("csrf={csrf}&post={post}&action=delete")),
        ("/dashboard/blog/moderate".to_owned(), format!("csrf={csrf}&posts={post}&action=spam")),
        (format!("/dashboard/blog/threads/{thread}"), format!("csrf={csrf}&action=close")),
        ("/dashboard/blog/bans".to_owned(), format!("csrf={csrf}&kind=email&value=x%40y.example")),
        ("/dashboard/blog/settings".to_owned(), format!("csrf={csrf}&section=rotate")),
        ("/dashboard/blog/settings".to_owned(), format!("csrf={csrf}&section=role&username=olga&role=owner")),
    ] {
        assert_eq!(
            form(&app, &uri, &body, Some(ORIGIN), Some(&olga)).await.status,
            StatusCode::FORBIDDEN,
            "POST {uri}"
        );
    }
    // Through their own forum's forms, this forum's ids are not found.
    let body = format!("csrf={csrf}&post={post}&action=pin");
    form(&app, "/dashboard/other/moderate", &body, Some(ORIGIN), Some(&olga)).await;
    let r = form(
        &app,
        &format!("/dashboard/other/threads/{thread}"),
        &format!("csrf={csrf}&action=close"),
        Some(ORIGIN),
        Some(&olga),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(get(&app, &format!("/dashboard/other/threads/{thread}"), &olga).await.status, StatusCode::NOT_FOUND);
    assert_eq!(get(&app, &format!("/dashboard/other/users/{author}"), &olga).await.status, StatusCode::NOT_FOUND);

    let p = app.store.post_get(post.parse().unwrap()).await.unwrap();
    assert_eq!(state_of(&app, &post).await, "approved");
    assert!(!p.highlighted);
    let t = app.store.thread_get(thread).await.unwrap();
    assert!(!t.closed && t.pinned.is_none());
    assert_eq!(app.store.forum_by_shortname("blog").await.unwrap(), before);
    assert!(app.store.bans_list(before.id, 0).await.unwrap().is_empty());
    assert!(app.store.forum_keys(before.id).await.unwrap() == keys, "keys not rotated");
    assert!(app.store.roles_list(before.id).await.unwrap().is_empty());
}

/// Moderators see why the spam filter held or marked a comment, and its score, on the
/// comment's card.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cards_show_the_filters_verdict_reason_and_score() {
    let app = TestApp::with_forum().await;
    let mona = cookie_for(&app, "mona", "blog", "moderator").await;
    let prize = "URGENT! You have WON a £1000 cash prize. Call 09061701461 now to claim, T&Cs apply, txt STOP";
    let spam = held_post(&app, "Prize", prize).await;
    let fine = held_post(&app, "Ann", "Welcome, Ann! Lovely to see you here.").await;
    app.run_jobs().await;
    assert_eq!(state_of(&app, &spam).await, "spam");
    let page = get(&app, "/dashboard/blog?state=all", &mona).await.expect(StatusCode::OK);
    let card = |id: &str| {
        let at = page.text.find(&format!("id=\"p-{id}\"")).expect("the card");
        page.text[at..].split("</article>").next().unwrap().to_owned()
    };
    let s = card(&spam);
    assert!(s.contains("filter: spam 1.000") && s.contains("(classifier"), "{s}");
    assert!(!card(&fine).contains("filter:"), "a post let through shows no verdict: {}", card(&fine));
}

/// The settings page's last section deletes the forum: owners only, confirmed by its
/// shortname; the account lands on its dashboard, which no longer lists the forum.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_deletes_the_forum_from_its_settings() {
    let app = TestApp::with_forum().await;
    let mona = cookie_for(&app, "mona", "blog", "moderator").await;
    let owen = cookie_for(&app, "owen", "blog", "owner").await;
    let page = get(&app, "/dashboard/blog/settings", &owen).await.expect(StatusCode::OK);
    assert!(page.text.contains("Delete the forum and all its comments"));
    let csrf = csrf_of(&page);
    let post = json!({ "thread": { "identifier": "t" }, "message": "hello", "author": { "name": "Sam" } });
    app.post("/api/v1/forums/blog/posts", &post).await.expect(StatusCode::CREATED);

    let wrong = form(
        &app,
        "/dashboard/blog/settings",
        &format!("csrf={csrf}&section=delete&confirm=Blog"),
        Some(ORIGIN),
        Some(&owen),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.text.contains("to confirm"), "{}", wrong.text);
    let mona_csrf = csrf_of(&get(&app, "/dashboard/blog/bans", &mona).await);
    let forged = format!("csrf={mona_csrf}&section=delete&confirm=blog");
    assert_eq!(
        form(&app, "/dashboard/blog/settings", &forged, Some(ORIGIN), Some(&mona)).await.status,
        StatusCode::FORBIDDEN
    );
    let no_csrf =
        form(&app, "/dashboard/blog/settings", "section=delete&confirm=blog", Some(ORIGIN), Some(&owen)).await;
    assert_eq!(no_csrf.status, StatusCode::FORBIDDEN);
    assert!(app.store.forum_by_shortname("blog").await.is_ok(), "nothing happened yet");

    let done = form(
        &app,
        "/dashboard/blog/settings",
        &format!("csrf={csrf}&section=delete&confirm=blog"),
        Some(ORIGIN),
        Some(&owen),
    )
    .await;
    assert_eq!((done.status, done.headers["location"].to_str().unwrap()), (StatusCode::SEE_OTHER, "/dashboard"));
    assert!(app.store.forum_by_shortname("blog").await.is_err());
    let home = get(&app, "/dashboard", &owen).await.expect(StatusCode::OK);
    assert!(home.text.contains("You do not moderate any forum"), "{}", home.text);
    assert_eq!(get(&app, "/dashboard/blog/settings", &owen).await.status, StatusCode::NOT_FOUND);
    app.get(&TestApp::page_uri("t", "")).await.expect_error(StatusCode::NOT_FOUND, "forum_not_found");
}

/// Every value a reader, author or owner can set reaches the pages escaped: the forum's
/// name, rules and origins, a guest's name and address, a thread's title and address, a
/// ban's reason. The only markup on a page is the dashboard's own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_others_wrote_is_never_markup_on_any_page() {
    let app = TestApp::with_forum().await;
    let owen = cookie_for(&app, "owen", "blog", "owner").await;
    let evil = "<img src=x onerror=alert(1)>\"'</textarea></title><script>alert(2)</script>";
    let admin = format!("Bearer {}", app.admin);
    let policy = json!({ "name": "Blog <b>bold</b>", "policy": { "restricted_words": [evil] } });
    app.send(Method::PATCH, "/api/v1/forums/blog", Some(&policy), &[("authorization", &admin)])
        .await
        .expect(StatusCode::OK);
    let body = json!({
        "thread": { "identifier": "t", "url": "https://blog.example/t?<script>=1", "title": evil },
        "message": "plain", "author": { "name": "<script>alert(3)</script>", "email": "guest@example.com" }
    });
    let post = id_of(&app.post("/api/v1/forums/blog/posts", &body).await.expect(StatusCode::CREATED).json["post"]);
    let page = get(&app, "/dashboard/blog?state=all", &owen).await.expect(StatusCode::OK);
    let csrf = csrf_of(&page);
    let ban = format!("csrf={csrf}&kind=email&value=guest%40example.com&reason={}", crate::common::urlencode(evil));
    assert_eq!(form(&app, "/dashboard/blog/bans", &ban, Some(ORIGIN), Some(&owen)).await.status, StatusCode::SEE_OTHER);
    let p = app.store.post_get(post.parse().unwrap()).await.unwrap();
    for uri in [
        "/dashboard".to_owned(),
        "/dashboard/blog?state=all&q=%3Cscript%3E".to_owned(),
        format!("/dashboard/blog/threads/{}", p.thread_id),
        format!("/dashboard/blog/users/{}", p.author_id),
        "/dashboard/blog/bans".to_owned(),
        "/dashboard/blog/settings".to_owned(),
        "/dashboard/blog/stats".to_owned(),
    ] {
        let text = get(&app, &uri, &owen).await.expect(StatusCode::OK).text;
        let ours = text.replace("<script src=\"/dashboard/dashboard.js\" defer></script>", "");
        for markup in ["<script", "<img", "</textarea></title>", "<b>bold", "onerror=alert(1)>\""] {
            assert!(!ours.contains(markup), "{uri} has {markup:?} as markup");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administrators_flip_switches_from_the_dashboard_and_nobody_else_can() {
    let app = TestApp::with_forum().await;
    let page = "/dashboard/-/switches";
    assert_eq!(app.get(page).await.status, StatusCode::UNAUTHORIZED, "the log-in page");
    let mod_cookie = cookie_for(&app, "mona", "blog", "moderator").await;
    let r = get(&app, page, &mod_cookie).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "a moderator is not an administrator");
    let csrf = csrf_of(&get(&app, "/dashboard/blog/bans", &mod_cookie).await);
    let r = form(&app, page, &format!("csrf={csrf}&key=signups&op=off"), Some(ORIGIN), Some(&mod_cookie)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    let cookie = cookie_for(&app, "root", "blog", "moderator").await;
    let name = confab_core::input::Username::parse("root").unwrap();
    let root = app.store.account_by_username(&name).await.unwrap().unwrap();
    app.store.account_set_admin(root.id, true).await.unwrap();
    let home = get(&app, "/dashboard", &cookie).await;
    assert!(home.text.replace("&#x2f;", "/").contains(page), "the home page links to it");
    let r = get(&app, page, &cookie).await.expect(StatusCode::OK);
    for key in ["signups", "spam_service", "webhooks", "email", "sort_hot"] {
        assert!(r.text.contains(&format!("id=\"switch-{key}\"")), "{key}");
    }
    let csrf = csrf_of(&r);
    // Without the CSRF token, or from another origin: refused, nothing changed.
    let r = form(&app, page, "csrf=nope&key=signups&op=off", Some(ORIGIN), Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r =
        form(&app, page, &format!("csrf={csrf}&key=signups&op=off"), Some("https://evil.example"), Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(app.state.live.on("signups"));

    let r =
        form(&app, page, &format!("csrf={csrf}&key=signups&op=off&note=spam+wave"), Some(ORIGIN), Some(&cookie)).await;
    assert_eq!((r.status, r.headers[header::LOCATION].to_str().unwrap()), (StatusCode::SEE_OTHER, page));
    let body = json!({ "username": "late", "email": "late@example.com", "password": "correct horse battery" });
    app.post("/api/v1/auth/signup", &body).await.expect_error(StatusCode::FORBIDDEN, "signups_closed");
    let shown = get(&app, page, &cookie).await;
    assert!(shown.text.contains("spam wave") && shown.text.contains("account:root"), "the state and the log");

    // A selective setting from the form, and one that means nothing.
    let r = form(
        &app,
        page,
        &format!("csrf={csrf}&key=sort_hot&op=selective&percent=25&forums=blog%2C+news&exclude_networks=10.0.0.0%2F8"),
        Some(ORIGIN),
        Some(&cookie),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let set = app.state.live.snapshot().get("sort_hot").cloned().unwrap();
    assert_eq!((set.include.percent, set.include.forums.len(), set.exclude.networks.len()), (Some(25.0), 2, 1));
    for bad in [
        "key=sort_hot&op=selective",
        "key=sort_hot&op=selective&networks=10.0.0.0%2F40",
        "key=nope&op=on",
        "key=signups&op=explode",
    ] {
        let r = form(&app, page, &format!("csrf={csrf}&{bad}"), Some(ORIGIN), Some(&cookie)).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert!(r.text.contains("Not changed"), "{bad}: says why");
    }
    let r = form(&app, page, &format!("csrf={csrf}&key=signups&op=clear"), Some(ORIGIN), Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(app.state.live.on("signups"));
}
