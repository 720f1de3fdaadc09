//! Outbound HTTP (webhooks, the outside spam service) behind one guard. A site owner
//! chooses the URL, so an attacker can too: every address a request connects to must
//! be public — not loopback, private, link-local (cloud metadata lives there),
//! multicast, documentation or reserved space — unless the operator allows loopback
//! or private networks (tests allow loopback). The check runs on resolved addresses
//! (a name that resolves to 127.0.0.1 is refused like the literal), on literal hosts,
//! and on every redirect. Connect and total timeouts bound each request and at most
//! `max_response_bytes` of a response is read.
//!
//! The address classification is written here because the standard library's
//! `IpAddr::is_global` is still unstable and the crates that offer it cover less
//! (NAT64, 6to4 and mapped addresses carry an IPv4 address that must be checked too).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// The guard's settings.
#[derive(Debug, Clone)]
pub struct OutboundPolicy {
    /// Allow 127.0.0.0/8 and ::1 (tests, a receiver on the same machine).
    pub allow_loopback: bool,
    /// Allow private networks (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7).
    pub allow_private: bool,
    pub connect_timeout: Duration,
    pub total_timeout: Duration,
    pub max_response_bytes: usize,
    /// Redirects followed (each one checked).
    pub max_redirects: usize,
}

impl Default for OutboundPolicy {
    fn default() -> Self {
        OutboundPolicy {
            allow_loopback: false,
            allow_private: false,
            connect_timeout: Duration::from_secs(5),
            total_timeout: Duration::from_secs(15),
            max_response_bytes: 64 * 1024,
            max_redirects: 3,
        }
    }
}

/// What kind of network an address belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    Public,
    Loopback,
    Private,
    /// Never allowed: unspecified, link-local (metadata), multicast, broadcast,
    /// documentation, benchmarking, reserved, tunnels.
    Forbidden,
}

pub fn classify(ip: IpAddr) -> Reach {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Reach {
    let [a, b, c, _] = ip.octets();
    match (a, b, c) {
        (127, _, _) => Reach::Loopback,
        (10, _, _) | (192, 168, _) => Reach::Private,
        (172, 16..=31, _) => Reach::Private,
        // Shared address space (carrier NAT); Alibaba's metadata service sits here.
        (100, 64..=127, _) if ip != Ipv4Addr::new(100, 100, 100, 200) => Reach::Private,
        (100, 64..=127, _) => Reach::Forbidden,
        (0, _, _) | (169, 254, _) | (224..=255, _, _) => Reach::Forbidden,
        (192, 0, 0) | (192, 0, 2) | (198, 51, 100) | (203, 0, 113) | (198, 18..=19, _) => Reach::Forbidden,
        _ => Reach::Public,
    }
}

fn classify_v6(ip: Ipv6Addr) -> Reach {
    if ip.is_loopback() {
        return Reach::Loopback;
    }
    if ip.is_unspecified() {
        return Reach::Forbidden;
    }
    let s = ip.segments();
    // Addresses that carry an IPv4 address: judge by that address.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    let embedded = |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        return classify_v4(embedded(s[6], s[7])); // NAT64
    }
    if s[0] == 0x2002 {
        return classify_v4(embedded(s[1], s[2])); // 6to4
    }
    if s[..6] == [0, 0, 0, 0, 0, 0] {
        return Reach::Forbidden; // IPv4-compatible (deprecated)
    }
    match s[0] {
        0xfc00..=0xfdff => {
            if ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
                Reach::Forbidden // AWS's IPv6 metadata service
            } else {
                Reach::Private
            }
        }
        0xfec0..=0xfeff => Reach::Private,   // site-local (deprecated)
        0xfe80..=0xfebf => Reach::Forbidden, // link-local
        0xff00..=0xffff => Reach::Forbidden, // multicast
        0x2001 if s[1] == 0x0db8 || s[1] == 0 => Reach::Forbidden, // documentation, Teredo
        0x0100 if s[1..4] == [0, 0, 0] => Reach::Forbidden, // discard-only
        0x2000..=0x3fff => Reach::Public,
        _ => Reach::Forbidden, // not allocated as global unicast
    }
}

impl OutboundPolicy {
    pub fn allows(&self, ip: IpAddr) -> bool {
        match classify(ip) {
            Reach::Public => true,
            Reach::Loopback => self.allow_loopback,
            Reach::Private => self.allow_private,
            Reach::Forbidden => false,
        }
    }

    /// Checks what can be checked without a lookup: scheme, credentials, and a host
    /// that is an address literal.
    pub fn check_url(&self, url: &url::Url) -> Result<(), Blocked> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Blocked("only http and https URLs".into()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Blocked("URLs must not carry credentials".into()));
        }
        match url.host() {
            None => Err(Blocked("the URL has no host".into())),
            Some(url::Host::Ipv4(ip)) if !self.allows(IpAddr::V4(ip)) => Err(Blocked::address()),
            Some(url::Host::Ipv6(ip)) if !self.allows(IpAddr::V6(ip)) => Err(Blocked::address()),
            Some(_) => Ok(()),
        }
    }
}

/// A request the guard refused. Permanent: trying again will not help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked(pub String);

impl Blocked {
    fn address() -> Self {
        Blocked("the address is not public (loopback, private, link-local or reserved)".into())
    }
}

impl std::fmt::Display for Blocked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Blocked {}

/// Resolves names and drops every address the policy forbids; a name left with none
/// fails with [`Blocked`].
struct GuardedResolver(Arc<OutboundPolicy>);

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = Arc::clone(&self.0);
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found.iter().copied().filter(|a| policy.allows(a.ip())).collect();
            if allowed.is_empty() {
                let why = if found.is_empty() { Blocked("the name has no address".into()) } else { Blocked::address() };
                return Err(Box::new(why) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// How a request went.
#[derive(Debug)]
pub enum SendError {
    /// The guard refused it (permanent).
    Blocked(Blocked),
    /// Timeout, refused connection, reset… (worth retrying).
    Transport(String),
}

/// A response, its body capped.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

/// The guarded HTTP client.
#[derive(Clone)]
pub struct Outbound {
    client: reqwest::Client,
    policy: Arc<OutboundPolicy>,
}

impl Outbound {
    pub fn new(policy: OutboundPolicy) -> Result<Self, String> {
        let policy = Arc::new(policy);
        let redirect_policy = Arc::clone(&policy);
        let max_redirects = policy.max_redirects;
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() > max_redirects {
                return attempt.error(Blocked("too many redirects".into()));
            }
            match redirect_policy.check_url(attempt.url()) {
                Ok(()) => attempt.follow(),
                Err(b) => attempt.error(b),
            }
        });
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(GuardedResolver(Arc::clone(&policy))))
            .redirect(redirects)
            .no_proxy()
            .connect_timeout(policy.connect_timeout)
            .timeout(policy.total_timeout)
            .user_agent(concat!("Confab/", env!("CARGO_PKG_VERSION"), " (webhooks)"))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Outbound { client, policy })
    }

    pub fn policy(&self) -> &OutboundPolicy {
        &self.policy
    }

    /// POSTs `body` with `headers`; returns the status. Reads (and discards) at most
    /// the policy's response cap, so a receiver cannot hold a worker with a huge body.
    pub async fn post(
        &self,
        url: &url::Url,
        headers: Vec<(&'static str, String)>,
        body: String,
    ) -> Result<u16, SendError> {
        self.exchange(url, headers, body).await.map(|r| r.status)
    }

    /// POSTs and returns the status, the response headers and at most the policy's
    /// response cap of its body.
    pub async fn exchange(
        &self,
        url: &url::Url,
        headers: Vec<(&'static str, String)>,
        body: String,
    ) -> Result<Reply, SendError> {
        self.policy.check_url(url).map_err(SendError::Blocked)?;
        let mut req = self.client.post(url.clone()).body(body);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        let mut resp = req.send().await.map_err(classify_error)?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let mut body = Vec::new();
        while body.len() < self.policy.max_response_bytes {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    let room = self.policy.max_response_bytes - body.len();
                    body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                }
                Ok(None) => break,
                // What arrived is what counts; a body cut short does not change the status.
                Err(_) => break,
            }
        }
        Ok(Reply { status, headers, body })
    }
}

fn classify_error(e: reqwest::Error) -> SendError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(s) = source {
        if let Some(b) = s.downcast_ref::<Blocked>() {
            return SendError::Blocked(b.clone());
        }
        source = s.source();
    }
    let what = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "could not connect".to_owned()
    } else if e.is_redirect() {
        "redirect refused".to_owned()
    } else {
        // reqwest's message names the URL, which is the owner's own configuration.
        format!("request failed: {e}")
    };
    SendError::Transport(what)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reach(s: &str) -> Reach {
        classify(s.parse().unwrap())
    }

    #[test]
    fn addresses_are_classified() {
        for public in ["1.1.1.1", "8.8.8.8", "93.184.216.34", "2606:4700:4700::1111", "2a00:1450:4001:81c::200e"] {
            assert_eq!(reach(public), Reach::Public, "{public}");
        }
        for lo in ["127.0.0.1", "127.255.0.9", "::1", "::ffff:127.0.0.1"] {
            assert_eq!(reach(lo), Reach::Loopback, "{lo}");
        }
        for private in ["10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1", "100.64.0.1", "fd12:3456::1"] {
            assert_eq!(reach(private), Reach::Private, "{private}");
        }
        for forbidden in [
            "0.0.0.0",
            "169.254.169.254",
            "100.100.100.200",
            "fd00:ec2::254",
            "fe80::1",
            "224.0.0.1",
            "255.255.255.255",
            "192.0.2.1",
            "198.18.0.1",
            "::",
            "ff02::1",
            "2001:db8::1",
            "2001::1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:a9fe:a9fe::1",
            "::127.0.0.1",
        ] {
            assert_eq!(reach(forbidden), Reach::Forbidden, "{forbidden}");
        }
        assert_eq!(reach("172.32.0.1"), Reach::Public);
        assert_eq!(reach("64:ff9b::808:808"), Reach::Public, "NAT64 of 8.8.8.8");
        assert_eq!(reach("2002:0a00:0001::1"), Reach::Private, "6to4 of 10.0.0.1");
    }

    #[test]
    fn the_policy_allows_loopback_and_private_only_when_told() {
        let strict = OutboundPolicy::default();
        let local = OutboundPolicy { allow_loopback: true, ..OutboundPolicy::default() };
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(!strict.allows(ip("127.0.0.1")) && local.allows(ip("127.0.0.1")));
        assert!(!local.allows(ip("10.0.0.1")), "loopback is not private");
        assert!(
            !local.allows(ip("169.254.169.254"))
                && !OutboundPolicy { allow_private: true, ..local.clone() }.allows(ip("169.254.169.254"))
        );
        let url = |s: &str| url::Url::parse(s).unwrap();
        assert!(strict.check_url(&url("https://example.com/hook")).is_ok());
        assert!(strict.check_url(&url("http://127.0.0.1:9/")).is_err());
        assert!(strict.check_url(&url("http://[::ffff:7f00:1]/")).is_err());
        assert!(strict.check_url(&url("http://2130706433/")).is_err(), "decimal 127.0.0.1 parses as an address");
        assert!(strict.check_url(&url("ftp://example.com/")).is_err());
        assert!(strict.check_url(&url("https://user:pw@example.com/")).is_err());
        assert!(local.check_url(&url("http://127.0.0.1:9/")).is_ok());
    }

    proptest! {
        #[test]
        fn a_mapped_address_is_judged_as_its_ipv4(a: u8, b: u8, c: u8, d: u8) {
            let v4 = Ipv4Addr::new(a, b, c, d);
            prop_assert_eq!(classify(IpAddr::V6(v4.to_ipv6_mapped())), classify(IpAddr::V4(v4)));
            let s = Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, u16::from_be_bytes([a, b]), u16::from_be_bytes([c, d]));
            prop_assert_eq!(classify(IpAddr::V6(s)), classify(IpAddr::V4(v4)));
        }
    }
}
