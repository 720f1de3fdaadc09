//! The load generator: hyper HTTP/1.1 over kept-alive loopback connections, closed loop
//! (each connection sends as soon as its last answer arrived) or open loop (a fixed
//! total rate; latency counted from when each request *should* have been sent, so a
//! stalled server cannot hide its queue — no coordinated omission).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::Serialize;

/// One request to send: method, path and query, optional JSON body.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: hyper::Method,
    pub path: String,
    pub body: Option<Bytes>,
}

impl Req {
    pub fn get(path: impl Into<String>) -> Self {
        Req { method: hyper::Method::GET, path: path.into(), body: None }
    }
    pub fn post_json(path: impl Into<String>, body: &serde_json::Value) -> Self {
        Req { method: hyper::Method::POST, path: path.into(), body: Some(Bytes::from(body.to_string())) }
    }
}

/// Makes the next request of a workload; each connection owns one generator state.
pub type MakeReq = Arc<dyn Fn(&mut StdRng) -> Req + Send + Sync>;

#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Closed,
    /// Requests per second, across all connections.
    Open(u64),
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub addr: SocketAddr,
    pub connections: usize,
    pub duration: Duration,
    pub warmup: Duration,
    pub mode: Mode,
    pub timeout: Duration,
    pub seed: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub requests: u64,
    pub seconds: f64,
    pub rps: f64,
    /// Latency percentiles in microseconds.
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
    /// Failures by kind: `status 503`, `connect`, `timeout`, `io`.
    pub errors: BTreeMap<String, u64>,
    /// Mean response body size in bytes.
    pub mean_body_bytes: u64,
}

/// What a run counted; tallies of several runs merge (histograms add).
pub struct Tally {
    hist: Histogram<u64>,
    errors: BTreeMap<String, u64>,
    ok: u64,
    body_bytes: u64,
}

impl Tally {
    pub fn new() -> Self {
        Tally {
            hist: Histogram::new_with_bounds(1, 60_000_000, 3).expect("static bounds"),
            errors: BTreeMap::new(),
            ok: 0,
            body_bytes: 0,
        }
    }
    pub fn merge(&mut self, o: Tally) {
        self.hist.add(&o.hist).expect("same bounds");
        for (k, v) in o.errors {
            *self.errors.entry(k).or_default() += v;
        }
        self.ok += o.ok;
        self.body_bytes += o.body_bytes;
    }
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(addr: SocketAddr) -> anyhow::Result<Sender> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// Sends one request; Ok(body length) for a 2xx, else the error's kind.
async fn send(sender: &mut Sender, host: &str, r: &Req) -> Result<usize, String> {
    let mut b = Request::builder().method(r.method.clone()).uri(&r.path).header(hyper::header::HOST, host);
    if r.body.is_some() {
        b = b.header(hyper::header::CONTENT_TYPE, "application/json");
    }
    let req = b.body(Full::new(r.body.clone().unwrap_or_default())).map_err(|_| "request".to_owned())?;
    sender.ready().await.map_err(|_| "io".to_owned())?;
    let resp = sender.send_request(req).await.map_err(|_| "io".to_owned())?;
    let status = resp.status();
    let body = resp.into_body().collect().await.map_err(|_| "io".to_owned())?.to_bytes();
    if status.is_success() { Ok(body.len()) } else { Err(format!("status {}", status.as_u16())) }
}

/// Runs the plan and returns the tally of the measured period (after warm-up).
pub async fn run(plan: &Plan, make: MakeReq) -> anyhow::Result<Outcome> {
    Ok(outcome(&run_tally(plan, make).await?, plan.duration.as_secs_f64()))
}

/// The summary of a tally collected over `seconds` of measurement.
pub fn outcome(t: &Tally, seconds: f64) -> Outcome {
    let h = &t.hist;
    Outcome {
        requests: t.ok,
        seconds,
        rps: t.ok as f64 / seconds,
        p50_us: h.value_at_quantile(0.5),
        p90_us: h.value_at_quantile(0.9),
        p99_us: h.value_at_quantile(0.99),
        p999_us: h.value_at_quantile(0.999),
        max_us: h.max(),
        errors: t.errors.clone(),
        mean_body_bytes: t.body_bytes.checked_div(t.ok).unwrap_or(0),
    }
}

pub async fn run_tally(plan: &Plan, make: MakeReq) -> anyhow::Result<Tally> {
    let host = plan.addr.to_string();
    let start = Instant::now();
    let measure_from = start + plan.warmup;
    let end = measure_from + plan.duration;
    let total = Arc::new(Mutex::new(Tally::new()));
    let mut tasks = Vec::with_capacity(plan.connections);
    for c in 0..plan.connections {
        let (make, host, total, plan) = (Arc::clone(&make), host.clone(), Arc::clone(&total), plan.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(plan.seed ^ (c as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let mut tally = Tally::new();
            let mut sender = None;
            // Open loop: this connection's share of the rate, offset so connections interleave.
            let interval = match plan.mode {
                Mode::Open(rate) => Some(Duration::from_secs_f64(plan.connections as f64 / rate.max(1) as f64)),
                Mode::Closed => None,
            };
            let mut due = start + interval.map_or(Duration::ZERO, |i| i.mul_f64(c as f64 / plan.connections as f64));
            loop {
                if interval.is_some() {
                    if due >= end {
                        break;
                    }
                    tokio::time::sleep_until(due.into()).await;
                }
                let intended = if interval.is_some() { due } else { Instant::now() };
                if intended >= end {
                    break;
                }
                let req = make(&mut rng);
                let result = async {
                    if sender.is_none() {
                        sender = Some(connect(plan.addr).await.map_err(|_| "connect".to_owned())?);
                    }
                    let s = sender.as_mut().expect("connected");
                    match tokio::time::timeout(plan.timeout, send(s, &host, &req)).await {
                        Ok(r) => r,
                        Err(_) => Err("timeout".to_owned()),
                    }
                }
                .await;
                let done = Instant::now();
                let broken = matches!(&result, Err(k) if k == "io" || k == "timeout" || k == "connect");
                let refused = matches!(&result, Err(k) if k == "connect");
                if intended >= measure_from {
                    match result {
                        Ok(bytes) => {
                            let us = done.duration_since(intended).as_micros().max(1) as u64;
                            tally.hist.saturating_record(us);
                            tally.ok += 1;
                            tally.body_bytes += bytes as u64;
                        }
                        Err(kind) => {
                            *tally.errors.entry(kind).or_default() += 1;
                        }
                    }
                }
                if broken {
                    sender = None; // a broken connection is replaced
                    if refused {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
                if let Some(i) = interval {
                    due += i;
                }
            }
            total.lock().expect("not poisoned").merge(tally);
        }));
    }
    for t in tasks {
        t.await?;
    }
    let t = Arc::try_unwrap(total).map_err(|_| anyhow::anyhow!("tasks still hold the tally"))?.into_inner()?;
    Ok(t)
}

/// One GET, for set-up steps (walking to a deep page, sizing the ceiling body), bounded
/// in time like everything else a run does.
pub async fn fetch(addr: SocketAddr, path: &str) -> anyhow::Result<Bytes> {
    tokio::time::timeout(Duration::from_secs(30), fetch_once(addr, path))
        .await
        .map_err(|_| anyhow::anyhow!("GET {path}: no answer within 30 s"))?
}

/// As [`fetch`], with an `Authorization` header (operators' endpoints).
pub async fn fetch_as(addr: SocketAddr, path: &str, authorization: &str) -> anyhow::Result<Bytes> {
    tokio::time::timeout(Duration::from_secs(30), fetch_once_as(addr, path, Some(authorization)))
        .await
        .map_err(|_| anyhow::anyhow!("GET {path}: no answer within 30 s"))?
}

async fn fetch_once(addr: SocketAddr, path: &str) -> anyhow::Result<Bytes> {
    fetch_once_as(addr, path, None).await
}

async fn fetch_once_as(addr: SocketAddr, path: &str, authorization: Option<&str>) -> anyhow::Result<Bytes> {
    let mut s = connect(addr).await?;
    let host = addr.to_string();
    let mut req = Request::get(path).header(hyper::header::HOST, &host);
    if let Some(a) = authorization {
        req = req.header(hyper::header::AUTHORIZATION, a);
    }
    let req = req.body(Full::new(Bytes::new()))?;
    let resp = s.send_request(req).await?;
    let status = resp.status();
    let body = resp.into_body().collect().await?.to_bytes();
    anyhow::ensure!(status.is_success(), "GET {path}: {status}");
    Ok(body)
}
