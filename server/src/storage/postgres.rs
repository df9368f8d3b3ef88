//! The scale-out backend: several stateless server processes share one PostgreSQL.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};

use baton_core::ledger::{LedgerEntry, LedgerHash, NodePosition};

use super::common::{
    SiteConnectorRow, TabletRow, append_locked, ledger_append, read_ledger_nodes, remember_nonces,
    site_connector_from_row, storage_impl, tablet_from_row,
};
use super::{
    AccessTokenRecord, AccountChanged, AccountListing, AccountRecord, AccountRole, AppendedEvent,
    AppendedEvents, AuthorityPrecondition, Backend, ConnectorSwitched, DeliveryOutcome,
    DeliveryRecord, DeviceRecord, DueDelivery, EnrollmentCode, ExceptionReviewRecord,
    ExternalTokenRegistered, ExternalTokenRow, LedgerNodes, LedgerRow, NewEvent, NewExternalToken,
    NewNonce, NewRevocation, OpenDeliveries, RetiredTabletKey, RevocationRecord, SessionRecord,
    SiteConnectorRecord, SiteSetup, StaffRecord, StaffUpsert, Storage, StorageError, StoredEvent,
    Summary, TabletKeyRotation, TabletRecord, WardRecord, sql,
};

/// The database the shared SQL of `common.rs` is built for here (multi-row `INSERT`s).
type Db = sqlx::Postgres;

pub struct PostgresStorage {
    pool: PgPool,
    /// What writes go through: the same pool (PostgreSQL has many writers; appends to a site
    /// are serialised by its advisory lock).
    writer: PgPool,
    /// Nonces remembered, for sweeping the expired ones now and then.
    nonce_writes: AtomicU64,
}

/// The migrations this binary embeds for PostgreSQL.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

impl PostgresStorage {
    /// Connects and applies pending migrations (refusing a schema newer than this binary);
    /// returns the migrations it applied.
    pub async fn connect(
        url: &str,
    ) -> Result<(PostgresStorage, Vec<super::AppliedMigration>), StorageError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            // A session opened while the database was read-only (a failover to a standby, or
            // `default_transaction_read_only` set for the database) stays read-only for its
            // life, after the database is writable again: `tests/it/postgres_disk_faults.rs`
            // found pushes still refused. Those that may carry the last disk fault are closed
            // as they come back (`super::may_carry_a_disk_fault`), as on SQLite.
            .after_release(|_connection, metadata| {
                Box::pin(async move { Ok(!super::may_carry_a_disk_fault(metadata.age)) })
            })
            .connect(url)
            .await?;
        // sqlx takes an advisory lock while migrating, so replicas starting together are safe.
        let applied = super::schema::migrate(&pool, &MIGRATOR).await?;
        Ok((
            PostgresStorage {
                writer: pool.clone(),
                pool,
                nonce_writes: AtomicU64::new(0),
            },
            applied,
        ))
    }
}

// A transaction-scoped advisory lock per site serialises appends across server processes, so
// `server_seq` (a sequence, which alone is not commit-ordered) grows in commit order.
storage_impl!(
    PostgresStorage,
    Backend::Postgres,
    begin_write = "BEGIN",
    lock_site = Some("SELECT pg_advisory_xact_lock(hashtext($1))"),
    // SKIP LOCKED: two workers on two processes never lease the same delivery.
    claim_deliveries = "UPDATE revocation_deliveries d SET lease_until_ms = $1 FROM ( \
         SELECT revocation_id, connector FROM revocation_deliveries WHERE status = 'pending' \
         AND next_attempt_at_ms <= $2 AND (lease_until_ms IS NULL OR lease_until_ms < $2) \
         ORDER BY next_attempt_at_ms LIMIT $3 FOR UPDATE SKIP LOCKED) c \
         WHERE d.revocation_id = c.revocation_id AND d.connector = c.connector \
         RETURNING d.revocation_id, d.connector, d.attempts",
    // The devices whose revocation some connector has not confirmed (nor an admin cancelled):
    // access still open. PostgreSQL orders the join from its statistics (not yet checked with
    // EXPLAIN ANALYZE at 10^6 events: the board benchmark stopped before PostgreSQL's run).
    devices_with_open_access = "SELECT DISTINCT r.device_id \
        FROM revocation_deliveries d JOIN revocations r ON r.revocation_id = d.revocation_id \
        WHERE d.status IN ('pending', 'sent', 'failed') AND r.site_id = $1",
    {}
);
