-- Dashboard actions: the server signs custody events as the authority (quarantine, release,
-- missing, found), which no tablet pushed, and managers review derived exceptions.

-- An authority event has no tablet, so `events.tablet_id` becomes nullable. SQLite cannot drop
-- a NOT NULL constraint in place: the table is rebuilt with the same rows, `server_seq` values
-- and indexes. Nothing references `events`.
CREATE TABLE events_rebuilt (
    server_seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    site_id        TEXT NOT NULL REFERENCES sites (site_id),
    event_id       TEXT NOT NULL UNIQUE,
    signer         TEXT NOT NULL,
    seq            BIGINT NOT NULL,
    -- NULL exactly for the events the server signed as the authority.
    tablet_id      TEXT REFERENCES tablets (tablet_id),
    event_json     TEXT NOT NULL,
    received_at_ms BIGINT NOT NULL
);
INSERT INTO events_rebuilt (server_seq, site_id, event_id, signer, seq, tablet_id, event_json, received_at_ms)
    SELECT server_seq, site_id, event_id, signer, seq, tablet_id, event_json, received_at_ms FROM events;
-- The counter continues where the old table's stopped, not at the largest row copied: a
-- `server_seq` is never handed out twice.
DELETE FROM sqlite_sequence WHERE name = 'events_rebuilt';
INSERT INTO sqlite_sequence (name, seq) SELECT 'events_rebuilt', seq FROM sqlite_sequence WHERE name = 'events';
DROP TABLE events;
ALTER TABLE events_rebuilt RENAME TO events;
CREATE INDEX events_by_site ON events (site_id, server_seq);
CREATE INDEX events_by_signer ON events (signer, seq);
-- The authority keeps one chain per site: its head is looked up by site and signer.
CREATE INDEX events_by_site_signer ON events (site_id, signer, seq);

-- Reviews of derived exceptions, named by their stable key (baton_core Exception::key). Every
-- action is kept; the latest is the exception's state.
CREATE TABLE exception_reviews (
    review_id     INTEGER PRIMARY KEY AUTOINCREMENT,
    site_id       TEXT NOT NULL REFERENCES sites (site_id),
    exception_key TEXT NOT NULL,
    device_id     TEXT NOT NULL,
    kind          TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('acknowledged', 'resolved')),
    by_username   TEXT NOT NULL,
    at_ms         BIGINT NOT NULL,
    note          TEXT
);
CREATE INDEX exception_reviews_by_site ON exception_reviews (site_id, review_id);
