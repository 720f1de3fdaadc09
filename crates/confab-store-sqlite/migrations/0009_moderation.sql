-- Moderation: every change of a post's state, with who, when and why.
CREATE TABLE moderation_log (
    id         INTEGER PRIMARY KEY,
    forum_id   INTEGER NOT NULL,
    post_id    INTEGER NOT NULL,
    actor_kind TEXT    NOT NULL,   -- account, admin_token, secret_key, filter, author
    actor_id   INTEGER,            -- the account, when actor_kind is account or author
    from_state INTEGER NOT NULL,
    to_state   INTEGER NOT NULL,
    reason     TEXT,
    at         INTEGER NOT NULL
) STRICT;
CREATE INDEX moderation_log_by_post ON moderation_log (post_id, id);
CREATE INDEX moderation_log_by_forum ON moderation_log (forum_id, id);

-- The queues: a forum's posts in a state, newest first.
CREATE INDEX posts_queue ON posts (forum_id, state, id);
