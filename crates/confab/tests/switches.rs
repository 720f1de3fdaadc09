//! Feature switches across processes: a switch flipped with `confab switch` changes
//! what every running `confab serve` of the store does within a second, on one SQLite
//! file (each process polls) and on a PostgreSQL topology (a `NOTIFY` reaches each at
//! once, with polling slowed to a minute so that only the notice can explain it).

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::Server;

fn confab(data: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_confab"))
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .env("CONFAB_LOG", "warn")
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// A sign-up's status code (a fresh name each time).
fn sign_up(server: &Server, n: usize) -> u16 {
    let body =
        format!(r#"{{"username":"reader{n}","email":"reader{n}@example.com","password":"correct horse battery"}}"#);
    server.request("POST", "/api/v1/auth/signup", Some(&body), &[]).0
}

/// Flips `signups` off with the CLI and measures how long until every server refuses
/// sign-ups; then clears it and measures again.
fn flip_and_watch(data: &Path, env: &[(&str, &str)], servers: &[&Server]) {
    let mut n = 0;
    for s in servers {
        n += 1;
        assert_eq!(sign_up(s, n), 202, "sign-ups are on by default");
    }
    for (args, want) in [(&["switch", "set", "signups", "off"][..], 403), (&["switch", "delete", "signups"][..], 202)] {
        let out = confab(data, env, args);
        assert!(out.status.success(), "{}", text(&out));
        let flipped = Instant::now();
        for s in servers {
            loop {
                n += 1;
                if sign_up(s, n) == want {
                    break;
                }
                assert!(flipped.elapsed() < Duration::from_secs(1), "{} still answers otherwise after 1 s", s.base);
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

#[test]
fn a_switch_set_from_the_cli_reaches_every_server_on_one_sqlite_file_within_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("CONFAB_DEMO", "false"), ("CONFAB_RATE_LIMIT_SIGNUPS_PER_MINUTE", "0")];
    let a = Server::start_with(dir.path(), &env);
    let b = Server::start_with(dir.path(), &env);
    flip_and_watch(dir.path(), &env, &[&a, &b]);
}

#[test]
fn on_one_sqlite_file_with_redis_the_change_arrives_by_notice() {
    let redis = confab_cache::testing::redis();
    let dir = tempfile::tempdir().unwrap();
    let url = redis.redis_url();
    let env = [
        ("CONFAB_DEMO", "false"),
        ("CONFAB_RATE_LIMIT_SIGNUPS_PER_MINUTE", "0"),
        ("CONFAB_CACHE__REDIS_URL", url.as_str()),
        ("CONFAB_CACHE__BACKEND", "redis"),
        // Polls a minute apart: within a second, only the notice can bring the change.
        ("CONFAB_SWITCH_REFRESH_MS", "60000"),
    ];
    let a = Server::start_with(dir.path(), &env);
    let b = Server::start_with(dir.path(), &env);
    flip_and_watch(dir.path(), &env, &[&a, &b]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_switch_set_from_the_cli_reaches_every_server_on_postgres_by_notice() {
    let (pg, _dbs) = confab_store_pg::testing::fresh("switches").await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = common::write_pg_config(dir.path(), &pg);
    let env = [
        ("CONFAB_CONFIG", cfg.to_str().unwrap()),
        ("CONFAB_DEMO", "false"),
        ("CONFAB_RATE_LIMIT_SIGNUPS_PER_MINUTE", "0"),
        // Polls a minute apart: within a second, only the notice can bring the change.
        ("CONFAB_SWITCH_REFRESH_MS", "60000"),
    ];
    let (a_dir, b_dir) = (dir.path().join("a"), dir.path().join("b"));
    let a = Server::start_with(&a_dir, &env);
    let b = Server::start_with(&b_dir, &env);
    flip_and_watch(&a_dir, &env, &[&a, &b]);
}

#[test]
fn the_cli_lists_shows_sets_and_logs_switches_and_refuses_what_means_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let list = confab(data, &[], &["switch", "list"]);
    assert!(list.status.success(), "{}", text(&list));
    for key in ["signups", "spam_service", "webhooks", "email", "sort_hot"] {
        assert!(text(&list).contains(key), "{}", text(&list));
    }
    let trial = [
        "switch",
        "set",
        "sort_hot",
        "selective",
        "--percent",
        "12.5",
        "--forum",
        "blog",
        "--exclude-network",
        "10.0.0.0/8",
        "--note",
        "trial",
    ];
    let set = confab(data, &[], &trial);
    assert!(set.status.success(), "{}", text(&set));
    assert!(text(&set).contains("selective"), "{}", text(&set));
    let again = confab(data, &[], &trial);
    assert!(text(&again).contains("nothing changed"), "{}", text(&again));
    let show = confab(data, &[], &["switch", "show", "sort_hot"]);
    assert!(text(&show).contains("12.5") && text(&show).contains("note: trial"), "{}", text(&show));
    let log = confab(data, &[], &["switch", "log"]);
    assert_eq!(text(&log).lines().filter(|l| l.contains("sort_hot by cli:")).count(), 1, "{}", text(&log));

    for (args, says) in [
        (&["switch", "set", "signup", "off"][..], "no switch is called"),
        (&["switch", "set", "signups", "selective"][..], "needs a condition"),
        (&["switch", "set", "signups", "on", "--forum", "blog"][..], "only a selective switch"),
        (&["switch", "set", "signups", "selective", "--network", "10.0.0.0/33"][..], "not an IP network"),
        (&["switch", "set", "signups", "sideways"][..], "on, off, selective, inherit"),
    ] {
        let out = confab(data, &[], args);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(text(&out).contains(says), "{args:?}: {}", text(&out));
    }
    let log = confab(data, &[], &["switch", "log"]);
    assert_eq!(text(&log).lines().count(), 1, "refusals write nothing: {}", text(&log));
}
