//! Feature switches as administrators see them.

use confab_core::switches::{Known, Switch};
use confab_store::LiveChange;
use serde::Serialize;
use utoipa::ToSchema;

use super::rfc3339;

/// A switch of the catalog: what it does, its default, and how it is set.
#[derive(Serialize, ToSchema)]
#[schema(as = SwitchInfo)]
pub struct SwitchView {
    pub key: &'static str,
    pub about: &'static str,
    /// Its state when nobody has set it.
    pub default: bool,
    /// How it is set; null when it takes its default.
    #[schema(required = true)]
    pub set: Option<Switch>,
    /// Whether it is on for a request this node knows nothing about (no reader, no
    /// forum): what a site-wide check sees here.
    pub on_here: bool,
}

impl SwitchView {
    pub fn new(known: &'static Known, set: Option<&Switch>, on_here: bool) -> Self {
        SwitchView { key: known.key, about: known.about, default: known.default, set: set.cloned(), on_here }
    }
}

#[derive(Serialize, ToSchema)]
pub struct SwitchList {
    pub switches: Vec<SwitchView>,
}

/// One change to a switch, from the audit log.
#[derive(Serialize, ToSchema)]
#[schema(as = SwitchChange)]
pub struct SwitchChangeView {
    pub seq: u64,
    pub key: String,
    /// Who made it: `admin-token`, `account:<username>` or `cli:<user>`.
    pub by: String,
    #[schema(format = DateTime)]
    pub at: String,
    /// The switch before; null when it had its default.
    #[schema(required = true)]
    pub before: Option<serde_json::Value>,
    /// The switch after; null when it went back to its default.
    #[schema(required = true)]
    pub after: Option<serde_json::Value>,
}

impl From<&LiveChange> for SwitchChangeView {
    fn from(c: &LiveChange) -> Self {
        let json = |v: &Option<String>| v.as_deref().and_then(|s| serde_json::from_str(s).ok());
        SwitchChangeView {
            seq: c.seq,
            key: c.key.clone(),
            by: c.by.clone(),
            at: rfc3339(c.at),
            before: json(&c.before),
            after: json(&c.after),
        }
    }
}

/// A switch with its latest changes (newest first).
#[derive(Serialize, ToSchema)]
pub struct SwitchDetail {
    pub switch: SwitchView,
    pub log: Vec<SwitchChangeView>,
}

#[derive(Serialize, ToSchema)]
pub struct SwitchLog {
    pub log: Vec<SwitchChangeView>,
}
