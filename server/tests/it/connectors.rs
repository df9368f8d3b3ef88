//! Revocations delivered to a real webhook receiver started by the test: signature and
//! idempotency checked from the receiver's side, failures retried, a dead letter raised, and a
//! crashed worker's deliveries completed by the next one with no duplicate effect.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use baton_server::connectors::{ConnectorConfig, webhook_signature};
use baton_server::delivery_worker::{self, DeliveryPolicy};
use serde_json::Value;

use crate::support;
use crate::tablet::{self, SimTablet, check_in, check_out};

pub(crate) const SECRET: &str = "0123456789abcdef0123456789abcdef-webhook";

/// A webhook receiver: answers 503 for the first `fail_first` requests, then 200; records every
/// request, checks each signature, and applies each idempotency key once.
#[derive(Clone, Default)]
pub(crate) struct Receiver {
    fail_first: usize,
    pub(crate) seen: Arc<Mutex<Vec<(String, Value)>>>,
    pub(crate) applied: Arc<Mutex<Vec<String>>>,
    pub(crate) bad_signatures: Arc<Mutex<usize>>,
}

async fn receive(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let timestamp: u64 = header("baton-timestamp").parse().unwrap_or(0);
    if header("baton-signature") != webhook_signature(SECRET, timestamp, &body) {
        *receiver.bad_signatures.lock().unwrap() += 1;
        return StatusCode::UNAUTHORIZED;
    }
    let key = header("baton-idempotency-key");
    let attempt_number = {
        let mut seen = receiver.seen.lock().unwrap();
        seen.push((key.clone(), serde_json::from_slice(&body).unwrap()));
        seen.len()
    };
    if attempt_number <= receiver.fail_first {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let mut applied = receiver.applied.lock().unwrap();
    if !applied.contains(&key) {
        applied.push(key);
    }
    StatusCode::OK
}

pub(crate) async fn start_receiver(receiver: Receiver) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/revocations", listener.local_addr().unwrap());
    let router = axum::Router::new()
        .route("/revocations", axum::routing::post(receive))
        .with_state(receiver);
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    url
}

/// The same key the test servers use (`tablet::serve`), so tokens verify against their JWKS.
pub(crate) fn signer() -> Arc<baton_server::connectors::Signer> {
    Arc::new(baton_server::connectors::Signer {
        server_key: Arc::new(baton_server::server_key::ServerKeys::fixed(
            baton_server::server_key::ServerKey::from_seed([9; 32]).unwrap(),
        )),
        issuer: "https://baton.test".to_owned(),
        token_vault: Arc::new(baton_server::token_vault::TokenVault::from_key([7; 32])),
    })
}

pub(crate) fn fast_policy() -> DeliveryPolicy {
    DeliveryPolicy {
        max_attempts: 4,
        base_backoff_ms: 20,
        lease_ms: 500,
        poll_interval: Duration::from_millis(20),
    }
}

pub(crate) async fn wait_for(mut condition: impl FnMut() -> bool) {
    for _ in 0..300 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("condition not met within 6 s");
}

async fn delivery_status(manager: &tablet::Manager) -> Vec<(String, String)> {
    let body: Value = manager
        .client
        .get(format!("{}/api/v1/dashboard/revocations", manager.base_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["revocations"][0]["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|delivery| {
            (
                delivery["connector"].as_str().unwrap().to_owned(),
                delivery["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Waits until no delivery of the newest revocation is pending any more.
async fn wait_until_settled(manager: &tablet::Manager) {
    for _ in 0..300 {
        if delivery_status(manager)
            .await
            .iter()
            .all(|(_, status)| status != "pending")
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("deliveries still pending after 6 s");
}

/// A server with one webhook connector: check a device out and in, so one revocation is due.
async fn server_with_a_revocation(
    storage: Arc<dyn baton_server::storage::Storage>,
    seed: u8,
) -> (tablet::TestServer, tablet::Manager) {
    let server = tablet::serve_with_connectors(storage, vec!["mdm".to_owned()]).await;
    let manager = tablet::sign_in_manager(&server).await;
    let mut tablet_a = SimTablet::enroll(&server, &manager, seed).await;
    let start = baton_server::sync::now_ms() - 60_000;
    let events = [
        tablet_a.sign(check_out("D-0009", "S-0011"), start),
        tablet_a.sign(check_in("D-0009", "S-0011"), start + 1_000),
    ];
    tablet_a.push(&events).await;
    (server, manager)
}

#[tokio::test]
async fn a_failing_receiver_gets_the_revocation_once_it_recovers() {
    for backend in support::every_backend().await {
        let (_server, manager) = server_with_a_revocation(backend.storage.clone(), 80).await;
        assert_eq!(
            delivery_status(&manager).await,
            [
                ("baton_tokens".to_owned(), "confirmed".to_owned()),
                ("mdm".to_owned(), "pending".to_owned())
            ]
        );
        let board: Value = manager
            .client
            .get(format!("{}/api/v1/dashboard/devices", manager.base_url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let device = board["devices"]
            .as_array()
            .unwrap()
            .iter()
            .find(|device| device["device_id"] == "D-0009")
            .unwrap()
            .clone();
        assert_eq!(
            device["access_open_after_return"], true,
            "until the MDM confirms, access counts as open"
        );

        let receiver = Receiver {
            fail_first: 2,
            ..Receiver::default()
        };
        let url = start_receiver(receiver.clone()).await;
        let connectors = vec![ConnectorConfig::Webhook {
            name: "mdm".to_owned(),
            url,
            secret: SECRET.to_owned(),
        }];
        let worker = tokio::spawn(delivery_worker::run(
            backend.storage.clone(),
            Arc::new(connectors),
            signer(),
            fast_policy(),
        ));
        wait_for(|| receiver.applied.lock().unwrap().len() == 1).await;
        wait_until_settled(&manager).await;
        worker.abort();

        let seen = receiver.seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 3, "two failures, then success");
        assert!(
            seen.iter().all(|(key, _)| key == &seen[0].0),
            "one idempotency key across retries"
        );
        assert_eq!(seen[0].1["device_id"], "D-0009");
        assert_eq!(seen[0].1["staff_id"], "S-0011");
        assert_eq!(seen[0].1["reason"], "checked_in");
        assert_eq!(*receiver.bad_signatures.lock().unwrap(), 0);
        assert_eq!(
            delivery_status(&manager).await[1],
            ("mdm".to_owned(), "confirmed".to_owned())
        );
        let board: Value = manager
            .client
            .get(format!("{}/api/v1/dashboard/devices", manager.base_url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let device = board["devices"]
            .as_array()
            .unwrap()
            .iter()
            .find(|device| device["device_id"] == "D-0009")
            .unwrap()
            .clone();
        assert_eq!(device["access_open_after_return"], false);
    }
}

#[tokio::test]
async fn a_receiver_that_never_recovers_ends_in_the_dead_letter_and_the_ledger() {
    for backend in support::every_backend().await {
        let (_server, manager) = server_with_a_revocation(backend.storage.clone(), 81).await;
        let receiver = Receiver {
            fail_first: usize::MAX,
            ..Receiver::default()
        };
        let url = start_receiver(receiver.clone()).await;
        let connectors = vec![ConnectorConfig::Webhook {
            name: "mdm".to_owned(),
            url,
            secret: SECRET.to_owned(),
        }];
        let worker = tokio::spawn(delivery_worker::run(
            backend.storage.clone(),
            Arc::new(connectors),
            signer(),
            fast_policy(),
        ));
        for _ in 0..300 {
            if delivery_status(&manager).await[1].1 == "failed" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        worker.abort();
        assert_eq!(
            delivery_status(&manager).await[1],
            ("mdm".to_owned(), "failed".to_owned())
        );
        assert_eq!(
            receiver.seen.lock().unwrap().len(),
            4,
            "max_attempts tries, then no more"
        );
        let entries = backend
            .storage
            .ledger_entries("SITE-DEMO", 0, 100)
            .await
            .unwrap();
        assert!(
            entries
                .iter()
                .any(|row| row.entry_json.contains("\"type\":\"revocation_failed\""))
        );
        // The manager's exceptions queue shows it first: access still open, with its evidence.
        let queue: Value = manager
            .client
            .get(format!("{}/api/v1/dashboard/exceptions", manager.base_url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let first = &queue["exceptions"][0];
        assert_eq!(first["kind"], "revocation_failed", "{queue}");
        assert_eq!(first["severity"], "critical");
        assert_eq!(first["evidence"].as_array().unwrap().len(), 1);
        assert!(
            first["detail"]
                .as_str()
                .unwrap()
                .contains("mdm failed after 4 attempts"),
            "{first}"
        );
        assert_eq!(first["key"].as_str().unwrap().len(), 32);
    }
}

#[tokio::test]
async fn a_worker_killed_mid_flight_leaves_nothing_undelivered_and_nothing_applied_twice() {
    for backend in support::every_backend().await {
        let (_server, manager) = server_with_a_revocation(backend.storage.clone(), 82).await;
        // The receiver is down when the first worker claims the delivery; the worker dies.
        let dead_url = "http://127.0.0.1:9/revocations".to_owned();
        let connectors = vec![ConnectorConfig::Webhook {
            name: "mdm".to_owned(),
            url: dead_url,
            secret: SECRET.to_owned(),
        }];
        let first = tokio::spawn(delivery_worker::run(
            backend.storage.clone(),
            Arc::new(connectors),
            signer(),
            fast_policy(),
        ));
        tokio::time::sleep(Duration::from_millis(100)).await;
        first.abort();

        // A new worker (a restarted process) with the receiver up: delivered once.
        let receiver = Receiver::default();
        let url = start_receiver(receiver.clone()).await;
        let connectors = vec![ConnectorConfig::Webhook {
            name: "mdm".to_owned(),
            url,
            secret: SECRET.to_owned(),
        }];
        let second = tokio::spawn(delivery_worker::run(
            backend.storage.clone(),
            Arc::new(connectors.clone()),
            signer(),
            fast_policy(),
        ));
        let third = tokio::spawn(delivery_worker::run(
            backend.storage.clone(),
            Arc::new(connectors),
            signer(),
            fast_policy(),
        ));
        wait_for(|| receiver.applied.lock().unwrap().len() == 1).await;
        wait_until_settled(&manager).await;
        second.abort();
        third.abort();
        assert_eq!(receiver.applied.lock().unwrap().len(), 1);
        assert_eq!(
            delivery_status(&manager).await[1],
            ("mdm".to_owned(), "confirmed".to_owned())
        );
    }
}

/// Verifies a compact JWS against the JWKS served at `jwks_url`; returns (header, claims).
async fn verify_jwt(jwks_url: &str, token: &str) -> Result<(Value, Value), String> {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let jwks: Value = reqwest::get(jwks_url)
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let parts: Vec<&str> = token.split('.').collect();
    let [header, claims, signature] = parts.as_slice() else {
        return Err("not a compact JWS".to_owned());
    };
    let header_json: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|key| key["kid"] == header_json["kid"])
        .ok_or("kid not in the JWKS")?;
    if header_json["alg"] != "EdDSA" || key["crv"] != "Ed25519" {
        return Err("unexpected algorithm".to_owned());
    }
    let x: [u8; 32] = URL_SAFE_NO_PAD
        .decode(key["x"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let verifying_key = ed25519_dalek::VerifyingKey::from_bytes(&x).map_err(|e| e.to_string())?;
    let signature = ed25519_dalek::Signature::from_slice(
        &URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    verifying_key
        .verify_strict(format!("{header}.{claims}").as_bytes(), &signature)
        .map_err(|e| e.to_string())?;
    let claims_json: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap();
    Ok((header_json, claims_json))
}

#[derive(Clone)]
struct TokenReceiver {
    jwks_url: String,
    received: Arc<Mutex<Vec<(Value, Value)>>>,
}

async fn receive_logout(
    State(receiver): State<TokenReceiver>,
    axum::Form(form): axum::Form<std::collections::HashMap<String, String>>,
) -> StatusCode {
    let Some(token) = form.get("logout_token") else {
        return StatusCode::BAD_REQUEST;
    };
    match verify_jwt(&receiver.jwks_url, token).await {
        Ok(verified) => {
            receiver.received.lock().unwrap().push(verified);
            StatusCode::OK
        }
        Err(_) => StatusCode::BAD_REQUEST,
    }
}

async fn receive_set(
    State(receiver): State<TokenReceiver>,
    headers: HeaderMap,
    body: String,
) -> StatusCode {
    if headers
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        != Some("application/secevent+jwt")
    {
        return StatusCode::UNSUPPORTED_MEDIA_TYPE;
    }
    match verify_jwt(&receiver.jwks_url, &body).await {
        Ok(verified) => {
            receiver.received.lock().unwrap().push(verified);
            StatusCode::ACCEPTED
        }
        Err(_) => StatusCode::BAD_REQUEST,
    }
}

#[tokio::test]
async fn back_channel_logout_and_caep_tokens_verify_against_the_published_jwks() {
    let backend = support::sqlite().await;
    let server = tablet::serve_with_connectors(
        backend.storage.clone(),
        vec!["rp".to_owned(), "ssf".to_owned()],
    )
    .await;
    let manager = tablet::sign_in_manager(&server).await;
    let mut tablet_a = SimTablet::enroll(&server, &manager, 83).await;
    let start = baton_server::sync::now_ms() - 60_000;
    let events = [
        tablet_a.sign(check_out("D-0010", "S-0012"), start),
        tablet_a.sign(check_in("D-0010", "S-0012"), start + 1_000),
    ];
    tablet_a.push(&events).await;

    let receiver = TokenReceiver {
        jwks_url: format!("{}/.well-known/jwks.json", server.base_url),
        received: Arc::default(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = axum::Router::new()
        .route("/backchannel-logout", axum::routing::post(receive_logout))
        .route("/ssf/push", axum::routing::post(receive_set))
        .with_state(receiver.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let connectors = vec![
        ConnectorConfig::BackchannelLogout {
            name: "rp".to_owned(),
            url: format!("{base}/backchannel-logout"),
            audience: "ehr-client".to_owned(),
        },
        ConnectorConfig::Caep {
            name: "ssf".to_owned(),
            url: format!("{base}/ssf/push"),
            audience: "https://idp.test".to_owned(),
        },
    ];
    let worker = tokio::spawn(delivery_worker::run(
        backend.storage.clone(),
        Arc::new(connectors),
        signer(),
        fast_policy(),
    ));
    wait_for(|| receiver.received.lock().unwrap().len() == 2).await;
    wait_until_settled(&manager).await;
    worker.abort();

    let received = receiver.received.lock().unwrap().clone();
    let (logout_header, logout) = received
        .iter()
        .find(|(header, _)| header["typ"] == "logout+jwt")
        .unwrap();
    assert_eq!(logout_header["alg"], "EdDSA");
    assert_eq!(logout["iss"], "https://baton.test");
    assert_eq!(logout["aud"], "ehr-client");
    assert_eq!(logout["sub"], "S-0012");
    assert!(logout["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object());
    assert!(
        logout.get("nonce").is_none(),
        "a logout token never carries a nonce"
    );
    assert!(logout["jti"].is_string() && logout["iat"].is_u64() && logout["exp"].is_u64());

    let (_, set) = received
        .iter()
        .find(|(header, _)| header["typ"] == "secevent+jwt")
        .unwrap();
    assert_eq!(set["aud"], "https://idp.test");
    assert_eq!(
        set["sub_id"],
        serde_json::json!({ "format": "opaque", "id": "S-0012" })
    );
    let event =
        &set["events"]["https://schemas.openid.net/secevent/caep/event-type/session-revoked"];
    assert_eq!(event["initiating_entity"], "policy");
    assert!(event["event_timestamp"].is_u64());
    assert!(
        event["reason_admin"]["en"]
            .as_str()
            .unwrap()
            .contains("D-0010")
    );
    let statuses = delivery_status(&manager).await;
    assert!(
        statuses.iter().all(|(_, status)| status == "confirmed"),
        "{statuses:?}"
    );
}

/// `kill -9` of a real `baton` process with a revocation pending: the restarted process
/// delivers it, and the receiver applies it once.
#[tokio::test]
async fn after_a_kill_9_the_restarted_server_delivers_what_was_pending() {
    for backend in support::every_backend().await {
        let (site, credentials) = baton_server::seed::demo_site().unwrap();
        backend.storage.import_site(&site).await.unwrap();
        let data_dir = tempfile::tempdir().unwrap();
        // The receiver's address is fixed before it runs: the first process finds nobody there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let connectors_file = data_dir.path().join("connectors.json");
        std::fs::write(
            &connectors_file,
            serde_json::to_vec(&serde_json::json!([{
                "kind": "webhook",
                "name": "mdm",
                "url": format!("http://127.0.0.1:{port}/revocations"),
                "secret": SECRET,
            }]))
            .unwrap(),
        )
        .unwrap();
        let start_server = || {
            let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_baton"))
                .args([
                    "serve",
                    "--listen",
                    "127.0.0.1:0",
                    "--database-url",
                    &backend.url,
                    "--dist",
                    "/nonexistent",
                ])
                .arg("--data-dir")
                .arg(data_dir.path())
                .arg("--connectors-file")
                .arg(&connectors_file)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
            let base_url = loop {
                let mut line = String::new();
                assert!(
                    std::io::BufRead::read_line(&mut reader, &mut line).unwrap() > 0,
                    "the server exited"
                );
                if let Some(address) = line.trim().strip_prefix("Baton is listening on ") {
                    break address.trim_end_matches('/').to_owned();
                }
            };
            std::thread::spawn(move || for _ in std::io::BufRead::lines(reader) {});
            (child, base_url)
        };

        let (mut first, base_url) = start_server();
        let manager = tablet::sign_in_manager_at(&base_url, &credentials).await;
        let mut tablet_a = SimTablet::enroll_at(&base_url, &manager, 84).await;
        let start = baton_server::sync::now_ms() - 60_000;
        let events = [
            tablet_a.sign(check_out("D-0011", "S-0013"), start),
            tablet_a.sign(check_in("D-0011", "S-0013"), start + 1_000),
        ];
        tablet_a.push(&events).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        first.kill().unwrap(); // SIGKILL: no graceful shutdown, no chance to finish anything
        first.wait().unwrap();
        let revocations = backend
            .storage
            .list_revocations("SITE-DEMO", 10)
            .await
            .unwrap();
        assert_eq!(
            revocations[0].deliveries[1].status, "pending",
            "nothing was delivered before the kill"
        );

        let receiver = Receiver::default();
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let router = axum::Router::new()
            .route("/revocations", axum::routing::post(receive))
            .with_state(receiver.clone());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

        let (mut second, _) = start_server();
        for _ in 0..600 {
            let delivered = backend
                .storage
                .list_revocations("SITE-DEMO", 10)
                .await
                .unwrap()[0]
                .deliveries[1]
                .status
                == "confirmed";
            if delivered {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        second.kill().unwrap();
        second.wait().unwrap();
        assert_eq!(
            backend
                .storage
                .list_revocations("SITE-DEMO", 10)
                .await
                .unwrap()[0]
                .deliveries[1]
                .status,
            "confirmed"
        );
        assert_eq!(
            *receiver.applied.lock().unwrap(),
            vec![format!("SITE-DEMO:{}:mdm", revocations[0].revocation_id)]
        );
    }
}
