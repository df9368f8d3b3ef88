//! A site's revocation connectors managed through the admin API (docs/PROTOCOL.md §5.6): an
//! admin creates a webhook, a check-in pushed by a tablet reaches a real receiver that checks
//! the HMAC, the secret never shows in an answer, the database or the ledger, refusals carry
//! their codes, a replacement takes effect at the next delivery, and disabling cancels what is
//! pending and stops new deliveries. The worker runs on its own connection to the database, as
//! another server process would.

use std::sync::Arc;
use std::time::Duration;

use baton_server::connectors::ConnectorConfig;
use baton_server::delivery_worker;
use baton_server::storage::{AccountRecord, AccountRole, Storage};
use serde_json::{Value, json};

use crate::connectors::{Receiver, SECRET, fast_policy, signer, start_receiver, wait_for};
use crate::support;
use crate::tablet::{self, Manager, SimTablet, TestServer, check_in, check_out};

const SITE: &str = "SITE-DEMO";
const CONNECTORS: &str = "/api/v1/admin/sites/SITE-DEMO/connectors";

async fn admin(server: &TestServer) -> Manager {
    let password = baton_server::seed::random_password();
    server
        .state
        .storage
        .create_account(&AccountRecord {
            username: "admin".to_owned(),
            password_hash: baton_server::seed::hash_secret(&password).unwrap(),
            role: AccountRole::Admin,
            site_id: None,
        })
        .await
        .unwrap();
    tablet::sign_in_at(&server.base_url, "admin", &password).await
}

/// Sends a JSON request with the session's CSRF token; the status and the body as text.
async fn send(manager: &Manager, method: &str, path: &str, body: Option<Value>) -> (u16, String) {
    let mut request = manager
        .client
        .request(
            method.parse().unwrap(),
            format!("{}{path}", manager.base_url),
        )
        .header("x-csrf-token", &manager.csrf_token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

fn error_code(body: &str) -> String {
    let value: Value = serde_json::from_str(body).unwrap();
    value["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Each delivery of the revocation of `device_id`'s custody: connector → (status, last_error).
async fn deliveries_of(manager: &Manager, device_id: &str) -> Vec<(String, String, Value)> {
    let body: Value = manager
        .client
        .get(format!("{}/api/v1/dashboard/revocations", manager.base_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let revocation = body["revocations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|revocation| revocation["device_id"] == device_id)
        .unwrap_or_else(|| panic!("no revocation for {device_id}: {body}"))
        .clone();
    revocation["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|delivery| {
            (
                delivery["connector"].as_str().unwrap().to_owned(),
                delivery["status"].as_str().unwrap().to_owned(),
                delivery["last_error"].clone(),
            )
        })
        .collect()
}

/// A check-out and check-in of `device_id`: one revocation.
async fn hand_back(tablet: &mut SimTablet, device_id: &str, staff_id: &str, start: u64) {
    let events = [
        tablet.sign(check_out(device_id, staff_id), start),
        tablet.sign(check_in(device_id, staff_id), start + 1_000),
    ];
    let receipts = tablet.push(&events).await;
    assert!(
        receipts
            .iter()
            .all(|receipt| receipt["status"] == "accepted"),
        "{receipts:?}"
    );
}

fn webhook(name: &str, url: &str) -> Value {
    json!({ "kind": "webhook", "name": name, "url": url, "secret": SECRET })
}

#[tokio::test]
async fn an_admin_made_webhook_is_delivered_to_replaced_and_disabled_without_its_secret_showing() {
    for backend in support::every_backend().await {
        // The connectors file has one connector, `file-mdm`, for every site.
        let file_receiver = Receiver::default();
        let file_url = start_receiver(file_receiver.clone()).await;
        let file_connector = ConnectorConfig::Webhook {
            name: "file-mdm".to_owned(),
            url: file_url,
            secret: SECRET.to_owned(),
        };
        let file_connectors = vec![file_connector.clone()];
        let server = tablet::serve_custom(backend.storage.clone(), |state| {
            state.connectors = Arc::new(vec!["file-mdm".to_owned()]);
            state.connector_configs = Arc::new(file_connectors.clone());
            // The key the worker's signer opens secrets with (`connectors::signer`).
            state.token_vault = signer().token_vault.clone();
        })
        .await;
        let manager = tablet::sign_in_manager(&server).await;
        let admin = admin(&server).await;
        let mut tablet = SimTablet::enroll(&server, &manager, 90).await;
        let start = baton_server::sync::now_ms() - 600_000;

        // The worker of "another process": its own connection to the database, started before
        // the connector exists.
        let worker_storage: Arc<dyn Storage> =
            baton_server::storage::connect(&backend.url).await.unwrap();
        let worker = tokio::spawn(delivery_worker::run(
            worker_storage.clone(),
            Arc::new(vec![file_connector.clone()]),
            signer(),
            fast_policy(),
        ));

        // Refusals, each with its code, and nothing stored.
        let receiver = Receiver::default();
        let url = start_receiver(receiver.clone()).await;
        let (status, body) = send(&manager, "POST", CONNECTORS, Some(webhook("mdm", &url))).await;
        assert_eq!(
            (status, error_code(&body).as_str()),
            (403, "forbidden"),
            "{body}"
        );
        for (connector, expected_status, expected_code) in [
            (
                webhook("mdm", "http://mdm.example/hook"),
                422,
                "bad_connector_url",
            ),
            (
                webhook("mdm", "https://admin:pw@mdm.example/hook"),
                422,
                "bad_connector_url",
            ),
            (
                json!({ "kind": "webhook", "name": "mdm", "url": url, "secret": "short" }),
                422,
                "weak_connector_secret",
            ),
            (webhook("bad name", &url), 422, "bad_connector_name"),
            (
                webhook("baton_tokens", &url),
                422,
                "reserved_connector_name",
            ),
            (
                json!({ "kind": "telepathy", "name": "mdm", "url": url }),
                422,
                "bad_connector",
            ),
            (
                json!({ "kind": "webhook", "name": "mdm", "url": url, "secret": SECRET, "extra": 1 }),
                422,
                "bad_connector",
            ),
            (webhook("file-mdm", &url), 409, "file_connector"),
        ] {
            let (status, body) = send(&admin, "POST", CONNECTORS, Some(connector.clone())).await;
            assert_eq!(
                (status, error_code(&body).as_str()),
                (expected_status, expected_code),
                "{connector}: {body}"
            );
            assert!(!body.contains(SECRET), "{body}");
        }
        let (status, body) = send(
            &admin,
            "POST",
            "/api/v1/admin/sites/SITE-NOWHERE/connectors",
            Some(webhook("mdm", &url)),
        )
        .await;
        assert_eq!((status, error_code(&body).as_str()), (404, "unknown_site"));
        assert!(
            server
                .state
                .storage
                .list_site_connectors(SITE)
                .await
                .unwrap()
                .is_empty()
        );

        // Created: the answer says a secret is set and never shows it.
        let (status, body) = send(&admin, "POST", CONNECTORS, Some(webhook("mdm", &url))).await;
        assert_eq!(status, 201, "{body}");
        let created: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(created["secret_set"], true);
        assert_eq!(created["source"], "api");
        assert_eq!(created["enabled"], true);
        assert_eq!(created["created_by"], "admin");
        assert!(
            created.get("secret").is_none() && !body.contains(SECRET),
            "{body}"
        );
        let (status, body) = send(&admin, "POST", CONNECTORS, Some(webhook("mdm", &url))).await;
        assert_eq!(
            (status, error_code(&body).as_str()),
            (409, "connector_exists")
        );

        // Listed with the file's connector, which is read-only.
        let (status, body) = send(&admin, "GET", CONNECTORS, None).await;
        assert_eq!(status, 200, "{body}");
        assert!(!body.contains(SECRET), "{body}");
        let listed: Value = serde_json::from_str(&body).unwrap();
        let sources: Vec<(String, String, bool)> = listed["connectors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|connector| {
                (
                    connector["name"].as_str().unwrap().to_owned(),
                    connector["source"].as_str().unwrap().to_owned(),
                    connector["secret_set"].as_bool().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            sources,
            [
                ("file-mdm".to_owned(), "file".to_owned(), true),
                ("mdm".to_owned(), "api".to_owned(), true)
            ]
        );
        let (status, body) = send(
            &admin,
            "POST",
            &format!("{CONNECTORS}/file-mdm/disable"),
            None,
        )
        .await;
        assert_eq!(
            (status, error_code(&body).as_str()),
            (409, "file_connector")
        );

        // At rest the secret is sealed: neither it nor its hex is in the row or the ledger.
        let stored = backend
            .storage
            .find_site_connector(SITE, "mdm")
            .await
            .unwrap()
            .unwrap();
        let sealed = stored.sealed_secret.clone().unwrap();
        assert!(!sealed.contains(SECRET) && !sealed.contains(&hex::encode(SECRET)));
        assert!(!stored.config_json.contains(SECRET));

        // A check-in pushed by the tablet reaches the receiver, HMAC-signed with the secret.
        hand_back(&mut tablet, "D-0009", "S-0011", start).await;
        wait_for(|| receiver.applied.lock().unwrap().len() == 1).await;
        assert_eq!(*receiver.bad_signatures.lock().unwrap(), 0);
        let seen = receiver.seen.lock().unwrap().clone();
        assert_eq!(seen[0].1["device_id"], "D-0009");
        assert_eq!(
            seen[0].0,
            format!("{SITE}:{}:mdm", seen[0].1["revocation_id"])
        );
        wait_for_status(&manager, "D-0009", "mdm", "confirmed").await;

        // Replaced with another URL (the secret is given again): the next revocation goes there.
        let second_receiver = Receiver::default();
        let second_url = start_receiver(second_receiver.clone()).await;
        let (status, body) = send(
            &admin,
            "PUT",
            &format!("{CONNECTORS}/mdm"),
            Some(json!({ "kind": "webhook", "url": second_url, "secret": SECRET })),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert!(!body.contains(SECRET), "{body}");
        let (status, body) = send(
            &admin,
            "PUT",
            &format!("{CONNECTORS}/mdm"),
            Some(webhook("other", &second_url)),
        )
        .await;
        assert_eq!((status, error_code(&body).as_str()), (422, "name_mismatch"));
        let (status, body) = send(
            &admin,
            "PUT",
            &format!("{CONNECTORS}/nobody"),
            Some(json!({ "kind": "webhook", "url": second_url, "secret": SECRET })),
        )
        .await;
        assert_eq!(
            (status, error_code(&body).as_str()),
            (404, "unknown_connector")
        );
        hand_back(&mut tablet, "D-0010", "S-0012", start + 10_000).await;
        wait_for(|| second_receiver.applied.lock().unwrap().len() == 1).await;
        assert_eq!(*second_receiver.bad_signatures.lock().unwrap(), 0);
        assert_eq!(receiver.seen.lock().unwrap().len(), 1);
        // Recorded too before the worker stops, or its lease would send it again (at least once).
        wait_for_status(&manager, "D-0010", "mdm", "confirmed").await;

        // Disabled while a delivery is pending (the worker is stopped): it is cancelled, with
        // who did it, and never sent; the device no longer shows access open.
        worker.abort();
        hand_back(&mut tablet, "D-0011", "S-0013", start + 20_000).await;
        assert!(
            deliveries_of(&manager, "D-0011")
                .await
                .iter()
                .any(|(connector, status, _)| connector == "mdm" && status == "pending")
        );
        let (status, body) =
            send(&manager, "POST", &format!("{CONNECTORS}/mdm/disable"), None).await;
        assert_eq!((status, error_code(&body).as_str()), (403, "forbidden"));
        let (status, body) = send(&admin, "POST", &format!("{CONNECTORS}/mdm/disable"), None).await;
        assert_eq!(status, 200, "{body}");
        let disabled: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(disabled["enabled"], false);
        assert_eq!(disabled["changed"], true);
        assert_eq!(
            disabled["cancelled_revocation_ids"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        let mdm = deliveries_of(&manager, "D-0011")
            .await
            .into_iter()
            .find(|(connector, ..)| connector == "mdm")
            .unwrap();
        assert_eq!(mdm.1, "cancelled");
        assert_eq!(mdm.2, "connector disabled by admin");
        let (status, body) = send(&admin, "POST", &format!("{CONNECTORS}/mdm/disable"), None).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap()["changed"],
            false
        );

        // A new revocation after the disabling has no delivery to it at all.
        let worker = tokio::spawn(delivery_worker::run(
            worker_storage.clone(),
            Arc::new(vec![file_connector.clone()]),
            signer(),
            fast_policy(),
        ));
        hand_back(&mut tablet, "D-0012", "S-0014", start + 30_000).await;
        let connectors: Vec<String> = deliveries_of(&manager, "D-0012")
            .await
            .into_iter()
            .map(|(connector, ..)| connector)
            .collect();
        assert_eq!(connectors, ["baton_tokens", "file-mdm"]);
        wait_for_status(&manager, "D-0012", "file-mdm", "confirmed").await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        worker.abort();
        assert_eq!(
            second_receiver.seen.lock().unwrap().len(),
            1,
            "nothing sent after disabling"
        );
        assert_eq!(receiver.seen.lock().unwrap().len(), 1);
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
            .find(|device| device["device_id"] == "D-0011")
            .unwrap()
            .clone();
        assert_eq!(device["access_open_after_return"], false, "{device}");

        // Every change is in the site's ledger, by the admin, and no secret is.
        let entries = backend
            .storage
            .ledger_entries(SITE, 0, 1_000)
            .await
            .unwrap();
        let governance: Vec<Value> = entries
            .iter()
            .map(|row| serde_json::from_str::<Value>(&row.entry_json).unwrap())
            .filter(|entry| {
                entry["action"]["type"]
                    .as_str()
                    .is_some_and(|action| action.starts_with("connector_"))
            })
            .collect();
        let actions: Vec<(&str, &str)> = governance
            .iter()
            .map(|entry| {
                (
                    entry["action"]["type"].as_str().unwrap(),
                    entry["by"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            actions,
            [
                ("connector_created", "admin"),
                ("connector_replaced", "admin"),
                ("connector_disabled", "admin")
            ]
        );
        assert_eq!(
            governance[2]["action"]["cancelled_revocation_ids"],
            disabled["cancelled_revocation_ids"]
        );
        assert!(entries.iter().all(|row| !row.entry_json.contains(SECRET)));

        // Enabled again: revocations from now on are delivered again.
        let (status, body) = send(&admin, "POST", &format!("{CONNECTORS}/mdm/enable"), None).await;
        assert_eq!(status, 200, "{body}");
        hand_back(&mut tablet, "D-0013", "S-0015", start + 40_000).await;
        assert!(
            deliveries_of(&manager, "D-0013")
                .await
                .iter()
                .any(|(connector, status, _)| connector == "mdm" && status == "pending")
        );
    }
}

async fn wait_for_status(manager: &Manager, device_id: &str, connector: &str, expected: &str) {
    for _ in 0..300 {
        if deliveries_of(manager, device_id)
            .await
            .iter()
            .any(|(name, status, _)| name == connector && status == expected)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "{connector} of {device_id} is not {expected}: {:?}",
        deliveries_of(manager, device_id).await
    );
}

#[tokio::test]
async fn a_site_may_hold_only_so_many_connectors() {
    let backend = support::sqlite().await;
    let server = tablet::serve(backend.storage.clone()).await;
    let admin = admin(&server).await;
    let limit = baton_server::http::site_connectors::MAX_CONNECTORS_PER_SITE;
    for index in 0..limit {
        let (status, body) = send(
            &admin,
            "POST",
            CONNECTORS,
            Some(json!({
                "kind": "caep", "name": format!("idp-{index}"),
                "url": "https://idp.example/push", "audience": "baton"
            })),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap()["secret_set"],
            false
        );
    }
    let (status, body) = send(
        &admin,
        "POST",
        CONNECTORS,
        Some(json!({
            "kind": "caep", "name": "one-too-many",
            "url": "https://idp.example/push", "audience": "baton"
        })),
    )
    .await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (409, "too_many_connectors")
    );
}
