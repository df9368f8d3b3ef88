//! What managers do on the dashboard, over real HTTP on every backend: reviewing exceptions,
//! and quarantining, releasing, reporting missing and found a device as authority-signed events.

use baton_core::body::{AuthMethod, Body, PersonAuth};
use baton_core::ids::{DeviceId, StaffId};
use baton_server::server_key::ServerKey;
use baton_server::storage::AccountRole;
use baton_server::sync::now_ms;
use serde_json::{Value, json};

use crate::support;
use crate::tablet::{self, Manager, SimTablet, TestServer, check_out};

pub async fn get_json(manager: &Manager, path: &str) -> Value {
    let response = manager
        .client
        .get(format!("{}{path}", manager.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

/// GETs a path that should be refused; returns the status and the JSON body (null if none).
async fn get_refused(manager: &Manager, path: &str) -> (u16, Value) {
    let response = manager
        .client
        .get(format!("{}{path}", manager.base_url))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// POSTs JSON with the session's CSRF token; returns the status and the JSON body.
pub async fn post_json(manager: &Manager, path: &str, body: Value) -> (u16, Value) {
    let response = manager
        .client
        .post(format!("{}{path}", manager.base_url))
        .header("x-csrf-token", &manager.csrf_token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<no error code>")
}

/// The refusals every state-changing dashboard route gives: nobody signed in (401), no CSRF
/// token (403), an auditor (403).
async fn assert_refused_to_all_but_managers(
    server: &TestServer,
    auditor: &Manager,
    path: &str,
    body: Value,
) {
    let url = format!("{}{path}", server.base_url);
    let anonymous = reqwest::Client::new()
        .post(&url)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401, "{path} without a session");
    let manager = tablet::sign_in_manager(server).await;
    let without_csrf = manager.client.post(&url).json(&body).send().await.unwrap();
    assert_eq!(without_csrf.status(), 403, "{path} without the CSRF token");
    let without_csrf: Value = without_csrf.json().await.unwrap();
    assert_eq!(error_code(&without_csrf), "csrf_token_invalid");
    let (status, refusal) = post_json(auditor, path, body).await;
    assert_eq!(
        (status, error_code(&refusal)),
        (403, "forbidden"),
        "{path} by an auditor"
    );
}

fn exception_of_kind<'a>(list: &'a Value, kind: &str) -> Option<&'a Value> {
    list["exceptions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|exception| exception["kind"] == kind)
}

#[tokio::test]
async fn an_exception_acknowledged_then_resolved_leaves_the_default_list_and_the_ledger_keeps_both()
{
    for backend in support::every_backend().await {
        let server = tablet::serve(backend.storage.clone()).await;
        let manager = tablet::sign_in_manager(&server).await;
        let auditor = tablet::sign_in_new_account(&server, "auditor-1", AccountRole::Auditor).await;
        let mut tablet_a = SimTablet::enroll(&server, &manager, 51).await;
        let start = now_ms() - 60_000;
        let events = [
            tablet_a.sign(check_out("D-0001", "S-0001"), start),
            tablet_a.sign(check_out("D-0001", "S-0002"), start + 1_000),
        ];
        tablet_a.push(&events).await;

        let list = get_json(&manager, "/api/v1/dashboard/exceptions").await;
        let overlap = exception_of_kind(&list, "overlapping_custody").expect("an overlap");
        let key = overlap["key"].as_str().unwrap().to_owned();
        assert_eq!(key.len(), 32);
        assert!(
            key.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_eq!(overlap["review"], Value::Null);
        assert_eq!(overlap["history"], json!([]));

        let acknowledge = format!("/api/v1/dashboard/exceptions/{key}/acknowledge");
        let resolve = format!("/api/v1/dashboard/exceptions/{key}/resolve");
        assert_refused_to_all_but_managers(&server, &auditor, &acknowledge, json!({})).await;
        assert_refused_to_all_but_managers(&server, &auditor, &resolve, json!({ "note": "x" }))
            .await;
        let (status, body) = post_json(
            &manager,
            &format!(
                "/api/v1/dashboard/exceptions/{}/acknowledge",
                "0".repeat(32)
            ),
            json!({}),
        )
        .await;
        assert_eq!((status, error_code(&body)), (404, "unknown_exception"));

        let (status, acknowledged) = post_json(
            &manager,
            &acknowledge,
            json!({ "note": "  calling both nurses  " }),
        )
        .await;
        assert_eq!(status, 200, "{acknowledged}");
        assert_eq!(acknowledged["key"], key.as_str());
        assert_eq!(acknowledged["review"]["state"], "acknowledged");
        assert_eq!(acknowledged["review"]["by"], "manager");
        assert_eq!(acknowledged["review"]["note"], "calling both nurses");
        let listed = get_json(&manager, "/api/v1/dashboard/exceptions").await;
        let overlap = exception_of_kind(&listed, "overlapping_custody").expect("still listed");
        assert_eq!(overlap["review"], acknowledged["review"]);

        for (note, code) in [
            (json!(null), "note_required"),
            (json!("   "), "note_required"),
            (json!("x".repeat(501)), "note_too_long"),
        ] {
            let (status, body) = post_json(&manager, &resolve, json!({ "note": note })).await;
            assert_eq!((status, error_code(&body)), (400, code), "{note}");
        }
        let (status, resolved) =
            post_json(&manager, &resolve, json!({ "note": "S-0001 returned it" })).await;
        assert_eq!(status, 200, "{resolved}");
        assert_eq!(resolved["review"]["state"], "resolved");

        let default_list = get_json(&manager, "/api/v1/dashboard/exceptions").await;
        assert!(exception_of_kind(&default_list, "overlapping_custody").is_none());
        let full_list = get_json(
            &manager,
            "/api/v1/dashboard/exceptions?include_resolved=true",
        )
        .await;
        let overlap = exception_of_kind(&full_list, "overlapping_custody").expect("listed");
        assert_eq!(overlap["review"]["state"], "resolved");
        let history: Vec<&str> = overlap["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|review| review["state"].as_str().unwrap())
            .collect();
        assert_eq!(history, ["acknowledged", "resolved"]);
        // Auditors read the reviews too.
        let auditors_view = get_json(
            &auditor,
            "/api/v1/dashboard/exceptions?include_resolved=true",
        )
        .await;
        assert_eq!(
            exception_of_kind(&auditors_view, "overlapping_custody"),
            Some(overlap)
        );

        let ledger = ledger_entries(&manager).await;
        let reviews: Vec<(&str, &str)> = ledger
            .iter()
            .filter(|entry| entry["kind"] == "governance")
            .filter(|entry| entry["action"]["key"] == key.as_str())
            .map(|entry| {
                (
                    entry["action"]["type"].as_str().unwrap(),
                    entry["action"]["note"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            reviews,
            [
                ("exception_acknowledged", "calling both nurses"),
                ("exception_resolved", "S-0001 returned it")
            ]
        );
        let resolved_entry = ledger
            .iter()
            .find(|entry| entry["action"]["type"] == "exception_resolved")
            .unwrap();
        assert_eq!(resolved_entry["by"], "manager");
        assert_eq!(resolved_entry["action"]["device"], "D-0001");
        assert_eq!(resolved_entry["action"]["kind"], "overlapping_custody");
    }
}

/// Every ledger entry of the site, oldest first.
pub async fn ledger_entries(manager: &Manager) -> Vec<Value> {
    let response = manager
        .client
        .get(format!("{}/api/v1/ledger/entries?from=0", manager.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response
        .text()
        .await
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap()["entry"].clone())
        .collect()
}

fn board_status<'a>(board: &'a Value, device_id: &str) -> &'a str {
    board["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|device| device["device_id"] == device_id)
        .unwrap()["status"]
        .as_str()
        .unwrap()
}

fn server_key_hex() -> String {
    ServerKey::from_seed([9; 32]).unwrap().public_key().to_hex()
}

#[tokio::test]
async fn a_quarantine_from_the_dashboard_is_an_authority_event_that_ends_custody_until_released() {
    for backend in support::every_backend().await {
        let server = tablet::serve(backend.storage.clone()).await;
        let manager = tablet::sign_in_manager(&server).await;
        let auditor = tablet::sign_in_new_account(&server, "auditor-2", AccountRole::Auditor).await;
        let mut tablet_a = SimTablet::enroll(&server, &manager, 52).await;
        let checked_out = tablet_a.sign(check_out("D-0002", "S-0001"), now_ms() - 60_000);
        tablet_a.push(std::slice::from_ref(&checked_out)).await;
        let mut stream = manager
            .client
            .get(format!("{}/api/v1/dashboard/stream", server.base_url))
            .send()
            .await
            .unwrap();
        assert_eq!(stream.status(), 200);

        let quarantine = "/api/v1/dashboard/devices/D-0002/quarantine";
        assert_refused_to_all_but_managers(&server, &auditor, quarantine, json!({ "note": "x" }))
            .await;
        let (status, body) = post_json(&manager, quarantine, json!({})).await;
        assert_eq!((status, error_code(&body)), (400, "note_required"));
        let (status, body) = post_json(
            &manager,
            "/api/v1/dashboard/devices/D-9999/quarantine",
            json!({ "note": "x" }),
        )
        .await;
        assert_eq!((status, error_code(&body)), (404, "unknown_device"));
        let leaves_before = ledger_entries(&manager).await.len();

        let (status, quarantined) =
            post_json(&manager, quarantine, json!({ "note": "Screen cracked" })).await;
        assert_eq!(status, 200, "{quarantined}");
        assert_eq!(quarantined["device_id"], "D-0002");
        assert_eq!(quarantined["body_type"], "quarantine");
        let event_id = quarantined["event_id"].as_str().unwrap().to_owned();

        let board = get_json(&manager, "/api/v1/dashboard/devices").await;
        assert_eq!(board_status(&board, "D-0002"), "quarantined");
        let timeline = get_json(&manager, "/api/v1/dashboard/devices/D-0002/timeline").await;
        let last = timeline["entries"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()
            .clone();
        assert_eq!(last["event_id"], event_id.as_str());
        assert_eq!(last["signer"], server_key_hex().as_str());
        assert_eq!(last["tablet_id"], Value::Null);
        assert_eq!(
            last["body"],
            json!({ "type": "quarantine", "device": "D-0002", "by": "manager", "note": "Screen cracked" })
        );
        // The quarantine ended S-0001's custody, so their access is revoked.
        let revocations = get_json(&manager, "/api/v1/dashboard/revocations").await;
        let revocation = &revocations["revocations"][0];
        assert_eq!(
            (
                &revocation["staff_id"],
                &revocation["reason"],
                &revocation["ended_by"]
            ),
            (&json!("S-0001"), &json!("quarantined"), &json!(event_id))
        );

        let ledger = ledger_entries(&manager).await;
        assert_eq!(ledger.len(), leaves_before + 1, "one leaf for the event");
        let leaf = ledger.last().unwrap();
        assert_eq!(leaf["kind"], "event");
        assert_eq!(leaf["event"]["signer"], server_key_hex().as_str());
        assert_eq!(leaf["event"]["seq"], 1);

        // Tablets pull it and verify it with the server's key like any event.
        let pulled = tablet_a.pull_all(100).await;
        assert_eq!(pulled.last().unwrap().id().to_hex(), event_id);

        let mut received = String::new();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        while !received.contains(&event_id) {
            let chunk = tokio::time::timeout_at(deadline, stream.chunk())
                .await
                .expect("no event within 10 s")
                .unwrap()
                .expect("the stream stays open");
            received.push_str(&String::from_utf8_lossy(&chunk));
        }
        assert!(
            received.contains("\"body_type\":\"quarantine\""),
            "{received}"
        );
        assert!(received.contains("\"tablet_id\":null"), "{received}");

        let (status, body) = post_json(&manager, quarantine, json!({ "note": "again" })).await;
        assert_eq!((status, error_code(&body)), (409, "already_quarantined"));

        let release = "/api/v1/dashboard/devices/D-0002/release";
        assert_refused_to_all_but_managers(&server, &auditor, release, json!({ "note": "x" }))
            .await;
        let (status, body) = post_json(&manager, release, json!({ "note": "x".repeat(501) })).await;
        assert_eq!((status, error_code(&body)), (400, "note_too_long"));
        let (status, released) =
            post_json(&manager, release, json!({ "note": "New screen fitted" })).await;
        assert_eq!(status, 200, "{released}");
        assert_eq!(released["body_type"], "release");
        let board = get_json(&manager, "/api/v1/dashboard/devices").await;
        assert_eq!(board_status(&board, "D-0002"), "available");
        let ledger = ledger_entries(&manager).await;
        assert_eq!(ledger.last().unwrap()["event"]["seq"], 2);
        assert_eq!(
            ledger.last().unwrap()["event"]["prev"],
            event_id.as_str(),
            "the authority's chain"
        );
        let (status, body) = post_json(&manager, release, json!({ "note": "again" })).await;
        assert_eq!((status, error_code(&body)), (409, "not_quarantined"));
    }
}

#[tokio::test]
async fn a_manager_reports_a_device_missing_and_found() {
    for backend in support::every_backend().await {
        let server = tablet::serve(backend.storage.clone()).await;
        let manager = tablet::sign_in_manager(&server).await;
        let auditor = tablet::sign_in_new_account(&server, "auditor-3", AccountRole::Auditor).await;
        let mut tablet_a = SimTablet::enroll(&server, &manager, 53).await;
        let checked_out = tablet_a.sign(check_out("D-0003", "S-0004"), now_ms() - 60_000);
        tablet_a.push(std::slice::from_ref(&checked_out)).await;

        let missing = "/api/v1/dashboard/devices/D-0003/missing";
        assert_refused_to_all_but_managers(&server, &auditor, missing, json!({})).await;
        let (status, body) = post_json(
            &manager,
            "/api/v1/dashboard/devices/D-9999/missing",
            json!({}),
        )
        .await;
        assert_eq!((status, error_code(&body)), (404, "unknown_device"));
        let (status, body) = post_json(&manager, missing, json!({ "note": "y".repeat(501) })).await;
        assert_eq!((status, error_code(&body)), (400, "note_too_long"));
        let (status, reported) = post_json(&manager, missing, json!({})).await;
        assert_eq!(status, 200, "{reported}");
        assert_eq!(reported["body_type"], "report_missing");
        let board = get_json(&manager, "/api/v1/dashboard/devices").await;
        assert_eq!(board_status(&board, "D-0003"), "missing");
        let timeline = get_json(&manager, "/api/v1/dashboard/devices/D-0003/timeline").await;
        let last = timeline["entries"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()
            .clone();
        assert_eq!(
            last["body"],
            json!({ "type": "report_missing", "device": "D-0003",
                    "reported_by": { "staff": "manager", "method": "dashboard" } })
        );
        assert_eq!(last["signer"], server_key_hex().as_str());
        let (status, body) = post_json(&manager, missing, json!({})).await;
        assert_eq!((status, error_code(&body)), (409, "already_missing"));

        let found = "/api/v1/dashboard/devices/D-0003/found";
        assert_refused_to_all_but_managers(&server, &auditor, found, json!({ "ward": "W-4E" }))
            .await;
        for ward in [json!(null), json!("W-9X"), json!("not a ward id")] {
            let (status, body) = post_json(&manager, found, json!({ "ward": ward })).await;
            assert_eq!((status, error_code(&body)), (400, "unknown_ward"), "{ward}");
        }
        let (status, body) = post_json(
            &manager,
            found,
            json!({ "ward": "W-5W", "note": "In the sluice room" }),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["body_type"], "report_found");
        let board = get_json(&manager, "/api/v1/dashboard/devices").await;
        assert_eq!(board_status(&board, "D-0003"), "available");
        let timeline = get_json(&manager, "/api/v1/dashboard/devices/D-0003/timeline").await;
        let last = timeline["entries"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()
            .clone();
        assert_eq!(
            last["body"]["found_by"],
            json!({ "staff": "manager", "method": "dashboard" })
        );
        assert_eq!(last["body"]["ward"], "W-5W");
        assert_eq!(last["body"]["note"], "In the sluice room");
        let (status, body) = post_json(&manager, found, json!({ "ward": "W-5W" })).await;
        assert_eq!((status, error_code(&body)), (409, "not_missing"));
    }
}

#[tokio::test]
async fn a_tablet_cannot_sign_for_a_dashboard_session_and_an_unfit_account_name_is_refused() {
    for backend in support::every_backend().await {
        let server = tablet::serve(backend.storage.clone()).await;
        let manager = tablet::sign_in_manager(&server).await;
        let mut tablet_a = SimTablet::enroll(&server, &manager, 54).await;
        let forged = tablet_a.sign(
            Body::ReportMissing {
                device: DeviceId::new("D-0004").unwrap(),
                reported_by: PersonAuth {
                    staff: StaffId::new("manager").unwrap(),
                    method: AuthMethod::Dashboard,
                },
                note: None,
            },
            now_ms() - 1_000,
        );
        let receipts = tablet_a.push(&[forged]).await;
        assert_eq!(receipts[0]["status"], "rejected");
        assert_eq!(receipts[0]["reason"]["code"], "authority_required");
        let board = get_json(&manager, "/api/v1/dashboard/devices").await;
        assert_eq!(board_status(&board, "D-0004"), "available");

        // Account names are free text; a signed event names people by identifier.
        let unfit = tablet::sign_in_new_account(&server, "Jane Doe", AccountRole::Manager).await;
        let (status, body) = post_json(
            &unfit,
            "/api/v1/dashboard/devices/D-0004/quarantine",
            json!({ "note": "x" }),
        )
        .await;
        assert_eq!((status, error_code(&body)), (409, "account_not_a_staff_id"));
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("Jane Doe")
        );
    }
}

// Several worker threads, so that the two servers' requests really run at the same time.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_server_processes_acting_at_once_never_fork_the_authoritys_chain() {
    const N_DEVICES: usize = 20;
    for backend in support::every_backend().await {
        let first = tablet::serve(backend.storage.clone()).await;
        let second_storage = baton_server::storage::connect(&backend.url).await.unwrap();
        let second = tablet::serve_seeded(second_storage, first.credentials.clone()).await;
        let managers = [
            tablet::sign_in_manager(&first).await,
            tablet::sign_in_manager(&second).await,
        ];
        let tablet_a = SimTablet::enroll(&first, &managers[0], 55).await;
        // Each server's replica is loaded before the race, so each has to notice the other's
        // appends.
        for manager in &managers {
            get_json(manager, "/api/v1/dashboard/devices").await;
        }
        let actions = (1..=N_DEVICES).map(|device_idx| {
            let manager = &managers[device_idx % 2];
            let path = format!("/api/v1/dashboard/devices/D-{device_idx:04}/quarantine");
            async move { post_json(manager, &path, json!({ "note": "recall" })).await }
        });
        let results = futures_util::future::join_all(actions).await;
        for (status, body) in &results {
            assert_eq!(*status, 200, "{body}");
        }
        let server_key = ServerKey::from_seed([9; 32]).unwrap();
        let chain: Vec<_> = tablet_a
            .pull_all(100)
            .await
            .into_iter()
            .filter(|event| event.signer() == server_key.public_key())
            .collect();
        let seqs: Vec<u64> = chain.iter().map(|event| event.seq()).collect();
        assert_eq!(
            seqs,
            (1..=N_DEVICES as u64).collect::<Vec<u64>>(),
            "one event per seq, in order"
        );
        for pair in chain.windows(2) {
            assert_eq!(pair[1].prev(), Some(pair[0].id()));
        }
        for manager in &managers {
            let board = get_json(manager, "/api/v1/dashboard/devices").await;
            for device_idx in 1..=N_DEVICES {
                assert_eq!(
                    board_status(&board, &format!("D-{device_idx:04}")),
                    "quarantined"
                );
            }
        }
    }
}

/// The board and the exceptions queue are filtered, ordered and paged by the server, with the
/// whole site's counts beside each page; a page size out of bounds, an unknown status or an
/// overlong search is refused with its code.
#[tokio::test]
async fn the_board_and_the_exceptions_queue_come_in_pages_the_server_filters() {
    for backend in support::every_backend().await {
        let server = tablet::serve(backend.storage.clone()).await;
        let manager = tablet::sign_in_manager(&server).await;
        let mut tablet_a = SimTablet::enroll(&server, &manager, 52).await;
        let start = now_ms() - 60_000;
        // Three devices each checked out twice at once: three overlaps, three devices in use.
        let mut events = Vec::new();
        for (offset, device) in ["D-0003", "D-0004", "D-0005"].iter().enumerate() {
            let at = start + offset as u64 * 10_000;
            events.push(tablet_a.sign(check_out(device, "S-0001"), at));
            events.push(tablet_a.sign(check_out(device, "S-0002"), at + 1_000));
        }
        tablet_a.push(&events).await;

        let first = get_json(&manager, "/api/v1/dashboard/devices?limit=2").await;
        assert_eq!(first["total"], 20);
        assert_eq!(first["limit"], 2);
        assert_eq!(first["counts"]["in_use"], 3);
        assert_eq!(first["counts"]["available"], 17);
        // In use comes before available, then by asset tag.
        let tags = |page: &Value| -> Vec<String> {
            page["devices"]
                .as_array()
                .unwrap()
                .iter()
                .map(|row| row["device_id"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(tags(&first), ["D-0003", "D-0004"]);
        let second = get_json(&manager, "/api/v1/dashboard/devices?limit=2&offset=2").await;
        assert_eq!(tags(&second), ["D-0005", "D-0001"]);
        let in_use = get_json(&manager, "/api/v1/dashboard/devices?status=in_use").await;
        assert_eq!(in_use["total"], 3);
        assert_eq!(
            in_use["counts"]["available"], 17,
            "counts ignore the filter"
        );
        let one = get_json(&manager, "/api/v1/dashboard/devices?device=D-0004").await;
        assert_eq!(tags(&one), ["D-0004"]);
        // A search by a custodian's name, in any case, finds the devices she holds.
        let staff = get_json(&manager, "/api/v1/dashboard/staff").await;
        let name = staff["staff"]
            .as_array()
            .unwrap()
            .iter()
            .find(|member| member["staff_id"] == "S-0002")
            .unwrap()["display_name"]
            .as_str()
            .unwrap()
            .to_uppercase();
        let by_name = get_json(
            &manager,
            &format!("/api/v1/dashboard/devices?q={}", name.replace(' ', "%20")),
        )
        .await;
        assert_eq!(tags(&by_name), ["D-0003", "D-0004", "D-0005"]);
        assert!(first["wards"].as_array().unwrap().len() >= 2);

        for (query, code) in [
            ("limit=0", "bad_limit"),
            ("limit=1001", "bad_limit"),
            (&*format!("q={}", "x".repeat(101)), "query_too_long"),
        ] {
            let (status, body) =
                get_refused(&manager, &format!("/api/v1/dashboard/devices?{query}")).await;
            assert_eq!((status, error_code(&body)), (400, code), "{query}");
        }
        for query in ["status=lost", "colour=red"] {
            let (status, _) =
                get_refused(&manager, &format!("/api/v1/dashboard/devices?{query}")).await;
            assert_eq!(status, 400, "{query}");
        }

        let all = get_json(&manager, "/api/v1/dashboard/exceptions").await;
        let total = all["total"].as_u64().unwrap();
        assert!(total >= 3, "{all}");
        assert_eq!(all["limit"], 50);
        let page = get_json(&manager, "/api/v1/dashboard/exceptions?limit=2&offset=1").await;
        assert_eq!(page["total"], total);
        assert_eq!(page["exceptions"].as_array().unwrap().len(), 2);
        assert_eq!(page["exceptions"][0], all["exceptions"][1]);
        let (status, body) = get_refused(&manager, "/api/v1/dashboard/exceptions?limit=501").await;
        assert_eq!((status, error_code(&body)), (400, "bad_limit"));
    }
}

/// A charge nurse reviews a ward's shift change: who held each device as the window opened
/// and as it closed, the handoffs in between, and what was not handed over, first.
#[tokio::test]
async fn a_wards_shift_change_shows_what_was_handed_over_and_what_was_not() {
    for backend in support::every_backend().await {
        let server = tablet::serve(backend.storage.clone()).await;
        let manager = tablet::sign_in_manager(&server).await;
        let mut tablet_a = SimTablet::enroll(&server, &manager, 53).await;
        let from = now_ms() - 600_000;
        let to = from + 300_000;
        // Devices D-0001, D-0003, D-0005 and D-0007 have W-4E as their home ward.
        let events = [
            tablet_a.sign(check_out("D-0001", "S-0001"), from - 60_000),
            tablet_a.sign(check_out("D-0003", "S-0001"), from - 50_000),
            tablet_a.sign(check_out("D-0005", "S-0003"), from - 40_000),
            tablet_a.sign(tablet::check_in("D-0003", "S-0001"), from + 10_000),
            tablet_a.sign(check_out("D-0003", "S-0002"), from + 20_000),
            tablet_a.sign(tablet::check_in("D-0005", "S-0003"), from + 30_000),
            tablet_a.sign(check_out("D-0007", "S-0004"), from + 40_000),
            // After the window: not part of it.
            tablet_a.sign(tablet::check_in("D-0001", "S-0001"), to + 10_000),
        ];
        tablet_a.push(&events).await;

        let view = get_json(
            &manager,
            &format!("/api/v1/dashboard/shift-change?ward=W-4E&from_ms={from}&to_ms={to}"),
        )
        .await;
        let rows = view["devices"].as_array().unwrap();
        let row = |device: &str| {
            rows.iter()
                .find(|row| row["device"] == device)
                .unwrap_or_else(|| panic!("{device} in {view}"))
        };
        assert_eq!(
            rows[0]["device"], "D-0001",
            "what was not handed over comes first"
        );
        assert_eq!(row("D-0001")["outcome"], "not_handed_over");
        assert_eq!(row("D-0001")["held_at_end"], json!(["S-0001"]));
        assert_eq!(row("D-0001")["asset_tag"], "BT-10001");
        assert_eq!(row("D-0003")["outcome"], "handed_over");
        assert_eq!(row("D-0003")["held_at_start"], json!(["S-0001"]));
        assert_eq!(row("D-0003")["held_at_end"], json!(["S-0002"]));
        assert_eq!(row("D-0003")["handoffs"].as_array().unwrap().len(), 2);
        assert_eq!(row("D-0003")["handoffs"][0]["ended"], "checked_in");
        assert_eq!(row("D-0005")["outcome"], "returned");
        assert_eq!(row("D-0007")["outcome"], "checked_out");
        assert_eq!(row("D-0009")["outcome"], "idle");
        assert!(
            rows.iter().all(|row| row["device"] != "D-0002"),
            "W-5W's devices are not listed"
        );
        assert!(view["recent_shift_starts"].as_array().unwrap().len() >= 2);

        // With no window, the latest shift start with an hour each side.
        let latest = get_json(&manager, "/api/v1/dashboard/shift-change?ward=W-4E").await;
        assert_eq!(
            latest["to_ms"].as_u64().unwrap() - latest["from_ms"].as_u64().unwrap(),
            7_200_000
        );
        for (query, status, code) in [
            (
                format!("ward=W-4E&from_ms={to}&to_ms={from}"),
                400,
                "bad_range",
            ),
            (format!("ward=W-4E&from_ms={from}"), 400, "bad_range"),
            (
                format!("ward=W-4E&from_ms={from}&to_ms={}", from + 86_400_001),
                400,
                "bad_range",
            ),
            ("ward=W-9Z".to_owned(), 404, "unknown_ward"),
            ("ward=".to_owned(), 400, "bad_ward"),
        ] {
            let (refused, body) =
                get_refused(&manager, &format!("/api/v1/dashboard/shift-change?{query}")).await;
            assert_eq!((refused, error_code(&body)), (status, code), "{query}");
        }
    }
}
