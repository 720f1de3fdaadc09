-- A version per thread that moves forward with every change its pages show, so that
-- cached pages carry the version they were read at and an older page never replaces a
-- newer one. Kept by triggers, so that no write path can forget it. Votes (likes,
-- dislikes, best, hot) and flags are left out: they would bump the hot thread on every
-- click, and their counts catch up when the cache refreshes.
ALTER TABLE threads ADD COLUMN version BIGINT NOT NULL DEFAULT 0;

-- Inserts bump once per thread per statement (a COPY of a thousand posts is one bump).
CREATE FUNCTION confab_bump_threads_of_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE threads SET version = version + 1 WHERE id IN (SELECT DISTINCT thread_id FROM inserted);
    RETURN NULL;
END $$;

CREATE TRIGGER posts_bump_thread_on_insert AFTER INSERT ON posts
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION confab_bump_threads_of_inserted();

CREATE FUNCTION confab_bump_thread_of_post() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE threads SET version = version + 1 WHERE id = NEW.thread_id;
    RETURN NULL;
END $$;

CREATE TRIGGER posts_bump_thread_on_update
    AFTER UPDATE OF state, message, html, edited_at, author_id, highlighted ON posts
    FOR EACH ROW WHEN (OLD IS DISTINCT FROM NEW) EXECUTE FUNCTION confab_bump_thread_of_post();

-- Its own columns: bumped in the row itself, before it is written (and so also in what
-- UPDATE … RETURNING returns).
CREATE FUNCTION confab_bump_own_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.version := OLD.version + 1;
    RETURN NEW;
END $$;

CREATE TRIGGER threads_bump_on_update
    BEFORE UPDATE OF closed, posts, pinned_post_id, title, url ON threads
    FOR EACH ROW WHEN (OLD IS DISTINCT FROM NEW) EXECUTE FUNCTION confab_bump_own_version();
