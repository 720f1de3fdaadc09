//! Real memcached servers on loopback for the tests (`memcached` from Debian, installed
//! by scripts/test-deps), each on a free port, stopped when dropped.
#![allow(dead_code)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Memcached {
    child: Option<Child>,
    pub port: u16,
}

impl Memcached {
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
        self.child = Some(spawn(self.port));
    }
}

impl Drop for Memcached {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn spawn(port: u16) -> Child {
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
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "memcached on {port} did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

pub fn memcached() -> Memcached {
    let port = free_port();
    Memcached { child: Some(spawn(port)), port }
}
