//! The site configuration form's text fields and the configuration they make: what an admin
//! types (minutes, seconds, `HH:MM`) and the JSON the server checks (minutes, milliseconds,
//! minutes after midnight). Only whole-number parsing happens here; the bounds are the
//! server's, which names every field out of them (`PUT …/config`, PROTOCOL.md §2.6a).

use baton_core::rules::{Shift, SiteRules};

use crate::tablet::roster::SiteConfig;

/// One shift as typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShiftFields {
    pub name: String,
    /// `HH:MM`, as an `<input type="time">` gives it.
    pub start: String,
    pub duration_minutes: String,
}

/// The whole form as typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigFields {
    pub inactivity_lockout_minutes: String,
    pub grace_minutes: String,
    pub max_clock_skew_seconds: String,
    pub persistent_gap_minutes: String,
    pub utc_offset_minutes: String,
    pub shifts: Vec<ShiftFields>,
}

/// A field that is not a whole number: its label and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

fn minute_of_day_text(minute: u16) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

/// `text` as a whole number, or 0 and an error naming `field`.
fn whole(field: &str, text: &str, errors: &mut Vec<FieldError>) -> i64 {
    text.trim().parse::<i64>().unwrap_or_else(|_| {
        errors.push(FieldError {
            field: field.to_owned(),
            message: "must be a whole number".to_owned(),
        });
        0
    })
}

impl ConfigFields {
    pub fn from_config(config: &SiteConfig) -> ConfigFields {
        let rules = &config.rules;
        ConfigFields {
            inactivity_lockout_minutes: config.inactivity_lockout_minutes.to_string(),
            grace_minutes: rules.grace_minutes.to_string(),
            max_clock_skew_seconds: (rules.max_clock_skew_ms / 1000).to_string(),
            persistent_gap_minutes: (rules.persistent_gap_after_ms / 60_000).to_string(),
            utc_offset_minutes: rules.utc_offset_minutes.to_string(),
            shifts: rules
                .shifts
                .iter()
                .map(|shift| ShiftFields {
                    name: shift.name.clone(),
                    start: minute_of_day_text(shift.start_minute_of_day),
                    duration_minutes: shift.duration_minutes.to_string(),
                })
                .collect(),
        }
    }

    /// The configuration to send, or every field that is not a whole number.
    pub fn to_config(&self) -> Result<SiteConfig, Vec<FieldError>> {
        let mut errors = Vec::new();
        let lockout = whole(
            "inactivity_lockout_minutes",
            &self.inactivity_lockout_minutes,
            &mut errors,
        );
        let grace = whole("rules.grace_minutes", &self.grace_minutes, &mut errors);
        let skew_seconds = whole(
            "rules.max_clock_skew_ms",
            &self.max_clock_skew_seconds,
            &mut errors,
        );
        let gap_minutes = whole(
            "rules.persistent_gap_after_ms",
            &self.persistent_gap_minutes,
            &mut errors,
        );
        let offset = whole(
            "rules.utc_offset_minutes",
            &self.utc_offset_minutes,
            &mut errors,
        );
        let mut shifts = Vec::with_capacity(self.shifts.len());
        for (index, shift) in self.shifts.iter().enumerate() {
            let duration = whole(
                &format!("rules.shifts[{index}].duration_minutes"),
                &shift.duration_minutes,
                &mut errors,
            );
            let start = shift
                .start
                .split_once(':')
                .and_then(|(hours, minutes)| {
                    Some((
                        hours.trim().parse::<u16>().ok()?,
                        minutes.trim().parse::<u16>().ok()?,
                    ))
                })
                .filter(|&(hours, minutes)| hours < 24 && minutes < 60)
                .map(|(hours, minutes)| hours * 60 + minutes);
            if start.is_none() {
                errors.push(FieldError {
                    field: format!("rules.shifts[{index}].start_minute_of_day"),
                    message: "must be a time of day, HH:MM".to_owned(),
                });
            }
            shifts.push((shift.name.clone(), start.unwrap_or(0), duration));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        // Values beyond a field's type are sent saturated: the server reports them as out of
        // its bounds, which are well inside every type.
        let saturate_u32 = |value: i64| value.clamp(0, i64::from(u32::MAX)) as u32;
        let saturate_u16 = |value: i64| value.clamp(0, i64::from(u16::MAX)) as u16;
        Ok(SiteConfig {
            rules: SiteRules {
                utc_offset_minutes: offset.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32,
                shifts: shifts
                    .into_iter()
                    .map(|(name, start_minute_of_day, duration)| Shift {
                        name,
                        start_minute_of_day,
                        duration_minutes: saturate_u16(duration),
                    })
                    .collect(),
                grace_minutes: saturate_u32(grace),
                max_clock_skew_ms: skew_seconds.max(0).saturating_mul(1000) as u64,
                persistent_gap_after_ms: gap_minutes.max(0).saturating_mul(60_000) as u64,
            },
            inactivity_lockout_minutes: saturate_u32(lockout),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ward() -> SiteConfig {
        SiteConfig {
            rules: SiteRules::default(),
            inactivity_lockout_minutes: 5,
        }
    }

    #[test]
    fn the_fields_show_the_configuration_and_make_it_back() {
        let config = ward();
        let fields = ConfigFields::from_config(&config);
        assert_eq!(fields.shifts[1].start, "19:00");
        assert_eq!(fields.max_clock_skew_seconds, "300");
        assert_eq!(fields.persistent_gap_minutes, "60");
        assert_eq!(fields.to_config().unwrap(), config);
    }

    #[test]
    fn a_changed_lockout_is_sent_as_typed_and_units_are_converted() {
        let mut fields = ConfigFields::from_config(&ward());
        fields.inactivity_lockout_minutes = " 15 ".to_owned();
        fields.max_clock_skew_seconds = "90".to_owned();
        fields.shifts[0].start = "06:30".to_owned();
        let config = fields.to_config().unwrap();
        assert_eq!(config.inactivity_lockout_minutes, 15);
        assert_eq!(config.rules.max_clock_skew_ms, 90_000);
        assert_eq!(config.rules.shifts[0].start_minute_of_day, 390);
    }

    #[test]
    fn what_is_not_a_number_or_a_time_is_named_and_nothing_is_made() {
        let mut fields = ConfigFields::from_config(&ward());
        fields.inactivity_lockout_minutes = "five".to_owned();
        fields.shifts[1].start = "25:00".to_owned();
        let errors = fields.to_config().unwrap_err();
        let named: Vec<&str> = errors.iter().map(|error| error.field.as_str()).collect();
        assert_eq!(
            named,
            [
                "inactivity_lockout_minutes",
                "rules.shifts[1].start_minute_of_day"
            ]
        );
    }

    #[test]
    fn a_negative_or_huge_value_reaches_the_server_which_refuses_it_by_field() {
        let mut fields = ConfigFields::from_config(&ward());
        fields.inactivity_lockout_minutes = "-3".to_owned();
        fields.grace_minutes = "99999999999".to_owned();
        let config = fields.to_config().unwrap();
        assert_eq!(config.inactivity_lockout_minutes, 0);
        assert_eq!(config.rules.grace_minutes, u32::MAX);
    }
}
