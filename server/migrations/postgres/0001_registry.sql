-- The site's registry: wards, staff, devices, and dashboard accounts.
CREATE TABLE sites (
    site_id     TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    config_json TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE wards (
    ward_id TEXT PRIMARY KEY NOT NULL,
    site_id TEXT NOT NULL REFERENCES sites (site_id),
    name    TEXT NOT NULL
);

CREATE TABLE staff (
    staff_id     TEXT PRIMARY KEY NOT NULL,
    site_id      TEXT NOT NULL REFERENCES sites (site_id),
    display_name TEXT NOT NULL,
    role         TEXT NOT NULL,
    badge_id     TEXT NOT NULL UNIQUE,
    home_ward    TEXT NOT NULL REFERENCES wards (ward_id),
    pin_verifier TEXT NOT NULL,
    active       BOOLEAN NOT NULL DEFAULT TRUE
);

CREATE TABLE devices (
    device_id TEXT PRIMARY KEY NOT NULL,
    site_id   TEXT NOT NULL REFERENCES sites (site_id),
    asset_tag TEXT NOT NULL UNIQUE,
    kind      TEXT NOT NULL,
    model     TEXT NOT NULL,
    home_ward TEXT NOT NULL REFERENCES wards (ward_id),
    active    BOOLEAN NOT NULL DEFAULT TRUE
);

CREATE TABLE accounts (
    username      TEXT PRIMARY KEY NOT NULL,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'manager', 'auditor')),
    site_id       TEXT REFERENCES sites (site_id)
);
