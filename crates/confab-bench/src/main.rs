//! `confab-bench`: seed a dataset, then run Disqus-shaped workloads against a real
//! `confab serve` and against a ceiling server in the same run. See scripts/bench.

mod dataset;
mod load;
mod procs;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use load::{MakeReq, Mode, Outcome, Plan, Req};
use rand::Rng;
use rand::rngs::StdRng;
use serde::Serialize;

#[derive(Parser)]
#[command(name = "confab-bench", about = "Confab's load harness")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Generate a dataset through the store's bulk path.
    Seed {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, value_enum, default_value = "small")]
        size: dataset::Size,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Message bodies, one per line (default: a small built-in set).
        #[arg(long)]
        bodies: Option<PathBuf>,
        /// Forums the thread pages are spread over.
        #[arg(long, default_value_t = 4)]
        forums: usize,
        /// A configuration file whose `[postgres]` topology (empty databases) receives
        /// the dataset instead of the embedded store; `run` then serves from it.
        #[arg(long)]
        postgres: Option<PathBuf>,
    },
    /// Run workloads against `confab serve` on a copy of a dataset.
    Run {
        #[arg(long)]
        dir: PathBuf,
        /// The confab binary to benchmark (a release build).
        #[arg(long)]
        confab_bin: PathBuf,
        #[arg(long, default_value_t = 32)]
        connections: usize,
        /// Measured seconds per workload.
        #[arg(long, default_value_t = 10.0)]
        duration: f64,
        #[arg(long, default_value_t = 2.0)]
        warmup: f64,
        /// Comma-separated: ceiling,a,b,c,d,e,f (the ceiling always runs).
        #[arg(long, default_value = "a,b,c,d,e,f")]
        workloads: String,
        /// Also run (e) open-loop at this many requests per second.
        #[arg(long)]
        rate: Option<u64>,
        /// The mix of (e), as weights of the workloads it draws from (b, f, d, a).
        #[arg(long, default_value = "b=95,f=4,d=1", value_parser = parse_mix)]
        mix: Mix,
        /// Deep-page workload: which page to compare with page 1.
        #[arg(long, default_value_t = 1000)]
        deep_page: usize,
        /// Where to write the results (JSON) and the table (Markdown).
        #[arg(long)]
        out: PathBuf,
        /// Exit with an error if any request failed (for smoke runs in CI).
        #[arg(long)]
        fail_on_errors: bool,
    },
    /// The ceiling server (started by `run`).
    Ceiling {
        #[arg(long)]
        bytes: usize,
    },
}

#[derive(Debug, Serialize)]
struct Row {
    workload: String,
    description: String,
    mode: Mode,
    connections: usize,
    #[serde(flatten)]
    outcome: Outcome,
    ratio_to_ceiling: f64,
    server: procs::Usage,
    /// Server CPU seconds spent per 1,000 requests during this workload.
    server_cpu_ms_per_request: f64,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.cmd {
        Cmd::Seed { dir, size, seed, bodies, forums, postgres } => rt.block_on(async {
            anyhow::ensure!((1..=1000).contains(&forums), "--forums must be between 1 and 1000");
            let bodies = dataset::load_bodies(bodies.as_deref())?;
            let m = dataset::generate(&dir, size, seed, forums, bodies, postgres.as_deref()).await?;
            println!(
                "seeded {:?}: {} posts in {} threads (+ hot, deep) over {} pages in {} forums in {:.1} s = {:.0} posts/s",
                m.size,
                m.posts,
                m.threads_created,
                m.pages,
                m.forums.len(),
                m.seconds,
                m.posts_per_second
            );
            Ok(())
        }),
        Cmd::Ceiling { bytes } => rt.block_on(procs::serve_ceiling(bytes)),
        Cmd::Run {
            dir,
            confab_bin,
            connections,
            duration,
            warmup,
            workloads,
            rate,
            mix,
            deep_page,
            out,
            fail_on_errors,
        } => {
            let opts = RunOpts { connections, duration, warmup, rate, deep_page, mix };
            let rows = rt.block_on(run(&dir, &confab_bin, &workloads, &opts, &out))?;
            let failed: Vec<String> = rows
                .iter()
                .filter(|r| !r.outcome.errors.is_empty() || r.outcome.requests == 0)
                .map(|r| format!("{}: {} ok, errors {:?}", r.workload, r.outcome.requests, r.outcome.errors))
                .collect();
            anyhow::ensure!(!fail_on_errors || failed.is_empty(), "workloads failed: {}", failed.join("; "));
            Ok(())
        }
    }
}

struct RunOpts {
    connections: usize,
    duration: f64,
    warmup: f64,
    rate: Option<u64>,
    deep_page: usize,
    mix: Mix,
}

/// Weights of the workloads (e) draws from.
#[derive(Debug, Clone, PartialEq)]
struct Mix(Vec<(String, u32)>);

/// `b=95,f=4,d=1` → weights; only workloads that make single requests can be mixed.
fn parse_mix(s: &str) -> Result<Mix, String> {
    let mut out = Vec::new();
    for part in s.split(',') {
        let (k, v) = part.split_once('=').ok_or_else(|| format!("{part:?}: write workload=weight"))?;
        let k = k.trim();
        if !["a", "b", "d", "f"].contains(&k) {
            return Err(format!("{k:?}: a mix draws from a, b, d and f"));
        }
        let v: u32 = v.trim().parse().map_err(|_| format!("{v:?} is not a whole number"))?;
        out.push((k.to_owned(), v));
    }
    if out.iter().map(|(_, v)| u64::from(*v)).sum::<u64>() == 0 {
        return Err("the weights add up to zero".into());
    }
    Ok(Mix(out))
}

/// Zipf(1.0) over `n` ranks by inverse CDF: rank r drawn with probability ∝ 1/(r+1).
struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    fn new(n: usize) -> Self {
        let mut acc = 0.0;
        let mut cdf: Vec<f64> = (1..=n.max(1))
            .map(|r| {
                acc += 1.0 / r as f64;
                acc
            })
            .collect();
        let total = acc;
        cdf.iter_mut().for_each(|c| *c /= total);
        Zipf { cdf }
    }
    fn sample(&self, rng: &mut StdRng) -> usize {
        let u: f64 = rng.random();
        self.cdf.partition_point(|&c| c < u).min(self.cdf.len() - 1)
    }
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

async fn run(
    dir: &std::path::Path,
    bin: &std::path::Path,
    which: &str,
    o: &RunOpts,
    out: &std::path::Path,
) -> anyhow::Result<Vec<Row>> {
    let manifest = dataset::read_manifest(dir)?;
    // Writes change the data: every run starts from a fresh copy of an embedded
    // dataset. A PostgreSQL one is served in place (the writes of a run add a few
    // thousand posts to a million; seed again for pristine figures).
    let scratch = dir.join("run");
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch)?;
    if manifest.postgres.is_none() {
        std::fs::copy(dir.join("confab.db"), scratch.join("confab.db")).context("copying the dataset")?;
    }
    let confab = procs::confab(bin, &scratch, manifest.postgres.as_deref())?;
    let forum = manifest.forum.clone();
    let api = format!("/api/v1/forums/{forum}");

    let hot_path = format!("{api}/thread-page?identifier={}", manifest.hot);
    let hot_body = load::fetch(confab.addr, &hot_path).await?;
    let ceiling = procs::ceiling(hot_body.len())?;

    let plan = |addr, mode| Plan {
        addr,
        connections: o.connections,
        duration: Duration::from_secs_f64(o.duration),
        warmup: Duration::from_secs_f64(o.warmup),
        mode,
        timeout: Duration::from_secs(10),
        seed: manifest.seed,
    };
    let pages = Arc::new(Zipf::new(manifest.pages));
    let threads = Arc::new(Zipf::new(manifest.threads_created.max(1)));
    let m = Arc::new(manifest.clone());
    let tail: MakeReq = {
        let (m, pages) = (Arc::clone(&m), Arc::clone(&pages));
        Arc::new(move |rng| {
            let r = pages.sample(rng);
            Req::get(format!("/api/v1/forums/{}/thread-page?identifier={}", m.forum_of(r), dataset::page_identifier(r)))
        })
    };
    let counts: MakeReq = {
        // A count batch is one forum's: 20 popular pages of the forum of a popular page.
        let (m, pages) = (Arc::clone(&m), Arc::clone(&pages));
        Arc::new(move |rng| {
            let forum = m.forum_of(pages.sample(rng));
            let q: Vec<String> = (0..20)
                .map(|_| {
                    let mut r = pages.sample(rng);
                    while m.forum_of(r) != forum {
                        r = (r + 1) % m.pages;
                    }
                    format!("identifier={}", dataset::page_identifier(r))
                })
                .collect();
            Req::get(format!("/api/v1/forums/{forum}/counts?{}", q.join("&")))
        })
    };
    let writes: MakeReq = {
        let (m, threads) = (Arc::clone(&m), Arc::clone(&threads));
        Arc::new(move |rng| {
            let r = threads.sample(rng);
            let id = dataset::page_identifier(r);
            let n: u32 = rng.random();
            Req::post_json(
                format!("/api/v1/forums/{}/posts", m.forum_of(r)),
                &serde_json::json!({
                    "thread": { "identifier": id },
                    "message": format!("Benchmark comment {n}: I read the whole piece and have one question."),
                    "author": { "name": format!("Bench {}", n % 1000) },
                }),
            )
        })
    };

    let mut rows: Vec<Row> = Vec::new();
    let ceiling_row = measure(
        "ceiling",
        "minimal hyper server, fixed body the size of (a)",
        &ceiling,
        plan(ceiling.addr, Mode::Closed),
        Arc::new(|_| Req::get("/")),
        None,
    )
    .await?;
    let ceiling_rps = ceiling_row.outcome.rps;
    rows.push(ceiling_row);
    let want = |w: &str| which.split(',').any(|x| x.trim() == w);
    let p = |mode| plan(confab.addr, mode);

    if want("a") {
        let path = hot_path.clone();
        rows.push(
            measure(
                "a",
                "hot thread: first page of a 200-comment thread",
                &confab,
                p(Mode::Closed),
                Arc::new(move |_| Req::get(path.clone())),
                Some(ceiling_rps),
            )
            .await?,
        );
    }
    let mut cache_b = serde_json::Value::Null;
    let mut page_bytes_avg = 0.0;
    if want("b") {
        // The average first page over pages drawn uniformly (empty ones included): what
        // sizing a cache to a share of the threads needs (scripts/bench-cache).
        let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(manifest.seed);
        let mut total = 0usize;
        const SAMPLE: usize = 200;
        for _ in 0..SAMPLE {
            let r = rand::Rng::random_range(&mut rng, 0..manifest.pages);
            let path = format!(
                "/api/v1/forums/{}/thread-page?identifier={}&limit=25&replies=3",
                m.forum_of(r),
                dataset::page_identifier(r)
            );
            total += load::fetch(confab.addr, &path).await?.len();
        }
        page_bytes_avg = total as f64 / SAMPLE as f64;
        eprintln!("   average first page over {SAMPLE} uniform pages: {page_bytes_avg:.0} bytes");
        let d = format!("long tail: first pages by Zipf(1.0) over {} pages", manifest.pages);
        let before = cache_stats(&confab).await?;
        rows.push(measure("b", &d, &confab, p(Mode::Closed), Arc::clone(&tail), Some(ceiling_rps)).await?);
        cache_b = cache_delta(&before, &cache_stats(&confab).await?);
        eprintln!("   cache during (b): {cache_b}");
    }
    if want("c") {
        let deep: serde_json::Value = serde_json::from_slice(
            &load::fetch(confab.addr, &format!("{api}/thread-page?identifier={}&limit=1", manifest.deep)).await?,
        )?;
        let thread_id = deep["thread"]["id"].as_str().context("deep thread missing")?.to_owned();
        let first = format!("/api/v1/threads/{thread_id}/posts?sort=oldest&limit=25");
        let k = o.deep_page.min(manifest.deep_roots / 25).max(2);
        let mut cursor = String::new();
        for _ in 1..k {
            let path = if cursor.is_empty() { first.clone() } else { format!("{first}&cursor={}", enc(&cursor)) };
            let page: serde_json::Value = serde_json::from_slice(&load::fetch(confab.addr, &path).await?)?;
            cursor = page["cursor"].as_str().context("the deep thread ended early")?.to_owned();
        }
        let page_k = format!("{first}&cursor={}", enc(&cursor));
        let f1 = first.clone();
        // Page 1 and page k alternate (A B B A, half the time each) so that drift in
        // the machine's speed during the run does not pass for a difference between them.
        let pair = measure_abba(
            [
                ("c1", "deep thread: page 1 of its top-level posts".to_owned()),
                ("ck", format!("deep thread: page {k} of its top-level posts")),
            ],
            &confab,
            p(Mode::Closed),
            [Arc::new(move |_| Req::get(f1.clone())), Arc::new(move |_| Req::get(page_k.clone()))],
            ceiling_rps,
        )
        .await?;
        rows.extend(pair);
    }
    if want("d") {
        rows.push(
            measure(
                "d",
                "writes: new posts over threads by Zipf(1.0)",
                &confab,
                p(Mode::Closed),
                Arc::clone(&writes),
                Some(ceiling_rps),
            )
            .await?,
        );
    }
    if want("e") {
        let hot: MakeReq = {
            let path = hot_path.clone();
            Arc::new(move |_| Req::get(path.clone()))
        };
        let parts: Vec<(u32, MakeReq)> = o
            .mix
            .0
            .iter()
            .map(|(k, w)| {
                let make = match k.as_str() {
                    "a" => Arc::clone(&hot),
                    "b" => Arc::clone(&tail),
                    "f" => Arc::clone(&counts),
                    _ => Arc::clone(&writes),
                };
                (*w, make)
            })
            .collect();
        let total: u32 = parts.iter().map(|(w, _)| w).sum();
        let mix: MakeReq = Arc::new(move |rng| {
            let mut x = rng.random_range(0..total);
            for (w, make) in &parts {
                if x < *w {
                    return make(rng);
                }
                x -= w;
            }
            unreachable!("x < total")
        });
        let label = o.mix.0.iter().map(|(k, w)| format!("{w}% ({k})")).collect::<Vec<_>>().join(", ");
        rows.push(
            measure(
                "e",
                &format!("Disqus day: {label}"),
                &confab,
                p(Mode::Closed),
                Arc::clone(&mix),
                Some(ceiling_rps),
            )
            .await?,
        );
        if let Some(rate) = o.rate {
            let d = format!("Disqus day, open loop at {rate} req/s");
            rows.push(measure("e-open", &d, &confab, p(Mode::Open(rate)), mix, Some(ceiling_rps)).await?);
        }
    }
    if want("f") {
        rows.push(
            measure("f", "count batches: 20 threads per request", &confab, p(Mode::Closed), counts, Some(ceiling_rps))
                .await?,
        );
    }

    let table = markdown(&rows, &manifest, o);
    println!("{table}");
    std::fs::write(
        out.with_extension("json"),
        serde_json::to_vec_pretty(&serde_json::json!({
            "dataset": manifest, "rows": rows, "cache_b": cache_b, "page_bytes_avg": page_bytes_avg
        }))?,
    )?;
    std::fs::write(out.with_extension("md"), table)?;
    drop(confab);
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(rows)
}

/// The server's cache counters (`GET /api/v1/cache`).
async fn cache_stats(server: &procs::Server) -> anyhow::Result<serde_json::Value> {
    let auth = format!("Bearer {}", procs::ADMIN_TOKEN);
    Ok(serde_json::from_slice(&load::fetch_as(server.addr, "/api/v1/cache", &auth).await?)?)
}

/// What the counters did between two readings, with the hit ratio over that span and
/// the gauges as they were at the end.
fn cache_delta(before: &serde_json::Value, after: &serde_json::Value) -> serde_json::Value {
    let mut d = after.clone();
    let n = |v: &serde_json::Value, k: &str| v[k].as_u64().unwrap_or(0);
    for k in ["hits", "stale", "early", "misses", "fills", "fill_errors", "kept", "l1_hits", "notices_heard"] {
        if after.get(k).is_some() {
            d[k] = serde_json::json!(n(after, k) - n(before, k));
        }
    }
    let served = n(&d, "hits") + n(&d, "stale") + n(&d, "early");
    let all = served + n(&d, "misses");
    d["hit_ratio"] = serde_json::json!(if all == 0 { 0.0 } else { served as f64 / all as f64 });
    d
}

async fn measure(
    name: &str,
    description: &str,
    server: &procs::Server,
    plan: Plan,
    make: MakeReq,
    ceiling_rps: Option<f64>,
) -> anyhow::Result<Row> {
    eprintln!("== {name}: {description}");
    let pid = server.child.id();
    let before = procs::usage(pid);
    let (mode, connections) = (plan.mode, plan.connections);
    let outcome = load::run(&plan, make).await?;
    let after = procs::usage(pid);
    let cpu = after.cpu_seconds - before.cpu_seconds;
    let total_time = plan.duration.as_secs_f64() + plan.warmup.as_secs_f64();
    let per_request = if outcome.requests > 0 { cpu * 1000.0 / (outcome.rps * total_time) } else { 0.0 };
    Ok(Row {
        workload: name.into(),
        description: description.into(),
        mode,
        connections,
        ratio_to_ceiling: ceiling_rps.map_or(1.0, |c| outcome.rps / c),
        outcome,
        server: procs::Usage { cpu_seconds: cpu, ..after },
        server_cpu_ms_per_request: per_request,
    })
}

async fn measure_abba(
    names: [(&str, String); 2],
    server: &procs::Server,
    plan: Plan,
    makes: [MakeReq; 2],
    ceiling_rps: f64,
) -> anyhow::Result<Vec<Row>> {
    eprintln!("== {} / {}: alternating", names[0].0, names[1].0);
    let pid = server.child.id();
    let half = Plan { duration: plan.duration / 2, ..plan.clone() };
    let mut tallies = [load::Tally::new(), load::Tally::new()];
    let mut cpu = [0.0f64; 2];
    for i in [0usize, 1, 1, 0] {
        let before = procs::usage(pid);
        let t = load::run_tally(&half, Arc::clone(&makes[i])).await?;
        cpu[i] += procs::usage(pid).cpu_seconds - before.cpu_seconds;
        tallies[i].merge(t);
    }
    let after = procs::usage(pid);
    let seconds = 2.0 * half.duration.as_secs_f64();
    let busy = 2.0 * (half.duration + half.warmup).as_secs_f64();
    Ok((0..2)
        .map(|i| {
            let outcome = load::outcome(&tallies[i], seconds);
            let per_request = if outcome.requests > 0 { cpu[i] * 1000.0 / (outcome.rps * busy) } else { 0.0 };
            Row {
                workload: names[i].0.into(),
                description: names[i].1.clone(),
                mode: plan.mode,
                connections: plan.connections,
                ratio_to_ceiling: outcome.rps / ceiling_rps,
                outcome,
                server: procs::Usage { cpu_seconds: cpu[i], ..after },
                server_cpu_ms_per_request: per_request,
            }
        })
        .collect())
}

fn markdown(rows: &[Row], m: &dataset::Manifest, o: &RunOpts) -> String {
    let mut s = format!(
        "Dataset {:?}: {} posts, {} threads over {} pages (seeded at {:.0} posts/s). {} connections, {} s per workload after {} s warm-up.\n\n",
        m.size, m.posts, m.threads_created, m.pages, m.posts_per_second, o.connections, o.duration, o.warmup
    );
    s.push_str("| workload | req/s | × ceiling | p50 ms | p90 ms | p99 ms | p99.9 ms | errors | server CPU ms/req | server peak RSS MiB |\n");
    s.push_str("|---|---|---|---|---|---|---|---|---|---|\n");
    let ms = |us: u64| format!("{:.2}", us as f64 / 1000.0);
    for r in rows {
        let errors: u64 = r.outcome.errors.values().sum();
        let errors = if errors == 0 {
            "0".to_owned()
        } else {
            r.outcome.errors.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join(", ")
        };
        s.push_str(&format!(
            "| {} {} | {:.0} | {:.2} | {} | {} | {} | {} | {} | {:.3} | {:.0} |\n",
            r.workload,
            r.description,
            r.outcome.rps,
            r.ratio_to_ceiling,
            ms(r.outcome.p50_us),
            ms(r.outcome.p90_us),
            ms(r.outcome.p99_us),
            ms(r.outcome.p999_us),
            errors,
            r.server_cpu_ms_per_request,
            r.server.peak_rss_mib,
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn zipf_favours_low_ranks_like_one_over_r() {
        let z = Zipf::new(1000);
        let mut rng = StdRng::seed_from_u64(7);
        let mut hits = [0u32; 1000];
        for _ in 0..200_000 {
            hits[z.sample(&mut rng)] += 1;
        }
        // P(rank 0) / P(rank 9) = 10 under Zipf(1).
        let ratio = f64::from(hits[0]) / f64::from(hits[9]);
        assert!((8.0..12.5).contains(&ratio), "{ratio}");
        assert!(hits.iter().all(|&h| h < 200_000), "every rank drawable");
        assert!(hits[999] > 0);
    }

    #[test]
    fn mixes_parse_and_refuse_nonsense() {
        assert_eq!(parse_mix("b=95,f=4,d=1").unwrap().0, [("b".into(), 95), ("f".into(), 4), ("d".into(), 1)]);
        assert!(parse_mix("c=1").is_err(), "deep pages need set-up, not mixable");
        assert!(parse_mix("b=0").is_err());
        assert!(parse_mix("b").is_err());
        assert!(parse_mix("b=x").is_err());
    }

    #[test]
    fn the_command_line_parses_with_its_defaults() {
        let cli =
            Cli::try_parse_from(["confab-bench", "run", "--dir", "d", "--confab-bin", "c", "--out", "o"]).unwrap();
        let Cmd::Run { mix, connections, .. } = cli.cmd else { panic!("not run") };
        assert_eq!(mix, parse_mix("b=95,f=4,d=1").unwrap());
        assert_eq!(connections, 32);
        assert!(
            Cli::try_parse_from([
                "confab-bench",
                "run",
                "--dir",
                "d",
                "--confab-bin",
                "c",
                "--out",
                "o",
                "--mix",
                "z=1"
            ])
            .is_err()
        );
        let cli = Cli::try_parse_from(["confab-bench", "seed", "--dir", "d", "--size", "medium"]).unwrap();
        assert!(matches!(cli.cmd, Cmd::Seed { size: dataset::Size::Medium, forums: 4, .. }));
    }

    #[test]
    fn query_encoding_keeps_cursors_intact() {
        assert_eq!(enc("a+b/c=d"), "a%2Bb%2Fc%3Dd");
        assert_eq!(enc("AZaz09-_.~"), "AZaz09-_.~");
    }
}
