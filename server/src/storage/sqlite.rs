//! The embedded default backend: one SQLite file in WAL mode with full fsync, so that an accepted
//! receipt means the event survived a power cut.

use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use sqlx::Connection;
use sqlx::pool::PoolConnectionMetadata;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};

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
type Db = sqlx::Sqlite;

pub struct SqliteStorage {
    /// Reads, and the background checkpoint.
    pool: SqlitePool,
    /// Every write, on one connection. SQLite has one writer at a time anyway; a writer that
    /// finds the database locked sleeps in SQLite's busy handler (1, 2, 5, 10 ms and up) while
    /// holding a pooled connection, and under ingest the pushes' nonce writes, the delivery
    /// worker's claims and the group commits slept behind one another (their statements took
    /// tens of milliseconds, nearly all of it waiting). Here they queue for the connection in
    /// order instead, and the busy timeout is left for other processes (a backup).
    writer: SqlitePool,
    /// Nonces remembered, for sweeping the expired ones now and then.
    nonce_writes: AtomicU64,
    /// Stops the background checkpointer when the storage is dropped.
    _checkpointer: Checkpointer,
}

/// The most pages the write-ahead log grows to before a committing writer checkpoints it
/// itself. SQLite's default is 1,000 (4 MiB), which made about every fourth group commit copy
/// the log back into the database while its site's lock was held (BENCHMARKS.md, ingest
/// profile). `Checkpointer` does that work in the background instead; this bound only applies
/// if the background falls behind.
const WAL_AUTOCHECKPOINT_PAGES: u32 = 16_384;

/// How often the background checkpointer copies the write-ahead log into the database.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// The writer's page cache, in KiB. A group commit writes a few MiB (events, ledger entries and
/// nodes, indexes); with SQLite's default of 2 MiB it spilled dirty pages to the log in the
/// middle of the transaction. The readers keep the default, so this adds at most 14 MiB.
const WRITER_PAGE_CACHE_KIB: i64 = 16_384;

/// The migrations this binary embeds for SQLite.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

impl SqliteStorage {
    /// Opens the database, creating it if missing, and applies pending migrations (refusing a
    /// schema newer than this binary); returns the migrations it applied.
    pub async fn connect(
        url: &str,
    ) -> Result<(SqliteStorage, Vec<super::AppliedMigration>), StorageError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            // Freed cell space is zeroed when its page is written anyway: the ciphertext of a
            // revoked external token does not linger in the file once the row is updated (the
            // WAL keeps older page images only until the next checkpoint).
            .pragma("secure_delete", "FAST")
            .pragma("wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES.to_string())
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .after_release(close_if_left_in_a_transaction)
            .connect_with(options.clone())
            .await?;
        let applied = super::schema::migrate(&pool, &MIGRATOR).await?;
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .after_release(close_if_left_in_a_transaction)
            .connect_with(options.pragma("cache_size", format!("-{WRITER_PAGE_CACHE_KIB}")))
            .await?;
        let checkpointer = Checkpointer::start(pool.clone());
        Ok((
            SqliteStorage {
                pool,
                writer,
                nonce_writes: AtomicU64::new(0),
                _checkpointer: checkpointer,
            },
            applied,
        ))
    }
}

/// Copies the write-ahead log back into the database every `CHECKPOINT_EVERY`, on a pooled
/// connection of its own, so that writers do not: a passive checkpoint neither waits for nor
/// blocks readers and writers. Ends with the storage.
struct Checkpointer(tokio::task::JoinHandle<()>);

impl Checkpointer {
    fn start(pool: SqlitePool) -> Checkpointer {
        Checkpointer(tokio::spawn(async move {
            let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if pool.is_closed() {
                    return;
                }
                // A failure (a full or read-only disk) is reported by the writes themselves,
                // with what to do; the next tick tries again.
                if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                    .execute(&pool)
                    .await
                {
                    tracing::debug!(%error, "background checkpoint failed");
                }
            }
        }))
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Whether a connection given back to the pool may be used again. SQLite rolls a transaction
/// back by itself when a write fails for a full or unwritable disk (`SQLITE_FULL`,
/// `SQLITE_IOERR`); sqlx's own `ROLLBACK` then fails ("no transaction is active") and sqlx keeps
/// counting the transaction as open, so that connection would refuse every later `BEGIN
/// IMMEDIATE` until it expired, long after the disk was fixed (`tests/it/disk_faults.rs` found
/// it). Such a connection is closed instead, and the pool opens a fresh one. So is one that may
/// carry a recent disk fault (`super::may_carry_a_disk_fault`): it can keep answering
/// `SQLITE_READONLY` after the disk is writable again.
fn close_if_left_in_a_transaction(
    connection: &mut SqliteConnection,
    metadata: PoolConnectionMetadata,
) -> Pin<Box<dyn Future<Output = Result<bool, sqlx::Error>> + Send + '_>> {
    Box::pin(async move {
        // Waits for the rollback of a dropped transaction, queued before this, to be done.
        drop(connection.lock_handle().await?);
        Ok(!connection.is_in_transaction() && !super::may_carry_a_disk_fault(metadata.age))
    })
}

// SQLite has one writer at a time (here, the `writer` connection), so appends are serialised
// without an explicit lock.
storage_impl!(
    SqliteStorage,
    Backend::Sqlite,
    // Every transaction here writes. BEGIN IMMEDIATE takes the write lock up front, so the busy
    // timeout applies; a deferred transaction that read first would fail at once with
    // SQLITE_BUSY when another connection wrote in between.
    begin_write = "BEGIN IMMEDIATE",
    lock_site = None,
    claim_deliveries = "UPDATE revocation_deliveries SET lease_until_ms = $1 WHERE rowid IN ( \
         SELECT rowid FROM revocation_deliveries WHERE status = 'pending' AND next_attempt_at_ms <= $2 \
         AND (lease_until_ms IS NULL OR lease_until_ms < $2) ORDER BY next_attempt_at_ms LIMIT $3) \
         RETURNING revocation_id, connector, attempts",
    // The devices whose revocation some connector has not confirmed (nor an admin cancelled):
    // access still open. CROSS JOIN keeps SQLite's join order, open deliveries first (the status
    // index): left to itself, and without statistics, it walked every revocation of the site
    // and took 46 ms at 400,000 revocations (BENCHMARKS.md, the board section).
    devices_with_open_access = "SELECT DISTINCT r.device_id \
        FROM revocation_deliveries d CROSS JOIN revocations r ON r.revocation_id = d.revocation_id \
        WHERE d.status IN ('pending', 'sent', 'failed') AND r.site_id = $1",
    {}
);
