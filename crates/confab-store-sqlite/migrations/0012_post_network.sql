-- A keyed hash of the network (/24 or /64) a post came from: moderators find the posts
-- from an address's network without Confab keeping any address. NULL for imports and
-- for posts whose account was deleted.
ALTER TABLE posts ADD COLUMN net_hash BLOB;
CREATE INDEX posts_by_network ON posts (forum_id, net_hash) WHERE net_hash IS NOT NULL;
