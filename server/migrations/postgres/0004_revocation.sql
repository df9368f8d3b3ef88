-- Revocation at custody end: one row per ended (or superseded) custody, written in the same
-- transaction as the event that ended it (a transactional outbox), one delivery per connector,
-- and the custody-bound access tokens Baton issues itself.
CREATE TABLE revocations (
    revocation_id BIGSERIAL PRIMARY KEY,
    site_id       TEXT NOT NULL REFERENCES sites (site_id),
    device_id     TEXT NOT NULL,
    staff_id      TEXT NOT NULL,
    -- The event that opened the custody: with device and person, what makes a custody unique,
    -- so nothing is revoked twice for the same custody.
    opened_by     TEXT NOT NULL,
    ended_by      TEXT,
    reason        TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    UNIQUE (site_id, device_id, staff_id, opened_by)
);

CREATE TABLE revocation_deliveries (
    revocation_id      BIGINT NOT NULL REFERENCES revocations (revocation_id),
    connector          TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'confirmed', 'failed')),
    attempts           INTEGER NOT NULL DEFAULT 0,
    next_attempt_at_ms BIGINT NOT NULL,
    lease_until_ms     BIGINT,
    last_error         TEXT,
    updated_at_ms      BIGINT NOT NULL,
    PRIMARY KEY (revocation_id, connector)
);
CREATE INDEX revocation_deliveries_due ON revocation_deliveries (status, next_attempt_at_ms);

-- Only the SHA-256 of a token is stored.
CREATE TABLE access_tokens (
    token_hash    TEXT PRIMARY KEY NOT NULL,
    site_id       TEXT NOT NULL REFERENCES sites (site_id),
    device_id     TEXT NOT NULL,
    staff_id      TEXT NOT NULL,
    opened_by     TEXT NOT NULL,
    issued_at_ms  BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    revoked_at_ms BIGINT
);
CREATE INDEX access_tokens_by_custody ON access_tokens (device_id, staff_id);
