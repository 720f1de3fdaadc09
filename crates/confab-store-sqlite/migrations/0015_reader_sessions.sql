-- Reader credentials: a session scoped to one forum (forum_id), handed to the site that
-- embeds the widget. NULL for the account's own sessions.
ALTER TABLE sessions ADD COLUMN forum_id INTEGER;
