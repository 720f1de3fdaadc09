-- A person's votes, for their data export (the primary key leads with the post).
CREATE INDEX votes_by_voter ON votes (voter);
