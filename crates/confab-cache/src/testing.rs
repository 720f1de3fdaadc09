//! Real memcached and Redis servers on loopback for the tests (`memcached` and
//! `redis-server` from Debian, installed by scripts/test-deps), each on a free port,
//! stopped when dropped. Behind the `testing` feature.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A server process on a loopback port.
pub struct Server {
    child: Option<Child>,
    pub port: u16,
    spawn: fn(u16) -> Child,
}

/// The memcached servers' type, by its old name.
pub type Memcached = Server;

impl Server {
    /// Stops the server (as a crash would: SIGKILL).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Freezes the server (SIGSTOP): connections stay open and nothing is answered.
    pub fn pause(&self) {
        self.signal("STOP");
        // kill(2) returns before the signal has stopped every thread: a request sent at
        // once could still be answered. Returns once all of them are stopped.
        self.await_threads(true);
    }

    /// Lets a paused server run again (SIGCONT), with everything it held.
    pub fn resume(&self) {
        self.signal("CONT");
        self.await_threads(false);
    }

    /// Waits (at most 5 s) until every thread of the server is stopped, or none is.
    fn await_threads(&self, stopped: bool) {
        let Some(c) = &self.child else { return };
        let tasks = format!("/proc/{}/task", c.id());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            let states: Vec<bool> = std::fs::read_dir(&tasks)
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|t| std::fs::read_to_string(t.path().join("stat")).ok())
                // The state follows the command name in parentheses: `pid (comm) T …`.
                .filter_map(|stat| stat.rsplit_once(") ").and_then(|(_, rest)| rest.chars().next()))
                .map(|state| state == 'T')
                .collect();
            if !states.is_empty() && states.iter().all(|s| *s == stopped) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        panic!("memcached {} did not {} in 5 s", c.id(), if stopped { "stop" } else { "resume" });
    }

    fn signal(&self, name: &str) {
        if let Some(c) = &self.child {
            // The shell's builtin kill: no dependency on a kill binary.
            let ok = Command::new("sh").args(["-c", &format!("kill -{name} {}", c.id())]).status().unwrap();
            assert!(ok.success(), "SIG{name} to {}", c.id());
        }
    }

    /// Starts it again on the same port, empty.
    pub fn restart(&mut self) {
        self.kill();
        self.child = Some((self.spawn)(self.port));
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn spawn_memcached(port: u16) -> Child {
    let mut args = vec!["-l", "127.0.0.1", "-U", "0", "-m", "32"];
    // memcached refuses to run as root unless told which user to be.
    if Command::new("id").arg("-u").output().unwrap().stdout == b"0\n" {
        args.extend(["-u", "root"]);
    }
    spawn("memcached", &args, "-p", port)
}

fn spawn_redis(port: u16) -> Child {
    spawn("redis-server", &["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], "--port", port)
}

/// Starts `program` with `args` and `port_flag port`, and waits until it listens.
fn spawn(program: &str, args: &[&str], port_flag: &str, port: u16) -> Child {
    let child = Command::new(program)
        .args(args)
        .args([port_flag, &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{program} is installed (scripts/test-deps installs it): {e}"));
    wait_for(port, program);
    child
}

fn wait_for(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} on {port} did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn memcached() -> Server {
    let port = free_port();
    Server { child: Some(spawn_memcached(port)), port, spawn: spawn_memcached }
}

pub fn redis() -> Server {
    let port = free_port();
    Server { child: Some(spawn_redis(port)), port, spawn: spawn_redis }
}

impl Server {
    /// `redis://127.0.0.1:{port}`, for a Redis server.
    pub fn redis_url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

/// A memcached pool over `ports` on loopback, with timeouts generous enough for a
/// loaded 2-core machine (only a dead server should fail) and `retry` as its retry time.
pub fn memcached_backend(ports: &[u16], retry: Duration) -> crate::MemcachedBackend {
    use crate::memcached::{Memcached, MemcachedConfig};
    let mut cfg = MemcachedConfig::new(ports.iter().map(|p| crate::ketama::Server::new("127.0.0.1", *p)).collect());
    cfg.retry_timeout = retry;
    cfg.op_timeout = Duration::from_secs(2);
    cfg.connect_timeout = Duration::from_secs(2);
    crate::MemcachedBackend { pool: std::sync::Arc::new(Memcached::new(cfg)) }
}

/// An L1 of 1 MB in front of `l2`, its notices on the Redis at `redis_url`, once its
/// subscription is live.
pub async fn live_tiered(
    l2: std::sync::Arc<dyn crate::Backend>,
    redis_url: &str,
    l1_ttl: Duration,
) -> std::sync::Arc<crate::Tiered> {
    let mut cfg = crate::RedisConfig::new(redis_url);
    cfg.retry_timeout = Duration::from_millis(200);
    let notices = std::sync::Arc::new(crate::Redis::new(cfg).unwrap());
    let tiered = crate::Tiered::with_redis_notices(l2, 1 << 20, l1_ttl, notices);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !tiered.is_live() {
        assert!(Instant::now() < deadline, "the notice subscription did not start");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tiered
}
