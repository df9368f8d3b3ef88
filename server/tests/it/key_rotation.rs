//! Rotating the server key with the real binary while it serves (docs/OPERATIONS.md §3.3): the
//! running server switches to the new key without a restart, signs heads, authority events and
//! tokens with it, and everything signed before the rotation still verifies, through the key
//! history, for tablets (consistency from an old head), receivers (the JWKS) and auditors
//! (`baton verify` given either key). A key file that is not in the history is refused at start.
//! Tablets rotate their own keys too (the second test).

use std::process::{Command, Output};
use std::time::Duration;

use baton_core::ids::SignerKey;
use baton_core::key_rotation::{KeyHistory, RotatingSigner, SignedKeyRotation};
use baton_core::ledger::{LedgerHash, SignedTreeHead, verify_consistency};
use baton_server::server_key::ServerKey;
use baton_server::verify::verify_bundle;
use reqwest::Method;
use serde_json::{Value, json};

use crate::backup::manager_credentials;
use crate::binary;
use crate::dashboard_actions::{ledger_entries, post_json};
use crate::support;
use crate::tablet::{self, Manager, SimTablet, check_in, check_out};

/// The seed of the key the server starts with, so that the test can sign a token with it as
/// the server did before the rotation.
const FIRST_SEED: [u8; 32] = [21; 32];

fn rotate(data_dir: &std::path::Path, database_url: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_baton"));
    command
        .args([
            "rotate-server-key",
            "--reason",
            "annual rotation drill",
            "--data-dir",
        ])
        .arg(data_dir)
        .env_remove("BATON_DATABASE_URL")
        .env_remove("BATON_SERVER_KEY_FILE");
    if let Some(url) = database_url {
        command.args(["--database-url", url]);
    }
    command.output().unwrap()
}

async fn get_json(base_url: &str, path: &str) -> Value {
    let response = reqwest::get(format!("{base_url}{path}")).await.unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

async fn head(tablet: &SimTablet) -> SignedTreeHead {
    let response = tablet
        .request(Method::GET, "/api/v1/ledger/head", Vec::new())
        .await;
    assert_eq!(response.status(), 200);
    SignedTreeHead::from_json_bytes(&response.bytes().await.unwrap()).unwrap()
}

async fn export(manager: &Manager) -> Vec<u8> {
    let response = manager
        .client
        .get(format!("{}/api/v1/ledger/export", manager.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.bytes().await.unwrap().to_vec()
}

fn kids(jwks: &Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["kid"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_rotated_key_signs_from_then_on_and_what_the_old_key_signed_still_verifies() {
    let postgres = support::postgres().await;
    let mut backends: Vec<Option<String>> = vec![None];
    backends.extend(postgres.as_ref().map(|backend| Some(backend.url.clone())));
    for database_url in backends {
        let data_dir = tempfile::tempdir().unwrap();
        let key_file = data_dir.path().join("server-ed25519.key");
        baton_server::server_key::write_new_key_file(&key_file, &FIRST_SEED, "the test key")
            .unwrap();
        let first = ServerKey::from_seed(FIRST_SEED).unwrap();
        let first_key = *first.public_key();
        let flags: Vec<&str> = match &database_url {
            Some(url) => vec!["--database-url", url],
            None => Vec::new(),
        };
        let server = binary::start_with(data_dir.path(), &flags);
        let base_url = server.base_url.clone();
        let (username, password) = manager_credentials(&server.stdout_lines);
        let manager = tablet::sign_in_at(&base_url, &username, &password).await;
        let mut tablet_a = SimTablet::enroll_at(&base_url, &manager, 80).await;
        assert_eq!(
            tablet_a.enrollment["server_public_key"],
            first_key.to_hex().as_str()
        );

        let start = baton_server::sync::now_ms() - 600_000;
        let before = [
            tablet_a.sign(check_out("D-0001", "S-0005"), start),
            tablet_a.sign(check_in("D-0001", "S-0005"), start + 1_000),
        ];
        tablet_a.push(&before).await;
        let (status, body) = post_json(
            &manager,
            "/api/v1/dashboard/devices/D-0002/quarantine",
            json!({ "note": "before the rotation" }),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let old_head = head(&tablet_a).await;
        assert_eq!(old_head.head.key_id, first_key);
        let old_token = baton_server::jwt::sign(&first, "logout+jwt", &json!({ "sub": "S-0005" }));
        assert_eq!(
            kids(&get_json(&base_url, "/.well-known/jwks.json").await),
            [baton_server::jwt::key_id(&first_key)]
        );

        // The rotation, while the server runs.
        let output = {
            let (data_dir, url) = (data_dir.path().to_owned(), database_url.clone());
            tokio::task::spawn_blocking(move || rotate(&data_dir, url.as_deref()))
                .await
                .unwrap()
        };
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(stdout.contains("recorded as ledger entry"), "{stdout}");
        let second = ServerKey::read(&key_file).unwrap();
        let second_key = *second.public_key();
        assert_ne!(second_key, first_key);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "the new key is owner-only");
        }
        assert!(!stdout.contains(&hex::encode(second.signing_key().to_bytes())));

        // The running server switches within its reload interval (SIGHUP makes it immediate).
        assert!(
            Command::new("kill")
                .args(["-HUP", &server.pid().to_string()])
                .status()
                .unwrap()
                .success()
        );
        let mut switched = false;
        for _ in 0..100 {
            let meta = get_json(&base_url, "/api/v1/meta").await;
            if meta["server_public_key"] == second_key.to_hex().as_str() {
                switched = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(switched, "the server did not switch to the rotated key");

        // The history is public and verifies from either key.
        let published = get_json(&base_url, "/api/v1/server-keys").await;
        let rotations: Vec<SignedKeyRotation> = published["rotations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|rotation| SignedKeyRotation::from_json_value(rotation).unwrap())
            .collect();
        for trusted in [first_key, second_key] {
            let history =
                KeyHistory::from_rotations(RotatingSigner::Server, &trusted, &rotations).unwrap();
            assert_eq!(history.keys(), &[first_key, second_key]);
        }

        // New heads and authority events are signed by the new key.
        let after = [tablet_a.sign(check_out("D-0001", "S-0006"), start + 2_000)];
        assert_eq!(tablet_a.push(&after).await[0]["status"], "accepted");
        let (status, released) = post_json(
            &manager,
            "/api/v1/dashboard/devices/D-0002/release",
            json!({ "note": "after the rotation" }),
        )
        .await;
        assert_eq!(status, 200, "{released}");
        let new_head = head(&tablet_a).await;
        assert_eq!(new_head.head.key_id, second_key);
        let history =
            KeyHistory::from_rotations(RotatingSigner::Server, &first_key, &rotations).unwrap();
        new_head.verify_in(&history).unwrap();
        old_head.verify_in(&history).unwrap();
        // A tablet holding the old head checks the new one extends it, as before.
        let proof: Value = tablet_a
            .request(
                Method::GET,
                &format!(
                    "/api/v1/ledger/consistency?from={}&to={}",
                    old_head.head.tree_size, new_head.head.tree_size
                ),
                Vec::new(),
            )
            .await
            .json()
            .await
            .unwrap();
        let proof: Vec<LedgerHash> = proof["proof"]
            .as_array()
            .unwrap()
            .iter()
            .map(|hash| LedgerHash::from_hex(hash.as_str().unwrap()).unwrap())
            .collect();
        verify_consistency(
            old_head.head.tree_size,
            new_head.head.tree_size,
            &old_head.head.root_hash,
            &new_head.head.root_hash,
            &proof,
        )
        .unwrap();

        // Receivers find both keys, so a token signed before the rotation still verifies.
        let jwks = get_json(&base_url, "/.well-known/jwks.json").await;
        assert_eq!(
            kids(&jwks),
            [
                baton_server::jwt::key_id(&second_key),
                baton_server::jwt::key_id(&first_key)
            ]
        );
        let old_kid = {
            let header = old_token.split('.').next().unwrap();
            let header: Value = serde_json::from_slice(
                &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, header)
                    .unwrap(),
            )
            .unwrap();
            header["kid"].as_str().unwrap().to_owned()
        };
        assert!(kids(&jwks).contains(&old_kid));

        // The ledger records the rotation, and the bundle verifies from either key.
        let entries = ledger_entries(&manager).await;
        assert!(
            entries
                .iter()
                .any(|entry| entry["action"]["type"] == "server_key_rotated"),
            "no server_key_rotated entry in {entries:?}"
        );
        let bundle = export(&manager).await;
        for trusted in [first_key, second_key] {
            let report = verify_bundle(&bundle, Some(&trusted.to_hex()));
            assert!(
                report.is_valid(),
                "{:?}",
                report.problems().collect::<Vec<_>>()
            );
        }
        let stranger =
            SignerKey::from_signing_key(&ed25519_dalek::SigningKey::from_bytes(&[3; 32]));
        assert!(!verify_bundle(&bundle, Some(&stranger.to_hex())).is_valid());
        // Without its history the new head does not verify for a holder of the old key.
        let mut stripped: Value = serde_json::from_slice(&bundle).unwrap();
        stripped["server_key_rotations"] = json!([]);
        let report = verify_bundle(
            &serde_json::to_vec(&stripped).unwrap(),
            Some(&first_key.to_hex()),
        );
        assert!(!report.is_valid());
        drop(server);

        // A key file that is not in the database's history is refused at start.
        std::fs::remove_file(&key_file).unwrap();
        baton_server::server_key::write_new_key_file(&key_file, &[33; 32], "a stranger key")
            .unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_baton"));
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir.path())
            .args(&flags)
            .env_remove("BATON_DATABASE_URL")
            .env_remove("BATON_SERVER_KEY_FILE");
        let refused = command.output().unwrap();
        assert!(!refused.status.success());
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(
            stderr.contains("does not belong to this database's key history"),
            "{stderr}"
        );
    }
}

async fn post_rotation(tablet: &SimTablet, rotation: &SignedKeyRotation) -> (u16, Value) {
    let response = tablet
        .request(
            Method::POST,
            "/api/v1/tablet/key-rotation",
            serde_json::to_vec(&rotation.to_json_value()).unwrap(),
        )
        .await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<no error code>")
}

/// A tablet rotates its own key (docs/PROTOCOL.md §2.10): only with the old key's signature on
/// a statement the new key also signs, only once every event of the old key is in, and from
/// then on the old key can neither sign requests nor extend its chain; both chains verify.
#[tokio::test]
async fn a_tablet_rotates_its_key_through_a_statement_of_both_keys_and_the_old_key_is_refused_after()
 {
    for backend in support::every_backend().await {
        let server = tablet::serve(backend.storage.clone()).await;
        let manager = tablet::sign_in_manager(&server).await;
        let mut tablet_a = SimTablet::enroll(&server, &manager, 90).await;
        let start = baton_server::sync::now_ms() - 600_000;
        let checked_out = tablet_a.sign(check_out("D-0003", "S-0001"), start);
        tablet_a.push(std::slice::from_ref(&checked_out)).await;
        // An event the server does not have yet: the rotation must wait for it.
        let unpushed = tablet_a.sign(check_in("D-0003", "S-0001"), start + 1_000);
        let (status, body) = post_rotation(&tablet_a, &tablet_a.key_rotation(91, start)).await;
        assert_eq!(
            (status, error_code(&body)),
            (409, "chain_not_synced"),
            "{body}"
        );
        tablet_a.push(std::slice::from_ref(&unpushed)).await;

        // Statements that must be refused, each changing nothing.
        let mut one_signature = tablet_a.key_rotation(91, start);
        one_signature.next_signature = one_signature.previous_signature;
        let (status, body) = post_rotation(&tablet_a, &one_signature).await;
        assert_eq!(
            (status, error_code(&body)),
            (400, "bad_key_rotation"),
            "{body}"
        );
        let other = SimTablet::enroll(&server, &manager, 92).await;
        let (status, body) = post_rotation(&other, &tablet_a.key_rotation(91, start)).await;
        assert_eq!(
            (status, error_code(&body)),
            (400, "bad_key_rotation"),
            "{body}"
        );
        let onto_other = tablet_a.key_rotation(92, start);
        let (status, body) = post_rotation(&tablet_a, &onto_other).await;
        assert_eq!(
            (status, error_code(&body)),
            (409, "key_already_enrolled"),
            "{body}"
        );

        let rotation = tablet_a.key_rotation(91, start + 2_000);
        let (status, body) = post_rotation(&tablet_a, &rotation).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["last_seq"], 2);
        let rotated = tablet_a.with_key(91);
        assert_eq!(body["public_key"], rotated.signer.to_hex().as_str());

        // The old key is retired: its requests are refused with the reason.
        let response = tablet_a
            .request(Method::GET, "/api/v1/sync/roster", Vec::new())
            .await;
        assert_eq!(response.status(), 401);
        let body: Value = response.json().await.unwrap();
        assert_eq!(error_code(&body), "key_rotated");
        let mut rotated = rotated;
        let checked_out_again = rotated.sign(check_out("D-0003", "S-0002"), start + 3_000);
        let receipts = rotated.push(std::slice::from_ref(&checked_out_again)).await;
        assert_eq!(receipts[0]["status"], "accepted", "{receipts:?}");
        // The retired key cannot extend its chain: its own requests are refused above, and the
        // new key's carry only the new key's events (core refuses it too: RetiredKey).
        let late = tablet_a.sign(check_in("D-0003", "S-0002"), start + 4_000);
        let receipts = rotated.push(std::slice::from_ref(&late)).await;
        assert_eq!(
            (&receipts[0]["status"], &receipts[0]["reason"]["code"]),
            (&json!("rejected"), &json!("foreign_signer")),
            "{receipts:?}"
        );
        // A second rotation needs the current key.
        let (status, body) = post_rotation(&tablet_a, &tablet_a.key_rotation(93, start)).await;
        assert_eq!((status, error_code(&body)), (401, "key_rotated"), "{body}");

        // The ledger records the rotation, and the bundle verifies both chains.
        let entries = ledger_entries(&manager).await;
        let rotated_entry = entries
            .iter()
            .find(|entry| entry["action"]["type"] == "tablet_key_rotated")
            .expect("the rotation is in the ledger");
        assert_eq!(rotated_entry["action"]["last_seq"], 2);
        assert_eq!(
            rotated_entry["by"],
            format!("tablet:{}", tablet_a.tablet_id)
        );
        let server_key = tablet_a.enrollment["server_public_key"].as_str().unwrap();
        let bundle = export(&manager).await;
        let report = verify_bundle(&bundle, Some(server_key));
        assert!(
            report.is_valid(),
            "{:?}",
            report.problems().collect::<Vec<_>>()
        );
        // A new key slipped into the tablets table without the rotation entry is caught.
        let mut forged: Value = serde_json::from_slice(&bundle).unwrap();
        for entry in forged["entries"].as_array_mut().unwrap() {
            if entry["entry"]["action"]["type"] == "tablet_key_rotated" {
                entry["entry"]["action"]["rotation"]["next_signature"] =
                    entry["entry"]["action"]["rotation"]["previous_signature"].clone();
            }
        }
        let report = verify_bundle(&serde_json::to_vec(&forged).unwrap(), Some(server_key));
        assert!(!report.is_valid());
    }
}
