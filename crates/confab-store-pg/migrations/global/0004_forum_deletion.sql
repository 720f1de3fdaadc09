-- A forum being deleted: no read finds it from this moment, and its shortname stays
-- taken until the purge job has removed its data and, last, this row.
ALTER TABLE forums ADD COLUMN deleted_at BIGINT;
