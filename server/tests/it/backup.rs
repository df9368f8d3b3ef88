//! `baton backup` while the real binary serves tablets, then the restore drill: the copy opens
//! in a fresh server, holds every event with its ledger leaf, and its ledger verifies against
//! the signed tree head stored in it (`baton verify` on an export from the restored server).

use std::collections::BTreeSet;
use std::process::{Command, Output};

use baton_core::event::SignedEvent;
use baton_core::ids::SignerKey;
use baton_core::ledger::{LedgerEntry, SignedTreeHead};
use baton_server::seed::DEMO_SITE_ID;
use baton_server::storage;
use reqwest::Method;

use crate::binary;
use crate::tablet::{self, SimTablet, check_in, check_out};

fn backup(data_dir: &std::path::Path, to: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(["backup", "--data-dir"])
        .arg(data_dir)
        .arg("--to")
        .arg(to)
        .env_remove("BATON_DATABASE_URL")
        .output()
        .unwrap()
}

pub(crate) fn manager_credentials(stdout_lines: &[String]) -> (String, String) {
    let line = stdout_lines
        .iter()
        .find_map(|line| line.strip_prefix("Manager dashboard sign-in: username "))
        .expect("the demo credentials are printed at first start");
    let (username, password) = line.split_once("  password ").unwrap();
    (username.trim().to_owned(), password.trim().to_owned())
}

/// `n_pairs` check-outs and check-ins of one device, starting at `start_ms`.
fn handoffs(tablet: &mut SimTablet, n_pairs: u64, start_ms: u64) -> Vec<SignedEvent> {
    (0..n_pairs)
        .flat_map(|pair| [pair * 2, pair * 2 + 1])
        .map(|index| {
            let body = if index % 2 == 0 {
                check_out("D-0001", "S-0005")
            } else {
                check_in("D-0001", "S-0005")
            };
            tablet.sign(body, start_ms + index * 1_000)
        })
        .collect()
}

#[tokio::test]
async fn a_backup_taken_while_tablets_push_restores_every_event_and_a_verifiable_ledger() {
    let data_dir = tempfile::tempdir().unwrap();
    let server = binary::start(data_dir.path());
    let (username, password) = manager_credentials(&server.stdout_lines);
    let manager = tablet::sign_in_at(&server.base_url, &username, &password).await;
    let mut tablet_a = SimTablet::enroll_at(&server.base_url, &manager, 70).await;
    let server_key =
        SignerKey::from_hex(tablet_a.enrollment["server_public_key"].as_str().unwrap()).unwrap();

    let start = baton_server::sync::now_ms() - 3_600_000;
    let before_backup = handoffs(&mut tablet_a, 10, start);
    let receipts = tablet_a.push(&before_backup).await;
    assert!(
        receipts
            .iter()
            .all(|receipt| receipt["status"] == "accepted")
    );
    // A signed head covering them, as the head signer or a witness would have asked for.
    let response = tablet_a
        .request(Method::GET, "/api/v1/ledger/head", Vec::new())
        .await;
    assert_eq!(response.status(), 200);
    let head_before = SignedTreeHead::from_json_bytes(&response.bytes().await.unwrap()).unwrap();

    // The backup runs while the tablet keeps pushing, in small batches.
    let during_backup = handoffs(&mut tablet_a, 20, start + 100_000);
    let pusher = tablet_a.pointed_at(&server.base_url);
    let pushing = tokio::spawn(async move {
        for batch in during_backup.chunks(4) {
            pusher.push(batch).await;
        }
    });
    let backup_path = data_dir.path().join("backups").join("baton-backup.sqlite3");
    std::fs::create_dir(backup_path.parent().unwrap()).unwrap();
    let backup_output = {
        let (data_dir, backup_path) = (data_dir.path().to_owned(), backup_path.clone());
        tokio::task::spawn_blocking(move || backup(&data_dir, &backup_path))
            .await
            .unwrap()
    };
    pushing.await.unwrap();
    let stdout = String::from_utf8_lossy(&backup_output.stdout);
    assert!(
        backup_output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&backup_output.stderr)
    );
    assert!(stdout.contains("integrity check ok"), "{stdout}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&backup_path)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "a backup holds password hashes");
    }

    // A second backup to the same file is refused and leaves the first intact.
    let first_bytes = std::fs::read(&backup_path).unwrap();
    let again = backup(data_dir.path(), &backup_path);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("refusing to overwrite"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(std::fs::read(&backup_path).unwrap(), first_bytes);
    assert!(binary::terminate(server).success());

    // The restore drill: the backup and the server key in a new data directory.
    let restored_dir = tempfile::tempdir().unwrap();
    std::fs::copy(&backup_path, restored_dir.path().join("baton.sqlite3")).unwrap();
    std::fs::copy(
        data_dir.path().join("server-ed25519.key"),
        restored_dir.path().join("server-ed25519.key"),
    )
    .unwrap();
    let url = format!(
        "sqlite://{}",
        restored_dir.path().join("baton.sqlite3").display()
    );
    let restored = storage::connect(&url).await.unwrap();
    let events = restored
        .events_since(DEMO_SITE_ID, 0, 10_000)
        .await
        .unwrap();
    let ledger_size = restored.ledger_size(DEMO_SITE_ID).await.unwrap();
    let stored_ids: BTreeSet<String> = events.iter().map(|event| event.event_id.clone()).collect();
    for event in &before_backup {
        assert!(
            stored_ids.contains(&event.id().to_hex()),
            "an event accepted before the backup is missing from it"
        );
    }
    // The copy is one consistent moment: each stored event has its ledger leaf, no more.
    let ledgered_ids: BTreeSet<String> = restored
        .ledger_entries(DEMO_SITE_ID, 0, ledger_size)
        .await
        .unwrap()
        .iter()
        .filter_map(
            |row| match LedgerEntry::from_json_bytes(row.entry_json.as_bytes()).unwrap() {
                LedgerEntry::Event { event, .. } => Some(event.id().to_hex()),
                LedgerEntry::Governance { .. } => None,
            },
        )
        .collect();
    assert_eq!(ledgered_ids, stored_ids);
    let summary_line = format!(
        "site {DEMO_SITE_ID}: {} events, ledger of {ledger_size} entries",
        events.len()
    );
    assert!(
        stdout.contains(&summary_line),
        "{summary_line:?} in {stdout}"
    );

    // The newest signed head in the copy is the server's and matches the stored tree.
    let stored_head = SignedTreeHead::from_json_bytes(
        restored
            .latest_tree_head(DEMO_SITE_ID)
            .await
            .unwrap()
            .unwrap()
            .as_bytes(),
    )
    .unwrap();
    stored_head.verify(&server_key).unwrap();
    assert!(stored_head.head.tree_size >= head_before.head.tree_size);
    let root =
        baton_server::ledger::root(restored.as_ref(), DEMO_SITE_ID, stored_head.head.tree_size)
            .await
            .unwrap();
    assert_eq!(root, stored_head.head.root_hash);
    drop(restored);

    // A fresh server on the restored data serves the same events, and its audit bundle passes
    // `baton verify` against the key the auditor already holds.
    let server = binary::start(restored_dir.path());
    let tablet_restored = tablet_a.pointed_at(&server.base_url);
    assert_eq!(tablet_restored.pull_all(100).await.len(), events.len());
    let export = tablet_restored
        .request(Method::GET, "/api/v1/ledger/export", Vec::new())
        .await;
    assert_eq!(export.status(), 200);
    let bundle_path = restored_dir.path().join("bundle.json");
    std::fs::write(&bundle_path, export.bytes().await.unwrap()).unwrap();
    let verified = Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(["verify", "--quiet", "--server-key", &server_key.to_hex()])
        .arg(&bundle_path)
        .output()
        .unwrap();
    let verify_stdout = String::from_utf8_lossy(&verified.stdout);
    assert!(verified.status.success(), "{verify_stdout}");
    assert!(
        verify_stdout.contains(&format!("VERIFIED: {ledger_size} entries")),
        "{verify_stdout}"
    );
    assert!(binary::terminate(server).success());
}

#[test]
fn a_backup_of_a_missing_database_says_where_it_looked() {
    let data_dir = tempfile::tempdir().unwrap();
    let target = data_dir.path().join("backup.sqlite3");
    let output = backup(data_dir.path(), &target);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("there is no database at"), "{stderr}");
    assert!(stderr.contains("check --data-dir"), "{stderr}");
    assert!(!target.exists(), "no empty file may pass for a backup");
}

#[test]
fn for_postgresql_backup_prints_the_pg_dump_command_without_the_password() {
    let data_dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_baton"))
        .args([
            "backup",
            "--database-url",
            "postgres://baton:s3cret@db.internal:5432/baton",
            "--to",
            "/backups/baton.dump",
            "--data-dir",
        ])
        .arg(data_dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success(), "nothing was backed up");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stdout.contains(
            "pg_dump --format=custom --file='/backups/baton.dump' \
             --dbname='postgres://baton@db.internal:5432/baton'"
        ),
        "{stdout}"
    );
    assert!(stderr.contains("nothing was written"), "{stderr}");
    assert!(!format!("{stdout}{stderr}").contains("s3cret"));
}

fn restore(data_dir: &std::path::Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(["restore", "--data-dir"])
        .arg(data_dir)
        .args(extra)
        .env_remove("BATON_DATABASE_URL")
        .output()
        .unwrap()
}

/// The drill of issue [operations]: back up, keep ingesting, destroy, restore. The restored
/// server is behind the tablet; the pull answer shows it (`chain_seq`, `latest_server_seq`), the
/// tablet pushes again what was lost, and the ledger ends complete, verifying, with no
/// duplicate and an entry recording the restore.
#[tokio::test]
async fn after_a_restore_the_tablet_pushes_what_the_backup_lacked_and_the_ledger_records_it() {
    let data_dir = tempfile::tempdir().unwrap();
    let server = binary::start(data_dir.path());
    let (username, password) = manager_credentials(&server.stdout_lines);
    let manager = tablet::sign_in_at(&server.base_url, &username, &password).await;
    let mut tablet_a = SimTablet::enroll_at(&server.base_url, &manager, 71).await;
    let server_key = tablet_a.enrollment["server_public_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let start = baton_server::sync::now_ms() - 3_600_000;
    let before_backup = handoffs(&mut tablet_a, 3, start);
    tablet_a.push(&before_backup).await;
    let backup_path = data_dir.path().join("before.sqlite3");
    let output = backup(data_dir.path(), &backup_path);
    assert!(output.status.success(), "{output:?}");

    // Accepted after the backup: the tablet holds receipts the restored server will lack.
    let after_backup = handoffs(&mut tablet_a, 3, start + 100_000);
    let receipts = tablet_a.push(&after_backup).await;
    assert!(
        receipts
            .iter()
            .all(|receipt| receipt["status"] == "accepted")
    );
    let cursor_before = tablet_a.pull_all(100).await.len() as i64;

    // A running server's database is never replaced under it.
    let refused = restore(
        data_dir.path(),
        &["--from", backup_path.to_str().unwrap(), "--note", "drill"],
    );
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("Stop it first"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(binary::terminate(server).success());

    // The disk is lost.
    for name in ["baton.sqlite3", "baton.sqlite3-wal", "baton.sqlite3-shm"] {
        let _ = std::fs::remove_file(data_dir.path().join(name));
    }
    let output = restore(
        data_dir.path(),
        &[
            "--from",
            backup_path.to_str().unwrap(),
            "--note",
            "restore drill: disk replaced",
        ],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("recorded as ledger entry"), "{stdout}");

    let server = binary::start(data_dir.path());
    let tablet_a = tablet_a.pointed_at(&server.base_url);
    let response = tablet_a
        .request(Method::GET, "/api/v1/sync/pull?after=0&limit=1", Vec::new())
        .await;
    let page: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        page["chain_seq"], 6,
        "the backup holds the first six events of the chain"
    );
    assert!(
        page["latest_server_seq"].as_i64().unwrap() < cursor_before,
        "the restored log ends before the tablet's cursor: {page}"
    );

    // What the tablet does on seeing that: push again the events after `chain_seq`.
    let receipts = tablet_a.push(&after_backup).await;
    assert!(
        receipts
            .iter()
            .all(|receipt| receipt["status"] == "accepted"),
        "{receipts:?}"
    );
    let all = tablet_a.pull_all(100).await;
    let ids: BTreeSet<String> = all.iter().map(|event| event.id().to_hex()).collect();
    assert_eq!(all.len(), 12);
    assert_eq!(ids.len(), 12, "no event stored twice");

    let export = tablet_a
        .request(Method::GET, "/api/v1/ledger/export", Vec::new())
        .await;
    let bundle = export.bytes().await.unwrap();
    let report = baton_server::verify::verify_bundle(&bundle, Some(&server_key));
    let problems: Vec<_> = report.problems().collect();
    assert!(problems.is_empty(), "{problems:?}");
    let bundle: serde_json::Value = serde_json::from_slice(&bundle).unwrap();
    let restored_entries: Vec<&serde_json::Value> = bundle["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["entry"]["action"]["type"] == "ledger_restored")
        .collect();
    assert_eq!(restored_entries.len(), 1);
    let action = &restored_entries[0]["entry"]["action"];
    assert_eq!(action["note"], "restore drill: disk replaced");
    assert_eq!(action["backup_file"], "before.sqlite3");
    assert_eq!(
        restored_entries[0]["entry"]["by"],
        baton_server::restore::RESTORED_BY
    );
    assert!(binary::terminate(server).success());
}

#[test]
fn a_restore_without_a_note_or_from_a_file_that_is_not_a_backup_changes_nothing() {
    let data_dir = tempfile::tempdir().unwrap();
    let not_a_backup = data_dir.path().join("notes.txt");
    std::fs::write(&not_a_backup, "not a database").unwrap();
    let output = restore(
        data_dir.path(),
        &["--from", not_a_backup.to_str().unwrap(), "--note", " "],
    );
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--note must say why"));
    let output = restore(
        data_dir.path(),
        &["--from", not_a_backup.to_str().unwrap(), "--note", "test"],
    );
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("is not a usable backup; nothing was changed"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!data_dir.path().join("baton.sqlite3").exists());
}
