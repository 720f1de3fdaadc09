//! The store contract: The paging property: random trees read back through the cursors.

use super::*;

// ---- the paging property ----

/// One post of a generated tree.
#[derive(Debug, Clone)]
pub struct GenPost {
    /// Index of an earlier post to reply to (modulo the count so far), or a root.
    pub parent: Option<usize>,
    pub likes: u8,
    pub dislikes: u8,
    pub delete: bool,
    pub pending: bool,
}

/// How to read the tree back.
#[derive(Debug, Clone)]
pub struct GenPaging {
    pub roots_per_page: u32,
    pub replies_per_root: u32,
    pub replies_per_page: u32,
    /// Write new posts between pages.
    pub arrivals: bool,
}

pub fn tree_strategy() -> impl proptest::strategy::Strategy<Value = (Vec<GenPost>, GenPaging)> {
    use proptest::prelude::*;
    let post = (
        proptest::option::weighted(0.6, 0usize..1000),
        0u8..4,
        0u8..3,
        proptest::bool::weighted(0.15),
        proptest::bool::weighted(0.1),
    )
        .prop_map(|(parent, likes, dislikes, delete, pending)| GenPost {
            parent,
            likes,
            dislikes,
            delete,
            pending,
        });
    let paging = (1u32..6, 0u32..4, 1u32..5, any::<bool>()).prop_map(
        |(roots_per_page, replies_per_root, replies_per_page, arrivals)| GenPaging {
            roots_per_page,
            replies_per_root,
            replies_per_page,
            arrivals,
        },
    );
    (proptest::collection::vec(post, 1..40), paging)
}

/// Builds the tree, then reads it back through the cursors in every sort and checks
/// that every listed post appears exactly once, in the right order, with posts that
/// arrive between pages appearing at most once.
pub async fn paging_yields_every_listed_post_once(store: &dyn Store, posts: Vec<GenPost>, paging: GenPaging) {
    let f = forum(store, "prop").await;
    let mut created: Vec<Post> = Vec::new();
    for (i, g) in posts.iter().enumerate() {
        let parent =
            g.parent.filter(|_| i > 0).map(|p| created[p % i].clone()).filter(|p| p.state == PostState::Approved);
        let state = if g.pending { PostState::Pending } else { PostState::Approved };
        let at = NOW + i as i64 * 600_000;
        let p =
            store.post_create(&f, new_post("tree", parent.map(|p| p.id), "x", state), token(), at).await.unwrap().post;
        created.push(p);
    }
    for (g, p) in posts.iter().zip(&created) {
        if p.state != PostState::Approved {
            continue;
        }
        for _ in 0..g.likes {
            store.vote_set(p.id, token(), VoteValue::Up, NOW).await.unwrap();
        }
        for _ in 0..g.dislikes {
            store.vote_set(p.id, token(), VoteValue::Down, NOW).await.unwrap();
        }
    }
    for (g, p) in posts.iter().zip(&created) {
        if g.delete {
            store.post_delete(p.id, NOW).await.unwrap();
        }
    }
    let thread = created[0].thread_id;
    let now: HashMap<Id, Post> =
        get_each(created.iter().map(|p| store.post_get(p.id))).await.into_iter().map(|p| (p.id, p)).collect();
    let listed: HashSet<Id> = now.values().filter(|p| p.is_listed()).map(|p| p.id).collect();

    for sort in Sort::ALL {
        let key = |p: &Post| -> (f64, Id) {
            match sort {
                Sort::Newest | Sort::Oldest => (0.0, p.id),
                Sort::Best => (rank::best_score(p.likes, p.dislikes), p.id),
                Sort::Hot => (rank::hot_score(p.points(), p.created_at), p.id),
            }
        };
        let mut expected_roots: Vec<&Post> = now.values().filter(|p| p.depth == 0 && listed.contains(&p.id)).collect();
        expected_roots.sort_by(|a, b| key(a).partial_cmp(&key(b)).unwrap());
        if sort != Sort::Oldest {
            expected_roots.reverse();
        }

        let limits = PageLimits { roots: paging.roots_per_page, replies_per_root: paging.replies_per_root };
        let mut seen: Vec<Post> = Vec::new();
        let mut roots_seen: Vec<Id> = Vec::new();
        let mut cursor = None;
        let mut arrivals = 0;
        loop {
            let page = store.thread_roots(thread, sort, cursor, limits).await.unwrap();
            assert!(page.roots.len() <= paging.roots_per_page as usize);
            for r in &page.roots {
                roots_seen.push(r.root.id);
                seen.push(r.root.clone());
                assert!(r.replies.len() <= paging.replies_per_root as usize);
                let mut replies = r.replies.clone();
                let mut more = r
                    .more_replies
                    .then(|| ReplyCursor { path: replies.last().map(|p| p.path.clone()).unwrap_or_default() });
                if r.more_replies && replies.is_empty() {
                    more = None;
                    replies = read_all_replies(store, &r.root, None, paging.replies_per_page).await;
                }
                while let Some(c) = more.take() {
                    let next = store.post_replies(&r.root, Some(c), paging.replies_per_page).await.unwrap();
                    more = next.next.clone();
                    replies.extend(next.replies);
                }
                assert!(replies.windows(2).all(|w| w[0].path < w[1].path), "replies in tree order");
                assert!(replies.iter().all(|p| p.root_id == r.root.id));
                seen.extend(replies);
            }
            if paging.arrivals && arrivals < 2 {
                arrivals += 1;
                let root = post(store, &f, "tree", None, NOW + 1_000_000_000).await;
                if let Some(anchor) = created.iter().find(|p| now[&p.id].state == PostState::Approved) {
                    post(store, &f, "tree", Some(anchor.id), NOW + 1_000_000_000).await;
                }
                let _ = root;
            }
            match page.next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        let mut counts: HashMap<Id, usize> = HashMap::new();
        for p in &seen {
            *counts.entry(p.id).or_default() += 1;
        }
        assert!(counts.values().all(|&n| n == 1), "{sort:?}: a post appeared twice");
        for id in &listed {
            assert_eq!(counts.get(id), Some(&1), "{sort:?}: listed post {id} missing");
        }
        for p in &seen {
            assert!(listed.contains(&p.id) || !now.contains_key(&p.id), "{sort:?}: unlisted post {} shown", p.id);
        }
        let original: Vec<Id> = roots_seen.iter().copied().filter(|id| now.contains_key(id)).collect();
        let want: Vec<Id> = expected_roots.iter().map(|p| p.id).collect();
        assert_eq!(original, want, "{sort:?}: root order");
    }

    // Any node's replies, paged, are exactly its listed descendants in tree order.
    for node in now.values().filter(|p| p.is_listed()) {
        let got: Vec<Id> =
            read_all_replies(store, node, None, paging.replies_per_page).await.iter().map(|p| p.id).collect();
        let mut want: Vec<&Post> = now
            .values()
            .filter(|p| p.depth > 0 && p.path.starts_with(&node.path) && p.id != node.id && listed.contains(&p.id))
            .collect();
        want.sort_by(|a, b| a.path.cmp(&b.path));
        let want: Vec<Id> = want.iter().map(|p| p.id).collect();
        let got: Vec<Id> = got.into_iter().filter(|id| now.contains_key(id)).collect();
        assert_eq!(got, want, "replies under {}", node.id);
    }
}

async fn read_all_replies(store: &dyn Store, node: &Post, mut cursor: Option<ReplyCursor>, per_page: u32) -> Vec<Post> {
    let mut out = Vec::new();
    loop {
        let page = store.post_replies(node, cursor, per_page).await.unwrap();
        assert!(page.replies.len() <= per_page as usize);
        out.extend(page.replies);
        match page.next {
            Some(c) => cursor = Some(c),
            None => return out,
        }
    }
}
