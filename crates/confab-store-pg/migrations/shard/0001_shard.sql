-- A forum-shard database: the threads, posts and votes of the forums whose logical
-- shards the shard map places on this cluster, and everything that follows them — the
-- outbox its workers drain, webhooks and their delivery log, subscriptions and the mail
-- throttle, the spam filter's data, the moderation log, bans and flags. Ids and times
-- as in the global database; forum ids and author ids point there, without foreign keys.

CREATE TABLE threads (
    id             BIGINT PRIMARY KEY,
    forum_id       BIGINT NOT NULL,
    identifier     TEXT NOT NULL,
    url            TEXT,
    title          TEXT,
    closed         BOOLEAN NOT NULL DEFAULT false,
    posts          BIGINT NOT NULL DEFAULT 0,     -- approved posts
    pinned_post_id BIGINT,
    created_at     BIGINT NOT NULL,
    UNIQUE (forum_id, identifier)
);
CREATE INDEX threads_by_url ON threads (forum_id, url, id) WHERE url IS NOT NULL;

CREATE TABLE posts (
    id          BIGINT PRIMARY KEY,
    forum_id    BIGINT NOT NULL,
    thread_id   BIGINT NOT NULL REFERENCES threads (id),
    parent_id   BIGINT REFERENCES posts (id),
    root_id     BIGINT NOT NULL,
    depth       INTEGER NOT NULL,
    path        BYTEA NOT NULL,               -- ancestors' ids and own id, 8 bytes big-endian each
    author_id   BIGINT NOT NULL,
    message     TEXT NOT NULL,
    html        TEXT NOT NULL,
    state       SMALLINT NOT NULL,            -- 0 pending, 1 approved, 2 spam, 3 deleted, 4 shadow
    likes       BIGINT NOT NULL DEFAULT 0,
    dislikes    BIGINT NOT NULL DEFAULT 0,
    best        DOUBLE PRECISION NOT NULL,
    hot         DOUBLE PRECISION NOT NULL,
    descendants BIGINT NOT NULL DEFAULT 0,    -- approved posts below, at any depth
    highlighted BOOLEAN NOT NULL DEFAULT false,
    flags       BIGINT NOT NULL DEFAULT 0,
    notify      BOOLEAN NOT NULL DEFAULT false,
    text_hash   BYTEA,
    net_hash    BYTEA,
    created_at  BIGINT NOT NULL,
    edited_at   BIGINT,
    edit_token  BYTEA
);
-- "Listed" posts (approved, or deleted but holding up visible replies); the predicate
-- is repeated verbatim in the queries so the planner uses these partial indexes.
CREATE INDEX posts_roots_by_id ON posts (thread_id, id)
    WHERE depth = 0 AND (state = 1 OR (state = 3 AND descendants > 0));
CREATE INDEX posts_roots_by_best ON posts (thread_id, best, id)
    WHERE depth = 0 AND (state = 1 OR (state = 3 AND descendants > 0));
CREATE INDEX posts_roots_by_hot ON posts (thread_id, hot, id)
    WHERE depth = 0 AND (state = 1 OR (state = 3 AND descendants > 0));
CREATE INDEX posts_tree ON posts (root_id, path)
    WHERE depth > 0 AND (state = 1 OR (state = 3 AND descendants > 0));
CREATE INDEX posts_by_text ON posts (forum_id, text_hash, created_at) WHERE text_hash IS NOT NULL;
CREATE INDEX posts_by_author ON posts (author_id, forum_id, created_at);
CREATE INDEX posts_queue ON posts (forum_id, state, id);
CREATE INDEX posts_flagged ON posts (forum_id, id) WHERE flags > 0;
CREATE INDEX posts_by_network ON posts (forum_id, net_hash) WHERE net_hash IS NOT NULL;

CREATE TABLE votes (
    post_id    BIGINT NOT NULL REFERENCES posts (id),
    voter      BYTEA NOT NULL,                -- sha256 of the voter's token or key
    value      SMALLINT NOT NULL CHECK (value IN (-1, 1)),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (post_id, voter)
);
CREATE INDEX votes_by_voter ON votes (voter);

-- The transactional outbox: state 0 ready, 1 running (held until lease_until), 2 done,
-- 3 dead. Workers claim with FOR UPDATE SKIP LOCKED.
CREATE TABLE outbox (
    id          BIGINT PRIMARY KEY,
    forum_id    BIGINT NOT NULL,
    task        JSONB NOT NULL,
    state       SMALLINT NOT NULL DEFAULT 0,
    attempts    INTEGER NOT NULL DEFAULT 0,
    run_at      BIGINT NOT NULL,
    lease_until BIGINT,
    last_error  TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX outbox_due ON outbox (run_at) WHERE state IN (0, 1);
CREATE INDEX outbox_by_state ON outbox (state, id);

CREATE TABLE webhooks (
    id            BIGINT PRIMARY KEY,
    forum_id      BIGINT NOT NULL,
    url           TEXT NOT NULL,
    secret        TEXT NOT NULL,
    events        JSONB NOT NULL,
    hub_signature BOOLEAN NOT NULL DEFAULT false,
    created_at    BIGINT NOT NULL
);
CREATE INDEX webhooks_by_forum ON webhooks (forum_id);

CREATE TABLE webhook_attempts (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id  BIGINT NOT NULL,
    delivery_id BIGINT NOT NULL,
    event       TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    at          BIGINT NOT NULL,
    status      INTEGER,
    error       TEXT,
    duration_ms BIGINT NOT NULL
);
CREATE INDEX webhook_attempts_by_hook ON webhook_attempts (webhook_id, seq);

CREATE TABLE subscriptions (
    thread_id  BIGINT NOT NULL,
    email      TEXT NOT NULL,
    forum_id   BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (thread_id, email)
);
CREATE INDEX subscriptions_by_email ON subscriptions (email);

CREATE TABLE notify_state (
    email        TEXT NOT NULL,
    thread_id    BIGINT NOT NULL,
    last_sent_at BIGINT NOT NULL,
    digest_at    BIGINT,
    PRIMARY KEY (email, thread_id)
);

CREATE TABLE notify_pending (
    email     TEXT NOT NULL,
    thread_id BIGINT NOT NULL,
    post_id   BIGINT NOT NULL,
    PRIMARY KEY (email, thread_id, post_id)
);

CREATE TABLE spam_tokens (
    forum_id BIGINT NOT NULL,
    token    TEXT NOT NULL,
    ham      BIGINT NOT NULL DEFAULT 0,
    spam     BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (forum_id, token)
);

CREATE TABLE spam_docs (
    forum_id BIGINT PRIMARY KEY,
    ham      BIGINT NOT NULL DEFAULT 0,
    spam     BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE spam_verdicts (
    post_id BIGINT PRIMARY KEY,
    action  TEXT NOT NULL,
    score   DOUBLE PRECISION NOT NULL,
    reasons JSONB NOT NULL,
    at      BIGINT NOT NULL
);

CREATE TABLE moderation_log (
    id         BIGINT PRIMARY KEY,
    forum_id   BIGINT NOT NULL,
    post_id    BIGINT NOT NULL,
    actor_kind TEXT NOT NULL,
    actor_id   BIGINT,
    from_state SMALLINT NOT NULL,
    to_state   SMALLINT NOT NULL,
    reason     TEXT,
    at         BIGINT NOT NULL
);
CREATE INDEX moderation_log_by_post ON moderation_log (post_id, id);
CREATE INDEX moderation_log_by_forum ON moderation_log (forum_id, id);

CREATE TABLE bans (
    id         BIGINT PRIMARY KEY,
    forum_id   BIGINT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('account', 'email', 'domain', 'ip')),
    value      TEXT NOT NULL,
    reason     TEXT,
    by_kind    TEXT NOT NULL,
    by_id      BIGINT,
    expires_at BIGINT,
    shadow     BOOLEAN NOT NULL DEFAULT false,
    created_at BIGINT NOT NULL
);
CREATE INDEX bans_by_value ON bans (forum_id, kind, value);

CREATE TABLE flags (
    post_id  BIGINT NOT NULL,
    forum_id BIGINT NOT NULL,
    voter    BYTEA NOT NULL,
    reason   TEXT NOT NULL CHECK (reason IN ('spam', 'abuse', 'off_topic', 'other')),
    note     TEXT,
    at       BIGINT NOT NULL,
    PRIMARY KEY (post_id, voter)
);
