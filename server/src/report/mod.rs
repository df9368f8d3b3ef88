//! The site report behind the dashboard's charts and the printable evidence report, and the
//! custody CSV for auditors. Everything here is a function of data already read (the fold,
//! revocations, reviews); `http::reports` reads it and serves the result.
//!
//! # Layout
//! - `stats`: percentiles, handoffs per shift, the overdue series.
//! - `civil_time`: calendar dates and RFC 3339 times from epoch milliseconds.
//! - `custody_csv`: the CSV file, with cells a spreadsheet cannot evaluate.
//! - `controls`: which figures evidence which NIST CSF 2.0 and OWASP NHI controls.

pub mod civil_time;
mod controls;
pub mod custody_csv;
pub mod stats;

use std::collections::BTreeMap;

use baton_core::exceptions::{Exception, ExceptionKind};
use baton_core::fold::CustodyState;
use serde::Serialize;

use crate::storage::{ExceptionReviewRecord, RevocationRecord};
pub use controls::{CONTROLS, Control};
use stats::{CustodySpan, OverduePoint, ShiftCount, Spread};

pub const DAY_MS: u64 = 24 * 60 * 60 * 1000;
/// The range a report covers when the request names none.
pub const DEFAULT_RANGE_MS: u64 = 7 * DAY_MS;
/// The longest range a report may cover: a year, leap day included.
pub const MAX_RANGE_MS: u64 = 366 * DAY_MS;
/// The body types that hand a device from one person to another.
pub const HANDOFF_TYPES: [&str; 4] = ["check_out", "check_in", "transfer", "break_glass"];

/// The range `from_ms..to_ms` a request asks for: by default the 7 days up to `now_ms`, or the
/// 7 days on either side of the one bound given. Refused unless `from_ms < to_ms` and the range
/// spans at most `MAX_RANGE_MS`.
pub fn requested_range(
    from_ms: Option<u64>,
    to_ms: Option<u64>,
    now_ms: u64,
) -> Result<(u64, u64), String> {
    let (from_ms, to_ms) = match (from_ms, to_ms) {
        (Some(from_ms), Some(to_ms)) => (from_ms, to_ms),
        (Some(from_ms), None) => (from_ms, from_ms.saturating_add(DEFAULT_RANGE_MS)),
        (None, Some(to_ms)) => (to_ms.saturating_sub(DEFAULT_RANGE_MS), to_ms),
        (None, None) => (now_ms.saturating_sub(DEFAULT_RANGE_MS), now_ms),
    };
    if from_ms >= to_ms {
        return Err(format!(
            "from_ms ({from_ms}) must be before to_ms ({to_ms})."
        ));
    }
    if to_ms - from_ms > MAX_RANGE_MS {
        return Err(format!(
            "A report covers at most 366 days; this range spans {} ms.",
            to_ms - from_ms
        ));
    }
    Ok((from_ms, to_ms))
}

/// What a report is computed from.
pub struct ReportInput<'a> {
    pub site_id: &'a str,
    pub from_ms: u64,
    pub to_ms: u64,
    pub now_ms: u64,
    /// The site's fold: events (timelines), custody intervals and rules.
    pub custody: &'a CustodyState,
    /// The site's exceptions at `now_ms`.
    pub exceptions: &'a [Exception],
    /// Reviews by exception key, oldest first.
    pub reviews: &'a BTreeMap<String, Vec<ExceptionReviewRecord>>,
    /// The revocations created in the range.
    pub revocations: &'a [RevocationRecord],
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub site_id: String,
    pub from_ms: u64,
    pub to_ms: u64,
    pub generated_at_ms: u64,
    pub handoffs: Handoffs,
    pub revocation: Revocation,
    pub overdue: Overdue,
    /// Reports of a device missing made in the range.
    pub missing: usize,
    /// Break-glass accesses in the range (the `break_glass_used` exceptions).
    pub break_glass: usize,
    pub exceptions: Exceptions,
    pub controls: &'static [Control],
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Handoffs {
    pub total: usize,
    pub by_type: BTreeMap<&'static str, usize>,
    pub per_shift: Vec<ShiftCount>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Revocation {
    /// Custodies whose access had to be closed (revocations created in the range).
    pub custody_ends: usize,
    /// Every connector confirmed.
    pub confirmed: usize,
    pub confirmed_share: Option<f64>,
    /// At least one connector gave up (the dead letter).
    pub failed: usize,
    /// Neither: some connector is still trying.
    pub pending: usize,
    /// From the revocation's creation to its last connector's confirmation.
    pub confirm_ms: Spread,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Overdue {
    /// Custodies overdue at `generated_at_ms`.
    pub now: usize,
    pub series: Vec<OverduePoint>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Exceptions {
    /// The exceptions that arose in the range, by kind (every kind listed).
    pub by_kind: BTreeMap<&'static str, usize>,
    pub opened: usize,
    /// Of those, the ones whose latest review resolved them.
    pub resolved: usize,
    /// How long the unresolved ones have been open at `generated_at_ms`.
    pub age_ms: Age,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Age {
    pub median: Option<u64>,
    pub p95: Option<u64>,
}

fn in_range(input: &ReportInput<'_>, ms: u64) -> bool {
    input.from_ms <= ms && ms < input.to_ms
}

pub fn build(input: &ReportInput<'_>) -> Report {
    let custody = input.custody;
    let mut by_type: BTreeMap<&'static str, usize> = HANDOFF_TYPES
        .iter()
        .map(|&body_type| (body_type, 0))
        .collect();
    let mut handoff_times = Vec::new();
    let mut missing = 0;
    let mut spans = Vec::new();
    for device in custody.devices() {
        // Voided events (a correction undid them) did not happen.
        for entry in custody.timeline(&device.device) {
            if entry.voided_by.is_some() || !in_range(input, entry.hlc.ms) {
                continue;
            }
            if let Some(count) = by_type.get_mut(entry.body_type.as_str()) {
                *count += 1;
                handoff_times.push(entry.hlc.ms);
            } else if entry.body_type == "report_missing" {
                missing += 1;
            }
        }
        spans.extend(device.intervals.iter().map(|interval| CustodySpan {
            start_ms: interval.start_ms,
            expected_return_ms: interval.expected_return_ms,
            end_ms: interval.end.as_ref().map(|end| end.end_ms),
        }));
    }
    let handoffs = Handoffs {
        total: handoff_times.len(),
        by_type,
        per_shift: stats::per_shift(custody.rules(), input.from_ms, input.to_ms, &handoff_times),
    };
    let overdue = Overdue {
        now: spans
            .iter()
            .filter(|span| span.end_ms.is_none() && span.expected_return_ms < input.now_ms)
            .count(),
        series: stats::overdue_series(&spans, input.from_ms, input.to_ms, input.now_ms),
    };
    Report {
        site_id: input.site_id.to_owned(),
        from_ms: input.from_ms,
        to_ms: input.to_ms,
        generated_at_ms: input.now_ms,
        handoffs,
        revocation: revocation_figures(input.revocations),
        overdue,
        missing,
        break_glass: input
            .exceptions
            .iter()
            .filter(|exception| {
                exception.kind == ExceptionKind::BreakGlassUsed && in_range(input, exception.at_ms)
            })
            .count(),
        exceptions: exception_figures(input),
        controls: CONTROLS,
    }
}

fn revocation_figures(revocations: &[RevocationRecord]) -> Revocation {
    let (mut confirmed, mut failed, mut pending) = (0, 0, 0);
    let mut confirm_times = Vec::new();
    for revocation in revocations {
        // Deliveries cancelled because an admin disabled their connector are left out: the
        // revocation counts by the connectors it still had.
        let deliveries: Vec<_> = revocation
            .deliveries
            .iter()
            .filter(|delivery| delivery.status != "cancelled")
            .collect();
        if deliveries
            .iter()
            .any(|delivery| delivery.status == "failed")
        {
            failed += 1;
        } else if !deliveries.is_empty()
            && deliveries
                .iter()
                .all(|delivery| delivery.status == "confirmed")
        {
            confirmed += 1;
            let last_confirmed_ms = deliveries
                .iter()
                .map(|delivery| delivery.updated_at_ms)
                .max()
                .unwrap_or(revocation.created_at_ms);
            confirm_times.push(last_confirmed_ms.saturating_sub(revocation.created_at_ms) as u64);
        } else {
            pending += 1;
        }
    }
    let custody_ends = revocations.len();
    Revocation {
        custody_ends,
        confirmed,
        confirmed_share: (custody_ends > 0).then(|| confirmed as f64 / custody_ends as f64),
        failed,
        pending,
        confirm_ms: stats::spread(confirm_times),
    }
}

fn exception_figures(input: &ReportInput<'_>) -> Exceptions {
    let mut by_kind: BTreeMap<&'static str, usize> = ExceptionKind::ALL
        .iter()
        .map(|kind| (kind.name(), 0))
        .collect();
    let (mut opened, mut resolved) = (0, 0);
    let mut open_ages = Vec::new();
    for exception in input
        .exceptions
        .iter()
        .filter(|exception| in_range(input, exception.at_ms))
    {
        *by_kind.entry(exception.kind.name()).or_default() += 1;
        opened += 1;
        let is_resolved = input
            .reviews
            .get(&exception.key())
            .and_then(|history| history.last())
            .is_some_and(|review| review.state == "resolved");
        if is_resolved {
            resolved += 1;
        } else {
            open_ages.push(input.now_ms.saturating_sub(exception.at_ms));
        }
    }
    let spread = stats::spread(open_ages);
    Exceptions {
        by_kind,
        opened,
        resolved,
        age_ms: Age {
            median: spread.median,
            p95: spread.p95,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_741_564_800_000;

    #[test]
    fn the_range_defaults_to_the_last_week_and_is_bounded() {
        assert_eq!(
            requested_range(None, None, NOW),
            Ok((NOW - 7 * DAY_MS, NOW))
        );
        assert_eq!(
            requested_range(Some(NOW), None, NOW),
            Ok((NOW, NOW + 7 * DAY_MS))
        );
        assert_eq!(
            requested_range(None, Some(NOW), NOW + DAY_MS),
            Ok((NOW - 7 * DAY_MS, NOW))
        );
        assert_eq!(
            requested_range(Some(NOW - 366 * DAY_MS), Some(NOW), NOW),
            Ok((NOW - 366 * DAY_MS, NOW))
        );
        assert!(requested_range(Some(NOW - 366 * DAY_MS - 1), Some(NOW), NOW).is_err());
        assert!(requested_range(Some(NOW), Some(NOW), NOW).is_err());
        assert!(requested_range(Some(NOW + 1), Some(NOW), NOW).is_err());
    }

    fn revocation(created_at_ms: i64, deliveries: &[(&str, i64)]) -> RevocationRecord {
        RevocationRecord {
            revocation_id: created_at_ms,
            device_id: "D-0001".to_owned(),
            staff_id: "S-0001".to_owned(),
            opened_by: "a".repeat(64),
            ended_by: None,
            reason: "checked_in".to_owned(),
            created_at_ms,
            deliveries: deliveries
                .iter()
                .map(|&(status, updated_at_ms)| crate::storage::DeliveryRecord {
                    connector: format!("c-{updated_at_ms}"),
                    status: status.to_owned(),
                    attempts: 1,
                    last_error: None,
                    detail: None,
                    updated_at_ms,
                })
                .collect(),
        }
    }

    #[test]
    fn revocations_are_confirmed_when_every_connector_confirmed() {
        let figures = revocation_figures(&[
            revocation(1_000, &[("confirmed", 1_000), ("confirmed", 1_250)]),
            revocation(2_000, &[("confirmed", 2_000), ("confirmed", 2_900)]),
            revocation(3_000, &[("confirmed", 3_000), ("pending", 3_000)]),
            revocation(4_000, &[("confirmed", 4_000), ("failed", 9_000)]),
            // A delivery cancelled when its connector was disabled (late, at 99 s) leaves the
            // revocation confirmed by the rest, timed by the rest.
            revocation(
                5_000,
                &[
                    ("confirmed", 5_000),
                    ("confirmed", 5_400),
                    ("cancelled", 99_000),
                ],
            ),
        ]);
        assert_eq!(
            figures,
            Revocation {
                custody_ends: 5,
                confirmed: 3,
                confirmed_share: Some(0.6),
                failed: 1,
                pending: 1,
                confirm_ms: Spread {
                    median: Some(400),
                    p95: Some(900),
                    samples: 3
                },
            }
        );
        assert_eq!(revocation_figures(&[]).confirmed_share, None);
    }
}
