//! The same storage suite on every backend.

use baton_server::seed;
use baton_server::storage::{AccountRole, StorageError, Summary};

use crate::support;

#[tokio::test]
async fn a_site_is_imported_whole_and_read_back_unchanged() {
    let (site, credentials) = seed::demo_site().unwrap();
    for backend in support::every_backend().await {
        let storage = &backend.storage;
        assert!(storage.is_empty().await.unwrap());
        storage.import_site(&site).await.unwrap();
        assert!(!storage.is_empty().await.unwrap());

        assert_eq!(
            storage.summary().await.unwrap(),
            Summary {
                sites: 1,
                wards: 2,
                staff: 30,
                devices: 20,
                accounts: 1
            }
        );
        assert_eq!(
            storage.list_wards(seed::DEMO_SITE_ID).await.unwrap(),
            site.wards
        );
        assert_eq!(
            storage.list_staff(seed::DEMO_SITE_ID).await.unwrap(),
            site.staff
        );
        assert_eq!(
            storage.list_devices(seed::DEMO_SITE_ID).await.unwrap(),
            site.devices
        );
        assert!(storage.list_devices("SITE-OTHER").await.unwrap().is_empty());

        let account = storage
            .find_account(&credentials.manager_username)
            .await
            .unwrap()
            .expect("the manager account exists");
        assert_eq!(account.role, AccountRole::Manager);
        assert_eq!(account.site_id.as_deref(), Some(seed::DEMO_SITE_ID));
        assert!(storage.find_account("nobody").await.unwrap().is_none());
    }
}

#[tokio::test]
async fn a_second_import_of_the_same_site_is_refused_and_changes_nothing() {
    let (site, _) = seed::demo_site().unwrap();
    for backend in support::every_backend().await {
        backend.storage.import_site(&site).await.unwrap();
        let before = backend.storage.summary().await.unwrap();
        let error = backend.storage.import_site(&site).await.unwrap_err();
        assert!(
            matches!(error, StorageError::SiteExists(ref id) if id == seed::DEMO_SITE_ID),
            "{error}"
        );
        assert_eq!(backend.storage.summary().await.unwrap(), before);
    }
}

#[tokio::test]
async fn an_import_that_fails_half_way_leaves_nothing_behind() {
    let (mut site, _) = seed::demo_site().unwrap();
    // Two staff with one badge: the unique constraint fails after the site and wards were written.
    site.staff[29].badge_id = site.staff[0].badge_id.clone();
    for backend in support::every_backend().await {
        let error = backend.storage.import_site(&site).await.unwrap_err();
        assert!(matches!(error, StorageError::Database(_)), "{error}");
        assert_eq!(
            backend.storage.summary().await.unwrap(),
            Summary {
                sites: 0,
                wards: 0,
                staff: 0,
                devices: 0,
                accounts: 0
            }
        );
    }
}

#[tokio::test]
async fn data_survives_closing_and_reopening_the_database() {
    let (site, _) = seed::demo_site().unwrap();
    for backend in support::every_backend().await {
        backend.storage.import_site(&site).await.unwrap();
        let reopened = baton_server::storage::connect(&backend.url).await.unwrap();
        assert_eq!(
            reopened.list_devices(seed::DEMO_SITE_ID).await.unwrap(),
            site.devices
        );
        reopened.ping().await.unwrap();
    }
}

fn authority_event(
    key: &ed25519_dalek::SigningKey,
    head: Option<baton_core::event::ChainHead>,
    device: &str,
    wall_ms: u64,
) -> (
    baton_core::event::SignedEvent,
    baton_server::storage::NewEvent,
) {
    let signer = baton_core::ids::SignerKey::from_signing_key(key);
    let body = baton_core::body::Body::Quarantine {
        device: baton_core::ids::DeviceId::new(device).unwrap(),
        by: baton_core::ids::StaffId::new("manager").unwrap(),
        note: "recall".to_owned(),
    };
    let clock = baton_core::hlc::Hlc::new(wall_ms - 1, 0);
    let event = baton_core::event::UnsignedEvent::next(signer, head, clock, wall_ms, body)
        .unwrap()
        .sign(key)
        .unwrap();
    let new_event = baton_server::storage::NewEvent::new(&event, None, wall_ms);
    (event, new_event)
}

#[tokio::test]
async fn an_authority_event_built_on_a_stale_view_of_the_log_is_refused_and_nothing_is_written() {
    use baton_server::storage::AuthorityPrecondition;
    let (site, _) = seed::demo_site().unwrap();
    let key = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    for backend in support::every_backend().await {
        let storage = &backend.storage;
        storage.import_site(&site).await.unwrap();
        let empty = AuthorityPrecondition {
            latest_server_seq: 0,
            chain_head: None,
        };
        let (first, first_row) = authority_event(&key, None, "D-0001", 1_741_600_000_000);
        let appended = storage
            .append_authority_event(seed::DEMO_SITE_ID, &first_row, &empty, &[], &[])
            .await
            .unwrap();
        assert_eq!(appended.server_seq, 1);
        assert_eq!(appended.leaf_index, Some(0));

        // A second process that read the log before the first event committed builds seq 1
        // again: a fork, refused.
        let (_, fork_row) = authority_event(&key, None, "D-0002", 1_741_600_000_500);
        let error = storage
            .append_authority_event(seed::DEMO_SITE_ID, &fork_row, &empty, &[], &[])
            .await
            .unwrap_err();
        assert!(matches!(error, StorageError::Stale { .. }), "{error}");
        // The right chain head alone is not enough: the log must not have grown either.
        let (_, second_row) =
            authority_event(&key, Some(first.chain_head()), "D-0002", 1_741_600_001_000);
        let behind = AuthorityPrecondition {
            latest_server_seq: 0,
            chain_head: Some(first.id().to_hex()),
        };
        let error = storage
            .append_authority_event(seed::DEMO_SITE_ID, &second_row, &behind, &[], &[])
            .await
            .unwrap_err();
        assert!(matches!(error, StorageError::Stale { .. }), "{error}");
        let stored = storage
            .events_since(seed::DEMO_SITE_ID, 0, 10)
            .await
            .unwrap();
        assert_eq!(stored.len(), 1, "nothing written by the refused appends");
        assert_eq!(stored[0].tablet_id, None);
        assert_eq!(storage.ledger_size(seed::DEMO_SITE_ID).await.unwrap(), 1);

        let current = AuthorityPrecondition {
            latest_server_seq: 1,
            chain_head: Some(first.id().to_hex()),
        };
        let appended = storage
            .append_authority_event(seed::DEMO_SITE_ID, &second_row, &current, &[], &[])
            .await
            .unwrap();
        assert_eq!((appended.server_seq, appended.leaf_index), (2, Some(1)));
    }
}

/// Migration 0006 rebuilds SQLite's `events` table to make `tablet_id` nullable: the rows, their
/// `server_seq` and the sequence's position must survive it.
#[tokio::test]
async fn the_sqlite_events_table_keeps_its_rows_and_sequence_through_migration_0006() {
    use sqlx::Connection;
    let directory = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}",
        directory.path().join("old.sqlite3").display()
    );
    let options = <sqlx::sqlite::SqliteConnectOptions as std::str::FromStr>::from_str(&url)
        .unwrap()
        .create_if_missing(true)
        .foreign_keys(true);
    {
        let mut connection = sqlx::SqliteConnection::connect_with(&options)
            .await
            .unwrap();
        let mut before_0006 = sqlx::migrate!("migrations/sqlite");
        before_0006.migrations = std::borrow::Cow::Owned(
            before_0006
                .migrations
                .iter()
                .filter(|migration| migration.version < 6)
                .cloned()
                .collect(),
        );
        before_0006.run(&mut connection).await.unwrap();
        for statement in [
            "INSERT INTO sites (site_id, name, config_json) VALUES ('S', 'S', '{}')",
            "INSERT INTO wards (ward_id, site_id, name) VALUES ('W', 'S', 'W')",
            "INSERT INTO tablets (tablet_id, site_id, ward_id, public_key, label, enrolled_at_ms) \
             VALUES ('T-1', 'S', 'W', 'k', 't', 0)",
            "INSERT INTO events (site_id, event_id, signer, seq, tablet_id, event_json, received_at_ms) \
             VALUES ('S', 'e1', 'k', 1, 'T-1', '{}', 10), ('S', 'e2', 'k', 2, 'T-1', '{}', 20), \
             ('S', 'e3', 'k', 3, 'T-1', '{}', 30)",
            // The highest seq ever handed out must not be handed out again.
            "DELETE FROM events WHERE event_id = 'e3'",
        ] {
            sqlx::query(statement)
                .execute(&mut connection)
                .await
                .unwrap();
        }
        connection.close().await.unwrap();
    }
    let storage = baton_server::storage::connect(&url).await.unwrap();
    let rows = storage.events_since("S", 0, 10).await.unwrap();
    let kept: Vec<(i64, &str, Option<&str>)> = rows
        .iter()
        .map(|row| {
            (
                row.server_seq,
                row.event_id.as_str(),
                row.tablet_id.as_deref(),
            )
        })
        .collect();
    assert_eq!(kept, [(1, "e1", Some("T-1")), (2, "e2", Some("T-1"))]);
    let mut connection = sqlx::SqliteConnection::connect_with(&options)
        .await
        .unwrap();
    let (server_seq,): (i64,) = sqlx::query_as(
        "INSERT INTO events (site_id, event_id, signer, seq, tablet_id, event_json, received_at_ms) \
         VALUES ('S', 'e4', 'a', 1, NULL, '{}', 40) RETURNING server_seq",
    )
    .fetch_one(&mut connection)
    .await
    .unwrap();
    assert_eq!(
        server_seq, 4,
        "AUTOINCREMENT continues after the largest seq ever used"
    );
}
