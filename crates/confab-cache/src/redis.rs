//! Redis, for two things: an optional cache backend ([`RedisBackend`], entries as plain
//! bytes, the version check on put done by a script inside Redis), and the channel of
//! change notices that keeps every process's in-process L1 coherent
//! ([`spawn_notices`], Redis pub/sub).
//!
//! Like the memcached pool, an outage degrades to misses and unstored values: after
//! `failure_limit` failures in a row Redis is left alone for `retry_timeout`, so a dead
//! server costs a request nothing rather than a timeout each.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::mpsc;

use crate::backend::Backend;
use crate::entry::Entry;
use crate::tiered::Tiered;

#[derive(Debug, Clone)]
pub struct RedisConfig {
    /// `redis://host:port[/db]`.
    pub url: String,
    pub connect_timeout: Duration,
    /// For one request and its answer.
    pub op_timeout: Duration,
    /// Consecutive failures after which Redis is left alone for `retry_timeout`.
    pub failure_limit: u32,
    pub retry_timeout: Duration,
}

impl RedisConfig {
    pub fn new(url: impl Into<String>) -> RedisConfig {
        RedisConfig {
            url: url.into(),
            connect_timeout: Duration::from_millis(250),
            op_timeout: Duration::from_millis(250),
            failure_limit: 2,
            retry_timeout: Duration::from_secs(10),
        }
    }
}

/// A connection to one Redis server, made when first needed and remade by the
/// connection manager after a failure.
pub struct Redis {
    cfg: RedisConfig,
    client: redis::Client,
    conn: tokio::sync::Mutex<Option<ConnectionManager>>,
    failures: AtomicU32,
    /// Unix ms until which Redis is left alone; 0 when in use.
    out_until: AtomicU64,
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

impl Redis {
    /// Refuses a URL that is not one; does not connect yet (a server down at start is
    /// an outage like any other).
    pub fn new(cfg: RedisConfig) -> Result<Redis, String> {
        let client = redis::Client::open(cfg.url.as_str()).map_err(|e| format!("redis url: {e}"))?;
        Ok(Redis {
            cfg,
            client,
            conn: tokio::sync::Mutex::new(None),
            failures: AtomicU32::new(0),
            out_until: AtomicU64::new(0),
        })
    }

    /// Whether Redis is being left alone after failures.
    pub fn is_out(&self) -> bool {
        self.out_until.load(Ordering::Relaxed) > now_ms()
    }

    fn failed(&self, what: &str, error: &dyn std::fmt::Display) {
        let n = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::warn!(failures = n, error = %error, "redis {what} failed; treated as a miss");
        if n >= self.cfg.failure_limit.max(1) {
            self.failures.store(0, Ordering::Relaxed);
            let until = now_ms() + self.cfg.retry_timeout.as_millis() as u64;
            if self.out_until.swap(until, Ordering::Relaxed) <= now_ms() {
                tracing::warn!(retry_in_ms = self.cfg.retry_timeout.as_millis() as u64, "redis left alone");
            }
        }
    }

    async fn connection(&self) -> Option<ConnectionManager> {
        if self.is_out() {
            return None;
        }
        let mut conn = self.conn.lock().await;
        if let Some(c) = &*conn {
            return Some(c.clone());
        }
        // Callers that queued behind a connect that failed do not each wait for their own.
        if self.is_out() {
            return None;
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(self.cfg.connect_timeout)
            .set_response_timeout(self.cfg.op_timeout)
            .set_number_of_retries(1);
        let made =
            tokio::time::timeout(self.cfg.connect_timeout, self.client.get_connection_manager_with_config(config))
                .await;
        match made {
            Ok(Ok(c)) => {
                *conn = Some(c.clone());
                Some(c)
            }
            Ok(Err(e)) => {
                self.failed("connect", &e);
                None
            }
            Err(_) => {
                self.failed("connect", &"timed out");
                None
            }
        }
    }

    /// Runs one command; `None` when Redis is out, failed or too slow.
    async fn run<T: redis::FromRedisValue>(&self, what: &str, cmd: impl FnOnce() -> redis::Cmd) -> Option<T> {
        let mut conn = self.connection().await?;
        let cmd = cmd();
        self.settle(what, cmd.query_async::<T>(&mut conn)).await
    }

    /// Awaits one exchange within the operation timeout, counting its failure.
    async fn settle<T>(&self, what: &str, exchange: impl Future<Output = redis::RedisResult<T>>) -> Option<T> {
        match tokio::time::timeout(self.cfg.op_timeout, exchange).await {
            Ok(Ok(v)) => {
                self.failures.store(0, Ordering::Relaxed);
                Some(v)
            }
            Ok(Err(e)) => {
                self.failed(what, &e);
                None
            }
            Err(_) => {
                self.failed(what, &"timed out");
                None
            }
        }
    }

    pub async fn publish(&self, channel: &str, payload: &[u8]) -> bool {
        self.run::<i64>("publish", || redis::cmd("PUBLISH").arg(channel).arg(payload).clone()).await.is_some()
    }
}

/// Stores ARGV[1] under KEYS[1] for ARGV[2] ms unless the entry there has a higher
/// version (bytes 2–9 of an entry, big-endian: compared byte by byte, since Lua's
/// string comparison follows Redis's locale). 1: stored, 0: a newer one is there.
const PUT_IF_NOT_OLDER: &str = r#"
local old = redis.call('GET', KEYS[1])
if old and #old >= 9 and string.byte(old, 1) == 193 then
  for i = 2, 9 do
    local a, b = string.byte(old, i), string.byte(ARGV[1], i)
    if a ~= b then
      if a > b then return 0 end
      break
    end
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"#;

/// Entries on a Redis server.
pub struct RedisBackend {
    pub redis: Arc<Redis>,
    script: redis::Script,
}

impl RedisBackend {
    pub fn new(redis: Arc<Redis>) -> RedisBackend {
        RedisBackend { redis, script: redis::Script::new(PUT_IF_NOT_OLDER) }
    }
}

#[async_trait]
impl Backend for RedisBackend {
    async fn get_many(&self, keys: &[&str]) -> Vec<Option<Entry>> {
        if keys.is_empty() {
            return Vec::new();
        }
        let found: Option<Vec<Option<Vec<u8>>>> = self.redis.run("get", || redis::cmd("MGET").arg(keys).clone()).await;
        match found {
            Some(values) if values.len() == keys.len() => {
                values.into_iter().map(|v| v.and_then(|v| Entry::decode(bytes::Bytes::from(v)))).collect()
            }
            _ => vec![None; keys.len()],
        }
    }

    async fn put(&self, key: &str, entry: &Entry, ttl: Duration) -> bool {
        let Some(mut conn) = self.redis.connection().await else { return false };
        let ttl_ms = ttl.as_millis().max(1) as u64;
        let bytes = entry.encode();
        let mut invocation = self.script.key(key);
        invocation.arg(bytes.as_ref()).arg(ttl_ms);
        let stored = self.redis.settle("put", invocation.invoke_async::<i64>(&mut conn)).await;
        stored == Some(1)
    }

    async fn remove(&self, key: &str) {
        let _: Option<i64> = self.redis.run("remove", || redis::cmd("DEL").arg(key).clone()).await;
    }

    fn name(&self) -> &'static str {
        "redis"
    }

    fn gauges(&self) -> Vec<(&'static str, u64)> {
        vec![("servers_out", u64::from(self.redis.is_out()))]
    }
}

/// The pub/sub channel change notices travel on.
pub const NOTICE_CHANNEL: &str = "confab.cache.notices";
/// How often each process publishes a notice naming no key, which it must then hear
/// itself: a subscription that hears nothing for three of these is taken for dead.
pub const HEARTBEAT: Duration = Duration::from_secs(2);
/// Keys per notice, at most.
const BATCH: usize = 256;

/// Starts the two tasks that carry `tiered`'s change notices over Redis: one
/// publishes the keys it changes (in batches of what is waiting), the other listens
/// for other processes' and resubscribes after a failure. Both end with `tiered`.
pub fn spawn_notices(redis: Arc<Redis>, tiered: &Arc<Tiered>, outbox: mpsc::UnboundedReceiver<String>) {
    tokio::spawn(publish_notices(redis.clone(), tiered.origin(), outbox));
    tokio::spawn(listen_for_notices(redis, Arc::downgrade(tiered)));
}

async fn publish_notices(redis: Arc<Redis>, origin: u64, mut outbox: mpsc::UnboundedReceiver<String>) {
    let mut beat = tokio::time::interval(HEARTBEAT);
    loop {
        let mut keys = Vec::new();
        tokio::select! {
            key = outbox.recv() => match key {
                Some(key) => keys.push(key),
                None => return,
            },
            _ = beat.tick() => {}
        }
        while keys.len() < BATCH {
            match outbox.try_recv() {
                Ok(key) => keys.push(key),
                Err(_) => break,
            }
        }
        // A notice that cannot be sent leaves other processes' L1 copies until their
        // own expiry (bounded by the fresh time); they stop trusting L1 when they no
        // longer hear this process's heartbeats only if Redis is down for them too.
        redis.publish(NOTICE_CHANNEL, &crate::tiered::encode_notice(origin, &keys)).await;
    }
}

async fn listen_for_notices(redis: Arc<Redis>, tiered: Weak<Tiered>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        if tiered.strong_count() == 0 {
            return;
        }
        let connected = tokio::time::timeout(redis.cfg.connect_timeout, redis.client.get_async_pubsub()).await;
        if let Ok(Ok(mut pubsub)) = connected
            && pubsub.subscribe(NOTICE_CHANNEL).await.is_ok()
        {
            backoff = Duration::from_millis(100);
            if let Some(t) = tiered.upgrade() {
                t.subscribed();
            }
            let mut messages = pubsub.on_message();
            loop {
                let next = tokio::time::timeout(HEARTBEAT * 3, messages.next()).await;
                let Ok(Some(message)) = next else { break };
                let Some(t) = tiered.upgrade() else { return };
                t.notice(message.get_payload_bytes());
            }
            tracing::warn!("cache change notices lost; the in-process cache is bypassed until they resume");
        }
        if let Some(t) = tiered.upgrade() {
            t.unsubscribed();
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

/// The pub/sub channel that says "the live values (switches) changed": any payload.
pub const LIVE_CHANNEL: &str = "confab.live";

/// Wakes `wake` at every message on `channel` from any process, resubscribing with
/// back-off after a failure (and waking once then, since messages may have been
/// missed). Ends once `wake` has no other holder.
pub fn wake_on(redis: Arc<Redis>, channel: &'static str, wake: Weak<tokio::sync::Notify>) {
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(100);
        loop {
            let connected = tokio::time::timeout(redis.cfg.connect_timeout, redis.client.get_async_pubsub()).await;
            if let Ok(Ok(mut pubsub)) = connected
                && pubsub.subscribe(channel).await.is_ok()
            {
                backoff = Duration::from_millis(100);
                let mut messages = pubsub.on_message();
                while messages.next().await.is_some() {
                    let Some(w) = wake.upgrade() else { return };
                    w.notify_one();
                }
                tracing::warn!(channel, "Redis notices interrupted; resubscribing");
            }
            let Some(w) = wake.upgrade() else { return };
            w.notify_one();
            drop(w);
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    });
}
