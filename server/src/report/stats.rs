//! The report's arithmetic, each piece a plain function of plain data: percentiles, handoffs per
//! shift and the overdue series.

use baton_core::rules::SiteRules;
use serde::Serialize;

use super::civil_time::{MS_PER_DAY, MS_PER_MINUTE, local_date};

/// The most points the overdue series samples in a range.
pub const OVERDUE_SERIES_POINTS: u64 = 60;

/// The median and 95th percentile of a sample, by the nearest-rank method (the smallest value
/// with at least p% of the sample at or below it), so that each is a value that occurred.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Spread {
    pub median: Option<u64>,
    pub p95: Option<u64>,
    pub samples: usize,
}

pub fn spread(mut values: Vec<u64>) -> Spread {
    values.sort_unstable();
    Spread {
        median: nearest_rank(&values, 50),
        p95: nearest_rank(&values, 95),
        samples: values.len(),
    }
}

/// The nearest-rank percentile of sorted `values`; `None` for an empty sample.
pub fn nearest_rank(sorted: &[u64], percent: u64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (percent * sorted.len() as u64).div_ceil(100).max(1);
    Some(sorted[rank as usize - 1])
}

/// One occurrence of one of the site's shifts and the handoffs made during it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShiftCount {
    pub start_ms: u64,
    /// The local date the shift starts on and its name, such as `2025-03-10 night`.
    pub label: String,
    pub count: usize,
}

/// Every occurrence of the site's shifts that overlaps `from_ms..to_ms`, in start order, each
/// with the number of `times` (within the range) that fall in it. Where shifts overlap (a
/// handover), a time counts for the shift that started last; a time outside every shift counts
/// for none.
pub fn per_shift(rules: &SiteRules, from_ms: u64, to_ms: u64, times: &[u64]) -> Vec<ShiftCount> {
    let offset_ms = i64::from(rules.utc_offset_minutes) * MS_PER_MINUTE;
    let (from, to) = (from_ms as i64, to_ms as i64);
    // Local days from the one before the range (a night shift runs past midnight) to its end.
    let first_day = (from + offset_ms).div_euclid(MS_PER_DAY) - 1;
    let last_day = (to + offset_ms).div_euclid(MS_PER_DAY);
    let mut occurrences: Vec<(i64, i64, String)> = Vec::new();
    for day in first_day..=last_day {
        for shift in &rules.shifts {
            let start =
                day * MS_PER_DAY + i64::from(shift.start_minute_of_day) * MS_PER_MINUTE - offset_ms;
            let end = start + i64::from(shift.duration_minutes) * MS_PER_MINUTE;
            if start < to && end > from && start >= 0 {
                let label = format!(
                    "{} {}",
                    local_date(start, rules.utc_offset_minutes),
                    shift.name
                );
                occurrences.push((start, end, label));
            }
        }
    }
    occurrences.sort();
    let mut counts = vec![0_usize; occurrences.len()];
    for &time in times
        .iter()
        .filter(|&&time| from_ms <= time && time < to_ms)
    {
        let time = time as i64;
        let containing = occurrences
            .iter()
            .rposition(|(start, end, _)| *start <= time && time < *end);
        if let Some(occurrence_idx) = containing {
            counts[occurrence_idx] += 1;
        }
    }
    occurrences
        .into_iter()
        .zip(counts)
        .map(|((start, _, label), count)| ShiftCount {
            start_ms: start as u64,
            label,
            count,
        })
        .collect()
}

/// A custody as the overdue series needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CustodySpan {
    pub start_ms: u64,
    pub expected_return_ms: u64,
    /// `None` while the custody is open.
    pub end_ms: Option<u64>,
}

impl CustodySpan {
    /// Overdue at `at_ms`: taken by then, due before then, and not ended by then.
    pub fn is_overdue_at(&self, at_ms: u64) -> bool {
        self.start_ms <= at_ms
            && self.expected_return_ms < at_ms
            && self.end_ms.is_none_or(|end_ms| end_ms > at_ms)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct OverduePoint {
    pub at_ms: u64,
    pub count: usize,
}

/// How many custodies were overdue at evenly spaced instants of `from_ms..=to_ms`: at most
/// `OVERDUE_SERIES_POINTS`, the last one at `to_ms`, none after `now_ms` (the future is not
/// known yet).
pub fn overdue_series(
    custodies: &[CustodySpan],
    from_ms: u64,
    to_ms: u64,
    now_ms: u64,
) -> Vec<OverduePoint> {
    let span = to_ms.saturating_sub(from_ms);
    let n_points = OVERDUE_SERIES_POINTS.min(span);
    let mut series: Vec<OverduePoint> = Vec::with_capacity(n_points as usize);
    for point_idx in 1..=n_points {
        let at_ms = from_ms + span * point_idx / n_points;
        if at_ms > now_ms {
            break;
        }
        let count = custodies
            .iter()
            .filter(|custody| custody.is_overdue_at(at_ms))
            .count();
        series.push(OverduePoint { at_ms, count });
    }
    series
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_core::rules::Shift;

    const HOUR: u64 = 3_600_000;
    /// 2025-03-10T00:00:00Z.
    const MIDNIGHT: u64 = 1_741_564_800_000;

    #[test]
    fn percentiles_are_values_of_the_sample_by_nearest_rank() {
        assert_eq!(
            spread(Vec::new()),
            Spread {
                median: None,
                p95: None,
                samples: 0
            }
        );
        assert_eq!(
            spread(vec![7]),
            Spread {
                median: Some(7),
                p95: Some(7),
                samples: 1
            }
        );
        // 1..=20 shuffled: rank ceil(0.5 * 20) = 10 and ceil(0.95 * 20) = 19.
        let values: Vec<u64> = (1..=20).map(|value| (value * 7) % 20 + 1).collect();
        assert_eq!(
            spread(values),
            Spread {
                median: Some(10),
                p95: Some(19),
                samples: 20
            }
        );
        assert_eq!(nearest_rank(&[1, 2, 3, 1000], 95), Some(1000));
        assert_eq!(nearest_rank(&[1, 2, 3, 1000], 50), Some(2));
    }

    fn two_shifts(utc_offset_minutes: i32) -> SiteRules {
        SiteRules {
            utc_offset_minutes,
            shifts: vec![
                Shift {
                    name: "day".to_owned(),
                    start_minute_of_day: 7 * 60,
                    duration_minutes: 12 * 60 + 30,
                },
                Shift {
                    name: "night".to_owned(),
                    start_minute_of_day: 19 * 60,
                    duration_minutes: 12 * 60 + 30,
                },
            ],
            ..SiteRules::default()
        }
    }

    #[test]
    fn handoffs_count_for_the_shift_running_and_the_later_one_at_handover() {
        let rules = two_shifts(0);
        let times = [
            MIDNIGHT + 2 * HOUR,             // the night that began on the 9th
            MIDNIGHT + 8 * HOUR,             // day
            MIDNIGHT + 19 * HOUR + HOUR / 4, // handover: the night that just began
            MIDNIGHT + 23 * HOUR,            // night
            MIDNIGHT + 30 * HOUR,            // after the range: not counted
        ];
        let shifts = per_shift(&rules, MIDNIGHT, MIDNIGHT + 24 * HOUR, &times);
        let summary: Vec<(i64, &str, usize)> = shifts
            .iter()
            .map(|shift| {
                let hours = (shift.start_ms as i64 - MIDNIGHT as i64) / HOUR as i64;
                (hours, shift.label.as_str(), shift.count)
            })
            .collect();
        assert_eq!(
            summary,
            [
                (-5, "2025-03-09 night", 1),
                (7, "2025-03-10 day", 1),
                (19, "2025-03-10 night", 2)
            ]
        );
    }

    #[test]
    fn shifts_follow_the_site_offset_and_gaps_count_for_no_shift() {
        // A single 07:00 to 15:00 shift in UTC+2: 05:00Z to 13:00Z.
        let rules = SiteRules {
            utc_offset_minutes: 120,
            shifts: vec![Shift {
                name: "early".to_owned(),
                start_minute_of_day: 7 * 60,
                duration_minutes: 8 * 60,
            }],
            ..SiteRules::default()
        };
        let times = [MIDNIGHT + 5 * HOUR, MIDNIGHT + 14 * HOUR];
        let shifts = per_shift(&rules, MIDNIGHT, MIDNIGHT + 24 * HOUR, &times);
        assert_eq!(
            shifts,
            [ShiftCount {
                start_ms: MIDNIGHT + 5 * HOUR,
                label: "2025-03-10 early".to_owned(),
                count: 1
            }]
        );
        assert!(
            per_shift(
                &SiteRules {
                    shifts: Vec::new(),
                    ..rules
                },
                MIDNIGHT,
                MIDNIGHT + HOUR,
                &times
            )
            .is_empty()
        );
    }

    #[test]
    fn a_custody_is_overdue_from_its_due_time_until_it_ends() {
        let returned = CustodySpan {
            start_ms: MIDNIGHT,
            expected_return_ms: MIDNIGHT + 10 * HOUR,
            end_ms: Some(MIDNIGHT + 13 * HOUR),
        };
        let open = CustodySpan {
            start_ms: MIDNIGHT + 20 * HOUR,
            expected_return_ms: MIDNIGHT + 21 * HOUR,
            end_ms: None,
        };
        assert!(!returned.is_overdue_at(MIDNIGHT + 10 * HOUR));
        assert!(returned.is_overdue_at(MIDNIGHT + 10 * HOUR + 1));
        assert!(!returned.is_overdue_at(MIDNIGHT + 13 * HOUR));
        let series = overdue_series(&[returned, open], MIDNIGHT, MIDNIGHT + 24 * HOUR, u64::MAX);
        assert_eq!(series.len(), 60);
        assert_eq!(series.last().unwrap().at_ms, MIDNIGHT + 24 * HOUR);
        let counts_at = |hours_times_10: u64| {
            series
                .iter()
                .find(|point| point.at_ms == MIDNIGHT + hours_times_10 * HOUR / 10)
                .unwrap()
                .count
        };
        // Points every 24 minutes: 10:00 (due, not yet overdue), 12:00, 22:00, 24:00.
        assert_eq!(counts_at(100), 0);
        assert_eq!(counts_at(120), 1);
        assert_eq!(counts_at(220), 1);
        assert_eq!(counts_at(240), 1);
    }

    #[test]
    fn the_series_stops_at_now_and_never_has_more_points_than_milliseconds() {
        let series = overdue_series(&[], MIDNIGHT, MIDNIGHT + 24 * HOUR, MIDNIGHT + 12 * HOUR);
        assert_eq!(series.len(), 30);
        assert!(
            series
                .iter()
                .all(|point| point.at_ms <= MIDNIGHT + 12 * HOUR && point.count == 0)
        );
        let tiny = overdue_series(&[], 1_000, 1_003, u64::MAX);
        let instants: Vec<u64> = tiny.iter().map(|point| point.at_ms).collect();
        assert_eq!(instants, [1_001, 1_002, 1_003]);
    }
}
