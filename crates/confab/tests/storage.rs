//! Storage faults are loud: a database file deleted under a running server makes writes
//! and `/healthz` answer 503 `storage_lost` (not 201 into a file nobody will read), and
//! a restart refuses to make an empty database in its place until told to.

mod common;

use std::process::Command;

use common::Server;

fn post(server: &Server) -> (u16, serde_json::Value) {
    let body = r#"{"thread":{"identifier":"welcome"},"message":"Still here?","author":{"name":"Pat"}}"#;
    server.request("POST", "/api/v1/forums/demo/posts", Some(body), &[])
}

#[test]
fn a_database_deleted_under_the_server_is_reported_and_never_silently_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path());
    assert_eq!(post(&server).0, 201);
    assert_eq!(server.request("GET", "/healthz", None, &[]).0, 200);

    for f in ["confab.db", "confab.db-wal", "confab.db-shm"] {
        let _ = std::fs::remove_file(dir.path().join(f));
    }
    let (status, body) = post(&server);
    assert_eq!((status, body["error"]["code"].as_str()), (503, Some("storage_lost")), "{body}");
    let (status, body) = server.request("GET", "/healthz", None, &[]);
    assert_eq!((status, body["error"]["code"].as_str()), (503, Some("storage_lost")), "{body}");
    server.stop();

    // A restart does not make an empty database over the lost one.
    let again = Command::new(env!("CARGO_BIN_EXE_confab"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("CONFAB_LOG", "warn")
        .output()
        .unwrap();
    assert!(!again.status.success(), "started over a lost database");
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.contains("confab.db is missing") && err.contains("restore it from a backup"), "{err}");
    assert!(!dir.path().join("confab.db").exists(), "nothing was created");
    // Told to (the marker removed), it starts afresh.
    std::fs::remove_file(dir.path().join("confab.db.created")).unwrap();
    let fresh = Server::start(dir.path());
    assert_eq!(fresh.request("GET", "/healthz", None, &[]).0, 200);
}
