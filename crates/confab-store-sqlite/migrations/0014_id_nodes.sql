-- Node numbers of the id generator, leased one to a process (see confab_store::id_nodes):
-- processes sharing this file (a server, `confab worker`, commands) never mint the
-- same id. Node 0 is never leased. Times are wall-clock Unix ms; until_ms is 0 for a
-- node given back, high_ms the latest id time its holders minted.
CREATE TABLE id_nodes (
    node     INTEGER PRIMARY KEY CHECK (node BETWEEN 1 AND 31),
    holder   TEXT,
    until_ms INTEGER NOT NULL DEFAULT 0,
    high_ms  INTEGER NOT NULL DEFAULT 0
);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 31)
INSERT INTO id_nodes (node) SELECT i FROM n;
