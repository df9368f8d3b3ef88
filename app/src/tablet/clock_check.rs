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
//! Without a measure (a page started offline) it can only trust its own clock.

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

/// The time the tablet signs with (requests, and its hybrid clock's tick): the server's when it
/// was measured, its own otherwise.
pub fn reference_ms(local_ms: u64, server_ms: Option<u64>) -> u64 {
    server_ms.unwrap_or(local_ms)
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
        assert_eq!(reference_ms(NOW_MS + YEAR_MS, Some(NOW_MS)), NOW_MS);
        assert_eq!(reference_ms(NOW_MS - YEAR_MS, Some(NOW_MS)), NOW_MS);
        assert_eq!(reference_ms(NOW_MS + YEAR_MS, None), NOW_MS + YEAR_MS);
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
