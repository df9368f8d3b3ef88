-- A counter per site, bumped by triggers whenever a row that a site's replica is built from
-- changes: its devices (the registry and the board's device records), its tablets' keys,
-- wards and decommissioning (not their last sync), its retired tablet keys, its configuration,
-- and the server's key history (every site). A replica reads this one row at every use and
-- re-reads the rest only when it moved, so that every server process still sees a
-- decommissioned tablet from its next request on. Triggers, rather than a bump in each writer,
-- so that no writer, present or future, can forget it. A table of its own, not a column of
-- `sites`, so that ingest (which locks the site's row) never waits on it.
CREATE TABLE site_registry_versions (
    site_id TEXT PRIMARY KEY NOT NULL REFERENCES sites (site_id),
    version BIGINT NOT NULL
);

CREATE TRIGGER registry_version_device_insert AFTER INSERT ON devices BEGIN
    INSERT INTO site_registry_versions (site_id, version) VALUES (NEW.site_id, 1)
        ON CONFLICT (site_id) DO UPDATE SET version = site_registry_versions.version + 1;
END;
CREATE TRIGGER registry_version_device_update AFTER UPDATE ON devices BEGIN
    INSERT INTO site_registry_versions (site_id, version) VALUES (OLD.site_id, 1)
        ON CONFLICT (site_id) DO UPDATE SET version = site_registry_versions.version + 1;
    INSERT INTO site_registry_versions (site_id, version) VALUES (NEW.site_id, 1)
        ON CONFLICT (site_id) DO UPDATE SET version = site_registry_versions.version + 1;
END;
CREATE TRIGGER registry_version_device_delete AFTER DELETE ON devices BEGIN
    INSERT INTO site_registry_versions (site_id, version) VALUES (OLD.site_id, 1)
        ON CONFLICT (site_id) DO UPDATE SET version = site_registry_versions.version + 1;
END;

CREATE TRIGGER registry_version_tablet_insert AFTER INSERT ON tablets BEGIN
    INSERT INTO site_registry_versions (site_id, version) VALUES (NEW.site_id, 1)
        ON CONFLICT (site_id) DO UPDATE SET version = site_registry_versions.version + 1;
END;
-- Not `last_sync_ms`: it changes at every push and no replica is built from it.
CREATE TRIGGER registry_version_tablet_update
    AFTER UPDATE OF tablet_id, site_id, ward_id, public_key, label, revoked_from_ms ON tablets BEGIN
    INSERT INTO site_registry_versions (site_id, version) VALUES (OLD.site_id, 1)
        ON CONFLICT (site_id) DO UPDATE SET version = site_registry_versions.version + 1;
    INSERT INTO site_registry_versions (site_id, version) VALUES (NEW.site_id, 1)
        ON CONFLICT (site_id) DO UPDATE SET version = site_registry_versions.version + 1;
END;
CREATE TRIGGER registry_version_tablet_delete AFTER DELETE ON tablets BEGIN
    INSERT INTO site_registry_versions (site_id, version) VALUES (OLD.site_id, 1)
        ON CONFLICT (site_id) DO UPDATE SET version = site_registry_versions.version + 1;
END;

CREATE TRIGGER registry_version_retired_key_insert AFTER INSERT ON retired_tablet_keys BEGIN
    INSERT INTO site_registry_versions (site_id, version) VALUES (NEW.site_id, 1)
        ON CONFLICT (site_id) DO UPDATE SET version = site_registry_versions.version + 1;
END;
CREATE TRIGGER registry_version_retired_key_update AFTER UPDATE ON retired_tablet_keys BEGIN
    INSERT INTO site_registry_versions (site_id, version) VALUES (OLD.site_id, 1)
        ON CONFLICT (site_id) DO UPDATE SET version = site_registry_versions.version + 1;
    INSERT INTO site_registry_versions (site_id, version) VALUES (NEW.site_id, 1)
        ON CONFLICT (site_id) DO UPDATE SET version = site_registry_versions.version + 1;
END;
CREATE TRIGGER registry_version_retired_key_delete AFTER DELETE ON retired_tablet_keys BEGIN
    INSERT INTO site_registry_versions (site_id, version) VALUES (OLD.site_id, 1)
        ON CONFLICT (site_id) DO UPDATE SET version = site_registry_versions.version + 1;
END;

CREATE TRIGGER registry_version_site_config AFTER UPDATE OF config_json ON sites BEGIN
    INSERT INTO site_registry_versions (site_id, version) VALUES (NEW.site_id, 1)
        ON CONFLICT (site_id) DO UPDATE SET version = site_registry_versions.version + 1;
END;

-- The server's key history is every site's authority.
CREATE TRIGGER registry_version_server_key_insert AFTER INSERT ON server_key_rotations BEGIN
    INSERT INTO site_registry_versions (site_id, version) SELECT site_id, 1 FROM sites WHERE TRUE
        ON CONFLICT (site_id) DO UPDATE SET version = site_registry_versions.version + 1;
END;
CREATE TRIGGER registry_version_server_key_update AFTER UPDATE ON server_key_rotations BEGIN
    INSERT INTO site_registry_versions (site_id, version) SELECT site_id, 1 FROM sites WHERE TRUE
        ON CONFLICT (site_id) DO UPDATE SET version = site_registry_versions.version + 1;
END;
CREATE TRIGGER registry_version_server_key_delete AFTER DELETE ON server_key_rotations BEGIN
    INSERT INTO site_registry_versions (site_id, version) SELECT site_id, 1 FROM sites WHERE TRUE
        ON CONFLICT (site_id) DO UPDATE SET version = site_registry_versions.version + 1;
END;
