-- How far the syslog forwarder has sent each site's ledger.
CREATE TABLE syslog_cursors (
    site_id    TEXT PRIMARY KEY NOT NULL REFERENCES sites (site_id),
    next_index BIGINT NOT NULL
);
