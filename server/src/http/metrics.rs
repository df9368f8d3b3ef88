//! Prometheus metrics at `/metrics`, in the text exposition format.
//!
//! Off unless the operator sets `--metrics-token`: the scraper then sends it as a bearer token.
//! Counts of events and rejections are not secret, but nothing non-public is served
//! unauthenticated.
//!
//! Two kinds: counters this process keeps (receipts, requests, responses by area and class,
//! witness alarms), and gauges read from the database and the site replicas at each scrape
//! (revocations not yet confirmed and the age of the oldest, devices overdue or missing, tablets
//! silent for longer than a shift), so that every replica behind a load balancer reports the
//! same site-wide figures. The example alert rules are in `deploy/prometheus/baton-alerts.yml`
//! (docs/OPERATIONS.md §6).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use baton_core::state::DeviceStatus;

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
    /// Answers by API area and status class.
    responses: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    witness_alarms: AtomicU64,
    deferred_pushes: AtomicU64,
    /// Commits of grouped pushes (`push_batch.rs`), and the pushes they applied.
    push_groups: AtomicU64,
    grouped_pushes: AtomicU64,
    /// Time those groups held their site's lock, folding and storing (microseconds).
    group_fold_micros: AtomicU64,
    group_store_micros: AtomicU64,
}

/// The API area of a path, for the responses counter (a fixed, small label set).
fn area_of(path: &str) -> &'static str {
    if path.starts_with("/api/v1/sync/") {
        "sync"
    } else if path.starts_with("/api/v1/ledger/") {
        "ledger"
    } else if path.starts_with("/api/v1/dashboard/") || path.starts_with("/api/v1/admin/") {
        "dashboard"
    } else if path.starts_with("/api/v1/auth/") || path == "/api/v1/enroll" {
        "auth"
    } else if path.starts_with("/api/v1/tokens") || path.starts_with("/oauth/") {
        "tokens"
    } else if path.starts_with("/api/") {
        "other_api"
    } else {
        "static"
    }
}

fn class_of(status: StatusCode) -> &'static str {
    match status.as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// Counts every answer by area and status class: the sync error rate of the alert rules.
pub async fn count_responses(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let area = area_of(request.uri().path());
    let response = next.run(request).await;
    *state
        .metrics
        .responses
        .lock()
        .expect("never poisoned")
        .entry((area, class_of(response.status())))
        .or_default() += 1;
    response
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

    /// A push told to come back later because its site's queue was full (`admission.rs`).
    pub fn count_deferred_push(&self) {
        self.deferred_pushes.fetch_add(1, Ordering::Relaxed);
    }

    /// One group of `n_pushes` pushes applied and committed together, which held its site's
    /// lock for `fold` (verifying what was not verified before, merging) and then `store` (the
    /// transaction).
    pub fn count_push_group(&self, n_pushes: usize, fold: Duration, store: Duration) {
        self.push_groups.fetch_add(1, Ordering::Relaxed);
        self.grouped_pushes
            .fetch_add(n_pushes as u64, Ordering::Relaxed);
        self.group_fold_micros
            .fetch_add(fold.as_micros() as u64, Ordering::Relaxed);
        self.group_store_micros
            .fetch_add(store.as_micros() as u64, Ordering::Relaxed);
    }

    /// (groups committed, pushes they applied) so far.
    pub fn push_groups(&self) -> (u64, u64) {
        (
            self.push_groups.load(Ordering::Relaxed),
            self.grouped_pushes.load(Ordering::Relaxed),
        )
    }

    /// A tablet reported evidence of a rewritten or forked ledger (docs/PROTOCOL.md §3.7).
    pub fn count_witness_alarm(&self) {
        self.witness_alarms.fetch_add(1, Ordering::Relaxed);
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
        text.push_str("# HELP baton_sync_pushes_deferred_total Pushes answered 503 sync_busy because their site's queue was full.\n# TYPE baton_sync_pushes_deferred_total counter\n");
        let _ = writeln!(
            text,
            "baton_sync_pushes_deferred_total {}",
            self.deferred_pushes.load(Ordering::Relaxed)
        );
        let (groups, grouped) = self.push_groups();
        text.push_str("# HELP baton_sync_push_groups_total Transactions that applied a group of a site's waiting pushes.\n# TYPE baton_sync_push_groups_total counter\n");
        let _ = writeln!(text, "baton_sync_push_groups_total {groups}");
        text.push_str("# HELP baton_sync_grouped_pushes_total Pushes applied by those transactions (divided by the groups: the mean group size).\n# TYPE baton_sync_grouped_pushes_total counter\n");
        let _ = writeln!(text, "baton_sync_grouped_pushes_total {grouped}");
        text.push_str("# HELP baton_sync_push_group_lock_seconds_total Time push groups held their site's lock, by phase: its rate near 1 means the site's pushes are applied back to back.\n# TYPE baton_sync_push_group_lock_seconds_total counter\n");
        for (phase, micros) in [
            ("fold", &self.group_fold_micros),
            ("store", &self.group_store_micros),
        ] {
            let _ = writeln!(
                text,
                "baton_sync_push_group_lock_seconds_total{{phase=\"{phase}\"}} {}",
                micros.load(Ordering::Relaxed) as f64 / 1e6
            );
        }
        text.push_str("# HELP baton_http_responses_total Answers by API area and status class.\n# TYPE baton_http_responses_total counter\n");
        for ((area, class), count) in self.responses.lock().expect("never poisoned").iter() {
            let _ = writeln!(
                text,
                "baton_http_responses_total{{area=\"{area}\",class=\"{class}\"}} {count}"
            );
        }
        text.push_str("# HELP baton_ledger_witness_alarms_total Witness alarms tablets reported to this process: evidence of a rewritten or forked ledger.\n# TYPE baton_ledger_witness_alarms_total counter\n");
        let _ = writeln!(
            text,
            "baton_ledger_witness_alarms_total {}",
            self.witness_alarms.load(Ordering::Relaxed)
        );
        text
    }
}

/// A label value in the exposition format: backslash, quote and newline escaped.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The gauges read at scrape time, for every site.
async fn site_gauges(state: &AppState, now_ms: u64) -> Result<String, ApiError> {
    let unavailable = ApiError::storage;
    let mut text = String::new();
    let open = state.storage.open_deliveries().await.map_err(unavailable)?;
    text.push_str("# HELP baton_revocation_deliveries_open Revocation deliveries not yet confirmed, by site and status (failed: given up, the dashboard shows a critical exception).\n# TYPE baton_revocation_deliveries_open gauge\n");
    for row in &open {
        let _ = writeln!(
            text,
            "baton_revocation_deliveries_open{{site=\"{}\",status=\"{}\"}} {}",
            label(&row.site_id),
            label(&row.status),
            row.count
        );
    }
    text.push_str("# HELP baton_revocation_oldest_open_age_seconds Age of the oldest revocation with a delivery still pending or sent: access not yet confirmed closed.\n# TYPE baton_revocation_oldest_open_age_seconds gauge\n");
    let mut oldest: BTreeMap<&str, i64> = BTreeMap::new();
    for row in open.iter().filter(|row| row.status != "failed") {
        let entry = oldest.entry(&row.site_id).or_insert(i64::MAX);
        *entry = (*entry).min(row.oldest_created_at_ms);
    }
    let sites = state.storage.list_site_ids().await.map_err(unavailable)?;
    for site_id in &sites {
        let age_s = oldest.get(site_id.as_str()).map_or(0.0, |created| {
            (now_ms as i64 - created).max(0) as f64 / 1_000.0
        });
        let _ = writeln!(
            text,
            "baton_revocation_oldest_open_age_seconds{{site=\"{}\"}} {age_s:.3}",
            label(site_id)
        );
    }

    text.push_str("# HELP baton_devices Devices with a custody history, by site and board status.\n# TYPE baton_devices gauge\n");
    let mut tablet_lines = String::new();
    for site_id in &sites {
        let (counts, longest_shift_ms) = {
            let guard = state.replicas.lock(state.storage.as_ref(), site_id).await?;
            let mut counts: BTreeMap<DeviceStatus, u64> = [
                DeviceStatus::InUse,
                DeviceStatus::Overdue,
                DeviceStatus::Missing,
                DeviceStatus::Quarantined,
            ]
            .into_iter()
            .map(|status| (status, 0))
            .collect();
            for device in guard.replica.custody().devices() {
                if let Some(count) = counts.get_mut(&device.status(now_ms)) {
                    *count += 1;
                }
            }
            let longest_shift_ms = guard
                .config
                .rules
                .shifts
                .iter()
                .map(|shift| u64::from(shift.duration_minutes) * 60_000)
                .max()
                .unwrap_or(DEFAULT_SHIFT_MS);
            (counts, longest_shift_ms)
        };
        for (status, count) in counts {
            let name = serde_json::to_value(status)
                .ok()
                .and_then(|value| value.as_str().map(str::to_owned))
                .unwrap_or_default();
            let _ = writeln!(
                text,
                "baton_devices{{site=\"{}\",status=\"{name}\"}} {count}",
                label(site_id)
            );
        }
        let tablets = state
            .storage
            .list_tablets(site_id)
            .await
            .map_err(unavailable)?;
        let active: Vec<_> = tablets
            .iter()
            .filter(|tablet| tablet.revoked_from_ms.is_none())
            .collect();
        let silent = active
            .iter()
            .filter(|tablet| {
                let seen = tablet.last_sync_ms.unwrap_or(tablet.enrolled_at_ms);
                (now_ms as i64 - seen) > longest_shift_ms as i64
            })
            .count();
        let _ = writeln!(
            tablet_lines,
            "baton_tablets_active{{site=\"{}\"}} {}\nbaton_tablets_silent{{site=\"{}\"}} {silent}",
            label(site_id),
            active.len(),
            label(site_id)
        );
    }
    text.push_str("# HELP baton_tablets_active Enrolled tablets not decommissioned, by site.\n# TYPE baton_tablets_active gauge\n# HELP baton_tablets_silent Active tablets that have not synced for longer than the site's longest shift.\n# TYPE baton_tablets_silent gauge\n");
    text.push_str(&tablet_lines);
    Ok(text)
}

/// When a site defines no shift: 12.5 hours, the default rules' shift.
const DEFAULT_SHIFT_MS: u64 = 750 * 60_000;

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
    let mut text = state.metrics.render();
    text.push_str(&site_gauges(&state, crate::sync::now_ms()).await?);
    Ok(([(CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
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
