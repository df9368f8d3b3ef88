-- Enrolled tablets, single-use enrollment codes, the site's event log, request nonces, and
-- dashboard sessions.
CREATE TABLE tablets (
    tablet_id       TEXT PRIMARY KEY NOT NULL,
    site_id         TEXT NOT NULL REFERENCES sites (site_id),
    ward_id         TEXT NOT NULL REFERENCES wards (ward_id),
    public_key      TEXT NOT NULL UNIQUE,
    label           TEXT NOT NULL,
    enrolled_at_ms  BIGINT NOT NULL,
    -- Set when the tablet is decommissioned: its events signed from then on are rejected.
    revoked_from_ms BIGINT,
    last_sync_ms    BIGINT
);

-- Only the SHA-256 of a code is stored: a database reader cannot enroll a tablet.
CREATE TABLE enrollment_codes (
    code_hash     TEXT PRIMARY KEY NOT NULL,
    site_id       TEXT NOT NULL REFERENCES sites (site_id),
    ward_id       TEXT NOT NULL REFERENCES wards (ward_id),
    created_by    TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    used_by       TEXT REFERENCES tablets (tablet_id),
    used_at_ms    BIGINT
);

-- Every verified event, held ones included; server_seq is the site's pull cursor.
CREATE TABLE events (
    server_seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    site_id        TEXT NOT NULL REFERENCES sites (site_id),
    event_id       TEXT NOT NULL UNIQUE,
    signer         TEXT NOT NULL,
    seq            BIGINT NOT NULL,
    tablet_id      TEXT NOT NULL REFERENCES tablets (tablet_id),
    event_json     TEXT NOT NULL,
    received_at_ms BIGINT NOT NULL
);
CREATE INDEX events_by_site ON events (site_id, server_seq);
CREATE INDEX events_by_signer ON events (signer, seq);

-- Nonces of signed requests, kept until their timestamp leaves the accepted window.
CREATE TABLE request_nonces (
    tablet_id     TEXT NOT NULL,
    nonce         TEXT NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    PRIMARY KEY (tablet_id, nonce)
);

-- Dashboard sessions: only hashes of the cookie and of the CSRF token are stored.
CREATE TABLE sessions (
    session_hash  TEXT PRIMARY KEY NOT NULL,
    username      TEXT NOT NULL REFERENCES accounts (username),
    csrf_hash     TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL
);
