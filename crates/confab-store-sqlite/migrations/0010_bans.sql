-- Bans and timeouts, per forum: by account, email address, email domain or IP network.
CREATE TABLE bans (
    id         INTEGER PRIMARY KEY,
    forum_id   INTEGER NOT NULL,
    kind       TEXT    NOT NULL CHECK (kind IN ('account', 'email', 'domain', 'ip')),
    value      TEXT    NOT NULL,   -- account id, lowercased address or domain, or a CIDR network
    reason     TEXT,
    by_kind    TEXT    NOT NULL,
    by_id      INTEGER,
    expires_at INTEGER,            -- NULL: until lifted
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX bans_by_value ON bans (forum_id, kind, value);
