//! Change notices from PostgreSQL (`LISTEN`/`NOTIFY`): placements that make every store
//! reload its shard map, and new jobs that wake the workers at once instead of at their
//! next poll. Each listener holds a direct connection (a cluster's `listen` URL, else its
//! primary), reconnects with back-off after a failure and wakes once then, since notices
//! may have been missed.

use std::sync::Arc;

use super::PgStore;
use crate::pool::Topology;

/// Listens to `channel` on one connection, waking `wake` at each notice, until the
/// connection ends (`Err`, to reconnect) or `alive` says the owner is gone (`Ok`).
async fn listen(
    url: &str,
    channel: &str,
    wake: &tokio::sync::Notify,
    alive: &(dyn Fn() -> bool + Send + Sync),
) -> Result<(), String> {
    let (client, mut conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.map_err(|e| e.to_string())?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    // The connection delivers notices as messages; it must be polled for anything to move.
    let driver = tokio::spawn(async move {
        loop {
            match std::future::poll_fn(|cx| conn.poll_message(cx)).await {
                Some(Ok(tokio_postgres::AsyncMessage::Notification(_))) => {
                    if tx.send(()).is_err() {
                        return Ok(());
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e),
                None => return Ok(()),
            }
        }
    });
    client.batch_execute(&format!("LISTEN {channel}")).await.map_err(|e| e.to_string())?;
    loop {
        tokio::select! {
            got = rx.recv() => match got {
                Some(()) => wake.notify_one(),
                None => break,
            },
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {
                if !alive() {
                    driver.abort();
                    return Ok(());
                }
            }
        }
    }
    match driver.await {
        Ok(Err(e)) => Err(e.to_string()),
        _ => Err("the connection closed".into()),
    }
}

/// Reloads `t`'s shard map whenever a placement changes (`NOTIFY confab_placement`,
/// sent by forum pinning), on a direct connection to the global primary (its `listen`
/// URL if set). After a lost connection it reconnects with back-off and reloads once,
/// since notices may have been missed. Ends when the topology is dropped.
pub(super) fn follow_placement(t: &Arc<Topology>) {
    let url = t.config.global.listen.clone().unwrap_or_else(|| t.config.global.primary.clone());
    let weak = Arc::downgrade(t);
    let changed = Arc::new(tokio::sync::Notify::new());
    let reload = {
        let (weak, changed) = (weak.clone(), Arc::clone(&changed));
        async move {
            loop {
                changed.notified().await;
                let Some(t) = weak.upgrade() else { return };
                if let Err(e) = t.load_map().await {
                    tracing::warn!(error = %e, "shard map not reloaded; retrying");
                    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                    changed.notify_one();
                }
            }
        }
    };
    tokio::spawn(reload);
    spawn_listener(url, "global/listen".into(), "confab_placement", changed, move || weak.strong_count() > 0);
}

/// Listens to `channel` at `url` until `alive` says the owner is gone: after a lost
/// connection it wakes `wake` once (notices may have been missed) and reconnects with
/// back-off.
fn spawn_listener(
    url: String,
    label: String,
    channel: &'static str,
    wake: Arc<tokio::sync::Notify>,
    alive: impl Fn() -> bool + Send + Sync + 'static,
) {
    tokio::spawn(async move {
        let mut delay = std::time::Duration::from_millis(200);
        while alive() {
            match listen(&url, channel, &wake, &alive).await {
                Ok(()) => return,
                Err(e) => tracing::warn!(db = %label, channel, error = %e, "notices interrupted; reconnecting"),
            }
            wake.notify_one();
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(std::time::Duration::from_secs(5));
        }
    });
}

impl PgStore {
    /// Wakes `wake` whenever a job is queued on any cluster: one task per cluster holds
    /// a direct connection (`listen`, else the primary) with `LISTEN confab_outbox`, and
    /// reconnects after a failure (waking once then, since notices may have been missed).
    /// Workers keep polling as well, so a lost notice only delays a job. The tasks end
    /// when the store is dropped.
    pub fn wake_on_new_jobs(self: &Arc<Self>, wake: Arc<tokio::sync::Notify>) {
        for (name, cluster) in &self.t.config.clusters {
            let url = cluster.listen.clone().unwrap_or_else(|| cluster.primary.clone());
            let weak = Arc::downgrade(self);
            spawn_listener(url, format!("{name}/listen"), "confab_outbox", Arc::clone(&wake), move || {
                weak.strong_count() > 0
            });
        }
    }
}

impl PgStore {
    /// Wakes `wake` whenever a live value (a switch) changes (`NOTIFY confab_live`, sent
    /// by [`confab_store::LiveStore::live_put`]'s commit), on a direct connection to the
    /// global primary (its `listen` URL if set). After a lost connection it wakes once and
    /// reconnects; the process also polls, so a lost notice only delays the change.
    pub fn wake_on_live_changes(self: &Arc<Self>, wake: Arc<tokio::sync::Notify>) {
        let url = self.t.config.global.listen.clone().unwrap_or_else(|| self.t.config.global.primary.clone());
        let weak = Arc::downgrade(self);
        spawn_listener(url, "global/listen".into(), "confab_live", wake, move || weak.strong_count() > 0);
    }
}
