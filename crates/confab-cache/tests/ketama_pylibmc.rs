//! Our ketama against libmemcached itself: real memcached servers on loopback (Debian's
//! `memcached`), keys stored through Debian's pylibmc (libmemcached 1.1) with the ketama
//! behaviours, then each server asked which keys it holds — for 10,000 keys on 3
//! servers, then 4, then 3 again with one taken out, weighted and not. Every key must
//! be where libmemcached put it. `scripts/test-deps` installs the servers and pylibmc.

use confab_cache::testing as common;

use std::process::Command;

use common::memcached;
use confab_cache::ketama::{Distribution, KeyHash, Ring, Server};

/// 10,000 keys of the shapes Confab uses, some with bytes above 0x7f (which
/// libmemcached hashes as signed chars), none with spaces or control characters.
fn keys() -> Vec<String> {
    (0..10_000)
        .map(|i| match i % 4 {
            0 => format!("thread:{i}"),
            1 => format!("c:f{}:t{i}:newest:v{}", i % 97, i % 7),
            2 => format!("author:{}", 1_000_000_007u64.wrapping_mul(i)),
            _ => format!("page:ü{i}:é"),
        })
        .collect()
}

/// Where libmemcached put each key, by server index.
fn libmemcached_placement(behaviours: &str, servers: &[(u16, u32)], keys_file: &std::path::Path) -> Vec<i64> {
    let specs: Vec<String> = servers.iter().map(|(p, w)| format!("127.0.0.1:{p}:{w}")).collect();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/pylibmc_map.py");
    // Debian's interpreter, where python3-pylibmc is installed.
    let out = Command::new("/usr/bin/python3")
        .args([script, behaviours, &serde_json::to_string(&specs).unwrap(), keys_file.to_str().unwrap()])
        .output()
        .expect("run /usr/bin/python3 (scripts/test-deps installs python3-pylibmc)");
    assert!(out.status.success(), "pylibmc: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn check(
    behaviours: &str,
    distribution: Distribution,
    servers: &[(u16, u32)],
    keys: &[String],
    file: &std::path::Path,
) {
    let theirs = libmemcached_placement(behaviours, servers, file);
    let list: Vec<Server> =
        servers.iter().map(|(p, w)| Server { host: "127.0.0.1".into(), port: *p, weight: *w }).collect();
    let ring = Ring::new(&list, distribution);
    let mut differ = Vec::new();
    for (k, there) in keys.iter().zip(&theirs) {
        let ours = ring.server_for(k.as_bytes()).map_or(-1, |i| i as i64);
        if ours != *there {
            differ.push((k.clone(), ours, *there));
        }
    }
    assert!(
        differ.is_empty(),
        "{behaviours} on {} servers: {} of {} keys differ, e.g. {:?}",
        servers.len(),
        differ.len(),
        keys.len(),
        &differ[..differ.len().min(5)]
    );
    // Every server got some: the comparison is not vacuous.
    for i in 0..servers.len() as i64 {
        assert!(theirs.contains(&i), "server {i} holds keys");
    }
}

#[test]
fn every_key_lands_where_libmemcached_puts_it() {
    let servers: Vec<common::Memcached> = (0..4).map(|_| memcached()).collect();
    let keys = keys();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keys.txt");
    std::fs::write(&file, keys.join("\n")).unwrap();
    let p: Vec<u16> = servers.iter().map(|m| m.port).collect();
    let cases: [(&str, Distribution); 3] = [
        (r#"{"ketama_weighted": true}"#, Distribution::Weighted),
        (r#"{"ketama": true}"#, Distribution::Ketama(KeyHash::OneAtATime)),
        (r#"{"ketama": true, "hash": "md5"}"#, Distribution::Ketama(KeyHash::Md5)),
    ];
    for (behaviours, distribution) in cases {
        // Three servers, then a fourth added, then the second of the four removed.
        check(behaviours, distribution, &[(p[0], 1), (p[1], 1), (p[2], 1)], &keys, &file);
        check(behaviours, distribution, &[(p[0], 1), (p[1], 1), (p[2], 1), (p[3], 1)], &keys, &file);
        check(behaviours, distribution, &[(p[0], 1), (p[2], 1), (p[3], 1)], &keys, &file);
    }
    // Weights, which only the weighted distribution reads.
    check(r#"{"ketama_weighted": true}"#, Distribution::Weighted, &[(p[0], 3), (p[1], 1), (p[2], 2)], &keys, &file);
}
