//! Pulls while the site is busy: the memory they hold is bounded, and each is still answered in
//! full (docs/RELIABILITY.md, "Soak: 200 tablets for 10 minutes").
//!
//! In the soak, pulls read their page of events and then waited for the site's replica lock
//! behind the pushes, each holding its page meanwhile: some 70 pages at once, most of a
//! saturated server's heap. The site's lock is held here by the test, as a long push holds it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use baton_core::event::SignedEvent;
use baton_server::http::admission::PULLS_AT_ONCE_PER_SITE;
use baton_server::sync::now_ms;
use reqwest::Method;
use serde_json::Value;

use crate::support;
use crate::tablet::{self, SimTablet, check_in, check_out};

/// A guard against a test that would otherwise wait forever if pulls were never counted; the
/// assertions themselves never depend on time.
const SETTLE_GUARD: Duration = Duration::from_secs(60);

#[tokio::test]
async fn pulls_waiting_for_a_busy_site_hold_at_most_the_bound_of_pages_and_are_all_answered() {
    for backend in support::every_backend().await {
        let server = tablet::serve(backend.storage.clone()).await;
        let manager = tablet::sign_in_manager(&server).await;
        let mut pusher = SimTablet::enroll(&server, &manager, 1).await;
        let puller = Arc::new(SimTablet::enroll(&server, &manager, 2).await);

        let start = now_ms() - 60_000;
        let events: Vec<SignedEvent> = (0..40_u64)
            .map(|index| {
                let device = format!("D-{:04}", index / 2 + 1);
                let body = if index % 2 == 0 {
                    check_out(&device, "S-0005")
                } else {
                    check_in(&device, "S-0005")
                };
                pusher.sign(body, start + index * 1_000)
            })
            .collect();
        let receipts = pusher.push(&events).await;
        assert!(
            receipts
                .iter()
                .all(|receipt| receipt["status"] == "accepted")
        );
        let last_server_seq = receipts.last().unwrap()["server_seq"].as_i64().unwrap();

        // The site is busy: its replica is locked, as a long push holds it.
        let site = server
            .state
            .replicas
            .lock(server.state.storage.as_ref(), "SITE-DEMO")
            .await
            .unwrap();
        let n_pulls = PULLS_AT_ONCE_PER_SITE * 3;
        let pulls: Vec<_> = (0..n_pulls)
            .map(|_| {
                let puller = puller.clone();
                tokio::spawn(async move {
                    let response = puller
                        .request(
                            Method::GET,
                            "/api/v1/sync/pull?after=0&limit=500",
                            Vec::new(),
                        )
                        .await;
                    let status = response.status();
                    (status, response.json::<Value>().await.unwrap())
                })
            })
            .collect();

        // Every pull reaches the gate: some build their answer (and wait for the site), the
        // others wait for a place without having read anything.
        let gate = &server.state.rate_limits.pulls;
        let started = Instant::now();
        while gate.building("SITE-DEMO") + gate.waiting() < n_pulls {
            assert!(
                started.elapsed() < SETTLE_GUARD,
                "{n_pulls} pulls sent, {} building and {} waiting",
                gate.building("SITE-DEMO"),
                gate.waiting(),
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(gate.building("SITE-DEMO"), PULLS_AT_ONCE_PER_SITE);
        assert_eq!(gate.waiting(), n_pulls - PULLS_AT_ONCE_PER_SITE);

        // Once the site is free, every pull is answered with the whole page, none refused.
        drop(site);
        for pull in pulls {
            let (status, page) = pull.await.unwrap();
            assert_eq!(status, 200, "{page}");
            let pulled: Vec<SignedEvent> = page["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|entry| {
                    SignedEvent::from_json_bytes(&serde_json::to_vec(&entry["event"]).unwrap())
                        .unwrap()
                })
                .collect();
            assert_eq!(pulled, events);
            assert_eq!(page["next_after"], last_server_seq);
            assert_eq!(page["more"], false);
            assert_eq!(page["latest_server_seq"], last_server_seq);
            assert_eq!(page["chain_seq"], 0, "the puller signed nothing");
        }
        assert_eq!(gate.building("SITE-DEMO"), 0);
        assert_eq!(gate.waiting(), 0);
    }
}
