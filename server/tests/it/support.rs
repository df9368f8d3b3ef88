//! Test backends: a fresh SQLite file per test, and a fresh database per test on the PostgreSQL
//! server named by `BATON_TEST_POSTGRES_URL` (`cargo xtask test` starts a private one).

use std::sync::Arc;

use baton_server::storage::{self, Storage};
use sqlx::Connection;

pub const POSTGRES_URL_VARIABLE: &str = "BATON_TEST_POSTGRES_URL";

pub struct TestStorage {
    pub storage: Arc<dyn Storage>,
    pub url: String,
    /// Keeps the SQLite file's directory alive for the test's duration.
    _directory: Option<tempfile::TempDir>,
}

pub async fn sqlite() -> TestStorage {
    let directory = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}",
        directory.path().join("baton.sqlite3").display()
    );
    let storage = storage::connect(&url).await.unwrap();
    TestStorage {
        storage,
        url,
        _directory: Some(directory),
    }
}

/// A new empty database on the test PostgreSQL server, or `None` when none is configured.
/// Under `CI=true` a missing server fails the test instead: CI must never skip silently.
pub async fn postgres() -> Option<TestStorage> {
    let Ok(admin_url) = std::env::var(POSTGRES_URL_VARIABLE) else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!(
                "{POSTGRES_URL_VARIABLE} is not set under CI=true: the PostgreSQL tests must run"
            );
        }
        eprintln!(
            "skipping the PostgreSQL half of this test: {POSTGRES_URL_VARIABLE} is not set \
             (run `cargo xtask test`, which starts a private PostgreSQL)"
        );
        return None;
    };
    Some(postgres_database_on(&admin_url).await)
}

/// A new empty database on the PostgreSQL server at `admin_url`.
pub async fn postgres_database_on(admin_url: &str) -> TestStorage {
    let database_name = format!("baton_test_{}", random_suffix());
    let mut admin = sqlx::PgConnection::connect(admin_url).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {database_name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let url = replace_database(admin_url, &database_name);
    let storage = storage::connect(&url).await.unwrap();
    TestStorage {
        storage,
        url,
        _directory: None,
    }
}

/// Both backends: SQLite always, PostgreSQL when configured.
pub async fn every_backend() -> Vec<TestStorage> {
    let mut backends = vec![sqlite().await];
    backends.extend(postgres().await);
    backends
}

pub fn replace_database(url: &str, database_name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map_or(0, |index| index + 3);
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |index| scheme_end + index);
    format!("{}/{database_name}{query}", &base[..host_end])
}

pub fn random_suffix() -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..12)
        .map(|_| char::from(b'a' + rng.gen_range(0..26)))
        .collect()
}

#[test]
fn the_database_name_is_replaced_and_the_rest_kept() {
    assert_eq!(
        replace_database(
            "postgres://baton@127.0.0.1:5433/postgres?sslmode=disable",
            "t1"
        ),
        "postgres://baton@127.0.0.1:5433/t1?sslmode=disable"
    );
    assert_eq!(
        replace_database("postgres://baton@127.0.0.1:5433", "t1"),
        "postgres://baton@127.0.0.1:5433/t1"
    );
}

/// Runs raw SQL against a test database behind the server's back: how the tamper tests play
/// an insider with database access.
pub async fn execute_sql(url: &str, statement: &str) {
    if url.starts_with("sqlite:") {
        let mut connection = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query(statement)
            .execute(&mut connection)
            .await
            .unwrap();
    } else {
        let mut connection = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query(statement)
            .execute(&mut connection)
            .await
            .unwrap();
    }
}
