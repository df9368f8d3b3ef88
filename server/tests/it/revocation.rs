//! Revocation at custody end: custody-bound tokens, RFC 7662 introspection, and revocations
//! recorded once per custody in the ingest transaction.

use base64::Engine;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support;
use crate::tablet::{self, INTROSPECTION_SECRET, SimTablet, TestServer, check_in, check_out};

async fn request_token(tablet: &SimTablet, device: &str, staff: &str) -> reqwest::Response {
    let body = serde_json::to_vec(&json!({ "device_id": device, "staff_id": staff })).unwrap();
    tablet.request(Method::POST, "/api/v1/tokens", body).await
}

async fn introspect(server: &TestServer, token: &str, secret: &str) -> reqwest::Response {
    let credentials =
        base64::engine::general_purpose::STANDARD.encode(format!("ehr-gateway:{secret}"));
    reqwest::Client::new()
        .post(format!("{}/oauth/introspect", server.base_url))
        .header("authorization", format!("Basic {credentials}"))
        .form(&[("token", token), ("token_type_hint", "access_token")])
        .send()
        .await
        .unwrap()
}

async fn is_active(server: &TestServer, token: &str) -> bool {
    let body: Value = introspect(server, token, INTROSPECTION_SECRET)
        .await
        .json()
        .await
        .unwrap();
    body["active"].as_bool().unwrap()
}

#[tokio::test]
async fn a_token_works_only_while_its_custody_holds_and_dies_at_check_in() {
    for backend in support::every_backend().await {
        let server = tablet::serve(backend.storage.clone()).await;
        let manager = tablet::sign_in_manager(&server).await;
        let mut tablet_a = SimTablet::enroll(&server, &manager, 70).await;
        let start = baton_server::sync::now_ms() - 60_000;

        // No custody, no token.
        let refused = request_token(&tablet_a, "D-0001", "S-0005").await;
        assert_eq!(refused.status(), 403);

        let event = tablet_a.sign(check_out("D-0001", "S-0005"), start);

        tablet_a.push(&[event]).await;
        let response = request_token(&tablet_a, "D-0001", "S-0005").await;
        assert_eq!(response.status(), 200);
        let token = response.json::<Value>().await.unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let body: Value = introspect(&server, &token, INTROSPECTION_SECRET)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(body["active"], true);
        assert_eq!(body["sub"], "S-0005");
        assert_eq!(body["device_id"], "D-0001");
        // Someone else cannot get a token for the device.
        assert_eq!(
            request_token(&tablet_a, "D-0001", "S-0006").await.status(),
            403
        );

        // The check-in arrives through sync: the token is inactive at once.
        let check_in_event = tablet_a.sign(check_in("D-0001", "S-0005"), start + 1_000);
        tablet_a.push(std::slice::from_ref(&check_in_event)).await;
        assert!(!is_active(&server, &token).await);
        assert_eq!(
            request_token(&tablet_a, "D-0001", "S-0005").await.status(),
            403
        );

        // Recorded once, confirmed for the built-in tokens, even if the check-in is re-sent.
        tablet_a.push(std::slice::from_ref(&check_in_event)).await;
        let revocations: Value = manager
            .client
            .get(format!("{}/api/v1/dashboard/revocations", server.base_url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let revocations = revocations["revocations"].as_array().unwrap();
        assert_eq!(revocations.len(), 1, "{revocations:?}");
        assert_eq!(revocations[0]["reason"], "checked_in");
        assert_eq!(revocations[0]["staff_id"], "S-0005");
        assert_eq!(revocations[0]["ended_by"], check_in_event.id().to_hex());
        assert_eq!(revocations[0]["deliveries"][0]["connector"], "baton_tokens");
        assert_eq!(revocations[0]["deliveries"][0]["status"], "confirmed");

        // The tablet sees the same through sync.
        let seen: Value = tablet_a
            .request(Method::GET, "/api/v1/sync/revocations", Vec::new())
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(seen["revocations"][0]["reason"], "checked_in");
        assert_eq!(
            seen["revocations"][0]["deliveries"][0]["status"],
            "confirmed"
        );
    }
}

#[tokio::test]
async fn under_overlapping_custody_only_the_later_hand_out_keeps_access() {
    for backend in support::every_backend().await {
        let server = tablet::serve(backend.storage.clone()).await;
        let manager = tablet::sign_in_manager(&server).await;
        let mut tablet_a = SimTablet::enroll(&server, &manager, 71).await;
        let mut tablet_b = SimTablet::enroll(&server, &manager, 72).await;
        let start = baton_server::sync::now_ms() - 60_000;
        let event = tablet_a.sign(check_out("D-0002", "S-0007"), start);
        tablet_a.push(&[event]).await;
        let first = request_token(&tablet_a, "D-0002", "S-0007")
            .await
            .json::<Value>()
            .await
            .unwrap();
        let first_token = first["access_token"].as_str().unwrap().to_owned();
        assert!(is_active(&server, &first_token).await);

        // Tablet B, offline until now, handed the same device to someone else later.
        let event = tablet_b.sign(check_out("D-0002", "S-0008"), start + 5_000);
        tablet_b.push(&[event]).await;
        assert!(
            !is_active(&server, &first_token).await,
            "the earlier custodian's access is closed"
        );
        let second = request_token(&tablet_b, "D-0002", "S-0008").await;
        assert_eq!(second.status(), 200);
        let second_token = second.json::<Value>().await.unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(is_active(&server, &second_token).await);
    }
}

#[tokio::test]
async fn introspection_needs_the_resource_servers_secret_and_says_nothing_of_unknown_tokens() {
    let backend = support::sqlite().await;
    let server = tablet::serve(backend.storage.clone()).await;
    assert_eq!(introspect(&server, "anything", "wrong").await.status(), 401);
    let body: Value = introspect(&server, "no-such-token", INTROSPECTION_SECRET)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body, json!({ "active": false }));
}
