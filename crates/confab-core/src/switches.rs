//! Feature switches: which features are on, for whom, decided in memory from a snapshot
//! of the switch table (no I/O per check).
//!
//! The model is gargoyle's, the switch library Disqus ran its site with, with its
//! percentage fixed:
//! - A switch is `off`, `on`, `selective` (on for the readers its conditions include,
//!   never for those they exclude) or `inherit`.
//! - Keys nest with `:`. `realtime:mobile` is off whenever `realtime` is off, and
//!   follows it when unset or `inherit`.
//! - gargoyle's percentage was `id % 100`, so every 10% rollout picked the same readers.
//!   Here a reader's draw is a hash of the switch's key and the reader's key
//!   ([`draw`]): stable for one reader and switch, so a reader in at 5% is still in at
//!   25%, and independent between switches.
//!
//! [`CATALOG`] lists the switches the code reads, with their defaults. A key not in it
//! cannot be set, so a typo is refused instead of silently doing nothing.

use std::collections::HashMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Id;
use crate::input::InputError;

/// A switch the code reads: its key, its state when nobody has set it, and what it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Known {
    pub key: &'static str,
    pub default: bool,
    pub about: &'static str,
}

/// New accounts can sign up (the API, the log-in window and the account site).
pub const SIGNUPS: &str = "signups";
/// Posts are screened by the outside spam service (Akismet) where a forum asks for it;
/// off, the local filter alone decides.
pub const SPAM_SERVICE: &str = "spam_service";
/// Webhook deliveries go out; off, they wait in the outbox and go out when it is on again.
pub const WEBHOOKS: &str = "webhooks";
/// Reply notifications and digests go out; off, they wait in the outbox and go out
/// when it is on again.
pub const EMAIL: &str = "email";
/// The "hot" sort is offered; off, a page asked for in it is served in the default sort.
pub const SORT_HOT: &str = "sort_hot";

/// Every switch the code reads. Adding a feature under a switch means adding it here.
pub const CATALOG: &[Known] = &[
    Known {
        key: SIGNUPS,
        default: true,
        about: "New accounts can sign up. Off: sign-up answers 403 signups_closed; existing accounts log in as before.",
    },
    Known {
        key: SPAM_SERVICE,
        default: true,
        about: "Forums that use the outside spam service (Akismet) have their posts checked by it. Off: the local filter alone decides; nothing is sent out.",
    },
    Known {
        key: WEBHOOKS,
        default: true,
        about: "Webhook deliveries go out. Off: they wait in the outbox, and go out in order once it is on again.",
    },
    Known {
        key: EMAIL,
        default: true,
        about: "Reply notifications and digests go out. Off: they wait in the outbox, and go out once it is on again. (Account mail, sent while the reader waits, is not under it.)",
    },
    Known {
        key: SORT_HOT,
        default: true,
        about: "The hot sort is offered. Off: a page asked for in it is served in the forum's default sort, and the widget does not offer it.",
    },
];

/// The catalog's entry for `key`.
pub fn known(key: &str) -> Option<&'static Known> {
    CATALOG.iter().find(|k| k.key == key)
}

/// A switch's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Off for everyone, and for every switch under it.
    Off,
    /// On for the readers `include` matches, unless `exclude` matches them.
    Selective,
    /// On for everyone (a switch under it may still turn itself off).
    On,
    /// As the switch above it, or the default for a top-level one.
    Inherit,
}

impl State {
    /// Its name, as the API and the command line write it.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Off => "off",
            State::Selective => "selective",
            State::On => "on",
            State::Inherit => "inherit",
        }
    }
}

/// An operator's network: CIDR (`10.0.0.0/8`) or a single address (`192.0.2.7`).
pub fn parse_network(s: &str) -> Result<ipnet::IpNet, String> {
    s.parse::<ipnet::IpNet>()
        .or_else(|_| s.parse::<IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("{s:?} is not an IP network (CIDR) or address"))
}

/// Who a selective switch is on (or, in `exclude`, never on) for. A reader matches when
/// any one of the lists matches.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Matchers {
    /// A share of readers, in percent with up to two decimals (0–100). Each reader's
    /// draw is stable per switch and independent between switches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<f64>,
    /// Account ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<Id>,
    /// Usernames, matched without regard to case.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub usernames: Vec<String>,
    /// Roles: `admin` (global administrators), `moderator` (of the forum in question),
    /// `account` (anyone signed in), `guest` (anyone not).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<Role>,
    /// Forum shortnames.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forums: Vec<String>,
    /// IP networks in CIDR form (`10.0.0.0/8`, `2001:db8::/32`) or single addresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub networks: Vec<ipnet::IpNet>,
    /// Serving nodes, by their configured name (`node_name`, else the host name).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<String>,
}

/// A role a switch can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Moderator,
    Account,
    Guest,
}

/// A switch as stored: its state and, for `selective`, its conditions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Switch {
    pub state: State,
    #[serde(default, skip_serializing_if = "Matchers::is_empty")]
    pub include: Matchers,
    /// Wins over `include`: a reader it matches never has the switch on.
    #[serde(default, skip_serializing_if = "Matchers::is_empty")]
    pub exclude: Matchers,
    /// Why it is set as it is (shown in listings and the audit log).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

/// Most entries in one condition list.
pub const MAX_ITEMS: usize = 1_000;
/// Longest key, and most levels in one.
pub const MAX_KEY_LEN: usize = 100;
pub const MAX_DEPTH: usize = 4;
/// Longest note.
pub const MAX_NOTE_CHARS: usize = 500;

/// Checks a key's form: 1–4 segments of `a-z`, `0-9` and `_`, joined by `:`.
pub fn check_key(key: &str) -> Result<(), InputError> {
    let ok = !key.is_empty()
        && key.len() <= MAX_KEY_LEN
        && key.split(':').count() <= MAX_DEPTH
        && key
            .split(':')
            .all(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'));
    if ok {
        Ok(())
    } else {
        Err(InputError::new(
            "key",
            "invalid_switch_key",
            format!(
                "must be 1-{MAX_DEPTH} segments of a-z, 0-9 and '_' joined by ':', at most {MAX_KEY_LEN} characters"
            ),
        ))
    }
}

/// The key one level up (`a:b` → `a`), if any.
pub fn parent(key: &str) -> Option<&str> {
    key.rsplit_once(':').map(|(p, _)| p)
}

impl Matchers {
    pub fn is_empty(&self) -> bool {
        self.percent.is_none()
            && self.accounts.is_empty()
            && self.usernames.is_empty()
            && self.roles.is_empty()
            && self.forums.is_empty()
            && self.networks.is_empty()
            && self.nodes.is_empty()
    }

    fn check(&mut self, side: &'static str) -> Result<(), InputError> {
        if let Some(p) = self.percent {
            if !(0.0..=100.0).contains(&p) {
                return Err(InputError::new(side, "invalid_percent", "percent must be between 0 and 100"));
            }
            // Kept to basis points, the draw's resolution.
            self.percent = Some((p * 100.0).round() / 100.0);
        }
        let lens = [
            self.accounts.len(),
            self.usernames.len(),
            self.roles.len(),
            self.forums.len(),
            self.networks.len(),
            self.nodes.len(),
        ];
        if lens.iter().any(|n| *n > MAX_ITEMS) {
            return Err(InputError::new(side, "too_many", format!("at most {MAX_ITEMS} entries per list")));
        }
        for name in self.usernames.iter_mut() {
            if name.is_empty() || name.chars().count() > crate::input::MAX_NAME_CHARS || name.contains('\0') {
                return Err(InputError::new(side, "invalid_username", "usernames are 1-100 characters"));
            }
            *name = name.to_lowercase();
        }
        for forum in &self.forums {
            crate::input::Shortname::parse(forum).map_err(|_| {
                InputError::new(side, "invalid_shortname", format!("{forum:?} is not a forum shortname"))
            })?;
        }
        for node in &self.nodes {
            if node.is_empty() || node.len() > 100 || node.chars().any(char::is_control) {
                return Err(InputError::new(side, "invalid_node", "node names are 1-100 printable characters"));
            }
        }
        for list in [&mut self.usernames, &mut self.forums, &mut self.nodes] {
            list.sort();
            list.dedup();
        }
        self.accounts.sort();
        self.accounts.dedup();
        self.networks = ipnet::IpNet::aggregate(&self.networks);
        Ok(())
    }

    fn matches(&self, key: &str, s: &Subject<'_>) -> bool {
        let role = |r: &Role| match r {
            Role::Admin => s.admin,
            Role::Moderator => s.moderator,
            Role::Account => s.account.is_some(),
            Role::Guest => s.account.is_none(),
        };
        self.percent.is_some_and(|p| s.reader.is_some_and(|r| draw(key, r) < (p * 100.0).round() as u32))
            || s.account.is_some_and(|a| self.accounts.contains(&a))
            || s.username.is_some_and(|u| self.usernames.iter().any(|n| n.as_str() == u.to_lowercase()))
            || self.roles.iter().any(role)
            || s.forum.is_some_and(|f| self.forums.iter().any(|n| n == f))
            || s.ip.is_some_and(|ip| self.networks.iter().any(|n| n.contains(&ip)))
            || self.nodes.iter().any(|n| n == s.node)
    }
}

impl Switch {
    /// How a listing names a switch's state: its state, or `default (on|off)` unset.
    pub fn label(known: &Known, set: Option<&Switch>) -> String {
        match set {
            None => format!("default ({})", if known.default { "on" } else { "off" }),
            Some(w) => w.state.as_str().to_owned(),
        }
    }

    /// A selective switch's conditions as the API writes them (`{"include", "exclude"}`);
    /// empty for the other states.
    pub fn conditions(&self) -> String {
        if self.state != State::Selective {
            return String::new();
        }
        serde_json::json!({ "include": self.include, "exclude": self.exclude }).to_string()
    }

    /// A switch as given by an operator, checked and put in its stored form (usernames in
    /// lower case, lists sorted, networks merged). A selective switch must include
    /// somebody; the other states take no conditions.
    pub fn checked(mut self) -> Result<Switch, InputError> {
        self.include.check("include")?;
        self.exclude.check("exclude")?;
        if self.note.chars().count() > MAX_NOTE_CHARS || self.note.contains('\0') {
            return Err(InputError::new("note", "too_long", format!("at most {MAX_NOTE_CHARS} characters")));
        }
        match self.state {
            State::Selective if self.include.is_empty() => Err(InputError::new(
                "include",
                "no_conditions",
                "a selective switch needs a condition that includes readers",
            )),
            State::Off | State::On | State::Inherit if !(self.include.is_empty() && self.exclude.is_empty()) => {
                Err(InputError::new("state", "conditions_unused", "only a selective switch takes conditions"))
            }
            _ => Ok(self),
        }
    }
}

/// What a check is about: the reader, the forum and the serving node. Fields the
/// caller does not know stay `None`/`false`, and conditions on them do not match.
#[derive(Debug, Clone, Copy, Default)]
pub struct Subject<'a> {
    /// The stable key a percentage draws on: an account's id where the check knows
    /// the reader, else the client's address.
    pub reader: Option<&'a str>,
    pub account: Option<Id>,
    pub username: Option<&'a str>,
    /// A global administrator.
    pub admin: bool,
    /// A moderator (or owner) of `forum`.
    pub moderator: bool,
    /// The forum's shortname.
    pub forum: Option<&'a str>,
    pub ip: Option<IpAddr>,
    pub node: &'a str,
}

/// A reader's draw for a switch, in basis points (0–9,999): the first 8 bytes of
/// SHA-256 over the key and the reader's key, modulo 10,000. The same for every process
/// and release (a percentage rollout must not reshuffle on deploy), which is why it is
/// not Rust's `DefaultHasher`. The modulo bias is below 10⁻¹⁴.
pub fn draw(key: &str, reader: &str) -> u32 {
    let mut h = Sha256::new();
    h.update(b"confab.switch\0");
    h.update(key.as_bytes());
    h.update(b"\0");
    h.update(reader.as_bytes());
    let d = h.finalize();
    (u64::from_be_bytes(d[..8].try_into().expect("8 bytes")) % 10_000) as u32
}

/// One snapshot of the switch table, as every check reads it.
#[derive(Debug, Clone, Default)]
pub struct Switches {
    set: HashMap<String, Switch>,
}

impl Switches {
    pub fn new(set: impl IntoIterator<Item = (String, Switch)>) -> Self {
        Switches { set: set.into_iter().collect() }
    }

    pub fn get(&self, key: &str) -> Option<&Switch> {
        self.set.get(key)
    }

    /// Whether `key` is on for `s`. A key outside the catalog (a child of one, or a
    /// switch no code reads yet) defaults to off at the top level.
    pub fn is_on(&self, key: &str, s: &Subject<'_>) -> bool {
        let above = match parent(key) {
            Some(p) => self.is_on(p, s),
            None => known(key).is_some_and(|k| k.default),
        };
        if parent(key).is_some() && !above {
            return false;
        }
        match self.set.get(key).map(|w| (w.state, w)) {
            None | Some((State::Inherit, _)) => above,
            Some((State::On, _)) => true,
            Some((State::Off, _)) => false,
            Some((State::Selective, w)) => !w.exclude.matches(key, s) && w.include.matches(key, s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn on() -> Switch {
        Switch { state: State::On, include: Matchers::default(), exclude: Matchers::default(), note: String::new() }
    }
    fn with(state: State) -> Switch {
        Switch { state, ..on() }
    }
    fn selective(include: Matchers, exclude: Matchers) -> Switch {
        Switch { state: State::Selective, include, exclude, note: String::new() }.checked().unwrap()
    }
    fn percent(p: f64) -> Matchers {
        Matchers { percent: Some(p), ..Matchers::default() }
    }
    fn reader(k: &str) -> Subject<'_> {
        Subject { reader: Some(k), node: "n1", ..Subject::default() }
    }

    #[test]
    fn unset_switches_take_the_catalog_default_and_unknown_ones_are_off() {
        let s = Switches::default();
        assert!(s.is_on(SIGNUPS, &Subject::default()));
        assert!(s.is_on("email:digest", &Subject::default()), "a child of a known switch follows it");
        assert!(!s.is_on("realtime", &Subject::default()));
    }

    #[test]
    fn a_child_follows_its_parent_and_never_outlives_it() {
        let sub = Subject::default();
        let mut s = Switches::new([("realtime".to_owned(), on())]);
        assert!(s.is_on("realtime:mobile", &sub), "unset follows");
        s.set.insert("realtime:mobile".into(), with(State::Inherit));
        assert!(s.is_on("realtime:mobile", &sub), "inherit follows");
        s.set.insert("realtime:mobile".into(), with(State::Off));
        assert!(!s.is_on("realtime:mobile", &sub), "a child can turn itself off");
        s.set.insert("realtime:mobile".into(), on());
        s.set.insert("realtime".into(), with(State::Off));
        assert!(!s.is_on("realtime:mobile", &sub), "the parent off is off for the child, whatever it says");
        assert!(!s.is_on("realtime:mobile:ios", &sub));
        s.set.insert(EMAIL.into(), with(State::Off));
        assert!(!s.is_on("email:digest", &sub));
    }

    #[test]
    fn each_condition_includes_its_readers_and_exclusion_wins() {
        let acct = Id::from_raw(42).unwrap();
        let net: ipnet::IpNet = "10.1.0.0/16".parse().unwrap();
        let inc = Matchers {
            accounts: vec![acct],
            usernames: vec!["Alice".into()],
            roles: vec![Role::Moderator],
            forums: vec!["blog".into()],
            networks: vec![net],
            nodes: vec!["canary".into()],
            ..Matchers::default()
        };
        let s = Switches::new([("beta".to_owned(), selective(inc.clone(), Matchers::default()))]);
        let base = Subject { node: "n1", ..Subject::default() };
        assert!(!s.is_on("beta", &base));
        let cases = [
            Subject { account: Some(acct), ..base },
            Subject { username: Some("ALICE"), ..base },
            Subject { moderator: true, ..base },
            Subject { forum: Some("blog"), ..base },
            Subject { ip: Some("10.1.2.3".parse().unwrap()), ..base },
            Subject { node: "canary", ..base },
        ];
        for c in &cases {
            assert!(s.is_on("beta", c), "{c:?}");
        }
        assert!(!s.is_on("beta", &Subject { ip: Some("10.2.0.1".parse().unwrap()), ..base }));
        assert!(!s.is_on("beta", &Subject { forum: Some("news"), admin: true, ..base }));
        // The same readers, excluded by their network: exclusion beats every inclusion.
        let exc = Matchers { networks: vec!["0.0.0.0/0".parse().unwrap()], ..Matchers::default() };
        let s = Switches::new([("beta".to_owned(), selective(inc, exc))]);
        for c in &cases {
            assert!(!s.is_on("beta", &Subject { ip: Some("10.1.2.3".parse().unwrap()), ..*c }), "{c:?}");
        }
    }

    #[test]
    fn checking_refuses_what_would_not_mean_anything() {
        assert_eq!(with(State::Selective).checked().unwrap_err().code, "no_conditions");
        let on_with = Switch { include: percent(5.0), ..on() };
        assert_eq!(on_with.checked().unwrap_err().code, "conditions_unused");
        assert_eq!(
            Switch { include: percent(100.5), ..with(State::Selective) }.checked().unwrap_err().code,
            "invalid_percent"
        );
        let bad_forum = Matchers { forums: vec!["Not A Forum".into()], ..Matchers::default() };
        assert_eq!(
            Switch { include: bad_forum, ..with(State::Selective) }.checked().unwrap_err().code,
            "invalid_shortname"
        );
        for bad in ["", "A", "a:", ":a", "a::b", "a b", "a:b:c:d:e", "é"] {
            assert!(check_key(bad).is_err(), "{bad:?}");
        }
        check_key("realtime:mobile").unwrap();
        let parsed: Result<Switch, _> = serde_json::from_str(r#"{"state":"on","color":"red"}"#);
        assert!(parsed.is_err(), "unknown fields are refused, not ignored");
    }

    #[test]
    fn a_ten_percent_rollout_admits_ten_percent_and_two_of_them_are_independent() {
        let a = Switches::new([("a".to_owned(), selective(percent(10.0), Matchers::default()))]);
        let b = Switches::new([("b".to_owned(), selective(percent(10.0), Matchers::default()))]);
        let n = 100_000;
        let (mut in_a, mut in_b, mut both) = (0, 0, 0);
        for i in 0..n {
            let key = format!("account:{i}");
            let (x, y) = (a.is_on("a", &reader(&key)), b.is_on("b", &reader(&key)));
            in_a += x as u32;
            in_b += y as u32;
            both += (x && y) as u32;
        }
        for got in [in_a, in_b] {
            assert!((9_000..=11_000).contains(&got), "10% ± 1% of 100,000, got {got}");
        }
        // Independent draws overlap in 1% of readers (1,000); gargoyle's id % 100 would
        // put all 10,000 in both. Four standard deviations is ±126.
        assert!((874..=1_126).contains(&both), "overlap {both}");
    }

    proptest! {
        /// A reader in at p% is in at every larger percentage (rollouts only grow).
        #[test]
        fn rollouts_are_monotonic(key in "[a-z]{1,8}", reader_key in "[a-z0-9]{1,12}", p in 0.0f64..=100.0, q in 0.0f64..=100.0) {
            let (lo, hi) = if p <= q { (p, q) } else { (q, p) };
            let at = |pct: f64| Switches::new([(key.clone(), selective(percent(pct), Matchers::default()))]).is_on(&key, &reader(&reader_key));
            prop_assert!(!at(lo) || at(hi));
            prop_assert!(!at(0.0));
            prop_assert!(at(100.0));
        }

        /// Whatever a child says, it is never on while its parent is off, and an unset or
        /// inheriting child answers what its parent answers.
        #[test]
        fn a_child_is_never_on_under_an_off_parent(parent_state in 0..4usize, child_state in 0..5usize, pct in 0.0f64..=100.0, r in "[a-z]{1,6}") {
            let state = |i: usize| [State::Off, State::On, State::Inherit, State::Selective][i];
            let mk = |i: usize| if state(i) == State::Selective { selective(percent(pct), Matchers::default()) } else { with(state(i)) };
            let mut set = vec![("p".to_owned(), mk(parent_state))];
            if child_state < 4 {
                set.push(("p:c".to_owned(), mk(child_state)));
            }
            let s = Switches::new(set);
            let sub = reader(&r);
            if !s.is_on("p", &sub) {
                prop_assert!(!s.is_on("p:c", &sub));
            }
            if child_state == 4 || state(child_state) == State::Inherit {
                prop_assert_eq!(s.is_on("p:c", &sub), s.is_on("p", &sub));
            }
        }

        /// The stored form is a fixed point: checking it again changes nothing, and it
        /// survives its JSON round trip.
        #[test]
        fn the_checked_form_is_stable(pct in proptest::option::of(0.0f64..=100.0), names in proptest::collection::vec("[A-Za-z]{1,8}", 0..4), nets in proptest::collection::vec((any::<[u8; 4]>(), 8u8..=32), 0..4)) {
            let networks = nets.iter().map(|(o, len)| ipnet::IpNet::new(IpAddr::from(*o), *len).unwrap().trunc()).collect();
            let include = Matchers { percent: pct, usernames: names, networks, roles: vec![Role::Admin], ..Matchers::default() };
            let once = Switch { state: State::Selective, include, exclude: Matchers::default(), note: "n".into() }.checked().unwrap();
            let twice = once.clone().checked().unwrap();
            prop_assert_eq!(&once, &twice);
            let back: Switch = serde_json::from_str(&serde_json::to_string(&once).unwrap()).unwrap();
            prop_assert_eq!(back, once);
        }
    }
}
