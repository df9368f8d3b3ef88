//! Upgrades: `baton migrate` applies what is pending and says so, and no command runs on a
//! schema newer than the binary (a downgrade), on either backend.

use std::process::Command;

use baton_server::storage::{self, Backend, StorageError};

use crate::support;

/// A version no Baton has shipped, as a newer binary would leave it in `_sqlx_migrations`.
const FUTURE_VERSION: i64 = 9_999;

fn baton(arguments: &[&str], database_url: &str, data_dir: &std::path::Path) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(arguments)
        .arg("--database-url")
        .arg(database_url)
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .unwrap();
    (
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

#[test]
fn migrate_applies_pending_migrations_once_and_names_them() {
    let data_dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}",
        data_dir.path().join("baton.sqlite3").display()
    );
    let latest = Backend::Sqlite.latest_schema_version();
    assert!(latest >= 6, "the binary embeds its migrations");

    let (ok, output) = baton(&["migrate"], &url, data_dir.path());
    assert!(ok, "{output}");
    assert!(
        output.contains(&format!("Applied {latest} migration(s)")),
        "{output}"
    );
    assert!(output.contains("0001 registry"), "{output}");
    assert!(output.contains("0003 ledger"), "{output}");
    assert!(output.contains("0007 external tokens"), "{output}");
    assert!(
        output.contains(&format!("now at version {latest}")),
        "{output}"
    );

    let (ok, output) = baton(&["migrate"], &url, data_dir.path());
    assert!(ok, "{output}");
    assert!(
        output.contains(&format!(
            "No pending migrations in {url}: the schema is at version {latest}"
        )),
        "{output}"
    );
}

#[tokio::test]
async fn a_schema_newer_than_the_binary_is_refused_by_serve_and_migrate() {
    for backend in support::every_backend().await {
        let latest = backend.storage.backend().latest_schema_version();
        let checksum = if backend.url.starts_with("sqlite:") {
            "X'00'"
        } else {
            "decode('00', 'hex')"
        };
        support::execute_sql(
            &backend.url,
            &format!(
                "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
                 VALUES ({FUTURE_VERSION}, 'from a newer baton', TRUE, {checksum}, 0)"
            ),
        )
        .await;

        match storage::connect(&backend.url).await {
            Err(StorageError::SchemaTooNew {
                database_version,
                binary_version,
            }) => {
                assert_eq!((database_version, binary_version), (FUTURE_VERSION, latest));
            }
            Err(other) => panic!("expected SchemaTooNew, got {other}"),
            Ok(_) => panic!("a schema newer than the binary was opened"),
        }

        let data_dir = tempfile::tempdir().unwrap();
        for arguments in [&["serve", "--listen", "127.0.0.1:0"][..], &["migrate"][..]] {
            let (ok, output) = baton(arguments, &backend.url, data_dir.path());
            assert!(!ok, "{arguments:?} ran on a newer schema: {output}");
            assert!(
                output.contains(&format!(
                    "the database schema is at version {FUTURE_VERSION}, newer than this binary knows (up to {latest})"
                )),
                "{arguments:?}: {output}"
            );
            assert!(output.contains("never downgrade"), "{output}");
            assert!(!output.contains("Baton is listening"), "{output}");
        }
    }
}
