//! Storage behind one trait, one implementation per backend, chosen by the URL scheme.
//!
//! The SQL both backends accept word for word lives in `sql`; each backend keeps its own
//! migrations (`migrations/sqlite`, `migrations/postgres`) and whatever needs its own dialect.

mod common;
pub mod postgres;
mod records;
mod schema;
mod sql;
pub mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use baton_core::ledger::{HashStore, LedgerEntry, LedgerHash, NodePosition};

pub use schema::{AppliedMigration, latest_known_version};

pub use records::{
    AccessTokenRecord, AccountChanged, AccountListing, AccountRecord, AccountRole, AppendedEvent,
    AppendedEvents, AuthorityPrecondition, ConnectorSwitched, DeliveryOutcome, DeliveryRecord,
    DeviceRecord, DueDelivery, EnrollmentCode, EventText, ExceptionReviewRecord,
    ExternalTokenRegistered, ExternalTokenRow, LedgerRow, NewEvent, NewExternalToken, NewNonce,
    NewRevocation, OpenDeliveries, RetiredTabletKey, RevocationRecord, SessionRecord,
    SiteConnectorRecord, SiteSetup, StaffRecord, StaffUpsert, StoredEvent, Summary,
    TabletKeyRotation, TabletRecord, WardRecord,
};

/// Ledger nodes fetched from storage: a `HashStore` for `baton_core::ledger`'s proofs.
#[derive(Debug, Clone, Default)]
pub struct LedgerNodes(pub std::collections::HashMap<(u32, u64), LedgerHash>);

impl HashStore for LedgerNodes {
    fn node(&self, level: u32, index: u64) -> Option<LedgerHash> {
        self.0.get(&(level, index)).copied()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error(
        "unsupported database URL scheme in {0:?}: use sqlite://PATH or postgres://USER@HOST:PORT/DB"
    )]
    UnsupportedUrl(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error(
        "the database schema is at version {database_version}, newer than this binary knows \
         (up to {binary_version}): a newer Baton has migrated it. Run that newer binary (or a \
         later one); never downgrade. To go back, restore the backup taken before the upgrade"
    )]
    SchemaTooNew {
        database_version: i64,
        binary_version: i64,
    },
    #[error("the site {0:?} already exists")]
    SiteExists(String),
    #[error("the enrollment code is unknown, expired or already used")]
    EnrollmentCodeInvalid,
    #[error("this public key is already enrolled as tablet {0}")]
    KeyAlreadyEnrolled(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the ledger of site {site_id:?} cannot be extended: {reason}")]
    Ledger { site_id: String, reason: String },
    #[error(
        "the log of site {site_id:?} changed since the authority's event was built; build it again"
    )]
    Stale { site_id: String },
    #[error("this custody already has {limit} registered external tokens, the most it may hold")]
    TooManyExternalTokens { limit: i64 },
    #[error("this site already has {limit} connectors, the most it may hold")]
    TooManyConnectors { limit: i64 },
}

impl StorageError {
    /// Whether the database could not be reached or is restarting (the connection failed,
    /// timed out or was cut, or the server is shutting down or starting up), so the request
    /// may be retried: an HTTP 503, not a 500.
    pub fn is_unavailable(&self) -> bool {
        let StorageError::Database(error) = self else {
            return false;
        };
        match error {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => true,
            // SQLSTATE class 08 (connection exception), 53 (insufficient resources) and 57P
            // (operator intervention: admin or crash shutdown, cannot connect now).
            sqlx::Error::Database(error) => error.code().is_some_and(|code| {
                code.starts_with("08") || code.starts_with("53") || code.starts_with("57P")
            }),
            _ => false,
        }
    }

    /// Whether the write failed because the disk is full or not writable (see [`DiskFault`]),
    /// as opposed to the database being out of reach or the request being wrong.
    pub fn disk_fault(&self) -> Option<DiskFault> {
        let StorageError::Database(sqlx::Error::Database(error)) = self else {
            return None;
        };
        let code = error.code()?;
        if error
            .try_downcast_ref::<sqlx::sqlite::SqliteError>()
            .is_some()
        {
            // sqlx reports SQLite's extended result code; its low byte is the primary code.
            let extended: i64 = code.parse().ok()?;
            return match (extended & 0xff, extended) {
                (sqlite_code::FULL, _) => Some(DiskFault::Full),
                (sqlite_code::READONLY, _)
                | (
                    _,
                    sqlite_code::IOERR_WRITE
                    | sqlite_code::IOERR_FSYNC
                    | sqlite_code::IOERR_DIR_FSYNC
                    | sqlite_code::IOERR_TRUNCATE,
                ) => Some(DiskFault::NotWritable),
                _ => None,
            };
        }
        match code.as_ref() {
            "53100" => Some(DiskFault::Full),
            "25006" => Some(DiskFault::NotWritable),
            _ => None,
        }
    }
}

/// When this process last met a disk fault, in milliseconds after `FAULT_CLOCK_START` plus one
/// (0: never).
static LAST_DISK_FAULT_MS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
static FAULT_CLOCK_START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

fn fault_clock_ms() -> u64 {
    FAULT_CLOCK_START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_millis() as u64
        + 1
}

/// Records that a storage call just failed for a full or unwritable disk (called where such a
/// failure becomes an answer, `http::error::ApiError::storage`).
pub fn note_disk_fault() {
    LAST_DISK_FAULT_MS.store(fault_clock_ms(), std::sync::atomic::Ordering::Relaxed);
}

/// Every this many remembered nonces, the expired ones are deleted (`Storage::remember_nonce`):
/// the table holds the request window's nonces and those that expired since the last sweep.
const NONCE_SWEEP_EVERY: u64 = 64;

/// For this long after a disk fault every connection is closed as it comes back to the pool.
const DISK_FAULT_RECYCLE_MS: u64 = 10_000;

/// Whether a pooled connection of this `age` may carry the last disk fault with it, and should
/// be closed rather than reused. A SQLite connection that met the fault can keep failing after
/// the disk is fixed, and one opened while the file was read-only stays read-only for its
/// lifetime (SQLite falls back to a read-only open), as does a PostgreSQL session opened while
/// the database was read-only. So connections opened before the last fault, and every
/// connection released shortly after one, are closed; the pool opens fresh ones, which see the
/// disk as it is now.
pub(crate) fn may_carry_a_disk_fault(age: std::time::Duration) -> bool {
    let last = LAST_DISK_FAULT_MS.load(std::sync::atomic::Ordering::Relaxed);
    if last == 0 {
        return false;
    }
    let since_fault = fault_clock_ms().saturating_sub(last);
    since_fault < DISK_FAULT_RECYCLE_MS || age.as_millis() as u64 >= since_fault
}

/// Why the database refused to store anything, when the fault is the disk's, not the
/// request's: the operator must act (free space, make the disk writable) and the client should
/// keep what it sent and retry later. Nothing of the failed transaction is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskFault {
    /// SQLite's `SQLITE_FULL` (the file system has no space left, or the database reached its
    /// `max_page_count`), PostgreSQL's SQLSTATE 53100 `disk_full`.
    Full,
    /// The database cannot be written: SQLite's `SQLITE_READONLY` family or a failed write,
    /// sync or truncate (`SQLITE_IOERR_WRITE`, `_FSYNC`, `_DIR_FSYNC`, `_TRUNCATE`: the file
    /// system is read-only, the file immutable, or the disk failing); PostgreSQL's SQLSTATE
    /// 25006 `read_only_sql_transaction` (a standby, or `default_transaction_read_only`).
    NotWritable,
}

/// SQLite's primary result codes and the extended I/O codes that mean a write failed
/// (sqlite.org/rescode.html).
mod sqlite_code {
    pub const READONLY: i64 = 8;
    pub const FULL: i64 = 13;
    pub const IOERR_WRITE: i64 = 778;
    pub const IOERR_FSYNC: i64 = 1034;
    pub const IOERR_DIR_FSYNC: i64 = 1290;
    pub const IOERR_TRUNCATE: i64 = 1546;
}

/// Which backend a store runs on; used for logs and `/readyz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    /// The newest schema version (migration) this binary knows for the backend.
    pub fn latest_schema_version(self) -> i64 {
        match self {
            Backend::Sqlite => latest_known_version(&sqlite::MIGRATOR),
            Backend::Postgres => latest_known_version(&postgres::MIGRATOR),
        }
    }
}

/// Everything the server persists. Each method is one transaction: a caller never sees half of a
/// write.
#[async_trait]
pub trait Storage: Send + Sync + 'static {
    fn backend(&self) -> Backend;

    /// Round trip to the database, for `/readyz`.
    async fn ping(&self) -> Result<(), StorageError>;

    /// Whether no site has been created yet (a first start).
    async fn is_empty(&self) -> Result<bool, StorageError>;

    /// Creates a site with its wards, staff, devices and accounts in one transaction.
    async fn import_site(&self, site: &SiteSetup) -> Result<(), StorageError>;

    async fn list_wards(&self, site_id: &str) -> Result<Vec<WardRecord>, StorageError>;
    async fn list_devices(&self, site_id: &str) -> Result<Vec<DeviceRecord>, StorageError>;
    async fn list_staff(&self, site_id: &str) -> Result<Vec<StaffRecord>, StorageError>;
    /// An account that may sign in; `None` for an unknown or a disabled one, so that sign-in
    /// and every session refuse a disabled account alike.
    async fn find_account(&self, username: &str) -> Result<Option<AccountRecord>, StorageError>;

    /// Counts of what is stored, printed at start-up.
    async fn summary(&self) -> Result<Summary, StorageError>;

    /// The site's connectors made through the admin API, enabled or not, by name.
    async fn list_site_connectors(
        &self,
        site_id: &str,
    ) -> Result<Vec<SiteConnectorRecord>, StorageError>;

    async fn find_site_connector(
        &self,
        site_id: &str,
        name: &str,
    ) -> Result<Option<SiteConnectorRecord>, StorageError>;

    /// Creates an enabled site connector and appends `entry` (its governance record) to the
    /// site's ledger, in one transaction under the site's lock: `Conflict` if the site has one
    /// of that name, `TooManyConnectors` if it has `max_per_site` already (disabled ones
    /// count). From its commit on, every revocation recorded for the site gets a delivery to it.
    async fn create_site_connector(
        &self,
        connector: &SiteConnectorRecord,
        max_per_site: i64,
        entry: &LedgerEntry,
    ) -> Result<(), StorageError>;

    /// Replaces a site connector's kind, configuration and sealed secret (its enabled state and
    /// creation stay) and appends `entry`, in one transaction; `false` if there is none of that
    /// name. Pending deliveries go to the new configuration at their next attempt.
    async fn replace_site_connector(
        &self,
        connector: &SiteConnectorRecord,
        entry: &LedgerEntry,
    ) -> Result<bool, StorageError>;

    /// Enables or disables a site connector, in one transaction under the site's lock. Disabling
    /// cancels its pending deliveries (status `cancelled`, `last_error` naming who disabled it);
    /// `action` (the governance action) gets the cancelled revocation ids and is ledgered, by
    /// `by`, in the same transaction. Nothing is written when it already is as asked. `None` if
    /// there is no such connector.
    async fn set_site_connector_enabled(
        &self,
        site_id: &str,
        name: &str,
        enabled: bool,
        by: &str,
        now_ms: i64,
        action: serde_json::Value,
    ) -> Result<Option<ConnectorSwitched>, StorageError>;

    /// The site's configuration JSON, `None` for an unknown site.
    async fn site_config(&self, site_id: &str) -> Result<Option<String>, StorageError>;
    /// A number that changes (in the same transaction) whenever a site's devices, tablet keys,
    /// retired keys or configuration change, or the server's key history does: what a site's
    /// replica is built from. `None` when the site does not exist.
    async fn site_registry_version(&self, site_id: &str) -> Result<Option<i64>, StorageError>;

    async fn create_enrollment_code(&self, code: &EnrollmentCode) -> Result<(), StorageError>;

    /// Uses up an unexpired, unused code and enrolls `tablet` in one transaction, at the code's
    /// site and ward (whatever `tablet` says of them).
    async fn redeem_enrollment_code(
        &self,
        code_hash: &str,
        now_ms: i64,
        tablet: &TabletRecord,
    ) -> Result<TabletRecord, StorageError>;

    async fn find_tablet_by_key(
        &self,
        public_key: &str,
    ) -> Result<Option<TabletRecord>, StorageError>;
    async fn list_tablets(&self, site_id: &str) -> Result<Vec<TabletRecord>, StorageError>;
    /// Refuses the tablet's key from `revoked_from_ms` on; `false` if the site has no such tablet.
    async fn decommission_tablet(
        &self,
        site_id: &str,
        tablet_id: &str,
        revoked_from_ms: i64,
    ) -> Result<bool, StorageError>;

    async fn record_tablet_sync(&self, tablet_id: &str, now_ms: i64) -> Result<(), StorageError>;

    /// Remembers a signed request's nonce until `expires_at_ms`; `false` if it was already seen
    /// (a replay). Forgets expired nonces on the way.
    async fn remember_nonce(
        &self,
        tablet_id: &str,
        nonce: &str,
        expires_at_ms: i64,
        now_ms: i64,
    ) -> Result<bool, StorageError>;

    /// Appends verified events to the site's log and each new one to the site's ledger, in one
    /// transaction, and returns where each landed, in input order. An event already stored
    /// keeps its first `server_seq` and gets no new leaf. Appends to one site are serialised,
    /// so `server_seq` and leaf indices grow in commit order and a pull cursor never skips an
    /// event that commits late.
    /// The revocations the batch causes are recorded in the same transaction (a transactional
    /// outbox): once per custody, with one delivery per connector in `connectors` and per
    /// enabled connector of the site (`create_site_connector`), read under the lock. The built-in
    /// connector `baton_tokens` is carried out at once: the custody's access tokens are revoked
    /// in that transaction and its delivery is `confirmed`. Each of `contacts`, (tablet id,
    /// milliseconds), stamps the tablets that pushed them with their last contact in the same
    /// transaction (`record_tablet_sync`), rather than in a write of its own per push. So are
    /// `nonces`, the pushes' request nonces (`remember_nonce`), each answered in
    /// `AppendedEvents::fresh_nonces`; the expired ones are swept in the same transaction.
    async fn append_events(
        &self,
        site_id: &str,
        events: &[NewEvent],
        revocations: &[NewRevocation],
        connectors: &[String],
        contacts: &[(String, i64)],
        nonces: &[NewNonce],
    ) -> Result<AppendedEvents, StorageError>;

    /// Appends one event the server signed as the authority, exactly as `append_events` does
    /// (ledger leaf, revocations and their deliveries in the same transaction), provided that
    /// the site's log is still as `precondition` describes once the site's append lock is
    /// held; otherwise nothing is written and the answer is `StorageError::Stale`. Several
    /// server processes on one database thus never fork the authority's chain.
    async fn append_authority_event(
        &self,
        site_id: &str,
        event: &NewEvent,
        precondition: &AuthorityPrecondition,
        revocations: &[NewRevocation],
        connectors: &[String],
    ) -> Result<AppendedEvent, StorageError>;

    /// Stores a manager's review of an exception and appends `entry` (its governance record)
    /// to the site's ledger, in one transaction; returns the entry's leaf index.
    async fn add_exception_review(
        &self,
        site_id: &str,
        review: &ExceptionReviewRecord,
        entry: &LedgerEntry,
    ) -> Result<i64, StorageError>;

    /// Every review of the site's exceptions, oldest first.
    async fn list_exception_reviews(
        &self,
        site_id: &str,
    ) -> Result<Vec<ExceptionReviewRecord>, StorageError>;

    /// The site's revocations created in `from_ms..to_ms`, oldest first, with their
    /// deliveries: what the report's revocation figures count.
    async fn revocations_created_between(
        &self,
        site_id: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<RevocationRecord>, StorageError>;

    /// The site's devices with a revocation whose delivery is pending, sent or failed: access
    /// still open after the custody ended, however old the revocation.
    async fn devices_with_open_access(&self, site_id: &str) -> Result<Vec<String>, StorageError>;
    /// The site's revocations, newest first, at most `limit`, with their deliveries.
    async fn list_revocations(
        &self,
        site_id: &str,
        limit: i64,
    ) -> Result<Vec<RevocationRecord>, StorageError>;
    /// Revocations with a delivery some connector gave up on (status `failed`), newest first.
    async fn failed_revocations(
        &self,
        site_id: &str,
        limit: i64,
    ) -> Result<Vec<RevocationRecord>, StorageError>;

    /// Leases up to `limit` deliveries that are due, until `lease_until_ms`, so that several
    /// server processes never send the same delivery at once (PostgreSQL: `FOR UPDATE SKIP
    /// LOCKED`; SQLite has one writer).
    async fn claim_due_deliveries(
        &self,
        now_ms: i64,
        lease_until_ms: i64,
        limit: i64,
    ) -> Result<Vec<DueDelivery>, StorageError>;

    /// Records an attempt's outcome and releases the lease. Under the site's lock, as
    /// `register_external_token` takes it: a `Confirmed` outcome while the custody still has an
    /// unrevoked external token for this connector (one registered while the attempt ran) is
    /// stored as due again at once instead, and the answer is `false`.
    async fn finish_delivery(
        &self,
        revocation_id: i64,
        connector: &str,
        outcome: &DeliveryOutcome,
        now_ms: i64,
    ) -> Result<bool, StorageError>;

    /// Binds a sealed external token to its custody, at most `max_per_custody` per custody
    /// (`StorageError::TooManyExternalTokens`), in one transaction under the site's lock. When
    /// the custody already has a revocation (it ended), its delivery to the token's connector
    /// is made due now (created, or reopened with fresh attempts if it had finished), so a
    /// registration after the custody's end is revoked rather than kept.
    async fn register_external_token(
        &self,
        token: &NewExternalToken,
        max_per_custody: i64,
    ) -> Result<ExternalTokenRegistered, StorageError>;

    /// The external tokens registered for the revocation's custody and `connector`, revoked
    /// ones included (without ciphertext): refresh tokens first, then in registration order.
    async fn external_tokens_of(
        &self,
        revocation_id: i64,
        connector: &str,
    ) -> Result<Vec<ExternalTokenRow>, StorageError>;

    /// Records that the authorization server revoked the token, and deletes its ciphertext.
    async fn mark_external_token_revoked(
        &self,
        token_id: i64,
        now_ms: i64,
    ) -> Result<(), StorageError>;

    async fn insert_access_token(&self, token: &AccessTokenRecord) -> Result<(), StorageError>;
    async fn find_access_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<AccessTokenRecord>, StorageError>;

    /// Appends one governance entry to the site's ledger; returns its leaf index.
    async fn append_governance(
        &self,
        site_id: &str,
        entry: &LedgerEntry,
        now_ms: i64,
    ) -> Result<i64, StorageError>;

    /// The number of leaves in the site's ledger.
    async fn ledger_size(&self, site_id: &str) -> Result<i64, StorageError>;

    /// The stored perfect-subtree nodes at `positions` (absent ones are left out).
    async fn ledger_nodes(
        &self,
        site_id: &str,
        positions: &[NodePosition],
    ) -> Result<LedgerNodes, StorageError>;

    /// Ledger leaves from `from_index` on, oldest first, at most `limit`.
    async fn ledger_entries(
        &self,
        site_id: &str,
        from_index: i64,
        limit: i64,
    ) -> Result<Vec<LedgerRow>, StorageError>;

    async fn store_tree_head(
        &self,
        site_id: &str,
        tree_size: i64,
        timestamp_ms: i64,
        head_json: &str,
    ) -> Result<(), StorageError>;

    /// The newest signed head of the site's ledger (largest size, then latest time), as JSON.
    async fn latest_tree_head(&self, site_id: &str) -> Result<Option<String>, StorageError>;

    /// Replaces a tablet's key with the one its rotation introduces, keeps the old key as
    /// retired after `last_seq`, and appends `entry` (the `tablet_key_rotated` governance
    /// action) to the site's ledger, all in one transaction under the site's append lock.
    /// `Conflict` when the tablet no longer has `previous_key` or was decommissioned;
    /// `KeyAlreadyEnrolled` when `next_key` is, or was, some tablet's key.
    async fn rotate_tablet_key(
        &self,
        rotation: &TabletKeyRotation<'_>,
        entry: &LedgerEntry,
        now_ms: i64,
    ) -> Result<i64, StorageError>;

    /// The site's retired tablet keys.
    async fn retired_tablet_keys(
        &self,
        site_id: &str,
    ) -> Result<Vec<RetiredTabletKey>, StorageError>;

    /// The tablet a retired key belonged to, if the key is a retired one.
    async fn find_retired_tablet_key(
        &self,
        public_key: &str,
    ) -> Result<Option<String>, StorageError>;

    /// The server key's rotations (`SignedKeyRotation` JSON), oldest first.
    async fn server_key_rotations(&self) -> Result<Vec<String>, StorageError>;

    /// Records the rotation at `position` (the number of rotations before it). `Conflict` when
    /// another rotation took that position or already handed over from `previous_key`: the
    /// history never forks.
    async fn record_server_key_rotation(
        &self,
        position: i64,
        previous_key: &str,
        next_key: &str,
        at_ms: i64,
        rotation_json: &str,
    ) -> Result<(), StorageError>;

    /// The next ledger leaf the syslog forwarder sends for the site (0 at first).
    async fn syslog_cursor(&self, site_id: &str) -> Result<i64, StorageError>;
    async fn set_syslog_cursor(&self, site_id: &str, next_index: i64) -> Result<(), StorageError>;

    /// Revocation deliveries not yet confirmed, for the metrics: per site and status
    /// (`pending`, `sent`, `failed`), how many, and when the oldest of their revocations was
    /// created.
    async fn open_deliveries(&self) -> Result<Vec<OpenDeliveries>, StorageError>;

    /// Every site id, for the tree-head signer.
    async fn list_site_ids(&self) -> Result<Vec<String>, StorageError>;

    /// The site's events after `after_seq`, oldest first, at most `limit`.
    async fn events_since(
        &self,
        site_id: &str,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<StoredEvent>, StorageError>;

    /// The largest `server_seq` of the site's log, 0 when empty: where a live stream starts.
    async fn latest_event_seq(&self, site_id: &str) -> Result<i64, StorageError>;

    /// Creates a dashboard account; `Conflict` if the username is taken.
    async fn create_account(&self, account: &AccountRecord) -> Result<(), StorageError>;

    /// The accounts bound to the site, disabled ones included, by username.
    async fn list_site_accounts(&self, site_id: &str) -> Result<Vec<AccountListing>, StorageError>;

    /// Creates an account of the account's site and appends `entry` (its governance record) to
    /// that site's ledger, in one transaction; `Conflict` if the username is taken, by any
    /// account of any site, disabled or not.
    async fn create_site_account(
        &self,
        account: &AccountRecord,
        entry: &LedgerEntry,
        now_ms: i64,
    ) -> Result<(), StorageError>;

    /// Disables or enables an account of the site, in one transaction: disabling deletes every
    /// session of the account; `action` (the governance action) gets `sessions_ended` and is
    /// ledgered, by `by`, with the change. Nothing is written when it already is as asked.
    /// `None` if the site has no account of that name.
    async fn set_account_disabled(
        &self,
        site_id: &str,
        username: &str,
        disabled: bool,
        by: &str,
        now_ms: i64,
        action: serde_json::Value,
    ) -> Result<Option<AccountChanged>, StorageError>;

    /// Replaces the password hash of an account of the site and deletes its sessions, except
    /// `keep_session_hash` (the session of an admin resetting their own password), in one
    /// transaction; `action` gets `sessions_ended` and is ledgered by `by`. `None` if the site
    /// has no account of that name.
    #[allow(clippy::too_many_arguments)]
    async fn reset_account_password(
        &self,
        site_id: &str,
        username: &str,
        password_hash: &str,
        keep_session_hash: Option<&str>,
        by: &str,
        now_ms: i64,
        action: serde_json::Value,
    ) -> Result<Option<AccountChanged>, StorageError>;

    /// Replaces the site's configuration JSON and appends `entry` (its governance record), in
    /// one transaction, provided the stored configuration is still `previous_json` (read under
    /// the same lock); `false`, with nothing written, when another change came first or the
    /// site does not exist.
    async fn update_site_config(
        &self,
        site_id: &str,
        previous_json: &str,
        config_json: &str,
        entry: &LedgerEntry,
        now_ms: i64,
    ) -> Result<bool, StorageError>;

    /// Creates or updates staff of one site in one transaction. A row without a PIN verifier
    /// keeps the stored one; a new person must have one. Returns (created, updated).
    async fn upsert_staff(
        &self,
        site_id: &str,
        staff: &[StaffUpsert],
    ) -> Result<(usize, usize), StorageError>;

    /// Creates or updates devices of one site in one transaction. Returns (created, updated).
    async fn upsert_devices(
        &self,
        site_id: &str,
        devices: &[DeviceRecord],
    ) -> Result<(usize, usize), StorageError>;

    /// Activates or deactivates a person; `false` if the site has no such person.
    async fn set_staff_active(
        &self,
        site_id: &str,
        staff_id: &str,
        active: bool,
    ) -> Result<bool, StorageError>;

    async fn create_session(&self, session: &SessionRecord) -> Result<(), StorageError>;
    async fn find_session(
        &self,
        session_hash: &str,
        now_ms: i64,
    ) -> Result<Option<SessionRecord>, StorageError>;
    async fn delete_session(&self, session_hash: &str) -> Result<(), StorageError>;
}

/// A unique-constraint violation becomes a `Conflict` that names what clashed; anything else
/// stays a database error.
pub(crate) fn conflict_or(error: sqlx::Error, what: &str) -> StorageError {
    match &error {
        sqlx::Error::Database(database_error) if database_error.is_unique_violation() => {
            StorageError::Conflict(format!("{what} is already in use"))
        }
        _ => StorageError::Database(error),
    }
}

/// The conflict a clashing badge id gives.
pub(crate) fn conflict_or_badge(badge_id: &str) -> impl Fn(sqlx::Error) -> StorageError + '_ {
    move |error| conflict_or(error, &format!("the badge id {badge_id:?}"))
}

/// Opens (and migrates) the database named by `url`.
pub async fn connect(url: &str) -> Result<Arc<dyn Storage>, StorageError> {
    Ok(connect_and_migrate(url).await?.0)
}

/// Opens the database named by `url` and applies its pending migrations, refusing a schema
/// newer than this binary (`StorageError::SchemaTooNew`); returns the migrations applied.
pub async fn connect_and_migrate(
    url: &str,
) -> Result<(Arc<dyn Storage>, Vec<AppliedMigration>), StorageError> {
    if url.starts_with("sqlite:") {
        let (storage, applied) = sqlite::SqliteStorage::connect(url).await?;
        Ok((Arc::new(storage), applied))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        let (storage, applied) = postgres::PostgresStorage::connect(url).await?;
        Ok((Arc::new(storage), applied))
    } else {
        Err(StorageError::UnsupportedUrl(redact_url(url)))
    }
}

/// The URL without its password, safe for logs and error messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme_end + 3],
                    &credentials[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_never_reach_the_logs() {
        assert_eq!(
            redact_url("postgres://baton:s3cret@db:5432/baton"),
            "postgres://baton:***@db:5432/baton"
        );
        assert_eq!(
            redact_url("postgres://baton@db/baton"),
            "postgres://baton@db/baton"
        );
        assert_eq!(
            redact_url("sqlite://data/baton.sqlite3"),
            "sqlite://data/baton.sqlite3"
        );
    }
}
