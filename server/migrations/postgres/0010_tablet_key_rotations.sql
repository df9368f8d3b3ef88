-- Tablet keys retired by a rotation (docs/PROTOCOL.md §2.10). The tablet's row holds its current
-- key; each retired key stays here so that the events it signed keep verifying and folding, and
-- so that it can never sign again: its chain ends at `last_seq`.
CREATE TABLE retired_tablet_keys (
    public_key     TEXT PRIMARY KEY NOT NULL,
    tablet_id      TEXT NOT NULL REFERENCES tablets (tablet_id),
    site_id        TEXT NOT NULL REFERENCES sites (site_id),
    -- The last event the key signed (0: none).
    last_seq       BIGINT NOT NULL,
    retired_at_ms  BIGINT NOT NULL,
    -- The `SignedKeyRotation` as JSON, signed by this key and by the one that replaced it.
    rotation_json  TEXT NOT NULL
);
CREATE INDEX retired_tablet_keys_by_site ON retired_tablet_keys (site_id);
