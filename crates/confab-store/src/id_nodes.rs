//! Leases of the id generator's node numbers, so that every process sharing a store
//! mints ids no other process mints, with no coordination per id.
//!
//! A process leases a node at start ([`IdNodeKeeper::start`]), renews the lease in the
//! background, and gives it back when it stops. A process that dies keeps its node
//! until the lease ends; the node's next holder then starts its ids after everything
//! the dead one can have minted (its lease end plus the generator's look-ahead).

use std::sync::Arc;
use std::time::Duration;

use confab_core::id::{IdGenerator, MAX_AHEAD_MS, now_ms};

use crate::{Store, StoreResult};

/// How long a lease lasts unless renewed.
pub const LEASE_MS: u64 = 60_000;
/// How often the holder renews: several renewals fit in one lease, so a slow store or
/// a lost statement or two never lapses it.
pub const RENEW_EVERY: Duration = Duration::from_secs(10);
/// Tolerated disagreement between processes' clocks.
pub const CLOCK_SKEW_MS: u64 = 2_000;

/// A node as leased: its number and the earliest time its new holder may mint at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdNodeLease {
    pub node: u16,
    pub floor_ms: u64,
}

impl IdNodeLease {
    /// The lease of `node`, whose previous holder's lease ended at `prev_until` (0 when
    /// it was given back) having minted up to `high_ms`. The one rule for a floor, used
    /// by every store.
    pub fn after(node: u16, prev_until: u64, high_ms: u64) -> Self {
        let lapsed = if prev_until == 0 { 0 } else { prev_until + MAX_AHEAD_MS + CLOCK_SKEW_MS };
        IdNodeLease { node, floor_ms: (high_ms + 1).max(lapsed) }
    }
}

/// Holds a node lease for a process: renews it, takes another if it was lost, and
/// gives it back when dropped.
pub struct IdNodeKeeper {
    store: Arc<dyn Store>,
    ids: Arc<IdGenerator>,
    holder: Arc<str>,
    renewer: tokio::task::JoinHandle<()>,
    released: bool,
}

impl IdNodeKeeper {
    /// Leases a node for `ids` from `store` and keeps it leased.
    pub async fn start(store: Arc<dyn Store>, ids: Arc<IdGenerator>) -> StoreResult<Self> {
        let token = confab_core::secret::Token::generate();
        let holder: Arc<str> = format!("pid {} {}", std::process::id(), token.expose()).into();
        take(&*store, &ids, &holder).await?;
        let renewer = tokio::spawn(renew(Arc::clone(&store), Arc::clone(&ids), Arc::clone(&holder)));
        Ok(IdNodeKeeper { store, ids, holder, renewer, released: false })
    }

    /// The node now held.
    pub fn node(&self) -> u16 {
        self.ids.node()
    }

    /// Gives the node back now, recording how far its ids went.
    pub async fn release(mut self) {
        self.renewer.abort();
        release(&*self.store, &self.ids, &self.holder).await;
        self.released = true;
    }
}

impl Drop for IdNodeKeeper {
    /// Gives the node back on the way out when the runtime allows blocking here; else
    /// the lease ends by itself within [`LEASE_MS`].
    fn drop(&mut self) {
        self.renewer.abort();
        if self.released {
            return;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else { return };
        if handle.runtime_flavor() != tokio::runtime::RuntimeFlavor::MultiThread {
            return;
        }
        let (store, ids, holder) = (Arc::clone(&self.store), Arc::clone(&self.ids), Arc::clone(&self.holder));
        tokio::task::block_in_place(|| handle.block_on(release(&*store, &ids, &holder)));
    }
}

async fn take(store: &dyn Store, ids: &IdGenerator, holder: &str) -> StoreResult<()> {
    let now = now_ms();
    let lease = store.id_node_acquire(holder, now, now + LEASE_MS).await?;
    ids.lease(lease.node, lease.floor_ms, now + LEASE_MS);
    tracing::debug!(node = lease.node, "leased an id node");
    Ok(())
}

async fn renew(store: Arc<dyn Store>, ids: Arc<IdGenerator>, holder: Arc<str>) {
    let mut tick = tokio::time::interval(RENEW_EVERY);
    tick.tick().await;
    loop {
        tick.tick().await;
        let now = now_ms();
        match store.id_node_renew(ids.node(), &holder, ids.high_water_unix_ms(), now + LEASE_MS).await {
            Ok(true) => ids.renewed(now + LEASE_MS),
            // Lapsed and taken (the process was paused past its end): minting stopped
            // at the lapse; carry on under a node of our own.
            Ok(false) => {
                tracing::warn!(node = ids.node(), "the id node lease lapsed; leasing another");
                if let Err(e) = take(&*store, &ids, &holder).await {
                    tracing::error!(error = %e, "cannot lease an id node; no ids are minted until one is");
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot renew the id node lease; retrying"),
        }
    }
}

async fn release(store: &dyn Store, ids: &IdGenerator, holder: &str) {
    if let Err(e) = store.id_node_release(ids.node(), holder, ids.high_water_unix_ms()).await {
        tracing::warn!(error = %e, "cannot give the id node back; its lease ends by itself");
    }
}
