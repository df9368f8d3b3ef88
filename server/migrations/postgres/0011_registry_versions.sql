-- A counter per site, bumped by triggers whenever a row that a site's replica is built from
-- changes: its devices (the registry and the board's device records), its tablets' keys,
-- wards and decommissioning (not their last sync), its retired tablet keys, its configuration,
-- and the server's key history (every site). A replica reads this one row at every use and
-- re-reads the rest only when it moved, so that every server process still sees a
-- decommissioned tablet from its next request on. Triggers, rather than a bump in each writer,
-- so that no writer, present or future, can forget it. A table of its own, not a column of
-- `sites`, so that ingest (which locks the site's row) never waits on it. The bump is an update
-- of one row, so a reader that saw a version sees every change committed before it.
CREATE TABLE site_registry_versions (
    site_id TEXT PRIMARY KEY NOT NULL REFERENCES sites (site_id),
    version BIGINT NOT NULL
);

CREATE FUNCTION bump_site_registry_version(changed_site TEXT) RETURNS void AS $$
    INSERT INTO site_registry_versions (site_id, version) VALUES (changed_site, 1)
        ON CONFLICT (site_id) DO UPDATE SET version = site_registry_versions.version + 1;
$$ LANGUAGE sql;

CREATE FUNCTION registry_version_row_changed() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM bump_site_registry_version(OLD.site_id);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND (TG_OP = 'INSERT' OR NEW.site_id <> OLD.site_id) THEN
        PERFORM bump_site_registry_version(NEW.site_id);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER registry_version_devices AFTER INSERT OR UPDATE OR DELETE ON devices
    FOR EACH ROW EXECUTE FUNCTION registry_version_row_changed();
-- Not `last_sync_ms`: it changes at every push and no replica is built from it.
CREATE TRIGGER registry_version_tablets
    AFTER INSERT OR DELETE OR UPDATE OF tablet_id, site_id, ward_id, public_key, label, revoked_from_ms
    ON tablets FOR EACH ROW EXECUTE FUNCTION registry_version_row_changed();
CREATE TRIGGER registry_version_retired_tablet_keys AFTER INSERT OR UPDATE OR DELETE ON retired_tablet_keys
    FOR EACH ROW EXECUTE FUNCTION registry_version_row_changed();
CREATE TRIGGER registry_version_site_config AFTER UPDATE OF config_json ON sites
    FOR EACH ROW EXECUTE FUNCTION registry_version_row_changed();

-- The server's key history is every site's authority.
CREATE FUNCTION registry_version_all_sites() RETURNS trigger AS $$
BEGIN
    INSERT INTO site_registry_versions (site_id, version) SELECT site_id, 1 FROM sites
        ON CONFLICT (site_id) DO UPDATE SET version = site_registry_versions.version + 1;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER registry_version_server_keys AFTER INSERT OR UPDATE OR DELETE ON server_key_rotations
    FOR EACH STATEMENT EXECUTE FUNCTION registry_version_all_sites();
