//! Read-your-writes for clients of a store with replicas.
//!
//! Every request runs in a [`ReadScope`]: its reads may go to replicas, but only to one
//! that has replayed the writes this client made — in this request, or in an earlier
//! one within [`REMEMBER`]. A client is its bearer token or session cookie when it has
//! one, else its network (the keyed hash rate limits use), so a guest who just posted
//! sees their comment on the next page load. Positions are kept in this process, in a
//! bounded map; behind a load balancer, requests of one client should reach one
//! process (the usual sticky sessions), or they read from the primary for a moment
//! after their writes anyway when no replica has caught up. A request with no client
//! identity at all reads from the primary.

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

/// Who the client is, keyed under the server's secret (nothing of it is stored as sent).
fn client_key(state: &AppState, req: &Request) -> Option<[u8; 32]> {
    let headers = req.headers();
    let credential = headers
        .get(axum::http::header::AUTHORIZATION)
        .or_else(|| headers.get(axum::http::header::COOKIE))
        .map(|v| v.as_bytes().to_vec());
    let mut mac = Hmac::<Sha256>::new_from_slice(&state.page_key).expect("any key length");
    mac.update(b"read-your-writes\0");
    match credential {
        Some(c) => mac.update(&c),
        None => {
            let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
            let ip = crate::ratelimit::client_ip(peer, headers, &state.settings.rate_limits.trusted_proxies)?;
            mac.update(&crate::ratelimit::network_hash(&state.page_key, ip));
        }
    }
    Some(mac.finalize().into_bytes().into())
}

pub(crate) async fn read_your_writes(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(client) = client_key(&state, &req) else { return next.run(req).await };
    let before = state.write_positions.get(&client);
    let scope = ReadScope::new(before.clone());
    let resp = confab_store::consistency::scope(Arc::clone(&scope), next.run(req)).await;
    let after = scope.positions();
    if after != before {
        state.write_positions.put(client, after);
    }
    resp
}
