-- Local accounts, their sessions and the one-time links mailed to them (all global
-- data). An account's author row (kind 'account') has the same id, so posts name
-- account authors the way they name guests.

CREATE TABLE accounts (
    id                INTEGER PRIMARY KEY,
    username          TEXT NOT NULL,
    username_key      TEXT NOT NULL UNIQUE,   -- lowercased username
    email             TEXT NOT NULL UNIQUE,   -- lowercased; private
    password_hash     TEXT NOT NULL,          -- PHC string, Argon2id
    email_verified_at INTEGER,
    created_at        INTEGER NOT NULL
) STRICT;

CREATE TABLE sessions (
    id         INTEGER PRIMARY KEY,
    token_hash BLOB NOT NULL UNIQUE,          -- sha256 of the bearer token
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;

CREATE INDEX sessions_by_account ON sessions (account_id, expires_at);

CREATE TABLE account_links (
    token_hash BLOB PRIMARY KEY,              -- sha256 of the token in the mailed link
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL CHECK (purpose IN ('verify', 'reset')),
    email      TEXT NOT NULL,                 -- the address the link went to
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX account_links_by_account ON account_links (account_id);
