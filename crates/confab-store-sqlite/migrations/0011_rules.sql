-- Moderation, second part: shadow bans, readers' flags, highlighted and pinned posts.

-- A shadow ban takes the banned reader's posts but shows them only to their author.
ALTER TABLE bans ADD COLUMN shadow INTEGER NOT NULL DEFAULT 0;

-- Moderators mark a post worth reading, and pin one post to the top of its thread.
ALTER TABLE posts ADD COLUMN highlighted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE threads ADD COLUMN pinned_post_id INTEGER;

-- Readers' flags: one per reader and post, counted on the post until a moderator
-- approves it (which clears them).
ALTER TABLE posts ADD COLUMN flags INTEGER NOT NULL DEFAULT 0;
CREATE TABLE flags (
    post_id  INTEGER NOT NULL,
    forum_id INTEGER NOT NULL,
    voter    BLOB    NOT NULL,   -- a hash naming the reader (account, SSO user or network), as votes do
    reason   TEXT    NOT NULL CHECK (reason IN ('spam', 'abuse', 'off_topic', 'other')),
    note     TEXT,
    at       INTEGER NOT NULL,
    PRIMARY KEY (post_id, voter)
) STRICT, WITHOUT ROWID;
-- The flagged queue: a forum's posts with flags, newest first.
CREATE INDEX posts_flagged ON posts (forum_id, id) WHERE flags > 0;

-- The moderators' search by address.
CREATE INDEX authors_by_email ON authors (email) WHERE email IS NOT NULL;
