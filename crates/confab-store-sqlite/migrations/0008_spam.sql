-- The spam filter's data (forum shard).

-- SHA-256 of the lowercased, space-collapsed text: finds the same comment posted again.
ALTER TABLE posts ADD COLUMN text_hash BLOB;
CREATE INDEX posts_by_text ON posts (forum_id, text_hash, created_at) WHERE text_hash IS NOT NULL;
-- An author's history in a forum: first post? posting speed?
CREATE INDEX posts_by_author ON posts (author_id, forum_id, created_at);

-- What a forum's moderators taught the classifier, added to the seed model's counts.
CREATE TABLE spam_tokens (
    forum_id INTEGER NOT NULL,
    token    TEXT    NOT NULL,
    ham      INTEGER NOT NULL DEFAULT 0,
    spam     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (forum_id, token)
) STRICT, WITHOUT ROWID;

CREATE TABLE spam_docs (
    forum_id INTEGER PRIMARY KEY,
    ham      INTEGER NOT NULL DEFAULT 0,
    spam     INTEGER NOT NULL DEFAULT 0
) STRICT;

-- The filter's last verdict on a post, for moderators: action, score and reasons.
CREATE TABLE spam_verdicts (
    post_id INTEGER PRIMARY KEY,
    action  TEXT    NOT NULL,
    score   REAL    NOT NULL,
    reasons TEXT    NOT NULL,
    at      INTEGER NOT NULL
) STRICT;
