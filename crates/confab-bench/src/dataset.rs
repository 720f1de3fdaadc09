//! The dataset generator: forums, threads whose sizes follow a Zipf law, reply trees,
//! votes and message bodies, written through the store's bulk path
//! (`Store::thread_import`). Deterministic for a given seed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use confab_core::id::IdGenerator;
use confab_core::input::{DisplayName, Identifier, Message, Shortname, Title, WebUrl};
use confab_core::model::{ForumPolicy, GuestAuthor, NewForum, PostState, ThreadSpec};
use confab_core::render::render_markdown;
use confab_store::prelude::*;
use confab_store::{ImportPost, Store};
use confab_store_sqlite::{SqliteOptions, SqliteStore};
use figment::providers::Format;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// Dataset sizes. Thread sizes by popularity rank r follow `K / r` (Zipf, exponent 1),
/// with K chosen so the ranked threads hold `posts` in all; ranks whose share rounds to
/// zero have no thread at all — the empty pages that are most of a long tail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
pub enum Size {
    /// Seconds: for CI smoke runs.
    Small,
    /// About 1M posts over 100k thread pages.
    Medium,
    /// About 10M posts over 1M thread pages.
    Large,
}

impl Size {
    /// (thread pages, posts in Zipf threads, deep thread's top-level posts)
    fn shape(self) -> (usize, usize, usize) {
        match self {
            Size::Small => (2_000, 10_000, 3_000),
            Size::Medium => (100_000, 900_000, 100_000),
            Size::Large => (1_000_000, 9_900_000, 100_000),
        }
    }
}

/// What a run needs to know about a dataset; written beside the database.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub size: Size,
    pub seed: u64,
    /// The forum of the hot and deep threads (the first of `forums`).
    pub forum: String,
    /// Forums holding the thread pages: page rank r lives in `forums[r % forums.len()]`.
    #[serde(default)]
    pub forums: Vec<String>,
    /// Thread page identifiers by popularity rank (index 0 most popular); pages past
    /// `threads_created` have no thread.
    pub pages: usize,
    pub threads_created: usize,
    /// A 200-comment thread for the hot-thread workload.
    pub hot: String,
    /// A thread with this many top-level posts, for the deep-page workload.
    pub deep: String,
    pub deep_roots: usize,
    pub posts: usize,
    pub seconds: f64,
    pub posts_per_second: f64,
    /// The configuration file whose `[postgres]` topology holds the dataset; `None`:
    /// the embedded store's `confab.db` in the dataset's directory.
    #[serde(default)]
    pub postgres: Option<PathBuf>,
}

pub fn page_identifier(rank: usize) -> String {
    format!("page-{rank}")
}

impl Manifest {
    /// The forum holding the page of popularity rank `rank`.
    pub fn forum_of(&self, rank: usize) -> &str {
        if self.forums.is_empty() { &self.forum } else { &self.forums[rank % self.forums.len()] }
    }
}

/// Message bodies: lines of a corpus file (the ham half of the SMS Spam Collection by
/// default, see scripts/bench), else a small built-in set for offline smoke runs.
pub fn load_bodies(path: Option<&Path>) -> anyhow::Result<Vec<String>> {
    if let Some(p) = path {
        let text = std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?;
        let bodies: Vec<String> = text.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect();
        anyhow::ensure!(!bodies.is_empty(), "{} holds no bodies", p.display());
        return Ok(bodies);
    }
    Ok(BUILT_IN.iter().map(|s| (*s).to_owned()).collect())
}

const BUILT_IN: &[&str] = &[
    "Great piece, thanks for writing it up.",
    "I disagree with the second point: the numbers from last year say otherwise.",
    "Has anyone tried this with a **sourdough** starter? Mine never rises like that.",
    "Source? I'd like to read the original study: https://example.org/study",
    "This is exactly what happened in our town, word for word.",
    "> the fog horn whenever it pleases\n\nThis line made my day.",
    "Can you share the recipe for the second loaf? _Please_.",
    "Same here. We waited three weeks for a reply and then gave up.",
    "Lovely photos. Which lens did you use for the harbour shots?",
    "Correction: the bridge opened in 1998, not 1989.",
];

const NAMES: &[&str] = &["Ann", "Bob", "Cy", "Dee", "Eli", "Fay", "Gus", "Hal", "Ivy", "Jo", "Kim", "Lu", "Mo", "Ned"];

pub struct Seeder {
    pub store: Arc<dyn Store>,
    pub rng: StdRng,
    pub bodies: Vec<String>,
    pub posts_written: usize,
}

/// How many posts per import transaction: big threads go in several batches.
const BATCH: usize = 5_000;
const YEAR_MS: i64 = 365 * 24 * 3600 * 1000;

impl Seeder {
    /// A thread of `n` posts: ~60% top-level, the rest replies to a recent post (so
    /// trees are mostly shallow with some long chains); likes ~ geometric.
    pub async fn thread(
        &mut self,
        forum: &confab_core::model::Forum,
        identifier: &str,
        n: usize,
        roots_only: bool,
        now: i64,
    ) -> anyhow::Result<()> {
        let spec = ThreadSpec {
            identifier: Identifier::parse(identifier)?,
            url: Some(WebUrl::parse("url", &format!("https://news.example/{identifier}"))?),
            title: Some(Title::parse(&format!("Article {identifier}"))?),
        };
        let mut written = 0;
        let mut t = now - YEAR_MS + self.rng.random_range(0..YEAR_MS / 2);
        while written < n {
            let k = BATCH.min(n - written);
            let mut batch = Vec::with_capacity(k);
            for i in 0..k {
                let parent = if roots_only || i == 0 || self.rng.random_bool(0.6) {
                    None
                } else {
                    // Mostly answer something recent.
                    let back = 1 + (self.rng.random::<f64>().powi(3) * i.min(50) as f64) as usize;
                    Some(i - back.min(i))
                };
                let body = &self.bodies[self.rng.random_range(0..self.bodies.len())];
                let name = NAMES[self.rng.random_range(0..NAMES.len())];
                let author = format!("{name} {}", self.rng.random_range(0..500));
                let likes = (-(self.rng.random::<f64>().max(1e-9)).ln() * 1.5) as i64;
                let state = if self.rng.random_bool(0.02) { PostState::Deleted } else { PostState::Approved };
                t += self.rng.random_range(1_000..600_000);
                batch.push(ImportPost {
                    parent,
                    author: GuestAuthor { name: DisplayName::parse("name", &author)?, email: None, url: None },
                    message: Message::parse(body)?,
                    html: render_markdown(body),
                    state,
                    created_at: t.min(now),
                    likes,
                    dislikes: i64::from(self.rng.random_bool(0.1)),
                });
            }
            self.store.thread_import(forum, spec.clone(), batch, now).await?;
            written += k;
            self.posts_written += k;
        }
        Ok(())
    }
}

/// Creates a dataset in `dir` (which must not hold one yet) and writes its manifest.
pub async fn generate(
    dir: &Path,
    size: Size,
    seed: u64,
    forum_count: usize,
    bodies: Vec<String>,
    postgres: Option<&Path>,
) -> anyhow::Result<Manifest> {
    std::fs::create_dir_all(dir)?;
    let store: Arc<dyn Store> = match postgres {
        // The bulk path on PostgreSQL: one unnest insert per batch, per shard.
        Some(config) => {
            let pg: confab_store_pg::PgConfig = figment::Figment::from(figment::providers::Toml::file(config))
                .extract_inner("postgres")
                .with_context(|| format!("no [postgres] section in {}", config.display()))?;
            let t = confab_store_pg::Topology::new(pg).map_err(|e| anyhow::anyhow!("{e}"))?;
            confab_store_pg::migrate::migrate_all(&t).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            anyhow::ensure!(
                t.global.primary().await.is_ok(),
                "the global database of {} is unreachable",
                config.display()
            );
            let store = confab_store_pg::PgStore::open(t, Arc::new(IdGenerator::new())).await?;
            anyhow::ensure!(store.forum_list().await?.is_empty(), "{} already holds a dataset", config.display());
            Arc::new(store)
        }
        None => {
            let db = dir.join("confab.db");
            anyhow::ensure!(!db.exists(), "{} already holds a database", dir.display());
            Arc::new(SqliteStore::open(&SqliteOptions::new(db), Arc::new(IdGenerator::new()))?)
        }
    };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as i64;
    // Several tenants: thread pages are dealt round-robin over the forums.
    let mut forums = Vec::with_capacity(forum_count);
    for i in 0..forum_count.max(1) {
        let forum = store
            .forum_create(
                NewForum {
                    owner: None,
                    shortname: Shortname::parse(&format!("bench{i}"))?,
                    name: DisplayName::parse("name", &format!("Benchmark forum {i}"))?,
                    origins: vec![],
                    policy: ForumPolicy::default(),
                },
                now,
            )
            .await?;
        forums.push(forum);
    }
    let (pages, zipf_posts, deep_roots) = size.shape();
    let harmonic: f64 = (1..=pages).map(|r| 1.0 / r as f64).sum();
    let k = zipf_posts as f64 / harmonic;
    let mut seeder = Seeder { store: Arc::clone(&store), rng: StdRng::seed_from_u64(seed), bodies, posts_written: 0 };
    let started = Instant::now();
    let mut created = 0;
    for rank in 0..pages {
        let n = (k / (rank + 1) as f64).round() as usize;
        if n == 0 {
            break;
        }
        seeder.thread(&forums[rank % forums.len()], &page_identifier(rank), n, false, now).await?;
        created += 1;
    }
    seeder.thread(&forums[0], "hot", 200, false, now).await?;
    seeder.thread(&forums[0], "deep", deep_roots, true, now).await?;
    let seconds = started.elapsed().as_secs_f64();
    let manifest = Manifest {
        size,
        seed,
        forum: forums[0].shortname.to_string(),
        forums: forums.iter().map(|f| f.shortname.to_string()).collect(),
        pages,
        threads_created: created,
        hot: "hot".into(),
        deep: "deep".into(),
        deep_roots,
        posts: seeder.posts_written,
        seconds,
        posts_per_second: seeder.posts_written as f64 / seconds,
        postgres: postgres.map(|p| p.canonicalize().unwrap_or_else(|_| p.to_owned())),
    };
    std::fs::write(manifest_path(dir), serde_json::to_vec_pretty(&manifest)?)?;
    Ok(manifest)
}

pub fn manifest_path(dir: &Path) -> PathBuf {
    dir.join("bench-manifest.json")
}

pub fn read_manifest(dir: &Path) -> anyhow::Result<Manifest> {
    let p = manifest_path(dir);
    let bytes =
        std::fs::read(&p).with_context(|| format!("no dataset at {} (run `confab-bench seed`)", p.display()))?;
    Ok(serde_json::from_slice(&bytes)?)
}
