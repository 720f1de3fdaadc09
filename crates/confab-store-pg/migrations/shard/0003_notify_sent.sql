-- The posts the throttle let through to a mail of their own, per recipient: a retry of
-- that notify job (its worker died after the gate, before its completion was recorded)
-- is the same mail again, under the same Message-ID, never a second mail by way of the
-- digest. Removed when the send fails (the throttle forgets it).
CREATE TABLE notify_sent (
    email     TEXT NOT NULL,
    thread_id BIGINT NOT NULL,
    post_id   BIGINT NOT NULL,
    sent_at   BIGINT NOT NULL,
    PRIMARY KEY (email, thread_id, post_id)
);
