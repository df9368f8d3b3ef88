//! Which shift a device is taken for: the site's shift that is running at the check-out, so that
//! core computes the expected return from the end of that shift.

use baton_core::rules::SiteRules;

const MS_PER_MINUTE: i64 = 60_000;
const MINUTES_PER_DAY: i64 = 24 * 60;

/// The name of the shift running at `now_ms`, in the site's local time. During a handover,
/// when two shifts overlap, it is the one that started last: a device taken at 19:10 is taken
/// for the night, not for the last twenty minutes of the day. `None` when no shift is running
/// (or the site defines none), in which case the event names no shift.
pub fn current_shift(rules: &SiteRules, now_ms: u64) -> Option<String> {
    let local_ms = now_ms as i64 + i64::from(rules.utc_offset_minutes) * MS_PER_MINUTE;
    let minute_of_day = local_ms
        .div_euclid(MS_PER_MINUTE)
        .rem_euclid(MINUTES_PER_DAY);
    rules
        .shifts
        .iter()
        .filter_map(|shift| {
            // Minutes since this shift's latest start (today's, or yesterday's if today's start
            // is still ahead).
            let since_start =
                (minute_of_day - i64::from(shift.start_minute_of_day)).rem_euclid(MINUTES_PER_DAY);
            (since_start < i64::from(shift.duration_minutes)).then_some((since_start, shift))
        })
        .min_by_key(|(since_start, _)| *since_start)
        .map(|(_, shift)| shift.name.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_core::rules::Shift;

    /// 2025-03-10T00:00:00Z.
    const MIDNIGHT_MS: u64 = 1_741_564_800_000;

    fn at(hours: u64, minutes: u64) -> u64 {
        MIDNIGHT_MS + (hours * 60 + minutes) * 60_000
    }

    #[test]
    fn the_running_shift_is_named_and_a_handover_belongs_to_the_shift_starting() {
        // Day 07:00 to 19:30, night 19:00 to 07:30.
        let rules = SiteRules::default();
        assert_eq!(current_shift(&rules, at(8, 0)).as_deref(), Some("day"));
        assert_eq!(current_shift(&rules, at(19, 10)).as_deref(), Some("night"));
        assert_eq!(current_shift(&rules, at(2, 0)).as_deref(), Some("night"));
        assert_eq!(current_shift(&rules, at(7, 15)).as_deref(), Some("day"));
        assert_eq!(current_shift(&rules, at(7, 30)).as_deref(), Some("day"));
    }

    #[test]
    fn outside_every_shift_or_without_shifts_no_shift_is_named() {
        let rules = SiteRules {
            shifts: vec![Shift {
                name: "clinic".to_owned(),
                start_minute_of_day: 9 * 60,
                duration_minutes: 8 * 60,
            }],
            ..SiteRules::default()
        };
        assert_eq!(current_shift(&rules, at(10, 0)).as_deref(), Some("clinic"));
        assert_eq!(current_shift(&rules, at(17, 0)), None);
        let no_shifts = SiteRules {
            shifts: Vec::new(),
            ..SiteRules::default()
        };
        assert_eq!(current_shift(&no_shifts, at(10, 0)), None);
    }

    #[test]
    fn the_site_offset_moves_the_local_day() {
        let rules = SiteRules {
            utc_offset_minutes: -5 * 60,
            ..SiteRules::default()
        };
        // 13:00 UTC is 08:00 local.
        assert_eq!(current_shift(&rules, at(13, 0)).as_deref(), Some("day"));
        // 02:00 UTC is 21:00 local the evening before.
        assert_eq!(current_shift(&rules, at(2, 0)).as_deref(), Some("night"));
    }
}
