-- The transactional outbox: follow-up work written in the same transaction as the
-- change it follows. `task` is JSON (confab_core::jobs::Task); `state` 0 ready,
-- 1 running (held until lease_until), 2 done, 3 dead.
CREATE TABLE outbox (
    id          INTEGER PRIMARY KEY,
    forum_id    INTEGER NOT NULL,
    task        TEXT    NOT NULL,
    state       INTEGER NOT NULL DEFAULT 0,
    attempts    INTEGER NOT NULL DEFAULT 0,
    run_at      INTEGER NOT NULL,
    lease_until INTEGER,
    last_error  TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;
-- What workers claim: small, because done and dead rows leave it.
CREATE INDEX outbox_due ON outbox (run_at) WHERE state IN (0, 1);
-- Listings by state (dead letters) and pruning of done rows.
CREATE INDEX outbox_by_state ON outbox (state, id);

CREATE TABLE webhooks (
    id            INTEGER PRIMARY KEY,
    forum_id      INTEGER NOT NULL,
    url           TEXT    NOT NULL,
    secret        TEXT    NOT NULL,
    events        TEXT    NOT NULL,
    hub_signature INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX webhooks_by_forum ON webhooks (forum_id);

-- The delivery log forum owners read: one row per attempt.
CREATE TABLE webhook_attempts (
    seq         INTEGER PRIMARY KEY,
    webhook_id  INTEGER NOT NULL,
    delivery_id INTEGER NOT NULL,
    event       TEXT    NOT NULL,
    attempt     INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    status      INTEGER,
    error       TEXT,
    duration_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX webhook_attempts_by_hook ON webhook_attempts (webhook_id, seq);
