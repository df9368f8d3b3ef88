//! Enrollment and the sync protocol over real HTTP, on every backend.

use baton_core::fold::CustodyState;
use baton_core::ids::DeviceId;
use baton_core::keys::{KeySet, SignerInfo};
use baton_core::log::EventLog;
use baton_core::state::DeviceStatus;
use baton_server::site_config::SiteConfig;
use baton_server::sync::now_ms;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support;
use crate::tablet::{self, SimTablet, check_in, check_out};

fn status_of(receipt: &Value) -> &str {
    receipt["status"].as_str().unwrap()
}

fn reason_of(receipt: &Value) -> &str {
    receipt["reason"]["code"].as_str().unwrap_or("")
}

#[tokio::test]
async fn events_pushed_by_one_tablet_are_pulled_by_another_and_fold_to_the_same_state() {
    for backend in support::every_backend().await {
        let server = tablet::serve(backend.storage.clone()).await;
        let manager = tablet::sign_in_manager(&server).await;
        let mut tablet_a = SimTablet::enroll(&server, &manager, 1).await;
        let tablet_b = SimTablet::enroll(&server, &manager, 2).await;
        assert_eq!(tablet_a.enrollment["ward_id"], "W-4E");
        assert_eq!(
            tablet_a.enrollment["roster"]["staff"]
                .as_array()
                .unwrap()
                .len(),
            30
        );
        assert!(
            tablet_a.enrollment["roster"]["staff"][0]["pin_verifier"]
                .as_str()
                .unwrap()
                .starts_with("$argon2id$")
        );

        let start = now_ms() - 60_000;
        let events = vec![
            tablet_a.sign(check_out("D-0001", "S-0005"), start),
            tablet_a.sign(check_out("D-0002", "S-0006"), start + 1_000),
            tablet_a.sign(check_in("D-0001", "S-0005"), start + 2_000),
        ];
        let receipts = tablet_a.push(&events).await;
        assert_eq!(
            receipts.iter().map(status_of).collect::<Vec<_>>(),
            ["accepted"; 3]
        );
        let seqs: Vec<i64> = receipts
            .iter()
            .map(|receipt| receipt["server_seq"].as_i64().unwrap())
            .collect();
        assert!(seqs.windows(2).all(|pair| pair[0] < pair[1]), "{seqs:?}");

        // Pulled one event per page, to exercise the cursor.
        let pulled = tablet_b.pull_all(1).await;
        assert_eq!(pulled, events);

        // The second tablet folds what it pulled and agrees with the server's replica.
        let config = SiteConfig::typical_ward();
        let mut log = EventLog::new();
        for event in pulled {
            log.insert(event).unwrap();
        }
        let keys = KeySet::from_signers([(tablet_a.signer, SignerInfo::tablet())]).unwrap();
        let registry = server
            .state
            .replicas
            .lock(server.state.storage.as_ref(), "SITE-DEMO")
            .await
            .unwrap()
            .replica
            .custody()
            .registry()
            .clone();
        let tablet_state =
            CustodyState::fold(config.rules.clone(), keys, registry.clone(), log.admitted());
        let guard = server
            .state
            .replicas
            .lock(server.state.storage.as_ref(), "SITE-DEMO")
            .await
            .unwrap();
        let server_custody = guard.replica.custody();
        let now = now_ms();
        for device in ["D-0001", "D-0002"] {
            let device = DeviceId::new(device).unwrap();
            assert_eq!(
                tablet_state
                    .device(&device)
                    .map(|custody| custody.status(now)),
                server_custody
                    .device(&device)
                    .map(|custody| custody.status(now)),
            );
        }
        assert_eq!(
            tablet_state
                .device(&DeviceId::new("D-0001").unwrap())
                .unwrap()
                .status(now),
            DeviceStatus::Available
        );
        assert_eq!(
            tablet_state
                .device(&DeviceId::new("D-0002").unwrap())
                .unwrap()
                .status(now),
            DeviceStatus::InUse
        );
    }
}

#[tokio::test]
async fn every_receipt_kind_is_given_and_nothing_invalid_is_stored() {
    for backend in support::every_backend().await {
        let server = tablet::serve(backend.storage.clone()).await;
        let manager = tablet::sign_in_manager(&server).await;
        let mut tablet_a = SimTablet::enroll(&server, &manager, 3).await;
        let mut tablet_b = SimTablet::enroll(&server, &manager, 4).await;
        let start = now_ms() - 60_000;

        let first = tablet_a.sign(check_out("D-0003", "S-0007"), start);
        let second = tablet_a.sign(check_in("D-0003", "S-0007"), start + 1_000);
        // The second arrives before the first: held, then admitted when the gap fills.
        let receipts = tablet_a.push(std::slice::from_ref(&second)).await;
        assert_eq!(status_of(&receipts[0]), "held");
        let receipts = tablet_a.push(&[first.clone(), second.clone()]).await;
        assert_eq!(
            receipts.iter().map(status_of).collect::<Vec<_>>(),
            ["accepted", "duplicate"]
        );

        // A flipped bit in the body: the signature no longer verifies.
        let mut tampered: Value = serde_json::from_slice(
            &tablet_a
                .sign(check_out("D-0004", "S-0008"), start + 2_000)
                .to_json_bytes(),
        )
        .unwrap();
        tampered["body"]["custodian"]["staff"] = json!("S-0009");
        // Tablet B's event pushed by tablet A: refused as foreign.
        let foreign = tablet_b.sign(check_out("D-0005", "S-0010"), start + 3_000);
        // Not an event at all.
        let malformed = json!({ "v": 1, "hello": "world" });
        // An event from next year.
        let future = tablet_a.sign(
            check_out("D-0006", "S-0011"),
            now_ms() + 365 * 24 * 3_600_000,
        );
        let receipts = tablet_a
            .push_json(vec![
                tampered,
                serde_json::from_slice(&foreign.to_json_bytes()).unwrap(),
                malformed,
                serde_json::from_slice(&future.to_json_bytes()).unwrap(),
            ])
            .await;
        assert_eq!(
            receipts.iter().map(status_of).collect::<Vec<_>>(),
            ["rejected"; 4]
        );
        assert_eq!(
            receipts.iter().map(reason_of).collect::<Vec<_>>(),
            [
                "bad_signature",
                "foreign_signer",
                "malformed",
                "future_timestamp"
            ]
        );

        // A fork: another event with seq 1 from tablet A; both are kept, the receipt says so.
        let mut forked = clone_identity(&tablet_a);
        let fork = forked.sign(check_out("D-0007", "S-0012"), start + 500);
        let receipts = tablet_a.push(&[fork]).await;
        assert_eq!(status_of(&receipts[0]), "accepted");
        assert_eq!(receipts[0]["fork"], true);

        // Only the accepted, held-then-accepted and forked events are stored.
        let pulled = tablet_b.pull_all(100).await;
        assert_eq!(pulled.len(), 3);
        let metrics = server.state.metrics.render();
        for line in [
            "baton_sync_receipts_total{status=\"held\",reason=\"\"} 1",
            "baton_sync_receipts_total{status=\"rejected\",reason=\"bad_signature\"} 1",
            "baton_sync_receipts_total{status=\"rejected\",reason=\"foreign_signer\"} 1",
        ] {
            assert!(metrics.contains(line), "{line} not in\n{metrics}");
        }
    }
}

/// A second handle on a tablet's key with a fresh chain: how a cloned or compromised tablet
/// would produce a fork.
fn clone_identity(tablet: &SimTablet) -> SimTablet {
    tablet.fresh_chain()
}

#[tokio::test]
async fn signed_requests_cannot_be_replayed_forged_or_sent_late() {
    for backend in support::every_backend().await {
        let server = tablet::serve(backend.storage.clone()).await;
        let manager = tablet::sign_in_manager(&server).await;
        let tablet_a = SimTablet::enroll(&server, &manager, 5).await;
        let path = "/api/v1/sync/pull?after=0";
        let nonce = "0123456789abcdef0123456789abcdef";

        let first = tablet_a
            .request_with(
                Method::GET,
                path,
                Vec::new(),
                now_ms(),
                nonce,
                &tablet_a.signing_key,
            )
            .await;
        assert_eq!(first.status(), 200);
        let replay = tablet_a
            .request_with(
                Method::GET,
                path,
                Vec::new(),
                now_ms(),
                nonce,
                &tablet_a.signing_key,
            )
            .await;
        assert_eq!(replay.status(), 401);
        assert_eq!(error_code(replay).await, "replayed_request");

        let stranger = ed25519_dalek::SigningKey::from_bytes(&[99; 32]);
        let forged = tablet_a
            .request_with(
                Method::GET,
                path,
                Vec::new(),
                now_ms(),
                "00000000000000000000000000000001",
                &stranger,
            )
            .await;
        assert_eq!(error_code(forged).await, "bad_request_signature");

        let late = tablet_a
            .request_with(
                Method::GET,
                path,
                Vec::new(),
                now_ms() - 10 * 60_000,
                "00000000000000000000000000000002",
                &tablet_a.signing_key,
            )
            .await;
        assert_eq!(error_code(late).await, "bad_request_signature");

        let unsigned = reqwest::get(format!("{}{path}", server.base_url))
            .await
            .unwrap();
        assert_eq!(unsigned.status(), 401);
        assert_eq!(error_code(unsigned).await, "missing_signature");
    }
}

/// A push's nonce is remembered in the transaction that stores its group (`push_batch.rs`): a
/// replay waiting in the same group as its original, or sent after it was stored, is refused as
/// any replayed request is, and its events are stored once.
#[tokio::test]
async fn a_replayed_push_is_refused_whether_its_original_waits_beside_it_or_was_stored() {
    for backend in support::every_backend().await {
        let server = tablet::serve(backend.storage.clone()).await;
        let manager = tablet::sign_in_manager(&server).await;
        let mut tablet_a = SimTablet::enroll(&server, &manager, 31).await;
        let event = tablet_a.sign(check_out("D-0004", "S-0002"), now_ms() - 60_000);
        let body = serde_json::to_vec(&json!({
            "events": [serde_json::from_slice::<Value>(&event.to_json_bytes()).unwrap()]
        }))
        .unwrap();
        let sent_at = now_ms();
        let nonce = "feedfacefeedfacefeedfacefeedface";
        let tablet_a = std::sync::Arc::new(tablet_a);
        let send = |tablet: std::sync::Arc<SimTablet>, body: Vec<u8>| async move {
            let response = tablet
                .request_with(
                    Method::POST,
                    "/api/v1/sync/push",
                    body,
                    sent_at,
                    nonce,
                    &tablet.signing_key,
                )
                .await;
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        };
        let site = baton_server::seed::DEMO_SITE_ID;

        // The original and its replay queue behind a held lock, so one group takes both.
        let held = server
            .state
            .replicas
            .lock(server.state.storage.as_ref(), site)
            .await
            .unwrap();
        let original = tokio::spawn(send(tablet_a.clone(), body.clone()));
        while server.state.push_queues.waiting(site) < 1 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let replay = tokio::spawn(send(tablet_a.clone(), body.clone()));
        while server.state.push_queues.waiting(site) < 2 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        drop(held);
        let (status, answer) = original.await.unwrap();
        assert_eq!(status, 200, "{}: {answer}", backend.url);
        assert_eq!(
            status_of(&answer["receipts"][0]),
            "accepted",
            "{}",
            backend.url
        );
        let (status, answer) = replay.await.unwrap();
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (401, Some("replayed_request")),
            "{}: {answer}",
            backend.url
        );

        // Sent again once the original is stored.
        let (status, answer) = send(tablet_a.clone(), body).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (401, Some("replayed_request")),
            "{}: {answer}",
            backend.url
        );
        let stored = tablet_a.pull_all(50).await;
        assert_eq!(
            stored
                .iter()
                .filter(|stored| stored.id() == event.id())
                .count(),
            1,
            "{}",
            backend.url
        );
    }
}

#[tokio::test]
async fn an_enrollment_code_works_once_and_only_a_signed_in_manager_with_csrf_gets_one() {
    for backend in support::every_backend().await {
        let server = tablet::serve(backend.storage.clone()).await;
        let manager = tablet::sign_in_manager(&server).await;
        let code = manager.enrollment_code("W-5W").await;
        let client = reqwest::Client::new();
        let enroll = |key_byte: u8| {
            let key = baton_core::ids::SignerKey::from_signing_key(
                &ed25519_dalek::SigningKey::from_bytes(&[key_byte; 32]),
            );
            client
                .post(format!("{}/api/v1/enroll", server.base_url))
                .json(&json!({ "code": code, "public_key": key.to_hex(), "label": "ward 5W" }))
                .send()
        };
        let first = enroll(10).await.unwrap();
        assert_eq!(first.status(), 201);
        let body: Value = first.json().await.unwrap();
        assert_eq!(body["ward_id"], "W-5W");
        assert_eq!(body["server_public_key"].as_str().unwrap().len(), 64);
        let again = enroll(11).await.unwrap();
        assert_eq!(again.status(), 403);
        assert_eq!(error_code(again).await, "enrollment_code_invalid");

        // A weak key (the identity point) is refused before the code is used up.
        let code = manager.enrollment_code("W-5W").await;
        let weak = client
            .post(format!("{}/api/v1/enroll", server.base_url))
            .json(&json!({ "code": code, "public_key": format!("01{}", "00".repeat(31)), "label": "x" }))
            .send()
            .await
            .unwrap();
        assert_eq!(weak.status(), 400);
        assert_eq!(error_code(weak).await, "bad_public_key");

        // Without the CSRF token, or without a session, no code.
        let no_csrf = manager
            .client
            .post(format!("{}/api/v1/enrollment-codes", server.base_url))
            .json(&json!({ "ward_id": "W-4E" }))
            .send()
            .await
            .unwrap();
        assert_eq!(no_csrf.status(), 403);
        assert_eq!(error_code(no_csrf).await, "csrf_token_invalid");
        let anonymous = client
            .post(format!("{}/api/v1/enrollment-codes", server.base_url))
            .header("x-csrf-token", &manager.csrf_token)
            .json(&json!({ "ward_id": "W-4E" }))
            .send()
            .await
            .unwrap();
        assert_eq!(anonymous.status(), 401);
        // A ward of another site (or none) is refused.
        let foreign_ward = manager
            .client
            .post(format!("{}/api/v1/enrollment-codes", server.base_url))
            .header("x-csrf-token", &manager.csrf_token)
            .json(&json!({ "ward_id": "W-ELSEWHERE" }))
            .send()
            .await
            .unwrap();
        assert_eq!(foreign_ward.status(), 403);
    }
}

#[tokio::test]
async fn repeated_wrong_passwords_are_throttled_and_the_cookie_is_strict() {
    let backend = support::sqlite().await;
    let server = tablet::serve(backend.storage.clone()).await;
    let client = reqwest::Client::new();
    let attempt = |password: String| {
        client
            .post(format!("{}/api/v1/auth/sign-in", server.base_url))
            .json(&json!({ "username": "manager", "password": password }))
            .send()
    };
    for _ in 0..5 {
        let response = attempt("wrong".to_owned()).await.unwrap();
        assert_eq!(response.status(), 401);
    }
    // Even the right password is refused while the account is throttled.
    let blocked = attempt(server.credentials.manager_password.clone())
        .await
        .unwrap();
    assert_eq!(blocked.status(), 429);

    let other = tablet::serve_seeded(backend.storage.clone(), server.credentials.clone()).await;
    let response = client
        .post(format!("{}/api/v1/auth/sign-in", other.base_url))
        .json(&json!({ "username": "manager", "password": server.credentials.manager_password }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
}

#[tokio::test]
async fn a_tablets_logout_ends_the_dashboard_session_left_on_it_and_expires_its_cookie() {
    let backend = support::sqlite().await;
    let server = tablet::serve(backend.storage.clone()).await;
    let manager = tablet::sign_in_manager(&server).await;
    // A manager signed in to the dashboard in the browser of the device, then left.
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/auth/sign-in", server.base_url))
        .json(&json!({
            "username": server.credentials.manager_username,
            "password": server.credentials.manager_password,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let session_answer = |cookie: String| {
        reqwest::Client::new()
            .get(format!("{}/api/v1/auth/session", server.base_url))
            .header("cookie", cookie)
            .send()
    };
    assert_eq!(session_answer(cookie.clone()).await.unwrap().status(), 200);

    // The device's browser sends the cookie with the tablet's signed logout.
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("cookie", cookie.parse().unwrap());
    let browser = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap();
    let plain_tablet = SimTablet::enroll(&server, &manager, 41).await;
    let device_tablet = plain_tablet.through(&server.base_url, browser);
    let response = device_tablet
        .request(Method::POST, "/api/v1/tablet/session/logout", Vec::new())
        .await;
    assert_eq!(response.status(), 200);
    let expired = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        expired.starts_with("baton_session=;") && expired.contains("Max-Age=0"),
        "{expired}"
    );
    let answer: Value = response.json().await.unwrap();
    assert_eq!(
        answer,
        json!({"expired_cookies": ["baton_session"], "session_ended": true})
    );
    // The session is over in storage: a copy of the cookie no longer signs anyone in.
    let after = session_answer(cookie).await.unwrap();
    assert_eq!(after.status(), 401);

    // With no cookie there is nothing to end, and the answer says so.
    let response = plain_tablet
        .request(Method::POST, "/api/v1/tablet/session/logout", Vec::new())
        .await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["session_ended"], false);
}

#[tokio::test]
async fn two_servers_ingesting_at_once_lose_and_double_nothing() {
    for backend in support::every_backend().await {
        let server_one = tablet::serve(backend.storage.clone()).await;
        // The second server process has its own connection pool on the same database.
        let second_storage = baton_server::storage::connect(&backend.url).await.unwrap();
        let server_two = tablet::serve_seeded(second_storage, server_one.credentials.clone()).await;
        let manager = tablet::sign_in_manager(&server_one).await;
        let mut tablets = Vec::new();
        for seed_byte in 20..24 {
            tablets.push(SimTablet::enroll(&server_one, &manager, seed_byte).await);
        }
        let start = now_ms() - 3_600_000;
        let mut pushes = Vec::new();
        for (tablet_idx, tablet) in tablets.iter_mut().enumerate() {
            let mut events = Vec::new();
            for event_idx in 0..25_u64 {
                let device = format!("D-{:04}", 1 + (tablet_idx * 5 + event_idx as usize % 5));
                let body = if event_idx % 2 == 0 {
                    check_out(&device, "S-0005")
                } else {
                    check_in(&device, "S-0005")
                };
                events.push(tablet.sign(body, start + event_idx * 1_000 + tablet_idx as u64));
            }
            pushes.push(events);
        }
        // Half the tablets talk to each server, in batches of 5, all at once.
        let mut handles = Vec::new();
        for (tablet_idx, (tablet, events)) in tablets.iter().zip(pushes).enumerate() {
            let base_url = if tablet_idx % 2 == 0 {
                server_one.base_url.clone()
            } else {
                server_two.base_url.clone()
            };
            let tablet = tablet.pointed_at(&base_url);
            handles.push(tokio::spawn(async move {
                for batch in events.chunks(5) {
                    let receipts = tablet.push(batch).await;
                    assert!(
                        receipts
                            .iter()
                            .all(|receipt| receipt["status"] == "accepted"),
                        "{receipts:?}"
                    );
                }
            }));
        }
        for handle in handles {
            handle.await.unwrap();
        }
        let pulled = tablets[0].pull_all(37).await;
        assert_eq!(pulled.len(), 100);
        let unique: std::collections::BTreeSet<_> = pulled.iter().map(|event| event.id()).collect();
        assert_eq!(unique.len(), 100, "no event is pulled twice");
        // Both processes appended to one ledger with one linear order: the whole bundle verifies.
        let bundle = tablets[0]
            .request(Method::GET, "/api/v1/ledger/export", Vec::new())
            .await
            .bytes()
            .await
            .unwrap();
        let report = baton_server::verify::verify_bundle(&bundle, None);
        assert!(
            report.is_valid(),
            "{:?}",
            report.problems().collect::<Vec<_>>()
        );
        // 100 events and, per tablet, its enrollment code and its enrollment.
        assert_eq!(report.n_entries, 108);
    }
}

/// A replica folds a push's events before they are stored. Once they are, and if it had folded
/// every event of the site stored before them, its next catch-up has nothing to read back; the
/// events another server process stored are read back and folded.
#[tokio::test]
async fn a_replica_reads_back_only_the_events_another_process_stored() {
    for backend in support::every_backend().await {
        let server_one = tablet::serve(backend.storage.clone()).await;
        let second_storage = baton_server::storage::connect(&backend.url).await.unwrap();
        let server_two = tablet::serve_seeded(second_storage, server_one.credentials.clone()).await;
        let manager = tablet::sign_in_manager(&server_one).await;
        let mut tablet = SimTablet::enroll(&server_one, &manager, 30).await;
        let start = now_ms() - 600_000;
        let events: Vec<_> = (0..6_u64)
            .map(|index| {
                let body = if index % 2 == 0 {
                    check_out("D-0001", "S-0001")
                } else {
                    check_in("D-0001", "S-0001")
                };
                tablet.sign(body, start + index * 1_000)
            })
            .collect();
        let site = baton_server::seed::DEMO_SITE_ID;
        let replicas = &server_one.state.replicas;
        let catch_up = || async {
            drop(
                replicas
                    .lock(server_one.state.storage.as_ref(), site)
                    .await
                    .unwrap(),
            );
        };
        let accepted = |receipts: Vec<Value>| {
            assert!(
                receipts
                    .iter()
                    .all(|receipt| status_of(receipt) == "accepted"),
                "{receipts:?}"
            );
        };
        catch_up().await;
        let read_at_start = replicas.rows_read_back();

        for event in &events[..3] {
            accepted(tablet.push(std::slice::from_ref(event)).await);
        }
        catch_up().await;
        assert_eq!(
            replicas.rows_read_back(),
            read_at_start,
            "{}: this process's own events are not read back",
            backend.url
        );

        let through_two = tablet.pointed_at(&server_two.base_url);
        accepted(through_two.push(&events[3..5]).await);
        catch_up().await;
        assert_eq!(
            replicas.rows_read_back() - read_at_start,
            2,
            "{}: the other process's events are read back",
            backend.url
        );
        accepted(tablet.push(&events[5..]).await);
        catch_up().await;
        assert_eq!(
            replicas.rows_read_back() - read_at_start,
            2,
            "{}",
            backend.url
        );
        let guard = replicas
            .lock(server_one.state.storage.as_ref(), site)
            .await
            .unwrap();
        for event in &events {
            assert!(guard.replica.log().contains(&event.id()), "{}", backend.url);
        }
    }
}

/// The replica re-reads its registry, keys and configuration only when the site's registry
/// version moved (migration 0011). This checks the triggers behind it: a push moves nothing, an
/// import or a decommissioning through another server process moves it, and that process's
/// change is on this one's board at the next request.
#[tokio::test]
async fn a_registry_change_through_another_server_is_seen_at_the_next_request_and_a_push_changes_no_version()
 {
    for backend in support::every_backend().await {
        let server_one = tablet::serve(backend.storage.clone()).await;
        let second_storage = baton_server::storage::connect(&backend.url).await.unwrap();
        let server_two = tablet::serve_seeded(second_storage, server_one.credentials.clone()).await;
        let manager_one = tablet::sign_in_manager(&server_one).await;
        let manager_two = tablet::sign_in_manager(&server_two).await;
        let mut tablet_a = SimTablet::enroll(&server_one, &manager_one, 40).await;
        let version = || async {
            backend
                .storage
                .site_registry_version(baton_server::seed::DEMO_SITE_ID)
                .await
                .unwrap()
                .expect("the demo site exists")
        };
        let board_total = |manager: &tablet::Manager, base_url: &str| {
            let request = manager
                .client
                .get(format!("{base_url}/api/v1/dashboard/devices?limit=1"));
            async move {
                let board: Value = request.send().await.unwrap().json().await.unwrap();
                board["total"].as_u64().unwrap()
            }
        };
        assert_eq!(board_total(&manager_one, &server_one.base_url).await, 20);

        let before_push = version().await;
        let event = tablet_a.sign(check_out("D-0010", "S-0005"), now_ms() - 1_000);
        assert_eq!(status_of(&tablet_a.push(&[event]).await[0]), "accepted");
        assert_eq!(
            version().await,
            before_push,
            "a push (which sets the tablet's last sync) must not make every replica re-read"
        );

        let response = manager_two
            .client
            .post(format!("{}/api/v1/admin/devices.csv", server_two.base_url))
            .header("x-csrf-token", &manager_two.csrf_token)
            .header("content-type", "text/csv")
            .body("device_id,asset_tag,kind,model,home_ward,active\nD-0099,BT-20099,scanner,Synthetic Scan 2,W-4E,true\n")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
        let after_import = version().await;
        assert!(after_import > before_push);
        assert_eq!(board_total(&manager_one, &server_one.base_url).await, 21);

        let response = manager_two
            .client
            .post(format!(
                "{}/api/v1/tablets/{}/decommission",
                server_two.base_url, tablet_a.tablet_id
            ))
            .header("x-csrf-token", &manager_two.csrf_token)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert!(version().await > after_import);
        let refused = tablet_a
            .request(Method::GET, "/api/v1/sync/pull", Vec::new())
            .await;
        assert_eq!(refused.status(), 403);
    }
}

async fn error_code(response: reqwest::Response) -> String {
    let body: Value = response.json().await.unwrap();
    body["error"]["code"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_board_shows_custody_and_overlaps_and_a_decommissioned_tablet_is_shut_out() {
    for backend in support::every_backend().await {
        let server = tablet::serve(backend.storage.clone()).await;
        let manager = tablet::sign_in_manager(&server).await;
        let mut tablet_a = SimTablet::enroll(&server, &manager, 30).await;
        let mut tablet_b = SimTablet::enroll(&server, &manager, 31).await;
        let start = now_ms() - 60_000;
        // Both tablets, offline, hand the same device to different people.
        let on_a = tablet_a.sign(check_out("D-0010", "S-0005"), start);
        let on_b = tablet_b.sign(check_out("D-0010", "S-0006"), start + 10);
        assert_eq!(status_of(&tablet_a.push(&[on_a]).await[0]), "accepted");
        assert_eq!(status_of(&tablet_b.push(&[on_b]).await[0]), "accepted");

        let board: Value = manager
            .client
            .get(format!("{}/api/v1/dashboard/devices", server.base_url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let devices = board["devices"].as_array().unwrap();
        assert_eq!(devices.len(), 20);
        let device = devices
            .iter()
            .find(|device| device["device_id"] == "D-0010")
            .unwrap();
        assert_eq!(device["status"], "in_use");
        assert_eq!(device["custodians"], json!(["S-0005", "S-0006"]));
        assert_eq!(
            devices
                .iter()
                .find(|device| device["device_id"] == "D-0011")
                .unwrap()["status"],
            "available"
        );

        let exceptions: Value = manager
            .client
            .get(format!("{}/api/v1/dashboard/exceptions", server.base_url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let kinds: Vec<&str> = exceptions["exceptions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap())
            .collect();
        assert!(kinds.contains(&"overlapping_custody"), "{kinds:?}");

        // Decommission tablet B: its next request is refused, its earlier event stays.
        let response = manager
            .client
            .post(format!(
                "{}/api/v1/tablets/{}/decommission",
                server.base_url, tablet_b.tablet_id
            ))
            .header("x-csrf-token", &manager.csrf_token)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let refused = tablet_b
            .request(Method::GET, "/api/v1/sync/pull", Vec::new())
            .await;
        assert_eq!(refused.status(), 403);
        assert_eq!(error_code(refused).await, "tablet_decommissioned");
        assert_eq!(tablet_a.pull_all(100).await.len(), 2);

        let tablets: Value = manager
            .client
            .get(format!("{}/api/v1/dashboard/tablets", server.base_url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let listed = tablets["tablets"].as_array().unwrap();
        let b = listed
            .iter()
            .find(|tablet| tablet["tablet_id"] == tablet_b.tablet_id.as_str())
            .unwrap();
        assert!(b["revoked_from_ms"].is_i64());
        assert!(b["last_sync_ms"].is_i64());
        let anonymous = reqwest::get(format!("{}/api/v1/dashboard/devices", server.base_url))
            .await
            .unwrap();
        assert_eq!(anonymous.status(), 401);
    }
}

#[tokio::test]
async fn pushes_that_break_the_rules_are_refused_with_their_codes() {
    for backend in support::every_backend().await {
        let server = tablet::serve(backend.storage.clone()).await;
        let manager = tablet::sign_in_manager(&server).await;
        let mut tablet_a = SimTablet::enroll(&server, &manager, 50).await;
        let push = |body: Vec<u8>| tablet_a.request(Method::POST, "/api/v1/sync/push", body);

        let not_a_push = push(b"{\"event\": []}".to_vec()).await;
        assert_eq!(not_a_push.status(), 400);
        assert_eq!(error_code(not_a_push).await, "malformed_push");
        let invalid_json = push(b"{\"events\": [".to_vec()).await;
        assert_eq!(error_code(invalid_json).await, "malformed_push");
        let too_many = serde_json::to_vec(&json!({ "events": vec![json!({}); 501] })).unwrap();
        let too_many = push(too_many).await;
        assert_eq!(too_many.status(), 413);
        assert_eq!(error_code(too_many).await, "batch_too_large");
        let huge = push(vec![b' '; 5 * 1024 * 1024]).await;
        assert_eq!(huge.status(), 413);
        assert_eq!(error_code(huge).await, "body_too_large");

        // A tablet may not sign what only the server's authority key may: quarantine.
        let quarantine = baton_core::body::Body::Quarantine {
            device: baton_core::ids::DeviceId::new("D-0001").unwrap(),
            by: baton_core::ids::StaffId::new("S-0001").unwrap(),
            note: "cracked screen".to_owned(),
        };
        let event = tablet_a.sign(quarantine, now_ms() - 1_000);
        let receipts = tablet_a.push(&[event]).await;
        assert_eq!(reason_of(&receipts[0]), "authority_required");
        assert!(
            tablet_a.pull_all(10).await.is_empty(),
            "nothing refused is stored"
        );
    }
}

/// Pushes that wait for their site's lock are applied together, in arrival order, and
/// committed in one transaction (`push_batch.rs`); each still gets its own receipts, as if it
/// had been applied alone: refusals at its own indices, a duplicate of an event an earlier
/// push of the group brought with that event's server_seq.
#[tokio::test]
async fn waiting_pushes_are_committed_together_each_with_its_own_receipts() {
    for backend in support::every_backend().await {
        let server = tablet::serve(backend.storage.clone()).await;
        let manager = tablet::sign_in_manager(&server).await;
        let mut tablet_a = SimTablet::enroll(&server, &manager, 81).await;
        let mut tablet_b = SimTablet::enroll(&server, &manager, 82).await;
        let mut tablet_c = SimTablet::enroll(&server, &manager, 83).await;
        let start = now_ms() - 60_000;
        let a = [
            tablet_a.sign(check_out("D-0001", "S-0001"), start),
            tablet_a.sign(check_in("D-0001", "S-0001"), start + 1_000),
        ];
        let b = [
            tablet_b.sign(check_out("D-0002", "S-0002"), start + 2_000),
            tablet_b.sign(check_in("D-0002", "S-0002"), start + 3_000),
        ];
        let c = [
            tablet_c.sign(check_out("D-0003", "S-0003"), start + 4_000),
            tablet_c.sign(check_in("D-0003", "S-0003"), start + 5_000),
        ];
        let json = |event: &baton_core::event::SignedEvent| -> Value {
            serde_json::from_slice(&event.to_json_bytes()).unwrap()
        };
        let site = baton_server::seed::DEMO_SITE_ID;
        let (groups_before, grouped_before) = server.state.metrics.push_groups();

        // The site's replica is held, as a long push holds it, while four pushes queue up.
        let held = server
            .state
            .replicas
            .lock(server.state.storage.as_ref(), site)
            .await
            .unwrap();
        let tablet_a = std::sync::Arc::new(tablet_a);
        let tablet_b = std::sync::Arc::new(tablet_b);
        let tablet_c = std::sync::Arc::new(tablet_c);
        let pushes = [
            (tablet_a.clone(), vec![json(&a[0]), json(&a[1])]),
            // The last event is tablet A's: refused as another signer's, at index 2.
            (
                tablet_b.clone(),
                vec![json(&b[0]), json(&b[1]), json(&a[0])],
            ),
            (tablet_c.clone(), vec![json(&c[0])]),
            // The first event is the one the push before brought.
            (tablet_c.clone(), vec![json(&c[0]), json(&c[1])]),
        ];
        let mut answers = Vec::new();
        for (queued, (tablet, events)) in pushes.into_iter().enumerate() {
            answers.push(tokio::spawn(async move { tablet.push_json(events).await }));
            // One at a time, so that the queue's order is the order above.
            while server.state.push_queues.waiting(site) < queued + 1 {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        }
        drop(held);
        let mut receipts = Vec::new();
        for answer in answers {
            receipts.push(answer.await.unwrap());
        }

        let (groups, grouped) = server.state.metrics.push_groups();
        assert_eq!(
            (groups - groups_before, grouped - grouped_before),
            (1, 4),
            "{}: one transaction applied the four pushes",
            backend.url
        );
        let statuses: Vec<Vec<&str>> = receipts
            .iter()
            .map(|push| push.iter().map(status_of).collect())
            .collect();
        assert_eq!(
            statuses,
            [
                vec!["accepted", "accepted"],
                vec!["accepted", "accepted", "rejected"],
                vec!["accepted"],
                vec!["duplicate", "accepted"],
            ],
            "{}",
            backend.url
        );
        assert_eq!(reason_of(&receipts[1][2]), "foreign_signer");
        for push in &receipts {
            for (index, receipt) in push.iter().enumerate() {
                assert_eq!(receipt["index"], index, "{receipt}");
            }
        }
        let seq = |receipt: &Value| receipt["server_seq"].as_i64().unwrap();
        assert_eq!(
            seq(&receipts[3][0]),
            seq(&receipts[2][0]),
            "a duplicate's own seq"
        );
        let mut stored: Vec<i64> = [
            &receipts[0][0],
            &receipts[0][1],
            &receipts[1][0],
            &receipts[1][1],
            &receipts[2][0],
            &receipts[3][1],
        ]
        .into_iter()
        .map(seq)
        .collect();
        assert!(
            stored.is_sorted(),
            "arrival order is storage order: {stored:?}"
        );
        stored.dedup();
        assert_eq!(stored.len(), 6);
        // Each tablet's last contact was stamped by the group's transaction.
        let tablets = server.state.storage.list_tablets(site).await.unwrap();
        for pusher in [&tablet_a, &tablet_b, &tablet_c] {
            let stamped = tablets
                .iter()
                .find(|tablet| tablet.tablet_id == pusher.tablet_id)
                .and_then(|tablet| tablet.last_sync_ms)
                .unwrap();
            assert!(
                stamped as u64 >= start + 60_000,
                "{} stamped {stamped}",
                pusher.tablet_id
            );
        }
        let pulled = tablet_a.pull_all(100).await;
        assert_eq!(pulled.len(), 6, "{}: each event stored once", backend.url);
    }
}

/// A push's signatures are checked before the site's lock, against the key set and rules of
/// the site's registry version at that moment. If that version moved before the push is
/// applied (here the site's clock tolerance is tightened while the push waits), the verdicts
/// are thrown away and the events checked again under the lock, against what holds now.
#[tokio::test]
async fn verdicts_from_before_a_registry_change_are_checked_again() {
    for backend in support::every_backend().await {
        let server = tablet::serve(backend.storage.clone()).await;
        let manager = tablet::sign_in_manager(&server).await;
        let mut tablet_a = SimTablet::enroll(&server, &manager, 84).await;
        let site = baton_server::seed::DEMO_SITE_ID;
        // A first push loads the site, and with it the key set pushes are checked against.
        let first = tablet_a.sign(check_out("D-0004", "S-0004"), now_ms() - 60_000);
        assert_eq!(status_of(&tablet_a.push(&[first]).await[0]), "accepted");
        let storage = server.state.storage.clone();
        let previous = storage.site_config(site).await.unwrap().unwrap();
        let mut config: Value = serde_json::from_str(&previous).unwrap();
        let tolerance = config["rules"]["max_clock_skew_ms"].as_u64().unwrap();
        assert!(tolerance >= 120_000, "the demo tolerates two minutes ahead");
        // Signed a minute ahead: within today's tolerance, not within the next one.
        let ahead = tablet_a.sign(check_in("D-0004", "S-0004"), now_ms() + 60_000);

        let held = server
            .state
            .replicas
            .lock(storage.as_ref(), site)
            .await
            .unwrap();
        let tablet_a = std::sync::Arc::new(tablet_a);
        let pushing = tablet_a.clone();
        let body = vec![serde_json::from_slice(&ahead.to_json_bytes()).unwrap()];
        let answer = tokio::spawn(async move { pushing.push_json(body).await });
        while server.state.push_queues.waiting(site) < 1 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        config["rules"]["max_clock_skew_ms"] = json!(10_000);
        let entry = baton_server::ledger::governance_entry(
            json!({ "type": "site_config_changed", "note": "tightened by the test" }),
            "test",
            now_ms(),
        );
        assert!(
            storage
                .update_site_config(
                    site,
                    &previous,
                    &config.to_string(),
                    &entry,
                    now_ms() as i64
                )
                .await
                .unwrap()
        );
        drop(held);
        let receipts = answer.await.unwrap();
        assert_eq!(status_of(&receipts[0]), "rejected", "{}", backend.url);
        assert_eq!(reason_of(&receipts[0]), "future_timestamp");
    }
}
