//! Accounts, sessions and one-time links (global data).

use confab_core::id::{Id, IdGenerator, LogicalShard};
use confab_core::input::DisplayName;
use confab_core::input::{Email, Username};
use confab_core::jobs::EventKind;
use confab_core::model::{
    Account, AccountDeletion, Author, ForumPolicy, GuestAuthor, LinkPurpose, NewAccount, Role, Session, UnixMs,
    VoteValue,
};
use confab_core::secret::TokenHash;
use confab_store::{AccountData, AccountDeleted, ExportedPost, StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

use crate::rows::{self, AUTHOR_COLS, id_at, is_unique_violation, sql_err};

pub(crate) const ACCOUNT_COLS: &str = "a.id, a.username, a.email, a.email_verified_at, a.created_at, a.is_admin";

/// An account from `ACCOUNT_COLS` starting at column `o`.
pub(crate) fn account_at(row: &Row<'_>, o: usize) -> rusqlite::Result<Account> {
    Ok(Account {
        id: id_at(row, o)?,
        username: Username::from_trusted(row.get(o + 1)?),
        email: Email::from_trusted(row.get(o + 2)?),
        email_verified: row.get::<_, Option<i64>>(o + 3)?.is_some(),
        created_at: row.get(o + 4)?,
        is_admin: row.get::<_, i64>(o + 5)? != 0,
    })
}

fn account(row: &Row<'_>) -> rusqlite::Result<Account> {
    account_at(row, 0)
}

const SESSION_COLS: &str = "s.id, s.account_id, s.created_at, s.expires_at, s.forum_id";

fn session(row: &Row<'_>) -> rusqlite::Result<Session> {
    Ok(Session {
        id: id_at(row, 0)?,
        account_id: id_at(row, 1)?,
        created_at: row.get(2)?,
        expires_at: row.get(3)?,
        forum: row.get::<_, Option<i64>>(4)?.and_then(Id::from_i64),
    })
}

pub(crate) fn create(c: &mut Connection, ids: &IdGenerator, new: NewAccount, now: UnixMs) -> StoreResult<Account> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql_err)?;
    let id = ids.next(LogicalShard::GLOBAL);
    let inserted = tx
        .prepare_cached(
            "INSERT INTO accounts (id, username, username_key, email, password_hash, email_verified_at, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, NULL, ?6)",
        )
        .and_then(|mut s| {
            s.execute(params![
                id.as_i64(),
                new.username.as_str(),
                new.username.key(),
                new.email.as_str(),
                new.password_hash,
                now
            ])
        });
    match inserted {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e, "accounts.username_key") => return Err(StoreError::UsernameTaken),
        Err(e) if is_unique_violation(&e, "accounts.email") => return Err(StoreError::EmailTaken),
        Err(e) => return Err(sql_err(e)),
    }
    tx.prepare_cached(
        "INSERT INTO authors (id, kind, name, email, url, guest_key, created_at) VALUES (?1, 'account', ?2, ?3, NULL, NULL, ?4)",
    )
    .and_then(|mut s| s.execute(params![id.as_i64(), new.username.as_str(), new.email.as_str(), now]))
    .map_err(sql_err)?;
    tx.commit().map_err(sql_err)?;
    Ok(Account {
        id,
        username: new.username,
        email: new.email,
        email_verified: false,
        is_admin: false,
        created_at: now,
    })
}

pub(crate) fn get(c: &Connection, id: Id) -> StoreResult<Account> {
    c.prepare_cached(&format!("SELECT {ACCOUNT_COLS} FROM accounts a WHERE a.id = ?1"))
        .and_then(|mut s| s.query_row([id.as_i64()], account).optional())
        .map_err(sql_err)?
        .ok_or(StoreError::AccountNotFound)
}

/// The author row of an account, for a post it writes.
pub(crate) fn author(c: &Connection, id: Id) -> StoreResult<Author> {
    c.prepare_cached(&format!("SELECT {AUTHOR_COLS} FROM authors WHERE id = ?1 AND kind = 'account'"))
        .and_then(|mut s| s.query_row([id.as_i64()], rows::author).optional())
        .map_err(sql_err)?
        .ok_or(StoreError::AccountNotFound)
}

pub(crate) fn for_login(c: &Connection, login_key: &str) -> StoreResult<Option<(Account, String)>> {
    // A username never contains '@' and an email always does: at most one row matches.
    c.prepare_cached(&format!(
        "SELECT {ACCOUNT_COLS}, a.password_hash FROM accounts a WHERE a.username_key = ?1 OR a.email = ?1"
    ))
    .and_then(|mut s| s.query_row([login_key], |r| Ok((account(r)?, r.get(6)?))).optional())
    .map_err(sql_err)
}

pub(crate) fn by_username(c: &Connection, username: &Username) -> StoreResult<Option<Account>> {
    c.prepare_cached(&format!("SELECT {ACCOUNT_COLS} FROM accounts a WHERE a.username_key = ?1"))
        .and_then(|mut s| s.query_row([username.key()], account).optional())
        .map_err(sql_err)
}

pub(crate) fn set_admin(c: &Connection, id: Id, admin: bool) -> StoreResult<Account> {
    let n = c
        .prepare_cached("UPDATE accounts SET is_admin = ?2 WHERE id = ?1")
        .and_then(|mut s| s.execute(params![id.as_i64(), admin]))
        .map_err(sql_err)?;
    if n == 0 {
        return Err(StoreError::AccountNotFound);
    }
    get(c, id)
}

pub(crate) fn role_get(c: &Connection, forum: Id, account: Id) -> StoreResult<Option<Role>> {
    let role: Option<String> = c
        .prepare_cached("SELECT role FROM forum_roles WHERE forum_id = ?1 AND account_id = ?2")
        .and_then(|mut s| s.query_row(params![forum.as_i64(), account.as_i64()], |r| r.get(0)).optional())
        .map_err(sql_err)?;
    role.map(|r| Role::parse(&r).ok_or_else(|| StoreError::Internal(format!("unknown role {r:?}")))).transpose()
}

pub(crate) fn roles_of(c: &Connection, account: Id) -> StoreResult<Vec<(Id, Role)>> {
    let rows: Vec<(i64, String)> = c
        .prepare_cached(
            "SELECT r.forum_id, r.role FROM forum_roles r JOIN forums f ON f.id = r.forum_id \
             WHERE r.account_id = ?1 AND f.deleted_at IS NULL ORDER BY r.forum_id",
        )
        .and_then(|mut s| s.query_map([account.as_i64()], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
        .map_err(sql_err)?;
    rows.into_iter()
        .map(|(f, r)| {
            let forum = Id::from_i64(f).ok_or_else(|| StoreError::Internal("bad forum id".into()))?;
            let role = Role::parse(&r).ok_or_else(|| StoreError::Internal(format!("unknown role {r:?}")))?;
            Ok((forum, role))
        })
        .collect()
}

pub(crate) fn roles_list(c: &Connection, forum: Id) -> StoreResult<Vec<(Account, Role)>> {
    let mut s = c
        .prepare_cached(&format!(
            "SELECT {ACCOUNT_COLS}, r.role FROM forum_roles r JOIN accounts a ON a.id = r.account_id \
             WHERE r.forum_id = ?1 ORDER BY a.username_key"
        ))
        .map_err(sql_err)?;
    let rows: Vec<(Account, String)> =
        s.query_map([forum.as_i64()], |r| Ok((account(r)?, r.get(6)?))).and_then(Iterator::collect).map_err(sql_err)?;
    rows.into_iter()
        .map(|(a, r)| {
            Role::parse(&r).map(|r| (a, r)).ok_or_else(|| StoreError::Internal(format!("unknown role {r:?}")))
        })
        .collect()
}

/// Grants `role` (or, with `None`, removes the account's role). A forum that has owners
/// keeps at least one: removing or demoting the last is `LastOwner`.
pub(crate) fn role_set(c: &mut Connection, forum: Id, account: Id, role: Option<Role>, now: UnixMs) -> StoreResult<()> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql_err)?;
    crate::forums::get(&tx, forum)?;
    get(&tx, account)?;
    let current = role_get(&tx, forum, account)?;
    if current == Some(Role::Owner) && role != Some(Role::Owner) {
        let owners: i64 = tx
            .prepare_cached("SELECT count(*) FROM forum_roles WHERE forum_id = ?1 AND role = 'owner'")
            .and_then(|mut s| s.query_row([forum.as_i64()], |r| r.get(0)))
            .map_err(sql_err)?;
        if owners <= 1 {
            return Err(StoreError::LastOwner);
        }
    }
    match role {
        Some(role) => tx
            .prepare_cached(
                "INSERT INTO forum_roles (forum_id, account_id, role, granted_at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (forum_id, account_id) DO UPDATE SET role = excluded.role, granted_at = excluded.granted_at",
            )
            .and_then(|mut s| s.execute(params![forum.as_i64(), account.as_i64(), role.as_str(), now])),
        None => tx
            .prepare_cached("DELETE FROM forum_roles WHERE forum_id = ?1 AND account_id = ?2")
            .and_then(|mut s| s.execute(params![forum.as_i64(), account.as_i64()])),
    }
    .map_err(sql_err)?;
    tx.commit().map_err(sql_err)
}

pub(crate) fn data(c: &Connection, account: Id, voter: TokenHash) -> StoreResult<AccountData> {
    let mut s = c
        .prepare_cached(&format!(
            "SELECT f.shortname, t.identifier, t.url, {cols} FROM posts p \
             JOIN threads t ON t.id = p.thread_id JOIN forums f ON f.id = p.forum_id \
             WHERE p.author_id = ?1 ORDER BY p.id",
            cols = crate::rows::POST_COLS.split(", ").map(|c| format!("p.{}", c.trim())).collect::<Vec<_>>().join(", ")
        ))
        .map_err(sql_err)?;
    let posts = s
        .query_map([account.as_i64()], |r| {
            Ok(ExportedPost {
                forum: r.get(0)?,
                thread_identifier: r.get(1)?,
                thread_url: r.get(2)?,
                post: crate::rows::post_at(r, 3)?,
            })
        })
        .and_then(Iterator::collect)
        .map_err(sql_err)?;
    let mut s = c
        .prepare_cached(
            "SELECT f.shortname, r.role FROM forum_roles r JOIN forums f ON f.id = r.forum_id \
             WHERE r.account_id = ?1 AND f.deleted_at IS NULL ORDER BY f.shortname",
        )
        .map_err(sql_err)?;
    let roles: Vec<(String, String)> =
        s.query_map([account.as_i64()], |r| Ok((r.get(0)?, r.get(1)?))).and_then(Iterator::collect).map_err(sql_err)?;
    let roles = roles
        .into_iter()
        .map(|(f, r)| {
            Role::parse(&r).map(|r| (f, r)).ok_or_else(|| StoreError::Internal(format!("unknown role {r:?}")))
        })
        .collect::<StoreResult<Vec<_>>>()?;
    let mut s = c
        .prepare_cached("SELECT post_id, value, created_at FROM votes WHERE voter = ?1 ORDER BY created_at")
        .map_err(sql_err)?;
    let votes = s
        .query_map([&voter.0[..]], |r| {
            let value = VoteValue::from_i64(r.get(1)?).unwrap_or(VoteValue::Clear);
            Ok((id_at(r, 0)?, value, r.get(2)?))
        })
        .and_then(Iterator::collect)
        .map_err(sql_err)?;
    Ok(AccountData { posts, roles, votes })
}

pub(crate) fn delete(c: &mut Connection, ids: &IdGenerator, account: Id, now: UnixMs) -> StoreResult<AccountDeleted> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql_err)?;
    get(&tx, account)?;
    let sole_owner: Option<String> = tx
        .prepare_cached(
            "SELECT f.shortname FROM forum_roles r JOIN forums f ON f.id = r.forum_id \
             WHERE r.account_id = ?1 AND r.role = 'owner' \
             AND (SELECT count(*) FROM forum_roles o WHERE o.forum_id = r.forum_id AND o.role = 'owner') = 1 LIMIT 1",
        )
        .and_then(|mut s| s.query_row([account.as_i64()], |r| r.get(0)).optional())
        .map_err(sql_err)?;
    if sole_owner.is_some() {
        return Err(StoreError::LastOwner);
    }
    // Each forum's policy decides for the posts there.
    let mut s = tx
        .prepare_cached(
            "SELECT p.id, f.policy, p.forum_id, p.thread_id FROM posts p JOIN forums f ON f.id = p.forum_id \
             WHERE p.author_id = ?1",
        )
        .map_err(sql_err)?;
    let posts: Vec<(Id, String, Id, Id)> = s
        .query_map([account.as_i64()], |r| Ok((id_at(r, 0)?, r.get(1)?, id_at(r, 2)?, id_at(r, 3)?)))
        .and_then(Iterator::collect)
        .map_err(sql_err)?;
    drop(s);
    let anonymous = crate::posts::upsert_guest(
        &tx,
        ids,
        GuestAuthor { name: DisplayName::from_trusted("Deleted account".into()), email: None, url: None },
        now,
    )?;
    let mut done = AccountDeleted::default();
    for (id, policy, forum, thread) in posts {
        if !done.threads.contains(&thread) {
            done.threads.push(thread);
        }
        let policy: ForumPolicy = serde_json::from_str(&policy).map_err(|e| StoreError::Internal(e.to_string()))?;
        match policy.on_account_delete {
            AccountDeletion::Remove => {
                // Erased first, so the post.deleted event carries no trace of the text.
                tx.prepare_cached("UPDATE posts SET message = '', html = '' WHERE id = ?1")
                    .and_then(|mut s| s.execute([id.as_i64()]))
                    .map_err(sql_err)?;
                // Queued and finished work about the post quotes its text (event
                // snapshots, webhook bodies): it goes too, before the erasure's own event.
                tx.prepare_cached(
                    "DELETE FROM outbox WHERE json_extract(task, '$.post') = ?1 \
                     OR json_extract(json_extract(task, '$.body'), '$.post.id') = ?1",
                )
                .and_then(|mut s| s.execute([id.to_string()]))
                .map_err(sql_err)?;
                crate::posts::delete_in(&tx, ids, id, now)?;
                done.posts_removed += 1;
            }
            AccountDeletion::Anonymize => {
                let task = confab_core::jobs::Task::Event {
                    event: EventKind::PostUpdated,
                    thread,
                    post: Some(id),
                    snapshot: None,
                };
                crate::outbox::enqueue(&tx, ids, &confab_store::NewJob { forum_id: forum, task, run_at: now }, now)?;
                done.posts_anonymized += 1
            }
        }
        // Either way nothing links the post to the person any more.
        tx.prepare_cached("UPDATE posts SET author_id = ?2, edit_token = NULL, net_hash = NULL WHERE id = ?1")
            .and_then(|mut s| s.execute(params![id.as_i64(), anonymous.id.as_i64()]))
            .map_err(sql_err)?;
    }
    tx.prepare_cached("DELETE FROM authors WHERE id = ?1 AND kind = 'account'")
        .and_then(|mut s| s.execute([account.as_i64()]))
        .map_err(sql_err)?;
    // Sessions, mailed links and roles go with it (ON DELETE CASCADE).
    tx.prepare_cached("DELETE FROM accounts WHERE id = ?1")
        .and_then(|mut s| s.execute([account.as_i64()]))
        .map_err(sql_err)?;
    tx.commit().map_err(sql_err)?;
    Ok(done)
}

pub(crate) fn by_email(c: &Connection, email: &Email) -> StoreResult<Option<Account>> {
    c.prepare_cached(&format!("SELECT {ACCOUNT_COLS} FROM accounts a WHERE a.email = ?1"))
        .and_then(|mut s| s.query_row([email.as_str()], account).optional())
        .map_err(sql_err)
}

pub(crate) fn link_create(
    c: &mut Connection,
    token: TokenHash,
    account: Id,
    purpose: LinkPurpose,
    email: &Email,
    now: UnixMs,
    expires_at: UnixMs,
) -> StoreResult<()> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql_err)?;
    tx.prepare_cached("DELETE FROM account_links WHERE account_id = ?1 AND expires_at <= ?2")
        .and_then(|mut s| s.execute(params![account.as_i64(), now]))
        .map_err(sql_err)?;
    tx.prepare_cached(
        "INSERT INTO account_links (token_hash, account_id, purpose, email, created_at, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut s| {
        s.execute(params![&token.0[..], account.as_i64(), purpose.as_str(), email.as_str(), now, expires_at])
    })
    .map_err(sql_err)?;
    tx.commit().map_err(sql_err)
}

/// Deletes the link (whatever its state: a link is tried once) and returns its account
/// if it was live, of this purpose, and sent to the account's current address.
fn consume_link(tx: &Connection, token: TokenHash, purpose: LinkPurpose, now: UnixMs) -> StoreResult<Account> {
    let link: Option<(i64, String, String, i64)> = tx
        .prepare_cached(
            "DELETE FROM account_links WHERE token_hash = ?1 RETURNING account_id, purpose, email, expires_at",
        )
        .and_then(|mut s| s.query_row([&token.0[..]], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))).optional())
        .map_err(sql_err)?;
    let Some((account_id, p, email, expires_at)) = link else {
        return Err(StoreError::LinkInvalid);
    };
    if p != purpose.as_str() || expires_at <= now {
        return Err(StoreError::LinkInvalid);
    }
    let account = get(tx, Id::from_i64(account_id).ok_or(StoreError::LinkInvalid)?)?;
    if account.email.as_str() != email {
        return Err(StoreError::LinkInvalid);
    }
    Ok(account)
}

fn mark_verified(tx: &Connection, mut account: Account, now: UnixMs) -> StoreResult<Account> {
    if !account.email_verified {
        tx.prepare_cached("UPDATE accounts SET email_verified_at = ?2 WHERE id = ?1")
            .and_then(|mut s| s.execute(params![account.id.as_i64(), now]))
            .map_err(sql_err)?;
        account.email_verified = true;
    }
    Ok(account)
}

pub(crate) fn verify_email(c: &mut Connection, token: TokenHash, now: UnixMs) -> StoreResult<Account> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql_err)?;
    // An invalid link is still deleted (it was tried): commit either way.
    let result = consume_link(&tx, token, LinkPurpose::Verify, now).and_then(|a| mark_verified(&tx, a, now));
    tx.commit().map_err(sql_err)?;
    result
}

pub(crate) fn reset_password(
    c: &mut Connection,
    token: TokenHash,
    password_hash: String,
    now: UnixMs,
) -> StoreResult<Account> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql_err)?;
    let account = match consume_link(&tx, token, LinkPurpose::Reset, now) {
        Ok(a) => a,
        Err(e) => {
            tx.commit().map_err(sql_err)?;
            return Err(e);
        }
    };
    let id = account.id.as_i64();
    tx.prepare_cached("UPDATE accounts SET password_hash = ?2 WHERE id = ?1")
        .and_then(|mut s| s.execute(params![id, password_hash]))
        .map_err(sql_err)?;
    // Every other reset link of the account dies with this one, and every session: a
    // reset is what someone does when they think another has their password.
    tx.prepare_cached("DELETE FROM account_links WHERE account_id = ?1 AND purpose = 'reset'")
        .and_then(|mut s| s.execute([id]))
        .map_err(sql_err)?;
    tx.prepare_cached("DELETE FROM sessions WHERE account_id = ?1")
        .and_then(|mut s| s.execute([id]))
        .map_err(sql_err)?;
    let account = mark_verified(&tx, account, now)?;
    tx.commit().map_err(sql_err)?;
    Ok(account)
}

pub(crate) fn session_create(
    c: &mut Connection,
    ids: &IdGenerator,
    account: Id,
    token: TokenHash,
    now: UnixMs,
    expires_at: UnixMs,
    forum: Option<Id>,
) -> StoreResult<Session> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql_err)?;
    tx.prepare_cached("DELETE FROM sessions WHERE account_id = ?1 AND expires_at <= ?2")
        .and_then(|mut s| s.execute(params![account.as_i64(), now]))
        .map_err(sql_err)?;
    let id = ids.next(LogicalShard::GLOBAL);
    let inserted = tx
        .prepare_cached(
            "INSERT INTO sessions (id, token_hash, account_id, created_at, expires_at, forum_id) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .and_then(|mut s| {
            s.execute(params![id.as_i64(), &token.0[..], account.as_i64(), now, expires_at, forum.map(Id::as_i64)])
        });
    match inserted {
        Ok(_) => {}
        Err(rusqlite::Error::SqliteFailure(f, _)) if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY => {
            return Err(StoreError::AccountNotFound);
        }
        Err(e) => return Err(sql_err(e)),
    }
    tx.commit().map_err(sql_err)?;
    Ok(Session { id, account_id: account, created_at: now, expires_at, forum })
}

pub(crate) fn session_lookup(c: &Connection, token: TokenHash, now: UnixMs) -> StoreResult<Option<(Session, Account)>> {
    c.prepare_cached(&format!(
        "SELECT {SESSION_COLS}, {ACCOUNT_COLS} FROM sessions s JOIN accounts a ON a.id = s.account_id \
         WHERE s.token_hash = ?1 AND s.expires_at > ?2"
    ))
    .and_then(|mut s| s.query_row(params![&token.0[..], now], |r| Ok((session(r)?, account_at(r, 5)?))).optional())
    .map_err(sql_err)
}

pub(crate) fn session_list(c: &Connection, account: Id, now: UnixMs) -> StoreResult<Vec<Session>> {
    let mut s = c
        .prepare_cached(&format!(
            "SELECT {SESSION_COLS} FROM sessions s WHERE s.account_id = ?1 AND s.expires_at > ?2 ORDER BY s.id DESC"
        ))
        .map_err(sql_err)?;
    s.query_map(params![account.as_i64(), now], session).and_then(Iterator::collect).map_err(sql_err)
}

pub(crate) fn session_revoke(c: &Connection, account: Id, session: Id) -> StoreResult<()> {
    let n = c
        .prepare_cached("DELETE FROM sessions WHERE id = ?1 AND account_id = ?2")
        .and_then(|mut s| s.execute(params![session.as_i64(), account.as_i64()]))
        .map_err(sql_err)?;
    if n == 1 { Ok(()) } else { Err(StoreError::SessionNotFound) }
}
