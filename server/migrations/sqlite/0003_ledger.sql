-- The audit ledger: one append-only Merkle log per site (RFC 6962 hashing), the perfect-subtree
-- hashes that proofs are computed from, and the signed tree heads.
CREATE INDEX request_nonces_by_expiry ON request_nonces (expires_at_ms);

CREATE TABLE ledger_entries (
    site_id        TEXT NOT NULL REFERENCES sites (site_id),
    leaf_index     BIGINT NOT NULL,
    entry_json     TEXT NOT NULL,
    leaf_hash      TEXT NOT NULL,
    appended_at_ms BIGINT NOT NULL,
    PRIMARY KEY (site_id, leaf_index)
);

-- The root of leaves [node_index * 2^level, (node_index + 1) * 2^level), stored once complete.
CREATE TABLE ledger_nodes (
    site_id    TEXT NOT NULL REFERENCES sites (site_id),
    level      INTEGER NOT NULL,
    node_index BIGINT NOT NULL,
    hash       TEXT NOT NULL,
    PRIMARY KEY (site_id, level, node_index)
);

CREATE TABLE tree_heads (
    site_id      TEXT NOT NULL REFERENCES sites (site_id),
    tree_size    BIGINT NOT NULL,
    timestamp_ms BIGINT NOT NULL,
    -- The signed head exactly as served (docs/PROTOCOL.md section 3).
    head_json    TEXT NOT NULL,
    PRIMARY KEY (site_id, tree_size, timestamp_ms)
);
