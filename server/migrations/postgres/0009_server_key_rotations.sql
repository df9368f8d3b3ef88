-- The server key's history (docs/PROTOCOL.md §3.9): each row hands the signing key over from
-- `previous_key` to `next_key`, signed by both. Public and self-authenticating: a verifier
-- checks the signatures, not this table. The secret keys are never here.
CREATE TABLE server_key_rotations (
    position      BIGINT PRIMARY KEY,
    -- A key hands over once: a second rotation from the same key would fork the history.
    previous_key  TEXT NOT NULL UNIQUE,
    next_key      TEXT NOT NULL UNIQUE,
    at_ms         BIGINT NOT NULL,
    -- The `SignedKeyRotation` as JSON.
    rotation_json TEXT NOT NULL
);
