//! The audit ledger end to end: heads signed by the server key, proofs that verify, a bundle
//! that `baton verify` accepts, and tampering with the database that is caught.

use baton_core::ids::SignerKey;
use baton_core::ledger::{
    HeadConsistency, LedgerEntry, LedgerHash, MemoryHashStore, SignedTreeHead,
    check_heads_consistent, verify_consistency, verify_inclusion,
};
use baton_server::verify::verify_bundle;
use reqwest::Method;
use serde_json::Value;

use crate::support;
use crate::tablet::{self, SimTablet, check_in, check_out};

async fn get(tablet: &SimTablet, path: &str) -> reqwest::Response {
    tablet.request(Method::GET, path, Vec::new()).await
}

async fn head(tablet: &SimTablet) -> SignedTreeHead {
    let response = get(tablet, "/api/v1/ledger/head").await;
    assert_eq!(response.status(), 200);
    let bytes = response.bytes().await.unwrap();
    SignedTreeHead::from_json_bytes(&bytes).unwrap()
}

fn hashes(value: &Value) -> Vec<LedgerHash> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|hash| LedgerHash::from_hex(hash.as_str().unwrap()).unwrap())
        .collect()
}

async fn export(tablet: &SimTablet) -> Vec<u8> {
    let response = get(tablet, "/api/v1/ledger/export").await;
    assert_eq!(response.status(), 200);
    response.bytes().await.unwrap().to_vec()
}

#[tokio::test]
async fn every_event_is_provably_in_a_signed_head_and_heads_only_grow() {
    for backend in support::every_backend().await {
        let server = tablet::serve(backend.storage.clone()).await;
        let manager = tablet::sign_in_manager(&server).await;
        let mut tablet_a = SimTablet::enroll(&server, &manager, 60).await;
        let server_key =
            SignerKey::from_hex(tablet_a.enrollment["server_public_key"].as_str().unwrap())
                .unwrap();
        let start = baton_server::sync::now_ms() - 60_000;
        let first_batch = [
            tablet_a.sign(check_out("D-0001", "S-0005"), start),
            tablet_a.sign(check_in("D-0001", "S-0005"), start + 1_000),
            tablet_a.sign(check_out("D-0002", "S-0006"), start + 2_000),
        ];
        let receipts = tablet_a.push(&first_batch).await;
        let leaves: Vec<i64> = receipts
            .iter()
            .map(|receipt| receipt["leaf_index"].as_i64().unwrap())
            .collect();
        assert_eq!(leaves, [2, 3, 4]);

        let first_head = head(&tablet_a).await;
        first_head.verify(&server_key).unwrap();
        assert_eq!(first_head.head.tree_size, 5);

        // Each event's entry hashes to a leaf the head includes.
        let feed = get(&tablet_a, "/api/v1/ledger/entries?from=0&limit=2").await;
        assert_eq!(feed.headers()["baton-next-from"], "2");
        assert_eq!(feed.headers()["content-type"], "application/x-ndjson");
        let mut lines: Vec<Value> = feed
            .text()
            .await
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        let rest = get(&tablet_a, "/api/v1/ledger/entries?from=2")
            .await
            .text()
            .await
            .unwrap();
        lines.extend(
            rest.lines()
                .map(|line| serde_json::from_str::<Value>(line).unwrap()),
        );
        assert_eq!(lines.len(), 5);
        assert_eq!(lines[1]["entry"]["action"]["type"], "tablet_enrolled");
        for line in &lines {
            let leaf_index = line["leaf_index"].as_u64().unwrap();
            let entry = LedgerEntry::from_json_bytes(line["entry"].to_string().as_bytes()).unwrap();
            let proof: Value = get(
                &tablet_a,
                &format!("/api/v1/ledger/inclusion?index={leaf_index}&size=5"),
            )
            .await
            .json()
            .await
            .unwrap();
            verify_inclusion(
                &entry.leaf_hash().unwrap(),
                leaf_index,
                5,
                &hashes(&proof["proof"]),
                &first_head.head.root_hash,
            )
            .unwrap();
        }

        // A decommissioning is a governance entry; the next head extends the first one.
        let other = SimTablet::enroll(&server, &manager, 61).await;
        let response = manager
            .client
            .post(format!(
                "{}/api/v1/tablets/{}/decommission",
                server.base_url, other.tablet_id
            ))
            .header("x-csrf-token", &manager.csrf_token)
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let more = [tablet_a.sign(check_in("D-0002", "S-0006"), start + 3_000)];
        assert_eq!(tablet_a.push(&more).await[0]["leaf_index"], 8);
        let second_head = head(&tablet_a).await;
        assert_eq!(second_head.head.tree_size, 9);
        let proof: Value = get(&tablet_a, "/api/v1/ledger/consistency?from=5&to=9")
            .await
            .json()
            .await
            .unwrap();
        verify_consistency(
            5,
            9,
            &first_head.head.root_hash,
            &second_head.head.root_hash,
            &hashes(&proof["proof"]),
        )
        .unwrap();

        // The bundle verifies offline, and names the governance entry.
        let bundle = export(&tablet_a).await;
        let report = verify_bundle(&bundle, Some(&server_key.to_hex()));
        assert!(
            report.is_valid(),
            "{:?}",
            report.problems().collect::<Vec<_>>()
        );
        assert_eq!(report.n_entries, 9);
        assert!(
            report
                .findings
                .iter()
                .any(|finding| finding.message.contains("governance tablet_decommissioned"))
        );
    }
}

#[tokio::test]
async fn a_database_edited_behind_the_servers_back_is_caught() {
    for backend in support::every_backend().await {
        let server = tablet::serve(backend.storage.clone()).await;
        let manager = tablet::sign_in_manager(&server).await;
        let mut tablet_a = SimTablet::enroll(&server, &manager, 62).await;
        let server_key = tablet_a.enrollment["server_public_key"]
            .as_str()
            .unwrap()
            .to_owned();
        let start = baton_server::sync::now_ms() - 60_000;
        let events: Vec<_> = (0..4)
            .map(|event_idx| {
                let body = if event_idx % 2 == 0 {
                    check_out("D-0003", "S-0007")
                } else {
                    check_in("D-0003", "S-0007")
                };
                tablet_a.sign(body, start + event_idx * 1_000)
            })
            .collect();
        tablet_a.push(&events).await;
        let witnessed = head(&tablet_a).await;
        let clean = export(&tablet_a).await;
        assert!(verify_bundle(&clean, Some(&server_key)).is_valid());

        // An insider rewrites who took the device in entry 3's stored JSON (leaves 0 and 1 are
        // the enrollment, 2 to 5 the events).
        support::execute_sql(
            &backend.url,
            "UPDATE ledger_entries SET entry_json = REPLACE(entry_json, 'S-0007', 'S-0099') WHERE leaf_index = 3",
        )
        .await;
        let report = verify_bundle(&export(&tablet_a).await, Some(&server_key));
        let problems: Vec<String> = report
            .problems()
            .map(|finding| finding.message.clone())
            .collect();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with("entry 3 (leaf 3): not in the signed tree"),
            "{problems:?}"
        );

        // Two entries swapped: both are named.
        support::execute_sql(
            &backend.url,
            "UPDATE ledger_entries SET leaf_index = -1 WHERE leaf_index = 4",
        )
        .await;
        support::execute_sql(
            &backend.url,
            "UPDATE ledger_entries SET leaf_index = 4 WHERE leaf_index = 5",
        )
        .await;
        support::execute_sql(
            &backend.url,
            "UPDATE ledger_entries SET leaf_index = 5 WHERE leaf_index = -1",
        )
        .await;
        let report = verify_bundle(&export(&tablet_a).await, Some(&server_key));
        let problems: Vec<String> = report
            .problems()
            .map(|finding| finding.message.clone())
            .collect();
        assert!(
            problems
                .iter()
                .any(|problem| problem.starts_with("entry 4 (leaf 4)")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|problem| problem.starts_with("entry 5 (leaf 5)")),
            "{problems:?}"
        );

        // An entry and the nodes above it deleted: the server refuses to sign a head
        // that does not extend the one the tablet witnessed, and the tablet's next sync sees it.
        support::execute_sql(
            &backend.url,
            "DELETE FROM ledger_entries WHERE leaf_index = 5",
        )
        .await;
        support::execute_sql(
            &backend.url,
            "DELETE FROM ledger_nodes WHERE node_index >= 0 AND level > 0",
        )
        .await;
        let response = get(&tablet_a, "/api/v1/ledger/head").await;
        assert_eq!(response.status(), 409);
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], "ledger_inconsistent");
        assert_eq!(witnessed.head.tree_size, 6);
    }
}

#[tokio::test]
async fn a_tablet_inserted_into_the_database_is_caught_by_the_offline_verifier() {
    for backend in support::every_backend().await {
        let server = tablet::serve(backend.storage.clone()).await;
        let manager = tablet::sign_in_manager(&server).await;
        let mut tablet_a = SimTablet::enroll(&server, &manager, 64).await;
        let server_key = tablet_a.enrollment["server_public_key"]
            .as_str()
            .unwrap()
            .to_owned();
        let start = baton_server::sync::now_ms() - 60_000;
        let own_event = tablet_a.sign(check_out("D-0004", "S-0008"), start);
        tablet_a.push(std::slice::from_ref(&own_event)).await;
        assert!(verify_bundle(&export(&tablet_a).await, Some(&server_key)).is_valid());

        // An insider with database access adds a tablet row with their own key: no code, no
        // enrollment entry in the ledger. The server serves it like any enrolled tablet.
        let mut insider = SimTablet::unenrolled(&server.base_url, 65, "T-INSIDER");
        support::execute_sql(
            &backend.url,
            &format!(
                "INSERT INTO tablets (tablet_id, site_id, ward_id, public_key, label, enrolled_at_ms) \
                 VALUES ('T-INSIDER', '{}', 'W-4E', '{}', 'insider', 0)",
                baton_server::seed::DEMO_SITE_ID,
                insider.signer.to_hex()
            ),
        )
        .await;
        let forged = insider.sign(check_out("D-0005", "S-0009"), start + 1_000);
        let receipts = insider.push(std::slice::from_ref(&forged)).await;
        assert_eq!(receipts[0]["status"], "accepted", "{receipts:?}");

        // Leaves 0 and 1 are tablet A's code and enrollment, 2 its event, 3 the insider's.
        let report = verify_bundle(&export(&tablet_a).await, Some(&server_key));
        let problems: Vec<String> = report
            .problems()
            .map(|finding| finding.message.clone())
            .collect();
        assert_eq!(
            problems,
            [
                "tablet T-INSIDER: its key signed events from leaf 3 on, but the ledger has no tablet_enrolled entry for it: it was not enrolled with a code, and its events are not evidence"
            ]
        );
    }
}

#[tokio::test]
async fn the_verify_command_exits_non_zero_on_a_tampered_bundle() {
    let backend = support::sqlite().await;
    let server = tablet::serve(backend.storage.clone()).await;
    let manager = tablet::sign_in_manager(&server).await;
    let mut tablet_a = SimTablet::enroll(&server, &manager, 63).await;
    let start = baton_server::sync::now_ms() - 60_000;
    let events = [
        tablet_a.sign(check_out("D-0004", "S-0008"), start),
        tablet_a.sign(check_in("D-0004", "S-0008"), start + 1_000),
    ];
    tablet_a.push(&events).await;
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("bundle.json");
    let bundle = export(&tablet_a).await;
    std::fs::write(&path, &bundle).unwrap();

    let run = |path: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_baton"))
            .arg("verify")
            .arg(path)
            .output()
            .unwrap()
    };
    let output = run(&path);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    // Two governance entries (code, enrollment) and two events.
    assert!(String::from_utf8_lossy(&output.stdout).contains("VERIFIED: 4 entries"));

    // Drop the last entry from the file: the count no longer matches the signed head.
    let mut value: Value = serde_json::from_slice(&bundle).unwrap();
    value["entries"].as_array_mut().unwrap().pop();
    std::fs::write(&path, serde_json::to_vec(&value).unwrap()).unwrap();
    let output = run(&path);
    assert!(!output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("FAIL  bundle: 3 entries, the signed head covers 4"),
        "{stdout}"
    );
}

#[tokio::test]
async fn ledger_entries_reach_a_syslog_collector_once_each_and_resume_after_a_restart() {
    for backend in support::every_backend().await {
        let server = tablet::serve(backend.storage.clone()).await;
        let manager = tablet::sign_in_manager(&server).await;
        let mut tablet_a = SimTablet::enroll(&server, &manager, 64).await;
        let collector = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let target =
            baton_server::syslog::SyslogTarget::Udp(collector.local_addr().unwrap().to_string());

        let sent =
            baton_server::syslog::forward_once(backend.storage.as_ref(), &target, "ward-host")
                .await
                .unwrap();
        assert_eq!(sent, 2, "the enrollment code and the enrollment");
        let start = baton_server::sync::now_ms() - 60_000;
        let event = tablet_a.sign(check_out("D-0005", "S-0009"), start);
        tablet_a.push(&[event]).await;
        // A new forwarder (a restarted process) sends only what is new.
        let sent =
            baton_server::syslog::forward_once(backend.storage.as_ref(), &target, "ward-host")
                .await
                .unwrap();
        assert_eq!(sent, 1);

        let mut messages = Vec::new();
        let mut buffer = vec![0_u8; 65_536];
        for _ in 0..3 {
            let (length, _) = tokio::time::timeout(
                std::time::Duration::from_secs(5),
                collector.recv_from(&mut buffer),
            )
            .await
            .unwrap()
            .unwrap();
            messages.push(String::from_utf8(buffer[..length].to_vec()).unwrap());
        }
        assert!(messages[0].starts_with("<110>1 20"), "{}", messages[0]);
        assert!(messages[0].contains(" ward-host baton "), "{}", messages[0]);
        assert!(
            messages[2].contains("[baton@32473 site=\"SITE-DEMO\" leaf=\"2\" hash=\""),
            "{}",
            messages[2]
        );
        assert!(
            messages[2].ends_with('}') && messages[2].contains("\"kind\":\"event\""),
            "{}",
            messages[2]
        );
    }
}

/// A head of the site signed with `seed`, over an arbitrary root.
fn forged_head(site: &str, tree_size: u64, root_byte: u8, seed: [u8; 32]) -> SignedTreeHead {
    let signing_key = ed25519_dalek::SigningKey::from_bytes(&seed);
    baton_core::ledger::TreeHead {
        log_id: baton_core::ids::SiteId::new(site).unwrap(),
        tree_size,
        root_hash: LedgerHash([root_byte; 32]),
        timestamp_ms: baton_server::sync::now_ms(),
        key_id: SignerKey::from_signing_key(&signing_key),
    }
    .sign(&signing_key)
    .unwrap()
}

#[tokio::test]
async fn a_tablets_witness_alarm_is_ledgered_only_when_it_is_evidence() {
    for backend in support::every_backend().await {
        let server = tablet::serve(backend.storage.clone()).await;
        let manager = tablet::sign_in_manager(&server).await;
        let tablet = SimTablet::enroll(&server, &manager, 61).await;
        let current = head(&tablet).await;
        let site = current.head.log_id.as_str().to_owned();
        let report = |kind: &str, kept: &SignedTreeHead, offered: &SignedTreeHead| {
            serde_json::to_vec(&serde_json::json!({
                "kind": kind, "kept": kept, "offered": offered, "proof": [],
                "detail": "two roots for one size", "raised_at_ms": 1, "reported": false
            }))
            .unwrap()
        };
        let post =
            |body: Vec<u8>| tablet.request(Method::POST, "/api/v1/ledger/witness-reports", body);

        // Two heads of one size with different roots, both signed by this server: a fork.
        let server_seed = [9; 32];
        let first = forged_head(&site, 5, 1, server_seed);
        let second = forged_head(&site, 5, 2, server_seed);
        let response = post(report("fork", &first, &second)).await;
        assert_eq!(response.status(), 202);
        let entries = get(&tablet, "/api/v1/ledger/entries?from=0")
            .await
            .text()
            .await
            .unwrap();
        let alarm: Value = entries
            .lines()
            .map(|line| serde_json::from_str::<Value>(line).unwrap())
            .find(|line| line["entry"]["action"]["type"] == "witness_alarm")
            .expect("the alarm is in the ledger");
        assert_eq!(
            alarm["entry"]["action"]["tablet_id"],
            tablet.tablet_id.as_str()
        );
        assert_eq!(alarm["entry"]["action"]["kind"], "fork");
        assert_eq!(alarm["entry"]["by"], format!("tablet:{}", tablet.tablet_id));

        let mut empty_head = forged_head(&site, 0, 0, server_seed);
        empty_head.head.root_hash = baton_core::ledger::empty_root();
        let empty_head = empty_head
            .head
            .sign(&ed25519_dalek::SigningKey::from_bytes(&server_seed))
            .unwrap();
        // Not evidence: heads that agree, a head signed by another key, a head of another site.
        let refusals = [
            report("fork", &first, &first),
            report("fork", &first, &forged_head(&site, 5, 2, [4; 32])),
            report(
                "fork",
                &first,
                &forged_head("SITE-OTHER", 5, 2, server_seed),
            ),
            // Sizes differ, but a consistency proof from the empty tree is trivially fine.
            report("inconsistent", &empty_head, &first),
        ];
        for body in refusals {
            let response = post(body).await;
            assert_eq!(response.status(), 400);
            let error: Value = response.json().await.unwrap();
            assert!(
                ["not_evidence", "bad_witness_report"]
                    .contains(&error["error"]["code"].as_str().unwrap()),
                "{error}"
            );
        }
        let response = post(b"{\"kind\":\"rumour\"}".to_vec()).await;
        assert_eq!(response.status(), 400);
    }
}

/// The insider who knows how the ledger works: they rewrite a governance entry (who created an
/// enrollment code), recompute every hash above it and delete the stored heads, so that the
/// server, which holds its key, signs the rewritten history without noticing. The offline
/// verifier has nothing to object to in the new bundle; the tablet that kept a head from before
/// holds a head of the same size with another root, and that pair is the evidence, which the
/// server must accept and ledger.
#[tokio::test]
async fn a_ledger_rewritten_with_its_hashes_and_heads_is_caught_by_a_tablets_kept_head() {
    for backend in support::every_backend().await {
        let server = tablet::serve(backend.storage.clone()).await;
        let manager = tablet::sign_in_manager(&server).await;
        let mut tablet_a = SimTablet::enroll(&server, &manager, 66).await;
        let server_key = tablet_a.enrollment["server_public_key"]
            .as_str()
            .unwrap()
            .to_owned();
        let start = baton_server::sync::now_ms() - 60_000;
        let events = [
            tablet_a.sign(check_out("D-0006", "S-0007"), start),
            tablet_a.sign(check_in("D-0006", "S-0007"), start + 1_000),
        ];
        tablet_a.push(&events).await;
        let kept = head(&tablet_a).await;

        // Every entry as stored, leaf 0 (the code's creation, by the manager) rewritten.
        let lines = get(&tablet_a, "/api/v1/ledger/entries?from=0")
            .await
            .text()
            .await
            .unwrap();
        let mut entries: Vec<LedgerEntry> = lines
            .lines()
            .map(|line| {
                let row: Value = serde_json::from_str(line).unwrap();
                LedgerEntry::from_json_bytes(&serde_json::to_vec(&row["entry"]).unwrap()).unwrap()
            })
            .collect();
        assert_eq!(entries.len() as u64, kept.head.tree_size);
        let LedgerEntry::Governance { by, .. } = &mut entries[0] else {
            panic!("leaf 0 is the enrollment code's creation: {:?}", entries[0]);
        };
        assert_eq!(by, "manager");
        *by = "nobody".to_owned();
        let rewritten = String::from_utf8(entries[0].canonical_bytes().unwrap()).unwrap();
        let mut tree = MemoryHashStore::new();
        let mut nodes = Vec::new();
        for entry in &entries {
            nodes.extend_from_slice(tree.append(entry.leaf_hash().unwrap()));
        }
        let site = kept.head.log_id.as_str().to_owned();
        support::execute_sql(
            &backend.url,
            &format!(
                "UPDATE ledger_entries SET entry_json = '{}', leaf_hash = '{}' WHERE site_id = '{site}' AND leaf_index = 0",
                rewritten.replace('\'', "''"),
                entries[0].leaf_hash().unwrap().to_hex()
            ),
        )
        .await;
        support::execute_sql(
            &backend.url,
            &format!("DELETE FROM ledger_nodes WHERE site_id = '{site}'"),
        )
        .await;
        for node in &nodes {
            support::execute_sql(
                &backend.url,
                &format!(
                    "INSERT INTO ledger_nodes (site_id, level, node_index, hash) VALUES ('{site}', {}, {}, '{}')",
                    node.level,
                    node.index,
                    node.hash.to_hex()
                ),
            )
            .await;
        }
        support::execute_sql(
            &backend.url,
            &format!("DELETE FROM tree_heads WHERE site_id = '{site}'"),
        )
        .await;

        // The server signs the rewritten history, and its bundle verifies on its own.
        let offered = head(&tablet_a).await;
        assert_eq!(offered.head.tree_size, kept.head.tree_size);
        assert_ne!(offered.head.root_hash, kept.head.root_hash);
        let report = verify_bundle(&export(&tablet_a).await, Some(&server_key));
        assert!(
            report.is_valid(),
            "the offline verifier alone cannot see this rewrite: {:?}",
            report.problems().collect::<Vec<_>>()
        );

        // The tablet's kept head contradicts it: same size, another root, both signed.
        let server_key = SignerKey::from_hex(&server_key).unwrap();
        kept.verify(&server_key).unwrap();
        offered.verify(&server_key).unwrap();
        assert_eq!(
            check_heads_consistent(&kept, &offered),
            HeadConsistency::Fork {
                tree_size: kept.head.tree_size
            }
        );
        let response = tablet_a
            .request(
                Method::POST,
                "/api/v1/ledger/witness-reports",
                serde_json::to_vec(&serde_json::json!({
                    "kind": "fork", "kept": kept, "offered": offered, "proof": [],
                    "detail": "two signed heads of one size with different roots",
                    "raised_at_ms": start, "reported": false
                }))
                .unwrap(),
            )
            .await;
        assert_eq!(response.status(), 202, "{}", response.text().await.unwrap());
        let entries = get(&tablet_a, "/api/v1/ledger/entries?from=0")
            .await
            .text()
            .await
            .unwrap();
        assert!(
            entries.contains("\"witness_alarm\""),
            "the alarm is in the ledger: {entries}"
        );
    }
}

async fn export_scoped(tablet: &SimTablet, query: &str) -> reqwest::Response {
    get(tablet, &format!("/api/v1/ledger/export?{query}")).await
}

fn problems_of(bundle: &Value, server_key: &str) -> Vec<String> {
    verify_bundle(&serde_json::to_vec(bundle).unwrap(), Some(server_key))
        .problems()
        .map(|finding| finding.message.clone())
        .collect()
}

#[tokio::test]
async fn a_time_range_bundle_proves_every_entry_recorded_in_it_and_a_device_bundle_proves_its_own()
{
    for backend in support::every_backend().await {
        let server = tablet::serve(backend.storage.clone()).await;
        let manager = tablet::sign_in_manager(&server).await;
        let mut tablet_a = SimTablet::enroll(&server, &manager, 63).await;
        let server_key = tablet_a.enrollment["server_public_key"]
            .as_str()
            .unwrap()
            .to_owned();
        let start = baton_server::sync::now_ms() - 60_000;
        let before = [tablet_a.sign(check_out("D-0001", "S-0005"), start)];
        tablet_a.push(&before).await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let from_ms = baton_server::sync::now_ms();
        let inside = [
            tablet_a.sign(check_in("D-0001", "S-0005"), start + 1_000),
            tablet_a.sign(check_out("D-0003", "S-0006"), start + 2_000),
            tablet_a.sign(check_out("D-0002", "S-0007"), start + 3_000),
        ];
        let receipts = tablet_a.push(&inside).await;
        let to_ms = baton_server::sync::now_ms() + 1;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let after = [tablet_a.sign(check_in("D-0003", "S-0006"), start + 4_000)];
        tablet_a.push(&after).await;
        let inside_leaves: Vec<u64> = receipts
            .iter()
            .map(|receipt| receipt["leaf_index"].as_u64().unwrap())
            .collect();

        // The range: exactly the middle push, its neighbours shown recorded outside it, and the
        // tablet's enrollment carried from before the range.
        let response = export_scoped(&tablet_a, &format!("from_ms={from_ms}&to_ms={to_ms}")).await;
        assert_eq!(response.status(), 200);
        let bundle: Value = response.json().await.unwrap();
        assert_eq!(bundle["scope"]["first_leaf"], inside_leaves[0]);
        assert_eq!(bundle["scope"]["last_leaf"], inside_leaves[2]);
        assert_eq!(bundle["entries"].as_array().unwrap().len(), 3);
        assert_eq!(bundle["boundary"].as_array().unwrap().len(), 2);
        assert!(!bundle["context"].as_array().unwrap().is_empty());
        let report = verify_bundle(&serde_json::to_vec(&bundle).unwrap(), Some(&server_key));
        assert!(
            report.is_valid(),
            "{:?}",
            report.problems().collect::<Vec<_>>()
        );
        assert!(
            report
                .findings
                .iter()
                .any(|finding| finding.message.starts_with(&format!(
                    "scope: entries recorded from {from_ms} ms to {to_ms} ms"
                )))
        );

        // An entry left out of the middle is named.
        let mut holed = bundle.clone();
        holed["entries"].as_array_mut().unwrap().remove(1);
        let problems = problems_of(&holed, &server_key);
        assert!(
            problems
                .iter()
                .any(|problem| problem.contains("where leaf")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|problem| problem.contains("entries are missing or added")),
            "{problems:?}"
        );

        // A range cut short: its last entry dropped and shown as the end. That entry was
        // recorded within the range, which the verifier sees in the hashed entry.
        let mut cut = bundle.clone();
        let last = cut["entries"].as_array_mut().unwrap().pop().unwrap();
        cut["scope"]["last_leaf"] = (inside_leaves[2] - 1).into();
        let boundary = cut["boundary"].as_array_mut().unwrap();
        boundary.retain(|entry| entry["leaf_index"] != inside_leaves[2] + 1);
        boundary.push(last);
        let problems = problems_of(&cut, &server_key);
        assert!(
            problems
                .iter()
                .any(|problem| problem.contains("within it: the range was cut short")),
            "{problems:?}"
        );

        // Without the entry that shows where the range ends, its end cannot be shown.
        let mut open_ended = bundle.clone();
        open_ended["boundary"]
            .as_array_mut()
            .unwrap()
            .retain(|entry| entry["leaf_index"] != inside_leaves[2] + 1);
        let problems = problems_of(&open_ended, &server_key);
        assert_eq!(
            problems,
            [format!(
                "scope: the entry after the range (leaf {}) is missing, so its end cannot be shown",
                inside_leaves[2] + 1
            )]
        );

        // One device's events: a selection, valid, that says what it cannot show.
        let response = export_scoped(&tablet_a, "device_id=D-0003").await;
        assert_eq!(response.status(), 200);
        let selection: Value = response.json().await.unwrap();
        let devices: Vec<&str> = selection["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|entry| entry["entry"]["event"]["body"]["device"].as_str().unwrap())
            .collect();
        assert_eq!(devices, ["D-0003", "D-0003"]);
        let report = verify_bundle(&serde_json::to_vec(&selection).unwrap(), Some(&server_key));
        assert!(
            report.is_valid(),
            "{:?}",
            report.problems().collect::<Vec<_>>()
        );
        assert!(report.findings.iter().any(|finding| {
            finding
                .message
                .starts_with("scope: a selection of 2 events about device D-0003")
        }));
        // Another device's event slipped into it is named.
        let mut mixed = selection.clone();
        let stranger = bundle["entries"][0].clone();
        mixed["entries"].as_array_mut().unwrap().insert(0, stranger);
        let problems = problems_of(&mixed, &server_key);
        assert!(
            problems.iter().any(|problem| problem
                .contains("an event about D-0001, in a selection of device D-0003")),
            "{problems:?}"
        );

        // Bad scopes get a clear answer.
        let bad = export_scoped(&tablet_a, &format!("from_ms={to_ms}&to_ms={from_ms}")).await;
        assert_eq!(bad.status(), 400);
        let error: Value = bad.json().await.unwrap();
        assert_eq!(error["error"]["code"], "bad_range");
        let unknown = export_scoped(&tablet_a, "since=1").await;
        assert_eq!(unknown.status(), 400);
        let empty = export_scoped(&tablet_a, "from_ms=1&to_ms=2").await;
        assert_eq!(empty.status(), 404);
        let error: Value = empty.json().await.unwrap();
        assert_eq!(error["error"]["code"], "nothing_recorded");
    }
}
