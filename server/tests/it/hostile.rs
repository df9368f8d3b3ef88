//! Hostile input at the sync API and in every free-text field, each with its exact outcome. What
//! `sync.rs` already covers (an oversized body, a batch over 500, a replayed nonce, a timestamp
//! from the past, a foreign or forged signature, a decommissioned tablet's pull, JSON that does
//! not parse) is not repeated here.

use baton_core::body::{AuthMethod, Body, Checklist, DeviceCondition, PersonAuth};
use baton_core::ids::{DeviceId, StaffId, WardId};
use baton_core::request::{
    HEADER_KEY, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP, RequestToSign,
};
use baton_server::sync::now_ms;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support;
use crate::tablet::{self, Manager, SimTablet, TestServer, check_out};

/// Text a careless SQL string builder would execute, with quotes, comment markers, LIKE
/// wildcards, a backslash, a NUL-free control-free mix of scripts and markup.
const SQL_TEXT: &str = "Robert'); DROP TABLE events;-- \"x\" \\ 50% _ ` $1 ; /* <b>é</b> 💉";

/// Sends `body` signed by `tablet` with any content type.
async fn signed_with_content_type(
    server: &TestServer,
    tablet: &SimTablet,
    path: &str,
    body: Vec<u8>,
    content_type: &str,
    timestamp_ms: u64,
) -> reqwest::Response {
    let nonce = hex::encode(tablet::rand_bytes());
    let signature = RequestToSign {
        method: "POST",
        path_and_query: path,
        body: &body,
        timestamp_ms,
        nonce: &nonce,
    }
    .sign(&tablet.signing_key);
    reqwest::Client::new()
        .post(format!("{}{path}", server.base_url))
        .header(HEADER_KEY, tablet.signer.to_hex())
        .header(HEADER_TIMESTAMP, timestamp_ms.to_string())
        .header(HEADER_NONCE, nonce)
        .header(HEADER_SIGNATURE, hex::encode(signature))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn refusal(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    (status, body["error"]["code"].as_str().unwrap().to_owned())
}

async fn push_raw(tablet: &SimTablet, body: Vec<u8>) -> reqwest::Response {
    tablet
        .request(Method::POST, "/api/v1/sync/push", body)
        .await
}

#[tokio::test]
async fn pushes_that_attack_the_parser_are_refused_whole_and_store_nothing() {
    for backend in support::every_backend().await {
        let server = tablet::serve(backend.storage.clone()).await;
        let manager = tablet::sign_in_manager(&server).await;
        let tablet_a = SimTablet::enroll(&server, &manager, 80).await;

        // Nesting far beyond serde_json's recursion limit (128), around and inside an event.
        let depth = 100_000;
        let deep = format!(
            "{{\"events\": [{}{}]}}",
            "[".repeat(depth),
            "]".repeat(depth)
        );
        assert_eq!(
            refusal(push_raw(&tablet_a, deep.into_bytes()).await).await,
            (400, "malformed_push".to_owned())
        );
        let deep_body = format!(
            "{{\"events\": [{{\"v\": 1, \"body\": {}1{}}}]}}",
            "{\"a\":".repeat(200),
            "}".repeat(200)
        );
        assert_eq!(
            refusal(push_raw(&tablet_a, deep_body.into_bytes()).await).await,
            (400, "malformed_push".to_owned())
        );

        // Bytes that are not UTF-8, inside a string.
        let mut invalid_utf8 = b"{\"events\": [\"".to_vec();
        invalid_utf8.extend_from_slice(&[0xff, 0xfe, 0xc3]);
        invalid_utf8.extend_from_slice(b"\"]}");
        assert_eq!(
            refusal(push_raw(&tablet_a, invalid_utf8).await).await,
            (400, "malformed_push".to_owned())
        );

        // A lone surrogate escape is JSON syntax but no Unicode string.
        let surrogate = br#"{"events": [{"v": 1, "body": {"note": "\ud800"}}]}"#.to_vec();
        let response = push_raw(&tablet_a, surrogate).await;
        assert_eq!(refusal(response).await, (400, "malformed_push".to_owned()));

        assert!(tablet_a.pull_all(10).await.is_empty(), "nothing was stored");
        // The server still serves after all of it.
        let head = tablet_a
            .request(Method::GET, "/api/v1/ledger/head", Vec::new())
            .await;
        assert_eq!(head.status(), 200);
    }
}

#[tokio::test]
async fn the_signature_not_the_content_type_authenticates_a_push() {
    let backend = support::sqlite().await;
    let server = tablet::serve(backend.storage.clone()).await;
    let manager = tablet::sign_in_manager(&server).await;
    let mut tablet_a = SimTablet::enroll(&server, &manager, 81).await;
    let event = tablet_a.sign(check_out("D-0001", "S-0005"), now_ms() - 1_000);
    let body = serde_json::to_vec(&json!({
        "events": [serde_json::from_slice::<Value>(&event.to_json_bytes()).unwrap()]
    }))
    .unwrap();

    // What a page on another origin can send without a preflight: a form-like content type and
    // no signature headers. Refused before the body is read.
    let simple = reqwest::Client::new()
        .post(format!("{}/api/v1/sync/push", server.base_url))
        .header("content-type", "text/plain")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(refusal(simple).await, (401, "missing_signature".to_owned()));

    // Signed, the body is what counts: text/plain carries the same verified event.
    let response = signed_with_content_type(
        &server,
        &tablet_a,
        "/api/v1/sync/push",
        body,
        "text/plain",
        now_ms(),
    )
    .await;
    assert_eq!(response.status(), 200);
    let receipts: Value = response.json().await.unwrap();
    assert_eq!(receipts["receipts"][0]["status"], "accepted");
}

#[tokio::test]
async fn a_request_from_the_future_or_from_a_decommissioned_tablet_is_refused() {
    for backend in support::every_backend().await {
        let server = tablet::serve(backend.storage.clone()).await;
        let manager = tablet::sign_in_manager(&server).await;
        let mut tablet_a = SimTablet::enroll(&server, &manager, 82).await;
        let event = tablet_a.sign(check_out("D-0002", "S-0005"), now_ms() - 1_000);
        let body = serde_json::to_vec(&json!({
            "events": [serde_json::from_slice::<Value>(&event.to_json_bytes()).unwrap()]
        }))
        .unwrap();

        // Ten minutes ahead: outside the five-minute window (sync.rs checks the past).
        let future = signed_with_content_type(
            &server,
            &tablet_a,
            "/api/v1/sync/push",
            body.clone(),
            "application/json",
            now_ms() + 10 * 60_000,
        )
        .await;
        assert_eq!(
            refusal(future).await,
            (401, "bad_request_signature".to_owned())
        );
        // A timestamp that is not a number.
        let response = reqwest::Client::new()
            .get(format!("{}/api/v1/sync/pull", server.base_url))
            .header(HEADER_KEY, tablet_a.signer.to_hex())
            .header(HEADER_TIMESTAMP, "1e12")
            .header(HEADER_NONCE, "00112233445566778899aabbccddeeff")
            .header(HEADER_SIGNATURE, "00".repeat(64))
            .send()
            .await
            .unwrap();
        assert_eq!(refusal(response).await, (401, "bad_timestamp".to_owned()));

        decommission(&server, &manager, &tablet_a.tablet_id).await;
        // A push, correctly signed and fresh, by the decommissioned tablet: refused, not stored.
        let response = push_raw(&tablet_a, body).await;
        assert_eq!(
            refusal(response).await,
            (403, "tablet_decommissioned".to_owned())
        );
        let events = server
            .state
            .storage
            .events_since(baton_server::seed::DEMO_SITE_ID, 0, 10)
            .await
            .unwrap();
        assert!(events.is_empty(), "the refused push stored nothing");
        // Nor may it ask for a custody token.
        let token = tablet_a
            .request(
                Method::POST,
                "/api/v1/tokens",
                br#"{"device_id": "D-0002", "staff_id": "S-0005"}"#.to_vec(),
            )
            .await;
        assert_eq!(
            refusal(token).await,
            (403, "tablet_decommissioned".to_owned())
        );
    }
}

async fn decommission(server: &TestServer, manager: &Manager, tablet_id: &str) {
    let response = manager
        .client
        .post(format!(
            "{}/api/v1/tablets/{tablet_id}/decommission",
            server.base_url
        ))
        .header("x-csrf-token", &manager.csrf_token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn an_event_about_an_unknown_device_or_person_is_kept_as_signed_evidence_but_not_boarded() {
    for backend in support::every_backend().await {
        let server = tablet::serve(backend.storage.clone()).await;
        let manager = tablet::sign_in_manager(&server).await;
        let mut tablet_a = SimTablet::enroll(&server, &manager, 83).await;
        // A tablet with an old roster, or a malicious one: neither D-9999 nor S-9999 exists.
        let event = tablet_a.sign(check_out("D-9999", "S-9999"), now_ms() - 1_000);
        let receipts = tablet_a.push(std::slice::from_ref(&event)).await;
        assert_eq!(receipts[0]["status"], "accepted");
        assert_eq!(tablet_a.pull_all(10).await, vec![event]);

        let get = |path: String| manager.client.get(path).send();
        let board: Value = get(format!("{}/api/v1/dashboard/devices", server.base_url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let devices = board["devices"].as_array().unwrap();
        assert_eq!(
            devices.len(),
            20,
            "only registered devices are on the board"
        );
        assert!(devices.iter().all(|device| device["device_id"] != "D-9999"));
        let timeline = get(format!(
            "{}/api/v1/dashboard/devices/D-9999/timeline",
            server.base_url
        ))
        .await
        .unwrap();
        assert_eq!(refusal(timeline).await, (404, "unknown_device".to_owned()));
        let person = get(format!("{}/api/v1/dashboard/staff/S-9999", server.base_url))
            .await
            .unwrap();
        assert_eq!(refusal(person).await, (404, "unknown_staff".to_owned()));
        // The custody CSV, the auditor's record, does list it.
        let csv = get(format!(
            "{}/api/v1/dashboard/custodies.csv",
            server.base_url
        ))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
        assert!(csv.contains("D-9999,,S-9999,"), "{csv}");
        // Custody is not enough for a token: the device and the person must be in the
        // registry. The custody of D-9999 by S-9999 is open, and no token is issued for it.
        let token = tablet_a
            .request(
                Method::POST,
                "/api/v1/tokens",
                br#"{"device_id": "D-9999", "staff_id": "S-9999"}"#.to_vec(),
            )
            .await;
        assert_eq!(refusal(token).await, (403, "unknown_device".to_owned()));
    }
}

/// Asks for a token for `device` and `staff` as `tablet`.
async fn token_for(tablet: &SimTablet, device: &str, staff: &str) -> reqwest::Response {
    tablet
        .request(
            Method::POST,
            "/api/v1/tokens",
            serde_json::to_vec(&json!({ "device_id": device, "staff_id": staff })).unwrap(),
        )
        .await
}

#[tokio::test]
async fn no_token_is_issued_for_an_unknown_or_deactivated_person_or_an_unknown_device_whatever_the_custody()
 {
    for backend in support::every_backend().await {
        let server = tablet::serve(backend.storage.clone()).await;
        let manager = tablet::sign_in_manager(&server).await;
        let mut tablet_a = SimTablet::enroll(&server, &manager, 84).await;
        // A compromised tablet signs custodies the registry does not support: a registered
        // device to an invented person, an invented device to a real nurse, and a registered
        // device to a nurse who is then deactivated.
        let start = now_ms() - 10_000;
        let events = [
            tablet_a.sign(check_out("D-0002", "S-9999"), start),
            tablet_a.sign(check_out("D-9998", "S-0006"), start + 1),
            tablet_a.sign(check_out("D-0003", "S-0007"), start + 2),
        ];
        let receipts = tablet_a.push(&events).await;
        assert!(
            receipts
                .iter()
                .all(|receipt| receipt["status"] == "accepted"),
            "{receipts:?}"
        );
        assert_eq!(
            refusal(token_for(&tablet_a, "D-0002", "S-9999").await).await,
            (403, "unknown_staff".to_owned())
        );
        assert_eq!(
            refusal(token_for(&tablet_a, "D-9998", "S-0006").await).await,
            (403, "unknown_device".to_owned())
        );
        // While S-0007 is active the custody earns a token; once deactivated it does not.
        assert_eq!(token_for(&tablet_a, "D-0003", "S-0007").await.status(), 200);
        let deactivated = manager
            .client
            .post(format!(
                "{}/api/v1/admin/staff/S-0007/deactivate",
                server.base_url
            ))
            .header("x-csrf-token", &manager.csrf_token)
            .send()
            .await
            .unwrap();
        assert_eq!(
            deactivated.status(),
            200,
            "{}",
            deactivated.text().await.unwrap()
        );
        assert_eq!(
            refusal(token_for(&tablet_a, "D-0003", "S-0007").await).await,
            (403, "staff_inactive".to_owned())
        );
    }
}

fn person(staff: &str) -> PersonAuth {
    PersonAuth {
        staff: StaffId::new(staff).unwrap(),
        method: AuthMethod::PinOnly,
    }
}

#[tokio::test]
async fn sql_metacharacters_in_every_free_text_field_come_back_byte_for_byte() {
    for backend in support::every_backend().await {
        let server = tablet::serve(backend.storage.clone()).await;
        let manager = tablet::sign_in_manager(&server).await;
        let base = &server.base_url;

        // The tablet's label at enrollment.
        let code = manager.enrollment_code("W-4E").await;
        let key = baton_core::ids::SignerKey::from_signing_key(
            &ed25519_dalek::SigningKey::from_bytes(&[84; 32]),
        );
        let enrolled = reqwest::Client::new()
            .post(format!("{base}/api/v1/enroll"))
            .json(&json!({ "code": code, "public_key": key.to_hex(), "label": SQL_TEXT }))
            .send()
            .await
            .unwrap();
        assert_eq!(enrolled.status(), 201);
        let tablets: Value = manager
            .client
            .get(format!("{base}/api/v1/dashboard/tablets"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(tablets["tablets"][0]["label"], SQL_TEXT);

        // Notes and purposes in signed events: pulled back identical, shown identical.
        let mut tablet_a = SimTablet::enroll(&server, &manager, 85).await;
        let start = now_ms() - 60_000;
        let events = vec![
            tablet_a.sign(
                Body::CheckOut {
                    device: DeviceId::new("D-0005").unwrap(),
                    custodian: person("S-0005"),
                    ward: WardId::new("W-4E").unwrap(),
                    shift: Some(SQL_TEXT.chars().take(64).collect()),
                    expected_return_ms: None,
                    purpose: Some(SQL_TEXT.to_owned()),
                    issued_by: None,
                },
                start,
            ),
            tablet_a.sign(
                Body::CheckIn {
                    device: DeviceId::new("D-0005").unwrap(),
                    returned_by: person("S-0005"),
                    ward: WardId::new("W-4E").unwrap(),
                    checklist: Checklist {
                        apps_signed_out: true,
                        local_data_wiped: true,
                        condition: DeviceCondition::Ok,
                    },
                    note: Some(SQL_TEXT.to_owned()),
                },
                start + 1_000,
            ),
        ];
        let receipts = tablet_a.push(&events).await;
        assert!(
            receipts
                .iter()
                .all(|receipt| receipt["status"] == "accepted")
        );
        let pulled = tablet_a.pull_all(10).await;
        assert_eq!(pulled, events);
        assert_eq!(
            pulled
                .iter()
                .map(|event| event.to_json_bytes())
                .collect::<Vec<_>>(),
            events
                .iter()
                .map(|event| event.to_json_bytes())
                .collect::<Vec<_>>()
        );
        let timeline: Value = manager
            .client
            .get(format!("{base}/api/v1/dashboard/devices/D-0005/timeline"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(timeline["entries"][0]["body"]["purpose"], SQL_TEXT);
        assert_eq!(timeline["entries"][1]["body"]["note"], SQL_TEXT);

        // A manager's note on a device action, signed by the authority.
        let quarantine = manager
            .client
            .post(format!("{base}/api/v1/dashboard/devices/D-0006/quarantine"))
            .header("x-csrf-token", &manager.csrf_token)
            .json(&json!({ "note": SQL_TEXT }))
            .send()
            .await
            .unwrap();
        assert_eq!(quarantine.status(), 200);
        let timeline: Value = manager
            .client
            .get(format!("{base}/api/v1/dashboard/devices/D-0006/timeline"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(timeline["entries"][0]["body"]["note"], SQL_TEXT);

        // Names and models in the CSV imports (the quote doubled, as CSV escapes it).
        let csv_field = format!("\"{}\"", SQL_TEXT.replace('"', "\"\""));
        let staff_csv = format!(
            "staff_id,display_name,role,badge_id,home_ward,pin,active\n\
             S-0031,{csv_field},nurse,B-30031,W-4E,4321,true\n"
        );
        let devices_csv = format!(
            "device_id,asset_tag,kind,model,home_ward,active\n\
             D-0021,BT-20021,tablet,{csv_field},W-4E,true\n"
        );
        for (path, csv) in [("staff.csv", staff_csv), ("devices.csv", devices_csv)] {
            let response = manager
                .client
                .post(format!("{base}/api/v1/admin/{path}"))
                .header("x-csrf-token", &manager.csrf_token)
                .header("content-type", "text/csv")
                .body(csv)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
        }
        let staff: Value = manager
            .client
            .get(format!("{base}/api/v1/dashboard/staff"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let added = staff["staff"]
            .as_array()
            .unwrap()
            .iter()
            .find(|member| member["staff_id"] == "S-0031")
            .unwrap();
        assert_eq!(added["display_name"], SQL_TEXT);
        // The dashboard names people; it never shows a badge or a PIN verifier.
        assert!(staff["staff"].as_array().unwrap().iter().all(|member| {
            member.get("pin_verifier").is_none() && member.get("badge_id").is_none()
        }));
        let board: Value = manager
            .client
            .get(format!("{base}/api/v1/dashboard/devices"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let added = board["devices"]
            .as_array()
            .unwrap()
            .iter()
            .find(|device| device["device_id"] == "D-0021")
            .unwrap();
        assert_eq!(added["model"], SQL_TEXT);
        // A CSV that is not UTF-8 is refused whole.
        let response = manager
            .client
            .post(format!("{base}/api/v1/admin/staff.csv"))
            .header("x-csrf-token", &manager.csrf_token)
            .body(b"staff_id,display_name\n\xff\xfe\n".to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(refusal(response).await, (400, "bad_csv".to_owned()));

        // An exception review's note, and a username made of SQL at sign-in.
        let start = now_ms() - 30_000;
        let overlap = [
            tablet_a.sign(check_out("D-0007", "S-0005"), start),
            tablet_a.sign(check_out("D-0007", "S-0006"), start + 1_000),
        ];
        tablet_a.push(&overlap).await;
        let exceptions: Value = manager
            .client
            .get(format!("{base}/api/v1/dashboard/exceptions"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let key = exceptions["exceptions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|exception| exception["kind"] == "overlapping_custody")
            .unwrap()["key"]
            .as_str()
            .unwrap()
            .to_owned();
        let reviewed: Value = manager
            .client
            .post(format!(
                "{base}/api/v1/dashboard/exceptions/{key}/acknowledge"
            ))
            .header("x-csrf-token", &manager.csrf_token)
            .json(&json!({ "note": SQL_TEXT }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(reviewed["review"]["note"], SQL_TEXT);
        let sign_in = reqwest::Client::new()
            .post(format!("{base}/api/v1/auth/sign-in"))
            .json(&json!({ "username": "manager' OR '1'='1", "password": "' OR '1'='1" }))
            .send()
            .await
            .unwrap();
        assert_eq!(refusal(sign_in).await, (401, "bad_credentials".to_owned()));
        // Every table is still there.
        assert_eq!(tablet_a.pull_all(100).await.len(), 5);
    }
}
