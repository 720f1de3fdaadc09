//! The storage boundary: one trait, [`Store`], in domain terms. Backends (SQLite now,
//! PostgreSQL later) implement it; the server only ever sees `Arc<dyn Store>`.
//!
//! Rules every backend follows (the contract suite in [`contract`] checks them):
//! - each write use case is one transaction: all of it or nothing;
//! - counters change by atomic increments in SQL, never read-modify-write;
//! - reads never open a transaction and run a constant number of statements;
//! - every statement is counted into the current [`stats`] scope.

pub mod stats;

#[cfg(feature = "contract")]
pub mod contract;

use async_trait::async_trait;
use confab_core::cursor::{ReplyCursor, RootCursor};
use confab_core::id::Id;
use confab_core::input::{Email, Identifier, Message, Username, WebUrl};
use confab_core::model::{
    Account, Author, Forum, ForumKeys, ForumUpdate, GuestAuthor, LinkPurpose, NewAccount, NewForum, NewPost, Post,
    PostState, Role, Session, Sort, Thread, ThreadKey, ThreadSpec, UnixMs, VoteValue,
};
use confab_core::secret::TokenHash;

/// Errors a store reports. Domain outcomes (not found, conflicts) are variants the
/// server maps to 4xx; `Unavailable` and `Internal` become 503 and 500.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("forum not found")]
    ForumNotFound,
    #[error("thread not found")]
    ThreadNotFound,
    #[error("post not found")]
    PostNotFound,
    #[error("a forum with this shortname exists")]
    ForumExists,
    #[error("a thread with this identifier exists")]
    ThreadExists,
    #[error("the parent post does not exist")]
    ParentNotFound,
    #[error("the parent post is not in this thread")]
    ParentNotInThread,
    #[error("the parent post cannot be replied to")]
    ParentNotListed,
    #[error("replies nest at most {} levels deep", confab_core::model::MAX_DEPTH)]
    ParentTooDeep,
    #[error("the thread is closed")]
    ThreadClosed,
    #[error("the post cannot be voted on")]
    PostNotVotable,
    #[error("account not found")]
    AccountNotFound,
    #[error("this username is taken")]
    UsernameTaken,
    #[error("an account with this email exists")]
    EmailTaken,
    #[error("the link is invalid, expired or already used")]
    LinkInvalid,
    #[error("session not found")]
    SessionNotFound,
    #[error("a forum keeps at least one owner")]
    LastOwner,
    #[error("the storage backend is unavailable: {0}")]
    Unavailable(String),
    #[error("storage failure: {0}")]
    Internal(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Limits of one thread page, already clamped by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLimits {
    /// Top-level posts per page.
    pub roots: u32,
    /// Replies returned under each root, in tree order.
    pub replies_per_root: u32,
}

/// A root with the first replies of its subtree.
#[derive(Debug, Clone, PartialEq)]
pub struct RootWithReplies {
    pub root: Post,
    /// Listed descendants in tree order, at most `replies_per_root`.
    pub replies: Vec<Post>,
    /// More listed descendants follow the last one in `replies`.
    pub more_replies: bool,
}

/// One page of top-level posts and their first replies.
#[derive(Debug, Clone, PartialEq)]
pub struct RootsPage {
    pub roots: Vec<RootWithReplies>,
    /// Where the next page starts, if there is one.
    pub next: Option<RootCursor>,
}

/// A page of replies under one node, in tree order.
#[derive(Debug, Clone, PartialEq)]
pub struct RepliesPage {
    pub replies: Vec<Post>,
    pub next: Option<ReplyCursor>,
}

/// A new post as written, with whether its thread was created by it.
#[derive(Debug, Clone, PartialEq)]
pub struct CreatedPost {
    pub post: Post,
    pub thread: Thread,
    pub author: Author,
    pub thread_created: bool,
}

/// A deleted post and its thread, counters updated.
#[derive(Debug, Clone, PartialEq)]
pub struct DeletedPost {
    pub post: Post,
    pub thread: Thread,
}

/// The effect of a vote.
#[derive(Debug, Clone, PartialEq)]
pub struct VoteOutcome {
    pub post: Post,
    pub previous: VoteValue,
    pub current: VoteValue,
}

/// One post of a bulk import: a thread's history written in one transaction (data
/// migration, benchmark datasets). Posts come in chronological order; a reply names its
/// parent by position in the same batch, so parents always come first.
#[derive(Debug, Clone)]
pub struct ImportPost {
    /// Index of the parent in the batch; `None` for a top-level post.
    pub parent: Option<usize>,
    pub author: GuestAuthor,
    pub message: Message,
    /// The sanitised rendering of `message`.
    pub html: String,
    pub state: PostState,
    pub created_at: UnixMs,
    pub likes: i64,
    pub dislikes: i64,
}

/// What a bulk import wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedThread {
    /// The thread with its counter after the import.
    pub thread: Thread,
    /// The ids given to the batch's posts, in batch order.
    pub post_ids: Vec<Id>,
}

/// One post in an account's data export, with where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportedPost {
    pub forum: String,
    pub thread_identifier: String,
    pub thread_url: Option<String>,
    pub post: Post,
}

/// Everything stored about an account besides its account row and sessions.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountData {
    pub posts: Vec<ExportedPost>,
    /// (forum shortname, role)
    pub roles: Vec<(String, Role)>,
    /// (post id, value, when)
    pub votes: Vec<(Id, VoteValue, UnixMs)>,
}

/// What deleting an account did to its posts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AccountDeleted {
    pub posts_removed: u64,
    pub posts_anonymized: u64,
}

/// Comment count of one thread, for a count request.
#[derive(Debug, Clone, PartialEq)]
pub struct ThreadCount {
    pub thread_id: Id,
    pub identifier: Identifier,
    pub url: Option<WebUrl>,
    pub posts: i64,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    // ---- settings (global) ----

    /// A server-wide secret by name, created with `init` on first use. Used for the
    /// cursor signing key; the value never leaves the server.
    async fn secret_get_or_init(&self, name: &str, init: Vec<u8>) -> StoreResult<Vec<u8>>;
    /// The stored admin token hash, if any.
    async fn admin_token_hash(&self) -> StoreResult<Option<TokenHash>>;
    /// Stores the admin token hash if none exists; returns whether it was stored.
    async fn admin_token_init(&self, hash: TokenHash) -> StoreResult<bool>;
    /// Replaces the admin token hash (rotation).
    async fn admin_token_set(&self, hash: TokenHash) -> StoreResult<()>;

    // ---- forums (global) ----

    async fn forum_create(&self, forum: NewForum, now: UnixMs) -> StoreResult<Forum>;
    async fn forum_by_shortname(&self, shortname: &str) -> StoreResult<Forum>;
    async fn forum_get(&self, id: Id) -> StoreResult<Forum>;
    async fn forum_list(&self) -> StoreResult<Vec<Forum>>;
    /// The forum's API keys (every forum has a pair from its creation).
    async fn forum_keys(&self, forum: Id) -> StoreResult<ForumKeys>;
    /// Replaces the forum's key pair; the old keys stop working at once.
    async fn forum_keys_rotate(&self, forum: Id, keys: ForumKeys) -> StoreResult<ForumKeys>;

    // ---- authors (global) ----

    /// Authors by id, in one round trip, in no particular order; unknown ids are skipped.
    async fn authors_get_many(&self, ids: &[Id]) -> StoreResult<Vec<Author>>;

    // ---- threads (forum shard) ----

    async fn thread_get(&self, id: Id) -> StoreResult<Thread>;
    /// The thread named by `key` in the forum; by URL, the oldest thread with that URL.
    async fn thread_find(&self, forum: &Forum, key: &ThreadKey) -> StoreResult<Option<Thread>>;
    async fn thread_create(&self, forum: &Forum, spec: ThreadSpec, now: UnixMs) -> StoreResult<Thread>;
    async fn thread_set_closed(&self, id: Id, closed: bool) -> StoreResult<Thread>;
    /// Counts for threads named by identifiers or URLs; unknown ones are left out.
    async fn thread_counts(&self, forum: &Forum, keys: &[ThreadKey]) -> StoreResult<Vec<ThreadCount>>;

    // ---- posts (forum shard) ----

    /// Writes a post in one transaction: the thread (created from `post.thread` if it
    /// does not exist yet), the guest author, the post, its ancestors' and thread's
    /// counters. `edit_token` is stored for later edits by the author.
    async fn post_create(
        &self,
        forum: &Forum,
        post: NewPost,
        edit_token: TokenHash,
        now: UnixMs,
    ) -> StoreResult<CreatedPost>;
    async fn post_get(&self, id: Id) -> StoreResult<Post>;
    /// A post with the stored hash of its author's edit token, in one read.
    async fn post_for_edit(&self, id: Id) -> StoreResult<(Post, Option<TokenHash>)>;
    async fn post_edit(&self, id: Id, message: Message, html: String, now: UnixMs) -> StoreResult<Post>;
    /// Soft-deletes a post (its replies keep their place); returns the post and its
    /// thread as the same transaction left them.
    async fn post_delete(&self, id: Id) -> StoreResult<DeletedPost>;
    /// The bulk path: appends a batch of posts to a thread (created from `thread` if
    /// needed) in one transaction, with paths, scores and counters computed once for the
    /// batch instead of per post. All or nothing: a bad parent index or a tree too deep
    /// writes nothing. Imported posts carry no edit token.
    async fn thread_import(
        &self,
        forum: &Forum,
        thread: ThreadSpec,
        posts: Vec<ImportPost>,
        now: UnixMs,
    ) -> StoreResult<ImportedThread>;

    /// Top-level posts of a thread after `after` in `sort` order, each with its first
    /// replies in tree order. A constant number of statements whatever the sizes.
    async fn thread_roots(
        &self,
        thread: Id,
        sort: Sort,
        after: Option<RootCursor>,
        limits: PageLimits,
    ) -> StoreResult<RootsPage>;
    /// Listed descendants of `node` in tree order after `after`.
    async fn post_replies(&self, node: &Post, after: Option<ReplyCursor>, limit: u32) -> StoreResult<RepliesPage>;

    // ---- accounts, sessions and emailed links (global) ----

    /// Creates an account and its author row (same id). `UsernameTaken` / `EmailTaken`
    /// when either is in use, compared without regard to case.
    async fn account_create(&self, new: NewAccount, now: UnixMs) -> StoreResult<Account>;
    async fn account_get(&self, id: Id) -> StoreResult<Account>;
    /// The account a log-in names (by `login_key` of a username or an email) with its
    /// password hash.
    async fn account_for_login(&self, login_key: &str) -> StoreResult<Option<(Account, String)>>;
    async fn account_by_email(&self, email: &Email) -> StoreResult<Option<Account>>;
    /// Stores a one-time link for the account, sent to `email`; expired links of the
    /// account are dropped on the way.
    async fn link_create(
        &self,
        token: TokenHash,
        account: Id,
        purpose: LinkPurpose,
        email: &Email,
        now: UnixMs,
        expires_at: UnixMs,
    ) -> StoreResult<()>;
    /// Consumes a verification link and marks the address verified, in one transaction.
    /// `LinkInvalid` for an unknown, expired, used or other-purpose link, or one sent to
    /// an address the account no longer has.
    async fn account_verify_email(&self, token: TokenHash, now: UnixMs) -> StoreResult<Account>;
    /// Consumes a reset link, sets the password, marks the address verified and revokes
    /// every session of the account, in one transaction.
    async fn account_reset_password(
        &self,
        token: TokenHash,
        password_hash: String,
        now: UnixMs,
    ) -> StoreResult<Account>;
    async fn session_create(
        &self,
        account: Id,
        token: TokenHash,
        now: UnixMs,
        expires_at: UnixMs,
    ) -> StoreResult<Session>;
    /// The live session a bearer token names, with its account, in one statement.
    async fn session_lookup(&self, token: TokenHash, now: UnixMs) -> StoreResult<Option<(Session, Account)>>;
    /// The account's live sessions, newest first.
    async fn session_list(&self, account: Id, now: UnixMs) -> StoreResult<Vec<Session>>;
    /// Ends one session of the account; `SessionNotFound` if it is not theirs.
    async fn session_revoke(&self, account: Id, session: Id) -> StoreResult<()>;

    // ---- administrators and roles (global) ----

    async fn account_by_username(&self, username: &Username) -> StoreResult<Option<Account>>;
    /// Makes an account a global administrator, or no longer one.
    async fn account_set_admin(&self, account: Id, admin: bool) -> StoreResult<Account>;
    async fn role_get(&self, forum: Id, account: Id) -> StoreResult<Option<Role>>;
    /// The forum's accounts with a role, by username.
    async fn roles_list(&self, forum: Id) -> StoreResult<Vec<(Account, Role)>>;
    /// Grants a role, or removes it with `None`; `LastOwner` rather than leave a forum
    /// that had owners without one.
    async fn role_set(&self, forum: Id, account: Id, role: Option<Role>, now: UnixMs) -> StoreResult<()>;
    /// Changes a forum's name, origins or policy.
    async fn forum_update(&self, forum: Id, update: ForumUpdate) -> StoreResult<Forum>;

    // ---- the account holder's data ----

    /// The account's posts (every state, every forum), roles and votes (`voter` is the
    /// account's voter key).
    async fn account_data(&self, account: Id, voter: TokenHash) -> StoreResult<AccountData>;
    /// Deletes the account in one transaction: its posts are anonymised or removed as
    /// each forum's policy says, then the account, its author row, sessions, links and
    /// roles go. `LastOwner` if it is the only owner of a forum.
    async fn account_delete(&self, account: Id, now: UnixMs) -> StoreResult<AccountDeleted>;

    // ---- votes (forum shard) ----

    /// Sets the voter's vote on a post and moves the post's counters by the difference.
    async fn vote_set(&self, post: Id, voter: TokenHash, value: VoteValue, now: UnixMs) -> StoreResult<VoteOutcome>;
}
