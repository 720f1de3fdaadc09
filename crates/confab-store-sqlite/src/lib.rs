//! The embedded store: one SQLite file in WAL mode. Writes go through a single writer
//! connection (SQLite allows one writer at a time; queueing in the pool is cheaper
//! than lock retries); reads use a pool of reader connections that proceed in
//! parallel with the writer.
//!
//! Each resource has a module of synchronous functions taking a connection; the
//! [`Store`] impl below runs them on the right pool.

mod accounts;
mod bans;
mod counting;
mod forums;
mod id_nodes;
mod live;
mod moderation;
mod notify;
mod outbox;
mod pool;
mod posts;
mod purge;
mod rows;
mod settings;
mod spam;
mod threads;
mod votes;

use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use async_trait::async_trait;
use confab_core::cursor::{ReplyCursor, RootCursor};
use confab_core::id::{Id, IdGenerator};
use confab_core::input::{Email, Message, Title, Username, WebUrl};
use confab_core::jobs::JobState;
use confab_core::model::{
    Account, Author, Forum, ForumKeys, ForumUpdate, LinkPurpose, NewAccount, NewForum, NewPost, Post, PostState, Role,
    Session, Sort, Thread, ThreadKey, ThreadSpec, UnixMs, VoteValue,
};
use confab_core::rank;
use confab_core::secret::TokenHash;
use confab_store::id_nodes::IdNodeLease;
use confab_store::prelude::*;
use confab_store::{
    AccountData, AccountDeleted, CreatedPost, DeletedPost, ImportPost, ImportedThread, Job, JobFilter, JobOutcome,
    LiveChange, LiveKind, LiveTable, NewWebhook, NotifyGate, PageLimits, PurgeStep, RepliesPage, RootsPage,
    SpamContext, SpamRecord, StateChange, Store, StoreError, StoreResult, ThreadCount, VoteOutcome, Webhook,
    WebhookAttempt,
};
use rusqlite::functions::FunctionFlags;
use rusqlite::{Connection, OpenFlags};
use rusqlite_migration::{M, Migrations};

use pool::Pool;

static MIGRATIONS: LazyLock<Migrations<'static>> = LazyLock::new(|| {
    Migrations::new(vec![
        M::up(include_str!("../migrations/0001_init.sql")),
        M::up(include_str!("../migrations/0002_accounts.sql")),
        M::up(include_str!("../migrations/0003_sso_and_keys.sql")),
        M::up(include_str!("../migrations/0004_roles.sql")),
        M::up(include_str!("../migrations/0005_votes_by_voter.sql")),
        M::up(include_str!("../migrations/0006_outbox.sql")),
        M::up(include_str!("../migrations/0007_notifications.sql")),
        M::up(include_str!("../migrations/0008_spam.sql")),
        M::up(include_str!("../migrations/0009_moderation.sql")),
        M::up(include_str!("../migrations/0010_bans.sql")),
        M::up(include_str!("../migrations/0011_rules.sql")),
        M::up(include_str!("../migrations/0012_post_network.sql")),
        M::up(include_str!("../migrations/0013_thread_versions.sql")),
        M::up(include_str!("../migrations/0014_id_nodes.sql")),
        M::up(include_str!("../migrations/0015_reader_sessions.sql")),
        M::up(include_str!("../migrations/0016_notify_sent.sql")),
        M::up(include_str!("../migrations/0017_forum_deletion.sql")),
        M::up(include_str!("../migrations/0018_live.sql")),
    ])
});

/// How to open the embedded store.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// The database file; its directory is created if missing.
    pub path: PathBuf,
    /// Reader connections (reads run in parallel up to this many).
    pub readers: usize,
    /// How long a request waits for a free connection before answering 503.
    pub acquire_timeout: Duration,
    /// How long a statement waits on SQLite's file lock before failing.
    pub busy_timeout: Duration,
}

impl SqliteOptions {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        SqliteOptions {
            path: path.into(),
            readers: 8,
            acquire_timeout: Duration::from_secs(5),
            busy_timeout: Duration::from_secs(5),
        }
    }
}

pub struct SqliteStore {
    writer: Arc<Pool>,
    readers: Arc<Pool>,
    ids: Arc<IdGenerator>,
    file: DbFile,
}

/// The database file as opened: a write checks that the path still names it, since
/// SQLite keeps writing into a file deleted (or replaced) under it, and all of that
/// would be lost.
struct DbFile {
    path: std::path::PathBuf,
    dev: u64,
    ino: u64,
}

impl DbFile {
    fn of(path: &Path) -> StoreResult<DbFile> {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(path).map_err(|e| StoreError::Unavailable(format!("{}: {e}", path.display())))?;
        Ok(DbFile { path: path.to_owned(), dev: m.dev(), ino: m.ino() })
    }

    fn check(&self) -> StoreResult<()> {
        use std::os::unix::fs::MetadataExt;
        match std::fs::metadata(&self.path) {
            Ok(m) if m.dev() == self.dev && m.ino() == self.ino => Ok(()),
            _ => Err(StoreError::Fault(confab_store::StorageFault::Lost)),
        }
    }

    /// The file system's state: full (under 1 MiB left for us) or mounted read-only.
    fn space(&self) -> StoreResult<()> {
        use rustix::fs::{StatVfsMountFlags, statvfs};
        let dir = self.path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let Ok(v) = statvfs(dir) else { return Ok(()) };
        if v.f_flag.contains(StatVfsMountFlags::RDONLY) {
            return Err(StoreError::Fault(confab_store::StorageFault::ReadOnly));
        }
        if v.f_bavail.saturating_mul(v.f_frsize) < 1 << 20 {
            return Err(StoreError::Fault(confab_store::StorageFault::Full));
        }
        Ok(())
    }
}

/// Beside the database file from its creation on: a data directory that has this and no
/// database lost its database, and an empty one must not be made in its place unasked.
fn marker_path(db: &Path) -> std::path::PathBuf {
    let mut name = db.file_name().unwrap_or_default().to_owned();
    name.push(".created");
    db.with_file_name(name)
}

fn internal(e: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(e.to_string())
}

/// Applies every pending migration to the database at `path`, creating it if needed.
/// Returns the schema version afterwards.
pub fn migrate(path: &Path) -> StoreResult<usize> {
    let marker = marker_path(path);
    if !path.exists() && marker.exists() {
        return Err(StoreError::Unavailable(format!(
            "{} is missing, but {} says a database was created there: restore it from a backup, \
                 or delete {} to start an empty one",
            path.display(),
            marker.display(),
            marker.display()
        )));
    }
    let mut conn = open_connection(path, Duration::from_secs(5), true)?;
    MIGRATIONS.to_latest(&mut conn).map_err(internal)?;
    if !marker.exists() {
        let note = "Confab created its database (confab.db) beside this file. While this file is here, \
                        Confab refuses to start without that database rather than make an empty one.\n";
        std::fs::write(&marker, note)
            .map_err(|e| StoreError::Unavailable(format!("cannot write {}: {e}", marker.display())))?;
    }

    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(internal)?;
    Ok(version as usize)
}

/// Opens one connection with Confab's settings and SQL functions.
fn open_connection(path: &Path, busy: Duration, writer: bool) -> StoreResult<Connection> {
    let flags = if writer {
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags).map_err(|e| StoreError::Unavailable(e.to_string()))?;
    conn.busy_timeout(busy).map_err(internal)?;
    if writer {
        // WAL lets readers run while the writer writes; NORMAL sync is durable across
        // application crashes and loses at most the last transactions on power loss.
        conn.pragma_update(None, "journal_mode", "WAL").map_err(internal)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(internal)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(internal)?;
    }
    conn.set_prepared_statement_cache_capacity(64);
    register_functions(&conn)?;
    counting::install(&conn);
    Ok(conn)
}

/// The ranking functions SQL needs, bound to the one Rust implementation.
fn register_functions(conn: &Connection) -> StoreResult<()> {
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC | FunctionFlags::SQLITE_INNOCUOUS;
    conn.create_scalar_function("confab_best", 2, flags, |ctx| Ok(rank::best_score(ctx.get(0)?, ctx.get(1)?)))
        .map_err(internal)?;
    conn.create_scalar_function("confab_hot", 2, flags, |ctx| Ok(rank::hot_score(ctx.get(0)?, ctx.get(1)?)))
        .map_err(internal)?;
    Ok(())
}

impl SqliteStore {
    /// Opens (creating and migrating if needed) the database in `opts.path`.
    pub fn open(opts: &SqliteOptions, ids: Arc<IdGenerator>) -> StoreResult<Self> {
        if let Some(dir) = opts.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Unavailable(format!("cannot create {}: {e}", dir.display())))?;
        }
        migrate(&opts.path)?;
        let file = DbFile::of(&opts.path)?;
        let writer = vec![open_connection(&opts.path, opts.busy_timeout, true)?];
        let readers = (0..opts.readers.max(1))
            .map(|_| open_connection(&opts.path, opts.busy_timeout, false))
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(SqliteStore {
            writer: Pool::new("writer", writer, opts.acquire_timeout),
            readers: Pool::new("reader", readers, opts.acquire_timeout),
            ids,
            file,
        })
    }

    async fn read<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> StoreResult<R> + Send + 'static,
    ) -> StoreResult<R> {
        self.readers.run(f).await
    }

    async fn write<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection, &IdGenerator) -> StoreResult<R> + Send + 'static,
    ) -> StoreResult<R> {
        self.file.check()?;
        let ids = Arc::clone(&self.ids);
        self.writer.run(move |c| f(c, &ids)).await
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn health(&self) -> StoreResult<()> {
        self.file.check()?;
        self.file.space()?;
        self.admin_token_hash().await.map(drop)
    }

    async fn secret_get_or_init(&self, name: &str, init: Vec<u8>) -> StoreResult<Vec<u8>> {
        let name = name.to_owned();
        self.write(move |c, _| settings::get_or_init(c, &name, &init)).await
    }

    async fn admin_token_hash(&self) -> StoreResult<Option<TokenHash>> {
        self.read(|c| settings::get(c, settings::ADMIN_TOKEN).map(|v| v.and_then(|b| TokenHash::from_slice(&b)))).await
    }

    async fn admin_token_init(&self, hash: TokenHash) -> StoreResult<bool> {
        self.write(move |c, _| settings::insert_if_absent(c, settings::ADMIN_TOKEN, &hash.0)).await
    }

    async fn admin_token_set(&self, hash: TokenHash) -> StoreResult<()> {
        self.write(move |c, _| settings::set(c, settings::ADMIN_TOKEN, &hash.0)).await
    }

    async fn id_node_acquire(&self, holder: &str, now: u64, until: u64) -> StoreResult<IdNodeLease> {
        let holder = holder.to_owned();
        self.write(move |c, _| id_nodes::acquire(c, &holder, now, until)).await
    }

    async fn id_node_renew(&self, node: u16, holder: &str, high_ms: u64, until: u64) -> StoreResult<bool> {
        let holder = holder.to_owned();
        self.write(move |c, _| id_nodes::renew(c, node, &holder, high_ms, until)).await
    }

    async fn id_node_release(&self, node: u16, holder: &str, high_ms: u64) -> StoreResult<()> {
        let holder = holder.to_owned();
        self.write(move |c, _| id_nodes::release(c, node, &holder, high_ms)).await
    }
}

#[async_trait]
impl ForumStore for SqliteStore {
    async fn forum_create(&self, forum: NewForum, now: UnixMs) -> StoreResult<Forum> {
        self.write(move |c, ids| forums::create(c, ids, forum, now)).await
    }

    async fn forum_by_shortname(&self, shortname: &str) -> StoreResult<Forum> {
        let s = shortname.to_owned();
        self.read(move |c| forums::by_shortname(c, &s)).await
    }

    async fn forum_get(&self, id: Id) -> StoreResult<Forum> {
        self.read(move |c| forums::get(c, id)).await
    }

    async fn forum_list(&self) -> StoreResult<Vec<Forum>> {
        self.read(forums::list).await
    }

    async fn forum_keys(&self, forum: Id) -> StoreResult<ForumKeys> {
        self.read(move |c| forums::keys(c, forum)).await
    }

    async fn forum_delete_begin(&self, forum: Id, now: UnixMs) -> StoreResult<Id> {
        self.write(move |c, ids| purge::begin(c, ids, forum, now)).await
    }

    async fn forum_purge(&self, forum: Id, keep: Id, threads: u32, finish: bool) -> StoreResult<PurgeStep> {
        self.write(move |c, _| purge::step(c, forum, keep, threads, finish)).await
    }

    async fn forum_keys_rotate(&self, forum: Id, keys: ForumKeys) -> StoreResult<ForumKeys> {
        self.write(move |c, _| forums::rotate_keys(c, forum, keys)).await
    }

    async fn forum_update(&self, forum: Id, update: ForumUpdate) -> StoreResult<Forum> {
        self.write(move |c, _| forums::update(c, forum, update)).await
    }
}

#[async_trait]
impl PostStore for SqliteStore {
    async fn authors_get_many(&self, ids: &[Id]) -> StoreResult<Vec<Author>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids = ids.to_vec();
        self.read(move |c| posts::authors_get_many(c, &ids)).await
    }

    async fn thread_get(&self, id: Id) -> StoreResult<Thread> {
        self.read(move |c| threads::get(c, id)).await
    }

    async fn thread_find(&self, forum: &Forum, key: &ThreadKey) -> StoreResult<Option<Thread>> {
        let (forum_id, key) = (forum.id, key.clone());
        self.read(move |c| threads::find(c, forum_id, &key)).await
    }

    async fn thread_create(&self, forum: &Forum, spec: ThreadSpec, now: UnixMs) -> StoreResult<Thread> {
        let forum = forum.clone();
        self.write(move |c, ids| threads::create_with_event(c, ids, &forum, &spec, now)).await
    }

    async fn thread_set_closed(&self, id: Id, closed: bool) -> StoreResult<Thread> {
        self.write(move |c, _| threads::set_closed(c, id, closed)).await
    }

    async fn thread_correct(&self, id: Id, url: Option<WebUrl>, title: Option<Title>) -> StoreResult<Thread> {
        self.write(move |c, _| {
            threads::correct(c, id, url.as_ref().map(WebUrl::as_str), title.as_ref().map(Title::as_str))
        })
        .await
    }

    async fn thread_counts(&self, forum: &Forum, keys: &[ThreadKey]) -> StoreResult<Vec<ThreadCount>> {
        let (forum_id, keys) = (forum.id, keys.to_vec());
        self.read(move |c| threads::counts(c, forum_id, &keys)).await
    }

    async fn post_create(
        &self,
        forum: &Forum,
        post: NewPost,
        edit_token: TokenHash,
        now: UnixMs,
    ) -> StoreResult<CreatedPost> {
        let forum = forum.clone();
        self.write(move |c, ids| posts::create(c, ids, &forum, post, edit_token, now)).await
    }

    async fn thread_import(
        &self,
        forum: &Forum,
        thread: ThreadSpec,
        batch: Vec<ImportPost>,
        now: UnixMs,
    ) -> StoreResult<ImportedThread> {
        let forum = forum.clone();
        self.write(move |c, ids| posts::import(c, ids, &forum, thread, batch, now)).await
    }

    async fn post_get(&self, id: Id) -> StoreResult<Post> {
        self.read(move |c| posts::get(c, id)).await
    }

    async fn post_for_edit(&self, id: Id) -> StoreResult<(Post, Option<TokenHash>)> {
        self.read(move |c| posts::for_edit(c, id)).await
    }

    async fn post_edit(
        &self,
        id: Id,
        message: Message,
        html: String,
        hold: Option<String>,
        now: UnixMs,
    ) -> StoreResult<Post> {
        self.write(move |c, ids| posts::edit(c, ids, id, &message, &html, hold.as_deref(), now)).await
    }

    async fn post_delete(&self, id: Id, now: UnixMs) -> StoreResult<DeletedPost> {
        self.write(move |c, ids| posts::delete(c, ids, id, now)).await
    }

    async fn thread_roots(
        &self,
        thread: Id,
        sort: Sort,
        after: Option<RootCursor>,
        limits: PageLimits,
    ) -> StoreResult<RootsPage> {
        self.read(move |c| posts::roots_page(c, thread, sort, after, limits)).await
    }

    async fn post_replies(&self, node: &Post, after: Option<ReplyCursor>, limit: u32) -> StoreResult<RepliesPage> {
        let node = node.clone();
        self.read(move |c| posts::replies_page(c, &node, after, limit)).await
    }

    async fn vote_set(&self, post: Id, voter: TokenHash, value: VoteValue, now: UnixMs) -> StoreResult<VoteOutcome> {
        self.write(move |c, _| votes::set(c, post, voter, value, now)).await
    }
}

#[async_trait]
impl AccountStore for SqliteStore {
    async fn account_create(&self, new: NewAccount, now: UnixMs) -> StoreResult<Account> {
        self.write(move |c, ids| accounts::create(c, ids, new, now)).await
    }

    async fn account_get(&self, id: Id) -> StoreResult<Account> {
        self.read(move |c| accounts::get(c, id)).await
    }

    async fn account_for_login(&self, login_key: &str) -> StoreResult<Option<(Account, String)>> {
        let key = login_key.to_owned();
        self.read(move |c| accounts::for_login(c, &key)).await
    }

    async fn account_by_email(&self, email: &Email) -> StoreResult<Option<Account>> {
        let email = email.clone();
        self.read(move |c| accounts::by_email(c, &email)).await
    }

    async fn link_create(
        &self,
        token: TokenHash,
        account: Id,
        purpose: LinkPurpose,
        email: &Email,
        now: UnixMs,
        expires_at: UnixMs,
    ) -> StoreResult<()> {
        let email = email.clone();
        self.write(move |c, _| accounts::link_create(c, token, account, purpose, &email, now, expires_at)).await
    }

    async fn account_verify_email(&self, token: TokenHash, now: UnixMs) -> StoreResult<Account> {
        self.write(move |c, _| accounts::verify_email(c, token, now)).await
    }

    async fn account_reset_password(
        &self,
        token: TokenHash,
        password_hash: String,
        now: UnixMs,
    ) -> StoreResult<Account> {
        self.write(move |c, _| accounts::reset_password(c, token, password_hash, now)).await
    }

    async fn session_create(
        &self,
        account: Id,
        token: TokenHash,
        now: UnixMs,
        expires_at: UnixMs,
        forum: Option<Id>,
    ) -> StoreResult<Session> {
        self.write(move |c, ids| accounts::session_create(c, ids, account, token, now, expires_at, forum)).await
    }

    async fn session_lookup(&self, token: TokenHash, now: UnixMs) -> StoreResult<Option<(Session, Account)>> {
        self.read(move |c| accounts::session_lookup(c, token, now)).await
    }

    async fn session_list(&self, account: Id, now: UnixMs) -> StoreResult<Vec<Session>> {
        self.read(move |c| accounts::session_list(c, account, now)).await
    }

    async fn session_revoke(&self, account: Id, session: Id) -> StoreResult<()> {
        self.write(move |c, _| accounts::session_revoke(c, account, session)).await
    }

    async fn account_by_username(&self, username: &Username) -> StoreResult<Option<Account>> {
        let username = username.clone();
        self.read(move |c| accounts::by_username(c, &username)).await
    }

    async fn account_set_admin(&self, account: Id, admin: bool) -> StoreResult<Account> {
        self.write(move |c, _| accounts::set_admin(c, account, admin)).await
    }

    async fn account_data(&self, account: Id, voter: TokenHash) -> StoreResult<AccountData> {
        self.read(move |c| accounts::data(c, account, voter)).await
    }

    async fn account_delete(&self, account: Id, now: UnixMs) -> StoreResult<AccountDeleted> {
        self.write(move |c, ids| accounts::delete(c, ids, account, now)).await
    }
}

#[async_trait]
impl RoleStore for SqliteStore {
    async fn role_get(&self, forum: Id, account: Id) -> StoreResult<Option<Role>> {
        self.read(move |c| accounts::role_get(c, forum, account)).await
    }

    async fn roles_of(&self, account: Id) -> StoreResult<Vec<(Id, Role)>> {
        self.read(move |c| accounts::roles_of(c, account)).await
    }

    async fn roles_list(&self, forum: Id) -> StoreResult<Vec<(Account, Role)>> {
        self.read(move |c| accounts::roles_list(c, forum)).await
    }

    async fn role_set(&self, forum: Id, account: Id, role: Option<Role>, now: UnixMs) -> StoreResult<()> {
        self.write(move |c, _| accounts::role_set(c, forum, account, role, now)).await
    }
}

#[async_trait]
impl OutboxStore for SqliteStore {
    async fn jobs_claim(&self, now: UnixMs, lease_until: UnixMs, limit: u32) -> StoreResult<Vec<Job>> {
        self.write(move |c, _| outbox::claim(c, now, lease_until, limit)).await
    }

    async fn job_settle(&self, id: Id, attempt: u32, outcome: JobOutcome, now: UnixMs) -> StoreResult<bool> {
        self.write(move |c, ids| outbox::settle(c, ids, id, attempt, outcome, now)).await
    }

    async fn job_release(&self, id: Id, attempt: u32, run_at: UnixMs, now: UnixMs) -> StoreResult<bool> {
        self.write(move |c, _| outbox::release(c, id, attempt, run_at, now)).await
    }

    async fn job_get(&self, id: Id) -> StoreResult<Job> {
        self.read(move |c| outbox::get(c, id)).await
    }

    async fn jobs_list(&self, filter: JobFilter) -> StoreResult<Vec<Job>> {
        self.read(move |c| outbox::list(c, filter)).await
    }

    async fn job_counts(&self) -> StoreResult<Vec<(JobState, u64)>> {
        self.read(|c| outbox::counts(c)).await
    }

    async fn job_retry(&self, id: Id, now: UnixMs) -> StoreResult<Job> {
        self.write(move |c, _| outbox::retry(c, id, now)).await
    }

    async fn job_discard(&self, id: Id) -> StoreResult<()> {
        self.write(move |c, _| outbox::discard(c, id)).await
    }

    async fn jobs_prune(&self, before: UnixMs) -> StoreResult<u64> {
        self.write(move |c, _| outbox::prune(c, before)).await
    }

    async fn webhook_attempts_prune(&self, before: UnixMs) -> StoreResult<u64> {
        self.write(move |c, _| outbox::attempts_prune(c, before)).await
    }
}

#[async_trait]
impl WebhookStore for SqliteStore {
    async fn webhook_create(&self, forum: Id, new: NewWebhook, now: UnixMs) -> StoreResult<Webhook> {
        self.write(move |c, ids| outbox::webhook_create(c, ids, forum, new, now)).await
    }

    async fn webhooks_list(&self, forum: Id) -> StoreResult<Vec<Webhook>> {
        self.read(move |c| outbox::webhooks_list(c, forum)).await
    }

    async fn webhook_get(&self, id: Id) -> StoreResult<Webhook> {
        self.read(move |c| outbox::webhook_get(c, id)).await
    }

    async fn webhook_delete(&self, forum: Id, id: Id) -> StoreResult<()> {
        self.write(move |c, _| outbox::webhook_delete(c, forum, id)).await
    }

    async fn webhook_attempt_log(&self, attempt: WebhookAttempt) -> StoreResult<()> {
        self.write(move |c, _| outbox::attempt_log(c, attempt)).await
    }

    async fn webhook_attempts(&self, webhook: Id, before: Option<i64>, limit: u32) -> StoreResult<Vec<WebhookAttempt>> {
        self.read(move |c| outbox::attempts(c, webhook, before, limit)).await
    }
}

#[async_trait]
impl NotifyStore for SqliteStore {
    async fn subscription_add(&self, thread: &Thread, email: &Email, now: UnixMs) -> StoreResult<bool> {
        let (thread, email) = (thread.clone(), email.clone());
        self.write(move |c, _| notify::subscription_add(c, &thread, &email, now)).await
    }

    async fn subscription_remove(&self, thread: Id, email: &Email) -> StoreResult<bool> {
        let email = email.clone();
        self.write(move |c, _| notify::subscription_remove(c, thread, &email)).await
    }

    async fn subscription_exists(&self, thread: Id, email: &Email) -> StoreResult<bool> {
        let email = email.clone();
        self.read(move |c| notify::subscription_exists(c, thread, &email)).await
    }

    async fn subscribers(&self, thread: Id) -> StoreResult<Vec<Email>> {
        self.read(move |c| notify::subscribers(c, thread)).await
    }

    async fn reply_recipient(&self, post: Id) -> StoreResult<Option<Email>> {
        self.read(move |c| notify::reply_recipient(c, post)).await
    }

    async fn moderator_emails(&self, forum: Id) -> StoreResult<Vec<Email>> {
        self.read(move |c| notify::moderator_emails(c, forum)).await
    }

    async fn mute(&self, email: &Email, thread: Option<Id>, now: UnixMs) -> StoreResult<()> {
        let email = email.clone();
        self.write(move |c, _| notify::mute(c, &email, thread, now)).await
    }

    async fn is_muted(&self, email: &Email, thread: Id) -> StoreResult<bool> {
        let email = email.clone();
        self.read(move |c| notify::is_muted(c, &email, thread)).await
    }

    async fn notify_gate(
        &self,
        email: &Email,
        thread: Id,
        post: Id,
        now: UnixMs,
        interval_ms: i64,
    ) -> StoreResult<NotifyGate> {
        let email = email.clone();
        self.write(move |c, _| notify::gate(c, &email, thread, post, now, interval_ms)).await
    }

    async fn notify_release(&self, email: &Email, thread: Id, post: Id, sent_at: UnixMs) -> StoreResult<bool> {
        let email = email.clone();
        self.write(move |c, _| notify::release(c, &email, thread, post, sent_at)).await
    }

    async fn digest_waiting(&self, email: &Email, thread: Id) -> StoreResult<Vec<Id>> {
        let email = email.clone();
        self.read(move |c| notify::digest_waiting(c, &email, thread)).await
    }

    async fn digest_sent(
        &self,
        email: &Email,
        thread: Id,
        posts: &[Id],
        now: UnixMs,
        next_due: UnixMs,
    ) -> StoreResult<bool> {
        let (email, posts) = (email.clone(), posts.to_vec());
        self.write(move |c, _| notify::digest_sent(c, &email, thread, &posts, now, next_due)).await
    }
}

#[async_trait]
impl ModerationStore for SqliteStore {
    async fn post_set_state(
        &self,
        id: Id,
        state: PostState,
        by: confab_core::model::Moderator,
        reason: Option<String>,
        now: UnixMs,
    ) -> StoreResult<StateChange> {
        self.write(move |c, ids| spam::set_state(c, ids, id, state, by, reason.as_deref(), now)).await
    }

    async fn moderation_queue(&self, forum: Id, search: &confab_store::PostSearch) -> StoreResult<Vec<Post>> {
        let search = search.clone();
        self.read(move |c| moderation::search(c, forum, &search)).await
    }

    async fn queue_sizes(&self, forum: Id) -> StoreResult<confab_store::QueueSizes> {
        self.read(move |c| moderation::sizes(c, forum)).await
    }

    async fn posts_per_day(&self, forum: Id, since: UnixMs) -> StoreResult<Vec<(UnixMs, u64, u64)>> {
        self.read(move |c| moderation::per_day(c, forum, since)).await
    }

    async fn flag_add(
        &self,
        post: Id,
        voter: TokenHash,
        flag: confab_core::model::Flag,
        threshold: u32,
        now: UnixMs,
    ) -> StoreResult<confab_store::FlagOutcome> {
        self.write(move |c, ids| moderation::flag_add(c, ids, post, voter, flag, threshold, now)).await
    }

    async fn flags_of(&self, post: Id) -> StoreResult<Vec<confab_core::model::Flag>> {
        self.read(move |c| moderation::flags_of(c, post)).await
    }

    async fn post_set_highlighted(&self, post: Id, on: bool, now: UnixMs) -> StoreResult<Post> {
        self.write(move |c, ids| moderation::set_highlighted(c, ids, post, on, now)).await
    }

    async fn thread_set_pinned(&self, thread: Id, post: Option<Id>) -> StoreResult<Thread> {
        self.write(move |c, _| moderation::set_pinned(c, thread, post)).await
    }

    async fn own_hidden_posts(
        &self,
        thread: Id,
        account: Option<Id>,
        sso: Option<(Id, String)>,
    ) -> StoreResult<Vec<Post>> {
        self.read(move |c| moderation::own_hidden(c, thread, account, sso)).await
    }

    async fn hidden_posts_among(&self, thread: Id, ids: &[Id]) -> StoreResult<Vec<(Post, Option<TokenHash>)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<Id> = ids.iter().copied().take(confab_store::MAX_OWN_POSTS).collect();
        self.read(move |c| moderation::hidden_among(c, thread, &ids)).await
    }

    async fn moderation_log(&self, post: Id) -> StoreResult<Vec<confab_core::model::ModerationEntry>> {
        self.read(move |c| spam::history(c, post)).await
    }
}

#[async_trait]
impl SpamStore for SqliteStore {
    async fn post_screened(
        &self,
        id: Id,
        queued: PostState,
        state: PostState,
        reason: Option<String>,
        now: UnixMs,
    ) -> StoreResult<Option<StateChange>> {
        self.write(move |c, ids| spam::screened(c, ids, id, queued, state, reason.as_deref(), now)).await
    }

    async fn spam_context(
        &self,
        post: &Post,
        now: UnixMs,
        duplicate_window_ms: i64,
        recent_window_ms: i64,
    ) -> StoreResult<SpamContext> {
        let post = post.clone();
        self.read(move |c| spam::context(c, &post, now, duplicate_window_ms, recent_window_ms)).await
    }

    async fn spam_model(&self, forum: Id, tokens: &[String]) -> StoreResult<confab_core::spam::Model> {
        let tokens = tokens.to_vec();
        self.read(move |c| spam::model(c, forum, &tokens)).await
    }

    async fn spam_learn(&self, forum: Id, tokens: &[String], is_spam: bool) -> StoreResult<()> {
        let tokens = tokens.to_vec();
        self.write(move |c, _| spam::learn(c, forum, &tokens, is_spam)).await
    }

    async fn spam_verdict_set(&self, post: Id, record: SpamRecord) -> StoreResult<()> {
        self.write(move |c, _| spam::verdict_set(c, post, record)).await
    }

    async fn spam_verdict(&self, post: Id) -> StoreResult<Option<SpamRecord>> {
        self.read(move |c| spam::verdict(c, post)).await
    }

    async fn spam_verdicts(&self, _forum: Id, posts: &[Id]) -> StoreResult<Vec<(Id, SpamRecord)>> {
        let posts = posts.to_vec();
        self.read(move |c| spam::verdicts(c, &posts)).await
    }
}

#[async_trait]
impl BanStore for SqliteStore {
    async fn ban_create(
        &self,
        forum: Id,
        ban: confab_core::model::NewBan,
        now: UnixMs,
    ) -> StoreResult<confab_core::model::Ban> {
        self.write(move |c, ids| bans::create(c, ids, forum, ban, now)).await
    }

    async fn bans_list(&self, forum: Id, now: UnixMs) -> StoreResult<Vec<confab_core::model::Ban>> {
        self.read(move |c| bans::list(c, forum, now)).await
    }

    async fn ban_delete(&self, forum: Id, id: Id) -> StoreResult<()> {
        self.write(move |c, _| bans::delete(c, forum, id)).await
    }

    async fn bans_matching(
        &self,
        forum: Id,
        probe: &confab_core::model::BanProbe,
        now: UnixMs,
    ) -> StoreResult<Vec<confab_core::model::Ban>> {
        let probe = probe.clone();
        self.read(move |c| bans::matching(c, forum, &probe, now)).await
    }
}

#[async_trait]
impl LiveStore for SqliteStore {
    async fn live_table(&self) -> StoreResult<LiveTable> {
        self.read(|c| live::table(c)).await
    }

    async fn live_seq(&self) -> StoreResult<u64> {
        self.read(|c| live::seq(c)).await
    }

    async fn live_put(
        &self,
        kind: LiveKind,
        key: &str,
        value: Option<String>,
        by: &str,
        at: UnixMs,
    ) -> StoreResult<Option<LiveChange>> {
        let (key, by) = (key.to_owned(), by.to_owned());
        self.write(move |c, _| live::put(c, kind, &key, value.as_deref(), &by, at)).await
    }

    async fn live_log(&self, kind: LiveKind, key: Option<&str>, limit: u32) -> StoreResult<Vec<LiveChange>> {
        let key = key.map(str::to_owned);
        self.read(move |c| live::log(c, kind, key.as_deref(), limit)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_valid() {
        MIGRATIONS.validate().expect("migrations apply to an empty database");
    }

    #[test]
    fn forums_from_before_keys_get_a_key_pair_on_upgrade() {
        let mut c = Connection::open_in_memory().unwrap();
        MIGRATIONS.to_version(&mut c, 2).unwrap();
        c.execute(
            "INSERT INTO forums (id, shortname, name, origins, policy, shard, created_at) \
             VALUES (7, 'old', 'Old', '[]', '{}', 1, 5), (8, 'older', 'Older', '[]', '{}', 2, 6)",
            [],
        )
        .unwrap();
        MIGRATIONS.to_latest(&mut c).unwrap();
        let keys: Vec<(i64, String, String, i64)> = c
            .prepare("SELECT forum_id, public_key, secret_key, rotated_at FROM forum_keys ORDER BY forum_id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!((keys[0].0, keys[0].3), (7, 5));
        assert!(keys[0].1.starts_with("pk_") && keys[0].1.len() == 35, "{:?}", keys[0]);
        assert!(keys[0].2.starts_with("sk_") && keys[0].2.len() == 67);
        assert_ne!(keys[0].2, keys[1].2, "each forum its own secret");
    }
}
