//! The HTTP listener: accepts connections and serves the app on each, with the limits
//! a public server needs and `axum::serve` does not have (it has no timeouts and no
//! cap, so idle and slow clients could hold every descriptor).
//!
//! - **Header timeout**: a connection must send a request's headers within
//!   `header_timeout` of opening or of its previous response ending. Slowloris clients
//!   (a header byte now and then) and idle keep-alive connections are closed by it.
//! - **Connection cap**: at `max_connections`, a new connection makes the one idle
//!   longest (no request in progress; a connection still sending headers counts as
//!   idle) close; with none idle, the new connection is closed at once.
//! - **Shutdown**: stops accepting, lets requests in progress finish (up to
//!   `drain_timeout`), and closes idle connections at once.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tower::ServiceExt;

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_timeout: Duration,
    pub max_connections: usize,
    pub drain_timeout: Duration,
}

/// Serves `app` on `listener` until `shutdown` completes, then drains.
pub async fn serve(listener: TcpListener, app: Router, limits: Limits, shutdown: impl Future<Output = ()>) {
    let conns = Arc::new(Connections::default());
    tokio::pin!(shutdown);
    loop {
        let (stream, addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors or a connection reset before accept: not fatal.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        if conns.len() >= limits.max_connections && !conns.shed_longest_idle() {
            tracing::debug!("at the connection cap with none idle: closing a new connection");
            drop(stream);
            continue;
        }
        let _ = stream.set_nodelay(true);
        let (id, shed) = conns.open();
        tokio::spawn(serve_one(Arc::clone(&conns), id, shed, stream, addr, app.clone(), limits));
    }
    drop(listener);
    conns.shed_all();
    let deadline = tokio::time::Instant::now() + limits.drain_timeout;
    loop {
        // Registered before the count is read, so no close between the two is missed.
        let closed = conns.closed.notified();
        tokio::pin!(closed);
        closed.as_mut().enable();
        if conns.len() == 0 || tokio::time::timeout_at(deadline, closed).await.is_err() {
            break;
        }
    }
}

async fn serve_one(
    conns: Arc<Connections>,
    id: u64,
    shed: Arc<Notify>,
    stream: tokio::net::TcpStream,
    addr: SocketAddr,
    app: Router,
    limits: Limits,
) {
    let service = {
        let conns = Arc::clone(&conns);
        hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            let busy = Busy::start(Arc::clone(&conns), id);
            // What `into_make_service_with_connect_info` would add: rate limits key on it.
            req.extensions_mut().insert(ConnectInfo(addr));
            let response = app.clone().oneshot(req);
            async move {
                let response = response.await?;
                // Busy until the body has gone out (or the connection dropped it).
                Ok::<_, Infallible>(response.map(|b| {
                    Body::new(b.map_frame(move |f| {
                        let _ = &busy;
                        f
                    }))
                }))
            }
        })
    };
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let mut closing = false;
    loop {
        tokio::select! {
            _ = conn.as_mut() => break,
            () = shed.notified(), if !closing => {
                // Closes at once when idle, else after the response in progress.
                conn.as_mut().graceful_shutdown();
                closing = true;
            }
        }
    }
    conns.close(id);
}

/// The open connections: whether each is busy, and since when each has been idle.
#[derive(Default)]
struct Connections {
    next: AtomicU64,
    open: Mutex<HashMap<u64, Conn>>,
    closed: Notify,
}

struct Conn {
    busy: u32,
    idle_since: Instant,
    shed: Arc<Notify>,
    shedding: bool,
}

impl Connections {
    fn len(&self) -> usize {
        self.open.lock().expect("connections lock").len()
    }

    fn open(&self) -> (u64, Arc<Notify>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let shed = Arc::new(Notify::new());
        let conn = Conn { busy: 0, idle_since: Instant::now(), shed: Arc::clone(&shed), shedding: false };
        self.open.lock().expect("connections lock").insert(id, conn);
        (id, shed)
    }

    fn close(&self, id: u64) {
        self.open.lock().expect("connections lock").remove(&id);
        self.closed.notify_waiters();
    }

    /// Asks the connection idle longest to close; false when none is idle.
    fn shed_longest_idle(&self) -> bool {
        let mut open = self.open.lock().expect("connections lock");
        let Some(conn) = open.values_mut().filter(|c| c.busy == 0 && !c.shedding).min_by_key(|c| c.idle_since) else {
            return false;
        };
        conn.shedding = true;
        // A stored permit: the connection's task sees it even if not waiting yet.
        conn.shed.notify_one();
        true
    }

    fn shed_all(&self) {
        for conn in self.open.lock().expect("connections lock").values_mut() {
            conn.shedding = true;
            conn.shed.notify_one();
        }
    }
}

/// A request in progress on a connection, from its headers to its body's end.
struct Busy {
    conns: Arc<Connections>,
    id: u64,
}

impl Busy {
    fn start(conns: Arc<Connections>, id: u64) -> Busy {
        if let Some(c) = conns.open.lock().expect("connections lock").get_mut(&id) {
            c.busy += 1;
        }
        Busy { conns, id }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        if let Some(c) = self.conns.open.lock().expect("connections lock").get_mut(&self.id) {
            c.busy -= 1;
            if c.busy == 0 {
                c.idle_since = Instant::now();
            }
        }
    }
}

/// The connection cap when none is configured: what the descriptor limit allows after
/// a reserve for the databases, caches, mail and files. The soft limit is raised to the
/// hard one first, as servers commonly do (the soft default of 1024 is for shells).
pub fn default_max_connections() -> usize {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    const RESERVE: u64 = 256;
    let lim = getrlimit(Resource::Nofile);
    let mut soft = lim.current.unwrap_or(u64::MAX);
    let hard = lim.maximum.unwrap_or(u64::MAX).min(1 << 20);
    if soft < hard && setrlimit(Resource::Nofile, Rlimit { current: Some(hard), maximum: lim.maximum }).is_ok() {
        soft = hard;
    }
    usize::try_from(soft.min(1 << 20).saturating_sub(RESERVE).max(64)).unwrap_or(usize::MAX)
}
