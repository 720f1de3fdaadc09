//! The global database: settings, forums and their keys and roles, accounts with their
//! sessions and mailed links, and authors.

use confab_core::id::{Id, IdGenerator, LogicalShard};
use confab_core::input::{Email, Username};
use confab_core::keys::guest_key;
use confab_core::model::{
    Account, Author, AuthorKind, Forum, ForumKeys, ForumUpdate, GuestAuthor, LinkPurpose, NewAccount, NewForum, Role,
    Session, UnixMs,
};
use confab_core::secret::TokenHash;
use confab_core::sso::SsoUser;
use confab_store::id_nodes::IdNodeLease;
use confab_store::{LiveChange, LiveEntry, LiveKind, LiveTable, StoreError, StoreResult};
use tokio_postgres::{Client, GenericClient};

use super::placing;
use super::rows::{self, ACCOUNT_COLS, AUTHOR_COLS, FORUM_COLS, SESSION_COLS};
use crate::sql::{args, begin, col, commit, db_err, exec, one, opt, rows as query, try_rows, unique_violation};

pub(crate) const ADMIN_TOKEN: &str = "admin_token_sha256";

// ---- settings ----

pub(crate) async fn setting(c: &impl GenericClient, name: &str) -> StoreResult<Option<Vec<u8>>> {
    opt(c, "SELECT value FROM settings WHERE name = $1", args![name]).await?.map(|r| col(&r, 0)).transpose()
}

pub(crate) async fn setting_insert(c: &impl GenericClient, name: &str, value: &[u8]) -> StoreResult<bool> {
    let n = exec(
        c,
        "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING RETURNING 1",
        args![name, value],
    )
    .await?;
    Ok(n == 1)
}

pub(crate) async fn setting_set(c: &impl GenericClient, name: &str, value: &[u8]) -> StoreResult<()> {
    exec(
        c,
        "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        args![name, value],
    )
    .await
    .map(drop)
}

// ---- id nodes (see confab_store::id_nodes) ----

pub(crate) async fn id_node_acquire(
    c: &impl GenericClient,
    holder: &str,
    now: u64,
    until: u64,
) -> StoreResult<IdNodeLease> {
    // SKIP LOCKED: processes starting at once each take a different node, none waits.
    let row = opt(
        c,
        "WITH pick AS (SELECT node, until_ms, high_ms FROM id_nodes WHERE until_ms < $1 \
                       ORDER BY until_ms, node LIMIT 1 FOR UPDATE SKIP LOCKED) \
         UPDATE id_nodes n SET holder = $2, until_ms = $3 FROM pick WHERE n.node = pick.node \
         RETURNING n.node, pick.until_ms, pick.high_ms",
        args![now as i64, holder, until as i64],
    )
    .await?
    .ok_or_else(|| StoreError::Unavailable("every id node is leased: too many processes share this topology".into()))?;
    let (node, prev_until, high): (i16, i64, i64) = (col(&row, 0)?, col(&row, 1)?, col(&row, 2)?);
    Ok(IdNodeLease::after(node as u16, prev_until as u64, high as u64))
}

pub(crate) async fn id_node_renew(
    c: &impl GenericClient,
    node: u16,
    holder: &str,
    high: u64,
    until: u64,
) -> StoreResult<bool> {
    let n = exec(
        c,
        "UPDATE id_nodes SET until_ms = $4, high_ms = GREATEST(high_ms, $3) WHERE node = $1 AND holder = $2 RETURNING 1",
        args![node as i16, holder, high as i64, until as i64],
    )
    .await?;
    Ok(n == 1)
}

pub(crate) async fn id_node_release(c: &impl GenericClient, node: u16, holder: &str, high: u64) -> StoreResult<()> {
    exec(
        c,
        "UPDATE id_nodes SET holder = NULL, until_ms = 0, high_ms = GREATEST(high_ms, $3) \
         WHERE node = $1 AND holder = $2 RETURNING 1",
        args![node as i16, holder, high as i64],
    )
    .await
    .map(drop)
}

// ---- forums ----

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("plain data serialises")
}

/// Creates a forum on the logical shard [`placing::shard_for_new_forum`] chooses (for a
/// pinned forum, a shard of its own, placed on its cluster in the same transaction).
pub(crate) async fn forum_create(
    c: &mut Client,
    ids: &IdGenerator,
    f: NewForum,
    now: UnixMs,
    placement: placing::Placement<'_>,
) -> StoreResult<Forum> {
    let tx = begin(c).await?;
    let shard = placing::shard_for_new_forum(&tx, f.shortname.as_str(), placement).await?;
    let forum = Forum {
        id: ids.next(shard),
        shortname: f.shortname,
        name: f.name,
        origins: f.origins,
        policy: f.policy,
        shard,
        created_at: now,
    };
    let origins: Vec<&str> = forum.origins.iter().map(|o| o.as_str()).collect();
    let inserted = try_rows(
        &tx,
        "INSERT INTO forums (id, shortname, name, origins, policy, shard, created_at) \
         VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6, $7)",
        args![
            forum.id.as_i64(),
            forum.shortname.as_str(),
            forum.name.as_str(),
            json(&origins),
            json(&forum.policy),
            i32::from(forum.shard.get()),
            now
        ],
    )
    .await;
    match inserted {
        Ok(_) => {}
        Err(e) if unique_violation(&e) == Some("forums_shortname_key") => return Err(StoreError::ForumExists),
        Err(e) => return Err(db_err(e)),
    }
    set_keys(&tx, forum.id, &ForumKeys::generate(now)).await?;
    if let Some(owner) = f.owner {
        let n = exec(
            &tx,
            "INSERT INTO forum_roles (forum_id, account_id, role, granted_at) \
             SELECT $1, id, 'owner', $3 FROM accounts WHERE id = $2 RETURNING 1",
            args![forum.id.as_i64(), owner.as_i64(), now],
        )
        .await?;
        if n == 0 {
            return Err(StoreError::AccountNotFound);
        }
    }
    placing::record_pin(&tx, forum.id, placement).await?;
    commit(tx).await?;
    Ok(forum)
}

pub(crate) async fn forum_update(c: &mut Client, id: Id, u: ForumUpdate) -> StoreResult<Forum> {
    let tx = begin(c).await?;
    let mut forum = forum_locked(&tx, id).await?;
    if let Some(name) = u.name {
        forum.name = name;
    }
    if let Some(origins) = u.origins {
        forum.origins = origins;
    }
    if let Some(policy) = u.policy {
        forum.policy = policy;
    }
    let origins: Vec<&str> = forum.origins.iter().map(|o| o.as_str()).collect();
    exec(
        &tx,
        "UPDATE forums SET name = $2, origins = $3::jsonb, policy = $4::jsonb WHERE id = $1",
        args![id.as_i64(), forum.name.as_str(), json(&origins), json(&forum.policy)],
    )
    .await?;
    commit(tx).await?;
    Ok(forum)
}

/// The forum, its row locked until the transaction ends (read-modify-write of policy).
async fn forum_locked(c: &impl GenericClient, id: Id) -> StoreResult<Forum> {
    let r = opt(
        c,
        &format!("SELECT {FORUM_COLS} FROM forums WHERE id = $1 AND deleted_at IS NULL FOR UPDATE"),
        args![id.as_i64()],
    )
    .await?;
    r.as_ref().map(rows::forum).transpose()?.ok_or(StoreError::ForumNotFound)
}

async fn set_keys(c: &impl GenericClient, forum: Id, keys: &ForumKeys) -> StoreResult<()> {
    exec(
        c,
        "INSERT INTO forum_keys (forum_id, public_key, secret_key, rotated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (forum_id) DO UPDATE SET public_key = excluded.public_key, secret_key = excluded.secret_key, \
         rotated_at = excluded.rotated_at",
        args![forum.as_i64(), keys.public_key.as_str(), keys.secret_key.as_str(), keys.rotated_at],
    )
    .await
    .map(drop)
}

pub(crate) async fn forum_keys(c: &impl GenericClient, forum: Id) -> StoreResult<ForumKeys> {
    let r =
        opt(c, "SELECT public_key, secret_key, rotated_at FROM forum_keys WHERE forum_id = $1", args![forum.as_i64()])
            .await?
            .ok_or(StoreError::ForumNotFound)?;
    Ok(ForumKeys { public_key: col(&r, 0)?, secret_key: col(&r, 1)?, rotated_at: col(&r, 2)? })
}

pub(crate) async fn forum_keys_rotate(c: &mut Client, forum: Id, keys: ForumKeys) -> StoreResult<ForumKeys> {
    let tx = begin(c).await?;
    forum_locked(&tx, forum).await?;
    set_keys(&tx, forum, &keys).await?;
    commit(tx).await?;
    Ok(keys)
}

pub(crate) async fn forum_by_shortname(c: &impl GenericClient, shortname: &str) -> StoreResult<Forum> {
    let r = opt(
        c,
        &format!("SELECT {FORUM_COLS} FROM forums WHERE shortname = $1 AND deleted_at IS NULL"),
        args![shortname],
    )
    .await?;
    r.as_ref().map(rows::forum).transpose()?.ok_or(StoreError::ForumNotFound)
}

pub(crate) async fn forum_get(c: &impl GenericClient, id: Id) -> StoreResult<Forum> {
    let r =
        opt(c, &format!("SELECT {FORUM_COLS} FROM forums WHERE id = $1 AND deleted_at IS NULL"), args![id.as_i64()])
            .await?;
    r.as_ref().map(rows::forum).transpose()?.ok_or(StoreError::ForumNotFound)
}

pub(crate) async fn forum_list(c: &impl GenericClient) -> StoreResult<Vec<Forum>> {
    rows::all(
        &query(c, &format!("SELECT {FORUM_COLS} FROM forums WHERE deleted_at IS NULL ORDER BY shortname"), &[]).await?,
        rows::forum,
    )
}

// ---- authors ----

pub(crate) async fn authors_get_many(c: &impl GenericClient, ids: &[Id]) -> StoreResult<Vec<Author>> {
    let ids: Vec<i64> = ids.iter().map(|i| i.as_i64()).collect();
    rows::all(
        &query(c, &format!("SELECT {AUTHOR_COLS} FROM authors WHERE id = ANY($1)"), args![ids]).await?,
        rows::author,
    )
}

fn author_id(v: i64) -> StoreResult<Id> {
    Id::from_i64(v).ok_or_else(|| StoreError::Internal("invalid author id".into()))
}

/// The same guest details always map to the same author row (idempotent: written
/// before the post's shard transaction, an unused row is harmless).
pub(crate) async fn upsert_guest(
    c: &impl GenericClient,
    ids: &IdGenerator,
    a: GuestAuthor,
    now: UnixMs,
) -> StoreResult<Author> {
    let r = one(
        c,
        "INSERT INTO authors (id, kind, name, email, url, guest_key, created_at) VALUES ($1, 'guest', $2, $3, $4, $5, $6) \
         ON CONFLICT (guest_key) DO UPDATE SET kind = authors.kind RETURNING id",
        args![
            ids.next(LogicalShard::GLOBAL).as_i64(),
            a.name.as_str(),
            a.email.as_ref().map(|e| e.as_str()),
            a.url.as_ref().map(|u| u.as_str()),
            &guest_key(&a)[..],
            now
        ],
    )
    .await?;
    Ok(Author {
        id: author_id(col(&r, 0)?)?,
        kind: AuthorKind::Guest,
        name: a.name,
        email: a.email,
        url: a.url,
        avatar_url: None,
        sso: None,
    })
}

/// Many guests at once (the bulk path): one statement for distinct identities, which
/// must be distinct by key (`ON CONFLICT DO UPDATE` touches a row once per statement).
/// Returns each key's author id.
pub(crate) async fn upsert_guests(
    c: &impl GenericClient,
    ids: &IdGenerator,
    guests: &[GuestAuthor],
    now: UnixMs,
) -> StoreResult<Vec<([u8; 32], Id)>> {
    if guests.is_empty() {
        return Ok(Vec::new());
    }
    let new_ids: Vec<i64> = guests.iter().map(|_| ids.next(LogicalShard::GLOBAL).as_i64()).collect();
    let names: Vec<&str> = guests.iter().map(|g| g.name.as_str()).collect();
    let emails: Vec<Option<String>> = guests.iter().map(|g| g.email.as_ref().map(|e| e.as_str().to_owned())).collect();
    let urls: Vec<Option<String>> = guests.iter().map(|g| g.url.as_ref().map(|u| u.as_str().to_owned())).collect();
    let keys: Vec<Vec<u8>> = guests.iter().map(|g| guest_key(g).to_vec()).collect();
    let rs = query(
        c,
        "INSERT INTO authors (id, kind, name, email, url, guest_key, created_at) \
         SELECT u.id, 'guest', u.name, u.email, u.url, u.key, $6 \
         FROM unnest($1::int8[], $2::text[], $3::text[], $4::text[], $5::bytea[]) AS u(id, name, email, url, key) \
         ON CONFLICT (guest_key) DO UPDATE SET kind = authors.kind RETURNING guest_key, id",
        args![new_ids, names, emails, urls, keys, now],
    )
    .await?;
    rs.iter()
        .map(|r| {
            let key: Vec<u8> = col(r, 0)?;
            let key: [u8; 32] = key.try_into().map_err(|_| StoreError::Internal("corrupt row: guest key".into()))?;
            Ok((key, author_id(col(r, 1)?)?))
        })
        .collect()
}

/// The author row of a forum's SSO user, updated to the site's latest payload.
pub(crate) async fn upsert_sso(
    c: &impl GenericClient,
    ids: &IdGenerator,
    forum: Id,
    u: SsoUser,
    now: UnixMs,
) -> StoreResult<Author> {
    let r = one(
        c,
        "INSERT INTO authors (id, kind, name, email, url, avatar_url, sso_forum, sso_id, created_at) \
         VALUES ($1, 'sso', $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (sso_forum, sso_id) WHERE sso_id IS NOT NULL DO UPDATE SET \
         name = excluded.name, email = excluded.email, url = excluded.url, avatar_url = excluded.avatar_url \
         RETURNING id",
        args![
            ids.next(LogicalShard::GLOBAL).as_i64(),
            u.name.as_str(),
            u.email.as_ref().map(|e| e.as_str()),
            u.url.as_ref().map(|x| x.as_str()),
            u.avatar.as_ref().map(|x| x.as_str()),
            forum.as_i64(),
            u.id.as_str(),
            now
        ],
    )
    .await?;
    Ok(Author {
        id: author_id(col(&r, 0)?)?,
        kind: AuthorKind::Sso,
        name: u.name,
        email: u.email,
        url: u.url,
        avatar_url: u.avatar,
        sso: Some((forum, u.id)),
    })
}

/// The author row of an account, for a post it writes.
pub(crate) async fn account_author(c: &impl GenericClient, id: Id) -> StoreResult<Author> {
    let r =
        opt(c, &format!("SELECT {AUTHOR_COLS} FROM authors WHERE id = $1 AND kind = 'account'"), args![id.as_i64()])
            .await?;
    r.as_ref().map(rows::author).transpose()?.ok_or(StoreError::AccountNotFound)
}

// ---- accounts ----

pub(crate) async fn account_create(
    c: &mut Client,
    ids: &IdGenerator,
    new: NewAccount,
    now: UnixMs,
) -> StoreResult<Account> {
    let tx = begin(c).await?;
    let id = ids.next(LogicalShard::GLOBAL);
    let inserted = try_rows(
        &tx,
        "INSERT INTO accounts (id, username, username_key, email, password_hash, email_verified_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, NULL, $6)",
        args![
            id.as_i64(),
            new.username.as_str(),
            new.username.key(),
            new.email.as_str(),
            new.password_hash.as_str(),
            now
        ],
    )
    .await;
    match inserted {
        Ok(_) => {}
        Err(e) if unique_violation(&e) == Some("accounts_username_key_key") => return Err(StoreError::UsernameTaken),
        Err(e) if unique_violation(&e) == Some("accounts_email_key") => return Err(StoreError::EmailTaken),
        Err(e) => return Err(db_err(e)),
    }
    exec(
        &tx,
        "INSERT INTO authors (id, kind, name, email, url, guest_key, created_at) VALUES ($1, 'account', $2, $3, NULL, NULL, $4)",
        args![id.as_i64(), new.username.as_str(), new.email.as_str(), now],
    )
    .await?;
    commit(tx).await?;
    Ok(Account {
        id,
        username: new.username,
        email: new.email,
        email_verified: false,
        is_admin: false,
        created_at: now,
    })
}

pub(crate) async fn account_get(c: &impl GenericClient, id: Id) -> StoreResult<Account> {
    let r = opt(c, &format!("SELECT {ACCOUNT_COLS} FROM accounts a WHERE a.id = $1"), args![id.as_i64()]).await?;
    r.as_ref().map(rows::account).transpose()?.ok_or(StoreError::AccountNotFound)
}

pub(crate) async fn account_for_login(c: &impl GenericClient, key: &str) -> StoreResult<Option<(Account, String)>> {
    // A username never contains '@' and an email always does: at most one row matches.
    let r = opt(
        c,
        &format!("SELECT {ACCOUNT_COLS}, a.password_hash FROM accounts a WHERE a.username_key = $1 OR a.email = $1"),
        args![key],
    )
    .await?;
    r.map(|r| Ok((rows::account(&r)?, col(&r, 6)?))).transpose()
}

pub(crate) async fn account_by_username(c: &impl GenericClient, u: &Username) -> StoreResult<Option<Account>> {
    let r = opt(c, &format!("SELECT {ACCOUNT_COLS} FROM accounts a WHERE a.username_key = $1"), args![u.key()]).await?;
    r.as_ref().map(rows::account).transpose()
}

pub(crate) async fn account_by_email(c: &impl GenericClient, e: &Email) -> StoreResult<Option<Account>> {
    let r = opt(c, &format!("SELECT {ACCOUNT_COLS} FROM accounts a WHERE a.email = $1"), args![e.as_str()]).await?;
    r.as_ref().map(rows::account).transpose()
}

pub(crate) async fn account_set_admin(c: &impl GenericClient, id: Id, admin: bool) -> StoreResult<Account> {
    let r = opt(
        c,
        &format!("UPDATE accounts a SET is_admin = $2 WHERE a.id = $1 RETURNING {ACCOUNT_COLS}"),
        args![id.as_i64(), admin],
    )
    .await?;
    r.as_ref().map(rows::account).transpose()?.ok_or(StoreError::AccountNotFound)
}

fn role(s: &str) -> StoreResult<Role> {
    Role::parse(s).ok_or_else(|| StoreError::Internal(format!("unknown role {s:?}")))
}

pub(crate) async fn role_get(c: &impl GenericClient, forum: Id, account: Id) -> StoreResult<Option<Role>> {
    let r = opt(
        c,
        "SELECT role FROM forum_roles WHERE forum_id = $1 AND account_id = $2",
        args![forum.as_i64(), account.as_i64()],
    )
    .await?;
    r.map(|r| role(col(&r, 0)?)).transpose()
}

pub(crate) async fn roles_of(c: &impl GenericClient, account: Id) -> StoreResult<Vec<(Id, Role)>> {
    let rs = query(
        c,
        "SELECT r.forum_id, r.role FROM forum_roles r JOIN forums f ON f.id = r.forum_id \
         WHERE r.account_id = $1 AND f.deleted_at IS NULL ORDER BY r.forum_id",
        args![account.as_i64()],
    )
    .await?;
    rows::all(&rs, |r| Ok((crate::sql::id_col(r, 0)?, role(col(r, 1)?)?)))
}

pub(crate) async fn roles_list(c: &impl GenericClient, forum: Id) -> StoreResult<Vec<(Account, Role)>> {
    let rs = query(
        c,
        &format!(
            "SELECT {ACCOUNT_COLS}, r.role FROM forum_roles r JOIN accounts a ON a.id = r.account_id \
             WHERE r.forum_id = $1 ORDER BY a.username_key"
        ),
        args![forum.as_i64()],
    )
    .await?;
    rows::all(&rs, |r| Ok((rows::account(r)?, role(col(r, 6)?)?)))
}

/// Grants `role` (or removes it with `None`). The forum row is locked first, so two
/// owners demoting each other at once cannot leave the forum without one.
pub(crate) async fn role_set(
    c: &mut Client,
    forum: Id,
    account: Id,
    new: Option<Role>,
    now: UnixMs,
) -> StoreResult<()> {
    let tx = begin(c).await?;
    forum_locked(&tx, forum).await?;
    account_get(&tx, account).await?;
    let current = role_get(&tx, forum, account).await?;
    if current == Some(Role::Owner) && new != Some(Role::Owner) {
        let r =
            one(&tx, "SELECT count(*) FROM forum_roles WHERE forum_id = $1 AND role = 'owner'", args![forum.as_i64()])
                .await?;
        if col::<i64>(&r, 0)? <= 1 {
            return Err(StoreError::LastOwner);
        }
    }
    match new {
        Some(role) => {
            exec(
                &tx,
                "INSERT INTO forum_roles (forum_id, account_id, role, granted_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (forum_id, account_id) DO UPDATE SET role = excluded.role, granted_at = excluded.granted_at",
                args![forum.as_i64(), account.as_i64(), role.as_str(), now],
            )
            .await?
        }
        None => {
            exec(
                &tx,
                "DELETE FROM forum_roles WHERE forum_id = $1 AND account_id = $2",
                args![forum.as_i64(), account.as_i64()],
            )
            .await?
        }
    };
    commit(tx).await
}

// ---- links and sessions ----

pub(crate) async fn link_create(
    c: &mut Client,
    token: TokenHash,
    account: Id,
    purpose: LinkPurpose,
    email: &Email,
    now: UnixMs,
    expires_at: UnixMs,
) -> StoreResult<()> {
    let tx = begin(c).await?;
    exec(&tx, "DELETE FROM account_links WHERE account_id = $1 AND expires_at <= $2", args![account.as_i64(), now])
        .await?;
    exec(
        &tx,
        "INSERT INTO account_links (token_hash, account_id, purpose, email, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
        args![&token.0[..], account.as_i64(), purpose.as_str(), email.as_str(), now, expires_at],
    )
    .await?;
    commit(tx).await
}

/// Deletes the link (a link is tried once) and returns its account if it was live, of
/// this purpose, and sent to the account's current address.
async fn consume_link(
    tx: &impl GenericClient,
    token: TokenHash,
    purpose: LinkPurpose,
    now: UnixMs,
) -> StoreResult<Account> {
    let Some(r) = opt(
        tx,
        "DELETE FROM account_links WHERE token_hash = $1 RETURNING account_id, purpose, email, expires_at",
        args![&token.0[..]],
    )
    .await?
    else {
        return Err(StoreError::LinkInvalid);
    };
    if col::<&str>(&r, 1)? != purpose.as_str() || col::<i64>(&r, 3)? <= now {
        return Err(StoreError::LinkInvalid);
    }
    let account = account_get(tx, Id::from_i64(col(&r, 0)?).ok_or(StoreError::LinkInvalid)?).await?;
    if account.email.as_str() != col::<&str>(&r, 2)? {
        return Err(StoreError::LinkInvalid);
    }
    Ok(account)
}

async fn mark_verified(tx: &impl GenericClient, mut account: Account, now: UnixMs) -> StoreResult<Account> {
    if !account.email_verified {
        exec(tx, "UPDATE accounts SET email_verified_at = $2 WHERE id = $1", args![account.id.as_i64(), now]).await?;
        account.email_verified = true;
    }
    Ok(account)
}

pub(crate) async fn verify_email(c: &mut Client, token: TokenHash, now: UnixMs) -> StoreResult<Account> {
    let tx = begin(c).await?;
    let result = match consume_link(&tx, token, LinkPurpose::Verify, now).await {
        Ok(a) => mark_verified(&tx, a, now).await,
        Err(e) => Err(e),
    };
    // An invalid link is still deleted (it was tried): commit either way.
    commit(tx).await?;
    result
}

pub(crate) async fn reset_password(
    c: &mut Client,
    token: TokenHash,
    password_hash: String,
    now: UnixMs,
) -> StoreResult<Account> {
    let tx = begin(c).await?;
    let account = match consume_link(&tx, token, LinkPurpose::Reset, now).await {
        Ok(a) => a,
        Err(e) => {
            commit(tx).await?;
            return Err(e);
        }
    };
    let id = account.id.as_i64();
    exec(&tx, "UPDATE accounts SET password_hash = $2 WHERE id = $1", args![id, password_hash]).await?;
    // Every other reset link dies with this one, and every session.
    exec(&tx, "DELETE FROM account_links WHERE account_id = $1 AND purpose = 'reset'", args![id]).await?;
    exec(&tx, "DELETE FROM sessions WHERE account_id = $1", args![id]).await?;
    let account = mark_verified(&tx, account, now).await?;
    commit(tx).await?;
    Ok(account)
}

pub(crate) async fn session_create(
    c: &mut Client,
    ids: &IdGenerator,
    account: Id,
    token: TokenHash,
    now: UnixMs,
    expires_at: UnixMs,
    forum: Option<Id>,
) -> StoreResult<Session> {
    let tx = begin(c).await?;
    exec(&tx, "DELETE FROM sessions WHERE account_id = $1 AND expires_at <= $2", args![account.as_i64(), now]).await?;
    let id = ids.next(LogicalShard::GLOBAL);
    let inserted = try_rows(
        &tx,
        "INSERT INTO sessions (id, token_hash, account_id, created_at, expires_at, forum_id) \
         VALUES ($1, $2, $3, $4, $5, $6)",
        args![id.as_i64(), &token.0[..], account.as_i64(), now, expires_at, forum.map(Id::as_i64)],
    )
    .await;
    match inserted {
        Ok(_) => {}
        Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::FOREIGN_KEY_VIOLATION) => {
            return Err(StoreError::AccountNotFound);
        }
        Err(e) => return Err(db_err(e)),
    }
    commit(tx).await?;
    Ok(Session { id, account_id: account, created_at: now, expires_at, forum })
}

pub(crate) async fn session_lookup(
    c: &impl GenericClient,
    token: TokenHash,
    now: UnixMs,
) -> StoreResult<Option<(Session, Account)>> {
    let r = opt(
        c,
        &format!(
            "SELECT {SESSION_COLS}, {ACCOUNT_COLS} FROM sessions s JOIN accounts a ON a.id = s.account_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2"
        ),
        args![&token.0[..], now],
    )
    .await?;
    r.map(|r| Ok((rows::session(&r)?, rows::account_at(&r, 5)?))).transpose()
}

pub(crate) async fn session_list(c: &impl GenericClient, account: Id, now: UnixMs) -> StoreResult<Vec<Session>> {
    let rs = query(
        c,
        &format!(
            "SELECT {SESSION_COLS} FROM sessions s WHERE s.account_id = $1 AND s.expires_at > $2 ORDER BY s.id DESC"
        ),
        args![account.as_i64(), now],
    )
    .await?;
    rows::all(&rs, rows::session)
}

pub(crate) async fn session_revoke(c: &impl GenericClient, account: Id, session: Id) -> StoreResult<()> {
    let n = exec(
        c,
        "DELETE FROM sessions WHERE id = $1 AND account_id = $2 RETURNING 1",
        args![session.as_i64(), account.as_i64()],
    )
    .await?;
    if n == 1 { Ok(()) } else { Err(StoreError::SessionNotFound) }
}

// ---- what joins with forum-shard data ----

/// Author ids that gave this address (lowercased).
pub(crate) async fn authors_by_email(c: &impl GenericClient, email: &str) -> StoreResult<Vec<i64>> {
    let rs = query(c, "SELECT id FROM authors WHERE email = $1", args![email]).await?;
    rows::all(&rs, |r| col(r, 0))
}

/// The author rows of an account and of an SSO user of a forum.
pub(crate) async fn author_ids_of(
    c: &impl GenericClient,
    account: Option<Id>,
    sso: Option<(Id, String)>,
) -> StoreResult<Vec<i64>> {
    let (sso_forum, sso_id) = sso.map_or((None, None), |(f, i)| (Some(f.as_i64()), Some(i)));
    let rs = query(
        c,
        "SELECT id FROM authors WHERE (kind = 'account' AND id = $1) OR (kind = 'sso' AND sso_forum = $2 AND sso_id = $3)",
        args![account.map(Id::as_i64), sso_forum, sso_id],
    )
    .await?;
    rows::all(&rs, |r| col(r, 0))
}

/// Where an author hears of replies: an account's verified address, else the address
/// the guest or SSO user gave.
pub(crate) async fn author_address(c: &impl GenericClient, author: Id) -> StoreResult<Option<Email>> {
    let r = opt(
        c,
        "SELECT CASE WHEN a.kind = 'account' THEN \
                    (SELECT acc.email FROM accounts acc WHERE acc.id = a.id AND acc.email_verified_at IS NOT NULL) \
                ELSE a.email END \
         FROM authors a WHERE a.id = $1",
        args![author.as_i64()],
    )
    .await?;
    Ok(r.map(|r| col::<Option<String>>(&r, 0)).transpose()?.flatten().map(Email::from_trusted))
}

pub(crate) async fn moderator_emails(c: &impl GenericClient, forum: Id) -> StoreResult<Vec<Email>> {
    let rs = query(
        c,
        "SELECT acc.email FROM forum_roles r JOIN accounts acc ON acc.id = r.account_id \
         WHERE r.forum_id = $1 AND r.role IN ('owner', 'moderator') AND acc.email_verified_at IS NOT NULL \
         ORDER BY acc.email",
        args![forum.as_i64()],
    )
    .await?;
    rows::all(&rs, |r| Ok(Email::from_trusted(col(r, 0)?)))
}

/// Unsubscribed from a thread, or (`None`) from everything.
pub(crate) async fn mute(c: &impl GenericClient, email: &Email, thread: Option<Id>, now: UnixMs) -> StoreResult<()> {
    exec(
        c,
        "INSERT INTO mutes (email, thread_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        args![email.as_str(), thread.map_or(0, Id::as_i64), now],
    )
    .await
    .map(drop)
}

/// Subscribing again lifts an earlier unsubscribe from that thread.
pub(crate) async fn unmute(c: &impl GenericClient, email: &Email, thread: Id) -> StoreResult<()> {
    exec(c, "DELETE FROM mutes WHERE email = $1 AND thread_id = $2", args![email.as_str(), thread.as_i64()])
        .await
        .map(drop)
}

pub(crate) async fn is_muted(c: &impl GenericClient, email: &Email, thread: Id) -> StoreResult<bool> {
    Ok(opt(c, "SELECT 1 FROM mutes WHERE email = $1 AND thread_id IN (0, $2)", args![email.as_str(), thread.as_i64()])
        .await?
        .is_some())
}

/// Which of these addresses unsubscribed from everything.
pub(crate) async fn muted_everywhere(c: &impl GenericClient, emails: Vec<String>) -> StoreResult<Vec<String>> {
    let rs = query(c, "SELECT email FROM mutes WHERE thread_id = 0 AND email = ANY($1)", args![emails]).await?;
    rows::all(&rs, |r| col(r, 0))
}

/// Forum shortnames and policies by id.
pub(crate) async fn forums_by_id(c: &impl GenericClient, ids: Vec<i64>) -> StoreResult<Vec<Forum>> {
    rows::all(&query(c, &format!("SELECT {FORUM_COLS} FROM forums WHERE id = ANY($1)"), args![ids]).await?, rows::forum)
}

/// The account's roles as (forum shortname, role).
pub(crate) async fn roles_by_shortname(c: &impl GenericClient, account: Id) -> StoreResult<Vec<(String, Role)>> {
    let rs = query(
        c,
        "SELECT f.shortname, r.role FROM forum_roles r JOIN forums f ON f.id = r.forum_id \
         WHERE r.account_id = $1 AND f.deleted_at IS NULL ORDER BY f.shortname",
        args![account.as_i64()],
    )
    .await?;
    rows::all(&rs, |r| Ok((col(r, 0)?, role(col(r, 1)?)?)))
}

/// The shortname of a forum the account alone owns, if any (it cannot be deleted then).
pub(crate) async fn sole_owned(c: &impl GenericClient, account: Id) -> StoreResult<Option<String>> {
    let r = opt(
        c,
        "SELECT f.shortname FROM forum_roles r JOIN forums f ON f.id = r.forum_id \
         WHERE r.account_id = $1 AND r.role = 'owner' \
         AND (SELECT count(*) FROM forum_roles o WHERE o.forum_id = r.forum_id AND o.role = 'owner') = 1 LIMIT 1",
        args![account.as_i64()],
    )
    .await?;
    r.map(|r| col(&r, 0)).transpose()
}

/// The last step of an account's deletion: its author row and the account (sessions,
/// links and roles go with it, ON DELETE CASCADE).
pub(crate) async fn account_remove(c: &mut Client, account: Id) -> StoreResult<()> {
    let tx = begin(c).await?;
    exec(&tx, "DELETE FROM authors WHERE id = $1 AND kind = 'account'", args![account.as_i64()]).await?;
    exec(&tx, "DELETE FROM accounts WHERE id = $1", args![account.as_i64()]).await?;
    commit(tx).await
}

// ---- live values (see confab_store::LiveStore) ----

/// A fixed key for `pg_advisory_xact_lock`: "confab live" (changes are serialised, so
/// seqs follow commit order and `before` is what the change replaced).
const LIVE_LOCK: i64 = 0x636f_6e66_6c69_7665;

pub(crate) async fn live_seq(c: &impl GenericClient) -> StoreResult<u64> {
    let r = one(c, "SELECT COALESCE(MAX(seq), 0) FROM live_log", args![]).await?;
    Ok(col::<i64>(&r, 0)? as u64)
}

pub(crate) async fn live_table(c: &impl GenericClient) -> StoreResult<LiveTable> {
    let seq = live_seq(c).await?;
    let mut entries = Vec::new();
    for r in query(c, "SELECT kind, key, value FROM live_values ORDER BY kind, key", args![]).await? {
        // A kind this release does not know (written by a newer one) is skipped.
        if let Some(kind) = LiveKind::parse(&col::<String>(&r, 0)?) {
            entries.push(LiveEntry { kind, key: col(&r, 1)?, value: col(&r, 2)? });
        }
    }
    Ok(LiveTable { seq, entries })
}

pub(crate) async fn live_put(
    c: &mut Client,
    kind: LiveKind,
    key: &str,
    value: Option<String>,
    by: &str,
    at: UnixMs,
) -> StoreResult<Option<LiveChange>> {
    let tx = begin(c).await?;
    exec(&tx, "SELECT pg_advisory_xact_lock($1)", args![LIVE_LOCK]).await?;
    let before: Option<String> =
        opt(&tx, "SELECT value FROM live_values WHERE kind = $1 AND key = $2", args![kind.as_str(), key])
            .await?
            .map(|r| col(&r, 0))
            .transpose()?;
    if before == value {
        return Ok(None);
    }
    match &value {
        Some(v) => {
            exec(
                &tx,
                "INSERT INTO live_values (kind, key, value) VALUES ($1, $2, $3) \
                 ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value",
                args![kind.as_str(), key, v.as_str()],
            )
            .await?
        }
        None => exec(&tx, "DELETE FROM live_values WHERE kind = $1 AND key = $2", args![kind.as_str(), key]).await?,
    };
    let r = one(
        &tx,
        "INSERT INTO live_log (kind, key, by, at_ms, before, after) VALUES ($1, $2, $3, $4, $5, $6) RETURNING seq",
        args![kind.as_str(), key, by, at, before.clone(), value.clone()],
    )
    .await?;
    let seq = col::<i64>(&r, 0)? as u64;
    // Delivered at commit to every process listening (see `PgStore::wake_on_live_changes`).
    exec(&tx, "SELECT pg_notify('confab_live', $1)", args![seq.to_string()]).await?;
    commit(tx).await?;
    Ok(Some(LiveChange { seq, kind, key: key.to_owned(), by: by.to_owned(), at, before, after: value }))
}

pub(crate) async fn live_log(
    c: &impl GenericClient,
    kind: LiveKind,
    key: Option<&str>,
    limit: u32,
) -> StoreResult<Vec<LiveChange>> {
    let rows = query(
        c,
        "SELECT seq, key, by, at_ms, before, after FROM live_log \
         WHERE kind = $1 AND ($2::text IS NULL OR key = $2) ORDER BY seq DESC LIMIT $3",
        args![kind.as_str(), key, limit as i64],
    )
    .await?;
    rows.iter()
        .map(|r| {
            Ok(LiveChange {
                seq: col::<i64>(r, 0)? as u64,
                kind,
                key: col(r, 1)?,
                by: col(r, 2)?,
                at: col(r, 3)?,
                before: col(r, 4)?,
                after: col(r, 5)?,
            })
        })
        .collect()
}
