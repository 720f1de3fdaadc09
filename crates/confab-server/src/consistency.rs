//! Read-your-writes for clients of a store with replicas.
//!
//! Replicas serve the public, anonymous reads that are most of the traffic (thread
//! pages, counts). Each such request runs in a [`ReadScope`]: its reads may go to a
//! replica, but only to one that has replayed the writes this client made — in this
//! request, or in an earlier one within [`REMEMBER`]. The client is its network (the
//! keyed hash rate limits use), so a guest who just posted sees their comment on the next
//! page load. Positions are kept in this process, in a bounded map; behind a load
//! balancer, one client's requests should reach one process (sticky sessions), or their
//! reads right after a write may come from a replica that lags.
//!
//! Everything else reads from primaries: requests that may write (any method but GET,
//! HEAD, OPTIONS, TRACE: what a write checks must be current), requests with
//! credentials (a bearer token or a cookie: signed-in readers, moderators, owners, whose
//! views are private and few), and requests with no client address at all.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use confab_store::consistency::{Positions, ReadScope};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::AppState;

/// How long a client's write positions are kept: replicas that lag longer than this are
/// broken, and the health checks take them out of rotation.
pub const REMEMBER: Duration = Duration::from_secs(60);

/// Clients remembered at most (a bound on memory, whatever the traffic).
const MAX_CLIENTS: usize = 100_000;

#[derive(Debug, Default)]
pub struct WritePositions {
    clients: Mutex<HashMap<[u8; 32], (Positions, Instant)>>,
}

impl WritePositions {
    fn get(&self, client: &[u8; 32]) -> Positions {
        let map = self.clients.lock().expect("not poisoned");
        match map.get(client) {
            Some((p, until)) if *until > Instant::now() => p.clone(),
            _ => Positions::new(),
        }
    }

    fn put(&self, client: [u8; 32], positions: Positions) {
        let now = Instant::now();
        let mut map = self.clients.lock().expect("not poisoned");
        if map.len() >= MAX_CLIENTS {
            map.retain(|_, (_, until)| *until > now);
            if map.len() >= MAX_CLIENTS {
                // Forgetting makes reads go to a replica that may lag: less fresh, not wrong.
                map.clear();
            }
        }
        map.insert(client, (positions, now + REMEMBER));
    }
}

/// The client's network, keyed under the server's secret; `None` for a request that
/// carries credentials or has no address (those read from primaries).
fn client_key(state: &AppState, req: &Request) -> Option<[u8; 32]> {
    let headers = req.headers();
    if headers.contains_key(axum::http::header::AUTHORIZATION) || headers.contains_key(axum::http::header::COOKIE) {
        return None;
    }
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    let ip = crate::ratelimit::client_ip(peer, headers, &state.settings.rate_limits.trusted_proxies)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&state.page_key).expect("any key length");
    mac.update(b"read-your-writes\0");
    mac.update(&crate::ratelimit::network_hash(&state.page_key, ip));
    Some(mac.finalize().into_bytes().into())
}

pub(crate) async fn read_your_writes(State(state): State<AppState>, req: Request, next: Next) -> Response {
    // Nothing to do (not even hashing) for a store without replicas, such as SQLite.
    if !state.store.has_replicas() {
        return next.run(req).await;
    }
    let Some(client) = client_key(&state, &req) else { return next.run(req).await };
    let before = state.write_positions.get(&client);
    // A request that may write reads from primaries, and records its writes' positions.
    let scope =
        if req.method().is_safe() { ReadScope::new(before.clone()) } else { ReadScope::for_writes(before.clone()) };
    let resp = confab_store::consistency::scope(Arc::clone(&scope), next.run(req)).await;
    let after = scope.positions();
    if after != before {
        state.write_positions.put(client, after);
    }
    resp
}
