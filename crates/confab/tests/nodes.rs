//! Processes sharing one store never mint the same id: two `confab serve` processes on
//! one data directory (SQLite) and on one PostgreSQL topology take comments at once,
//! and every one is written under an id of its own.

mod common;

use std::collections::HashSet;
use std::path::Path;

use common::Server;

const WRITERS_PER_SERVER: usize = 4;
const POSTS_PER_WRITER: usize = 60;

/// Posts from every writer of both servers at once; returns each answer's status and id.
fn write_at_once(servers: &[&Server]) -> Vec<(u16, String)> {
    std::thread::scope(|s| {
        let handles: Vec<_> = servers
            .iter()
            .flat_map(|server| (0..WRITERS_PER_SERVER).map(move |w| (server, w)))
            .map(|(server, w)| {
                s.spawn(move || {
                    (0..POSTS_PER_WRITER)
                        .map(|i| {
                            let body = format!(
                                r#"{{"thread":{{"identifier":"load"}},"message":"comment {w}-{i}","author":{{"name":"Writer {w}"}}}}"#
                            );
                            let (status, v) = server.request("POST", "/api/v1/forums/load/posts", Some(&body), &[]);
                            (status, v["post"]["id"].as_str().unwrap_or_default().to_owned())
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    })
}

fn assert_all_written(answers: &[(u16, String)]) {
    let failed: Vec<_> = answers.iter().filter(|(s, _)| *s != 201).collect();
    assert!(
        failed.is_empty(),
        "{} of {} posts failed: {:?}",
        failed.len(),
        answers.len(),
        &failed[..failed.len().min(5)]
    );
    let ids: HashSet<&str> = answers.iter().map(|(_, id)| id.as_str()).collect();
    assert_eq!(ids.len(), answers.len(), "ids repeated across processes");
}

fn thread_posts(server: &Server) -> u64 {
    let (status, page) = server.request("GET", "/api/v1/forums/load/thread-page?identifier=load", None, &[]);
    assert_eq!(status, 200, "{page}");
    page["thread"]["posts"].as_u64().unwrap()
}

const ADMIN: &str = "nodes-test-admin-token-0123456789";

fn start(data: &Path, env: &[(&str, &str)]) -> Server {
    let mut env = env.to_vec();
    env.extend([
        ("CONFAB_DEMO", "false"),
        ("CONFAB_ADMIN_TOKEN", ADMIN),
        // One client stands in for many readers: no limits, no flood filter.
        ("CONFAB_RATE_LIMIT_POSTS_PER_MINUTE", "0"),
        ("CONFAB_RATE_LIMIT_FORUM_POSTS_PER_MINUTE", "0"),
    ]);
    Server::start_with(data, &env)
}

fn create_forum(server: &Server) {
    let (status, body) = server.request(
        "POST",
        "/api/v1/forums",
        Some(r#"{"shortname":"load","policy":{"spam_filter":"off"}}"#),
        &[("Authorization", &format!("Bearer {ADMIN}"))],
    );
    assert_eq!(status, 201, "{body}");
}

#[test]
fn two_servers_on_one_sqlite_file_mint_distinct_ids() {
    let dir = tempfile::tempdir().unwrap();
    let a = start(dir.path(), &[]);
    create_forum(&a);
    let b = start(dir.path(), &[]);
    let answers = write_at_once(&[&a, &b]);
    assert_all_written(&answers);
    drop((a, b));
    // A fresh process reads them all back from the file.
    let c = start(dir.path(), &[]);
    assert_eq!(thread_posts(&c), answers.len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_postgres_topology_mint_distinct_ids() {
    // Fresh databases on the local topology, dropped with `_dbs`; primaries only, so
    // that the count read back is not a replica's that has yet to catch up.
    let (pg, _dbs) = confab_store_pg::testing::fresh("nodes").await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = common::write_pg_config(dir.path(), &pg);
    let env = [("CONFAB_CONFIG", cfg.to_str().unwrap())];
    let (a_dir, b_dir) = (dir.path().join("a"), dir.path().join("b"));
    let a = start(&a_dir, &env);
    create_forum(&a);
    let b = start(&b_dir, &env);
    let answers = write_at_once(&[&a, &b]);
    assert_all_written(&answers);
    assert_eq!(thread_posts(&a), answers.len() as u64);
    drop((a, b));
}
