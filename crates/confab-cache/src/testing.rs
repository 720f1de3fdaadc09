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
    let mut cmd = Command::new("memcached");
    cmd.args(["-l", "127.0.0.1", "-p", &port.to_string(), "-U", "0", "-m", "32"]);
    // memcached refuses to run as root unless told which user to be.
    if Command::new("id").arg("-u").output().unwrap().stdout == b"0\n" {
        cmd.args(["-u", "root"]);
    }
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("memcached is installed (scripts/test-deps installs it)");
    wait_for(port, "memcached");
    child
}

fn spawn_redis(port: u16) -> Child {
    let child = Command::new("redis-server")
        .args(["--bind", "127.0.0.1", "--port", &port.to_string(), "--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server is installed (scripts/test-deps installs it)");
    wait_for(port, "redis-server");
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
