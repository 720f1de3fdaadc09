//! Public reads through the cache: what the embed asks for on every page load
//! is answered from the cache, and writes push new values into it ("set, don't delete").
//!
//! What is cached, and under which key (`c1:`/`c2:` is the format; a release that changes
//! what a value holds, or how it is keyed, changes it):
//! - `c2:tk:{forum id}:i:{identifier}` / `…:u:{url}`: the thread a page's key names, **or
//!   that there is none** — most of the long tail is pages nobody has commented on;
//! - `c1:pg:{thread}:{sort}`: the first page of a thread (default sizes) as the JSON the
//!   API sends, under the thread's version;
//! - `c2:ct:{forum id}:i:{identifier}` / `…:u:{url}`: a comment count, under the thread's
//!   version;
//! - `c1:au:{author}`: an author's public view (never their email), read for a page's
//!   authors with one `get_many`;
//! - forums, by shortname and by id, in this process only: few, small, read by nearly
//!   every request.
//!
//! A write that changes what a thread's pages show calls [`Reads::thread_changed`]:
//! one refresh per thread at a time reads the thread and makes anew the values that
//! exist for it (pages per sort, counts, look-ups), and stores them over the old ones.
//! The writer waits for a refresh that started after its write, so its next read shows
//! the write; everyone else's does too, as soon as that refresh lands. Values a write
//! cannot reach (another process's in-process cache; forum settings; votes, which do not
//! move a thread's version, so a fill racing one may store the count before it) catch up
//! within `fresh` (then one refill while the stale value is served, within `stale`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use confab_cache::{Cache, Filled, Policy};
use confab_core::id::Id;
use confab_core::model::{Forum, Sort, Thread, ThreadKey};
use confab_store::StoreError;
use tokio::sync::watch;

use crate::error::ApiError;

/// How long cached values live unless configured otherwise (`[cache] fresh_secs`,
/// `stale_secs`).
pub const DEFAULT_POLICY: Policy = Policy { fresh: Duration::from_secs(10), stale: Duration::from_secs(300) };

/// How long a writer waits for the refresh of its thread before answering anyway.
const REFRESH_WAIT: Duration = Duration::from_secs(5);

/// Forums kept in this process at most.
const FORUMS: u64 = 10_000;

/// The cache as the handlers use it; without a cache ([`Reads::off`]) every read goes to
/// the store.
pub struct Reads {
    pub(crate) store: Arc<dyn confab_store::Store>,
    /// Signs the cursors pages carry.
    pub(crate) cursors: confab_core::cursor::CursorCodec,
    pub(crate) clock: crate::Clock,
    cache: Option<Arc<Cache>>,
    pub(crate) policy: Policy,
    forums_by_name: moka::sync::Cache<String, Forum>,
    forums_by_id: moka::sync::Cache<Id, Forum>,
    refreshes: Mutex<HashMap<Id, Refreshing>>,
}

/// One thread's refreshes: asked for so far, and done so far (a watch writers wait on).
struct Refreshing {
    asked: u64,
    done: watch::Sender<u64>,
}

impl std::fmt::Debug for Reads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reads").field("cached", &self.cache.is_some()).field("policy", &self.policy).finish()
    }
}

// Look-ups and counts are keyed by the forum's id, not its shortname: a forum made
// later under a deleted forum's name must not find what the cache kept of the old one.
pub(crate) fn thread_key(forum: Id, key: &ThreadKey) -> String {
    match key {
        ThreadKey::Identifier(i) => format!("c2:tk:{forum}:i:{}", i.as_str()),
        ThreadKey::Url(u) => format!("c2:tk:{forum}:u:{}", u.as_str()),
    }
}

pub(crate) fn count_key(forum: Id, key: &ThreadKey) -> String {
    match key {
        ThreadKey::Identifier(i) => format!("c2:ct:{forum}:i:{}", i.as_str()),
        ThreadKey::Url(u) => format!("c2:ct:{forum}:u:{}", u.as_str()),
    }
}

pub(crate) fn page_key(thread: Id, sort: Sort) -> String {
    let sort = match sort {
        Sort::Newest => "newest",
        Sort::Oldest => "oldest",
        Sort::Best => "best",
        Sort::Hot => "hot",
    };
    format!("c1:pg:{thread}:{sort}")
}

pub(crate) fn author_key(author: Id) -> String {
    format!("c1:au:{author}")
}

/// A thread look-up's version and value: the thread's id (version 1), or empty for "no
/// such thread" (version 0). A key's thread never changes once it exists, so "found"
/// always wins over "not found": a replica that has not seen the thread yet cannot
/// put "not found" back.
fn look_up_value(id: Option<Id>) -> (u64, Bytes) {
    match id {
        Some(id) => (1, Bytes::copy_from_slice(&id.get().to_be_bytes())),
        None => (0, Bytes::new()),
    }
}

fn decode_thread_id(b: &[u8]) -> Option<Id> {
    Id::from_raw(u64::from_be_bytes(b.try_into().ok()?))
}

/// Unix ms now: the version of authors' views, which the store keeps no version for. A
/// view read later is at least as new, so it wins.
fn now_version(state: &Reads) -> u64 {
    u64::try_from(state.clock.now()).unwrap_or(0)
}

/// Runs `fut` in the caller's read scope, wherever it is polled: a refill in the
/// background reads what the request that started it could (replicas that replayed its
/// client's writes) rather than going to primaries.
fn in_callers_scope<F: std::future::Future>(fut: F) -> impl std::future::Future<Output = F::Output> {
    let scope = confab_store::consistency::current();
    async move {
        match scope {
            Some(s) => confab_store::consistency::scope(s, fut).await,
            None => fut.await,
        }
    }
}

impl Reads {
    /// Reads through `cache`.
    pub fn new(
        store: Arc<dyn confab_store::Store>,
        cursors: confab_core::cursor::CursorCodec,
        clock: crate::Clock,
        cache: Arc<Cache>,
        policy: Policy,
    ) -> Reads {
        Reads {
            store,
            cursors,
            clock,
            cache: Some(cache),
            policy,
            forums_by_name: moka::sync::Cache::builder().max_capacity(FORUMS).time_to_live(policy.fresh).build(),
            forums_by_id: moka::sync::Cache::builder().max_capacity(FORUMS).time_to_live(policy.fresh).build(),
            refreshes: Mutex::new(HashMap::new()),
        }
    }

    /// No cache: every read goes to the store.
    pub fn off(
        store: Arc<dyn confab_store::Store>,
        cursors: confab_core::cursor::CursorCodec,
        clock: crate::Clock,
    ) -> Reads {
        Reads {
            store,
            cursors,
            clock,
            cache: None,
            policy: Policy { fresh: Duration::ZERO, stale: Duration::ZERO },
            forums_by_name: moka::sync::Cache::new(0),
            forums_by_id: moka::sync::Cache::new(0),
            refreshes: Mutex::new(HashMap::new()),
        }
    }

    pub fn cache(&self) -> Option<&Arc<Cache>> {
        self.cache.as_ref()
    }

    /// A forum this process began to delete: no copy of it is served from here on
    /// (other processes' copies expire within the fresh time).
    pub(crate) fn forum_gone(&self, f: &Forum) {
        self.forums_by_name.invalidate(f.shortname.as_str());
        self.forums_by_id.invalidate(&f.id);
    }

    /// A forum as read now, or as a settings change in this process left it.
    pub(crate) fn forum_changed(&self, f: &Forum) {
        if self.cache.is_some() {
            self.forums_by_name.insert(f.shortname.as_str().to_owned(), f.clone());
            self.forums_by_id.insert(f.id, f.clone());
        }
    }
}

impl Reads {
    pub(crate) async fn forum_by_shortname(&self, name: &str) -> Result<Forum, StoreError> {
        if let Some(f) = self.forums_by_name.get(name) {
            return Ok(f);
        }
        let f = self.store.forum_by_shortname(name).await?;
        self.forum_changed(&f);
        Ok(f)
    }

    pub(crate) async fn forum_get(&self, id: Id) -> Result<Forum, StoreError> {
        if let Some(f) = self.forums_by_id.get(&id) {
            return Ok(f);
        }
        let f = self.store.forum_get(id).await?;
        self.forum_changed(&f);
        Ok(f)
    }

    /// The thread `key` names in forum `forum`: its id, and the thread itself when this
    /// call read it from the store (so a page made next need not read it again).
    pub(crate) async fn thread_of(
        self: &Arc<Self>,
        forum: &str,
        key: &ThreadKey,
    ) -> Result<Option<(Id, Option<Thread>)>, ApiError> {
        let Some(cache) = self.cache.clone() else {
            let forum = self.forum_by_shortname(forum).await?;
            return Ok(self.store.thread_find(&forum, key).await?.map(|t| (t.id, Some(t))));
        };
        // A forum being deleted is gone at once, whatever the cache still holds of it
        // (for a live forum this is a look-up in memory).
        let forum_id = self.forum_by_shortname(forum).await?.id;
        let read: Arc<Mutex<Option<Thread>>> = Arc::default();
        let fill = {
            let (state, forum, key, read) = (self.clone(), forum.to_owned(), key.clone(), Arc::clone(&read));
            move || {
                in_callers_scope(async move {
                    let forum = state.forum_by_shortname(&forum).await?;
                    let thread = state.store.thread_find(&forum, &key).await?;
                    let (version, value) = look_up_value(thread.as_ref().map(|t| t.id));
                    *read.lock().expect("not poisoned") = thread;
                    Ok::<_, ApiError>(Filled { version, value })
                })
            }
        };
        let value = cache.get_or_fill(&thread_key(forum_id, key), self.policy, 0, fill).await?;
        let thread = read.lock().expect("not poisoned").take();
        Ok(decode_thread_id(&value).map(|id| (id, thread.filter(|t| t.id == id))))
    }

    /// The first page of thread `id` in `sort` (default sizes), as the JSON the API
    /// sends. `thread`: the thread, when the caller has just read it.
    pub(crate) async fn first_page(
        self: &Arc<Self>,
        id: Id,
        thread: Option<Thread>,
        sort: Sort,
    ) -> Result<Bytes, ApiError> {
        let Some(cache) = self.cache.clone() else {
            return make_first_page(self.clone(), id, thread, sort).await.map(|f| f.value);
        };
        let state = self.clone();
        let fill = move || in_callers_scope(make_first_page(state, id, thread, sort));
        cache.get_or_fill(&page_key(id, sort), self.policy, 0, fill).await
    }

    /// Comment counts for `keys` of forum `forum`, in order: cached ones from one read,
    /// the rest from one statement.
    pub(crate) async fn counts(&self, forum: &str, keys: &[ThreadKey]) -> Result<Vec<i64>, ApiError> {
        let count_of = |found: &[confab_store::ThreadCount], k: &ThreadKey| {
            match k {
                ThreadKey::Identifier(i) => found.iter().find(|c| &c.identifier == i),
                // The oldest thread with that URL, as in look-ups by URL.
                ThreadKey::Url(u) => found.iter().find(|c| c.url.as_ref() == Some(u)),
            }
            .map(|c| (c.posts, c.version))
        };
        let Some(cache) = self.cache.clone() else {
            let f = self.forum_by_shortname(forum).await?;
            let found = self.store.thread_counts(&f, keys).await?;
            return Ok(keys.iter().map(|k| count_of(&found, k).map_or(0, |c| c.0)).collect());
        };
        let forum_id = self.forum_by_shortname(forum).await?.id;
        let names: Vec<String> = keys.iter().map(|k| count_key(forum_id, k)).collect();
        let fill = |asked: Vec<usize>| async move {
            let f = self.forum_by_shortname(forum).await?;
            let wanted: Vec<ThreadKey> = asked.iter().map(|&i| keys[i].clone()).collect();
            let found = self.store.thread_counts(&f, &wanted).await?;
            Ok::<_, ApiError>(
                asked
                    .into_iter()
                    .map(|i| {
                        let (posts, version) = count_of(&found, &keys[i]).unwrap_or((0, 0));
                        (i, Filled { version, value: Bytes::copy_from_slice(&posts.to_be_bytes()) })
                    })
                    .collect(),
            )
        };
        let values = cache.get_many_or_fill(&names, self.policy, 0, fill).await?;
        Ok(values
            .into_iter()
            .map(|v| v.and_then(|b| b.as_ref().try_into().ok()).map_or(0, i64::from_be_bytes))
            .collect())
    }

    /// After a write that changed what thread `id`'s pages show: its cached values are
    /// made anew and stored over the old ones, by one refresh per thread at a time.
    /// Returns once a refresh that started after this call is done (or after
    /// [`REFRESH_WAIT`]), so the writer's next read shows its write.
    pub(crate) async fn thread_changed(self: &Arc<Self>, id: Id) {
        if self.cache.is_none() {
            return;
        }
        let (target, mut done, start) = {
            let mut m = self.refreshes.lock().expect("not poisoned");
            let start = !m.contains_key(&id);
            let r = m.entry(id).or_insert_with(|| Refreshing { asked: 0, done: watch::channel(0).0 });
            r.asked += 1;
            (r.asked, r.done.subscribe(), start)
        };
        if start {
            // Its own task: a writer that goes away (a client hanging up) must not
            // leave the thread's refresh half done.
            tokio::spawn(refresh_loop(self.clone(), id));
        }
        let _ = tokio::time::timeout(REFRESH_WAIT, done.wait_for(|d| *d >= target)).await;
    }
}

/// Refreshes thread `id` until no write asked for another refresh while one ran.
async fn refresh_loop(state: Arc<Reads>, id: Id) {
    loop {
        let asked = state.refreshes.lock().expect("not poisoned").get(&id).map_or(0, |r| r.asked);
        if let Err(e) = refresh(&state, id).await {
            tracing::warn!(thread = %id, error = %e, "cache refresh failed; values catch up when they expire");
        }
        let mut m = state.refreshes.lock().expect("not poisoned");
        let Some(r) = m.get_mut(&id) else { return };
        r.done.send_replace(asked);
        if r.asked == asked {
            m.remove(&id);
            return;
        }
    }
}

/// One refresh: reads the thread (its version before anything it shows, so a value is
/// never labelled newer than what it holds) and stores anew each of its values that
/// exists now — nobody reads the others, and they are made when someone does.
///
/// With replicas, also the values the writer reads next (the look-ups, the count and the
/// default sort's page), present or not: a reader's fill from a replica that has not
/// replayed the write yet would otherwise store the old value, and the writer would read
/// it; stored first, the new value's version makes the old one's put fail.
async fn refresh(state: &Arc<Reads>, id: Id) -> Result<(), ApiError> {
    let Some(cache) = state.cache.clone() else { return Ok(()) };
    let thread = state.store.thread_get(id).await?;
    let forum = state.forum_get(thread.forum_id).await?;
    let keys_of = |k: &ThreadKey| (thread_key(forum.id, k), count_key(forum.id, k));
    let ident = ThreadKey::Identifier(thread.identifier.clone());
    let url = thread.url.clone().map(ThreadKey::Url);
    let (ident_tk, ident_ct) = keys_of(&ident);
    let (url_tk, url_ct) = url.as_ref().map(keys_of).unzip();
    let pages: Vec<String> = Sort::ALL.iter().map(|s| page_key(id, *s)).collect();
    let mut names: Vec<&str> = pages.iter().map(String::as_str).collect();
    names.extend([ident_tk.as_str(), ident_ct.as_str()]);
    names.extend(url_tk.iter().chain(url_ct.iter()).map(String::as_str));
    let mut present = cache.present(&names).await;
    if state.store.has_replicas() {
        present[Sort::ALL.iter().position(|s| *s == Sort::default()).unwrap_or(0)] = true;
        present[4..].iter_mut().for_each(|p| *p = true);
    }
    let policy = state.policy;
    for (sort, _) in Sort::ALL.iter().zip(&present).filter(|(_, p)| **p) {
        let page = make_first_page(state.clone(), id, Some(thread.clone()), *sort).await?;
        cache.put(&page_key(id, *sort), policy, page).await;
    }
    let count = |posts: i64, version: u64| Filled { version, value: Bytes::copy_from_slice(&posts.to_be_bytes()) };
    if present[4] {
        let (version, value) = look_up_value(Some(id));
        cache.put(&ident_tk, policy, Filled { version, value }).await;
    }
    if present[5] {
        cache.put(&ident_ct, policy, count(thread.posts, thread.version)).await;
    }
    // By URL: the oldest thread with it, which need not be this one.
    if let (Some(url), Some(url_tk), Some(url_ct)) = (&url, &url_tk, &url_ct)
        && (present[6] || present[7])
    {
        let found = state.store.thread_find(&forum, url).await?;
        if present[6] {
            let (version, value) = look_up_value(found.as_ref().map(|t| t.id));
            cache.put(url_tk, policy, Filled { version, value }).await;
        }
        if present[7]
            && let Some(t) = found
        {
            cache.put(url_ct, policy, count(t.posts, t.version)).await;
        }
    }
    Ok(())
}

/// Makes the first page of thread `id`: the thread first (its version labels the
/// page), then what the page shows.
async fn make_first_page(state: Arc<Reads>, id: Id, thread: Option<Thread>, sort: Sort) -> Result<Filled, ApiError> {
    let thread = match thread {
        Some(t) => t,
        None => state.store.thread_get(id).await?,
    };
    let version = thread.version;
    let forum = state.forum_get(thread.forum_id).await?;
    let page = super::pages::first_page_view(&state, &forum, thread, sort).await?;
    let value =
        serde_json::to_vec(&page).map_err(|e| ApiError::from(StoreError::Internal(format!("page view: {e}"))))?;
    Ok(Filled { version, value: Bytes::from(value) })
}

/// The public views of authors `ids`, cached ones from one read and the rest from one
/// statement. Authors the store does not have are left out.
pub(crate) async fn author_views(state: &Reads, ids: &[Id]) -> Result<HashMap<Id, crate::views::AuthorView>, ApiError> {
    use crate::views::AuthorView;
    let Some(cache) = state.cache.clone() else {
        let found = state.store.authors_get_many(ids).await?;
        return Ok(found.iter().map(|a| (a.id, AuthorView::from(a))).collect());
    };
    let keys: Vec<String> = ids.iter().map(|id| author_key(*id)).collect();
    let fill = |asked: Vec<usize>| async move {
        let version = now_version(state);
        let wanted: Vec<Id> = asked.iter().map(|&i| ids[i]).collect();
        let found = state.store.authors_get_many(&wanted).await?;
        let mut made = Vec::with_capacity(found.len());
        for a in &found {
            let Some(i) = asked.iter().copied().find(|&i| ids[i] == a.id) else { continue };
            let value = serde_json::to_vec(&AuthorView::from(a))
                .map_err(|e| ApiError::from(StoreError::Internal(e.to_string())))?;
            made.push((i, Filled { version, value: Bytes::from(value) }));
        }
        Ok::<_, ApiError>(made)
    };
    let values = cache.get_many_or_fill(&keys, state.policy, 0, fill).await?;
    Ok(ids
        .iter()
        .zip(values)
        .filter_map(|(id, v)| Some((*id, serde_json::from_slice::<AuthorView>(&v?).ok()?)))
        .collect())
}

/// An author whose public view may have changed (an SSO user's new name or avatar):
/// stored as it is now.
pub(crate) async fn author_changed(state: &Reads, author: &confab_core::model::Author) {
    let Some(cache) = &state.cache else { return };
    if let Ok(value) = serde_json::to_vec(&crate::views::AuthorView::from(author)) {
        let filled = Filled { version: now_version(state), value: Bytes::from(value) };
        cache.put(&author_key(author.id), state.policy, filled).await;
    }
}

/// The keep-cache for one request: values read twice in it are fetched once.
pub(crate) async fn keep_layer(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    confab_cache::keep::scope(next.run(req)).await
}
