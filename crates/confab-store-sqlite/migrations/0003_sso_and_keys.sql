-- Single sign-on identities and per-forum API keys.
--
-- A site's SSO user becomes an author of kind 'sso', namespaced by forum: the same id
-- from two sites is two people. Its name, email, avatar and url follow the latest
-- payload the site signed.

ALTER TABLE authors ADD COLUMN avatar_url TEXT;
ALTER TABLE authors ADD COLUMN sso_forum INTEGER;
ALTER TABLE authors ADD COLUMN sso_id TEXT;
CREATE UNIQUE INDEX authors_by_sso ON authors (sso_forum, sso_id) WHERE sso_id IS NOT NULL;

-- One key pair per forum: the public key identifies the forum in embeds; the secret
-- key signs SSO payloads and authenticates server-to-server calls. Rotation replaces
-- both. The secret is kept as written, because verifying an HMAC needs it.
CREATE TABLE forum_keys (
    forum_id   INTEGER PRIMARY KEY REFERENCES forums (id),
    public_key TEXT NOT NULL UNIQUE,
    secret_key TEXT NOT NULL,
    rotated_at INTEGER NOT NULL
) STRICT;

INSERT INTO forum_keys (forum_id, public_key, secret_key, rotated_at)
SELECT id, 'pk_' || lower(hex(randomblob(16))), 'sk_' || lower(hex(randomblob(32))), created_at FROM forums;
