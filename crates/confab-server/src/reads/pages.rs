//! Page assembly for the public reads: a thread's first page (what the cache keeps and
//! the widget asks for on load), further pages of roots, and authors' public views.
//! The cache (`super::cache`) and the handlers (`api::page`) both build pages here; no
//! page is put together anywhere else.
//!
//! Statements per thread page, whatever the thread's size or number of authors:
//! forum (1) + thread (1) + roots (1) + first replies of all roots (1) + authors (1).

use std::collections::{HashMap, HashSet};

use confab_core::cursor::ReplyCursor;
use confab_core::id::Id;
use confab_core::model::{Forum, Post, PostState, Sort, Thread};
use confab_store::{PageLimits, StoreError};
use serde::Serialize;

use super::Reads;
use crate::error::ApiError;
use crate::views::{AuthorView, PostView, RootView, ThreadView};
use utoipa::ToSchema;

pub const DEFAULT_ROOTS: u32 = 25;
pub const MAX_ROOTS: u32 = 100;
pub const DEFAULT_REPLIES_PER_ROOT: u32 = 3;
pub const MAX_REPLIES_PER_ROOT: u32 = 20;
pub const DEFAULT_REPLIES_PAGE: u32 = 25;
pub const MAX_REPLIES_PAGE: u32 = 100;
/// The sizes the embed asks for: pages of these sizes are cached.
pub const DEFAULT_LIMITS: PageLimits = PageLimits { roots: DEFAULT_ROOTS, replies_per_root: DEFAULT_REPLIES_PER_ROOT };

#[derive(Serialize, ToSchema)]
#[schema(as = ThreadPage)]
pub(crate) struct PageView {
    /// Null when no post has created the thread yet: reads never create threads.
    #[schema(required = true)]
    pub(crate) thread: Option<ThreadView>,
    sort: Sort,
    posts: Vec<RootView>,
    /// Pass to `GET /api/v1/threads/{id}/posts` for the next page; null on the last.
    #[schema(required = true)]
    cursor: Option<String>,
    /// On a first page: the post moderators pinned to the top (it also keeps its
    /// place in the tree); null when none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pinned: Option<PostView>,
}

impl PageView {
    pub(crate) fn empty(sort: Sort) -> PageView {
        PageView { thread: None, sort, posts: Vec::new(), cursor: None, pinned: None }
    }
}

/// The first page of `thread` with the default sizes: what the cache keeps.
pub(crate) async fn first_page_view(
    state: &Reads,
    forum: &Forum,
    thread: Thread,
    sort: Sort,
) -> Result<PageView, ApiError> {
    roots_page(state, forum, thread, sort, None, DEFAULT_LIMITS).await
}

pub(crate) async fn roots_page(
    state: &Reads,
    forum: &Forum,
    thread: Thread,
    sort: Sort,
    after: Option<confab_core::cursor::RootCursor>,
    limits: PageLimits,
) -> Result<PageView, ApiError> {
    let first = after.is_none();
    let page = state.store.thread_roots(thread.id, sort, after, limits).await?;
    // The pinned post, on the first page only, when it is still on show.
    let pinned = match thread.pinned.filter(|_| first) {
        Some(id) => match state.store.post_get(id).await {
            Ok(p) if p.state == PostState::Approved => Some(p),
            Ok(_) | Err(StoreError::PostNotFound) => None,
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    let ids = shown_authors(
        page.roots.iter().flat_map(|r| std::iter::once(&r.root).chain(r.replies.iter())).chain(pinned.iter()),
    );
    let authors = authors_of(state, ids).await?;
    let posts = page
        .roots
        .iter()
        .map(|r| {
            let replies_cursor = r.more_replies.then(|| {
                let path = r.replies.last().map_or_else(|| r.root.path.clone(), |p| p.path.clone());
                state.cursors.encode_replies(r.root.id, &ReplyCursor { path })
            });
            RootView {
                post: PostView::public(&r.root, authors.get(&r.root.author_id).cloned()),
                replies: PostView::many(&r.replies, &authors),
                replies_cursor,
            }
        })
        .collect();
    Ok(PageView {
        thread: Some(ThreadView::in_forum(&thread, forum, state.clock.now())),
        sort,
        posts,
        cursor: page.next.map(|c| state.cursors.encode_root(thread.id, sort, c)),
        pinned: pinned.map(|p| PostView::public(&p, authors.get(&p.author_id).cloned())),
    })
}

/// The distinct authors of the shown (not deleted) posts.
pub(crate) fn shown_authors<'a>(posts: impl Iterator<Item = &'a Post>) -> Vec<Id> {
    let ids: HashSet<Id> = posts.filter(|p| p.state != PostState::Deleted).map(|p| p.author_id).collect();
    ids.into_iter().collect()
}

/// Authors' public views by id: cached ones from one read, the rest from one
/// `get_many`.
pub(crate) async fn authors_of(state: &Reads, ids: Vec<Id>) -> Result<HashMap<Id, AuthorView>, ApiError> {
    super::cache::author_views(state, &ids).await
}
