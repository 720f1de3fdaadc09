-- Email notifications. Addresses are stored lowercased, as `Email` parses them.

-- Whether the post's author wants mail about replies to it (accounts by default,
-- guests and SSO users when they ask).
ALTER TABLE posts ADD COLUMN notify INTEGER NOT NULL DEFAULT 0;

-- Thread subscriptions: mail about every new comment.
CREATE TABLE subscriptions (
    thread_id  INTEGER NOT NULL,
    email      TEXT    NOT NULL,
    forum_id   INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (thread_id, email)
) STRICT, WITHOUT ROWID;
CREATE INDEX subscriptions_by_email ON subscriptions (email);

-- Unsubscribed by a mail's link: no more notifications about the thread, or about
-- anything (thread_id 0).
CREATE TABLE mutes (
    email      TEXT    NOT NULL,
    thread_id  INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (email, thread_id)
) STRICT, WITHOUT ROWID;

-- The throttle: when the recipient last got a mail about the thread, and the posts
-- waiting for the digest that follows the quiet interval.
CREATE TABLE notify_state (
    email        TEXT    NOT NULL,
    thread_id    INTEGER NOT NULL,
    last_sent_at INTEGER NOT NULL,
    digest_at    INTEGER,
    PRIMARY KEY (email, thread_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE notify_pending (
    email     TEXT    NOT NULL,
    thread_id INTEGER NOT NULL,
    post_id   INTEGER NOT NULL,
    PRIMARY KEY (email, thread_id, post_id)
) STRICT, WITHOUT ROWID;
