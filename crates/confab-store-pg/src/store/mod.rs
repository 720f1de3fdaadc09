//! [`PgStore`]: the [`Store`] on the distributed topology.
//!
//! Routing: global data on the global database; a forum's data on the cluster its
//! logical shard is placed on — found from the forum, or from any id (ids carry their
//! logical shard). Writes and transactions go to primaries. Reads go to the primary,
//! or, inside a [`confab_store::consistency::ReadScope`], to a replica that has replayed the
//! scope's own writes (read-your-writes). Joins between global and shard data happen
//! here, in the application, never across databases in SQL.
//!
//! A post is written in one shard transaction; its guest or SSO author row lives in the
//! global database and is upserted (idempotently, keyed) just before that transaction
//! commits, so a failed post can leave at most an unused author row, never a post
//! without its author.

mod global;
mod jobs;
mod listen;
mod moderation;
mod notify;
mod placing;
mod rows;
mod shard;

pub use placing::{PinError, PinReport};

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use confab_core::cursor::{ReplyCursor, RootCursor};
use confab_core::id::{Id, IdGenerator, LogicalShard};
use confab_core::input::{DisplayName, Email, Message, Title, Username, WebUrl};
use confab_core::jobs::{EventKind, JobState};
use confab_core::keys::guest_key;
use confab_core::model::{
    Account, AccountDeletion, Author, Forum, ForumKeys, ForumUpdate, GuestAuthor, LinkPurpose, NewAccount, NewForum,
    NewPost, Post, PostAuthor, PostState, Role, Session, Sort, Thread, ThreadKey, ThreadSpec, UnixMs, VoteValue,
};
use confab_core::secret::TokenHash;
use confab_store::id_nodes::IdNodeLease;
use confab_store::prelude::*;
use confab_store::{
    AccountData, AccountDeleted, CreatedPost, DeletedPost, ExportedPost, ImportPost, ImportedThread, Job, JobFilter,
    JobOutcome, LiveChange, LiveKind, LiveTable, NewWebhook, NotifyGate, PageLimits, PurgeStep, RepliesPage, RootsPage,
    SpamContext, SpamRecord, StateChange, Store, StoreError, StoreResult, ThreadCount, VoteOutcome, Webhook,
    WebhookAttempt,
};
use deadpool_postgres::Object;

use crate::pool::{Cluster, Lsn, Topology, write_position};
use crate::sql::{begin, commit};

/// Runs `$body` with `$c` a primary connection of `$cluster` and `$ids` the id
/// generator; after a success, records the write for the read scope.
macro_rules! write_on {
    ($self:ident, $cluster:expr, |$c:ident, $ids:ident| $body:expr) => {{
        let cluster: &$crate::pool::Cluster = $cluster;
        let mut conn = cluster.primary().await?;
        #[allow(unused_variables)]
        let $ids: &confab_core::id::IdGenerator = &$self.ids;
        // A primary that holds its connections open and never answers (frozen, or cut
        // off without a reset) cannot enforce its own statement timeout: the client's
        // deadline bounds the write, and the connection is dropped, not pooled again.
        let done = tokio::time::timeout($self.t.write_deadline(), async {
            let r = {
                #[allow(unused_variables)]
                let $c: &mut tokio_postgres::Client = &mut conn;
                $body
            };
            if r.is_ok() {
                $self.wrote(cluster, &conn).await?;
            }
            r
        })
        .await;
        match done {
            Ok(r) => r,
            Err(_) => Err($crate::store::timed_out(cluster, conn, $self.t.write_deadline())),
        }
    }};
}

// After `write_on!`, which it uses.
mod purge;
pub use purge::tables as purged_tables;

/// A write that ran out of time: its connection is closed (its state is unknown) and
/// the request answers 503.
fn timed_out(cluster: &Cluster, conn: Object, after: std::time::Duration) -> StoreError {
    drop(Object::take(conn));
    tracing::warn!(cluster = %cluster.name, ms = after.as_millis() as u64, "a write got no answer in time");
    StoreError::Unavailable(format!("{}/primary: no answer within {} ms", cluster.name, after.as_millis()))
}

pub struct PgStore {
    t: Arc<Topology>,
    ids: Arc<IdGenerator>,
    next_cluster: AtomicUsize,
}

impl PgStore {
    /// A store over a migrated topology (see [`crate::migrate::migrate_all`]); loads
    /// the shard map and starts the health watcher.
    pub async fn open(t: Arc<Topology>, ids: Arc<IdGenerator>) -> StoreResult<PgStore> {
        t.load_map().await?;
        t.watch_health();
        listen::follow_placement(&t);
        Ok(PgStore { t, ids, next_cluster: AtomicUsize::new(0) })
    }

    pub fn topology(&self) -> &Arc<Topology> {
        &self.t
    }

    async fn cluster(&self, shard: LogicalShard) -> StoreResult<&Cluster> {
        self.t.cluster_of_shard(shard).await
    }

    /// A connection for reads on `cluster`: see [`confab_store::consistency`].
    async fn reader(&self, cluster: &Cluster) -> StoreResult<Object> {
        match confab_store::consistency::current() {
            Some(scope) if scope.replicas_allowed() => {
                Ok(cluster.reader_after(scope.position(&cluster.name).map(Lsn)).await?.0)
            }
            Some(_) => cluster.primary().await,
            None => cluster.primary().await,
        }
    }

    /// Records, for the scope's later reads, that `c` (a primary of `cluster`) wrote.
    async fn wrote(&self, cluster: &Cluster, c: &Object) -> StoreResult<()> {
        if let Some(scope) = confab_store::consistency::current()
            && !cluster.replicas.is_empty()
        {
            scope.wrote(&cluster.name, write_position(c).await?.0);
        }
        Ok(())
    }

    async fn global_read(&self) -> StoreResult<Object> {
        self.reader(&self.t.global).await
    }

    async fn shard_read(&self, shard: LogicalShard) -> StoreResult<Object> {
        let cluster = self.cluster(shard).await?;
        self.reader(cluster).await
    }

    /// Every forum-shard cluster, starting at a different one each call (so that
    /// claims spread over the shards).
    fn clusters_rotated(&self) -> Vec<&Cluster> {
        let all: Vec<&Cluster> = self.t.clusters.values().collect();
        let start = self.next_cluster.fetch_add(1, Ordering::Relaxed) % all.len().max(1);
        all[start..].iter().chain(all[..start].iter()).copied().collect()
    }

    async fn author_for(&self, forum: &Forum, who: PostAuthor, now: UnixMs) -> StoreResult<Author> {
        let g = self.t.global.primary().await?;
        let author = match who {
            PostAuthor::Guest(guest) => global::upsert_guest(&**g, &self.ids, guest, now).await?,
            PostAuthor::Account(account) => global::account_author(&**g, account).await?,
            PostAuthor::Sso(user) => global::upsert_sso(&**g, &self.ids, forum.id, user, now).await?,
        };
        self.wrote(&self.t.global, &g).await?;
        Ok(author)
    }
}

#[async_trait]
impl Store for PgStore {
    fn has_replicas(&self) -> bool {
        self.t.clusters.values().chain(std::iter::once(&self.t.global)).any(|c| !c.replicas.is_empty())
    }

    async fn secret_get_or_init(&self, name: &str, init: Vec<u8>) -> StoreResult<Vec<u8>> {
        write_on!(self, &self.t.global, |c, _ids| {
            global::setting_insert(&*c, name, &init).await?;
            Ok(global::setting(&*c, name).await?.unwrap_or(init))
        })
    }

    async fn admin_token_hash(&self) -> StoreResult<Option<TokenHash>> {
        let c = self.global_read().await?;
        Ok(global::setting(&**c, global::ADMIN_TOKEN).await?.and_then(|b| TokenHash::from_slice(&b)))
    }

    async fn admin_token_init(&self, hash: TokenHash) -> StoreResult<bool> {
        write_on!(self, &self.t.global, |c, _ids| global::setting_insert(&*c, global::ADMIN_TOKEN, &hash.0).await)
    }

    async fn admin_token_set(&self, hash: TokenHash) -> StoreResult<()> {
        write_on!(self, &self.t.global, |c, _ids| global::setting_set(&*c, global::ADMIN_TOKEN, &hash.0).await)
    }

    async fn id_node_acquire(&self, holder: &str, now: u64, until: u64) -> StoreResult<IdNodeLease> {
        write_on!(self, &self.t.global, |c, _ids| global::id_node_acquire(&*c, holder, now, until).await)
    }

    async fn id_node_renew(&self, node: u16, holder: &str, high_ms: u64, until: u64) -> StoreResult<bool> {
        write_on!(self, &self.t.global, |c, _ids| global::id_node_renew(&*c, node, holder, high_ms, until).await)
    }

    async fn id_node_release(&self, node: u16, holder: &str, high_ms: u64) -> StoreResult<()> {
        write_on!(self, &self.t.global, |c, _ids| global::id_node_release(&*c, node, holder, high_ms).await)
    }
}

#[async_trait]
impl LiveStore for PgStore {
    async fn live_table(&self) -> StoreResult<LiveTable> {
        global::live_table(&**self.global_read().await?).await
    }

    async fn live_seq(&self) -> StoreResult<u64> {
        global::live_seq(&**self.global_read().await?).await
    }

    async fn live_put(
        &self,
        kind: LiveKind,
        key: &str,
        value: Option<String>,
        by: &str,
        at: UnixMs,
    ) -> StoreResult<Option<LiveChange>> {
        write_on!(self, &self.t.global, |c, _ids| global::live_put(c, kind, key, value, by, at).await)
    }

    async fn live_log(&self, kind: LiveKind, key: Option<&str>, limit: u32) -> StoreResult<Vec<LiveChange>> {
        global::live_log(&**self.global_read().await?, kind, key, limit).await
    }
}

#[async_trait]
impl ForumStore for PgStore {
    async fn forum_create(&self, forum: NewForum, now: UnixMs) -> StoreResult<Forum> {
        let placement = placing::Placement { t: &self.t, pin: None };
        write_on!(self, &self.t.global, |c, ids| global::forum_create(c, ids, forum, now, placement).await)
    }

    async fn forum_by_shortname(&self, shortname: &str) -> StoreResult<Forum> {
        global::forum_by_shortname(&**self.global_read().await?, shortname).await
    }

    async fn forum_get(&self, id: Id) -> StoreResult<Forum> {
        global::forum_get(&**self.global_read().await?, id).await
    }

    async fn forum_list(&self) -> StoreResult<Vec<Forum>> {
        global::forum_list(&**self.global_read().await?).await
    }

    async fn forum_keys(&self, forum: Id) -> StoreResult<ForumKeys> {
        global::forum_keys(&**self.global_read().await?, forum).await
    }

    async fn forum_delete_begin(&self, forum: Id, now: UnixMs) -> StoreResult<Id> {
        self.purge_begin(forum, now).await
    }

    async fn forum_purge(&self, forum: Id, keep: Id, threads: u32, finish: bool) -> StoreResult<PurgeStep> {
        self.purge_step(forum, keep, threads, finish).await
    }

    async fn forum_keys_rotate(&self, forum: Id, keys: ForumKeys) -> StoreResult<ForumKeys> {
        write_on!(self, &self.t.global, |c, _ids| global::forum_keys_rotate(c, forum, keys).await)
    }

    async fn forum_update(&self, forum: Id, update: ForumUpdate) -> StoreResult<Forum> {
        write_on!(self, &self.t.global, |c, _ids| global::forum_update(c, forum, update).await)
    }
}

#[async_trait]
impl PostStore for PgStore {
    async fn authors_get_many(&self, ids: &[Id]) -> StoreResult<Vec<Author>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        global::authors_get_many(&**self.global_read().await?, ids).await
    }

    async fn thread_get(&self, id: Id) -> StoreResult<Thread> {
        shard::thread_get(&**self.shard_read(id.shard()).await?, id).await
    }

    async fn thread_find(&self, forum: &Forum, key: &ThreadKey) -> StoreResult<Option<Thread>> {
        shard::thread_find(&**self.shard_read(forum.shard).await?, forum.id, key).await
    }

    async fn thread_create(&self, forum: &Forum, spec: ThreadSpec, now: UnixMs) -> StoreResult<Thread> {
        write_on!(self, self.cluster(forum.shard).await?, |c, ids| {
            let tx = begin(c).await?;
            let t = shard::thread_create(&tx, ids, forum, &spec, now).await?;
            commit(tx).await?;
            Ok(t)
        })
    }

    async fn thread_set_closed(&self, id: Id, closed: bool) -> StoreResult<Thread> {
        write_on!(self, self.cluster(id.shard()).await?, |c, _ids| shard::thread_set_closed(&*c, id, closed).await)
    }

    async fn thread_correct(&self, id: Id, url: Option<WebUrl>, title: Option<Title>) -> StoreResult<Thread> {
        let (url, title) = (url.as_ref().map(WebUrl::as_str), title.as_ref().map(Title::as_str));
        write_on!(self, self.cluster(id.shard()).await?, |c, _ids| shard::thread_correct(&*c, id, url, title).await)
    }

    async fn thread_counts(&self, forum: &Forum, keys: &[ThreadKey]) -> StoreResult<Vec<ThreadCount>> {
        shard::thread_counts(&**self.shard_read(forum.shard).await?, forum.id, keys).await
    }

    async fn post_create(
        &self,
        forum: &Forum,
        new: NewPost,
        edit_token: TokenHash,
        now: UnixMs,
    ) -> StoreResult<CreatedPost> {
        let parent = new.parent_id;
        // A mute of the thread (global) goes first: the author asked to follow it.
        if let Some(email) = &new.subscribe
            && let Some(thread) = self.thread_find(forum, &ThreadKey::Identifier(new.thread.identifier.clone())).await?
        {
            write_on!(self, &self.t.global, |c, _ids| global::unmute(&*c, email, thread.id).await)?;
        }
        let created: StoreResult<CreatedPost> = async {
            write_on!(self, self.cluster(forum.shard).await?, |c, ids| {
                let tx = begin(c).await?;
                let (mut thread, thread_created) = shard::thread_ensure(&tx, ids, forum, &new.thread, now).await?;
                if thread.closed || forum.policy.auto_closed(thread.created_at, now) {
                    return Err(StoreError::ThreadClosed);
                }
                let id = ids.next(forum.shard);
                let at = shard::place(&tx, id, &thread, new.parent_id, new.state).await?;
                // The author (global) once the post is known to be acceptable.
                let author = self.author_for(forum, new.author.clone(), now).await?;
                // "First posts wait", with the fact only the write knows.
                let has_approved = new.hold_first_post && shard::has_approved(&tx, forum.id, author.id).await?;
                let confab_core::admission::Settled { state, held, screen } = new.settled(has_approved);
                let post = shard::new_post(id, &thread, at, &author, &new, state, now);
                shard::post_insert(&tx, &post, &edit_token, &new).await?;
                if post.state == PostState::Approved {
                    thread = shard::thread_add_posts(&tx, thread.id, 1).await?;
                    shard::add_descendants(&tx, &confab_store::shape::ancestors(&post.path), 1).await?;
                }
                if let Some(why) = held.filter(|_| post.state == PostState::Pending) {
                    shard::log(
                        &tx,
                        ids,
                        &post,
                        PostState::Pending,
                        confab_core::model::Moderator::Rules,
                        Some(&why),
                        now,
                    )
                    .await?;
                }
                if thread_created {
                    shard::emit_thread(&tx, ids, forum.id, EventKind::ThreadCreated, thread.id, now).await?;
                }
                shard::emit_post(&tx, ids, EventKind::PostCreated, &post, now).await?;
                if let Some(mut order) = screen {
                    order.queued = Some(post.state);
                    let job = confab_store::NewJob {
                        forum_id: forum.id,
                        task: confab_core::jobs::Task::Screen { post: post.id, order },
                        run_at: now,
                    };
                    shard::enqueue(&tx, ids, &job, now).await?;
                }
                if let Some(email) = &new.subscribe {
                    notify::subscription_add(&tx, &thread, email, now).await?;
                }
                commit(tx).await?;
                Ok(CreatedPost { post, thread, author, thread_created })
            })
        }
        .await;
        // A parent on another shard is another forum's post, if it exists at all: the
        // same answer as the embedded store gives.
        match (created, parent) {
            (Err(StoreError::ParentNotFound), Some(p)) if p.shard() != forum.shard => match self.post_get(p).await {
                Ok(_) => Err(StoreError::ParentNotInThread),
                Err(StoreError::PostNotFound) => Err(StoreError::ParentNotFound),
                Err(e) => Err(e),
            },
            (created, _) => created,
        }
    }

    async fn post_get(&self, id: Id) -> StoreResult<Post> {
        shard::post_get(&**self.shard_read(id.shard()).await?, id).await
    }

    async fn post_for_edit(&self, id: Id) -> StoreResult<(Post, Option<TokenHash>)> {
        shard::post_for_edit(&**self.shard_read(id.shard()).await?, id).await
    }

    async fn post_edit(
        &self,
        id: Id,
        message: Message,
        html: String,
        hold: Option<String>,
        now: UnixMs,
    ) -> StoreResult<Post> {
        write_on!(self, self.cluster(id.shard()).await?, |c, ids| {
            let tx = begin(c).await?;
            let mut p = shard::post_edit(&tx, ids, id, &message, &html, now).await?;
            if let Some(why) = hold.as_deref().filter(|_| p.state == PostState::Approved) {
                let by = confab_core::model::Moderator::Rules;
                p = moderation::set_state_in(&tx, ids, id, PostState::Pending, by, Some(why), now).await?.after;
            }
            commit(tx).await?;
            Ok(p)
        })
    }

    async fn post_delete(&self, id: Id, now: UnixMs) -> StoreResult<DeletedPost> {
        write_on!(self, self.cluster(id.shard()).await?, |c, ids| {
            let tx = begin(c).await?;
            let d = shard::post_delete_in(&tx, ids, id, now).await?;
            commit(tx).await?;
            Ok(d)
        })
    }

    async fn thread_import(
        &self,
        forum: &Forum,
        spec: ThreadSpec,
        batch: Vec<ImportPost>,
        now: UnixMs,
    ) -> StoreResult<ImportedThread> {
        // Shape first, so a bad batch is refused before anything is written.
        let depths = confab_store::shape::import_depths(&batch)?;
        // Guest authors, once per distinct identity, in one statement on the global
        // database.
        let mut distinct: Vec<GuestAuthor> = Vec::new();
        let mut seen: std::collections::HashSet<[u8; 32]> = std::collections::HashSet::new();
        for p in &batch {
            if seen.insert(guest_key(&p.author)) {
                distinct.push(p.author.clone());
            }
        }
        let by_key: HashMap<[u8; 32], Id> = {
            let g = self.t.global.primary().await?;
            global::upsert_guests(&**g, &self.ids, &distinct, now).await?.into_iter().collect()
        };
        let authors = batch
            .iter()
            .map(|p| by_key.get(&guest_key(&p.author)).copied())
            .collect::<Option<Vec<Id>>>()
            .ok_or_else(|| StoreError::Internal("a guest author was not written".into()))?;
        let approved = batch.iter().filter(|p| p.state == PostState::Approved).count() as i64;
        let post_ids: Vec<Id> = batch.iter().map(|_| self.ids.next(forum.shard)).collect();
        let layout = shard::ImportRows::build(&post_ids, &depths, &authors, batch);
        write_on!(self, self.cluster(forum.shard).await?, |c, ids| {
            let tx = begin(c).await?;
            let (thread, _) = shard::thread_ensure(&tx, ids, forum, &spec, now).await?;
            shard::posts_insert_many(&tx, forum.id, thread.id, &layout).await?;
            let thread = shard::thread_add_posts(&tx, thread.id, approved).await?;
            commit(tx).await?;
            Ok(ImportedThread { thread, post_ids })
        })
    }

    async fn thread_roots(
        &self,
        thread: Id,
        sort: Sort,
        after: Option<RootCursor>,
        limits: PageLimits,
    ) -> StoreResult<RootsPage> {
        shard::roots_page(&**self.shard_read(thread.shard()).await?, thread, sort, after, limits).await
    }

    async fn post_replies(&self, node: &Post, after: Option<ReplyCursor>, limit: u32) -> StoreResult<RepliesPage> {
        shard::replies_page(&**self.shard_read(node.id.shard()).await?, node, after, limit).await
    }

    async fn vote_set(&self, post: Id, voter: TokenHash, value: VoteValue, now: UnixMs) -> StoreResult<VoteOutcome> {
        write_on!(self, self.cluster(post.shard()).await?, |c, _ids| {
            let tx = begin(c).await?;
            let v = shard::vote_set(&tx, post, voter, value, now).await?;
            commit(tx).await?;
            Ok(v)
        })
    }
}

#[async_trait]
impl AccountStore for PgStore {
    async fn account_create(&self, new: NewAccount, now: UnixMs) -> StoreResult<Account> {
        write_on!(self, &self.t.global, |c, ids| global::account_create(c, ids, new, now).await)
    }

    async fn account_get(&self, id: Id) -> StoreResult<Account> {
        global::account_get(&**self.global_read().await?, id).await
    }

    async fn account_for_login(&self, login_key: &str) -> StoreResult<Option<(Account, String)>> {
        global::account_for_login(&**self.global_read().await?, login_key).await
    }

    async fn account_by_email(&self, email: &Email) -> StoreResult<Option<Account>> {
        global::account_by_email(&**self.global_read().await?, email).await
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
        write_on!(self, &self.t.global, |c, _ids| global::link_create(
            c, token, account, purpose, email, now, expires_at
        )
        .await)
    }

    async fn account_verify_email(&self, token: TokenHash, now: UnixMs) -> StoreResult<Account> {
        write_on!(self, &self.t.global, |c, _ids| global::verify_email(c, token, now).await)
    }

    async fn account_reset_password(
        &self,
        token: TokenHash,
        password_hash: String,
        now: UnixMs,
    ) -> StoreResult<Account> {
        write_on!(self, &self.t.global, |c, _ids| global::reset_password(c, token, password_hash, now).await)
    }

    async fn session_create(
        &self,
        account: Id,
        token: TokenHash,
        now: UnixMs,
        expires_at: UnixMs,
        forum: Option<Id>,
    ) -> StoreResult<Session> {
        write_on!(self, &self.t.global, |c, ids| global::session_create(c, ids, account, token, now, expires_at, forum)
            .await)
    }

    async fn session_lookup(&self, token: TokenHash, now: UnixMs) -> StoreResult<Option<(Session, Account)>> {
        global::session_lookup(&**self.global_read().await?, token, now).await
    }

    async fn session_list(&self, account: Id, now: UnixMs) -> StoreResult<Vec<Session>> {
        global::session_list(&**self.global_read().await?, account, now).await
    }

    async fn session_revoke(&self, account: Id, session: Id) -> StoreResult<()> {
        write_on!(self, &self.t.global, |c, _ids| global::session_revoke(&*c, account, session).await)
    }

    async fn account_by_username(&self, username: &Username) -> StoreResult<Option<Account>> {
        global::account_by_username(&**self.global_read().await?, username).await
    }

    async fn account_set_admin(&self, account: Id, admin: bool) -> StoreResult<Account> {
        write_on!(self, &self.t.global, |c, _ids| global::account_set_admin(&*c, account, admin).await)
    }

    async fn account_data(&self, account: Id, voter: TokenHash) -> StoreResult<AccountData> {
        let mut found = Vec::new();
        let mut votes = Vec::new();
        for cluster in self.t.clusters.values() {
            let c = self.reader(cluster).await?;
            found.extend(shard::posts_by_author(&**c, account).await?);
            votes.extend(shard::votes_by(&**c, &voter).await?);
        }
        let g = self.global_read().await?;
        let forum_ids: Vec<i64> = found.iter().map(|(_, _, p)| p.forum_id.as_i64()).collect();
        let names: HashMap<Id, String> = global::forums_by_id(&**g, forum_ids)
            .await?
            .into_iter()
            .map(|f| (f.id, f.shortname.as_str().to_owned()))
            .collect();
        let mut posts: Vec<ExportedPost> = found
            .into_iter()
            .map(|(identifier, url, post)| ExportedPost {
                forum: names.get(&post.forum_id).cloned().unwrap_or_default(),
                thread_identifier: identifier,
                thread_url: url,
                post,
            })
            .collect();
        posts.sort_by_key(|p| p.post.id);
        votes.sort_by_key(|v| v.2);
        let roles = global::roles_by_shortname(&**g, account).await?;
        Ok(AccountData { posts, roles, votes })
    }

    /// Not one transaction across databases: the global checks first, then each
    /// shard's posts in a transaction of its own, then the account. Every step can run
    /// again, so a deletion interrupted half-way finishes when retried.
    async fn account_delete(&self, account: Id, now: UnixMs) -> StoreResult<AccountDeleted> {
        let anonymous = {
            let g = self.t.global.primary().await?;
            global::account_get(&**g, account).await?;
            if global::sole_owned(&**g, account).await?.is_some() {
                return Err(StoreError::LastOwner);
            }
            let guest =
                GuestAuthor { name: DisplayName::from_trusted("Deleted account".into()), email: None, url: None };
            global::upsert_guest(&**g, &self.ids, guest, now).await?
        };
        let mut done = AccountDeleted::default();
        for cluster in self.t.clusters.values() {
            let mut c = cluster.primary().await?;
            let tx = begin(&mut c).await?;
            let posts = shard::posts_by_author(&tx, account).await?;
            if posts.is_empty() {
                continue;
            }
            let forum_ids: Vec<i64> = posts.iter().map(|(_, _, p)| p.forum_id.as_i64()).collect();
            let policies: HashMap<Id, confab_core::model::ForumPolicy> =
                global::forums_by_id(&**self.global_read().await?, forum_ids)
                    .await?
                    .into_iter()
                    .map(|f| (f.id, f.policy))
                    .collect();
            for (_, _, post) in posts {
                if !done.threads.contains(&post.thread_id) {
                    done.threads.push(post.thread_id);
                }
                let policy = policies.get(&post.forum_id).cloned().unwrap_or_default();
                match policy.on_account_delete {
                    AccountDeletion::Remove => {
                        shard::post_erase(&tx, &self.ids, post.id, now).await?;
                        done.posts_removed += 1;
                    }
                    AccountDeletion::Anonymize => {
                        let task = confab_core::jobs::Task::Event {
                            event: EventKind::PostUpdated,
                            thread: post.thread_id,
                            post: Some(post.id),
                            snapshot: None,
                        };
                        let job = confab_store::NewJob { forum_id: post.forum_id, task, run_at: now };
                        shard::enqueue(&tx, &self.ids, &job, now).await?;
                        done.posts_anonymized += 1;
                    }
                }
                shard::post_disown(&tx, post.id, anonymous.id).await?;
            }
            commit(tx).await?;
        }
        write_on!(self, &self.t.global, |c, _ids| global::account_remove(c, account).await)?;
        Ok(done)
    }
}

#[async_trait]
impl RoleStore for PgStore {
    async fn role_get(&self, forum: Id, account: Id) -> StoreResult<Option<Role>> {
        global::role_get(&**self.global_read().await?, forum, account).await
    }

    async fn roles_list(&self, forum: Id) -> StoreResult<Vec<(Account, Role)>> {
        global::roles_list(&**self.global_read().await?, forum).await
    }

    async fn roles_of(&self, account: Id) -> StoreResult<Vec<(Id, Role)>> {
        global::roles_of(&**self.global_read().await?, account).await
    }

    async fn role_set(&self, forum: Id, account: Id, role: Option<Role>, now: UnixMs) -> StoreResult<()> {
        write_on!(self, &self.t.global, |c, _ids| global::role_set(c, forum, account, role, now).await)
    }
}

#[async_trait]
impl OutboxStore for PgStore {
    async fn jobs_claim(&self, now: UnixMs, lease_until: UnixMs, limit: u32) -> StoreResult<Vec<Job>> {
        let mut out = Vec::new();
        for cluster in self.clusters_rotated() {
            let left = limit.saturating_sub(out.len() as u32);
            if left == 0 {
                break;
            }
            let c = cluster.primary().await?;
            out.extend(jobs::claim(&**c, now, lease_until, left).await?);
        }
        Ok(out)
    }

    async fn job_settle(&self, id: Id, attempt: u32, outcome: JobOutcome, now: UnixMs) -> StoreResult<bool> {
        write_on!(self, self.cluster(id.shard()).await?, |c, ids| jobs::settle(c, ids, id, attempt, outcome, now).await)
    }

    async fn job_release(&self, id: Id, attempt: u32, run_at: UnixMs, now: UnixMs) -> StoreResult<bool> {
        write_on!(self, self.cluster(id.shard()).await?, |c, _ids| jobs::release(&*c, id, attempt, run_at, now).await)
    }

    async fn job_get(&self, id: Id) -> StoreResult<Job> {
        jobs::get(&**self.cluster(id.shard()).await?.primary().await?, id).await
    }

    async fn jobs_list(&self, filter: JobFilter) -> StoreResult<Vec<Job>> {
        let clusters: Vec<&Cluster> = match filter.forum {
            Some(f) => vec![self.cluster(f.shard()).await?],
            None => self.t.clusters.values().collect(),
        };
        let mut out = Vec::new();
        for cluster in clusters {
            out.extend(jobs::list(&**cluster.primary().await?, filter).await?);
        }
        out.sort_by_key(|j| std::cmp::Reverse(j.id));
        out.truncate(filter.limit as usize);
        Ok(out)
    }

    async fn job_counts(&self) -> StoreResult<Vec<(JobState, u64)>> {
        let mut total: HashMap<i64, (JobState, u64)> = HashMap::new();
        for cluster in self.t.clusters.values() {
            for (s, n) in jobs::counts(&**cluster.primary().await?).await? {
                total.entry(s.code()).or_insert((s, 0)).1 += n;
            }
        }
        let mut out: Vec<(JobState, u64)> = total.into_values().collect();
        out.sort_by_key(|(s, _)| s.code());
        Ok(out)
    }

    async fn job_retry(&self, id: Id, now: UnixMs) -> StoreResult<Job> {
        write_on!(self, self.cluster(id.shard()).await?, |c, _ids| jobs::retry(&*c, id, now).await)
    }

    async fn job_discard(&self, id: Id) -> StoreResult<()> {
        write_on!(self, self.cluster(id.shard()).await?, |c, _ids| jobs::discard(&*c, id).await)
    }

    async fn jobs_prune(&self, before: UnixMs) -> StoreResult<u64> {
        let mut n = 0;
        for cluster in self.t.clusters.values() {
            n += jobs::prune(&**cluster.primary().await?, before).await?;
        }
        Ok(n)
    }

    async fn webhook_attempts_prune(&self, before: UnixMs) -> StoreResult<u64> {
        let mut n = 0;
        for cluster in self.t.clusters.values() {
            n += notify::attempts_prune(&**cluster.primary().await?, before).await?;
        }
        Ok(n)
    }
}

#[async_trait]
impl WebhookStore for PgStore {
    async fn webhook_create(&self, forum: Id, new: NewWebhook, now: UnixMs) -> StoreResult<Webhook> {
        write_on!(self, self.cluster(forum.shard()).await?, |c, ids| notify::webhook_create(&*c, ids, forum, new, now)
            .await)
    }

    async fn webhooks_list(&self, forum: Id) -> StoreResult<Vec<Webhook>> {
        notify::webhooks_list(&**self.shard_read(forum.shard()).await?, forum).await
    }

    async fn webhook_get(&self, id: Id) -> StoreResult<Webhook> {
        notify::webhook_get(&**self.shard_read(id.shard()).await?, id).await
    }

    async fn webhook_delete(&self, forum: Id, id: Id) -> StoreResult<()> {
        if id.shard() != forum.shard() {
            return Err(StoreError::WebhookNotFound);
        }
        write_on!(self, self.cluster(forum.shard()).await?, |c, _ids| {
            let tx = begin(c).await?;
            notify::webhook_delete(&tx, forum, id).await?;
            commit(tx).await
        })
    }

    async fn webhook_attempt_log(&self, attempt: WebhookAttempt) -> StoreResult<()> {
        write_on!(self, self.cluster(attempt.webhook_id.shard()).await?, |c, _ids| notify::attempt_log(&*c, attempt)
            .await)
    }

    async fn webhook_attempts(&self, webhook: Id, before: Option<i64>, limit: u32) -> StoreResult<Vec<WebhookAttempt>> {
        notify::attempts(&**self.shard_read(webhook.shard()).await?, webhook, before, limit).await
    }
}

#[async_trait]
impl NotifyStore for PgStore {
    async fn subscription_add(&self, thread: &Thread, email: &Email, now: UnixMs) -> StoreResult<bool> {
        write_on!(self, &self.t.global, |c, _ids| global::unmute(&*c, email, thread.id).await)?;
        write_on!(self, self.cluster(thread.id.shard()).await?, |c, _ids| notify::subscription_add(
            &*c, thread, email, now
        )
        .await)
    }

    async fn subscription_remove(&self, thread: Id, email: &Email) -> StoreResult<bool> {
        write_on!(self, self.cluster(thread.shard()).await?, |c, _ids| notify::subscription_remove(&*c, thread, email)
            .await)
    }

    async fn subscription_exists(&self, thread: Id, email: &Email) -> StoreResult<bool> {
        notify::subscription_exists(&**self.shard_read(thread.shard()).await?, thread, email).await
    }

    async fn subscribers(&self, thread: Id) -> StoreResult<Vec<Email>> {
        let all = notify::subscribers(&**self.shard_read(thread.shard()).await?, thread).await?;
        if all.is_empty() {
            return Ok(all);
        }
        let emails: Vec<String> = all.iter().map(|e| e.as_str().to_owned()).collect();
        let muted = global::muted_everywhere(&**self.global_read().await?, emails).await?;
        Ok(all.into_iter().filter(|e| !muted.iter().any(|m| m == e.as_str())).collect())
    }

    async fn reply_recipient(&self, post: Id) -> StoreResult<Option<Email>> {
        let Some(author) = notify::notify_author(&**self.shard_read(post.shard()).await?, post).await? else {
            return Ok(None);
        };
        global::author_address(&**self.global_read().await?, author).await
    }

    async fn moderator_emails(&self, forum: Id) -> StoreResult<Vec<Email>> {
        global::moderator_emails(&**self.global_read().await?, forum).await
    }

    async fn mute(&self, email: &Email, thread: Option<Id>, now: UnixMs) -> StoreResult<()> {
        write_on!(self, &self.t.global, |c, _ids| global::mute(&*c, email, thread, now).await)?;
        let clusters: Vec<&Cluster> = match thread {
            Some(t) => vec![self.cluster(t.shard()).await?],
            None => self.t.clusters.values().collect(),
        };
        for cluster in clusters {
            write_on!(self, cluster, |c, _ids| {
                let tx = begin(c).await?;
                notify::unsubscribe(&tx, email, thread).await?;
                commit(tx).await
            })?;
        }
        Ok(())
    }

    async fn is_muted(&self, email: &Email, thread: Id) -> StoreResult<bool> {
        global::is_muted(&**self.global_read().await?, email, thread).await
    }

    async fn notify_gate(
        &self,
        email: &Email,
        thread: Id,
        post: Id,
        now: UnixMs,
        interval_ms: i64,
    ) -> StoreResult<NotifyGate> {
        write_on!(self, self.cluster(thread.shard()).await?, |c, _ids| {
            let tx = begin(c).await?;
            let g = notify::gate(&tx, email, thread, post, now, interval_ms).await?;
            commit(tx).await?;
            Ok(g)
        })
    }

    async fn notify_release(&self, email: &Email, thread: Id, post: Id, sent_at: UnixMs) -> StoreResult<bool> {
        write_on!(self, self.cluster(thread.shard()).await?, |c, _ids| {
            let tx = begin(c).await?;
            let r = notify::release(&tx, email, thread, post, sent_at).await?;
            commit(tx).await?;
            Ok(r)
        })
    }

    async fn digest_waiting(&self, email: &Email, thread: Id) -> StoreResult<Vec<Id>> {
        // From the primary: a replica may not have the posts that joined just now.
        write_on!(self, self.cluster(thread.shard()).await?, |c, _ids| notify::digest_waiting(&*c, email, thread).await)
    }

    async fn digest_sent(
        &self,
        email: &Email,
        thread: Id,
        posts: &[Id],
        now: UnixMs,
        next_due: UnixMs,
    ) -> StoreResult<bool> {
        write_on!(self, self.cluster(thread.shard()).await?, |c, _ids| {
            let tx = begin(c).await?;
            let r = notify::digest_sent(&tx, email, thread, posts, now, next_due).await?;
            commit(tx).await?;
            Ok(r)
        })
    }
}

#[async_trait]
impl ModerationStore for PgStore {
    async fn post_set_state(
        &self,
        id: Id,
        state: PostState,
        by: confab_core::model::Moderator,
        reason: Option<String>,
        now: UnixMs,
    ) -> StoreResult<StateChange> {
        write_on!(self, self.cluster(id.shard()).await?, |c, ids| {
            let tx = begin(c).await?;
            let r = moderation::set_state_in(&tx, ids, id, state, by, reason.as_deref(), now).await?;
            commit(tx).await?;
            Ok(r)
        })
    }

    async fn moderation_queue(&self, forum: Id, search: &confab_store::PostSearch) -> StoreResult<Vec<Post>> {
        let by_email = match &search.email {
            Some(e) => Some(global::authors_by_email(&**self.global_read().await?, &e.to_lowercase()).await?),
            None => None,
        };
        moderation::search(&**self.shard_read(forum.shard()).await?, forum, search, by_email).await
    }

    async fn queue_sizes(&self, forum: Id) -> StoreResult<confab_store::QueueSizes> {
        moderation::sizes(&**self.shard_read(forum.shard()).await?, forum).await
    }

    async fn posts_per_day(&self, forum: Id, since: UnixMs) -> StoreResult<Vec<(UnixMs, u64, u64)>> {
        moderation::per_day(&**self.shard_read(forum.shard()).await?, forum, since).await
    }

    async fn flag_add(
        &self,
        post: Id,
        voter: TokenHash,
        flag: confab_core::model::Flag,
        threshold: u32,
        now: UnixMs,
    ) -> StoreResult<confab_store::FlagOutcome> {
        write_on!(self, self.cluster(post.shard()).await?, |c, ids| {
            let tx = begin(c).await?;
            let r = moderation::flag_add(&tx, ids, post, voter, flag, threshold, now).await?;
            commit(tx).await?;
            Ok(r)
        })
    }

    async fn flags_of(&self, post: Id) -> StoreResult<Vec<confab_core::model::Flag>> {
        moderation::flags_of(&**self.shard_read(post.shard()).await?, post).await
    }

    async fn post_set_highlighted(&self, post: Id, on: bool, now: UnixMs) -> StoreResult<Post> {
        write_on!(self, self.cluster(post.shard()).await?, |c, ids| {
            let tx = begin(c).await?;
            let r = moderation::set_highlighted(&tx, ids, post, on, now).await?;
            commit(tx).await?;
            Ok(r)
        })
    }

    async fn thread_set_pinned(&self, thread: Id, post: Option<Id>) -> StoreResult<Thread> {
        write_on!(self, self.cluster(thread.shard()).await?, |c, _ids| {
            let tx = begin(c).await?;
            let r = moderation::set_pinned(&tx, thread, post).await?;
            commit(tx).await?;
            Ok(r)
        })
    }

    async fn own_hidden_posts(
        &self,
        thread: Id,
        account: Option<Id>,
        sso: Option<(Id, String)>,
    ) -> StoreResult<Vec<Post>> {
        if account.is_none() && sso.is_none() {
            return Ok(Vec::new());
        }
        let authors = global::author_ids_of(&**self.global_read().await?, account, sso).await?;
        if authors.is_empty() {
            return Ok(Vec::new());
        }
        moderation::own_hidden(&**self.shard_read(thread.shard()).await?, thread, authors).await
    }

    async fn hidden_posts_among(&self, thread: Id, ids: &[Id]) -> StoreResult<Vec<(Post, Option<TokenHash>)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = ids.iter().take(confab_store::MAX_OWN_POSTS).map(|i| i.as_i64()).collect();
        moderation::hidden_among(&**self.shard_read(thread.shard()).await?, thread, ids).await
    }

    async fn moderation_log(&self, post: Id) -> StoreResult<Vec<confab_core::model::ModerationEntry>> {
        moderation::history(&**self.shard_read(post.shard()).await?, post).await
    }
}

#[async_trait]
impl SpamStore for PgStore {
    async fn post_screened(
        &self,
        id: Id,
        queued: PostState,
        state: PostState,
        reason: Option<String>,
        now: UnixMs,
    ) -> StoreResult<Option<StateChange>> {
        write_on!(self, self.cluster(id.shard()).await?, |c, ids| {
            let tx = begin(c).await?;
            let r = moderation::screened(&tx, ids, id, queued, state, reason.as_deref(), now).await?;
            commit(tx).await?;
            Ok(r)
        })
    }

    async fn spam_context(
        &self,
        post: &Post,
        now: UnixMs,
        duplicate_window_ms: i64,
        recent_window_ms: i64,
    ) -> StoreResult<SpamContext> {
        moderation::context(
            &**self.shard_read(post.id.shard()).await?,
            post,
            now,
            duplicate_window_ms,
            recent_window_ms,
        )
        .await
    }

    async fn spam_model(&self, forum: Id, tokens: &[String]) -> StoreResult<confab_core::spam::Model> {
        moderation::model(&**self.shard_read(forum.shard()).await?, forum, tokens).await
    }

    async fn spam_learn(&self, forum: Id, tokens: &[String], spam: bool) -> StoreResult<()> {
        write_on!(self, self.cluster(forum.shard()).await?, |c, _ids| {
            let tx = begin(c).await?;
            moderation::learn(&tx, forum, tokens, spam).await?;
            commit(tx).await
        })
    }

    async fn spam_verdict_set(&self, post: Id, record: SpamRecord) -> StoreResult<()> {
        write_on!(self, self.cluster(post.shard()).await?, |c, _ids| moderation::verdict_set(&*c, post, record).await)
    }

    async fn spam_verdict(&self, post: Id) -> StoreResult<Option<SpamRecord>> {
        moderation::verdict(&**self.shard_read(post.shard()).await?, post).await
    }

    async fn spam_verdicts(&self, forum: Id, posts: &[Id]) -> StoreResult<Vec<(Id, SpamRecord)>> {
        // A forum's posts all live on its shard.
        moderation::verdicts(&**self.shard_read(forum.shard()).await?, posts).await
    }
}

#[async_trait]
impl BanStore for PgStore {
    async fn ban_create(
        &self,
        forum: Id,
        ban: confab_core::model::NewBan,
        now: UnixMs,
    ) -> StoreResult<confab_core::model::Ban> {
        write_on!(self, self.cluster(forum.shard()).await?, |c, ids| moderation::ban_create(&*c, ids, forum, ban, now)
            .await)
    }

    async fn bans_list(&self, forum: Id, now: UnixMs) -> StoreResult<Vec<confab_core::model::Ban>> {
        moderation::bans_list(&**self.shard_read(forum.shard()).await?, forum, now).await
    }

    async fn ban_delete(&self, forum: Id, id: Id) -> StoreResult<()> {
        if id.shard() != forum.shard() {
            return Err(StoreError::BanNotFound);
        }
        write_on!(self, self.cluster(forum.shard()).await?, |c, _ids| moderation::ban_delete(&*c, forum, id).await)
    }

    async fn bans_matching(
        &self,
        forum: Id,
        probe: &confab_core::model::BanProbe,
        now: UnixMs,
    ) -> StoreResult<Vec<confab_core::model::Ban>> {
        moderation::bans_matching(&**self.shard_read(forum.shard()).await?, forum, probe, now).await
    }
}
