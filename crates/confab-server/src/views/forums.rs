//! Forums as their owners and the widget see them: lists, keys, the team, who the
//! request speaks for, a deletion under way.

use confab_core::id::Id;
use confab_core::model::{ForumKeys, Role};
use serde::Serialize;

use super::{ForumView, rfc3339};
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct ForumList {
    pub forums: Vec<ForumView>,
}

/// A forum's key pair, for its owners only.
#[derive(Serialize, ToSchema)]
#[schema(as = ForumKeys)]
pub struct KeysView {
    /// Identifies the forum in embeds (this.page.api_key)
    pub public_key: String,
    /// Signs SSO payloads. Keep it on your server.
    pub secret_key: String,
    #[schema(format = DateTime)]
    pub rotated_at: String,
}

impl From<&ForumKeys> for KeysView {
    fn from(k: &ForumKeys) -> Self {
        KeysView {
            public_key: k.public_key.clone(),
            secret_key: k.secret_key.clone(),
            rotated_at: rfc3339(k.rotated_at),
        }
    }
}

/// One member of a forum's team.
#[derive(Serialize, ToSchema)]
pub struct RoleGrant {
    pub username: String,
    pub account: Id,
    pub role: Role,
}

#[derive(Serialize, ToSchema)]
pub struct RoleList {
    pub roles: Vec<RoleGrant>,
}

/// `DELETE /forums/{forum}`: the deletion began; `job` purges the data.
#[derive(Serialize, ToSchema)]
pub struct ForumDeleting {
    pub forum: String,
    pub deleting: bool,
    /// The purge job's id
    pub job: Id,
}

/// Who the request speaks for in a forum.
#[derive(Serialize, ToSchema)]
#[schema(as = Viewer)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ViewerView {
    Guest,
    Account {
        /// The author id of the account's posts: the widget offers edit and delete on them.
        id: Id,
        name: String,
        avatar_hash: String,
        avatar_url: Option<String>,
        url: Option<String>,
    },
    Sso {
        name: String,
        avatar_hash: Option<String>,
        avatar_url: Option<String>,
        url: Option<String>,
    },
}
