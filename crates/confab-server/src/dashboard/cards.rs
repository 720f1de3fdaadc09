//! Posts as the dashboard's cards: who wrote each, its state and marks, what the spam
//! filter said, and which of the moderator's buttons apply. Drawn by the `post_list`
//! macro of `templates/dashboard/posts.html`.

use std::collections::HashMap;

use confab_core::id::Id;
use confab_core::model::{Author, AuthorKind, Forum, Post, PostState};
use confab_store::SpamRecord;
use minijinja::Value;
use serde::Serialize;

use crate::AppState;
use crate::error::ApiError;
use crate::views::rfc3339;

/// A list of cards, and what its forms carry back.
#[derive(Serialize)]
pub(super) struct PostList {
    shortname: String,
    pub csrf: String,
    pub back: String,
    cards: Vec<Card>,
}

#[derive(Serialize)]
struct Card {
    id: String,
    state: &'static str,
    thread: String,
    /// The sanitised rendering made when the post was written: safe as it is.
    html: Value,
    at: String,
    at_short: String,
    author: Option<CardAuthor>,
    flags: i64,
    highlighted: bool,
    /// The spam filter's verdict and score, unless it simply let the post through.
    filter: Option<String>,
    buttons: Vec<Button>,
    /// After acting on this post, the page comes back at this one.
    next: Option<String>,
}

#[derive(Serialize)]
struct CardAuthor {
    id: String,
    name: String,
    kind: &'static str,
    email: Option<String>,
}

#[derive(Serialize)]
struct Button {
    action: &'static str,
    label: &'static str,
    key: Option<&'static str>,
}

/// What cards show beside their posts: the authors, and the spam filter's verdicts.
pub(super) struct CardInfo {
    pub authors: HashMap<Id, Author>,
    pub verdicts: HashMap<Id, SpamRecord>,
}

impl CardInfo {
    /// Two statements for a whole list, whatever its length.
    pub async fn of(state: &AppState, forum: &Forum, posts: &[Post]) -> Result<CardInfo, ApiError> {
        let ids: Vec<Id> = posts.iter().map(|p| p.author_id).collect();
        let authors = state.store.authors_get_many(&ids).await?.into_iter().map(|a| (a.id, a)).collect();
        Ok(CardInfo { authors, verdicts: verdicts_of(state, forum, posts).await? })
    }
}

pub(super) async fn verdicts_of(
    state: &AppState,
    forum: &Forum,
    posts: &[Post],
) -> Result<HashMap<Id, SpamRecord>, ApiError> {
    let ids: Vec<Id> = posts.iter().map(|p| p.id).collect();
    Ok(state.store.spam_verdicts(forum.id, &ids).await?.into_iter().collect())
}

pub(super) fn state_label(s: PostState) -> &'static str {
    match s {
        PostState::Pending => "pending",
        PostState::Approved => "approved",
        PostState::Spam => "spam",
        PostState::Deleted => "deleted",
        PostState::Shadow => "shadow",
    }
}

impl PostList {
    pub fn new(forum: &Forum, posts: &[Post], info: &CardInfo, csrf: String, back: String) -> PostList {
        let cards = posts
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let next = posts.get(i + 1).or_else(|| i.checked_sub(1).and_then(|j| posts.get(j)));
                card(p, info, next.map(|n| n.id))
            })
            .collect();
        PostList { shortname: forum.shortname.as_str().to_owned(), csrf, back, cards }
    }
}

fn card(p: &Post, info: &CardInfo, next: Option<Id>) -> Card {
    let author = info.authors.get(&p.author_id).map(|a| CardAuthor {
        id: a.id.to_string(),
        name: a.name.as_str().to_owned(),
        kind: match a.kind {
            AuthorKind::Guest => "guest",
            AuthorKind::Account => "account",
            AuthorKind::Sso => "SSO",
        },
        email: a.email.as_ref().map(|e| e.as_str().to_owned()),
    });
    let filter = info
        .verdicts
        .get(&p.id)
        .filter(|v| v.action != confab_core::spam::Action::Approve || !v.reasons.is_empty())
        .map(|v| {
            let why: Vec<String> = v.reasons.iter().map(|r| r.replace('_', " ")).collect();
            let why = if why.is_empty() { String::new() } else { format!(" ({})", why.join(", ")) };
            format!("{} {:.3}{why}", v.action.as_str(), v.score)
        });
    let s = p.state;
    let button = |action, label, key, show: bool| show.then_some(Button { action, label, key });
    let buttons = [
        button("approve", "Approve", Some("a"), s != PostState::Approved || p.flags > 0),
        button("spam", "Spam", Some("s"), s != PostState::Spam),
        button("delete", "Delete", Some("d"), s != PostState::Deleted),
        button("hold", "Hold", None, s == PostState::Approved),
        button("highlight", "Highlight", None, s == PostState::Approved && !p.highlighted),
        button("unhighlight", "Unhighlight", None, p.highlighted),
        button("pin", "Pin", None, s == PostState::Approved),
    ]
    .into_iter()
    .flatten()
    .collect();
    Card {
        id: p.id.to_string(),
        state: state_label(s),
        thread: p.thread_id.to_string(),
        html: Value::from_safe_string(p.html.clone()),
        at: rfc3339(p.created_at),
        at_short: super::minute(p.created_at),
        author,
        flags: p.flags,
        highlighted: p.highlighted,
        filter,
        buttons,
        next: next.map(|n| n.to_string()),
    }
}
