//! Prometheus metrics at `/metrics`, in the text exposition format.
//!
//! Off unless the operator sets `--metrics-token`: the scraper then sends it as a bearer token.
//! Counts of events and rejections are not secret, but nothing non-public is served
//! unauthenticated.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::ApiError;

/// Upper bounds (seconds) of the push latency histogram's buckets.
const LATENCY_BUCKETS: [f64; 8] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0];

#[derive(Default)]
pub struct Metrics {
    receipts: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    push_requests: AtomicU64,
    pull_requests: AtomicU64,
    latency_buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_micros: AtomicU64,
}

impl Metrics {
    /// Counts one receipt: its status and, for a rejection, its reason code.
    pub fn count_receipt(&self, status: &'static str, reason: &'static str) {
        *self
            .receipts
            .lock()
            .expect("never poisoned")
            .entry((status, reason))
            .or_default() += 1;
    }

    pub fn observe_push(&self, seconds: f64) {
        self.push_requests.fetch_add(1, Ordering::Relaxed);
        for (bucket, bound) in self.latency_buckets.iter().zip(LATENCY_BUCKETS) {
            if seconds <= bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_sum_micros
            .fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
    }

    pub fn count_pull(&self) {
        self.pull_requests.fetch_add(1, Ordering::Relaxed);
    }

    pub fn render(&self) -> String {
        let mut text = String::new();
        text.push_str("# HELP baton_sync_receipts_total Events received by push, by receipt status and rejection reason.\n");
        text.push_str("# TYPE baton_sync_receipts_total counter\n");
        for ((status, reason), count) in self.receipts.lock().expect("never poisoned").iter() {
            let _ = writeln!(
                text,
                "baton_sync_receipts_total{{status=\"{status}\",reason=\"{reason}\"}} {count}"
            );
        }
        text.push_str("# HELP baton_sync_requests_total Sync requests served.\n# TYPE baton_sync_requests_total counter\n");
        let _ = writeln!(
            text,
            "baton_sync_requests_total{{route=\"push\"}} {}",
            self.push_requests.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            text,
            "baton_sync_requests_total{{route=\"pull\"}} {}",
            self.pull_requests.load(Ordering::Relaxed)
        );
        text.push_str(
            "# HELP baton_push_duration_seconds Time to verify, merge and durably store a push.\n",
        );
        text.push_str("# TYPE baton_push_duration_seconds histogram\n");
        for (bucket, bound) in self.latency_buckets.iter().zip(LATENCY_BUCKETS) {
            let _ = writeln!(
                text,
                "baton_push_duration_seconds_bucket{{le=\"{bound}\"}} {}",
                bucket.load(Ordering::Relaxed)
            );
        }
        let count = self.latency_count.load(Ordering::Relaxed);
        let _ = writeln!(
            text,
            "baton_push_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            text,
            "baton_push_duration_seconds_sum {}",
            self.latency_sum_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(text, "baton_push_duration_seconds_count {count}");
        text
    }
}

pub async fn metrics(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Some(expected) = state.metrics_token.as_deref() else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "Metrics are off; start the server with --metrics-token.",
        ));
    };
    let sent = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    // Compare hashes so that the comparison takes the same time whatever the guess.
    use sha2::{Digest, Sha256};
    let matches = sent
        .is_some_and(|sent| Sha256::digest(sent.as_bytes()) == Sha256::digest(expected.as_bytes()));
    if !matches {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "bad_metrics_token",
            "Send the metrics token as a bearer token.",
        ));
    }
    Ok((
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_the_histogram_render_in_the_exposition_format() {
        let metrics = Metrics::default();
        metrics.count_receipt("accepted", "");
        metrics.count_receipt("accepted", "");
        metrics.count_receipt("rejected", "bad_signature");
        metrics.observe_push(0.02);
        let text = metrics.render();
        assert!(
            text.contains("baton_sync_receipts_total{status=\"accepted\",reason=\"\"} 2"),
            "{text}"
        );
        assert!(
            text.contains(
                "baton_sync_receipts_total{status=\"rejected\",reason=\"bad_signature\"} 1"
            )
        );
        assert!(text.contains("baton_push_duration_seconds_bucket{le=\"0.01\"} 0"));
        assert!(text.contains("baton_push_duration_seconds_bucket{le=\"0.025\"} 1"));
        assert!(text.contains("baton_push_duration_seconds_count 1"));
    }
}
