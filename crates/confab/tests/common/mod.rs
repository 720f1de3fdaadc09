//! A real `confab serve` process on a free port, spoken to over real HTTP/1.1.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Server {
    pub child: Child,
    pub base: String,
    pub stdout: Vec<String>,
}

impl Server {
    pub fn start(data: &Path) -> Server {
        Self::start_with(data, &[])
    }

    pub fn start_with(data: &Path, env: &[(&str, &str)]) -> Server {
        let child = Command::new(env!("CARGO_BIN_EXE_confab"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data)
            .env("CONFAB_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Owned by `Server` at once, so its Drop reaps the process if start-up fails.
        let mut server = Server { child, base: String::new(), stdout: Vec::new() };
        let mut lines = BufReader::new(server.child.stdout.take().unwrap()).lines();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            assert!(Instant::now() < deadline, "server did not start: {:?}", server.stdout);
            let line = lines.next().expect("server exited early").unwrap();
            server.stdout.push(line.clone());
            if let Some(base) = line.strip_prefix("Confab is listening on ") {
                server.base = base.trim().to_owned();
                // The start-up block ends with a blank line.
                loop {
                    let line = lines.next().expect("start-up block").unwrap();
                    if line.is_empty() {
                        break;
                    }
                    server.stdout.push(line);
                }
                // Keep draining stdout so the server never blocks on a full pipe.
                std::thread::spawn(move || for _ in lines {});
                return server;
            }
        }
    }

    pub fn admin_token(&self) -> Option<String> {
        let i = self.stdout.iter().position(|l| l.starts_with("Admin token"))?;
        self.stdout[i + 1..].iter().map(|l| l.trim()).find(|l| !l.is_empty()).map(str::to_owned)
    }

    /// One HTTP/1.1 request; returns (status, body).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> (u16, serde_json::Value) {
        let (status, payload) = self.request_text(method, path, body, headers);
        (status, serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null))
    }

    pub fn request_text(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> (u16, String) {
        let addr = self.base.trim_start_matches("http://");
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        let body = body.unwrap_or("");
        if !body.is_empty() {
            req.push_str("Content-Type: application/json\r\n");
        }
        req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        s.write_all(req.as_bytes()).unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).unwrap();
        let status: u16 = resp.split(' ').nth(1).unwrap().parse().unwrap();
        let (head, payload) = resp.split_once("\r\n\r\n").unwrap();
        let payload = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
            dechunk(payload)
        } else {
            payload.to_owned()
        };
        (status, payload)
    }

    pub fn stop(&mut self) -> std::process::ExitStatus {
        // The shell's builtin kill: no dependency on a kill binary.
        Command::new("sh").args(["-c", &format!("kill -TERM {}", self.child.id())]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    /// A failed test must not leave a server running.
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    loop {
        let (size, rest) = s.split_once("\r\n").unwrap();
        let n = usize::from_str_radix(size.trim(), 16).unwrap();
        if n == 0 {
            return out;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
}

#[allow(unused_imports)]
pub use confab_testkit::decode_qp;

/// A `confab.toml` in `dir` naming `pg`'s databases (primaries only, so that what a test
/// reads back is never a replica's that has yet to catch up); returns its path.
pub fn write_pg_config(dir: &Path, pg: &confab_store_pg::PgConfig) -> std::path::PathBuf {
    let mut toml = format!("[postgres]\nglobal = {{ primary = \"{}\" }}\n", pg.global.primary);
    for (name, c) in &pg.clusters {
        toml.push_str(&format!("[postgres.clusters.{name}]\nprimary = \"{}\"\n", c.primary));
    }
    let cfg = dir.join("confab.toml");
    std::fs::write(&cfg, toml).unwrap();
    cfg
}
