-- Confab's global database: what every request may need whatever its forum — settings
-- and secrets, forums and their keys and roles, accounts with their sessions and mailed
-- links, authors, mutes — and where forums live: the shard map. The same data as the
-- embedded store's (crates/confab-store-sqlite/migrations), split along the line its
-- comments draw; no foreign key crosses into a forum shard.
--
-- Times are Unix milliseconds (BIGINT), as in the domain model; ids are 64-bit ids
-- minted by the application (confab_core::id), never sequences.

CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);

-- 1024 logical shards, each placed on one forum-shard cluster (a name from the
-- configuration). Filled by the first `confab migrate`, evenly over the clusters.
CREATE TABLE shard_map (
    logical_shard INTEGER PRIMARY KEY CHECK (logical_shard BETWEEN 0 AND 1023),
    cluster       TEXT NOT NULL
);

-- A forum pinned to a cluster of its own, whatever its logical shard says.
CREATE TABLE forum_pins (
    forum_id BIGINT PRIMARY KEY,
    cluster  TEXT NOT NULL
);

CREATE TABLE forums (
    id         BIGINT PRIMARY KEY,
    shortname  TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    origins    JSONB NOT NULL,          -- array of origins
    policy     JSONB NOT NULL,          -- confab_core::model::ForumPolicy
    shard      INTEGER NOT NULL CHECK (shard BETWEEN 0 AND 1023),
    created_at BIGINT NOT NULL
);

CREATE TABLE forum_keys (
    forum_id   BIGINT PRIMARY KEY REFERENCES forums (id),
    public_key TEXT NOT NULL UNIQUE,
    secret_key TEXT NOT NULL,
    rotated_at BIGINT NOT NULL
);

CREATE TABLE accounts (
    id                BIGINT PRIMARY KEY,
    username          TEXT NOT NULL,
    username_key      TEXT NOT NULL UNIQUE,   -- lowercased username
    email             TEXT NOT NULL UNIQUE,   -- lowercased; private
    password_hash     TEXT NOT NULL,          -- PHC string, Argon2id
    email_verified_at BIGINT,
    is_admin          BOOLEAN NOT NULL DEFAULT false,
    created_at        BIGINT NOT NULL
);

CREATE TABLE sessions (
    id         BIGINT PRIMARY KEY,
    token_hash BYTEA NOT NULL UNIQUE,         -- sha256 of the bearer token
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_by_account ON sessions (account_id, expires_at);

CREATE TABLE account_links (
    token_hash BYTEA PRIMARY KEY,             -- sha256 of the token in the mailed link
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL CHECK (purpose IN ('verify', 'reset')),
    email      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX account_links_by_account ON account_links (account_id);

CREATE TABLE forum_roles (
    forum_id   BIGINT NOT NULL REFERENCES forums (id),
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    role       TEXT NOT NULL CHECK (role IN ('owner', 'moderator', 'trusted', 'member')),
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (forum_id, account_id)
);
CREATE INDEX forum_roles_by_account ON forum_roles (account_id);

-- Guests (one row per name, email and url), accounts (the account's id) and SSO users
-- (namespaced by forum: the same site id from two sites is two people).
CREATE TABLE authors (
    id         BIGINT PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('guest', 'account', 'sso')),
    name       TEXT NOT NULL,
    email      TEXT,                          -- private; never leaves the server
    url        TEXT,
    avatar_url TEXT,
    guest_key  BYTEA UNIQUE,                  -- sha256 of (name, email, url)
    sso_forum  BIGINT,
    sso_id     TEXT,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX authors_by_sso ON authors (sso_forum, sso_id) WHERE sso_id IS NOT NULL;
CREATE INDEX authors_by_email ON authors (email) WHERE email IS NOT NULL;

-- Unsubscribed by a mail's link: from one thread, or from everything (thread_id 0).
CREATE TABLE mutes (
    email      TEXT NOT NULL,
    thread_id  BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (email, thread_id)
);
