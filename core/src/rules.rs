//! Site rules: shifts, grace periods and tolerances that turn raw events into expectations, plus
//! the optional registry of devices' home wards.
//!
//! Rules are inputs to the fold, not part of the signed record: a site can change its shift
//! pattern and re-fold the same history.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ids::{DeviceId, WardId};

const MS_PER_MINUTE: i64 = 60_000;
const MS_PER_DAY: i64 = 24 * 60 * MS_PER_MINUTE;

/// A named shift that repeats every day at the same local time.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shift {
    pub name: String,
    /// Local start time, in minutes after midnight (0..1440).
    pub start_minute_of_day: u16,
    /// A night shift may run past midnight.
    pub duration_minutes: u16,
}

/// How a site works.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteRules {
    /// The site's offset from UTC. A fixed offset keeps the fold a pure function of its inputs;
    /// a site that observes daylight saving time updates it twice a year, and expected returns
    /// computed across the change are an hour off.
    pub utc_offset_minutes: i32,
    pub shifts: Vec<Shift>,
    /// Added to the end of a shift before a device counts as overdue.
    pub grace_minutes: u32,
    /// Largest tolerated difference between an event's `wall_ms` and `hlc.ms` before the signer's
    /// clock is reported as skewed.
    pub max_clock_skew_ms: u64,
    /// How long an event may wait for its predecessor before the gap is reported.
    pub persistent_gap_after_ms: u64,
}

impl Default for SiteRules {
    /// Two 12.5-hour shifts overlapping by half an hour for handover, UTC, 30 minutes of grace,
    /// five minutes of clock skew and one hour for a gap to fill.
    fn default() -> SiteRules {
        SiteRules {
            utc_offset_minutes: 0,
            shifts: vec![
                Shift {
                    name: "day".to_owned(),
                    start_minute_of_day: 7 * 60,
                    duration_minutes: 750,
                },
                Shift {
                    name: "night".to_owned(),
                    start_minute_of_day: 19 * 60,
                    duration_minutes: 750,
                },
            ],
            grace_minutes: 30,
            max_clock_skew_ms: 5 * 60_000,
            persistent_gap_after_ms: 60 * 60_000,
        }
    }
}

impl SiteRules {
    /// When a device checked out at `checkout_ms` for `shift` is due back.
    ///
    /// With a known shift name: the end of that shift's occurrence containing the check-out,
    /// or of its next occurrence when the device is taken before the shift starts, plus grace.
    /// Without one: the check-out time plus the longest shift plus one hour, the practice of the
    /// wards Baton was designed with.
    pub fn expected_return_ms(&self, checkout_ms: u64, shift: Option<&str>) -> u64 {
        let known_shift =
            shift.and_then(|name| self.shifts.iter().find(|candidate| candidate.name == name));
        let Some(shift) = known_shift else {
            let longest_minutes = self
                .shifts
                .iter()
                .map(|shift| u64::from(shift.duration_minutes))
                .max()
                .unwrap_or(0);
            return checkout_ms.saturating_add((longest_minutes + 60) * 60_000);
        };
        let offset_ms = i64::from(self.utc_offset_minutes) * MS_PER_MINUTE;
        // Timestamps are below 2^53, so local times fit an i64 with room to spare.
        let local_ms = checkout_ms as i64 + offset_ms;
        let local_day = local_ms.div_euclid(MS_PER_DAY);
        let duration_ms = i64::from(shift.duration_minutes) * MS_PER_MINUTE;
        let start_on =
            |day: i64| day * MS_PER_DAY + i64::from(shift.start_minute_of_day) * MS_PER_MINUTE;
        let containing = (local_day - 1..=local_day)
            .map(start_on)
            .find(|&start_ms| start_ms <= local_ms && local_ms < start_ms + duration_ms);
        let start_ms = containing.unwrap_or_else(|| {
            (local_day..=local_day + 1)
                .map(start_on)
                .find(|&start_ms| start_ms > local_ms)
                .expect("a shift starts within a day")
        });
        let end_utc_ms =
            start_ms + duration_ms - offset_ms + i64::from(self.grace_minutes) * MS_PER_MINUTE;
        u64::try_from(end_utc_ms).unwrap_or(0)
    }
}

/// Devices' home wards, used to notice devices returned elsewhere.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DeviceRegistry {
    pub home_wards: BTreeMap<DeviceId, WardId>,
}

impl DeviceRegistry {
    pub fn home_ward(&self, device: &DeviceId) -> Option<&WardId> {
        self.home_wards.get(device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR_MS: u64 = 3_600_000;
    /// 2025-03-10T00:00:00Z, a Monday.
    const MIDNIGHT_MS: u64 = 1_741_564_800_000;

    fn expected_hours_after_midnight(
        rules: &SiteRules,
        checkout_hours: f64,
        shift: Option<&str>,
    ) -> f64 {
        let checkout_ms = MIDNIGHT_MS + (checkout_hours * HOUR_MS as f64) as u64;
        (rules.expected_return_ms(checkout_ms, shift) as f64 - MIDNIGHT_MS as f64) / HOUR_MS as f64
    }

    #[test]
    fn day_shift_checkout_is_due_at_the_end_of_the_shift_plus_grace() {
        let rules = SiteRules::default();
        // Day shift 07:00 to 19:30, grace 30 minutes.
        assert_eq!(
            expected_hours_after_midnight(&rules, 8.0, Some("day")),
            20.0
        );
        assert_eq!(
            expected_hours_after_midnight(&rules, 7.0, Some("day")),
            20.0
        );
    }

    #[test]
    fn night_shift_crossing_midnight_uses_the_occurrence_that_started_the_evening_before() {
        let rules = SiteRules::default();
        // Night shift 19:00 to 07:30; a check-out at 02:00 belongs to the shift that began at
        // 19:00 the day before and is due at 08:00.
        assert_eq!(
            expected_hours_after_midnight(&rules, 2.0, Some("night")),
            8.0
        );
        assert_eq!(
            expected_hours_after_midnight(&rules, 20.0, Some("night")),
            32.0
        );
    }

    #[test]
    fn early_checkout_before_the_shift_starts_uses_the_next_occurrence() {
        let rules = SiteRules::default();
        assert_eq!(
            expected_hours_after_midnight(&rules, 18.5, Some("night")),
            32.0
        );
        assert_eq!(
            expected_hours_after_midnight(&rules, 6.75, Some("day")),
            20.0
        );
    }

    #[test]
    fn utc_offset_shifts_the_local_day() {
        let rules = SiteRules {
            utc_offset_minutes: 60,
            ..SiteRules::default()
        };
        // 06:30 UTC is 07:30 local, inside the local day shift that ends 19:30 local, 18:30 UTC.
        assert_eq!(
            expected_hours_after_midnight(&rules, 6.5, Some("day")),
            19.0
        );
    }

    #[test]
    fn unknown_or_absent_shift_falls_back_to_longest_shift_plus_an_hour() {
        let rules = SiteRules::default();
        assert_eq!(
            expected_hours_after_midnight(&rules, 8.0, None),
            8.0 + 12.5 + 1.0
        );
        assert_eq!(
            expected_hours_after_midnight(&rules, 8.0, Some("twilight")),
            8.0 + 12.5 + 1.0
        );
        let no_shifts = SiteRules {
            shifts: Vec::new(),
            ..SiteRules::default()
        };
        assert_eq!(expected_hours_after_midnight(&no_shifts, 8.0, None), 9.0);
    }
}
