//! Dates and times from milliseconds since the epoch, for report labels and CSV cells, without
//! a calendar library: the proleptic Gregorian calendar (Howard Hinnant's `civil_from_days`).

pub const MS_PER_MINUTE: i64 = 60_000;
pub const MS_PER_DAY: i64 = 24 * 60 * MS_PER_MINUTE;

/// The (year, month, day) of a count of days since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `YYYY-MM-DD` of the day containing `ms` at a UTC offset of `utc_offset_minutes`.
pub fn local_date(ms: i64, utc_offset_minutes: i32) -> String {
    let local_ms = ms + i64::from(utc_offset_minutes) * MS_PER_MINUTE;
    let (year, month, day) = civil_from_days(local_ms.div_euclid(MS_PER_DAY));
    format!("{year:04}-{month:02}-{day:02}")
}

/// RFC 3339 in UTC with milliseconds, such as `2025-03-10T07:00:00.000Z`.
pub fn utc_text(ms: u64) -> String {
    let ms = ms as i64;
    let (year, month, day) = civil_from_days(ms.div_euclid(MS_PER_DAY));
    let in_day = ms.rem_euclid(MS_PER_DAY);
    let (hours, minutes) = (in_day / 3_600_000, in_day / MS_PER_MINUTE % 60);
    let (seconds, millis) = (in_day / 1_000 % 60, in_day % 1_000);
    format!("{year:04}-{month:02}-{day:02}T{hours:02}:{minutes:02}:{seconds:02}.{millis:03}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants_print_as_their_calendar_dates() {
        assert_eq!(utc_text(0), "1970-01-01T00:00:00.000Z");
        // The protocol's test vectors are stamped at these instants.
        assert_eq!(utc_text(1_741_593_600_000), "2025-03-10T08:00:00.000Z");
        assert_eq!(utc_text(1_741_611_600_123), "2025-03-10T13:00:00.123Z");
        // Leap days, century rules and the end of a year.
        assert_eq!(utc_text(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(utc_text(1_709_251_199_999), "2024-02-29T23:59:59.999Z");
        assert_eq!(utc_text(4_107_542_400_000), "2100-03-01T00:00:00.000Z");
        assert_eq!(utc_text(1_735_689_599_000), "2024-12-31T23:59:59.000Z");
    }

    #[test]
    fn local_dates_follow_the_site_offset() {
        // 2025-03-10T23:30Z is already the 11th in UTC+1 and still the 10th in UTC-5.
        let ms = 1_741_649_400_000;
        assert_eq!(local_date(ms, 0), "2025-03-10");
        assert_eq!(local_date(ms, 60), "2025-03-11");
        assert_eq!(local_date(ms, -300), "2025-03-10");
        assert_eq!(local_date(-1, 0), "1969-12-31");
    }

    #[test]
    fn every_day_of_four_centuries_round_trips_through_the_calendar() {
        let mut previous = civil_from_days(-1);
        for days in 0..146_097 {
            let (year, month, day) = civil_from_days(days);
            let next_day = (previous.0, previous.1, previous.2 + 1) == (year, month, day);
            let next_month = (previous.0, previous.1 + 1, 1) == (year, month, day);
            let next_year = (previous.0 + 1, 1, 1) == (year, month, day) && previous.1 == 12;
            assert!(
                next_day || next_month || next_year,
                "{previous:?} -> {:?}",
                (year, month, day)
            );
            previous = (year, month, day);
        }
    }
}
