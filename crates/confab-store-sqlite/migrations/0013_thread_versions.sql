-- A version per thread that moves forward with every change its pages show, so that
-- cached pages carry the version they were read at and an older page never replaces a
-- newer one. Kept by triggers, so that no write path can forget it. Votes (likes,
-- dislikes) and flags are left out: they would bump the hot thread on every click, and
-- their counts catch up when the cache refreshes.
ALTER TABLE threads ADD COLUMN version INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER posts_bump_thread_on_insert AFTER INSERT ON posts BEGIN
    UPDATE threads SET version = version + 1 WHERE id = NEW.thread_id;
END;

CREATE TRIGGER posts_bump_thread_on_update
AFTER UPDATE OF state, message, html, edited_at, author_id, highlighted ON posts BEGIN
    UPDATE threads SET version = version + 1 WHERE id = NEW.thread_id;
END;

-- Its own columns (not version itself, so the trigger does not call itself).
CREATE TRIGGER threads_bump_on_update AFTER UPDATE OF closed, posts, pinned_post_id, title, url ON threads BEGIN
    UPDATE threads SET version = version + 1 WHERE id = NEW.id;
END;
