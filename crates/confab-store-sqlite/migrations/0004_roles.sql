-- Who may do what: global administrators (an account flag) and per-forum roles.

ALTER TABLE accounts ADD COLUMN is_admin INTEGER NOT NULL DEFAULT 0;

CREATE TABLE forum_roles (
    forum_id   INTEGER NOT NULL REFERENCES forums (id),
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    role       TEXT NOT NULL CHECK (role IN ('owner', 'moderator', 'trusted', 'member')),
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (forum_id, account_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX forum_roles_by_account ON forum_roles (account_id);
