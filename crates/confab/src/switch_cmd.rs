//! `confab switch`: the feature switches, listed, shown, set and cleared from the
//! command line, through the same checks and audit log as the admin API.

use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Subcommand};
use confab_core::switches::{self, Matchers, Role, State, Switch};
use confab_server::live::Live;

use crate::config::Config;
use crate::setup;

#[derive(Subcommand)]
pub enum SwitchCommand {
    /// Every switch: its state here (on, off, selective, or its default) and what it does.
    List,
    /// One switch: its stored value and its latest changes.
    Show { key: String },
    /// Sets a switch. Conditions (for `selective`) include readers; `--exclude-*` ones
    /// keep readers out whatever includes them.
    Set(Box<SetArgs>),
    /// Clears a switch: it takes its default again.
    Delete { key: String },
    /// The audit log: who changed what, when, from what to what; newest first.
    Log {
        /// One switch only.
        key: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

#[derive(Args)]
pub struct SetArgs {
    key: String,
    /// on, off, selective or inherit.
    #[arg(value_parser = parse_state)]
    state: State,
    #[command(flatten)]
    include: Conditions,
    #[command(flatten)]
    exclude: Exclusions,
    /// Why (kept with the switch and in the audit log).
    #[arg(long, default_value = "")]
    note: String,
}

#[derive(Args)]
pub struct Conditions {
    /// A share of readers, in percent (0-100, two decimals).
    #[arg(long)]
    percent: Option<f64>,
    /// Account ids (repeatable).
    #[arg(long = "account")]
    accounts: Vec<String>,
    /// Usernames (repeatable).
    #[arg(long = "username")]
    usernames: Vec<String>,
    /// admin, moderator, account or guest (repeatable).
    #[arg(long = "role", value_parser = parse_role)]
    roles: Vec<Role>,
    /// Forum shortnames (repeatable).
    #[arg(long = "forum")]
    forums: Vec<String>,
    /// IP networks in CIDR form, or addresses (repeatable).
    #[arg(long = "network")]
    networks: Vec<String>,
    /// Node names (repeatable).
    #[arg(long = "node")]
    nodes: Vec<String>,
}

#[derive(Args)]
pub struct Exclusions {
    /// Account ids never included (repeatable); so for the other lists.
    #[arg(long = "exclude-account")]
    exclude_accounts: Vec<String>,
    #[arg(long = "exclude-username")]
    exclude_usernames: Vec<String>,
    #[arg(long = "exclude-role", value_parser = parse_role)]
    exclude_roles: Vec<Role>,
    #[arg(long = "exclude-forum")]
    exclude_forums: Vec<String>,
    #[arg(long = "exclude-network")]
    exclude_networks: Vec<String>,
    #[arg(long = "exclude-node")]
    exclude_nodes: Vec<String>,
}

fn parse_state(s: &str) -> Result<State, String> {
    serde_json::from_value(serde_json::Value::String(s.into()))
        .map_err(|_| "one of: on, off, selective, inherit".to_owned())
}

fn parse_role(s: &str) -> Result<Role, String> {
    serde_json::from_value(serde_json::Value::String(s.into()))
        .map_err(|_| "one of: admin, moderator, account, guest".to_owned())
}

fn accounts(ids: &[String]) -> anyhow::Result<Vec<confab_core::id::Id>> {
    ids.iter().map(|a| a.parse().map_err(|_| anyhow::anyhow!("{a:?} is not an account id"))).collect()
}

fn networks(nets: &[String]) -> anyhow::Result<Vec<ipnet::IpNet>> {
    nets.iter().map(|n| switches::parse_network(n).map_err(anyhow::Error::msg)).collect()
}

impl Conditions {
    fn matchers(self) -> anyhow::Result<Matchers> {
        Ok(Matchers {
            percent: self.percent,
            accounts: accounts(&self.accounts)?,
            usernames: self.usernames,
            roles: self.roles,
            forums: self.forums,
            networks: networks(&self.networks)?,
            nodes: self.nodes,
        })
    }
}

impl Exclusions {
    fn matchers(self) -> anyhow::Result<Matchers> {
        Ok(Matchers {
            percent: None,
            accounts: accounts(&self.exclude_accounts)?,
            usernames: self.exclude_usernames,
            roles: self.exclude_roles,
            forums: self.exclude_forums,
            networks: networks(&self.exclude_networks)?,
            nodes: self.exclude_nodes,
        })
    }
}

fn describe(key: &str, set: Option<&Switch>) -> String {
    let known = switches::known(key).expect("a key of the catalog");
    match set.map(Switch::conditions).filter(|c| !c.is_empty()) {
        Some(cond) => format!("{} {cond}", Switch::label(known, set)),
        None => Switch::label(known, set),
    }
}

pub async fn run(config: &Config, cmd: SwitchCommand) -> anyhow::Result<()> {
    let opened = setup::open(config).await?;
    let live = Live::load(Arc::clone(&opened.store) as Arc<dyn confab_store::LiveStore>, config.node()).await?;
    // Announces the change over Redis too, where the servers listen for it.
    if let Some(redis) = config.cache.redis()? {
        live.announce_over(redis);
    }
    let by = format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "operator".into()));
    let now = || confab_server::Clock::system().now();
    match cmd {
        SwitchCommand::List => {
            let snap = live.snapshot();
            for k in switches::CATALOG {
                println!("{:<14} {:<20} {}", k.key, describe(k.key, snap.get(k.key)), k.about);
            }
        }
        SwitchCommand::Show { key } => {
            let known = switches::known(&key).with_context(|| format!("no switch is called {key:?}"))?;
            let snap = live.snapshot();
            println!("{}: {}", key, describe(&key, snap.get(&key)));
            println!("  {}", known.about);
            if let Some(w) = snap.get(&key).filter(|w| !w.note.is_empty()) {
                println!("  note: {}", w.note);
            }
            print_log(&live.log(Some(&key), 10).await?);
        }
        SwitchCommand::Set(args) => {
            let SetArgs { key, state, include, exclude, note } = *args;
            let (include, exclude) = (include.matchers()?, exclude.matchers()?);
            let to = Switch { state, include, exclude, note };
            match live.set(&key, Some(to), &by, now()).await? {
                Some(c) => println!("{key} is now {} (change {})", describe(&key, live.snapshot().get(&key)), c.seq),
                None => println!("{key} was already so; nothing changed"),
            }
        }
        SwitchCommand::Delete { key } => match live.set(&key, None, &by, now()).await? {
            Some(c) => println!("{key} is back to its {} (change {})", describe(&key, None), c.seq),
            None => println!("{key} was not set; nothing changed"),
        },
        SwitchCommand::Log { key, limit } => print_log(&live.log(key.as_deref(), limit).await?),
    }
    Ok(())
}

fn print_log(log: &[confab_store::LiveChange]) {
    for c in log {
        let at = confab_server::rfc3339(c.at);
        let before = c.before.as_deref().unwrap_or("(default)");
        let after = c.after.as_deref().unwrap_or("(default)");
        println!("#{} {at} {} by {}: {before} -> {after}", c.seq, c.key, c.by);
    }
}
