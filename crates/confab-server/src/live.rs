//! Feature switches as a process holds them: one snapshot of the switch table in memory
//! (read with a pointer load, no I/O and no lock per check), replaced whenever the
//! table changes.
//!
//! How a change reaches every process: the process that makes it reloads at once; the
//! others hear a notice (PostgreSQL's `NOTIFY confab_live`, wired by the binary) and
//! reload; and every process polls the newest change's seq (one indexed read) at a
//! short interval, so one that missed a notice never serves a snapshot older than that.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use confab_core::input::InputError;
use confab_core::model::UnixMs;
use confab_core::switches::{self, Subject, Switch, Switches};
use confab_store::{LiveChange, LiveKind, LiveStore, StoreError};

/// How often a process re-reads the newest change's seq, by default.
pub const DEFAULT_REFRESH: Duration = Duration::from_millis(500);

/// The most changes one listing of the audit log shows.
pub const MAX_LOG: u32 = 1_000;

pub struct Live {
    store: Arc<dyn LiveStore>,
    node: String,
    switches: ArcSwap<Switches>,
    seq: AtomicU64,
    wake: Arc<tokio::sync::Notify>,
    /// Where this process announces its changes to the others, besides the store's own
    /// notice (PostgreSQL's): Redis, when processes share one.
    redis: std::sync::OnceLock<Arc<confab_cache::Redis>>,
    reloading: tokio::sync::Mutex<()>,
}

/// Why a switch could not be changed.
#[derive(Debug, thiserror::Error)]
pub enum SwitchError {
    #[error(transparent)]
    Invalid(#[from] InputError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Live {
    /// The switches as the store holds them now; `node` is this process's name, which
    /// switches can target.
    pub async fn load(store: Arc<dyn LiveStore>, node: String) -> Result<Arc<Live>, StoreError> {
        let live = Live {
            store,
            node,
            switches: ArcSwap::from_pointee(Switches::default()),
            seq: AtomicU64::new(u64::MAX),
            wake: Arc::new(tokio::sync::Notify::new()),
            redis: std::sync::OnceLock::new(),
            reloading: tokio::sync::Mutex::new(()),
        };
        live.reload().await?;
        Ok(Arc::new(live))
    }

    /// Carries changes over Redis: announces this process's, and wakes at the others'
    /// (for stores whose own notices do not reach every process, such as one SQLite
    /// file shared by several). Once per process; a second call is ignored.
    pub fn notices_over(&self, redis: Arc<confab_cache::Redis>) {
        if self.redis.set(Arc::clone(&redis)).is_ok() {
            confab_cache::redis::wake_on(redis, confab_cache::LIVE_CHANNEL, Arc::downgrade(&self.wake));
        }
    }

    /// Announces this process's changes over Redis without listening for others' (a
    /// command that makes one change and exits).
    pub fn announce_over(&self, redis: Arc<confab_cache::Redis>) {
        let _ = self.redis.set(redis);
    }

    /// Whether `key` is on for `s` (its `node` is this process's, whatever it says).
    pub fn is_on(&self, key: &str, s: &Subject<'_>) -> bool {
        self.switches.load().is_on(key, &Subject { node: &self.node, ..*s })
    }

    /// Whether `key` is on where nothing is known but the node (workers, site-wide checks).
    pub fn on(&self, key: &str) -> bool {
        self.is_on(key, &Subject::default())
    }

    /// Whether `key` is on for a forum and a client, as far as they are known: a
    /// percentage draws on the client's address (the checks here do not know the reader
    /// by account).
    pub fn on_for(&self, key: &str, forum: Option<&str>, ip: Option<std::net::IpAddr>) -> bool {
        let reader = ip.map(|ip| ip.to_string());
        self.is_on(key, &Subject { forum, ip, reader: reader.as_deref(), ..Subject::default() })
    }

    /// Whether `key` or a switch above it is selective now (so that who asks matters).
    pub fn selective(&self, key: &str) -> bool {
        let snap = self.switches.load();
        let mut at = Some(key);
        while let Some(k) = at {
            if snap.get(k).is_some_and(|w| w.state == switches::State::Selective) {
                return true;
            }
            at = switches::parent(k);
        }
        false
    }

    /// The snapshot checks read now.
    pub fn snapshot(&self) -> Arc<Switches> {
        self.switches.load_full()
    }

    /// Wakes the follower at once (a notice arrived).
    pub fn waker(&self) -> Arc<tokio::sync::Notify> {
        Arc::clone(&self.wake)
    }

    /// Re-reads the table if it changed since the last read (one read when it did not).
    pub async fn refresh(&self) -> Result<bool, StoreError> {
        if self.store.live_seq().await? == self.seq.load(Ordering::Acquire) {
            return Ok(false);
        }
        self.reload().await.map(|()| true)
    }

    async fn reload(&self) -> Result<(), StoreError> {
        // One reload at a time, so that a slower, older read never replaces a newer one.
        let _one = self.reloading.lock().await;
        let table = self.store.live_table().await?;
        let set = table.entries.into_iter().filter(|e| e.kind == LiveKind::Switch).filter_map(|e| {
            // A value this release cannot read (a newer release's) counts as unset here.
            match serde_json::from_str::<Switch>(&e.value) {
                Ok(w) => Some((e.key, w)),
                Err(err) => {
                    tracing::warn!(switch = %e.key, error = %err, "a stored switch does not parse; treated as unset");
                    None
                }
            }
        });
        self.switches.store(Arc::new(Switches::new(set)));
        self.seq.store(table.seq, Ordering::Release);
        Ok(())
    }

    /// Keeps the snapshot current: reloads when woken (a notice) and every `every` (the
    /// bound on how stale it can be). Ends when the last other holder of `self` drops it.
    pub fn follow(self: &Arc<Self>, every: Duration) {
        let weak = Arc::downgrade(self);
        let wake = self.waker();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = wake.notified() => {}
                    () = tokio::time::sleep(every) => {}
                }
                let Some(live) = weak.upgrade() else { return };
                if let Err(e) = live.refresh().await {
                    tracing::warn!(error = %e, "switches not re-read; serving the last ones read");
                }
            }
        });
    }

    /// Sets a switch (`Some`, checked first) or clears it back to its default (`None`),
    /// recording who did it; this process sees the change at once. `None` when nothing
    /// changed. Only switches in the catalog can be set, so that a typo is an error.
    pub async fn set(
        &self,
        key: &str,
        to: Option<Switch>,
        by: &str,
        now: UnixMs,
    ) -> Result<Option<LiveChange>, SwitchError> {
        let value = check(key, to)?.map(|w| serde_json::to_string(&w).expect("a switch serialises"));
        let change = self.store.live_put(LiveKind::Switch, key, value, by, now).await?;
        if let Some(c) = &change {
            tracing::info!(switch = key, by = %c.by, seq = c.seq, "switch changed");
            if let Some(redis) = self.redis.get() {
                // Lost, it costs the others a poll interval, not the change.
                redis.publish(confab_cache::LIVE_CHANNEL, c.seq.to_string().as_bytes()).await;
            }
        }
        self.reload().await?;
        Ok(change)
    }

    /// The audit log of one switch, or of all, newest first.
    pub async fn log(&self, key: Option<&str>, limit: u32) -> Result<Vec<LiveChange>, StoreError> {
        self.store.live_log(LiveKind::Switch, key, limit.min(MAX_LOG)).await
    }
}

/// A switch change as given, checked: the key is in the catalog and the switch means
/// something ([`Switch::checked`]).
pub fn check(key: &str, to: Option<Switch>) -> Result<Option<Switch>, InputError> {
    known(key)?;
    to.map(Switch::checked).transpose()
}

/// The catalog's entry for `key`, or the error that names the switches there are.
pub fn known(key: &str) -> Result<&'static switches::Known, InputError> {
    switches::check_key(key)?;
    switches::known(key).ok_or_else(|| {
        let names: Vec<&str> = switches::CATALOG.iter().map(|k| k.key).collect();
        InputError::new(
            "key",
            "unknown_switch",
            format!("no switch is called {key:?}; the switches are: {}", names.join(", ")),
        )
    })
}
