-- Node numbers of the id generator, leased one to a process (see confab_store::id_nodes):
-- every process on the topology (servers, workers, commands) mints ids no other one
-- mints. Node 0 is never leased. Times are wall-clock Unix ms; until_ms is 0 for a
-- node given back, high_ms the latest id time its holders minted.
CREATE TABLE id_nodes (
    node     SMALLINT PRIMARY KEY CHECK (node BETWEEN 1 AND 31),
    holder   TEXT,
    until_ms BIGINT NOT NULL DEFAULT 0,
    high_ms  BIGINT NOT NULL DEFAULT 0
);
INSERT INTO id_nodes (node) SELECT generate_series(1, 31);
