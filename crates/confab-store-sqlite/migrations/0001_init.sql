-- Confab schema, version 1. Global tables (settings, forums, authors) and forum-shard
-- tables (threads, posts, votes) share one file in the embedded store; no foreign key
-- crosses that line, because in the distributed store they live in different databases.

CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
) STRICT;

CREATE TABLE forums (
    id         INTEGER PRIMARY KEY,
    shortname  TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    origins    TEXT NOT NULL,          -- JSON array of origins
    policy     TEXT NOT NULL,          -- JSON object, confab_core::model::ForumPolicy
    shard      INTEGER NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE authors (
    id         INTEGER PRIMARY KEY,
    kind       TEXT NOT NULL,          -- 'guest'; accounts and SSO identities later
    name       TEXT NOT NULL,
    email      TEXT,                   -- private; never leaves the server
    url        TEXT,
    guest_key  BLOB UNIQUE,            -- sha256 of (name, email, url): one row per guest identity
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE threads (
    id         INTEGER PRIMARY KEY,
    forum_id   INTEGER NOT NULL REFERENCES forums (id),
    identifier TEXT NOT NULL,
    url        TEXT,
    title      TEXT,
    closed     INTEGER NOT NULL DEFAULT 0,
    posts      INTEGER NOT NULL DEFAULT 0,   -- approved posts
    created_at INTEGER NOT NULL,
    UNIQUE (forum_id, identifier)
) STRICT;

CREATE INDEX threads_by_url ON threads (forum_id, url, id) WHERE url IS NOT NULL;

CREATE TABLE posts (
    id          INTEGER PRIMARY KEY,
    forum_id    INTEGER NOT NULL,
    thread_id   INTEGER NOT NULL REFERENCES threads (id),
    parent_id   INTEGER REFERENCES posts (id),
    root_id     INTEGER NOT NULL,
    depth       INTEGER NOT NULL,
    path        BLOB NOT NULL,            -- ancestors' ids and own id, 8 bytes big-endian each
    author_id   INTEGER NOT NULL,         -- authors are global data: no foreign key
    message     TEXT NOT NULL,
    html        TEXT NOT NULL,
    state       INTEGER NOT NULL,         -- 0 pending, 1 approved, 2 spam, 3 deleted
    likes       INTEGER NOT NULL DEFAULT 0,
    dislikes    INTEGER NOT NULL DEFAULT 0,
    best        REAL NOT NULL,            -- confab_best(likes, dislikes)
    hot         REAL NOT NULL,            -- confab_hot(likes - dislikes, created_at)
    descendants INTEGER NOT NULL DEFAULT 0,  -- approved posts below, at any depth
    created_at  INTEGER NOT NULL,
    edited_at   INTEGER,
    edit_token  BLOB                      -- sha256 of the author's edit token
) STRICT;

-- "Listed" = shown in public pages: approved, or deleted but holding up visible
-- replies. The predicate below is repeated verbatim in the queries so that SQLite
-- uses these partial indexes; keyset pages then read only the rows they return.
CREATE INDEX posts_roots_by_id ON posts (thread_id, id)
    WHERE depth = 0 AND (state = 1 OR (state = 3 AND descendants > 0));
CREATE INDEX posts_roots_by_best ON posts (thread_id, best, id)
    WHERE depth = 0 AND (state = 1 OR (state = 3 AND descendants > 0));
CREATE INDEX posts_roots_by_hot ON posts (thread_id, hot, id)
    WHERE depth = 0 AND (state = 1 OR (state = 3 AND descendants > 0));
CREATE INDEX posts_tree ON posts (root_id, path)
    WHERE depth > 0 AND (state = 1 OR (state = 3 AND descendants > 0));

CREATE TABLE votes (
    post_id    INTEGER NOT NULL REFERENCES posts (id),
    voter      BLOB NOT NULL,             -- sha256 of the voter's token
    value      INTEGER NOT NULL CHECK (value IN (-1, 1)),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (post_id, voter)
) STRICT, WITHOUT ROWID;
