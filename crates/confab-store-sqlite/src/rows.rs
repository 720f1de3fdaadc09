//! Row ↔ domain mapping. Values were parsed on the way in, so they are re-wrapped
//! with `from_trusted`; a value that cannot be mapped back means a corrupt row and
//! surfaces as an internal error, never as a panic.

use confab_core::id::{Id, LogicalShard};
use confab_core::input::{DisplayName, Email, Identifier, Message, Origin, Shortname, Title, WebUrl};
use confab_core::model::{Author, AuthorKind, Forum, Post, PostState, Thread};
use confab_store::StoreError;
use rusqlite::types::Type;
use rusqlite::{Error as SqlError, Row};

fn bad(idx: usize, what: &str) -> SqlError {
    SqlError::FromSqlConversionFailure(idx, Type::Integer, what.to_owned().into())
}

pub(crate) fn id_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<Id> {
    Id::from_i64(row.get(idx)?).ok_or_else(|| bad(idx, "invalid id"))
}

fn opt_id_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<Id>> {
    row.get::<_, Option<i64>>(idx)?.map(|v| Id::from_i64(v).ok_or_else(|| bad(idx, "invalid id"))).transpose()
}

pub(crate) const FORUM_COLS: &str = "id, shortname, name, origins, policy, shard, created_at";

pub(crate) fn forum(row: &Row<'_>) -> rusqlite::Result<Forum> {
    let origins: Vec<String> = serde_json::from_str(&row.get::<_, String>(3)?).map_err(|_| bad(3, "origins"))?;
    Ok(Forum {
        id: id_at(row, 0)?,
        shortname: Shortname::from_trusted(row.get(1)?),
        name: DisplayName::from_trusted(row.get(2)?),
        origins: origins.into_iter().map(Origin::from_trusted).collect(),
        policy: serde_json::from_str(&row.get::<_, String>(4)?).map_err(|_| bad(4, "policy"))?,
        shard: LogicalShard::new(row.get(5)?).ok_or_else(|| bad(5, "shard"))?,
        created_at: row.get(6)?,
    })
}

pub(crate) const THREAD_COLS: &str =
    "id, forum_id, identifier, url, title, closed, posts, created_at, pinned_post_id, version";

pub(crate) fn thread(row: &Row<'_>) -> rusqlite::Result<Thread> {
    Ok(Thread {
        id: id_at(row, 0)?,
        forum_id: id_at(row, 1)?,
        identifier: Identifier::from_trusted(row.get(2)?),
        url: row.get::<_, Option<String>>(3)?.map(WebUrl::from_trusted),
        title: row.get::<_, Option<String>>(4)?.map(Title::from_trusted),
        closed: row.get(5)?,
        posts: row.get(6)?,
        created_at: row.get(7)?,
        pinned: opt_id_at(row, 8)?,
        version: row.get::<_, i64>(9)? as u64,
    })
}

pub(crate) const AUTHOR_COLS: &str = "id, kind, name, email, url, avatar_url, sso_forum, sso_id";

pub(crate) fn author(row: &Row<'_>) -> rusqlite::Result<Author> {
    let kind = match row.get_ref(1)?.as_str()? {
        "guest" => AuthorKind::Guest,
        "account" => AuthorKind::Account,
        "sso" => AuthorKind::Sso,
        _ => return Err(bad(1, "author kind")),
    };
    Ok(Author {
        id: id_at(row, 0)?,
        kind,
        name: DisplayName::from_trusted(row.get(2)?),
        email: row.get::<_, Option<String>>(3)?.map(Email::from_trusted),
        url: row.get::<_, Option<String>>(4)?.map(WebUrl::from_trusted),
        avatar_url: row.get::<_, Option<String>>(5)?.map(WebUrl::from_trusted),
        sso: match (opt_id_at(row, 6)?, row.get::<_, Option<String>>(7)?) {
            (Some(forum), Some(id)) => Some((forum, id)),
            _ => None,
        },
    })
}

pub(crate) const POST_COLS: &str = "id, forum_id, thread_id, parent_id, root_id, depth, path, author_id, message, html, \
     state, likes, dislikes, descendants, created_at, edited_at, highlighted, flags";

/// How many columns `POST_COLS` names (further columns of a query start here).
pub(crate) const POST_NCOLS: usize = 18;

pub(crate) fn post(row: &Row<'_>) -> rusqlite::Result<Post> {
    post_at(row, 0)
}

/// A post from `POST_COLS` starting at column `o`.
pub(crate) fn post_at(row: &Row<'_>, o: usize) -> rusqlite::Result<Post> {
    Ok(Post {
        id: id_at(row, o)?,
        forum_id: id_at(row, o + 1)?,
        thread_id: id_at(row, o + 2)?,
        parent_id: opt_id_at(row, o + 3)?,
        root_id: id_at(row, o + 4)?,
        depth: row.get(o + 5)?,
        path: row.get(o + 6)?,
        author_id: id_at(row, o + 7)?,
        message: Message::from_trusted(row.get(o + 8)?),
        html: row.get(o + 9)?,
        state: PostState::from_code(row.get(o + 10)?).ok_or_else(|| bad(o + 10, "post state"))?,
        likes: row.get(o + 11)?,
        dislikes: row.get(o + 12)?,
        descendants: row.get(o + 13)?,
        created_at: row.get(o + 14)?,
        edited_at: row.get(o + 15)?,
        highlighted: row.get(o + 16)?,
        flags: row.get(o + 17)?,
    })
}

/// Maps a driver error: lock time-outs are an unavailable backend (503), the rest
/// internal (500). Constraint violations are mapped by the caller that knows which
/// constraint means what.
pub(crate) fn sql_err(e: SqlError) -> StoreError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            StoreError::Unavailable("database is busy".into())
        }
        Some(rusqlite::ErrorCode::DiskFull) => StoreError::Fault(confab_store::StorageFault::Full),
        Some(rusqlite::ErrorCode::ReadOnly) => StoreError::Fault(confab_store::StorageFault::ReadOnly),
        _ => StoreError::Internal(e.to_string()),
    }
}

/// Whether `e` violates the unique constraint on exactly `columns` (as SQLite names
/// them, e.g. `forums.shortname`). A collision on another key (an id) is not "exists".
pub(crate) fn is_unique_violation(e: &SqlError, columns: &str) -> bool {
    matches!(e, SqlError::SqliteFailure(f, Some(msg))
        if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
            && msg.strip_prefix("UNIQUE constraint failed: ") == Some(columns))
}

#[cfg(test)]
mod tests {
    use super::*;
    use confab_store::StorageFault;
    use rusqlite::{Connection, OpenFlags};

    #[test]
    fn a_full_database_and_a_read_only_one_are_storage_faults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let c = Connection::open(&path).unwrap();
        c.execute_batch("CREATE TABLE t (v BLOB); INSERT INTO t VALUES (zeroblob(100));").unwrap();
        // SQLite's own size cap: the next page it needs is refused as a full disk would be.
        let pages: i64 = c.pragma_query_value(None, "page_count", |r| r.get(0)).unwrap();
        c.pragma_update(None, "max_page_count", pages).unwrap();
        let e = c.execute("INSERT INTO t VALUES (zeroblob(100000))", []).unwrap_err();
        assert!(matches!(sql_err(e), StoreError::Fault(StorageFault::Full)));
        drop(c);
        let ro = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        let e = ro.execute("INSERT INTO t VALUES (x'00')", []).unwrap_err();
        assert!(matches!(sql_err(e), StoreError::Fault(StorageFault::ReadOnly)));
    }
}
