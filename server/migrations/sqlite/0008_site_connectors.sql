-- Revocation connectors of one site made through the admin API (docs/PROTOCOL.md §5.6), beside
-- those of the connectors file. A connector is disabled, never deleted: its name stays in the
-- deliveries and the ledger that name it.
CREATE TABLE site_connectors (
    site_id        TEXT NOT NULL REFERENCES sites (site_id),
    name           TEXT NOT NULL,
    kind           TEXT NOT NULL,
    -- The connector's JSON without its secret (kind, name, url, audience, client_id, auth_method).
    config_json    TEXT NOT NULL,
    -- Hex of the AES-256-GCM nonce and ciphertext of the secret (HMAC or client secret), sealed
    -- under the key file of the data directory with the site and config_json as associated
    -- data; NULL for kinds without a secret. Never the secret itself.
    sealed_secret  TEXT,
    enabled        BOOLEAN NOT NULL,
    created_by     TEXT NOT NULL,
    created_at_ms  BIGINT NOT NULL,
    updated_by     TEXT NOT NULL,
    updated_at_ms  BIGINT NOT NULL,
    PRIMARY KEY (site_id, name)
);

-- A delivery to a connector an admin disabled is `cancelled` (with the reason in last_error),
-- not left pending forever nor silently dropped. SQLite cannot alter a CHECK constraint, so the
-- table is rebuilt with its rows; nothing references it.
CREATE TABLE revocation_deliveries_v8 (
    revocation_id      BIGINT NOT NULL REFERENCES revocations (revocation_id),
    connector          TEXT NOT NULL,
    status             TEXT NOT NULL
        CHECK (status IN ('pending', 'sent', 'confirmed', 'failed', 'cancelled')),
    attempts           INTEGER NOT NULL DEFAULT 0,
    next_attempt_at_ms BIGINT NOT NULL,
    lease_until_ms     BIGINT,
    last_error         TEXT,
    updated_at_ms      BIGINT NOT NULL,
    detail             TEXT,
    PRIMARY KEY (revocation_id, connector)
);
INSERT INTO revocation_deliveries_v8
    (revocation_id, connector, status, attempts, next_attempt_at_ms, lease_until_ms, last_error,
     updated_at_ms, detail)
SELECT revocation_id, connector, status, attempts, next_attempt_at_ms, lease_until_ms, last_error,
       updated_at_ms, detail
FROM revocation_deliveries;
DROP TABLE revocation_deliveries;
ALTER TABLE revocation_deliveries_v8 RENAME TO revocation_deliveries;
CREATE INDEX revocation_deliveries_due ON revocation_deliveries (status, next_attempt_at_ms);
