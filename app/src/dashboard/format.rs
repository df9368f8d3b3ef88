//! How the dashboard writes durations, shares and missing figures.

/// A duration a manager reads at a glance: `850 ms`, `42 s`, `4 min 10 s`, `2 h 5 min`, `3 d 4 h`.
pub fn duration(ms: u64) -> String {
    const SECOND: u64 = 1_000;
    const MINUTE: u64 = 60 * SECOND;
    const HOUR: u64 = 60 * MINUTE;
    const DAY: u64 = 24 * HOUR;
    match ms {
        ms if ms < SECOND => format!("{ms} ms"),
        ms if ms < MINUTE => format!("{} s", ms / SECOND),
        ms if ms < HOUR => format!("{} min {} s", ms / MINUTE, ms % MINUTE / SECOND),
        ms if ms < DAY => format!("{} h {} min", ms / HOUR, ms % HOUR / MINUTE),
        ms => format!("{} d {} h", ms / DAY, ms % DAY / HOUR),
    }
}

/// An optional duration; a dash when there was nothing to measure.
pub fn maybe_duration(ms: Option<u64>) -> String {
    ms.map_or_else(|| "–".to_owned(), duration)
}

/// A share as a percentage with one decimal; a dash when there was nothing to count.
pub fn share(share: Option<f64>) -> String {
    share.map_or_else(|| "–".to_owned(), |share| format!("{:.1} %", share * 100.0))
}

/// The first characters of a hex id, enough to tell events apart on screen.
pub fn short_id(hex: &str) -> &str {
    hex.get(..12).unwrap_or(hex)
}

/// A `snake_case` name as words: `overlapping_custody` → `overlapping custody`.
pub fn words(name: &str) -> String {
    name.replace('_', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_use_the_two_largest_units() {
        assert_eq!(duration(850), "850 ms");
        assert_eq!(duration(42_000), "42 s");
        assert_eq!(duration(250_000), "4 min 10 s");
        assert_eq!(duration(7_500_000), "2 h 5 min");
        assert_eq!(duration(273_600_000), "3 d 4 h");
        assert_eq!(maybe_duration(None), "–");
    }

    #[test]
    fn shares_and_ids_are_short() {
        assert_eq!(share(Some(0.975)), "97.5 %");
        assert_eq!(share(None), "–");
        assert_eq!(short_id("0123456789abcdef"), "0123456789ab");
        assert_eq!(short_id("ab"), "ab");
        assert_eq!(words("break_glass_used"), "break glass used");
    }
}
