//! How far this tablet's clock is from the server's, and which time the tablet signs with.
//!
//! A tablet's date can be set wrong by hand, by a flat clock battery or by a bad network time
//! source, a year ahead or behind. Left alone, a year ahead makes every event it signs a
//! `future_timestamp` the server refuses (and its hybrid clock carries that year into every later
//! event), and a year behind puts its handoffs a year in the past. So the tablet measures the
//! server's clock from the `Date` header of each answer (`browser::clock`), anchored on the
//! page's monotonic clock so that a later jump of the wall clock does not move the measure, and:
//! - signs its sync requests and ticks its hybrid clock from that measure, so that its requests
//!   stay within the server's window and its events order and verify as of the true time;
//! - keeps its own clock's reading in each event's `wall_ms`, so that the server's fold raises
//!   `clock_skew` for the manager whenever the two differ by more than the site allows;
//! - warns on every screen while the difference exceeds the site's tolerance.
//!
//! A page started offline has no measure: a monotonic reading does not survive a reload. It
//! then goes by what it last knew of the server's clock, kept in IndexedDB at each sync
//! (`LastServerTime`): while its own clock says a plausible time has passed since (at most
//! `MAX_TRUSTED_OFFLINE_MS`, and not backwards), the server's time then plus that time; beyond,
//! its own clock is not believed, and it signs with the last server time it knew plus the age of
//! the page, a time that has certainly passed, so that the server accepts its events, and warns
//! that it has not been able to check its clock since then (`Reference`).

use serde::{Deserialize, Serialize};

/// One reading of the server's clock, taken when an answer arrived.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ServerReading {
    /// The server's time then, in ms since the epoch.
    pub server_ms: f64,
    /// The page's monotonic clock (`performance.now()`) then, which wall-clock changes do not
    /// move.
    pub monotonic_ms: f64,
}

/// The `Date` header holds whole seconds, truncated: the server's time was somewhere in the
/// second after it, so the middle of that second is the best guess.
pub const DATE_HEADER_ROUNDING_MS: f64 = 500.0;

impl ServerReading {
    /// A reading from a parsed `Date` header (ms since the epoch) taken at `monotonic_ms`.
    pub fn from_date_header(date_ms: f64, monotonic_ms: f64) -> Option<ServerReading> {
        (date_ms.is_finite() && date_ms > 0.0 && monotonic_ms.is_finite()).then_some(
            ServerReading {
                server_ms: date_ms + DATE_HEADER_ROUNDING_MS,
                monotonic_ms,
            },
        )
    }

    /// The server's time now, given the monotonic clock now.
    pub fn server_now_ms(&self, monotonic_now_ms: f64) -> u64 {
        let elapsed_ms = (monotonic_now_ms - self.monotonic_ms).max(0.0);
        (self.server_ms + elapsed_ms) as u64
    }
}

/// What the tablet knew of the server's clock at its last contact, kept in IndexedDB so that a
/// page started offline has something to go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastServerTime {
    /// The server's time then, as measured, in ms since the epoch.
    pub server_ms: u64,
    /// The tablet's own clock then.
    pub local_ms: u64,
}

/// How long a tablet may go without reaching the server while its own clock is still believed
/// (a week: a long network outage on a ward). Beyond it, or when its clock says less time has
/// passed than did, the clock may have been set wrong meanwhile, and a clock set ahead would
/// make every event a `future_timestamp` the server refuses, carried by the hybrid clock into
/// every later event. A clock set ahead by less than this while the page was closed offline is
/// still believed: docs/RELIABILITY.md says what that costs.
pub const MAX_TRUSTED_OFFLINE_MS: u64 = 7 * 24 * 3_600_000;

/// How far the tablet's clock may seem to have gone back since the last contact and still be
/// believed: a correction by a time source, not a date set wrong.
pub const TRUSTED_STEP_BACK_MS: u64 = 5 * 60_000;

/// The time the tablet signs with (its requests, and its hybrid clock's tick), and where it
/// comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reference {
    /// The server's time, measured by this page.
    Measured { server_ms: u64 },
    /// No measure in this page: the server's time at the last contact plus the time the
    /// tablet's own clock says has passed since, which is plausible.
    Estimated { server_ms: u64 },
    /// No measure in this page, and the tablet's own clock says an implausible time has passed
    /// since the last contact (more than `MAX_TRUSTED_OFFLINE_MS`, or backwards). It signs with
    /// `floor_ms`, the server's time at the last contact plus the age of this page on its
    /// monotonic clock (less the half second a reading adds): a time that has certainly passed,
    /// so that the server takes its events, and the fold shows the manager the difference from
    /// `wall_ms`. `since_ms` is that last contact, for the warning.
    Unchecked { since_ms: u64, floor_ms: u64 },
    /// Nothing known of the server's clock (never synced since this was kept): its own clock.
    OwnClock { local_ms: u64 },
}

/// Which time the tablet signs with, given its own clock now, this page's measure of the
/// server's clock (if any), what it knew at its last contact (if anything) and the age of the
/// page on its monotonic clock.
pub fn reference(
    local_ms: u64,
    measured_ms: Option<u64>,
    last: Option<LastServerTime>,
    page_age_ms: u64,
) -> Reference {
    if let Some(server_ms) = measured_ms {
        return Reference::Measured { server_ms };
    }
    let Some(last) = last else {
        return Reference::OwnClock { local_ms };
    };
    let elapsed_ms = local_ms as i128 - last.local_ms as i128;
    if (-(TRUSTED_STEP_BACK_MS as i128)..=MAX_TRUSTED_OFFLINE_MS as i128).contains(&elapsed_ms) {
        // A small step back estimates no earlier than the last contact: time did not go back.
        let server_ms = (last.server_ms as i128 + elapsed_ms.max(0)) as u64;
        return Reference::Estimated { server_ms };
    }
    // The `Date` header's second, before the half-second added for the best guess: the server's
    // time had certainly reached it.
    let certainly_passed_ms = last
        .server_ms
        .saturating_sub(DATE_HEADER_ROUNDING_MS as u64);
    Reference::Unchecked {
        since_ms: last.server_ms,
        floor_ms: certainly_passed_ms.saturating_add(page_age_ms),
    }
}

impl Reference {
    /// The time to sign with, in ms since the epoch.
    pub fn ms(self) -> u64 {
        match self {
            Reference::Measured { server_ms } | Reference::Estimated { server_ms } => server_ms,
            Reference::Unchecked { floor_ms, .. } => floor_ms,
            Reference::OwnClock { local_ms } => local_ms,
        }
    }

    /// How far the tablet's clock (`local_ms`) is ahead of the server's (negative: behind),
    /// when measured or estimated.
    pub fn skew_ms(self, local_ms: u64) -> Option<i64> {
        match self {
            Reference::Measured { server_ms } | Reference::Estimated { server_ms } => {
                Some(skew_ms(local_ms, server_ms))
            }
            Reference::Unchecked { .. } | Reference::OwnClock { .. } => None,
        }
    }

    /// Since when the tablet has not been able to check its clock, when its own clock is not
    /// believed.
    pub fn unchecked_since_ms(self) -> Option<u64> {
        match self {
            Reference::Unchecked { since_ms, .. } => Some(since_ms),
            _ => None,
        }
    }
}

/// What to keep in IndexedDB after an answer of the server: its time as measured now, and the
/// tablet's own clock now.
pub fn last_server_time(local_ms: u64, measured_ms: Option<u64>) -> Option<LastServerTime> {
    measured_ms.map(|server_ms| LastServerTime {
        server_ms,
        local_ms,
    })
}

/// How far the tablet's clock is ahead of the server's (negative: behind).
pub fn skew_ms(local_ms: u64, server_ms: u64) -> i64 {
    local_ms as i64 - server_ms as i64
}

/// Whether a skew is beyond what the site tolerates, and so worth a warning.
pub fn is_skewed(skew_ms: i64, tolerance_ms: u64) -> bool {
    skew_ms.unsigned_abs() > tolerance_ms
}

/// A skew in the largest whole unit a person reads at a glance: "365 days", "3 hours",
/// "12 minutes". The measure is good to about a second either way, so a second is added before
/// rounding down: a year less half a second still reads as 365 days.
pub fn describe_amount(skew_ms: i64) -> String {
    const MEASURE_GRAIN_MS: u64 = 1_000;
    const MINUTE_MS: u64 = 60_000;
    const HOUR_MS: u64 = 60 * MINUTE_MS;
    const DAY_MS: u64 = 24 * HOUR_MS;
    let amount_ms = skew_ms.unsigned_abs() + MEASURE_GRAIN_MS;
    let (n_units, unit) = if amount_ms >= DAY_MS {
        (amount_ms / DAY_MS, "day")
    } else if amount_ms >= HOUR_MS {
        (amount_ms / HOUR_MS, "hour")
    } else {
        (amount_ms / MINUTE_MS, "minute")
    };
    let plural = if n_units == 1 { "" } else { "s" };
    format!("{n_units} {unit}{plural}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW_MS: u64 = 1_764_000_000_000;
    const YEAR_MS: u64 = 365 * 24 * 3_600_000;

    #[test]
    fn a_reading_follows_the_monotonic_clock_not_the_wall_clock() {
        let reading = ServerReading::from_date_header(NOW_MS as f64, 1_000.0).unwrap();
        assert_eq!(reading.server_now_ms(1_000.0), NOW_MS + 500);
        // Ten seconds later on the monotonic clock, whatever the wall clock was set to.
        assert_eq!(reading.server_now_ms(11_000.0), NOW_MS + 10_500);
        // A monotonic clock never runs back; if it seemed to, the reading does not either.
        assert_eq!(reading.server_now_ms(0.0), NOW_MS + 500);
        assert_eq!(ServerReading::from_date_header(f64::NAN, 1_000.0), None);
    }

    #[test]
    fn the_tablet_signs_with_the_servers_time_once_it_measured_it() {
        let last = Some(LastServerTime {
            server_ms: NOW_MS - 60_000,
            local_ms: NOW_MS - 60_000,
        });
        for local_ms in [NOW_MS + YEAR_MS, NOW_MS - YEAR_MS, NOW_MS] {
            let measured = reference(local_ms, Some(NOW_MS), last, 5_000);
            assert_eq!(measured, Reference::Measured { server_ms: NOW_MS });
            assert_eq!(measured.ms(), NOW_MS);
            assert_eq!(measured.unchecked_since_ms(), None);
        }
        assert_eq!(
            reference(NOW_MS + YEAR_MS, Some(NOW_MS), None, 0).skew_ms(NOW_MS + YEAR_MS),
            Some(YEAR_MS as i64)
        );
        // Never in contact (an install from before the last contact was kept): its own clock.
        let own = reference(NOW_MS + YEAR_MS, None, None, 5_000);
        assert_eq!(own.ms(), NOW_MS + YEAR_MS);
        assert_eq!(
            (own.skew_ms(NOW_MS), own.unchecked_since_ms()),
            (None, None)
        );
    }

    #[test]
    fn a_page_started_offline_goes_on_from_the_last_contact_while_its_clock_is_plausible() {
        const HOUR_MS: u64 = 3_600_000;
        // The clock was right at the last contact and ran on: the same as its own clock.
        let right = LastServerTime {
            server_ms: NOW_MS,
            local_ms: NOW_MS,
        };
        let later = reference(NOW_MS + 8 * HOUR_MS, None, Some(right), 1_000);
        assert_eq!(later.ms(), NOW_MS + 8 * HOUR_MS);
        assert_eq!(later.skew_ms(NOW_MS + 8 * HOUR_MS), Some(0));
        // The clock was already a year ahead when last measured: the estimate corrects it.
        let ahead = LastServerTime {
            server_ms: NOW_MS,
            local_ms: NOW_MS + YEAR_MS,
        };
        let estimated = reference(NOW_MS + YEAR_MS + HOUR_MS, None, Some(ahead), 1_000);
        assert_eq!(
            estimated,
            Reference::Estimated {
                server_ms: NOW_MS + HOUR_MS
            }
        );
        assert_eq!(
            estimated.skew_ms(NOW_MS + YEAR_MS + HOUR_MS),
            Some(YEAR_MS as i64)
        );
        // A week is still believed; a small step back is a correction, not a date set wrong,
        // and estimates no earlier than the last contact.
        assert_eq!(
            reference(NOW_MS + MAX_TRUSTED_OFFLINE_MS, None, Some(right), 0).ms(),
            NOW_MS + MAX_TRUSTED_OFFLINE_MS
        );
        let stepped_back = reference(NOW_MS - 60_000, None, Some(right), 0);
        assert_eq!(stepped_back, Reference::Estimated { server_ms: NOW_MS });
    }

    #[test]
    fn a_page_started_offline_with_its_clock_set_a_year_off_signs_with_a_time_that_has_passed() {
        let last = LastServerTime {
            server_ms: NOW_MS,
            local_ms: NOW_MS,
        };
        let page_age_ms = 90_000;
        for local_ms in [
            NOW_MS + YEAR_MS,
            NOW_MS - YEAR_MS,
            NOW_MS + MAX_TRUSTED_OFFLINE_MS + 1,
            NOW_MS - TRUSTED_STEP_BACK_MS - 1,
        ] {
            let unchecked = reference(local_ms, None, Some(last), page_age_ms);
            assert_eq!(
                unchecked,
                Reference::Unchecked {
                    since_ms: NOW_MS,
                    floor_ms: NOW_MS - 500 + page_age_ms
                },
                "own clock at {local_ms}"
            );
            // Whatever the true time now, it is at least the last contact plus the page's age:
            // the server, which refuses only what is ahead of its clock, takes the event.
            assert_eq!(unchecked.ms(), NOW_MS - 500 + page_age_ms);
            assert_eq!(unchecked.unchecked_since_ms(), Some(NOW_MS));
            // No skew is claimed: the tablet does not know the true time.
            assert_eq!(unchecked.skew_ms(local_ms), None);
        }
    }

    #[test]
    fn only_a_measured_time_is_kept_as_the_last_contact() {
        assert_eq!(last_server_time(NOW_MS + YEAR_MS, None), None);
        assert_eq!(
            last_server_time(NOW_MS + YEAR_MS, Some(NOW_MS)),
            Some(LastServerTime {
                server_ms: NOW_MS,
                local_ms: NOW_MS + YEAR_MS
            })
        );
    }

    #[test]
    fn a_skew_beyond_the_sites_tolerance_is_described_in_the_largest_unit() {
        let tolerance_ms = 5 * 60_000;
        let ahead = skew_ms(NOW_MS + YEAR_MS, NOW_MS);
        let behind = skew_ms(NOW_MS - YEAR_MS, NOW_MS);
        assert_eq!(ahead, YEAR_MS as i64);
        assert_eq!(behind, -(YEAR_MS as i64));
        assert!(is_skewed(ahead, tolerance_ms) && is_skewed(behind, tolerance_ms));
        assert!(!is_skewed(skew_ms(NOW_MS + 2_000, NOW_MS), tolerance_ms));
        assert!(is_skewed(
            skew_ms(NOW_MS + 5 * 60_000 + 1, NOW_MS),
            tolerance_ms
        ));
        assert_eq!(describe_amount(ahead), "365 days");
        assert_eq!(describe_amount(behind), "365 days");
        assert_eq!(describe_amount(ahead - 500), "365 days");
        assert_eq!(describe_amount(-3 * 3_600_000 - 5), "3 hours");
        assert_eq!(describe_amount(60_000), "1 minute");
        assert_eq!(describe_amount(12 * 60_000 + 58_000), "12 minutes");
        assert_eq!(describe_amount(13 * 3_600_000 - 1), "13 hours");
    }
}
