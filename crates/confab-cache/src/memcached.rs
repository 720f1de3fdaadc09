//! A memcached pool: keys placed by libmemcached-compatible [`ketama`](crate::ketama),
//! connect and operation timeouts, and libmemcached's auto-eject: a server that fails
//! `failure_limit` times in a row leaves the continuum (its keys spread over the
//! others) and is tried again after `retry_timeout`. A cache outage degrades to
//! misses and unstored values, never to errors for the caller.
//!
//! Written on tokio by hand, over memcached's meta protocol (`mg`/`ms`/`md`, memcached
//! 1.6+), because the client crates available do not place keys as libmemcached does
//! nor eject dead servers; the protocol part is small and tested against real servers.
//!
//! A server that failed may have missed writes (deletes and sets sent while it hung):
//! before it is used again it is flushed (`flush_all`), so it never serves a value that
//! a write made meanwhile replaced. Its keys are misses then, which the cache's stampede
//! protection absorbs.
//!
//! Keys memcached cannot take (over 250 bytes, or with spaces or control characters)
//! are replaced by a digest of themselves ([`wire_key`]), the same on every node.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::ketama::{Distribution, Ring, Server};

/// memcached's longest key.
pub const MAX_KEY: usize = 250;
/// The largest value stored (memcached's default item size limit is 1 MiB).
pub const MAX_VALUE: usize = 1024 * 1024 - 512;

#[derive(Debug, Clone)]
pub struct MemcachedConfig {
    pub servers: Vec<Server>,
    pub distribution: Distribution,
    pub connect_timeout: Duration,
    /// For one request and its answer.
    pub op_timeout: Duration,
    /// Consecutive failures that take a server out (libmemcached's
    /// `server_failure_limit` with `remove_failed_servers`).
    pub failure_limit: u32,
    /// How long a server stays out before it is tried again.
    pub retry_timeout: Duration,
    /// Idle connections kept per server.
    pub idle_per_server: usize,
}

impl MemcachedConfig {
    pub fn new(servers: Vec<Server>) -> MemcachedConfig {
        MemcachedConfig {
            servers,
            distribution: Distribution::Weighted,
            connect_timeout: Duration::from_millis(250),
            op_timeout: Duration::from_millis(250),
            failure_limit: 2,
            retry_timeout: Duration::from_secs(10),
            idle_per_server: 16,
        }
    }
}

/// A value and the token a compare-and-set needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub value: Vec<u8>,
    pub cas: u64,
}

/// What a conditional set found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CasOutcome {
    Stored,
    /// Someone else wrote (or removed) the item since it was read.
    Conflict,
    /// The server was not reachable; nothing was stored.
    Unavailable,
}

#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("timed out")]
    Timeout,
    #[error("unexpected answer: {0}")]
    Protocol(String),
}

struct Node {
    addr: String,
    idle: Mutex<Vec<BufReader<TcpStream>>>,
    failures: AtomicU32,
    /// Unix ms until which the server is out; 0 when in.
    out_until: AtomicU64,
    /// It failed since it was last flushed: what it holds may be older than writes it
    /// missed. Cleared by a `flush_all` before its next use.
    suspect: AtomicBool,
    /// One flush at a time; requests wait for it rather than read what it would clear.
    flushing: tokio::sync::Mutex<()>,
}

pub struct Memcached {
    cfg: MemcachedConfig,
    nodes: Vec<Node>,
    /// The continuum over the servers in, and which servers it was built with.
    ring: RwLock<(Ring, Vec<bool>)>,
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// memcached's TTL in seconds: rounded up (a part second must not become 0, which
/// means "never expires"), and at most 30 days (beyond, memcached reads a timestamp).
fn ttl_secs(ttl: Duration) -> u64 {
    const MAX: u64 = 30 * 24 * 3600;
    (ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0)).min(MAX)
}

/// The key as sent: itself when memcached accepts it, else `h:` and the hex SHA-256
/// of it (so long keys stay distinct and every node maps them alike).
pub fn wire_key(key: &str) -> std::borrow::Cow<'_, str> {
    let ok = !key.is_empty() && key.len() <= MAX_KEY && key.bytes().all(|b| b > b' ' && b != 0x7f);
    if ok {
        std::borrow::Cow::Borrowed(key)
    } else {
        std::borrow::Cow::Owned(format!("h:{:x}", Sha256::digest(key.as_bytes())))
    }
}

impl Memcached {
    pub fn new(cfg: MemcachedConfig) -> Memcached {
        let nodes = cfg
            .servers
            .iter()
            .map(|s| Node {
                addr: format!("{}:{}", s.host, s.port),
                idle: Mutex::new(Vec::new()),
                failures: AtomicU32::new(0),
                out_until: AtomicU64::new(0),
                suspect: AtomicBool::new(false),
                flushing: tokio::sync::Mutex::new(()),
            })
            .collect();
        let live = vec![true; cfg.servers.len()];
        let ring = Ring::new(&cfg.servers, cfg.distribution);
        Memcached { cfg, nodes, ring: RwLock::new((ring, live)) }
    }

    /// Which servers are in now; rebuilds the continuum when that changed (a server
    /// ejected, or back after its retry timeout).
    fn route(&self, keys: &[&str]) -> Vec<Option<usize>> {
        let now = now_ms();
        let live: Vec<bool> = self.nodes.iter().map(|n| n.out_until.load(Ordering::Relaxed) <= now).collect();
        {
            let ring = self.ring.read().expect("ring lock");
            if ring.1 == live {
                return keys.iter().map(|k| ring.0.server_for(wire_key(k).as_bytes())).collect();
            }
        }
        let ring = Ring::with_live(&self.cfg.servers, self.cfg.distribution, |i| live[i]);
        let out = keys.iter().map(|k| ring.server_for(wire_key(k).as_bytes())).collect();
        *self.ring.write().expect("ring lock") = (ring, live);
        out
    }

    /// The server `key` maps to now (for tests and diagnostics).
    pub fn server_for(&self, key: &str) -> Option<usize> {
        self.route(&[key])[0]
    }

    /// Whether the server at `index` is in the continuum now.
    pub fn is_in(&self, index: usize) -> bool {
        self.nodes[index].out_until.load(Ordering::Relaxed) <= now_ms()
    }

    /// How many servers are out now.
    pub fn servers_out(&self) -> usize {
        (0..self.nodes.len()).filter(|i| !self.is_in(*i)).count()
    }

    fn succeeded(&self, node: &Node) {
        node.failures.store(0, Ordering::Relaxed);
    }

    fn failed(&self, node: &Node, f: &Failure) {
        // Connections kept from before a failure are suspect (a restarted server
        // has closed them all): reusing them would fail the retry after it returns.
        node.idle.lock().expect("idle lock").clear();
        node.suspect.store(true, Ordering::Release);
        let n = node.failures.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::warn!(server = %node.addr, failures = n, error = %f, "memcached request failed; treated as a miss");
        if n >= self.cfg.failure_limit {
            let until = now_ms() + self.cfg.retry_timeout.as_millis() as u64;
            if node.out_until.swap(until, Ordering::Relaxed) <= now_ms() {
                tracing::warn!(server = %node.addr, retry_in_ms = self.cfg.retry_timeout.as_millis() as u64, "memcached server taken out");
            }
        }
    }

    async fn connection(&self, node: &Node) -> Result<BufReader<TcpStream>, Failure> {
        if let Some(c) = node.idle.lock().expect("idle lock").pop() {
            return Ok(c);
        }
        let stream = tokio::time::timeout(self.cfg.connect_timeout, TcpStream::connect(&node.addr))
            .await
            .map_err(|_| Failure::Timeout)??;
        stream.set_nodelay(true)?;
        Ok(BufReader::new(stream))
    }

    fn give_back(&self, node: &Node, c: BufReader<TcpStream>) {
        let mut idle = node.idle.lock().expect("idle lock");
        if idle.len() < self.cfg.idle_per_server {
            idle.push(c);
        }
    }

    /// Sends `request` to server `index` and reads `answers` answers, under the
    /// operation timeout; the connection is reused only after a complete exchange.
    async fn exchange(&self, index: usize, request: &[u8], answers: usize) -> Result<Vec<Answer>, Failure> {
        let node = &self.nodes[index];
        let run = async {
            if node.suspect.load(Ordering::Acquire) {
                self.flush(node).await?;
            }
            let mut c = self.connection(node).await?;
            c.get_mut().write_all(request).await?;
            let mut out = Vec::with_capacity(answers);
            for _ in 0..answers {
                out.push(read_answer(&mut c).await?);
            }
            Ok::<_, Failure>((c, out))
        };
        match tokio::time::timeout(self.cfg.op_timeout, run).await {
            Ok(Ok((c, out))) => {
                self.give_back(node, c);
                self.succeeded(node);
                Ok(out)
            }
            Ok(Err(f)) => {
                self.failed(node, &f);
                Err(f)
            }
            Err(_) => {
                self.failed(node, &Failure::Timeout);
                Err(Failure::Timeout)
            }
        }
    }

    /// Empties a server that may have missed writes, once, before anything reads it.
    async fn flush(&self, node: &Node) -> Result<(), Failure> {
        let _one = node.flushing.lock().await;
        if !node.suspect.load(Ordering::Acquire) {
            return Ok(()); // another request flushed it meanwhile
        }
        let mut c = self.connection(node).await?;
        c.get_mut().write_all(b"flush_all\r\n").await?;
        let mut line = String::new();
        c.read_line(&mut line).await?;
        if line != "OK\r\n" {
            return Err(Failure::Protocol(format!("flush_all answered {:?}", line.trim_end())));
        }
        node.suspect.store(false, Ordering::Release);
        self.give_back(node, c);
        tracing::info!(server = %node.addr, "memcached server flushed before use: it may have missed writes");
        Ok(())
    }

    /// Values for `keys`, in order; a miss, and any key of an unreachable server, is
    /// `None`. One round trip per server involved, in parallel.
    pub async fn get_many(&self, keys: &[&str]) -> Vec<Option<Item>> {
        let routes = self.route(keys);
        let mut by_node: HashMap<usize, Vec<usize>> = HashMap::new();
        for (i, r) in routes.iter().enumerate() {
            if let Some(n) = r {
                by_node.entry(*n).or_default().push(i);
            }
        }
        let mut out: Vec<Option<Item>> = vec![None; keys.len()];
        let requests = by_node.into_iter().map(|(node, positions)| {
            let mut req = Vec::new();
            for &p in &positions {
                req.extend_from_slice(format!("mg {} v c\r\n", wire_key(keys[p])).as_bytes());
            }
            async move { (positions.clone(), self.exchange(node, &req, positions.len()).await) }
        });
        for (positions, answer) in futures_util::future::join_all(requests).await {
            if let Ok(answers) = answer {
                for (p, a) in positions.into_iter().zip(answers) {
                    if let Answer::Value { data, cas } = a {
                        out[p] = Some(Item { value: data, cas });
                    }
                }
            }
        }
        out
    }

    pub async fn get(&self, key: &str) -> Option<Item> {
        self.get_many(&[key]).await.pop().flatten()
    }

    /// Stores `value` for `ttl` (0: no expiry); `false` when it was not stored (server
    /// out or unreachable, or the value too large).
    pub async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> bool {
        self.store(key, value, ttl, None, "").await == CasOutcome::Stored
    }

    /// Stores `value` only if the item is still as read with `cas` (a compare-and-set).
    pub async fn set_if_unchanged(&self, key: &str, value: &[u8], ttl: Duration, cas: u64) -> CasOutcome {
        self.store(key, value, ttl, Some(cas), "").await
    }

    /// Stores `value` only if there is no item for `key`.
    pub async fn add(&self, key: &str, value: &[u8], ttl: Duration) -> CasOutcome {
        self.store(key, value, ttl, None, " ME").await
    }

    /// `ms` with an optional CAS token and mode flag (` ME`: add).
    async fn store(&self, key: &str, value: &[u8], ttl: Duration, cas: Option<u64>, mode: &str) -> CasOutcome {
        if value.len() > MAX_VALUE {
            return CasOutcome::Unavailable;
        }
        let Some(node) = self.route(&[key])[0] else { return CasOutcome::Unavailable };
        let cas = cas.map(|c| format!(" C{c}")).unwrap_or_default();
        let mut req = format!("ms {} {} T{}{cas}{mode}\r\n", wire_key(key), value.len(), ttl_secs(ttl)).into_bytes();
        req.extend_from_slice(value);
        req.extend_from_slice(b"\r\n");
        match self.exchange(node, &req, 1).await.map(|mut a| a.remove(0)) {
            Ok(Answer::Stored) => CasOutcome::Stored,
            Ok(Answer::Exists | Answer::NotStored | Answer::NotFound) => CasOutcome::Conflict,
            Ok(_) | Err(_) => CasOutcome::Unavailable,
        }
    }

    /// Removes `key`; `false` if it was not there or the server was unreachable.
    pub async fn delete(&self, key: &str) -> bool {
        let Some(node) = self.route(&[key])[0] else { return false };
        let req = format!("md {}\r\n", wire_key(key)).into_bytes();
        matches!(self.exchange(node, &req, 1).await.map(|mut a| a.remove(0)), Ok(Answer::Stored))
    }
}

#[derive(Debug)]
enum Answer {
    Value {
        data: Vec<u8>,
        cas: u64,
    },
    Miss,
    /// `HD`: stored, or deleted.
    Stored,
    NotStored,
    Exists,
    NotFound,
}

async fn read_answer(c: &mut BufReader<TcpStream>) -> Result<Answer, Failure> {
    let mut line = String::new();
    if c.read_line(&mut line).await? == 0 {
        return Err(Failure::Protocol("connection closed".into()));
    }
    let line = line.trim_end();
    let mut words = line.split(' ');
    match words.next() {
        Some("VA") => {
            let size: usize =
                words.next().and_then(|s| s.parse().ok()).ok_or_else(|| Failure::Protocol(line.into()))?;
            let cas = words.find_map(|w| w.strip_prefix('c')).and_then(|c| c.parse().ok()).unwrap_or(0);
            let mut data = vec![0; size + 2];
            c.read_exact(&mut data).await?;
            data.truncate(size);
            Ok(Answer::Value { data, cas })
        }
        Some("EN") => Ok(Answer::Miss),
        Some("HD") => Ok(Answer::Stored),
        Some("NS") => Ok(Answer::NotStored),
        Some("EX") => Ok(Answer::Exists),
        Some("NF") => Ok(Answer::NotFound),
        _ => Err(Failure::Protocol(line.chars().take(80).collect())),
    }
}

impl std::fmt::Debug for Memcached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Memcached").field("servers", &self.nodes.len()).finish()
    }
}
