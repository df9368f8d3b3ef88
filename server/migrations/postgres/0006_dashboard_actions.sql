-- Dashboard actions: the server signs custody events as the authority (quarantine, release,
-- missing, found), which no tablet pushed, and managers review derived exceptions.

-- NULL exactly for the events the server signed as the authority.
ALTER TABLE events ALTER COLUMN tablet_id DROP NOT NULL;
-- The authority keeps one chain per site: its head is looked up by site and signer.
CREATE INDEX events_by_site_signer ON events (site_id, signer, seq);

-- Reviews of derived exceptions, named by their stable key (baton_core Exception::key). Every
-- action is kept; the latest is the exception's state.
CREATE TABLE exception_reviews (
    review_id     BIGSERIAL PRIMARY KEY,
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
