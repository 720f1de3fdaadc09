//! Row ↔ domain mapping, as the embedded store's: values were parsed on the way in and
//! are re-wrapped with `from_trusted`; a row that cannot be mapped back is an internal
//! error, never a panic. Column lists cast to the Rust types read (`state::int8`).

use confab_core::id::LogicalShard;
use confab_core::input::Username;
use confab_core::input::{DisplayName, Email, Identifier, Message, Origin, Shortname, Title, WebUrl};
use confab_core::model::{Account, Author, AuthorKind, Forum, Post, PostState, Session, Thread};
use confab_store::{StoreError, StoreResult};
use tokio_postgres::Row;

use crate::sql::{col, id_col, opt_id_col};

fn bad(what: &str) -> StoreError {
    StoreError::Internal(format!("corrupt row: {what}"))
}

pub(crate) const FORUM_COLS: &str = "id, shortname, name, origins::text, policy::text, shard, created_at";

pub(crate) fn forum(r: &Row) -> StoreResult<Forum> {
    let origins: Vec<String> = serde_json::from_str(col(r, 3)?).map_err(|_| bad("origins"))?;
    Ok(Forum {
        id: id_col(r, 0)?,
        shortname: Shortname::from_trusted(col(r, 1)?),
        name: DisplayName::from_trusted(col(r, 2)?),
        origins: origins.into_iter().map(Origin::from_trusted).collect(),
        policy: serde_json::from_str(col(r, 4)?).map_err(|_| bad("policy"))?,
        shard: u16::try_from(col::<i32>(r, 5)?).ok().and_then(LogicalShard::new).ok_or_else(|| bad("shard"))?,
        created_at: col(r, 6)?,
    })
}

pub(crate) const THREAD_COLS: &str =
    "id, forum_id, identifier, url, title, closed, posts, created_at, pinned_post_id, version";

pub(crate) fn thread(r: &Row) -> StoreResult<Thread> {
    Ok(Thread {
        id: id_col(r, 0)?,
        forum_id: id_col(r, 1)?,
        identifier: Identifier::from_trusted(col(r, 2)?),
        url: col::<Option<String>>(r, 3)?.map(WebUrl::from_trusted),
        title: col::<Option<String>>(r, 4)?.map(Title::from_trusted),
        closed: col(r, 5)?,
        posts: col(r, 6)?,
        created_at: col(r, 7)?,
        pinned: opt_id_col(r, 8)?,
        version: col::<i64>(r, 9)? as u64,
    })
}

pub(crate) const AUTHOR_COLS: &str = "id, kind, name, email, url, avatar_url, sso_forum, sso_id";

pub(crate) fn author(r: &Row) -> StoreResult<Author> {
    let kind = match col::<&str>(r, 1)? {
        "guest" => AuthorKind::Guest,
        "account" => AuthorKind::Account,
        "sso" => AuthorKind::Sso,
        _ => return Err(bad("author kind")),
    };
    Ok(Author {
        id: id_col(r, 0)?,
        kind,
        name: DisplayName::from_trusted(col(r, 2)?),
        email: col::<Option<String>>(r, 3)?.map(Email::from_trusted),
        url: col::<Option<String>>(r, 4)?.map(WebUrl::from_trusted),
        avatar_url: col::<Option<String>>(r, 5)?.map(WebUrl::from_trusted),
        sso: match (opt_id_col(r, 6)?, col::<Option<String>>(r, 7)?) {
            (Some(forum), Some(id)) => Some((forum, id)),
            _ => None,
        },
    })
}

pub(crate) const POST_COLS: &str = "id, forum_id, thread_id, parent_id, root_id, depth::int8, path, author_id, message, \
     html, state::int8, likes, dislikes, descendants, created_at, edited_at, highlighted, flags";

/// How many columns `POST_COLS` names (further columns of a query start here).
pub(crate) const POST_NCOLS: usize = 18;

/// `POST_COLS` with every column qualified by `alias`.
pub(crate) fn post_cols_of(alias: &str) -> String {
    POST_COLS.split(", ").map(|c| format!("{alias}.{}", c.trim())).collect::<Vec<_>>().join(", ")
}

pub(crate) fn post(r: &Row) -> StoreResult<Post> {
    post_at(r, 0)
}

/// A post from `POST_COLS` starting at column `o`.
pub(crate) fn post_at(r: &Row, o: usize) -> StoreResult<Post> {
    Ok(Post {
        id: id_col(r, o)?,
        forum_id: id_col(r, o + 1)?,
        thread_id: id_col(r, o + 2)?,
        parent_id: opt_id_col(r, o + 3)?,
        root_id: id_col(r, o + 4)?,
        depth: u32::try_from(col::<i64>(r, o + 5)?).map_err(|_| bad("depth"))?,
        path: col(r, o + 6)?,
        author_id: id_col(r, o + 7)?,
        message: Message::from_trusted(col(r, o + 8)?),
        html: col(r, o + 9)?,
        state: PostState::from_code(col(r, o + 10)?).ok_or_else(|| bad("post state"))?,
        likes: col(r, o + 11)?,
        dislikes: col(r, o + 12)?,
        descendants: col(r, o + 13)?,
        created_at: col(r, o + 14)?,
        edited_at: col(r, o + 15)?,
        highlighted: col(r, o + 16)?,
        flags: col(r, o + 17)?,
    })
}

pub(crate) const ACCOUNT_COLS: &str = "a.id, a.username, a.email, a.email_verified_at, a.created_at, a.is_admin";

/// An account from `ACCOUNT_COLS` starting at column `o`.
pub(crate) fn account_at(r: &Row, o: usize) -> StoreResult<Account> {
    Ok(Account {
        id: id_col(r, o)?,
        username: Username::from_trusted(col(r, o + 1)?),
        email: Email::from_trusted(col(r, o + 2)?),
        email_verified: col::<Option<i64>>(r, o + 3)?.is_some(),
        created_at: col(r, o + 4)?,
        is_admin: col(r, o + 5)?,
    })
}

pub(crate) fn account(r: &Row) -> StoreResult<Account> {
    account_at(r, 0)
}

pub(crate) const SESSION_COLS: &str = "s.id, s.account_id, s.created_at, s.expires_at, s.forum_id";

pub(crate) fn session(r: &Row) -> StoreResult<Session> {
    Ok(Session {
        id: id_col(r, 0)?,
        account_id: id_col(r, 1)?,
        created_at: col(r, 2)?,
        expires_at: col(r, 3)?,
        forum: col::<Option<i64>>(r, 4)?.and_then(confab_core::id::Id::from_i64),
    })
}

/// Maps every row with `f`.
pub(crate) fn all<T>(rows: &[Row], f: impl Fn(&Row) -> StoreResult<T>) -> StoreResult<Vec<T>> {
    rows.iter().map(f).collect()
}
