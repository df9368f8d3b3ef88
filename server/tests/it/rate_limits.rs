//! Rate limits over real HTTP: a tablet over its budget gets 429 with Retry-After and the error
//! shape while other tablets go on; a forger cannot spend an enrolled tablet's budget; the
//! routes anyone may call are limited per client address, which comes from `X-Forwarded-For`
//! only behind a trusted proxy; and sign-in's argon2 work has a global cap.

use std::sync::Arc;
use std::time::Duration;

use baton_server::http::AppState;
use baton_server::http::rate_limit::{Rate, RateLimitConfig, RateLimits};
use baton_server::sync::now_ms;
use ed25519_dalek::SigningKey;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support;
use crate::tablet::{self, SimTablet};

fn with_limits(config: RateLimitConfig) -> impl FnOnce(&mut AppState) {
    move |state| state.rate_limits = Arc::new(RateLimits::new(&config))
}

/// A 429 in the error shape, with a `Retry-After` of `expected_seconds` (give or take one,
/// for the time the test itself takes).
async fn assert_rate_limited(response: reqwest::Response, expected_seconds: u64) {
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (expected_seconds.saturating_sub(1)..=expected_seconds).contains(&retry_after),
        "Retry-After {retry_after}, expected about {expected_seconds}"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("wait {retry_after} s")),
        "the message says when to come back: {message}"
    );
}

#[tokio::test]
async fn a_tablet_over_its_budget_is_told_when_to_come_back_and_other_tablets_go_on() {
    let storage = support::sqlite().await;
    // Three requests at once, then one a minute.
    let server = tablet::serve_custom(
        storage.storage.clone(),
        with_limits(RateLimitConfig {
            per_tablet: Rate {
                per_minute: 1,
                burst: 3,
            },
            ..RateLimitConfig::default()
        }),
    )
    .await;
    let manager = tablet::sign_in_manager(&server).await;
    let busy = SimTablet::enroll(&server, &manager, 61).await;
    let quiet = SimTablet::enroll(&server, &manager, 62).await;

    // Requests with the busy tablet's key but no valid signature are refused before they are
    // counted: a forger cannot use up an enrolled tablet's budget.
    let forger = SigningKey::from_bytes(&[99; 32]);
    for _ in 0..5 {
        let forged = busy
            .request_with(
                Method::GET,
                "/api/v1/sync/pull?after=0",
                Vec::new(),
                now_ms(),
                &hex::encode(tablet::rand_bytes()),
                &forger,
            )
            .await;
        assert_eq!(forged.status(), 401);
    }

    for _ in 0..3 {
        let pulled = busy
            .request(Method::GET, "/api/v1/sync/pull?after=0", Vec::new())
            .await;
        assert_eq!(pulled.status(), 200);
    }
    let refused = busy
        .request(Method::GET, "/api/v1/sync/pull?after=0", Vec::new())
        .await;
    assert_rate_limited(refused, 60).await;
    // A push over the budget stores nothing.
    let mut busy = busy;
    let event = busy.sign(tablet::check_out("D-0001", "S-0005"), now_ms() - 1_000);
    let event_json: Value = serde_json::from_slice(&event.to_json_bytes()).unwrap();
    let body = serde_json::to_vec(&json!({ "events": [event_json] })).unwrap();
    let refused_push = busy.request(Method::POST, "/api/v1/sync/push", body).await;
    assert_rate_limited(refused_push, 60).await;
    assert_eq!(
        server
            .state
            .storage
            .latest_event_seq(baton_server::seed::DEMO_SITE_ID)
            .await
            .unwrap(),
        0
    );

    // The other tablet has its own budget.
    let pulled = quiet
        .request(Method::GET, "/api/v1/sync/roster", Vec::new())
        .await;
    assert_eq!(pulled.status(), 200);
}

async fn sign_in(base_url: &str, forwarded_for: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(format!("{base_url}/api/v1/auth/sign-in"))
        .json(&json!({ "username": "nobody", "password": "wrong password" }));
    if let Some(forwarded_for) = forwarded_for {
        request = request.header("x-forwarded-for", forwarded_for);
    }
    request.send().await.unwrap()
}

async fn enroll(base_url: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{base_url}/api/v1/enroll"))
        .json(&json!({ "code": "WRONG-CODE", "public_key": "00", "label": "x" }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn sign_in_and_enrollment_are_limited_per_address_and_a_forwarded_address_counts_only_from_a_trusted_proxy()
 {
    let per_address = Rate {
        per_minute: 2,
        burst: 2,
    };
    // No trusted proxy: X-Forwarded-For is anyone's to write and changes nothing.
    let storage = support::sqlite().await;
    let server = tablet::serve_custom(
        storage.storage.clone(),
        with_limits(RateLimitConfig {
            per_address,
            ..RateLimitConfig::default()
        }),
    )
    .await;
    assert_eq!(sign_in(&server.base_url, None).await.status(), 401);
    assert_eq!(
        sign_in(&server.base_url, Some("198.51.100.1"))
            .await
            .status(),
        401
    );
    assert_rate_limited(sign_in(&server.base_url, Some("198.51.100.2")).await, 30).await;
    // Enrollment shares the address's budget: an attacker cannot switch routes to go on.
    assert_rate_limited(enroll(&server.base_url).await, 30).await;
    // Routes that cost nothing are not counted.
    let meta = reqwest::get(format!("{}/api/v1/meta", server.base_url))
        .await
        .unwrap();
    assert_eq!(meta.status(), 200);

    // Behind a trusted proxy (this test's loopback client plays it), each forwarded client
    // has its own budget.
    let proxied_storage = support::sqlite().await;
    let server = tablet::serve_custom(
        proxied_storage.storage.clone(),
        with_limits(RateLimitConfig {
            per_address,
            trusted_proxies: vec!["127.0.0.1".parse().unwrap()],
            ..RateLimitConfig::default()
        }),
    )
    .await;
    for _ in 0..2 {
        assert_eq!(
            sign_in(&server.base_url, Some("198.51.100.1"))
                .await
                .status(),
            401
        );
    }
    assert_rate_limited(sign_in(&server.base_url, Some("198.51.100.1")).await, 30).await;
    // What the client wrote left of the proxy's own entry is not believed: the proxy saw
    // 198.51.100.1, whatever the client claims.
    assert_rate_limited(
        sign_in(&server.base_url, Some("203.0.113.9, 198.51.100.1")).await,
        30,
    )
    .await;
    assert_eq!(
        sign_in(&server.base_url, Some("198.51.100.2"))
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn sign_in_answers_503_with_retry_after_while_every_argon2_slot_is_busy() {
    let storage = support::sqlite().await;
    let server = tablet::serve_custom(
        storage.storage.clone(),
        with_limits(RateLimitConfig {
            sign_in_concurrency: 1,
            sign_in_wait: Duration::from_millis(200),
            ..RateLimitConfig::default()
        }),
    )
    .await;
    // The one slot is taken, as by a flood of sign-ins with random usernames.
    let slot = server.state.rate_limits.argon2.acquire().await.unwrap();
    let credentials = &server.credentials;
    let attempt = || async {
        reqwest::Client::new()
            .post(format!("{}/api/v1/auth/sign-in", server.base_url))
            .json(&json!({
                "username": credentials.manager_username,
                "password": credentials.manager_password,
            }))
            .send()
            .await
            .unwrap()
    };
    let busy = attempt().await;
    assert_eq!(busy.status(), 503);
    assert_eq!(busy.headers()["retry-after"], "1");
    let body: Value = busy.json().await.unwrap();
    assert_eq!(body["error"]["code"], "sign_in_busy", "{body}");
    // A refusal for load is not a failed password: the account is not throttled by it.
    drop(slot);
    assert_eq!(attempt().await.status(), 200);
}

/// Admission control: while a site's replica is busy and its queue is full, a new push is told
/// to come back (503 `sync_busy`, Retry-After 1 to 5 s) without anything of it being taken;
/// the push that was queued completes, and the deferred one, sent again, is accepted once.
#[tokio::test]
async fn a_push_beyond_its_sites_queue_is_deferred_and_loses_nothing() {
    let storage = support::sqlite().await;
    let server = tablet::serve_custom(
        storage.storage.clone(),
        with_limits(RateLimitConfig {
            max_queued_pushes_per_site: 1,
            ..RateLimitConfig::default()
        }),
    )
    .await;
    let manager = tablet::sign_in_manager(&server).await;
    let mut first = SimTablet::enroll(&server, &manager, 70).await;
    let mut second = SimTablet::enroll(&server, &manager, 71).await;
    let at = now_ms() - 60_000;
    let first_event = first.sign(tablet::check_out("D-0001", "S-0001"), at);
    let second_event = second.sign(tablet::check_out("D-0002", "S-0002"), at + 1);
    let body = |event: &baton_core::event::SignedEvent| {
        serde_json::to_vec(&json!({ "events": [serde_json::from_slice::<Value>(&event.to_json_bytes()).unwrap()] })).unwrap()
    };

    // The site's replica is held, as a long push would hold it: the first push takes the one
    // place in the queue and waits.
    let held = server
        .state
        .replicas
        .lock(
            server.state.storage.as_ref(),
            baton_server::seed::DEMO_SITE_ID,
        )
        .await
        .unwrap();
    let queued_body = body(&first_event);
    let queued = tokio::spawn(async move {
        first
            .request(Method::POST, "/api/v1/sync/push", queued_body)
            .await
    });
    while server
        .state
        .rate_limits
        .pushes
        .queued(baton_server::seed::DEMO_SITE_ID)
        < 1
    {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let deferred = second
        .request(Method::POST, "/api/v1/sync/push", body(&second_event))
        .await;
    assert_eq!(deferred.status(), 503);
    let retry_after: u64 = deferred.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=5).contains(&retry_after), "Retry-After {retry_after}");
    let answer: Value = deferred.json().await.unwrap();
    assert_eq!(answer["error"]["code"], "sync_busy", "{answer}");

    drop(held);
    let queued = queued.await.unwrap();
    assert_eq!(queued.status(), 200);
    let receipts: Value = queued.json().await.unwrap();
    assert_eq!(receipts["receipts"][0]["status"], "accepted");
    let again = second
        .request(Method::POST, "/api/v1/sync/push", body(&second_event))
        .await;
    assert_eq!(again.status(), 200);
    let receipts: Value = again.json().await.unwrap();
    assert_eq!(receipts["receipts"][0]["status"], "accepted");
    assert_eq!(
        server
            .state
            .rate_limits
            .pushes
            .queued(baton_server::seed::DEMO_SITE_ID),
        0
    );
    // Each event is stored once.
    let pulled = second.pull_all(100).await;
    assert_eq!(pulled.len(), 2);
    let metrics = server.state.metrics.render();
    assert!(
        metrics.contains("baton_sync_pushes_deferred_total 1"),
        "{metrics}"
    );
}
