//! The memcached pool against real servers: values in and out, keys where ketama puts
//! them, long keys, compare-and-set, and the failure behaviour — a server killed under
//! load costs no error, its keys move to the others, and it is used again after the
//! retry timeout; a server that accepts and never answers stalls nobody for long.

use confab_cache::testing as common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::memcached;
use confab_cache::ketama::{Distribution, Ring, Server};
use confab_cache::memcached::{CasOutcome, Memcached, MemcachedConfig};

fn pool(ports: &[u16], tune: impl FnOnce(&mut MemcachedConfig)) -> Memcached {
    let mut cfg = MemcachedConfig::new(ports.iter().map(|p| Server::new("127.0.0.1", *p)).collect());
    tune(&mut cfg);
    Memcached::new(cfg)
}

#[tokio::test]
async fn values_round_trip_on_the_server_ketama_names() {
    let servers: Vec<_> = (0..3).map(|_| memcached()).collect();
    let ports: Vec<u16> = servers.iter().map(|m| m.port).collect();
    let mc = pool(&ports, |_| {});
    let ring =
        Ring::new(&ports.iter().map(|p| Server::new("127.0.0.1", *p)).collect::<Vec<_>>(), Distribution::Weighted);
    let keys: Vec<String> = (0..300).map(|i| format!("thread:{i}")).collect();
    for k in &keys {
        assert!(mc.set(k, format!("value of {k}\r\nEND\r\n").as_bytes(), Duration::ZERO).await);
    }
    // One round trip per server for the lot, values intact (CRLF inside included).
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let got = mc.get_many(&refs).await;
    for (k, v) in keys.iter().zip(&got) {
        assert_eq!(v.as_ref().unwrap().value, format!("value of {k}\r\nEND\r\n").into_bytes());
    }
    // Each key is on the server ketama names, and only there.
    for (i, port) in ports.iter().enumerate() {
        let alone = pool(&[*port], |_| {});
        for k in &keys[..60] {
            let here = alone.get(k).await.is_some();
            assert_eq!(here, ring.server_for(k.as_bytes()) == Some(i), "{k} on server {i}");
        }
    }
    assert!(mc.get("thread:none").await.is_none());
    // Keys memcached refuses are replaced by their digest, consistently.
    let long = "k".repeat(400);
    let spaced = "a key with spaces\n";
    assert!(mc.set(&long, b"long", Duration::ZERO).await);
    assert!(mc.set(spaced, b"spaced", Duration::ZERO).await);
    assert_eq!(mc.get(&long).await.unwrap().value, b"long");
    assert_eq!(mc.get(spaced).await.unwrap().value, b"spaced");
    assert!(mc.get(&"k".repeat(401)).await.is_none(), "a different long key is a different item");
    // Deletes; adds only when absent; compare-and-set refuses a stale token.
    assert!(mc.delete("thread:1").await);
    assert!(mc.get("thread:1").await.is_none());
    assert!(!mc.delete("thread:1").await);
    assert_eq!(mc.add("thread:1", b"a", Duration::ZERO).await, CasOutcome::Stored);
    assert_eq!(mc.add("thread:1", b"b", Duration::ZERO).await, CasOutcome::Conflict);
    let read = mc.get("thread:1").await.unwrap();
    assert_eq!(mc.set_if_unchanged("thread:1", b"c", Duration::ZERO, read.cas).await, CasOutcome::Stored);
    assert_eq!(mc.set_if_unchanged("thread:1", b"d", Duration::ZERO, read.cas).await, CasOutcome::Conflict);
    assert_eq!(mc.get("thread:1").await.unwrap().value, b"c");
    // Expiry is the server's.
    assert!(mc.set("short", b"x", Duration::from_secs(1)).await);
    assert!(mc.get("short").await.is_some());
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert!(mc.get("short").await.is_none(), "expired");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_under_load_costs_no_error_and_returns_after_the_retry_timeout() {
    let mut servers: Vec<_> = (0..3).map(|_| memcached()).collect();
    let ports: Vec<u16> = servers.iter().map(|m| m.port).collect();
    let mc = Arc::new(pool(&ports, |c| {
        c.retry_timeout = Duration::from_millis(500);
        c.failure_limit = 2;
    }));
    let keys: Vec<String> = (0..600).map(|i| format!("page:{i}")).collect();
    let on_victim: Vec<&String> = keys.iter().filter(|k| mc.server_for(k) == Some(1)).collect();
    assert!(on_victim.len() > 100, "server 1 holds a share: {}", on_victim.len());
    // A key of server 1 that the load below does not touch.
    let probe = (0..).map(|i| format!("probe:{i}")).find(|k| mc.server_for(k) == Some(1)).unwrap();
    // Readers and writers run throughout; nothing they call can fail, so what is
    // counted is how the pool answered: hits and stores keep happening.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut load = Vec::new();
    for t in 0..8 {
        let (mc, keys, stop) = (Arc::clone(&mc), keys.clone(), Arc::clone(&stop));
        load.push(tokio::spawn(async move {
            let (mut stored, mut hits) = (0u64, 0u64);
            let mut i = t;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let k = &keys[i % keys.len()];
                if mc.set(k, b"v", Duration::ZERO).await {
                    stored += 1;
                }
                if mc.get(k).await.is_some() {
                    hits += 1;
                }
                i += 7;
            }
            (stored, hits)
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    servers[1].kill();
    // Taken out after the failure limit; its keys go to the others.
    let deadline = Instant::now() + Duration::from_secs(5);
    while mc.servers_out() == 0 {
        assert!(Instant::now() < deadline, "the dead server is taken out");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for k in &on_victim {
        assert_ne!(mc.server_for(k), Some(1), "{k} moved off the dead server");
    }
    assert_ne!(mc.server_for(&probe), Some(1));
    assert!(mc.set(&probe, b"moved", Duration::ZERO).await, "stored on another server");
    assert_eq!(mc.get(&probe).await.unwrap().value, b"moved");
    // Back on the same port: used again once the retry timeout has passed.
    servers[1].restart();
    tokio::time::sleep(Duration::from_millis(600)).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if mc.server_for(&probe) == Some(1) && mc.set(&probe, b"home", Duration::ZERO).await {
            break;
        }
        assert!(Instant::now() < deadline, "the returned server is used again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let alone = pool(&[ports[1]], |_| {});
    assert_eq!(alone.get(&probe).await.unwrap().value, b"home", "written on the returned server");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for l in load {
        let (stored, hits) = l.await.expect("no load task panicked");
        assert!(stored > 0 && hits > 0, "each task kept working: {stored} stored, {hits} hits");
    }
    assert_eq!(mc.servers_out(), 0);
}

#[tokio::test]
async fn a_server_that_never_answers_stalls_nobody_for_long() {
    // Accepts connections, reads nothing, answers nothing.
    let hole = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = hole.local_addr().unwrap().port();
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    let held = tokio::spawn(async move {
        let mut conns = Vec::new();
        while let Ok((c, _)) = hole.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            conns.push(c);
        }
    });
    let mc = pool(&[port], |c| {
        c.op_timeout = Duration::from_millis(100);
        c.failure_limit = 3;
    });
    let started = Instant::now();
    for _ in 0..3 {
        assert!(mc.get("k").await.is_none());
    }
    assert!(started.elapsed() < Duration::from_secs(2), "three timeouts, not a hang: {:?}", started.elapsed());
    assert_eq!(mc.servers_out(), 1, "taken out after three failures");
    // Out: answered without trying it (no new connection).
    let tries = accepted.load(std::sync::atomic::Ordering::SeqCst);
    assert!(tries >= 1);
    assert!(mc.get("k").await.is_none());
    assert!(!mc.set("k", b"v", Duration::ZERO).await);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), tries, "no connection to a server that is out");
    held.abort();
}

/// A server that hung (SIGSTOP) missed the writes made meanwhile; when it answers again
/// it must not serve what it held from before them: it is flushed before its first use.
#[tokio::test]
async fn a_server_that_hung_and_resumed_serves_nothing_from_before() {
    let servers: Vec<_> = (0..2).map(|_| memcached()).collect();
    let ports: Vec<u16> = servers.iter().map(|m| m.port).collect();
    let mc = pool(&ports, |c| {
        c.op_timeout = Duration::from_millis(100);
        c.failure_limit = 1;
        c.retry_timeout = Duration::from_millis(300);
    });
    let key = (0..).map(|i| format!("page:{i}")).find(|k| mc.server_for(k) == Some(0)).unwrap();
    assert!(mc.set(&key, b"old", Duration::ZERO).await);
    servers[0].pause();
    // The write that replaces it: refused by the hung server (now out), then stored on
    // the other one, where its key goes meanwhile.
    assert!(!mc.set(&key, b"new", Duration::ZERO).await);
    assert_eq!(mc.server_for(&key), Some(1));
    assert!(mc.set(&key, b"new", Duration::ZERO).await);
    servers[0].resume();
    // Once its retry timeout has passed the key is the resumed server's again.
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(mc.server_for(&key), Some(0));
    let read = mc.get(&key).await.map(|i| i.value);
    assert_ne!(read.as_deref(), Some(&b"old"[..]), "a value from before the write it missed");
    let alone = pool(&[ports[0]], |_| {});
    assert!(alone.get(&key).await.is_none(), "flushed before it was used again");
}
