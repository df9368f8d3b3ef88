//! SQL that SQLite and PostgreSQL both accept as written (`$n` parameters work in both).

pub const INSERT_SITE: &str = "INSERT INTO sites (site_id, name, config_json) VALUES ($1, $2, $3)";
pub const SITE_EXISTS: &str = "SELECT COUNT(*) FROM sites WHERE site_id = $1";
pub const INSERT_WARD: &str = "INSERT INTO wards (ward_id, site_id, name) VALUES ($1, $2, $3)";
pub const INSERT_STAFF: &str = "INSERT INTO staff (staff_id, site_id, display_name, role, badge_id, home_ward, pin_verifier, active) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
pub const INSERT_DEVICE: &str = "INSERT INTO devices (device_id, site_id, asset_tag, kind, model, home_ward, active) \
     VALUES ($1, $2, $3, $4, $5, $6, $7)";
pub const INSERT_ACCOUNT: &str =
    "INSERT INTO accounts (username, password_hash, role, site_id) VALUES ($1, $2, $3, $4)";

pub const SELECT_WARDS: &str =
    "SELECT ward_id, site_id, name FROM wards WHERE site_id = $1 ORDER BY ward_id";
pub const SELECT_STAFF: &str = "SELECT staff_id, site_id, display_name, role, badge_id, home_ward, pin_verifier, active \
     FROM staff WHERE site_id = $1 ORDER BY staff_id";
pub const SELECT_DEVICES: &str = "SELECT device_id, site_id, asset_tag, kind, model, home_ward, active \
     FROM devices WHERE site_id = $1 ORDER BY device_id";
/// An account that may sign in: a disabled one is no account at all to sign-in and sessions.
pub const SELECT_ACCOUNT: &str = "SELECT username, password_hash, role, site_id FROM accounts \
     WHERE username = $1 AND disabled_at_ms IS NULL";
pub const LIST_SITE_ACCOUNTS: &str = "SELECT username, role, site_id, disabled_at_ms FROM accounts \
     WHERE site_id = $1 ORDER BY username";
pub const FIND_SITE_ACCOUNT_DISABLED: &str =
    "SELECT disabled_at_ms FROM accounts WHERE site_id = $1 AND username = $2";
pub const SET_ACCOUNT_DISABLED: &str =
    "UPDATE accounts SET disabled_at_ms = $1 WHERE site_id = $2 AND username = $3";
pub const SET_ACCOUNT_PASSWORD: &str =
    "UPDATE accounts SET password_hash = $1 WHERE site_id = $2 AND username = $3";
pub const DELETE_ACCOUNT_SESSIONS: &str = "DELETE FROM sessions WHERE username = $1";
/// Every session of the account but one (`$2`, which may match none).
pub const DELETE_OTHER_ACCOUNT_SESSIONS: &str =
    "DELETE FROM sessions WHERE username = $1 AND session_hash <> $2";
/// The stored configuration changes only if it is still the one the change was made from.
pub const UPDATE_SITE_CONFIG: &str =
    "UPDATE sites SET config_json = $1 WHERE site_id = $2 AND config_json = $3";

pub const COUNT_SITES: &str = "SELECT COUNT(*) FROM sites";
pub const SUMMARY: &str = "SELECT \
     (SELECT COUNT(*) FROM sites), (SELECT COUNT(*) FROM wards), (SELECT COUNT(*) FROM staff), \
     (SELECT COUNT(*) FROM devices), (SELECT COUNT(*) FROM accounts)";

pub const INSERT_ENROLLMENT_CODE: &str = "INSERT INTO enrollment_codes \
     (code_hash, site_id, ward_id, created_by, created_at_ms, expires_at_ms) VALUES ($1, $2, $3, $4, $5, $6)";
pub const FIND_USABLE_CODE: &str = "SELECT site_id, ward_id FROM enrollment_codes \
     WHERE code_hash = $1 AND used_by IS NULL AND expires_at_ms > $2";
pub const USE_CODE: &str = "UPDATE enrollment_codes SET used_by = $1, used_at_ms = $2 \
     WHERE code_hash = $3 AND used_by IS NULL";
pub const TABLET_COLUMNS: &str =
    "tablet_id, site_id, ward_id, public_key, label, enrolled_at_ms, revoked_from_ms, last_sync_ms";
pub const INSERT_TABLET: &str = "INSERT INTO tablets \
     (tablet_id, site_id, ward_id, public_key, label, enrolled_at_ms) VALUES ($1, $2, $3, $4, $5, $6)";
pub const FIND_TABLET_ID_BY_KEY: &str = "SELECT tablet_id FROM tablets WHERE public_key = $1";
pub const UPDATE_TABLET_SYNC: &str = "UPDATE tablets SET last_sync_ms = $1 WHERE tablet_id = $2";

pub const DELETE_EXPIRED_NONCES: &str = "DELETE FROM request_nonces WHERE expires_at_ms < $1";
/// The leading part of a multi-row `INSERT` of nonces; RETURNING names those that were new.
pub const INSERT_NONCES_HEAD: &str =
    "INSERT INTO request_nonces (tablet_id, nonce, expires_at_ms) ";
pub const INSERT_NONCES_TAIL: &str =
    " ON CONFLICT (tablet_id, nonce) DO NOTHING RETURNING tablet_id, nonce";
pub const INSERT_NONCE: &str = "INSERT INTO request_nonces (tablet_id, nonce, expires_at_ms) VALUES ($1, $2, $3) \
     ON CONFLICT (tablet_id, nonce) DO NOTHING";

pub const FIND_EVENT_SEQ: &str = "SELECT server_seq FROM events WHERE event_id = $1";
pub const EVENTS_SINCE: &str = "SELECT server_seq, event_id, tablet_id, event_json, received_at_ms FROM events \
     WHERE site_id = $1 AND server_seq > $2 ORDER BY server_seq LIMIT $3";

pub const INSERT_SESSION: &str = "INSERT INTO sessions \
     (session_hash, username, csrf_hash, created_at_ms, expires_at_ms) VALUES ($1, $2, $3, $4, $5)";
pub const FIND_SESSION: &str = "SELECT session_hash, username, csrf_hash, created_at_ms, expires_at_ms \
     FROM sessions WHERE session_hash = $1 AND expires_at_ms > $2";
pub const DELETE_SESSION: &str = "DELETE FROM sessions WHERE session_hash = $1";
pub const SITE_CONFIG: &str = "SELECT config_json FROM sites WHERE site_id = $1";
/// The site's registry version (migration 0011), 0 before the first change; no row when the
/// site does not exist.
pub const SITE_REGISTRY_VERSION: &str = "SELECT COALESCE(v.version, 0) FROM sites s \
     LEFT JOIN site_registry_versions v ON v.site_id = s.site_id WHERE s.site_id = $1";
pub const ROTATE_TABLET_KEY: &str = "UPDATE tablets SET public_key = $1 \
     WHERE tablet_id = $2 AND site_id = $3 AND public_key = $4 AND revoked_from_ms IS NULL";
pub const INSERT_RETIRED_TABLET_KEY: &str = "INSERT INTO retired_tablet_keys \
     (public_key, tablet_id, site_id, last_seq, retired_at_ms, rotation_json) VALUES ($1, $2, $3, $4, $5, $6)";
pub const RETIRED_TABLET_KEYS: &str = "SELECT public_key, tablet_id, last_seq, retired_at_ms \
     FROM retired_tablet_keys WHERE site_id = $1 ORDER BY retired_at_ms, public_key";
pub const FIND_RETIRED_TABLET_KEY: &str =
    "SELECT tablet_id FROM retired_tablet_keys WHERE public_key = $1";
pub const DECOMMISSION_TABLET: &str =
    "UPDATE tablets SET revoked_from_ms = $1 WHERE tablet_id = $2 AND site_id = $3";
pub const LATEST_EVENT_SEQ: &str =
    "SELECT COALESCE(MAX(server_seq), 0) FROM events WHERE site_id = $1";
/// Deliveries not yet confirmed, per site and status, with the oldest revocation among them.
/// Only open rows are read (the status index), however many were confirmed before.
pub const OPEN_DELIVERIES: &str = "SELECT r.site_id, d.status, COUNT(*), MIN(r.created_at_ms) \
     FROM revocation_deliveries d JOIN revocations r ON r.revocation_id = d.revocation_id \
     WHERE d.status IN ('pending', 'sent', 'failed') GROUP BY r.site_id, d.status";
pub const STAFF_SITE: &str = "SELECT site_id FROM staff WHERE staff_id = $1";
pub const UPDATE_STAFF: &str = "UPDATE staff SET display_name = $1, role = $2, badge_id = $3, home_ward = $4, \
     pin_verifier = COALESCE($5, pin_verifier), active = $6 WHERE staff_id = $7 AND site_id = $8";
pub const DEVICE_SITE: &str = "SELECT site_id FROM devices WHERE device_id = $1";
pub const UPDATE_DEVICE: &str = "UPDATE devices SET asset_tag = $1, kind = $2, model = $3, home_ward = $4, active = $5 \
     WHERE device_id = $6 AND site_id = $7";
pub const SET_STAFF_ACTIVE: &str =
    "UPDATE staff SET active = $1 WHERE staff_id = $2 AND site_id = $3";
/// Leaves are numbered from 0 without gaps, so the size is one past the largest index: read from
/// the primary key in O(log n), where `COUNT(*)` would scan every leaf at every append.
pub const LEDGER_SIZE: &str =
    "SELECT COALESCE(MAX(leaf_index) + 1, 0) FROM ledger_entries WHERE site_id = $1";
/// The leading part of a multi-row `INSERT` of events (`QueryBuilder::push_values` adds rows).
pub const INSERT_EVENTS_HEAD: &str =
    "INSERT INTO events (site_id, event_id, signer, seq, tablet_id, event_json, received_at_ms) ";
pub const INSERT_EVENTS_TAIL: &str =
    " ON CONFLICT (event_id) DO NOTHING RETURNING event_id, server_seq";
pub const INSERT_LEDGER_ENTRIES_HEAD: &str =
    "INSERT INTO ledger_entries (site_id, leaf_index, entry_json, leaf_hash, appended_at_ms) ";
pub const INSERT_REVOCATIONS_HEAD: &str = "INSERT INTO revocations \
     (site_id, device_id, staff_id, opened_by, ended_by, reason, created_at_ms) ";
pub const INSERT_REVOCATIONS_TAIL: &str = " ON CONFLICT (site_id, device_id, staff_id, opened_by) DO NOTHING \
     RETURNING revocation_id, device_id, staff_id, opened_by";
pub const INSERT_DELIVERIES_HEAD: &str = "INSERT INTO revocation_deliveries \
     (revocation_id, connector, status, attempts, next_attempt_at_ms, updated_at_ms) ";
pub const REVOKE_CUSTODY_TOKENS_HEAD: &str = "UPDATE access_tokens SET revoked_at_ms = ";
pub const INSERT_LEDGER_NODES_HEAD: &str =
    "INSERT INTO ledger_nodes (site_id, level, node_index, hash) ";
/// Rows per multi-row `INSERT`: each row binds at most 7 values, well under SQLite's 32,766 and
/// PostgreSQL's 65,535 bind parameters, and one statement replaces hundreds of round trips to
/// the database (for SQLite, to its worker thread).
pub const ROWS_PER_INSERT: usize = 500;
/// One position of the query for a proof's nodes; `ledger_nodes` binds the site, level and
/// index of each and joins them with UNION ALL.
pub const LEDGER_NODES_LOOKUP: &str =
    "SELECT level, node_index, hash FROM ledger_nodes WHERE site_id = ";
/// Positions per query of `ledger_nodes`: a proof at 2^63 entries needs fewer than 130, and
/// SQLite allows at most 500 terms in one compound SELECT.
pub const LEDGER_NODES_PER_QUERY: usize = 200;
pub const LEDGER_ENTRIES: &str = "SELECT leaf_index, entry_json, leaf_hash, appended_at_ms FROM ledger_entries \
     WHERE site_id = $1 AND leaf_index >= $2 ORDER BY leaf_index LIMIT $3";
pub const INSERT_TREE_HEAD: &str = "INSERT INTO tree_heads (site_id, tree_size, timestamp_ms, head_json) VALUES ($1, $2, $3, $4) \
     ON CONFLICT (site_id, tree_size, timestamp_ms) DO NOTHING";
pub const LATEST_TREE_HEAD: &str = "SELECT head_json FROM tree_heads WHERE site_id = $1 \
     ORDER BY tree_size DESC, timestamp_ms DESC LIMIT 1";
pub const SERVER_KEY_ROTATIONS: &str =
    "SELECT rotation_json FROM server_key_rotations ORDER BY position";
pub const INSERT_SERVER_KEY_ROTATION: &str = "INSERT INTO server_key_rotations \
     (position, previous_key, next_key, at_ms, rotation_json) VALUES ($1, $2, $3, $4, $5)";
pub const SITE_IDS: &str = "SELECT site_id FROM sites ORDER BY site_id";
pub const LIST_REVOCATIONS: &str = "SELECT revocation_id, device_id, staff_id, opened_by, ended_by, reason, created_at_ms \
     FROM revocations WHERE site_id = $1 ORDER BY revocation_id DESC LIMIT $2";
/// Revocations some connector gave up on (the dead letter), newest first.
pub const LIST_FAILED_REVOCATIONS: &str = "SELECT revocation_id, device_id, staff_id, opened_by, ended_by, reason, created_at_ms \
     FROM revocations WHERE site_id = $1 AND revocation_id IN \
     (SELECT revocation_id FROM revocation_deliveries WHERE status = 'failed') \
     ORDER BY revocation_id DESC LIMIT $2";
pub const LIST_DELIVERIES: &str = "SELECT connector, status, attempts, last_error, updated_at_ms, detail \
     FROM revocation_deliveries WHERE revocation_id = $1 ORDER BY connector";
pub const INSERT_ACCESS_TOKEN: &str = "INSERT INTO access_tokens \
     (token_hash, site_id, device_id, staff_id, opened_by, issued_at_ms, expires_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)";
pub const FIND_ACCESS_TOKEN: &str = "SELECT token_hash, site_id, device_id, staff_id, opened_by, issued_at_ms, expires_at_ms, revoked_at_ms \
     FROM access_tokens WHERE token_hash = $1";
pub const DUE_DELIVERY_DETAILS: &str = "SELECT r.site_id, r.device_id, r.staff_id, r.opened_by, r.ended_by, r.reason, r.created_at_ms \
     FROM revocations r WHERE r.revocation_id = $1";
pub const FINISH_DELIVERY: &str = "UPDATE revocation_deliveries SET status = $1, attempts = attempts + 1, \
     next_attempt_at_ms = $2, last_error = $3, lease_until_ms = NULL, updated_at_ms = $4, detail = $7 \
     WHERE revocation_id = $5 AND connector = $6 AND status <> 'cancelled'";
pub const REVOCATION_SITE: &str = "SELECT site_id FROM revocations WHERE revocation_id = $1";
/// The external tokens of a revocation's custody for one connector, refresh tokens first
/// (RFC 7009 §2.1: revoking a refresh token should end the grant's access tokens too).
pub const EXTERNAL_TOKENS_OF_REVOCATION: &str = "SELECT t.token_id, t.token_type_hint, t.sealed \
     FROM external_tokens t JOIN revocations r ON r.site_id = t.site_id AND r.device_id = t.device_id \
     AND r.staff_id = t.staff_id AND r.opened_by = t.opened_by \
     WHERE r.revocation_id = $1 AND t.connector = $2 \
     ORDER BY CASE t.token_type_hint WHEN 'refresh_token' THEN 0 ELSE 1 END, t.token_id";
pub const COUNT_LIVE_EXTERNAL_TOKENS_OF_REVOCATION: &str = "SELECT COUNT(*) \
     FROM external_tokens t JOIN revocations r ON r.site_id = t.site_id AND r.device_id = t.device_id \
     AND r.staff_id = t.staff_id AND r.opened_by = t.opened_by \
     WHERE r.revocation_id = $1 AND t.connector = $2 AND t.revoked_at_ms IS NULL";
pub const FIND_EXTERNAL_TOKEN: &str = "SELECT token_id FROM external_tokens WHERE site_id = $1 AND connector = $2 AND token_sha256 = $3";
pub const COUNT_CUSTODY_EXTERNAL_TOKENS: &str = "SELECT COUNT(*) FROM external_tokens \
     WHERE site_id = $1 AND device_id = $2 AND staff_id = $3 AND opened_by = $4";
pub const INSERT_EXTERNAL_TOKEN: &str = "INSERT INTO external_tokens \
     (site_id, device_id, staff_id, opened_by, connector, token_type_hint, token_sha256, sealed, registered_at_ms) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING token_id";
pub const FIND_CUSTODY_REVOCATION: &str = "SELECT revocation_id FROM revocations \
     WHERE site_id = $1 AND device_id = $2 AND staff_id = $3 AND opened_by = $4";
pub const ENSURE_DELIVERY: &str = "INSERT INTO revocation_deliveries \
     (revocation_id, connector, status, attempts, next_attempt_at_ms, updated_at_ms) \
     VALUES ($1, $2, 'pending', 0, $3, $3) ON CONFLICT (revocation_id, connector) DO NOTHING";
/// A finished delivery made due again, with fresh attempts: a token was registered late.
pub const REOPEN_DELIVERY: &str = "UPDATE revocation_deliveries SET status = 'pending', attempts = 0, \
     next_attempt_at_ms = $1, lease_until_ms = NULL, last_error = $2, detail = NULL, updated_at_ms = $1 \
     WHERE revocation_id = $3 AND connector = $4 AND status <> 'pending'";
pub const MARK_EXTERNAL_TOKEN_REVOKED: &str =
    "UPDATE external_tokens SET sealed = NULL, revoked_at_ms = $1 WHERE token_id = $2";
pub const SYSLOG_CURSOR: &str = "SELECT next_index FROM syslog_cursors WHERE site_id = $1";
pub const SET_SYSLOG_CURSOR: &str = "INSERT INTO syslog_cursors (site_id, next_index) VALUES ($1, $2) \
     ON CONFLICT (site_id) DO UPDATE SET next_index = excluded.next_index";
/// `tablet_id IS NULL` names the authority's own events, and lets the query use the partial
/// index `events_authority_chain` (migration 0013).
pub const AUTHORITY_CHAIN_HEAD: &str = "SELECT event_id FROM events \
     WHERE site_id = $1 AND signer = $2 AND tablet_id IS NULL ORDER BY seq DESC LIMIT 1";
pub const INSERT_EXCEPTION_REVIEW: &str = "INSERT INTO exception_reviews \
     (site_id, exception_key, device_id, kind, state, by_username, at_ms, note) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
pub const LIST_EXCEPTION_REVIEWS: &str = "SELECT exception_key, device_id, kind, state, by_username, at_ms, note \
     FROM exception_reviews WHERE site_id = $1 ORDER BY review_id";
pub const REVOCATIONS_CREATED_BETWEEN: &str = "SELECT r.revocation_id, r.device_id, r.staff_id, r.opened_by, r.ended_by, \
     r.reason, r.created_at_ms, d.connector, d.status, d.attempts, d.last_error, d.updated_at_ms, d.detail \
     FROM revocations r LEFT JOIN revocation_deliveries d ON d.revocation_id = r.revocation_id \
     WHERE r.site_id = $1 AND r.created_at_ms >= $2 AND r.created_at_ms < $3 \
     ORDER BY r.revocation_id, d.connector";
pub const LIST_SITE_CONNECTORS: &str = "SELECT site_id, name, kind, config_json, sealed_secret, enabled, \
     created_by, created_at_ms, updated_by, updated_at_ms FROM site_connectors WHERE site_id = $1 ORDER BY name";
pub const FIND_SITE_CONNECTOR: &str = "SELECT site_id, name, kind, config_json, sealed_secret, enabled, \
     created_by, created_at_ms, updated_by, updated_at_ms FROM site_connectors WHERE site_id = $1 AND name = $2";
pub const COUNT_SITE_CONNECTORS: &str = "SELECT COUNT(*) FROM site_connectors WHERE site_id = $1";
pub const INSERT_SITE_CONNECTOR: &str = "INSERT INTO site_connectors \
     (site_id, name, kind, config_json, sealed_secret, enabled, created_by, created_at_ms, updated_by, updated_at_ms) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
pub const REPLACE_SITE_CONNECTOR: &str = "UPDATE site_connectors SET kind = $1, config_json = $2, sealed_secret = $3, \
     updated_by = $4, updated_at_ms = $5 WHERE site_id = $6 AND name = $7";
pub const SET_SITE_CONNECTOR_ENABLED: &str = "UPDATE site_connectors SET enabled = $1, updated_by = $2, \
     updated_at_ms = $3 WHERE site_id = $4 AND name = $5";
/// The connectors of a site that each new revocation is delivered to, besides the file's.
pub const ENABLED_SITE_CONNECTOR_NAMES: &str =
    "SELECT name FROM site_connectors WHERE site_id = $1 AND enabled = $2 ORDER BY name";
/// A disabled connector's deliveries not yet made: cancelled with the reason, never dropped.
pub const CANCEL_CONNECTOR_DELIVERIES: &str = "UPDATE revocation_deliveries SET status = 'cancelled', \
     last_error = $1, lease_until_ms = NULL, updated_at_ms = $2 \
     WHERE connector = $3 AND status = 'pending' \
     AND revocation_id IN (SELECT revocation_id FROM revocations WHERE site_id = $4) \
     RETURNING revocation_id";
