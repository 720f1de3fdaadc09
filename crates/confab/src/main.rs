//! `confab`: the one binary. `serve` runs the server; the other subcommands are the
//! operator's tools. Every subcommand reads the same configuration.

mod config;
mod listen;
mod setup;
mod switch_cmd;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use confab_core::input::{DisplayName, Origin, Shortname};
use confab_core::model::{ForumPolicy, NewForum, VotePolicy};

use config::{Config, LogFormat};

/// Confab: self-hostable threaded comments.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    /// Configuration file (TOML). `CONFAB_*` environment variables override it.
    #[arg(long, short, global = true, env = "CONFAB_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (overrides `data_dir`).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (API). Creates the database, an admin token and a demo forum on first start.
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate,
    /// Manage forums.
    #[command(subcommand)]
    Forum(ForumCommand),
    /// Manage the admin token.
    #[command(subcommand, name = "admin-token")]
    AdminToken(AdminTokenCommand),
    /// Manage accounts.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Run background workers only (no HTTP server); any number may share one store.
    Worker {
        /// Run what is due now, then exit.
        #[arg(long)]
        once: bool,
    },
    /// Inspect the outbox: list jobs, retry or discard dead ones.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Feature switches: list, show, set, delete, and their audit log. A change reaches
    /// every running process within a second.
    #[command(subcommand)]
    Switch(switch_cmd::SwitchCommand),
}

#[derive(Subcommand)]
enum JobsCommand {
    /// Jobs per state, then the newest jobs (dead ones by default).
    List {
        /// ready, running, done, dead or all.
        #[arg(long, default_value = "dead")]
        state: String,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Make a dead job ready again, its attempts reset.
    Retry { id: String },
    /// Delete a dead job.
    Discard { id: String },
}

#[derive(Subcommand)]
enum AccountCommand {
    /// Make an account a global administrator (every power in every forum), or with
    /// --revoke no longer one.
    Admin {
        /// The account's username.
        username: String,
        #[arg(long)]
        revoke: bool,
    },
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on (overrides `listen`), e.g. 127.0.0.1:8080.
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
}

#[derive(Subcommand)]
enum ForumCommand {
    /// Create a forum.
    Create {
        /// Shortname: 2-64 of a-z, 0-9 and '-'; the forum's key in URLs and the embed.
        shortname: String,
        /// Display name (defaults to the shortname).
        #[arg(long)]
        name: Option<String>,
        /// A trusted origin (repeatable), e.g. https://blog.example.com.
        #[arg(long = "origin")]
        origins: Vec<String>,
        /// Hold every new post for moderation.
        #[arg(long)]
        premoderate: bool,
        /// Refuse posts from guests.
        #[arg(long)]
        no_guests: bool,
        /// Ask guests for an email address.
        #[arg(long)]
        require_email: bool,
        /// Who may vote: anyone, accounts (signed-in readers only) or off.
        #[arg(long, default_value = "anyone", value_parser = parse_voting)]
        voting: VotePolicy,
        /// PostgreSQL only: pin the forum to this cluster (usually one marked
        /// `dedicated`), on a logical shard of its own.
        #[arg(long)]
        cluster: Option<String>,
    },
    /// List forums.
    List,
    /// Delete a forum with all its threads and comments, for good. It disappears from
    /// every page at once; its data goes in batches, and its last rows once running
    /// servers have dropped their copy of it (seconds; no wait with
    /// --servers-stopped). Asks for the shortname again unless --confirm gives it.
    Delete {
        shortname: String,
        /// The shortname again, to confirm without being asked.
        #[arg(long)]
        confirm: Option<String>,
        /// No `confab serve` or `confab worker` of this store is running: finish at once.
        #[arg(long)]
        servers_stopped: bool,
    },
    /// PostgreSQL only: pin an existing forum to a cluster, moving its logical shard's
    /// data there (with any small forum sharing that shard). Stop every `confab serve`
    /// and `confab worker` of the topology first; it refuses while they run.
    Pin {
        shortname: String,
        /// A cluster of `[postgres.clusters]`.
        cluster: String,
    },
}

#[derive(Subcommand)]
enum AdminTokenCommand {
    /// Replace the admin token with a new one and print it. The old one stops working.
    Rotate,
}

fn parse_voting(s: &str) -> Result<VotePolicy, String> {
    match s {
        "anyone" => Ok(VotePolicy::Anyone),
        "accounts" => Ok(VotePolicy::Accounts),
        "off" => Ok(VotePolicy::Off),
        _ => Err("one of: anyone, accounts, off".into()),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut config = Config::load(cli.config.as_deref()).context("invalid configuration")?;
    if let Some(dir) = cli.data_dir {
        config.data_dir = dir;
    }
    init_logging(&config)?;
    match cli.command {
        Command::Serve(args) => {
            if let Some(listen) = args.listen {
                config.listen = listen;
            }
            setup::serve(config).await
        }
        Command::Migrate => {
            if let Some(pg) = &config.postgres {
                // Every database of the topology: the global one and each cluster's primary.
                let topology = confab_store_pg::Topology::new(pg.clone()).map_err(|e| anyhow::anyhow!("{e}"))?;
                let report =
                    confab_store_pg::migrate::migrate_all(&topology).await.map_err(|e| anyhow::anyhow!("{e}"))?;
                for (db, applied) in report {
                    if applied.is_empty() {
                        println!("{db}: up to date");
                    } else {
                        println!("{db}: applied {applied:?}");
                    }
                }
                return Ok(());
            }
            let version = confab_store_sqlite::migrate(&config.database_path())?;
            println!("database {} is at schema version {version}", config.database_path().display());
            Ok(())
        }
        Command::Forum(ForumCommand::Create {
            shortname,
            name,
            origins,
            premoderate,
            no_guests,
            require_email,
            voting,
            cluster,
        }) => {
            let opened = setup::open(&config).await?;
            let forum = NewForum {
                owner: None,
                name: DisplayName::parse("name", name.as_deref().unwrap_or(&shortname))?,
                shortname: Shortname::parse(&shortname)?,
                origins: origins.iter().map(|o| Origin::parse(o)).collect::<Result<_, _>>()?,
                policy: ForumPolicy {
                    allow_guests: !no_guests,
                    require_guest_email: require_email,
                    premoderate,
                    voting,
                    ..ForumPolicy::default()
                },
            };
            let now = confab_server::Clock::system().now();
            let forum = match (cluster, &opened.pg) {
                (None, _) => opened.store.forum_create(forum, now).await?,
                (Some(cluster), Some(pg)) => pg.forum_create_pinned(forum, &cluster, now).await?,
                (Some(_), None) => anyhow::bail!("--cluster needs the PostgreSQL topology (a [postgres] section)"),
            };
            println!("created forum {} (id {})", forum.shortname, forum.id);
            Ok(())
        }
        Command::Forum(ForumCommand::Pin { shortname, cluster }) => {
            let opened = setup::open_as(&config, confab_store_pg::MAINTENANCE).await?;
            let Some(pg) = &opened.pg else {
                anyhow::bail!("pinning needs the PostgreSQL topology (a [postgres] section); SQLite has one database")
            };
            let forum = opened.store.forum_by_shortname(&shortname).await.map_err(|e| match e {
                confab_store::StoreError::ForumNotFound => anyhow::anyhow!("no forum is called {shortname:?}"),
                e => e.into(),
            })?;
            let report = pg.pin_forum(forum.id, &cluster).await?;
            if report.from == report.to {
                println!("forum {shortname} is on {cluster} already (logical shard {}); pinned", report.shard.get());
            } else {
                println!(
                    "moved logical shard {} from {} to {}: {} rows",
                    report.shard.get(),
                    report.from,
                    report.to,
                    report.rows
                );
                if !report.neighbours.is_empty() {
                    println!("these forums share the shard and moved along: {}", report.neighbours.join(", "));
                }
            }
            Ok(())
        }
        Command::Forum(ForumCommand::Delete { shortname, confirm, servers_stopped }) => {
            let opened = setup::open(&config).await?;
            let forum = opened.store.forum_by_shortname(&shortname).await.map_err(|e| match e {
                confab_store::StoreError::ForumNotFound => anyhow::anyhow!("no forum is called {shortname:?}"),
                e => e.into(),
            })?;
            let typed = match confirm {
                Some(typed) => typed,
                None => ask(&format!(
                    "This deletes forum {shortname} ({}) with all its threads and comments, for good.\n\
                     Type its shortname to confirm: ",
                    forum.name
                ))?,
            };
            anyhow::ensure!(
                forum.deletion_confirmed(&typed),
                "nothing deleted: type the forum's shortname, {shortname:?}, to confirm (or give --confirm {shortname})"
            );
            let grace = if servers_stopped {
                std::time::Duration::ZERO
            } else {
                confab_server::jobs::forum_grace(config.cache.policy().fresh)
            };
            let result = setup::delete_forum(&*opened.store, &forum, grace).await;
            opened.id_node.release().await;
            result
        }
        Command::Forum(ForumCommand::List) => {
            let opened = setup::open(&config).await?;
            let store = &opened.store;
            for f in store.forum_list().await? {
                let origins: Vec<&str> = f.origins.iter().map(|o| o.as_str()).collect();
                println!("{}\t{}\t{}", f.shortname, f.name, origins.join(","));
            }
            Ok(())
        }
        Command::Account(AccountCommand::Admin { username, revoke }) => {
            let opened = setup::open(&config).await?;
            let store = &opened.store;
            let name = confab_core::input::Username::parse(&username)?;
            let account = store
                .account_by_username(&name)
                .await?
                .with_context(|| format!("no account is called {username:?}"))?;
            let account = store.account_set_admin(account.id, !revoke).await?;
            let what = if account.is_admin { "is now a global administrator" } else { "is no longer an administrator" };
            println!("{} {what}", account.username);
            Ok(())
        }
        Command::Worker { once } => setup::worker(config, once).await,
        Command::Jobs(cmd) => jobs_command(&config, cmd).await,
        Command::Switch(cmd) => switch_cmd::run(&config, cmd).await,
        Command::AdminToken(AdminTokenCommand::Rotate) => {
            let opened = setup::open(&config).await?;
            let store = &opened.store;
            let token = confab_core::secret::Token::generate();
            store.admin_token_set(token.hash()).await?;
            println!("new admin token (shown once): {}", token.expose());
            if config.admin_token.is_some() {
                println!("note: admin_token is set in the configuration, which takes precedence over this one");
            }
            Ok(())
        }
    }
}

async fn jobs_command(config: &Config, cmd: JobsCommand) -> anyhow::Result<()> {
    use confab_core::jobs::JobState;
    let opened = setup::open(config).await?;
    let store = &opened.store;
    let parse_id = |id: &str| id.parse::<confab_core::id::Id>().map_err(|_| anyhow::anyhow!("{id:?} is not a job id"));
    match cmd {
        JobsCommand::List { state, limit } => {
            let state = match state.as_str() {
                "all" => None,
                s => Some(JobState::parse(s).context("--state: ready, running, done, dead or all")?),
            };
            let counts = store.job_counts().await?;
            let counts: Vec<String> = counts.iter().map(|(s, n)| format!("{} {n}", s.as_str())).collect();
            println!("jobs: {}", if counts.is_empty() { "none".to_owned() } else { counts.join(", ") });
            let filter = confab_store::JobFilter { state, limit: limit.clamp(1, 1000), ..Default::default() };
            for j in store.jobs_list(filter).await? {
                let v = confab_server::job_view(&j);
                println!(
                    "{}\t{}\t{}\tattempts {}\t{}\t{}",
                    j.id,
                    j.state.as_str(),
                    serde_json::to_string(&v.task)?,
                    j.attempts,
                    v.run_at,
                    j.last_error.as_deref().unwrap_or("")
                );
            }
            Ok(())
        }
        JobsCommand::Retry { id } => {
            let job = store.job_retry(parse_id(&id)?, confab_server::Clock::system().now()).await?;
            println!("job {} is ready again", job.id);
            Ok(())
        }
        JobsCommand::Discard { id } => {
            store.job_discard(parse_id(&id)?).await?;
            println!("job {id} discarded");
            Ok(())
        }
    }
}

fn init_logging(config: &Config) -> anyhow::Result<()> {
    tracing_subscriber::EnvFilter::try_new(&config.log).context("invalid log filter")?;
    let filter =
        tracing_subscriber::EnvFilter::try_new(confab_server::log_filter(&config.log)).context("invalid log filter")?;
    // Colour codes only on a terminal: a file or a pipe gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    match config.log_format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
    Ok(())
}

/// A line typed at the terminal after `prompt`; refused when nobody is there to type.
fn ask(prompt: &str) -> anyhow::Result<String> {
    use std::io::{BufRead, IsTerminal, Write};
    anyhow::ensure!(std::io::stdin().is_terminal(), "not a terminal: give --confirm with the shortname to confirm");
    print!("{prompt}");
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line)
}
