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
