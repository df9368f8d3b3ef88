-- OAuth 2.0 Token Revocation (RFC 7009): tokens that apps on a shared device obtained from the
-- hospital's authorization server and registered with Baton, bound to the custody they were
-- registered under, so that the custody's end revokes them (docs/PROTOCOL.md §5.5).

-- What a delivery found, recorded with its outcome: for RFC 7009, how many tokens it revoked,
-- or that the custody had none ("confirmed, nothing to revoke").
ALTER TABLE revocation_deliveries ADD COLUMN detail TEXT;

CREATE TABLE external_tokens (
    token_id         INTEGER PRIMARY KEY AUTOINCREMENT,
    site_id          TEXT NOT NULL REFERENCES sites (site_id),
    -- The custody, as `revocations` keys it.
    device_id        TEXT NOT NULL,
    staff_id         TEXT NOT NULL,
    opened_by        TEXT NOT NULL,
    -- The `oauth_revocation` connector (the authorization server) that issued the token.
    connector        TEXT NOT NULL,
    token_type_hint  TEXT NOT NULL CHECK (token_type_hint IN ('refresh_token', 'access_token')),
    -- SHA-256 of the token, so that registering one twice stores it once.
    token_sha256     TEXT NOT NULL,
    -- Hex of the AES-256-GCM nonce and ciphertext (the custody is the associated data), sealed
    -- under the key in the data directory; never the token itself. NULL once it is revoked.
    sealed           TEXT,
    registered_at_ms BIGINT NOT NULL,
    revoked_at_ms    BIGINT,
    UNIQUE (site_id, connector, token_sha256)
);
CREATE INDEX external_tokens_by_custody
    ON external_tokens (site_id, device_id, staff_id, opened_by, connector);
