//! Idle and slow connections cannot shut readers out: connections that send no request
//! (or one header byte at a time) are closed after the header timeout, and at the
//! connection cap the connection idle longest makes way for a new one.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::Server;

fn connect(server: &Server) -> TcpStream {
    let s = TcpStream::connect(server.base.trim_start_matches("http://")).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    s
}

/// A keep-alive GET on `s`; the status.
fn get(s: &mut TcpStream, path: &str) -> u16 {
    write!(s, "GET {path} HTTP/1.1\r\nHost: confab\r\n\r\n").unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut byte).unwrap(), 1, "closed mid-response");
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
        .expect("a content length");
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).unwrap();
    head.split(' ').nth(1).unwrap().parse().unwrap()
}

/// Whether the server has closed `s` (EOF or reset), waiting up to its read timeout.
fn closed_by_server(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 512];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            // hyper may answer a timed-out request head before closing.
            Ok(_) => continue,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

#[test]
fn idle_and_slow_connections_are_closed_while_readers_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(dir.path(), &[("CONFAB_HTTP_HEADER_TIMEOUT_SECS", "2")]);
    let mut idle: Vec<TcpStream> = (0..200).map(|_| connect(&server)).collect();
    // Slowloris: a request line, then a header byte every 200 ms, never finishing.
    let mut slow: Vec<TcpStream> = (0..50).map(|_| connect(&server)).collect();
    for s in &mut slow {
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: confab\r\n").unwrap();
    }
    let started = Instant::now();
    let mut served = 0;
    while started.elapsed() < Duration::from_secs(4) {
        for s in &mut slow {
            let _ = s.write_all(b"X");
        }
        let mut reader = connect(&server);
        assert_eq!(get(&mut reader, "/healthz"), 200, "a reader was shut out");
        served += 1;
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(served >= 10, "{served}");
    let idle_closed = idle.iter_mut().map(closed_by_server).filter(|c| *c).count();
    let slow_closed = slow.iter_mut().map(closed_by_server).filter(|c| *c).count();
    assert_eq!((idle_closed, slow_closed), (200, 50), "idle and slow connections the server kept open");
}

#[test]
fn at_the_cap_the_connection_idle_longest_makes_way() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(
        dir.path(),
        &[("CONFAB_HTTP_HEADER_TIMEOUT_SECS", "300"), ("CONFAB_HTTP_MAX_CONNECTIONS", "40")],
    );
    // 40 connections that each made one request and then sat idle, oldest first.
    let mut old: Vec<TcpStream> = (0..40)
        .map(|_| {
            let mut s = connect(&server);
            assert_eq!(get(&mut s, "/healthz"), 200);
            s
        })
        .collect();
    // 40 more readers arrive: each is served, and each sheds one of the old ones.
    let mut new: Vec<TcpStream> = (0..40)
        .map(|_| {
            let mut s = connect(&server);
            assert_eq!(get(&mut s, "/healthz"), 200, "a new reader was refused at the cap");
            s
        })
        .collect();
    let old_closed = old.iter_mut().map(closed_by_server).filter(|c| *c).count();
    assert_eq!(old_closed, 40, "the connections idle longest make way");
    for s in new.iter_mut().rev().take(5) {
        assert_eq!(get(s, "/healthz"), 200, "a recent connection was shed instead");
    }
}
