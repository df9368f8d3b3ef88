//! `/metrics` as a scraper sees it: the gauges read at scrape time say what a manager's alert
//! needs (revocations not yet confirmed and their age, devices overdue, tablets silent), and
//! every metric the example alert rules name is actually served.

use std::collections::BTreeSet;
use std::sync::Arc;

use baton_core::body::Body;
use baton_core::ids::{DeviceId, WardId};

use crate::support;
use crate::tablet::{self, SimTablet, check_in, nurse};

const TOKEN: &str = "scrape-me-please";

async fn scrape(base_url: &str) -> String {
    let response = reqwest::Client::new()
        .get(format!("{base_url}/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

/// The value of the sample `name{labels}` (labels as printed), if served.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn the_scrape_says_what_is_overdue_unconfirmed_and_silent_and_serves_every_alerted_metric() {
    for backend in support::every_backend().await {
        // A connector nobody answers: its deliveries stay open.
        let server = tablet::serve_custom(backend.storage.clone(), |state| {
            state.metrics_token = Some(TOKEN.into());
            state.connectors = Arc::new(vec!["mdm".to_owned()]);
        })
        .await;
        let manager = tablet::sign_in_manager(&server).await;
        let mut tablet_a = SimTablet::enroll(&server, &manager, 91).await;
        let start = baton_server::sync::now_ms() - 3_600_000;
        // D-0001 out and back (a revocation, its delivery to `mdm` open); D-0002 out with an
        // expected return an hour ago (overdue).
        let events = [
            tablet_a.sign(tablet::check_out("D-0001", "S-0005"), start),
            tablet_a.sign(check_in("D-0001", "S-0005"), start + 1_000),
            tablet_a.sign(
                Body::CheckOut {
                    device: DeviceId::new("D-0002").unwrap(),
                    custodian: nurse("S-0006"),
                    ward: WardId::new("W-4E").unwrap(),
                    shift: None,
                    expected_return_ms: Some(start + 60_000),
                    purpose: None,
                    issued_by: None,
                },
                start + 2_000,
            ),
        ];
        tablet_a.push(&events).await;
        // A second tablet that last synced two days ago.
        let tablet_b = SimTablet::enroll(&server, &manager, 92).await;
        support::execute_sql(
            &backend.url,
            &format!(
                "UPDATE tablets SET last_sync_ms = {}, enrolled_at_ms = {} WHERE tablet_id = '{}'",
                start - 2 * 86_400_000,
                start - 2 * 86_400_000,
                tablet_b.tablet_id
            ),
        )
        .await;

        let text = scrape(&server.base_url).await;
        let site = "site=\"SITE-DEMO\"";
        assert_eq!(
            sample(
                &text,
                &format!("baton_devices{{{site},status=\"overdue\"}}")
            ),
            Some(1.0),
            "{text}"
        );
        assert_eq!(
            sample(&text, &format!("baton_tablets_active{{{site}}}")),
            Some(2.0)
        );
        assert_eq!(
            sample(&text, &format!("baton_tablets_silent{{{site}}}")),
            Some(1.0)
        );
        let open = sample(
            &text,
            &format!("baton_revocation_deliveries_open{{{site},status=\"pending\"}}"),
        )
        .or_else(|| {
            sample(
                &text,
                &format!("baton_revocation_deliveries_open{{{site},status=\"sent\"}}"),
            )
        });
        assert!(open.unwrap_or(0.0) >= 1.0, "{text}");
        let age = sample(
            &text,
            &format!("baton_revocation_oldest_open_age_seconds{{{site}}}"),
        )
        .unwrap();
        assert!((0.0..600.0).contains(&age), "{age}");
        assert!(
            sample(
                &text,
                "baton_http_responses_total{area=\"sync\",class=\"2xx\"}"
            )
            .unwrap()
                >= 1.0,
            "{text}"
        );

        // Every metric the example alert rules use is served.
        let rules = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../deploy/prometheus/baton-alerts.yml"),
        )
        .unwrap();
        let served: BTreeSet<&str> = text
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| line.split(['{', ' ']).next())
            .collect();
        let named: BTreeSet<String> = rules
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|word| word.starts_with("baton_"))
            .map(str::to_owned)
            .collect();
        assert!(!named.is_empty());
        for metric in &named {
            assert!(
                served.contains(metric.as_str()),
                "deploy/prometheus/baton-alerts.yml names {metric}, which /metrics does not serve"
            );
        }
    }
}
