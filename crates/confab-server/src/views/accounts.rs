//! What an account's holder is shown: their account, sessions, the export of everything
//! stored about them, and the answers of sign-up, log-in and deletion.

use confab_core::id::Id;
use confab_core::model::{Account, PostState, Role, Session};
use confab_store::{AccountData, AccountDeleted, ExportedPost};
use serde::Serialize;

use super::{AccountView, SessionView, rfc3339};
use utoipa::ToSchema;

/// `{"account": …}`: the answer of `me`, confirmation and password reset.
#[derive(Serialize, ToSchema)]
pub struct AccountResult {
    pub account: AccountView,
}

impl From<&Account> for AccountResult {
    fn from(a: &Account) -> Self {
        AccountResult { account: AccountView::from(a) }
    }
}

/// An answer that says a mail is on its way (the same whether or not the address has
/// an account).
#[derive(Serialize, ToSchema)]
pub struct Accepted {
    pub status: &'static str,
    pub message: &'static str,
}

/// A log-in: the session's bearer token (shown once), the session and the account.
#[derive(Serialize, ToSchema)]
pub struct LoggedIn {
    /// Bearer token for Authorization; shown once
    pub token: String,
    pub session: SessionView,
    pub account: AccountView,
}

impl LoggedIn {
    pub fn new(token: String, session: &Session, account: &Account) -> Self {
        LoggedIn { token, session: SessionView::new(session, session.id), account: AccountView::from(account) }
    }
}

#[derive(Serialize, ToSchema)]
pub struct SessionList {
    pub sessions: Vec<SessionView>,
}

#[derive(Serialize, ToSchema)]
pub struct Deleted {
    pub posts_removed: u64,
    pub posts_anonymized: u64,
}

impl From<&AccountDeleted> for Deleted {
    fn from(d: &AccountDeleted) -> Self {
        Deleted { posts_removed: d.posts_removed, posts_anonymized: d.posts_anonymized }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ExportThread {
    pub identifier: String,
    #[schema(required = true)]
    pub url: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ExportPost {
    pub forum: String,
    pub thread: ExportThread,
    pub id: Id,
    #[schema(required = true)]
    pub parent: Option<Id>,
    pub state: PostState,
    pub message: String,
    pub created_at: String,
    #[schema(required = true)]
    pub edited_at: Option<String>,
}

impl From<&ExportedPost> for ExportPost {
    fn from(p: &ExportedPost) -> Self {
        ExportPost {
            forum: p.forum.clone(),
            thread: ExportThread { identifier: p.thread_identifier.clone(), url: p.thread_url.clone() },
            id: p.post.id,
            parent: p.post.parent_id,
            state: p.post.state,
            message: p.post.message.to_string(),
            created_at: rfc3339(p.post.created_at),
            edited_at: p.post.edited_at.map(rfc3339),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ExportRole {
    pub forum: String,
    pub role: Role,
}

#[derive(Serialize, ToSchema)]
pub struct ExportVote {
    pub post: Id,
    pub value: i64,
    pub at: String,
}

/// Everything Confab stores about an account, as one document to download.
#[derive(Serialize, ToSchema)]
pub struct AccountExport {
    #[schema(format = DateTime)]
    pub exported_at: String,
    pub account: AccountView,
    pub sessions: Vec<SessionView>,
    pub roles: Vec<ExportRole>,
    pub posts: Vec<ExportPost>,
    pub votes: Vec<ExportVote>,
}

impl AccountExport {
    pub fn new(
        now: confab_core::model::UnixMs,
        account: &Account,
        sessions: Vec<SessionView>,
        data: &AccountData,
    ) -> Self {
        AccountExport {
            exported_at: rfc3339(now),
            account: AccountView::from(account),
            sessions,
            roles: data.roles.iter().map(|(f, r)| ExportRole { forum: f.clone(), role: *r }).collect(),
            posts: data.posts.iter().map(ExportPost::from).collect(),
            votes: data
                .votes
                .iter()
                .map(|(p, v, at)| ExportVote { post: *p, value: v.as_i64(), at: rfc3339(*at) })
                .collect(),
        }
    }
}
