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
-- not left pending forever nor silently dropped.
ALTER TABLE revocation_deliveries DROP CONSTRAINT revocation_deliveries_status_check;
ALTER TABLE revocation_deliveries ADD CONSTRAINT revocation_deliveries_status_check
    CHECK (status IN ('pending', 'sent', 'confirmed', 'failed', 'cancelled'));
