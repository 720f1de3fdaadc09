//! libmemcached's consistent hashing ("ketama"), point for point.
//!
//! Written by hand because compatibility is the whole point and no maintained crate
//! reproduces libmemcached 1.x exactly: its point names (`host:port-i`, or `host-i` on
//! the default port), its per-distribution hashes (one-at-a-time by default, MD5 when
//! weighted), the single-precision arithmetic that sizes weighted servers, ties broken
//! by server index, and the one-server shortcut. `tests/ketama_pylibmc.rs` checks it
//! against libmemcached itself (Debian's pylibmc) key by key.
//!
//! Two distributions, as pylibmc names their behaviours:
//! - [`Distribution::Weighted`] (`ketama_weighted`, `MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED`):
//!   160 points per server scaled by weight, four per MD5 digest, keys hashed with MD5 —
//!   the classic libketama continuum, which other ketama clients share.
//! - [`Distribution::Ketama`] (`ketama`, `MEMCACHED_BEHAVIOR_KETAMA`): 100 points per
//!   server, each the key hash of its name; weights are ignored.
//!
//! Servers taken out (auto-eject) are left out of the continuum, as libmemcached
//! rebuilds it, so their keys spread over the others and come back with them.

use md5::{Digest, Md5};

/// memcached's default port, which libmemcached leaves out of point names.
const DEFAULT_PORT: u16 = 11211;
const POINTS_PER_SERVER: u32 = 100;
const POINTS_PER_SERVER_KETAMA: u32 = 160;

/// A memcached server as libmemcached is given it: the host exactly as written (names
/// are hashed as text, so `localhost` and `127.0.0.1` are different servers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    pub host: String,
    pub port: u16,
    pub weight: u32,
}

impl Server {
    pub fn new(host: &str, port: u16) -> Server {
        Server { host: host.to_owned(), port, weight: 1 }
    }

    /// The name each of its points is hashed from.
    fn point_name(&self, i: u32) -> String {
        if self.port == DEFAULT_PORT {
            format!("{}-{i}", self.host)
        } else {
            format!("{}:{}-{i}", self.host, self.port)
        }
    }
}

/// The key hash of [`Distribution::Ketama`] (`hash` behaviour).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyHash {
    /// libmemcached's default: Bob Jenkins' one-at-a-time.
    OneAtATime,
    Md5,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distribution {
    Weighted,
    Ketama(KeyHash),
}

/// The continuum for one list of servers, some of which may be out.
#[derive(Debug, Clone)]
pub struct Ring {
    /// (point, server index), sorted.
    points: Vec<(u32, u32)>,
    hash: KeyHash,
    /// How many servers the list has, in or out (one server: every key is its).
    total: usize,
}

impl Ring {
    /// Every server in.
    pub fn new(servers: &[Server], distribution: Distribution) -> Ring {
        Ring::with_live(servers, distribution, |_| true)
    }

    /// Only the servers `live` accepts (by index in `servers`) get points; indexes in
    /// answers are still those of `servers`.
    pub fn with_live(servers: &[Server], distribution: Distribution, live: impl Fn(usize) -> bool) -> Ring {
        let live_list: Vec<(usize, &Server)> = servers.iter().enumerate().filter(|(i, _)| live(*i)).collect();
        let mut points = Vec::new();
        let hash = match distribution {
            Distribution::Weighted => KeyHash::Md5,
            Distribution::Ketama(h) => h,
        };
        match distribution {
            Distribution::Weighted => {
                let total_weight: u64 = live_list.iter().map(|(_, s)| u64::from(s.weight)).sum();
                let live_count = live_list.len() as f32;
                for (index, server) in &live_list {
                    // As libmemcached computes it, in single precision.
                    let pct = server.weight as f32 / total_weight as f32;
                    let per_server = ((pct * POINTS_PER_SERVER_KETAMA as f32 / 4.0 * live_count + 0.000_000_000_1_f32)
                        .floor() as u32)
                        * 4;
                    for i in 0..per_server / 4 {
                        let digest = Md5::digest(server.point_name(i).as_bytes());
                        for align in 0..4 {
                            let b = &digest[align * 4..align * 4 + 4];
                            points.push((u32::from_le_bytes([b[0], b[1], b[2], b[3]]), *index as u32));
                        }
                    }
                }
            }
            Distribution::Ketama(h) => {
                for (index, server) in &live_list {
                    for i in 0..POINTS_PER_SERVER {
                        points.push((key_hash(h, server.point_name(i).as_bytes()), *index as u32));
                    }
                }
            }
        }
        points.sort_unstable();
        Ring { points, hash, total: servers.len() }
    }

    /// The index of the server `key` lives on, or `None` when every server is out.
    pub fn server_for(&self, key: &[u8]) -> Option<usize> {
        // libmemcached skips hashing when the list has one server.
        let h = if self.total == 1 { 0 } else { key_hash(self.hash, key) };
        let at = self.points.partition_point(|(p, _)| *p < h);
        let (_, index) = self.points.get(at).or_else(|| self.points.first())?;
        Some(*index as usize)
    }

    /// Points on the continuum.
    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }
}

fn key_hash(h: KeyHash, key: &[u8]) -> u32 {
    match h {
        KeyHash::OneAtATime => one_at_a_time(key),
        KeyHash::Md5 => {
            let d = Md5::digest(key);
            u32::from_le_bytes([d[0], d[1], d[2], d[3]])
        }
    }
}

/// libhashkit's `hashkit_one_at_a_time`, whose bytes are C `char`s: signed on the
/// platforms libmemcached ships for, so bytes from 0x80 are sign-extended.
fn one_at_a_time(key: &[u8]) -> u32 {
    let mut v: u32 = 0;
    for &b in key {
        v = v.wrapping_add(b as i8 as i32 as u32);
        v = v.wrapping_add(v << 10);
        v ^= v >> 6;
    }
    v = v.wrapping_add(v << 3);
    v ^= v >> 11;
    v.wrapping_add(v << 15)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn servers(n: u16) -> Vec<Server> {
        (0..n).map(|i| Server::new("10.0.0.1", 11211 + i)).collect()
    }

    #[test]
    fn one_at_a_time_matches_the_reference_values() {
        // Bob Jenkins' published value for "a"; a high byte counts as C's signed char.
        assert_eq!(one_at_a_time(b""), 0);
        assert_eq!(one_at_a_time(b"a"), 0xca2e_9442);
        assert_ne!(one_at_a_time(&[0xc3]), one_at_a_time(&[0x43]));
    }

    #[test]
    fn point_names_leave_out_the_default_port() {
        assert_eq!(Server::new("cache1", 11211).point_name(3), "cache1-3");
        assert_eq!(Server::new("10.0.0.2", 11311).point_name(0), "10.0.0.2:11311-0");
    }

    #[test]
    fn continuum_sizes_follow_libmemcached() {
        assert_eq!(Ring::new(&servers(3), Distribution::Ketama(KeyHash::OneAtATime)).len(), 300);
        assert_eq!(Ring::new(&servers(3), Distribution::Weighted).len(), 480);
        // Weighted: 160 points per server on average, four per digest, rounded down.
        let mut s = servers(3);
        s[0].weight = 2;
        let ring = Ring::new(&s, Distribution::Weighted);
        let heavy = (0..20_000).filter(|i| ring.server_for(format!("k{i}").as_bytes()) == Some(0)).count();
        assert!((8_000..12_000).contains(&heavy), "a double weight takes about half: {heavy}");
        assert_eq!(Ring::with_live(&servers(2), Distribution::Weighted, |_| false).server_for(b"k"), None);
        assert_eq!(Ring::new(&servers(1), Distribution::Weighted).server_for(b"anything"), Some(0));
    }

    proptest! {
        /// Adding a server moves about 1/n of the keys, all of them to the new server;
        /// taking one out moves only its keys.
        #[test]
        fn adding_a_server_moves_about_its_share(n in 2u16..8, weighted in any::<bool>()) {
            let d = if weighted { Distribution::Weighted } else { Distribution::Ketama(KeyHash::OneAtATime) };
            let before = Ring::new(&servers(n), d);
            let after = Ring::new(&servers(n + 1), d);
            let keys: Vec<String> = (0..4000).map(|i| format!("thread:{i}")).collect();
            let mut moved = 0;
            for k in &keys {
                let (a, b) = (before.server_for(k.as_bytes()), after.server_for(k.as_bytes()));
                if a != b {
                    prop_assert_eq!(b, Some(usize::from(n)), "keys move only to the new server");
                    moved += 1;
                }
            }
            let share = f64::from(moved) / keys.len() as f64;
            let expected = 1.0 / f64::from(n + 1);
            prop_assert!((share - expected).abs() < expected * 0.5, "moved {share:.3}, expected about {expected:.3}");
            let out = Ring::with_live(&servers(n + 1), d, |i| i != 0);
            for k in &keys {
                let (a, b) = (after.server_for(k.as_bytes()), out.server_for(k.as_bytes()));
                if a != Some(0) {
                    prop_assert_eq!(a, b, "only the ejected server's keys move");
                } else {
                    prop_assert_ne!(b, Some(0));
                }
            }
        }
    }
}
