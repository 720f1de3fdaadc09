-- Values an operator changes while Confab runs (feature switches; later dynamic
-- settings), by kind and key, as JSON text; and every change to them, who made it,
-- when, and the value before and after. A process re-reads the values when the newest
-- change's seq moves (see confab_store::LiveStore).
CREATE TABLE live_values (
    kind  TEXT NOT NULL,
    key   TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (kind, key)
) WITHOUT ROWID;

CREATE TABLE live_log (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    kind   TEXT NOT NULL,
    key    TEXT NOT NULL,
    by     TEXT NOT NULL,
    at_ms  INTEGER NOT NULL,
    before TEXT,
    after  TEXT
);
CREATE INDEX live_log_by_key ON live_log (kind, key, seq);
