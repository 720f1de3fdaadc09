//! The binary as an operator uses it: `--help`, `migrate`, `forum`, `admin-token`, and
//! `serve` answering real HTTP on a real socket, stopping cleanly on SIGTERM.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::Server;

fn confab(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_confab"))
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .env("CONFAB_LOG", "warn")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn help_is_everywhere() {
    let top = Command::new(env!("CARGO_BIN_EXE_confab")).arg("--help").output().unwrap();
    assert!(top.status.success());
    let text = stdout(&top);
    for cmd in ["serve", "migrate", "forum", "admin-token", "account"] {
        assert!(text.contains(cmd), "{cmd} in --help: {text}");
    }
    for args in [
        &["serve", "--help"][..],
        &["migrate", "--help"],
        &["forum", "create", "--help"],
        &["forum", "list", "--help"],
        &["forum", "delete", "--help"],
        &["admin-token", "rotate", "--help"],
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_confab")).args(args).output().unwrap();
        assert!(o.status.success() && !o.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn migrate_and_forum_commands() {
    let dir = tempfile::tempdir().unwrap();
    let m = confab(dir.path(), &["migrate"]);
    assert!(m.status.success(), "{m:?}");
    // As many versions as there are migration files.
    let migrations = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../confab-store-sqlite/migrations"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "sql"))
        .count();
    assert!(stdout(&m).contains(&format!("schema version {migrations}\n")), "{}", stdout(&m));
    let c = confab(
        dir.path(),
        &["forum", "create", "my-site", "--name", "My site", "--origin", "https://My.Site", "--premoderate"],
    );
    assert!(c.status.success(), "{c:?}");
    let again = confab(dir.path(), &["forum", "create", "my-site"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists"), "{again:?}");
    let bad = confab(dir.path(), &["forum", "create", "Bad Name!"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("shortname"), "{bad:?}");
    let l = confab(dir.path(), &["forum", "list"]);
    assert_eq!(stdout(&l), "my-site\tMy site\thttps://my.site\n");
}

/// `confab forum delete`: refused unless the shortname is typed again; then the forum
/// and its comments are gone, another forum's stay, and the name is free again. A
/// server started afterwards runs the queued purge job, which finds nothing left.
#[test]
fn forum_delete_asks_for_the_name_then_takes_everything() {
    let dir = tempfile::tempdir().unwrap();
    for f in ["doomed", "kept"] {
        assert!(confab(dir.path(), &["forum", "create", f]).status.success());
    }
    let mut server = Server::start(dir.path());
    for (forum, n) in [("doomed", 3), ("kept", 1)] {
        for i in 0..n {
            let body =
                format!(r#"{{"thread":{{"identifier":"t{i}"}},"message":"comment {i}","author":{{"name":"Ann"}}}}"#);
            let (status, _) = server.request("POST", &format!("/api/v1/forums/{forum}/posts"), Some(&body), &[]);
            assert_eq!(status, 201);
        }
    }
    server.stop();

    let unasked = confab(dir.path(), &["forum", "delete", "doomed", "--servers-stopped"]);
    assert!(!unasked.status.success());
    assert!(String::from_utf8_lossy(&unasked.stderr).contains("--confirm"), "{unasked:?}");
    let wrong = confab(dir.path(), &["forum", "delete", "doomed", "--confirm", "kept", "--servers-stopped"]);
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("nothing deleted"), "{wrong:?}");
    let missing = confab(dir.path(), &["forum", "delete", "nope", "--confirm", "nope"]);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no forum is called"), "{missing:?}");
    assert_eq!(stdout(&confab(dir.path(), &["forum", "list"])).lines().count(), 2, "doomed, kept");

    let done = confab(dir.path(), &["forum", "delete", "doomed", "--confirm", "doomed", "--servers-stopped"]);
    assert!(done.status.success(), "{done:?}");
    assert!(stdout(&done).contains("removed 3 threads and 3 comments"), "{}", stdout(&done));
    let names: Vec<String> = stdout(&confab(dir.path(), &["forum", "list"]))
        .lines()
        .map(|l| l.split('\t').next().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["kept"]);

    let server = Server::start(dir.path());
    let (status, _) = server.request("GET", "/api/v1/forums/doomed/thread-page?identifier=t0", None, &[]);
    assert_eq!(status, 404);
    let (_, kept) = server.request("GET", "/api/v1/forums/kept/thread-page?identifier=t0", None, &[]);
    assert_eq!(kept["thread"]["posts"], 1, "{kept}");
    drop(server);
    assert!(confab(dir.path(), &["forum", "create", "doomed"]).status.success(), "the name is free again");
}

/// A `confab worker` process of its own behaves as the workers inside `confab serve`:
/// the spam verdict it reaches is pushed into the shared cache at once, so the server's
/// cached page drops the comment now, not when the page expires.
#[test]
fn a_worker_process_pushes_its_verdicts_into_the_shared_cache() {
    let memcached = confab_cache::testing::memcached();
    let dir = tempfile::tempdir().unwrap();
    let servers = format!("[\"127.0.0.1:{}\"]", memcached.port);
    let env = [
        ("CONFAB_WORKERS", "false"),
        ("CONFAB_CACHE__BACKEND", "memcached"),
        ("CONFAB_CACHE__SERVERS", servers.as_str()),
        ("CONFAB_CACHE__FRESH_SECS", "600"),
    ];
    let server = Server::start_with(dir.path(), &env);
    let spam = r#"{"thread":{"identifier":"offer"},"message":"URGENT! You have WON a £1000 cash prize. Call 09061701461 now to claim, T&Cs apply, txt STOP","author":{"name":"Prize"}}"#;
    let (status, _) = server.request("POST", "/api/v1/forums/demo/posts", Some(spam), &[]);
    assert_eq!(status, 201);
    let page = "/api/v1/forums/demo/thread-page?identifier=offer";
    let (_, before) = server.request("GET", page, None, &[]);
    assert_eq!(before["posts"].as_array().unwrap().len(), 1, "shown until the filter has run: {before}");

    let worker = Command::new(env!("CARGO_BIN_EXE_confab"))
        .args(["worker", "--once", "--data-dir"])
        .arg(dir.path())
        .env("CONFAB_LOG", "warn")
        .envs(env)
        .output()
        .unwrap();
    assert!(worker.status.success(), "{worker:?}");
    let (_, after) = server.request("GET", page, None, &[]);
    assert_eq!(after["posts"].as_array().unwrap().len(), 0, "the worker's verdict reached the cached page: {after}");
}

#[test]
fn unknown_configuration_keys_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("confab.toml");
    std::fs::write(&cfg, "lisen = \"127.0.0.1:1\"\n").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_confab")).arg("--config").arg(&cfg).arg("migrate").output().unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("lisen"), "{o:?}");
}

/// `confab migrate` with a `[postgres]` section migrates every database of the
/// topology (the local one of scripts/pg-topology, with fresh databases), then finds
/// them up to date; the forum commands and `serve` then use it.
#[test]
fn migrate_applies_to_every_database_of_a_postgres_topology() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let up = Command::new(format!("{root}/scripts/pg-topology")).arg("start").output().unwrap();
    assert!(up.status.success(), "{}", String::from_utf8_lossy(&up.stderr));
    let base: u16 = std::env::var("PGTOPO_BASE_PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(54320);
    let tag = std::process::id();
    let db = |port: u16, name: &str| {
        let o = Command::new("psql")
            .args([
                &format!("postgres://postgres@127.0.0.1:{port}/postgres"),
                "-qc",
                &format!("CREATE DATABASE {name}"),
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        format!("postgres://postgres@127.0.0.1:{port}/{name}")
    };
    let (g, s1, s2, s3) = (
        db(base, &format!("cli_{tag}_g")),
        db(base + 1, &format!("cli_{tag}_s1")),
        db(base + 3, &format!("cli_{tag}_s2")),
        db(base + 3, &format!("cli_{tag}_s3")),
    );
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("confab.toml");
    std::fs::write(
        &cfg,
        format!(
            "[postgres]\nglobal = {{ primary = \"{g}\" }}\n[postgres.clusters.c1]\nprimary = \"{s1}\"\n\
             [postgres.clusters.c2]\nprimary = \"{s2}\"\n[postgres.clusters.big]\nprimary = \"{s3}\"\ndedicated = true\n"
        ),
    )
    .unwrap();
    let run =
        |cmd: &str| Command::new(env!("CARGO_BIN_EXE_confab")).arg("--config").arg(&cfg).arg(cmd).output().unwrap();
    let first = run("migrate");
    assert!(first.status.success(), "{first:?}");
    // Every version of each schema, as the migration lists have them.
    use confab_store_pg::migrate::{Schema, migrations};
    let versions = |s| format!("{:?}", migrations(s).iter().map(|m| m.0).collect::<Vec<_>>());
    let (g, s) = (versions(Schema::Global), versions(Schema::Shard));
    assert_eq!(
        stdout(&first),
        format!(
            "global/primary: applied {g}\nbig/primary: applied {s}\nc1/primary: applied {s}\nc2/primary: applied {s}\n"
        )
    );
    let again = run("migrate");
    assert_eq!(
        stdout(&again),
        "global/primary: up to date\nbig/primary: up to date\nc1/primary: up to date\nc2/primary: up to date\n"
    );
    // `serve` runs from it: the demo forum is created there, and a comment posted over
    // HTTP is read back.
    let mut server = Server::start_with(dir.path(), &[("CONFAB_CONFIG", cfg.to_str().unwrap())]);
    assert!(server.admin_token().is_some(), "a new store prints the admin token");
    let (status, page) = server.request("GET", "/api/v1/forums/demo/thread-page?identifier=welcome", None, &[]);
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["thread"]["posts"], 2, "{page}");
    let body = r#"{"thread":{"identifier":"welcome"},"message":"Stored in PostgreSQL","author":{"name":"Pat"}}"#;
    let (status, created) = server.request("POST", "/api/v1/forums/demo/posts", Some(body), &[]);
    assert_eq!(status, 201, "{created}");
    let (_, page) = server.request("GET", "/api/v1/forums/demo/thread-page?identifier=welcome&sort=newest", None, &[]);
    assert_eq!(page["thread"]["posts"], 3, "{page}");
    assert!(page.to_string().contains("Stored in PostgreSQL"), "{page}");
    // Moving a forum's data while a server runs is refused, and says why.
    let busy = run_args(&cfg, &["forum", "pin", "demo", "big"]);
    assert!(!busy.status.success());
    assert!(String::from_utf8_lossy(&busy.stderr).contains("stop every `confab serve`"), "{busy:?}");
    // A pinned forum can be created while it runs: it needs no move.
    let pinned = run_args(&cfg, &["forum", "create", "breaking", "--cluster", "big"]);
    assert!(pinned.status.success(), "{pinned:?}");
    // The server learns the new placement by NOTIFY, within milliseconds.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let body = r#"{"thread":{"identifier":"live"},"message":"On the dedicated cluster","author":{"name":"Pat"}}"#;
    let (status, created) = server.request("POST", "/api/v1/forums/breaking/posts", Some(body), &[]);
    assert_eq!(status, 201, "{created}");
    let rows_on = |url: &str, forum: &str| -> String {
        let sql =
            format!("SELECT count(*) FROM posts p JOIN threads t ON t.id = p.thread_id WHERE t.identifier = '{forum}'");
        let o = Command::new("psql").args([url, "-tAc", &sql]).output().unwrap();
        String::from_utf8_lossy(&o.stdout).trim().to_owned()
    };
    assert_eq!(rows_on(&s3, "live"), "1", "the running server wrote it on the dedicated cluster");
    assert!(server.stop().success());
    // The other commands work on the topology as on the embedded store.
    let created = run_args(&cfg, &["forum", "create", "news"]);
    assert!(created.status.success(), "{created:?}");
    let list = stdout(&run_args(&cfg, &["forum", "list"]));
    assert!(list.contains("demo\t") && list.contains("news\t") && list.contains("breaking\t"), "{list}");
    let nowhere = run_args(&cfg, &["forum", "create", "lost", "--cluster", "c9"]);
    assert!(!nowhere.status.success() && String::from_utf8_lossy(&nowhere.stderr).contains("no cluster \"c9\""));
    // With the server stopped, the demo forum moves to the dedicated cluster...
    let moved = run_args(&cfg, &["forum", "pin", "demo", "big"]);
    assert!(moved.status.success(), "{moved:?}");
    assert!(stdout(&moved).contains("to big: "), "{moved:?}");
    assert_eq!(rows_on(&s3, "welcome"), "3");
    // ...and a server started again serves it from there.
    let mut server = Server::start_with(dir.path(), &[("CONFAB_CONFIG", cfg.to_str().unwrap())]);
    let (_, page) = server.request("GET", "/api/v1/forums/demo/thread-page?identifier=welcome", None, &[]);
    assert_eq!(page["thread"]["posts"], 3, "{page}");
    assert!(server.stop().success());
}

fn run_args(cfg: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_confab")).arg("--config").arg(cfg).args(args).output().unwrap()
}

#[test]
fn serve_runs_the_demo_and_answers_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path());
    let token = server.admin_token().expect("the first start prints the admin token");
    assert!(server.stdout.iter().any(|l| l.contains("/api/v1/forums/demo/thread-page?identifier=welcome")));

    // The demo site: the article with the widget at `/`, the scripts beside it.
    let (status, home) = server.request_text("GET", "/", None, &[]);
    assert_eq!(status, 200);
    assert!(home.contains(r#"<div id="confab_thread" data-identifier="welcome""#), "{home}");
    let (status, js) = server.request_text("GET", "/embed.js", None, &[]);
    assert_eq!(status, 200);
    assert!(js.contains("attachShadow"));
    let (status, counts) =
        server.request("GET", "/api/v1/forums/demo/counts?identifier=welcome&identifier=lighthouse", None, &[]);
    assert_eq!(status, 200);
    assert_eq!(counts["counts"][0]["posts"], 2);
    assert_eq!(counts["counts"][1]["posts"], 2);

    let (status, page) =
        server.request("GET", "/api/v1/forums/demo/thread-page?identifier=welcome&sort=oldest", None, &[]);
    assert_eq!(status, 200);
    assert_eq!(page["thread"]["title"], "Welcome to Confab");
    assert_eq!(page["posts"][0]["replies"].as_array().unwrap().len(), 1);

    let comment = r#"{"thread":{"identifier":"welcome"},"message":"Hi from curl","author":{"name":"Newcomer"}}"#;
    let (status, created) = server.request("POST", "/api/v1/forums/demo/posts", Some(comment), &[]);
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["thread"]["posts"], 3);

    let auth = format!("Bearer {token}");
    let (status, _) =
        server.request("POST", "/api/v1/forums", Some(r#"{"shortname":"mine"}"#), &[("Authorization", &auth)]);
    assert_eq!(status, 201);
    assert_eq!(server.stop().code(), Some(0), "graceful shutdown exits 0");

    // A second start keeps the data, prints no token and adds no second demo.
    let mut again = Server::start(dir.path());
    assert_eq!(again.admin_token(), None);
    let (_, page) = again.request("GET", "/api/v1/forums/demo/thread-page?identifier=welcome", None, &[]);
    assert_eq!(page["thread"]["posts"], 3);
    let (status, _) =
        again.request("POST", "/api/v1/forums", Some(r#"{"shortname":"mine2"}"#), &[("Authorization", &auth)]);
    assert_eq!(status, 201, "the stored token still works");
    again.stop();

    // Rotation replaces it at once, in the running server too.
    let mut third = Server::start(dir.path());
    let rotated = confab(dir.path(), &["admin-token", "rotate"]);
    let new_token = stdout(&rotated).split_whitespace().last().unwrap().to_owned();
    let (status, _) =
        third.request("POST", "/api/v1/forums", Some(r#"{"shortname":"mine3"}"#), &[("Authorization", &auth)]);
    assert_eq!(status, 401, "the old token is gone");
    let (status, _) = third.request(
        "POST",
        "/api/v1/forums",
        Some(r#"{"shortname":"mine3"}"#),
        &[("Authorization", &format!("Bearer {new_token}"))],
    );
    assert_eq!(status, 201, "the new one works without a restart");
    third.stop();
}

#[test]
fn a_start_on_a_busy_port_creates_nothing_and_the_next_start_prints_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let o = Command::new(env!("CARGO_BIN_EXE_confab"))
        .args(["serve", "--listen", &addr, "--data-dir"])
        .arg(&data)
        .env("CONFAB_LOG", "warn")
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(!stdout(&o).contains("Admin token"), "no token printed by a start that cannot run: {}", stdout(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot listen on"), "{o:?}");
    assert!(!data.exists(), "nothing created");
    drop(busy);
    let mut server = Server::start(&data);
    assert!(server.admin_token().is_some(), "the first start that runs prints the token");
    server.stop();
}

#[test]
fn the_demo_threads_point_at_where_confab_listens() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path());
    let (status, page) = server.request("GET", "/api/v1/forums/demo/thread-page?identifier=welcome", None, &[]);
    assert_eq!(status, 200);
    assert_eq!(page["thread"]["url"], format!("{}/", server.base), "not a fixed :8080");
    server.stop();
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start_with(dir.path(), &[("CONFAB_PUBLIC_URL", "https://comments.example.com")]);
    let (_, page) = server.request("GET", "/api/v1/forums/demo/thread-page?identifier=lighthouse", None, &[]);
    assert_eq!(page["thread"]["url"], "https://comments.example.com/demo/lighthouse");
    server.stop();
}

#[test]
fn serve_without_the_demo_and_with_a_configured_token() {
    let dir = tempfile::tempdir().unwrap();
    let token = "configured-admin-token-0123456789";
    let mut server = Server::start_with(dir.path(), &[("CONFAB_DEMO", "false"), ("CONFAB_ADMIN_TOKEN", token)]);
    assert_eq!(server.admin_token(), None, "a configured token is never printed");
    assert!(!server.stdout.iter().any(|l| l.contains("demo")), "{:?}", server.stdout);
    let (status, _) = server.request("GET", "/api/v1/forums/demo", None, &[]);
    assert_eq!(status, 404);
    let (status, home) = server.request_text("GET", "/", None, &[]);
    assert_eq!(status, 200);
    assert!(home.contains("Confab is running") && !home.contains("<div id=\"confab_thread\""), "{home}");
    let auth = format!("Bearer {token}");
    let (status, _) =
        server.request("POST", "/api/v1/forums", Some(r#"{"shortname":"mine"}"#), &[("Authorization", &auth)]);
    assert_eq!(status, 201);
    server.stop();

    // A store that had the demo from an earlier start: `demo = false` takes the site away.
    let had = tempfile::tempdir().unwrap();
    Server::start(had.path()).stop();
    let server = Server::start_with(had.path(), &[("CONFAB_DEMO", "false")]);
    assert!(!server.stdout.iter().any(|l| l.contains("demo")), "{:?}", server.stdout);
    let (_, home) = server.request_text("GET", "/", None, &[]);
    assert!(home.contains("Confab is running") && !home.contains("<div id=\"confab_thread\""), "{home}");
    assert_eq!(server.request_text("GET", "/demo/lighthouse", None, &[]).0, 404);
}

#[test]
fn rate_limits_apply_to_real_connections() {
    let dir = tempfile::tempdir().unwrap();
    let limits = [("CONFAB_RATE_LIMIT_POSTS_PER_MINUTE", "1"), ("CONFAB_RATE_LIMIT_POSTS_BURST", "2")];
    let mut server = Server::start_with(dir.path(), &limits);
    let comment = r#"{"thread":{"identifier":"welcome"},"message":"Hi","author":{"name":"Ann"}}"#;
    for _ in 0..2 {
        let (status, body) = server.request("POST", "/api/v1/forums/demo/posts", Some(comment), &[]);
        assert_eq!(status, 201, "{body}");
    }
    let (status, body) = server.request("POST", "/api/v1/forums/demo/posts", Some(comment), &[]);
    assert_eq!(status, 429, "the peer address reaches the limiter: {body}");
    assert_eq!(body["error"]["code"], "rate_limited");
    // Without a trusted proxy configured, a forged header changes nothing.
    let (status, _) =
        server.request("POST", "/api/v1/forums/demo/posts", Some(comment), &[("X-Forwarded-For", "192.0.2.1")]);
    assert_eq!(status, 429);
    server.stop();
}

#[test]
fn a_malformed_trusted_proxy_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_confab"))
        .args(["serve", "--data-dir"])
        .arg(dir.path())
        .env("CONFAB_LISTEN", "127.0.0.1:0")
        .env("CONFAB_TRUSTED_PROXIES", "[\"10.0.0.0/99\"]")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("trusted_proxies") && err.contains("bad prefix"), "{err}");
}

#[test]
fn account_mails_land_in_the_outbox_with_working_links() {
    let dir = tempfile::tempdir().unwrap();
    let env =
        [("CONFAB_PUBLIC_URL", "https://comments.example.com/"), ("CONFAB_MAIL_FROM", "Comments <c@example.com>")];
    let mut server = Server::start_with(dir.path(), &env);
    assert!(server.stdout.iter().any(|l| l.contains("mail-outbox")), "{:?}", server.stdout);
    let signup = r#"{"username":"ann","email":"ann@example.com","password":"a long password"}"#;
    let (status, body) = server.request("POST", "/api/v1/auth/signup", Some(signup), &[]);
    assert_eq!(status, 202, "{body}");
    let outbox = dir.path().join("mail-outbox");
    let files: Vec<_> = std::fs::read_dir(&outbox).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let eml = common::decode_qp(&std::fs::read_to_string(&files[0]).unwrap());
    assert!(eml.starts_with("From: Comments <c@example.com>\r\nTo: ann@example.com\r\n"), "{eml}");
    let prefix = "https://comments.example.com/account/verify?token=";
    let start = eml.find(prefix).expect("the link uses the public URL") + prefix.len();
    let token = eml[start..].split_whitespace().next().unwrap();
    let (status, body) = server.request("POST", "/api/v1/auth/verify", Some(&format!(r#"{{"token":"{token}"}}"#)), &[]);
    assert_eq!(status, 200, "{body}");
    let login = r#"{"login":"ann","password":"a long password"}"#;
    let (status, body) = server.request("POST", "/api/v1/auth/login", Some(login), &[]);
    assert_eq!(status, 200, "{body}");
    server.stop();
}

#[test]
fn an_account_is_made_a_global_administrator_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path());
    let signup = r#"{"username":"root_ann","email":"ann@example.com","password":"a long password"}"#;
    assert_eq!(server.request("POST", "/api/v1/auth/signup", Some(signup), &[]).0, 202);
    let outbox = dir.path().join("mail-outbox");
    let eml = common::decode_qp(
        &std::fs::read_to_string(std::fs::read_dir(&outbox).unwrap().next().unwrap().unwrap().path()).unwrap(),
    );
    let token = eml[eml.find("token=").unwrap() + 6..].split_whitespace().next().unwrap().to_owned();
    let (status, _) = server.request("POST", "/api/v1/auth/verify", Some(&format!(r#"{{"token":"{token}"}}"#)), &[]);
    assert_eq!(status, 200);
    let login = r#"{"login":"root_ann","password":"a long password"}"#;
    let session =
        server.request("POST", "/api/v1/auth/login", Some(login), &[]).1["token"].as_str().unwrap().to_owned();
    let auth = format!("Bearer {session}");
    assert_eq!(server.request("GET", "/api/v1/forums", None, &[("Authorization", &auth)]).0, 403);

    let granted = confab(dir.path(), &["account", "admin", "ROOT_ANN"]);
    assert!(granted.status.success(), "{granted:?}");
    assert!(stdout(&granted).contains("root_ann is now a global administrator"));
    assert_eq!(server.request("GET", "/api/v1/forums", None, &[("Authorization", &auth)]).0, 200);
    let revoked = confab(dir.path(), &["account", "admin", "root_ann", "--revoke"]);
    assert!(stdout(&revoked).contains("no longer"));
    assert_eq!(server.request("GET", "/api/v1/forums", None, &[("Authorization", &auth)]).0, 403);
    let unknown = confab(dir.path(), &["account", "admin", "nobody"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no account is called"), "{unknown:?}");
    server.stop();
}

#[test]
fn workers_can_run_apart_from_the_server_and_jobs_are_listed() {
    let dir = tempfile::tempdir().unwrap();
    // The demo's posts queue events; with workers off they wait.
    let mut server = Server::start_with(dir.path(), &[("CONFAB_WORKERS", "false")]);
    assert!(server.stdout.iter().any(|l| l.contains("workers:") && l.contains("confab worker")), "{:?}", server.stdout);
    server.stop();
    let listed = stdout(&confab(dir.path(), &["jobs", "list", "--state", "ready"]));
    assert!(listed.starts_with("jobs: ready 6\n"), "{listed}");
    assert_eq!(listed.lines().count(), 7, "{listed}");
    assert!(listed.contains(r#""event":"post.created""#), "{listed}");
    let ran = confab(dir.path(), &["worker", "--once"]);
    assert!(ran.status.success());
    assert_eq!(stdout(&ran).trim(), "ran 6 job attempts; nothing else is due");
    let listed = stdout(&confab(dir.path(), &["jobs", "list", "--state", "all", "--limit", "1"]));
    assert!(listed.starts_with("jobs: done 6\n"), "{listed}");
    let bad = confab(dir.path(), &["jobs", "retry", "12345"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("job not found"));
    let bad = confab(dir.path(), &["jobs", "list", "--state", "buried"]);
    assert!(!bad.status.success());
}

#[test]
fn logs_to_a_pipe_carry_no_colour_codes() {
    use std::io::{BufRead, Read};
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_confab"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("CONFAB_LOG", "info")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while out.read_line(&mut line).unwrap() > 0 && !line.contains("Confab is listening") {}
    child.kill().unwrap();
    child.wait().unwrap();
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(err.contains("created the demo forum"), "the info log was written: {err}");
    assert!(!err.contains('\u{1b}'), "no terminal escapes in a pipe: {err:?}");
}
