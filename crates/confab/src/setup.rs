//! Start-up: open the store, settle the admin token, create the demo forum on first
//! start, and serve until told to stop.

use std::sync::Arc;

use anyhow::Context;
use confab_core::id::IdGenerator;
use confab_core::input::{DisplayName, Identifier, Message, Shortname, Title, WebUrl};
use confab_core::model::{ForumPolicy, GuestAuthor, NewForum, NewPost, PostAuthor, PostState, ThreadSpec};
use confab_core::render::render_markdown;
use confab_core::secret::Token;
use confab_server::auth::AdminToken;
use confab_server::{AppState, Clock, Settings};
use confab_store::Store;
use confab_store::id_nodes::IdNodeKeeper;
use confab_store_sqlite::{SqliteOptions, SqliteStore};

use crate::config::Config;

/// The store the configuration names: the PostgreSQL topology of a `[postgres]`
/// section (migrated first: migrations are idempotent, locked, and expand-only, so the
/// previous release keeps running meanwhile), else the embedded SQLite file.
pub async fn open(config: &Config) -> anyhow::Result<Opened> {
    open_as(config, confab_store_pg::APPLICATION).await
}

/// As [`open`], PostgreSQL sessions named `app` (maintenance commands use
/// [`confab_store_pg::MAINTENANCE`], so that they can see whether servers are running).
pub async fn open_as(config: &Config, app: &str) -> anyhow::Result<Opened> {
    if let Some(pg) = &config.postgres {
        let topology =
            confab_store_pg::Topology::named(pg.clone(), app).map_err(|e| anyhow::anyhow!("postgres: {e}"))?;
        confab_store_pg::migrate::migrate_all(&topology).await.map_err(|e| anyhow::anyhow!("postgres: {e}"))?;
        for replica in topology.await_replicas(std::time::Duration::from_secs(10)).await {
            tracing::warn!(db = %replica, "replica has not replayed the migrations yet; reads use it once it has");
        }
        let ids = Arc::new(IdGenerator::new());
        let store = confab_store_pg::PgStore::open(topology, Arc::clone(&ids))
            .await
            .map_err(|e| anyhow::anyhow!("postgres: {e}"))?;
        let store = Arc::new(store);
        let id_node = lease_id_node(Arc::clone(&store) as Arc<dyn Store>, ids).await?;
        return Ok(Opened { store: Arc::clone(&store) as Arc<dyn Store>, pg: Some(store), id_node });
    }
    let mut opts = SqliteOptions::new(config.database_path());
    opts.readers = config.sqlite_readers.max(1);
    opts.acquire_timeout = std::time::Duration::from_millis(config.db_acquire_timeout_ms);
    let ids = Arc::new(IdGenerator::new());
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&opts, Arc::clone(&ids))
            .with_context(|| format!("cannot open the database at {}", config.database_path().display()))?,
    );
    let id_node = lease_id_node(Arc::clone(&store), ids).await?;
    Ok(Opened { store, pg: None, id_node })
}

/// Every process that writes leases a node of the id space first, so that processes
/// sharing the store (servers, workers, commands) never mint the same id.
async fn lease_id_node(store: Arc<dyn Store>, ids: Arc<IdGenerator>) -> anyhow::Result<IdNodeKeeper> {
    IdNodeKeeper::start(store, ids).await.context("cannot lease a node of the id space")
}

/// An open store with the id node its process holds (given back when this is
/// dropped), and the PostgreSQL store again when that is what it is (for what only it
/// does: waking workers by LISTEN/NOTIFY).
pub struct Opened {
    pub store: Arc<dyn Store>,
    pub pg: Option<Arc<confab_store_pg::PgStore>>,
    pub id_node: IdNodeKeeper,
}

/// The admin token in force: the configured token, else the stored one, made now if
/// there is none yet (and printed once — the only time it is ever shown).
async fn admin_token(config: &Config, store: &dyn Store) -> anyhow::Result<AdminToken> {
    if let Some(secret) = &config.admin_token {
        let token = Token::from_client(secret.expose()).context("admin_token must be 16-128 URL-safe characters")?;
        return Ok(AdminToken::Configured(token.hash()));
    }
    if store.admin_token_hash().await?.is_none() {
        let token = Token::generate();
        if store.admin_token_init(token.hash()).await? {
            println!(
                "\nAdmin token (shown once; `confab admin-token rotate` makes a new one):\n\n    {}\n",
                token.expose()
            );
        }
    }
    Ok(AdminToken::Stored)
}

/// The demo forum with a welcome thread, created when no forum exists yet.
async fn create_demo(store: &dyn Store, clock: &Clock, public_url: &str) -> anyhow::Result<bool> {
    if !store.forum_list().await?.is_empty() {
        return Ok(false);
    }
    let now = clock.now();
    let forum = store
        .forum_create(
            NewForum {
                owner: None,
                shortname: Shortname::parse("demo")?,
                name: DisplayName::parse("name", "Confab demo")?,
                origins: vec![],
                policy: ForumPolicy::default(),
            },
            now,
        )
        .await?;
    let spec = |identifier: &str, path: &str, title: &str| -> anyhow::Result<ThreadSpec> {
        Ok(ThreadSpec {
            identifier: Identifier::parse(identifier)?,
            url: Some(WebUrl::parse("url", &format!("{public_url}{path}"))?),
            title: Some(Title::parse(title)?),
        })
    };
    let post = |thread: &ThreadSpec, name: &str, text: &str, parent| -> anyhow::Result<NewPost> {
        Ok(NewPost {
            thread: thread.clone(),
            parent_id: parent,
            author: PostAuthor::Guest(GuestAuthor { name: DisplayName::parse("name", name)?, email: None, url: None }),
            message: Message::parse(text)?,
            html: render_markdown(text),
            state: PostState::Approved,
            notify: false,
            screen: None,
            held: None,
            hold_first_post: false,
            network: None,
            subscribe: None,
        })
    };
    // The demo site's articles (served at `/` and `/demo/{slug}`) start with a few comments.
    let welcome = spec("welcome", "/", "Welcome to Confab")?;
    let first = post(
        &welcome,
        "Confab",
        "Welcome! This is the **demo** thread. Reply to this comment, vote, or start your own thread.",
        None,
    )?;
    let root = store.post_create(&forum, first, Token::generate().hash(), now).await?;
    let reply = post(
        &welcome,
        "Confab",
        "Replies nest to any depth. Markdown works: *emphasis*, `code`, quotes, and links such as https://commonmark.org/help/",
        Some(root.post.id),
    )?;
    store.post_create(&forum, reply, Token::generate().hash(), now).await?;
    let lighthouse = spec("lighthouse", "/demo/lighthouse", "The last lighthouse keeper")?;
    let first = post(
        &lighthouse,
        "Morag",
        "My grandfather kept the light on Eilean Glas. He said the same about the weather.",
        None,
    )?;
    let root = store.post_create(&forum, first, Token::generate().hash(), now).await?;
    let reply =
        post(&lighthouse, "Tom", "> the fog horn whenever it pleases\n\nThis made me laugh.", Some(root.post.id))?;
    store.post_create(&forum, reply, Token::generate().hash(), now).await?;
    Ok(true)
}

/// The process's clock: the system's, unless the environment names a file holding an
/// offset in milliseconds (`CLOCK_OFFSET_FILE_FOR_TESTS`), read on every use. Browser
/// tests move a running server's time with it (a timeout lapsing, a thread closing)
/// without waiting; it is deliberately not a configuration key.
fn process_clock() -> Clock {
    let Some(path) = std::env::var_os("CLOCK_OFFSET_FILE_FOR_TESTS") else { return Clock::system() };
    tracing::warn!("the clock follows CLOCK_OFFSET_FILE_FOR_TESTS: for tests only");
    let system = Clock::system();
    Clock::from_fn(move || {
        let offset = std::fs::read_to_string(&path).ok().and_then(|s| s.trim().parse::<i64>().ok()).unwrap_or(0);
        system.now() + offset
    })
}

pub async fn serve(mut config: Config) -> anyhow::Result<()> {
    // Bind first: a start that cannot listen must create nothing (no data directory, no
    // admin token printed and then lost with the process).
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    // The address really listened on (port 0 picks one): links in mails and the demo's
    // thread URLs point there unless public_url says otherwise.
    config.listen = listener.local_addr()?;
    let Opened { store, pg, id_node } = open(&config).await?;
    let clock = process_clock();
    let admin = admin_token(&config, &*store).await?;
    if config.demo && create_demo(&*store, &clock, &config.accounts()?.public_url).await? {
        tracing::info!("created the demo forum");
    }
    // `demo = false` takes the demo site away (`/` becomes the landing page) even where
    // an earlier start made the demo forum; the forum and its comments stay as data.
    let has_demo = config.demo && store.forum_by_shortname("demo").await.is_ok();
    let settings = Settings {
        edit_window: config.edit_window(),
        expose_query_count: config.expose_query_count,
        demo: has_demo,
        rate_limits: config.rate_limits()?,
        accounts: config.accounts()?,
        notify_interval: std::time::Duration::from_secs(config.notify_interval_secs),
        akismet: config.akismet()?,
        http_cache: confab_server::HttpCacheSettings {
            max_age: std::time::Duration::from_secs(config.http_max_age_secs),
            stale: std::time::Duration::from_secs(config.http_stale_secs),
        },
        node: config.node().into(),
        switch_refresh: config.switch_refresh(),
    };
    let (mailer, mail_banner) = config.mailer()?;
    let state = AppState::new(Arc::clone(&store), admin, settings, clock.clone())
        .await?
        .with_mailer(mailer)
        .with_outbound(config.outbound())
        .map_err(anyhow::Error::msg)?;
    // One Redis client per process: the cache's backend and notices, and the switches'.
    let redis = config.cache.redis()?;
    let state = match config.cache.backend(redis.clone())? {
        Some(backend) => state.with_cache(backend, config.cache.policy()),
        None => state,
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = if config.workers {
        let worker = confab_jobs::Worker::new(store, Arc::new(state.effects()), config.worker()?, now_fn(&clock));
        let state_wake = worker.waker();
        if let Some(pg) = &pg {
            pg.wake_on_new_jobs(worker.waker());
        }
        let run = {
            let w = worker.clone();
            let stopped = stopped.clone();
            tokio::spawn(async move { w.run(wait_for(stopped)).await })
        };
        Some((state_wake, run))
    } else {
        None
    };
    let state = match &worker {
        Some((wake, _)) => state.with_jobs_wake(Arc::clone(wake)),
        None => state,
    };
    follow_live_notices(pg.as_ref(), redis, &state.live);
    let base = format!("http://{}", config.listen);
    // Operators and tests read this block; it ends with a blank line.
    println!("Confab is listening on {base}");
    println!("  API document:  {base}/api/v1/openapi.json");
    println!("  mail:          {mail_banner}");
    println!("  workers:       {}", if worker.is_some() { "in this process" } else { "off (run `confab worker`)" });
    if has_demo {
        println!("  demo site:     {base}/  (open it in a browser)");
        println!("  demo thread:   {base}/api/v1/forums/demo/thread-page?identifier=welcome");
    }
    println!();
    tracing::info!(listen = %config.listen, data_dir = %config.data_dir.display(), "serving");
    let limits = crate::listen::Limits {
        header_timeout: std::time::Duration::from_secs(config.http_header_timeout_secs.max(1)),
        max_connections: config.http_max_connections.unwrap_or_else(crate::listen::default_max_connections).max(1),
        drain_timeout: std::time::Duration::from_secs(30),
    };
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    });
    crate::listen::serve(listener, confab_server::app(state), limits, wait_for(stopped)).await;
    if let Some((_, run)) = worker {
        // The server has drained its requests; now the worker finishes or gives back
        // its jobs.
        run.await.context("the worker task failed")?;
    }
    id_node.release().await;
    tracing::info!("stopped");
    Ok(())
}

/// `confab forum delete`, once confirmed: the deletion begins (the forum is hidden from
/// every read), then this process purges it a batch at a time, showing how far it got,
/// and finishes once `grace` has passed since the start. Should it stop half way, the
/// purge job that the deletion queued finishes in any `confab serve` or `confab worker`.
pub async fn delete_forum(
    store: &dyn Store,
    forum: &confab_core::model::Forum,
    grace: std::time::Duration,
) -> anyhow::Result<()> {
    let clock = process_clock();
    let since = clock.now();
    let job = store.forum_delete_begin(forum.id, since).await?;
    let name = forum.shortname.as_str();
    println!("forum {name} is deleted: no page shows it from now on; removing its data");
    let finish_at = since + grace.as_millis() as i64;
    let (mut threads, mut posts) = (0, 0);
    loop {
        let step = store.forum_purge(forum.id, job, 500, clock.now() >= finish_at).await?;
        (threads, posts) = (threads + step.threads, posts + step.posts);
        if step.done {
            println!("removed {threads} threads and {posts} comments; the name {name} is free again");
            return Ok(());
        }
        if step.threads > 0 {
            println!("  {threads} threads and {posts} comments removed so far");
            continue;
        }
        let wait = std::time::Duration::from_millis(u64::try_from(finish_at - clock.now()).unwrap_or(0));
        println!(
            "waiting {} s for running servers to drop their copy of the forum (--servers-stopped when none runs)",
            wait.as_secs().max(1)
        );
        // A real wait: until then a server may still write a comment it took before.
        tokio::time::sleep(wait).await;
    }
}

/// `confab worker`: workers alone, no HTTP server. Several may run against one store.
pub async fn worker(config: Config, once: bool) -> anyhow::Result<()> {
    let Opened { store, pg, id_node } = open(&config).await?;
    let clock = process_clock();
    let outbound = confab_server::outbound::Outbound::new(config.outbound()).map_err(anyhow::Error::msg)?;
    let (mailer, _) = config.mailer()?;
    let redis = config.cache.redis()?;
    let live =
        confab_server::live::Live::load(Arc::clone(&store) as Arc<dyn confab_store::LiveStore>, config.node()).await?;
    live.follow(config.switch_refresh());
    follow_live_notices(pg.as_ref(), redis.clone(), &live);
    let mut effects = confab_server::jobs::Effects::load(
        Arc::clone(&store),
        outbound,
        clock.clone(),
        mailer,
        config.accounts()?.public_url,
        std::time::Duration::from_secs(config.notify_interval_secs),
        live,
    )
    .await?;
    effects.akismet = config.akismet()?;
    effects.forum_grace = confab_server::jobs::forum_grace(config.cache.policy().fresh);
    if let Some(backend) = config.cache.backend(redis)? {
        // Its jobs' writes (spam verdicts) refresh the cached pages the servers serve.
        let reads = confab_server::worker_reads(Arc::clone(&store), clock.clone(), backend, config.cache.policy());
        effects.writes =
            confab_server::writes::Writes::new(Arc::clone(&store), clock.clone(), Some(reads.await?), None);
    }
    let worker = confab_jobs::Worker::new(store, Arc::new(effects), config.worker()?, now_fn(&clock));
    if let Some(pg) = &pg {
        // Other processes' writes wake this worker at once instead of at its next poll.
        pg.wake_on_new_jobs(worker.waker());
    }
    if once {
        let ran = worker.run_until_idle().await;
        id_node.release().await;
        println!("ran {ran} job attempts; nothing else is due");
        return Ok(());
    }
    println!("Confab worker running (Ctrl-C to stop)");
    worker.run(shutdown_signal()).await;
    id_node.release().await;
    Ok(())
}

/// Another process's switch change reaches this one at once, not at its next poll:
/// by PostgreSQL's `NOTIFY` on a topology, and over Redis when one is configured.
fn follow_live_notices(
    pg: Option<&Arc<confab_store_pg::PgStore>>,
    redis: Option<Arc<confab_cache::Redis>>,
    live: &confab_server::live::Live,
) {
    if let Some(pg) = pg {
        pg.wake_on_live_changes(live.waker());
    }
    if let Some(redis) = redis {
        live.notices_over(redis);
    }
}

fn now_fn(clock: &Clock) -> confab_jobs::Now {
    let clock = clock.clone();
    Arc::new(move || clock.now())
}

async fn wait_for(mut stopped: tokio::sync::watch::Receiver<bool>) {
    let _ = stopped.wait_for(|s| *s).await;
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
