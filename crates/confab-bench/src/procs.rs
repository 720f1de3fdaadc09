//! The processes a run starts (Confab, the ceiling server) and what the kernel says
//! about them: peak resident memory and CPU time, from /proc.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

/// A child process serving HTTP on loopback; killed when dropped.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a process and waits for the line where it says `marker ADDR`.
pub fn start(mut cmd: Command, marker: &str) -> anyhow::Result<Server> {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().context("cannot start the server")?;
    let stdout = child.stdout.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel();
    let marker = marker.to_owned();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if !sent && let Some(rest) = line.split(&marker).nth(1) {
                let addr = rest.trim().trim_start_matches("http://").to_owned();
                let _ = tx.send(addr);
                sent = true;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(addr) = rx.recv_timeout(Duration::from_millis(100)) {
            return Ok(Server { child, addr: addr.parse().with_context(|| format!("bad address {addr:?}"))? });
        }
        if let Some(status) = child.try_wait()? {
            anyhow::bail!("the server exited early: {status}");
        }
        anyhow::ensure!(Instant::now() < deadline, "the server did not start within a minute");
    }
}

/// The benchmarked server's admin token (for its cache counters).
pub const ADMIN_TOKEN: &str = "bench-admin-token-not-secret-000";

/// `confab serve` on the embedded store in `data_dir`, or on the topology of the
/// configuration file `postgres`.
pub fn confab(bin: &Path, data_dir: &Path, postgres: Option<&Path>) -> anyhow::Result<Server> {
    let mut cmd = Command::new(bin);
    if let Some(config) = postgres {
        cmd.env("CONFAB_CONFIG", config);
    }
    cmd.arg("serve")
        .arg("--data-dir")
        .arg(data_dir)
        .env("CONFAB_LISTEN", "127.0.0.1:0")
        .env("CONFAB_DEMO", "false")
        .env("CONFAB_LOG", "warn")
        .env("CONFAB_ADMIN_TOKEN", ADMIN_TOKEN)
        // One client address sends everything: per-network limits would measure the limiter.
        .env("CONFAB_RATE_LIMIT_POSTS_PER_MINUTE", "0")
        .env("CONFAB_RATE_LIMIT_VOTES_PER_MINUTE", "0")
        .env("CONFAB_RATE_LIMIT_FORUM_POSTS_PER_MINUTE", "0");
    start(cmd, "Confab is listening on")
}

pub fn ceiling(body_bytes: usize) -> anyhow::Result<Server> {
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.arg("ceiling").arg("--bytes").arg(body_bytes.to_string());
    start(cmd, "ceiling listening on")
}

/// CPU time (user + system) and peak and current resident memory of a process.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Usage {
    pub cpu_seconds: f64,
    pub peak_rss_mib: f64,
    pub rss_mib: f64,
}

pub fn usage(pid: u32) -> Usage {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces): utime is the 12th, stime the 13th.
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // USER_HZ is 100 on every Linux architecture Confab targets.
    let cpu_seconds = (ticks(11) + ticks(12)) / 100.0;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    Usage { cpu_seconds, peak_rss_mib: kib("VmHWM:") / 1024.0, rss_mib: kib("VmRSS:") / 1024.0 }
}

/// The ceiling: the smallest HTTP/1.1 server hyper makes, answering every request with
/// the same body. What the client and the loopback can do with no application at all.
pub async fn serve_ceiling(bytes: usize) -> anyhow::Result<()> {
    use hyper::service::service_fn;
    let body = bytes::Bytes::from(vec![b'x'; bytes]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("ceiling listening on {}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let body = body.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |_req| {
                let body = body.clone();
                async move {
                    Ok::<_, std::convert::Infallible>(
                        hyper::Response::builder()
                            .header(hyper::header::CONTENT_TYPE, "application/json")
                            .body(http_body_util::Full::new(body))
                            .expect("static response"),
                    )
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                .await;
        });
    }
}
