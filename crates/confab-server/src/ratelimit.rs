//! Rate limits: GCRA (the generic cell rate algorithm) per key, in memory.
//!
//! Written here rather than taken from `governor`: the limiter must run on the app's
//! `Clock` (so tests move time by hand, as for edit windows), and one locked map
//! operation per check is all it needs. The check and the update happen under the
//! shard's lock, so limits are exact under concurrency: with a burst of 10, exactly 10
//! of 50 simultaneous requests pass.
//!
//! Clients are grouped by network, as abusers rotate addresses within one: IPv4 by /24,
//! IPv6 by /48. The address is the TCP peer's, or the one a configured proxy reports in
//! `X-Forwarded-For`.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Mutex;

use axum::http::HeaderMap;
use confab_core::model::UnixMs;

/// Sustained rate and burst. `per_minute == 0` turns the limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub per_minute: u32,
    pub burst: u32,
}

impl Quota {
    pub const OFF: Quota = Quota { per_minute: 0, burst: 0 };
}

/// What is limited, and by which key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    PostsFromNetwork(IpAddr),
    VotesFromNetwork(IpAddr),
    PostsInForum(confab_core::id::Id),
    /// A signed-in person (account, or a forum's SSO user), by their derived voter key.
    PostsByPerson([u8; 32]),
    VotesByPerson([u8; 32]),
    SignupsFromNetwork(IpAddr),
    LoginsFromNetwork(IpAddr),
    /// SHA-256 of the login name as typed (normalised), so the key holds no address,
    /// with the network trying it: someone hammering a name from their network must not
    /// lock its owner out of theirs (`None`: the owner's own re-check of their password).
    LoginsForName([u8; 32], Option<IpAddr>),
    ResetsFromNetwork(IpAddr),
    ResetsForEmail([u8; 32]),
}

const SHARDS: usize = 16;

/// One GCRA state per key: the theoretical arrival time of the next request (ms).
pub struct Limiter {
    shards: Vec<Mutex<HashMap<Key, UnixMs>>>,
    hasher: std::collections::hash_map::RandomState,
}

impl Default for Limiter {
    fn default() -> Self {
        Limiter {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: std::collections::hash_map::RandomState::new(),
        }
    }
}

impl Limiter {
    /// Ok if the request may go ahead (and counts it); else how many ms to wait.
    pub fn check(&self, key: Key, quota: Quota, now: UnixMs) -> Result<(), u64> {
        if quota.per_minute == 0 {
            return Ok(());
        }
        let interval = 60_000 / i64::from(quota.per_minute.max(1));
        let tolerance = interval * i64::from(quota.burst.max(1) - 1);
        let shard = &self.shards[(self.hasher.hash_one(&key) as usize) % SHARDS];
        let mut map = shard.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Keys whose state has fully drained say nothing: sweep them now and then.
        if map.len() > 4096 && map.len().is_power_of_two() {
            map.retain(|_, tat| *tat > now);
        }
        let tat = map.get(&key).copied().unwrap_or(now).max(now);
        if tat - now > tolerance {
            return Err((tat - tolerance - now) as u64);
        }
        map.insert(key, tat + interval);
        Ok(())
    }
}

/// A keyed hash of an address's network ([`network`]): the same for every address of one
/// /24 or /48, meaningless without the server's key. Posts keep this instead of an
/// address, so moderators can find the posts from the network of an address they have.
pub fn network_hash(key: &[u8], ip: IpAddr) -> [u8; 32] {
    use hmac::{Hmac, Mac};
    let mut m = Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(b"post network\0");
    m.update(network(ip).to_string().as_bytes());
    m.finalize().into_bytes().into()
}

/// The network a client address belongs to, for limiting.
pub fn network(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            IpAddr::V4(Ipv4Addr::new(a, b, c, 0))
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => network(IpAddr::V4(v4)),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], 0, 0, 0, 0, 0))
            }
        },
    }
}

/// A trusted proxy network, `10.0.0.0/8` or a single address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (a, p) = s.split_once('/').map_or((s, None), |(a, p)| (a, Some(p)));
        let addr: IpAddr = a.trim().parse().map_err(|_| format!("{s:?} is not an IP address or network"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            None => max,
            Some(p) => p.trim().parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(|| format!("{s:?}: bad prefix"))?,
        };
        Ok(Cidr { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        fn bits(ip: IpAddr) -> u128 {
            match ip {
                IpAddr::V4(v4) => u128::from(u32::from(v4)) << 96,
                IpAddr::V6(v6) => u128::from(v6),
            }
        }
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        if ip.is_ipv4() != self.addr.is_ipv4() {
            return false;
        }
        let mask = if self.prefix == 0 { 0 } else { u128::MAX << (128 - u32::from(self.prefix)) };
        bits(ip) & mask == bits(self.addr) & mask
    }
}

/// The client's address: the TCP peer's, unless the peer is a trusted proxy, in which
/// case the right-most address in `X-Forwarded-For` that is not itself a trusted proxy.
/// A forged header from an untrusted peer is ignored.
pub fn client_ip(peer: Option<SocketAddr>, headers: &HeaderMap, proxies: &[Cidr]) -> Option<IpAddr> {
    let peer = peer?.ip();
    if !proxies.iter().any(|c| c.contains(peer)) {
        return Some(peer);
    }
    let chain: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    Some(chain.into_iter().rev().find(|ip| !proxies.iter().any(|c| c.contains(*ip))).unwrap_or(peer))
}

#[cfg(test)]
mod tests {
    use super::*;

    const Q: Quota = Quota { per_minute: 6, burst: 3 };

    #[test]
    fn a_burst_then_the_sustained_rate() {
        let l = Limiter::default();
        let k = || Key::PostsFromNetwork(network("10.1.2.3".parse().unwrap()));
        for _ in 0..3 {
            assert_eq!(l.check(k(), Q, 0), Ok(()));
        }
        assert_eq!(l.check(k(), Q, 0), Err(10_000), "one slot every 10 s");
        assert_eq!(l.check(k(), Q, 9_999), Err(1));
        assert_eq!(l.check(k(), Q, 10_000), Ok(()));
        assert!(l.check(k(), Q, 10_000).is_err());
        // A quiet minute restores the whole burst.
        for _ in 0..3 {
            assert_eq!(l.check(k(), Q, 100_000), Ok(()));
        }
        assert_eq!(l.check(Key::PostsFromNetwork(network("10.1.3.3".parse().unwrap())), Q, 100_000), Ok(()));
        assert_eq!(l.check(k(), Quota::OFF, 100_000), Ok(()), "off means off");
    }

    #[test]
    fn exact_under_concurrency() {
        let l = std::sync::Arc::new(Limiter::default());
        let q = Quota { per_minute: 1, burst: 10 };
        let passed: usize = (0..50)
            .map(|_| {
                let l = std::sync::Arc::clone(&l);
                std::thread::spawn(move || l.check(Key::VotesFromNetwork("::1".parse().unwrap()), q, 5).is_ok())
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| usize::from(t.join().unwrap()))
            .sum();
        assert_eq!(passed, 10);
    }

    #[test]
    fn networks_group_addresses() {
        let n = |s: &str| network(s.parse().unwrap()).to_string();
        assert_eq!(n("203.0.113.77"), "203.0.113.0");
        assert_eq!(n("2001:db8:abcd:12:1::7"), "2001:db8:abcd::");
        assert_eq!(n("::ffff:203.0.113.9"), "203.0.113.0", "mapped IPv4 groups as IPv4");
    }

    #[test]
    fn forwarded_addresses_count_only_from_trusted_proxies() {
        let proxies = [Cidr::parse("10.0.0.0/8").unwrap(), Cidr::parse("::1").unwrap()];
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", "198.51.100.4, 203.0.113.9, 10.0.0.2".parse().unwrap());
        let peer = |s: &str| Some(SocketAddr::new(s.parse().unwrap(), 1));
        assert_eq!(client_ip(peer("10.1.1.1"), &h, &proxies), Some("203.0.113.9".parse().unwrap()));
        assert_eq!(client_ip(peer("192.0.2.1"), &h, &proxies), Some("192.0.2.1".parse().unwrap()), "forged");
        assert_eq!(client_ip(peer("10.1.1.1"), &HeaderMap::new(), &proxies), Some("10.1.1.1".parse().unwrap()));
        assert_eq!(client_ip(None, &h, &proxies), None);
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("nonsense").is_err());
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains("8.8.8.8".parse().unwrap()));
        assert!(!Cidr::parse("10.0.0.0/8").unwrap().contains("::1".parse().unwrap()));
    }
}
