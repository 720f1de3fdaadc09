//! The storage boundary: narrow traits per aggregate under one supertrait, [`Store`], in
//! domain terms. Backends (SQLite, PostgreSQL) implement them; the server only ever sees
//! `Arc<dyn Store>`.
//!
//! Rules every backend follows (the contract suite in [`contract`] checks them):
//! - each write use case is one transaction: all of it or nothing;
//! - counters change by atomic increments in SQL, never read-modify-write;
//! - reads never open a transaction and run a constant number of statements;
//! - every statement is counted into the current [`stats`] scope.

pub mod consistency;
pub mod id_nodes;
pub mod shape;
pub mod stats;

#[cfg(feature = "contract")]
pub mod contract;

use async_trait::async_trait;
use confab_core::cursor::{ReplyCursor, RootCursor};
use confab_core::id::Id;
use confab_core::input::{Email, Identifier, Message, Title, Username, WebUrl};
use confab_core::jobs::{EventKind, JobState, Task};
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
    #[error("job not found")]
    JobNotFound,
    #[error("only a dead job can be retried or discarded")]
    JobNotDead,
    #[error("webhook not found")]
    WebhookNotFound,
    #[error("ban not found")]
    BanNotFound,
    #[error("the storage backend is unavailable: {0}")]
    Unavailable(String),
    /// The storage itself is at fault: nothing is written until an operator acts.
    #[error("{0}")]
    Fault(StorageFault),
    #[error("storage failure: {0}")]
    Internal(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// What is wrong with the storage under a store (503 with its own code; health says so).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StorageFault {
    /// The disk (or the quota) is full.
    #[error("the storage is full")]
    Full,
    /// The file system or the database file is read-only.
    #[error("the storage is read-only")]
    ReadOnly,
    /// The database file the store opened is gone or was replaced under it: what it
    /// would write now would be lost.
    #[error("the database file is gone or was replaced")]
    Lost,
}

impl StorageFault {
    pub fn code(self) -> &'static str {
        match self {
            StorageFault::Full => "storage_full",
            StorageFault::ReadOnly => "storage_read_only",
            StorageFault::Lost => "storage_lost",
        }
    }
}

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
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AccountDeleted {
    pub posts_removed: u64,
    pub posts_anonymized: u64,
    /// The threads whose pages changed (each once), for the caches to refresh.
    pub threads: Vec<Id>,
}

/// Comment count of one thread, for a count request.
#[derive(Debug, Clone, PartialEq)]
pub struct ThreadCount {
    pub thread_id: Id,
    pub identifier: Identifier,
    pub url: Option<WebUrl>,
    pub posts: i64,
    /// The thread's [`Thread::version`], for the cached count.
    pub version: u64,
}

impl From<Thread> for ThreadCount {
    fn from(t: Thread) -> Self {
        ThreadCount { thread_id: t.id, identifier: t.identifier, url: t.url, posts: t.posts, version: t.version }
    }
}

/// One outbox row: a task, where it is in its life, and how its attempts went.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: Id,
    pub forum_id: Id,
    /// The task as JSON (see [`Task`]); kept raw so that a row no worker can read
    /// still lists, and dies visibly instead of vanishing.
    pub task: String,
    pub state: JobState,
    /// Attempts started so far (a claim starts one).
    pub attempts: u32,
    /// When it may run next (ready), or ran last.
    pub run_at: UnixMs,
    pub last_error: Option<String>,
    pub created_at: UnixMs,
    pub updated_at: UnixMs,
}

/// A task to queue, due at `run_at`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    pub forum_id: Id,
    pub task: Task,
    pub run_at: UnixMs,
}

/// How a claimed attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum JobOutcome {
    /// It took effect; `follow_ups` are queued in the same transaction.
    Done { follow_ups: Vec<NewJob> },
    /// It failed and runs again at `at`.
    Retry { at: UnixMs, error: String },
    /// It failed for good: kept, visible, for an operator to retry or discard.
    Dead { error: String },
}

/// Which outbox rows to list: newest first, before `before`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JobFilter {
    pub state: Option<JobState>,
    pub forum: Option<Id>,
    pub before: Option<Id>,
    pub limit: u32,
}

/// A forum's webhook endpoint.
#[derive(Clone, PartialEq)]
pub struct Webhook {
    pub id: Id,
    pub forum_id: Id,
    pub url: WebUrl,
    /// Signs every delivery (HMAC-SHA256); shown to the forum's owners only.
    pub secret: String,
    pub events: Vec<EventKind>,
    /// Also sign the Disqus way: `X-Hub-Signature: sha512=…`.
    pub hub_signature: bool,
    pub created_at: UnixMs,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook").field("id", &self.id).field("events", &self.events).finish_non_exhaustive()
    }
}

/// A webhook to register.
#[derive(Clone, PartialEq)]
pub struct NewWebhook {
    pub url: WebUrl,
    pub secret: String,
    pub events: Vec<EventKind>,
    pub hub_signature: bool,
}

/// One attempt to deliver an event to a webhook, for the forum's delivery log.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookAttempt {
    /// Position in the log (assigned by the store; 0 when recording).
    pub seq: i64,
    pub webhook_id: Id,
    /// The delivery's outbox id: the same for every attempt of one delivery, and the
    /// receiver's key to recognise a repeat.
    pub delivery_id: Id,
    pub event: EventKind,
    pub attempt: u32,
    pub at: UnixMs,
    /// The receiver's HTTP status, if it answered.
    pub status: Option<u16>,
    /// Why the attempt failed, if it did (never the response body).
    pub error: Option<String>,
    pub duration_ms: u32,
}

/// `notify_sent.sent_at` of a post the gate gave to a digest rather than let through
/// (both stores), so that a retried notify job does not give it to another digest.
pub const NOTIFY_DIGESTED: UnixMs = -1;

/// What the notification throttle decided for one post and recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyGate {
    /// Mail now; the recipient's quiet interval for the thread starts.
    Send,
    /// Mail now, again: the gate let this post through before (its job is being retried
    /// after its worker died), so an earlier attempt may have delivered it. Send the same
    /// mail again, and if that fails, retry it: never hand it to a digest, which would
    /// be a second mail under another Message-ID.
    SendAgain,
    /// Nothing to do: the gate gave this post to a digest before (its job is being
    /// retried), which carries it or has mailed it already.
    Digested,
    /// Wait: the post joins the digest, due at `due`; `schedule` says whether this
    /// call opened the digest (and so must queue the job that sends it).
    Digest { due: UnixMs, schedule: bool },
}

/// What a moderator looks for among a forum's posts (the queues and the search).
/// Every filter given must hold; results come newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PostSearch {
    /// Posts in this state; `None`: any.
    pub state: Option<PostState>,
    /// Only posts readers have flagged (since a moderator last approved them).
    pub flagged: bool,
    /// Words in the text (a case-insensitive substring).
    pub text: Option<String>,
    /// Posts by these authors (an account, a guest identity, an SSO user).
    pub authors: Option<Vec<Id>>,
    /// Posts whose author gave this address (lowercased).
    pub email: Option<String>,
    /// Posts from this network (the keyed hash written with the post).
    pub network: Option<[u8; 32]>,
    pub thread: Option<Id>,
    /// Created at or after.
    pub since: Option<UnixMs>,
    /// Created before.
    pub until: Option<UnixMs>,
    /// Older than this post (the cursor: the last id of the previous page).
    pub before: Option<Id>,
    pub limit: u32,
}

/// How many posts wait in each of a forum's queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueSizes {
    pub pending: u64,
    pub flagged: u64,
    pub spam: u64,
    pub shadow: u64,
}

/// What a reader's flag did.
#[derive(Debug, Clone, PartialEq)]
pub struct FlagOutcome {
    /// False when this reader had already flagged the post (nothing changed).
    pub added: bool,
    /// The post after the flag: its count, and its state (pending if the flag reached
    /// the forum's threshold).
    pub post: Post,
    /// Whether this flag sent the post to review.
    pub held: bool,
}

/// A post moved between states by a verdict or a moderator.
#[derive(Debug, Clone, PartialEq)]
pub struct StateChange {
    pub before: Post,
    pub after: Post,
    pub thread: Thread,
}

/// What the store knows about a post's context, for the spam filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SpamContext {
    /// Posts in the forum with the same text in the window, this one excluded.
    pub duplicates: u32,
    /// The author's posts in the forum before this one.
    pub author_posts: u32,
    /// The author's posts in the forum in the recent window, this one included.
    pub author_recent: u32,
}

/// The spam filter's last verdict on a post.
#[derive(Debug, Clone, PartialEq)]
pub struct SpamRecord {
    pub action: confab_core::spam::Action,
    pub score: f64,
    pub reasons: Vec<String>,
    pub at: UnixMs,
}

/// Every aggregate's trait, to bring their methods into scope: `use confab_store::prelude::*`.
pub mod prelude {
    pub use crate::{
        AccountStore, BanStore, ForumStore, LiveStore, ModerationStore, NotifyStore, OutboxStore, PostStore, RoleStore,
        SpamStore, Store, WebhookStore,
    };
}

/// What one step of a forum's purge removed ([`Store::forum_purge`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PurgeStep {
    pub threads: u64,
    pub posts: u64,
    /// Nothing of the forum is left, its own row included.
    pub done: bool,
}

/// How many of a guest's own posts one read may look for (what a reader's browser
/// remembers of one thread; more are ignored).
pub const MAX_OWN_POSTS: usize = 50;

/// The whole store: every aggregate's trait, and what the store itself answers (health,
/// settings, id nodes). Code that needs one aggregate takes that trait alone.
#[async_trait]
pub trait Store:
    ForumStore
    + PostStore
    + AccountStore
    + RoleStore
    + OutboxStore
    + WebhookStore
    + NotifyStore
    + ModerationStore
    + SpamStore
    + BanStore
    + LiveStore
    + Send
    + Sync
    + 'static
{
    /// Whether some reads may be served by replicas, so that read scopes
    /// ([`consistency`]) matter; a store without replicas ignores them.
    fn has_replicas(&self) -> bool {
        false
    }
    /// Whether the store can take writes now: `/healthz` asks. By default one cheap read;
    /// a backend that can tell more (a file gone, a full disk) says so.
    async fn health(&self) -> StoreResult<()> {
        self.admin_token_hash().await.map(drop)
    }
    /// A server-wide secret by name, created with `init` on first use. Used for the
    /// cursor signing key; the value never leaves the server.
    async fn secret_get_or_init(&self, name: &str, init: Vec<u8>) -> StoreResult<Vec<u8>>;
    /// The stored admin token hash, if any.
    async fn admin_token_hash(&self) -> StoreResult<Option<TokenHash>>;
    /// Stores the admin token hash if none exists; returns whether it was stored.
    async fn admin_token_init(&self, hash: TokenHash) -> StoreResult<bool>;
    /// Replaces the admin token hash (rotation).
    async fn admin_token_set(&self, hash: TokenHash) -> StoreResult<()>;
    /// Leases to `holder` until `until` the node whose lease ended longest ago (before
    /// `now`; times are wall-clock Unix ms), with its floor by
    /// [`id_nodes::IdNodeLease::after`]. `Unavailable` when every node is held.
    async fn id_node_acquire(&self, holder: &str, now: u64, until: u64) -> StoreResult<id_nodes::IdNodeLease>;
    /// Extends `holder`'s lease of `node` to `until`, recording that its ids reached
    /// `high_ms`; false when the node is no longer `holder`'s.
    async fn id_node_renew(&self, node: u16, holder: &str, high_ms: u64, until: u64) -> StoreResult<bool>;
    /// Gives `holder`'s node back, recording that its ids reached `high_ms`.
    async fn id_node_release(&self, node: u16, holder: &str, high_ms: u64) -> StoreResult<()>;
}

/// Forums (global): create, read, settings, keys, and deletion.
#[async_trait]
pub trait ForumStore: Send + Sync {
    async fn forum_create(&self, forum: NewForum, now: UnixMs) -> StoreResult<Forum>;
    async fn forum_by_shortname(&self, shortname: &str) -> StoreResult<Forum>;
    async fn forum_get(&self, id: Id) -> StoreResult<Forum>;
    async fn forum_list(&self) -> StoreResult<Vec<Forum>>;
    /// The forum's API keys (every forum has a pair from its creation).
    async fn forum_keys(&self, forum: Id) -> StoreResult<ForumKeys>;
    /// Replaces the forum's key pair; the old keys stop working at once.
    async fn forum_keys_rotate(&self, forum: Id, keys: ForumKeys) -> StoreResult<ForumKeys>;
    /// Starts deleting a forum: from here on no read finds it (the forum reads above
    /// answer `ForumNotFound`), while its shortname stays taken until the purge ends.
    /// Queues the purge job ([`confab_core::jobs::Task::ForumPurge`]) in the forum's
    /// outbox and returns its id; asked again while the forum is being deleted, it
    /// returns the waiting job, or queues a new one if none waits.
    async fn forum_delete_begin(&self, forum: Id, now: UnixMs) -> StoreResult<Id>;
    /// One step of the purge of a forum being deleted: its waiting jobs, and up to
    /// `threads` of its threads with everything under them, in one transaction; once
    /// none is left and `finish` is set, the rest of the forum's data and, last, the
    /// forum itself (`done`). The caller sets `finish` once no process can still be
    /// writing to the forum. A forum that is gone is done; one not being deleted is
    /// refused (`Internal`), untouched. `keep` is the running purge job, spared.
    async fn forum_purge(&self, forum: Id, keep: Id, threads: u32, finish: bool) -> StoreResult<PurgeStep>;
    /// Changes a forum's name, origins or policy.
    async fn forum_update(&self, forum: Id, update: ForumUpdate) -> StoreResult<Forum>;
}

/// Threads, posts, their authors and votes (forum shard; authors global).
#[async_trait]
pub trait PostStore: Send + Sync {
    /// Authors by id, in one round trip, in no particular order; unknown ids are skipped.
    async fn authors_get_many(&self, ids: &[Id]) -> StoreResult<Vec<Author>>;
    async fn thread_get(&self, id: Id) -> StoreResult<Thread>;
    /// The thread named by `key` in the forum; by URL, the oldest thread with that URL.
    async fn thread_find(&self, forum: &Forum, key: &ThreadKey) -> StoreResult<Option<Thread>>;
    async fn thread_create(&self, forum: &Forum, spec: ThreadSpec, now: UnixMs) -> StoreResult<Thread>;
    async fn thread_set_closed(&self, id: Id, closed: bool) -> StoreResult<Thread>;
    /// A moderator's correction of the thread's page: its url, its title, or both
    /// (`None` keeps what is there).
    async fn thread_correct(&self, id: Id, url: Option<WebUrl>, title: Option<Title>) -> StoreResult<Thread>;
    /// Counts for threads named by identifiers or URLs; unknown ones are left out.
    async fn thread_counts(&self, forum: &Forum, keys: &[ThreadKey]) -> StoreResult<Vec<ThreadCount>>;
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
    /// The author's new text. With `hold` (the forum's rules object to the new text),
    /// an approved post also goes back to pending for review, logged as the rules'
    /// decision with that reason: both in one transaction, so no crash leaves the new
    /// text public.
    async fn post_edit(
        &self,
        id: Id,
        message: Message,
        html: String,
        hold: Option<String>,
        now: UnixMs,
    ) -> StoreResult<Post>;
    /// Soft-deletes a post (its replies keep their place); returns the post and its
    /// thread as the same transaction left them.
    async fn post_delete(&self, id: Id, now: UnixMs) -> StoreResult<DeletedPost>;
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
    /// Sets the voter's vote on a post and moves the post's counters by the difference.
    async fn vote_set(&self, post: Id, voter: TokenHash, value: VoteValue, now: UnixMs) -> StoreResult<VoteOutcome>;
}

/// Accounts, sessions, mailed links and what an account holds (global).
#[async_trait]
pub trait AccountStore: Send + Sync {
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
    /// A session of the account; `forum` makes it a reader credential for that forum
    /// alone (see [`Session::forum`]).
    async fn session_create(
        &self,
        account: Id,
        token: TokenHash,
        now: UnixMs,
        expires_at: UnixMs,
        forum: Option<Id>,
    ) -> StoreResult<Session>;
    /// The live session a bearer token names, with its account, in one statement.
    async fn session_lookup(&self, token: TokenHash, now: UnixMs) -> StoreResult<Option<(Session, Account)>>;
    /// The account's live sessions, newest first.
    async fn session_list(&self, account: Id, now: UnixMs) -> StoreResult<Vec<Session>>;
    /// Ends one session of the account; `SessionNotFound` if it is not theirs.
    async fn session_revoke(&self, account: Id, session: Id) -> StoreResult<()>;
    async fn account_by_username(&self, username: &Username) -> StoreResult<Option<Account>>;
    /// Makes an account a global administrator, or no longer one.
    async fn account_set_admin(&self, account: Id, admin: bool) -> StoreResult<Account>;
    /// The account's posts (every state, every forum), roles and votes (`voter` is the
    /// account's voter key).
    async fn account_data(&self, account: Id, voter: TokenHash) -> StoreResult<AccountData>;
    /// Deletes the account in one transaction: its posts are anonymised or removed as
    /// each forum's policy says, then the account, its author row, sessions, links and
    /// roles go. `LastOwner` if it is the only owner of a forum.
    async fn account_delete(&self, account: Id, now: UnixMs) -> StoreResult<AccountDeleted>;
}

/// Who holds which role in which forum (global).
#[async_trait]
pub trait RoleStore: Send + Sync {
    async fn role_get(&self, forum: Id, account: Id) -> StoreResult<Option<Role>>;
    /// The forum's accounts with a role, by username.
    async fn roles_list(&self, forum: Id) -> StoreResult<Vec<(Account, Role)>>;
    /// An account's roles: (forum id, role), in every forum.
    async fn roles_of(&self, account: Id) -> StoreResult<Vec<(Id, Role)>>;
    /// Grants a role, or removes it with `None`; `LastOwner` rather than leave a forum
    /// that had owners without one.
    async fn role_set(&self, forum: Id, account: Id, role: Option<Role>, now: UnixMs) -> StoreResult<()>;
}

/// The outbox (forum shard): what workers claim, settle and prune (with the webhooks'
/// delivery log, which they prune beside it). The job runtime takes only this.
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Claims up to `limit` due jobs, oldest due first: ready ones whose `run_at` has
    /// come, and running ones whose lease ended (their worker died). Each claim starts
    /// an attempt and holds the job until `lease_until`.
    async fn jobs_claim(&self, now: UnixMs, lease_until: UnixMs, limit: u32) -> StoreResult<Vec<Job>>;
    /// Records how attempt `attempt` of a claimed job ended, in one transaction with
    /// its follow-ups. `false`, changing nothing, when the job is no longer held by
    /// that attempt (its lease ended and another worker claimed it).
    async fn job_settle(&self, id: Id, attempt: u32, outcome: JobOutcome, now: UnixMs) -> StoreResult<bool>;
    /// Gives a claimed job back unstarted, the attempt not counted: ready at `run_at`
    /// (`now` at a graceful shutdown; later for a job whose feature is switched off).
    async fn job_release(&self, id: Id, attempt: u32, run_at: UnixMs, now: UnixMs) -> StoreResult<bool>;
    async fn job_get(&self, id: Id) -> StoreResult<Job>;
    async fn jobs_list(&self, filter: JobFilter) -> StoreResult<Vec<Job>>;
    /// Jobs per state.
    async fn job_counts(&self) -> StoreResult<Vec<(JobState, u64)>>;
    /// A dead job, ready again with its attempts reset. `JobNotDead` otherwise.
    async fn job_retry(&self, id: Id, now: UnixMs) -> StoreResult<Job>;
    /// Deletes a dead job. `JobNotDead` otherwise.
    async fn job_discard(&self, id: Id) -> StoreResult<()>;
    /// Deletes done jobs finished before `before`; returns how many.
    async fn jobs_prune(&self, before: UnixMs) -> StoreResult<u64>;
    /// Deletes delivery-log rows recorded before `before`; returns how many.
    async fn webhook_attempts_prune(&self, before: UnixMs) -> StoreResult<u64>;
}

/// A forum's webhooks and their delivery log (forum shard).
#[async_trait]
pub trait WebhookStore: Send + Sync {
    async fn webhook_create(&self, forum: Id, new: NewWebhook, now: UnixMs) -> StoreResult<Webhook>;
    async fn webhooks_list(&self, forum: Id) -> StoreResult<Vec<Webhook>>;
    async fn webhook_get(&self, id: Id) -> StoreResult<Webhook>;
    /// Deletes a webhook of the forum and its delivery log; deliveries still queued
    /// find it gone and end.
    async fn webhook_delete(&self, forum: Id, id: Id) -> StoreResult<()>;
    async fn webhook_attempt_log(&self, attempt: WebhookAttempt) -> StoreResult<()>;
    /// The webhook's delivery log, newest first, before log position `before`.
    async fn webhook_attempts(&self, webhook: Id, before: Option<i64>, limit: u32) -> StoreResult<Vec<WebhookAttempt>>;
}

/// Subscriptions, mutes and the mail throttle (forum shard; mutes global).
#[async_trait]
pub trait NotifyStore: Send + Sync {
    /// Subscribes an address to a thread's new comments; `false` if it already was.
    /// Subscribing again lifts an earlier unsubscribe from that thread.
    async fn subscription_add(&self, thread: &Thread, email: &Email, now: UnixMs) -> StoreResult<bool>;
    /// `false` if it was not subscribed.
    async fn subscription_remove(&self, thread: Id, email: &Email) -> StoreResult<bool>;
    async fn subscription_exists(&self, thread: Id, email: &Email) -> StoreResult<bool>;
    /// The thread's subscribers, less those who unsubscribed from everything.
    async fn subscribers(&self, thread: Id) -> StoreResult<Vec<Email>>;
    /// Where replies to the post are announced: its author's address, if the post
    /// asked for it (and an account's address is verified).
    async fn reply_recipient(&self, post: Id) -> StoreResult<Option<Email>>;
    /// Addresses of the forum's moderators and owners (verified accounts).
    async fn moderator_emails(&self, forum: Id) -> StoreResult<Vec<Email>>;
    /// An unsubscribe link used: no more mail about the thread (its subscription goes),
    /// or with `None` about anything.
    async fn mute(&self, email: &Email, thread: Option<Id>, now: UnixMs) -> StoreResult<()>;
    async fn is_muted(&self, email: &Email, thread: Id) -> StoreResult<bool>;
    /// The throttle, in one transaction: at most one mail per recipient per thread per
    /// `interval_ms`; posts in between wait for a digest.
    async fn notify_gate(
        &self,
        email: &Email,
        thread: Id,
        post: Id,
        now: UnixMs,
        interval_ms: i64,
    ) -> StoreResult<NotifyGate>;
    /// A mail the throttle let through at `sent_at` failed: forget that it was sent
    /// (`true`: the next attempt may send it), or, if a digest has opened since,
    /// hand the post to that digest (`false`).
    async fn notify_release(&self, email: &Email, thread: Id, post: Id, sent_at: UnixMs) -> StoreResult<bool>;
    /// The posts waiting for the recipient's digest of the thread (oldest first). They
    /// stay waiting: only `digest_sent`, once the mail has gone, takes them, so a failed
    /// or interrupted send loses none (its retry sends them again).
    async fn digest_waiting(&self, email: &Email, thread: Id) -> StoreResult<Vec<Id>>;
    /// The digest of `posts` went out at `now`: they stop waiting and a new quiet
    /// interval starts. `true` when others joined while it was being sent: the digest
    /// then stays open for them, due at `next_due`, and the caller queues it.
    async fn digest_sent(
        &self,
        email: &Email,
        thread: Id,
        posts: &[Id],
        now: UnixMs,
        next_due: UnixMs,
    ) -> StoreResult<bool>;
}

/// Decisions on posts, the queues and search, flags, highlights and pins, and what only an author sees (forum shard).
#[async_trait]
pub trait ModerationStore: Send + Sync {
    /// Moves a post to `state` — approved, pending, spam, or deleted (soft; restorable)
    /// — with its counters, its event (`post.approved`, `post.spam`, `post.deleted`, or
    /// `post.updated` when held) and a moderation-log entry (who, why), in one
    /// transaction. No change, no event and no entry when it is already in `state`.
    async fn post_set_state(
        &self,
        id: Id,
        state: PostState,
        by: confab_core::model::Moderator,
        reason: Option<String>,
        now: UnixMs,
    ) -> StoreResult<StateChange>;
    /// A forum's posts matching `search`, newest first.
    async fn moderation_queue(&self, forum: Id, search: &PostSearch) -> StoreResult<Vec<Post>>;
    /// Counts of a forum's posts: pending, spam, flagged (approved or pending with
    /// flags), shadow.
    async fn queue_sizes(&self, forum: Id) -> StoreResult<QueueSizes>;
    /// Posts created per day (UTC) in the forum from `since`, with how many of them
    /// are spam now: `(day start, posts, spam)`, oldest first, days without posts left out.
    async fn posts_per_day(&self, forum: Id, since: UnixMs) -> StoreResult<Vec<(UnixMs, u64, u64)>>;
    /// A reader's flag on a post, once per reader (`voter`); in one transaction, the
    /// count, and at `threshold` (0: never) a hold for review logged as the readers'.
    async fn flag_add(
        &self,
        post: Id,
        voter: TokenHash,
        flag: confab_core::model::Flag,
        threshold: u32,
        now: UnixMs,
    ) -> StoreResult<FlagOutcome>;
    /// The flags on a post since a moderator last approved it, newest first.
    async fn flags_of(&self, post: Id) -> StoreResult<Vec<confab_core::model::Flag>>;
    /// Marks or unmarks a post as highlighted; emits `post.updated`.
    async fn post_set_highlighted(&self, post: Id, on: bool, now: UnixMs) -> StoreResult<Post>;
    /// Pins one post to the top of its thread (`None` unpins).
    async fn thread_set_pinned(&self, thread: Id, post: Option<Id>) -> StoreResult<Thread>;
    /// The posts in a thread that only their author sees (pending and shadow), by an
    /// account or by an SSO user of the forum (`(forum, site id)`), oldest first.
    async fn own_hidden_posts(
        &self,
        thread: Id,
        account: Option<Id>,
        sso: Option<(Id, String)>,
    ) -> StoreResult<Vec<Post>>;
    /// The posts among `ids` in `thread` that only their author sees (pending and
    /// shadow), each with its edit-token hash: a guest proves authorship by token, and
    /// the caller compares them. At most [`MAX_OWN_POSTS`] ids are looked at.
    async fn hidden_posts_among(&self, thread: Id, ids: &[Id]) -> StoreResult<Vec<(Post, Option<TokenHash>)>>;
    /// A post's moderation history, oldest first.
    async fn moderation_log(&self, post: Id) -> StoreResult<Vec<confab_core::model::ModerationEntry>>;
}

/// The spam filter's context, per-forum learning and verdicts (forum shard).
#[async_trait]
pub trait SpamStore: Send + Sync {
    /// The spam filter's verdict: moves the post to `state` (as `post_set_state` does,
    /// logged as the filter's) only if it is still in `queued`, the state it had when its
    /// screening was queued, and nobody has decided on it since (a moderator, the forum's
    /// key, the author, the readers' flags: `shape::DECIDED_BY_SOMEONE`), checked in the
    /// transaction that moves it. `None` when someone has: their decision stands.
    async fn post_screened(
        &self,
        id: Id,
        queued: PostState,
        state: PostState,
        reason: Option<String>,
        now: UnixMs,
    ) -> StoreResult<Option<StateChange>>;
    /// Duplicates within `duplicate_window_ms`, the author's posts before, and within
    /// `recent_window_ms`.
    async fn spam_context(
        &self,
        post: &Post,
        now: UnixMs,
        duplicate_window_ms: i64,
        recent_window_ms: i64,
    ) -> StoreResult<SpamContext>;
    /// The forum's learnt counts for these tokens (and its document counts).
    async fn spam_model(&self, forum: Id, tokens: &[String]) -> StoreResult<confab_core::spam::Model>;
    /// Teaches the forum's classifier one judged text.
    async fn spam_learn(&self, forum: Id, tokens: &[String], spam: bool) -> StoreResult<()>;
    async fn spam_verdict_set(&self, post: Id, record: SpamRecord) -> StoreResult<()>;
    async fn spam_verdict(&self, post: Id) -> StoreResult<Option<SpamRecord>>;
    /// The verdicts of posts of one forum (the dashboard's cards), in one statement;
    /// posts without one are left out.
    async fn spam_verdicts(&self, forum: Id, posts: &[Id]) -> StoreResult<Vec<(Id, SpamRecord)>>;
}

/// Bans and timeouts (forum shard).
#[async_trait]
pub trait BanStore: Send + Sync {
    async fn ban_create(
        &self,
        forum: Id,
        ban: confab_core::model::NewBan,
        now: UnixMs,
    ) -> StoreResult<confab_core::model::Ban>;
    /// The forum's bans in force at `now`, newest first.
    async fn bans_list(&self, forum: Id, now: UnixMs) -> StoreResult<Vec<confab_core::model::Ban>>;
    /// Lifts a ban of the forum. `BanNotFound` if it is not one of the forum's.
    async fn ban_delete(&self, forum: Id, id: Id) -> StoreResult<()>;
    /// The bans in force that could match a poster: the account's, the address's and
    /// its domain's, and every IP ban (the caller matches networks).
    async fn bans_matching(
        &self,
        forum: Id,
        probe: &confab_core::model::BanProbe,
        now: UnixMs,
    ) -> StoreResult<Vec<confab_core::model::Ban>>;
}

/// What kind of live value a [`LiveStore`] entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LiveKind {
    /// A feature switch ([`confab_core::switches`]).
    Switch,
}

impl LiveKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LiveKind::Switch => "switch",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        (s == "switch").then_some(LiveKind::Switch)
    }
}

/// One live value: its key and its JSON text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveEntry {
    pub kind: LiveKind,
    pub key: String,
    pub value: String,
}

/// Every live value, and the seq of the newest change they include.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveTable {
    pub seq: u64,
    pub entries: Vec<LiveEntry>,
}

/// One change to a live value, as the audit log keeps it. `before`/`after` are the
/// value's JSON text, `None` for a value that was not set or was deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveChange {
    pub seq: u64,
    pub kind: LiveKind,
    pub key: String,
    /// Who made it, as the caller names them (never an e-mail or an address).
    pub by: String,
    pub at: UnixMs,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// Values an operator changes while Confab runs (global): kept in a table every process
/// holds in memory, re-read when the newest change's seq moves, and changed with an
/// audit trail.
#[async_trait]
pub trait LiveStore: Send + Sync {
    /// Every value, and the seq of the newest change they include (0 before any). The seq
    /// is read first, so a change made during the read makes the next poll read again.
    async fn live_table(&self) -> StoreResult<LiveTable>;
    /// The newest change's seq: one indexed read, which every process polls.
    async fn live_seq(&self) -> StoreResult<u64>;
    /// Sets (`Some`) or clears (`None`) a value and logs the change, in one transaction
    /// (changes are serialised, so seqs follow commit order). `None` when the value is
    /// already what is asked: nothing is written or logged. On PostgreSQL the commit
    /// also sends `NOTIFY confab_live`.
    async fn live_put(
        &self,
        kind: LiveKind,
        key: &str,
        value: Option<String>,
        by: &str,
        at: UnixMs,
    ) -> StoreResult<Option<LiveChange>>;
    /// The audit log, newest first: of one key, or of every key of the kind.
    async fn live_log(&self, kind: LiveKind, key: Option<&str>, limit: u32) -> StoreResult<Vec<LiveChange>>;
}
