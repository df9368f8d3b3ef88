//! A site's configuration as stored (JSON) and handed to tablets at enrollment and in every
//! roster: the custody rules that `core` folds with, plus what only the tablet uses.
//!
//! An admin changes it through the API (`http/site_settings.rs`): `SiteConfig::from_admin_json`
//! reads the body and checks every field against the bounds below, reporting each field that
//! is out of them by its path, so a form can say which one is wrong.

use std::ops::RangeInclusive;

use baton_core::rules::{Shift, SiteRules};
use serde::{Deserialize, Serialize};

/// UTC-12:00 to UTC+14:00, the offsets in use on Earth.
pub const UTC_OFFSET_MINUTES: RangeInclusive<i64> = -720..=840;
/// One shift at least (the due time of a custody comes from it), eight at most.
pub const N_SHIFTS: RangeInclusive<usize> = 1..=8;
pub const MAX_SHIFT_NAME_CHARS: usize = 32;
pub const SHIFT_START_MINUTE: RangeInclusive<i64> = 0..=1439;
/// One hour to a whole day.
pub const SHIFT_DURATION_MINUTES: RangeInclusive<i64> = 60..=1440;
/// Up to 12 hours after a shift's end before a device counts as overdue.
pub const GRACE_MINUTES: RangeInclusive<i64> = 0..=720;
/// 5 seconds to 1 hour: below that, ordinary NTP drift raises alarms; above, a tablet's clock
/// could misdate a handoff by more than a handover.
pub const MAX_CLOCK_SKEW_MS: RangeInclusive<i64> = 5_000..=3_600_000;
/// 1 minute to 7 days before a missing predecessor is reported as a persistent gap.
pub const PERSISTENT_GAP_AFTER_MS: RangeInclusive<i64> = 60_000..=604_800_000;
/// 1 minute to 1 hour without a touch before the tablet locks: shorter stops a nurse
/// mid-task, longer leaves an unattended tablet open to anyone.
pub const INACTIVITY_LOCKOUT_MINUTES: RangeInclusive<i64> = 1..=60;

/// One field of a configuration that was refused: its path in the JSON body
/// (`rules.shifts[1].duration_minutes`; empty for the body as a whole) and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldProblem {
    pub field: String,
    pub message: String,
}

/// The body as sent, with every number wide enough to hold what a client may send, so that an
/// out-of-range value is reported against its field rather than as a type error.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigInput {
    rules: RulesInput,
    inactivity_lockout_minutes: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesInput {
    utc_offset_minutes: i64,
    shifts: Vec<ShiftInput>,
    grace_minutes: i64,
    max_clock_skew_ms: i64,
    persistent_gap_after_ms: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ShiftInput {
    name: String,
    start_minute_of_day: i64,
    duration_minutes: i64,
}

/// Collects the problems of one pass over a body.
#[derive(Default)]
struct Problems(Vec<FieldProblem>);

impl Problems {
    /// `value` if it is within `bounds`, and a problem naming `field` otherwise.
    fn bounded(
        &mut self,
        field: &str,
        value: i64,
        bounds: &RangeInclusive<i64>,
        unit: &str,
    ) -> i64 {
        if !bounds.contains(&value) {
            self.0.push(FieldProblem {
                field: field.to_owned(),
                message: format!(
                    "must be between {} and {} {unit}; {value} is not",
                    bounds.start(),
                    bounds.end()
                ),
            });
        }
        value.clamp(*bounds.start(), *bounds.end())
    }

    fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldProblem {
            field: field.to_owned(),
            message: message.into(),
        });
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    pub rules: SiteRules,
    /// Minutes without a touch before the tablet locks and asks for badge + PIN again.
    pub inactivity_lockout_minutes: u32,
}

impl SiteConfig {
    pub fn from_json(json: &str) -> Result<SiteConfig, String> {
        serde_json::from_str(json).map_err(|error| error.to_string())
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a site configuration always serialises")
    }

    /// A configuration an admin sent, every field checked against the bounds of this module:
    /// either a configuration within them all, or every problem found, each by its field.
    pub fn from_admin_json(body: serde_json::Value) -> Result<SiteConfig, Vec<FieldProblem>> {
        // serde's message names a missing or unknown field and the type it expected; it never
        // repeats more of the body than the offending value.
        let input: ConfigInput = serde_json::from_value(body).map_err(|error| {
            vec![FieldProblem {
                field: String::new(),
                message: error.to_string(),
            }]
        })?;
        let mut problems = Problems::default();
        let rules = &input.rules;
        let utc_offset_minutes = problems.bounded(
            "rules.utc_offset_minutes",
            rules.utc_offset_minutes,
            &UTC_OFFSET_MINUTES,
            "minutes",
        );
        if !N_SHIFTS.contains(&rules.shifts.len()) {
            problems.add(
                "rules.shifts",
                format!(
                    "a site has {} to {} shifts; this has {}",
                    N_SHIFTS.start(),
                    N_SHIFTS.end(),
                    rules.shifts.len()
                ),
            );
        }
        let mut shifts = Vec::with_capacity(rules.shifts.len());
        for (index, shift) in rules.shifts.iter().enumerate() {
            let field = |name: &str| format!("rules.shifts[{index}].{name}");
            let name = shift.name.trim();
            if name.is_empty()
                || name.chars().count() > MAX_SHIFT_NAME_CHARS
                || name.chars().any(char::is_control)
            {
                problems.add(
                    &field("name"),
                    format!("a shift's name has 1 to {MAX_SHIFT_NAME_CHARS} printable characters"),
                );
            } else if rules.shifts[..index]
                .iter()
                .any(|earlier| earlier.name.trim() == name)
            {
                problems.add(
                    &field("name"),
                    format!("another shift is already named {name:?}"),
                );
            }
            let start = problems.bounded(
                &field("start_minute_of_day"),
                shift.start_minute_of_day,
                &SHIFT_START_MINUTE,
                "minutes after midnight",
            );
            let duration = problems.bounded(
                &field("duration_minutes"),
                shift.duration_minutes,
                &SHIFT_DURATION_MINUTES,
                "minutes",
            );
            shifts.push(Shift {
                name: name.to_owned(),
                start_minute_of_day: start as u16,
                duration_minutes: duration as u16,
            });
        }
        let grace_minutes = problems.bounded(
            "rules.grace_minutes",
            rules.grace_minutes,
            &GRACE_MINUTES,
            "minutes",
        );
        let max_clock_skew_ms = problems.bounded(
            "rules.max_clock_skew_ms",
            rules.max_clock_skew_ms,
            &MAX_CLOCK_SKEW_MS,
            "milliseconds",
        );
        let persistent_gap_after_ms = problems.bounded(
            "rules.persistent_gap_after_ms",
            rules.persistent_gap_after_ms,
            &PERSISTENT_GAP_AFTER_MS,
            "milliseconds",
        );
        let inactivity_lockout_minutes = problems.bounded(
            "inactivity_lockout_minutes",
            input.inactivity_lockout_minutes,
            &INACTIVITY_LOCKOUT_MINUTES,
            "minutes",
        );
        if !problems.0.is_empty() {
            return Err(problems.0);
        }
        // Every value was checked against bounds that fit its type.
        Ok(SiteConfig {
            rules: SiteRules {
                utc_offset_minutes: utc_offset_minutes as i32,
                shifts,
                grace_minutes: grace_minutes as u32,
                max_clock_skew_ms: max_clock_skew_ms as u64,
                persistent_gap_after_ms: persistent_gap_after_ms as u64,
            },
            inactivity_lockout_minutes: inactivity_lockout_minutes as u32,
        })
    }

    /// Day and night shifts of 12 hours from 07:00 and 19:00 (UTC for the demo), one hour of
    /// grace, five minutes of clock skew, a five-minute inactivity lockout: a common ward pattern.
    pub fn typical_ward() -> SiteConfig {
        SiteConfig {
            rules: SiteRules {
                utc_offset_minutes: 0,
                shifts: vec![
                    Shift {
                        name: "day".to_owned(),
                        start_minute_of_day: 7 * 60,
                        duration_minutes: 12 * 60,
                    },
                    Shift {
                        name: "night".to_owned(),
                        start_minute_of_day: 19 * 60,
                        duration_minutes: 12 * 60,
                    },
                ],
                grace_minutes: 60,
                max_clock_skew_ms: 5 * 60_000,
                persistent_gap_after_ms: 60 * 60_000,
            },
            inactivity_lockout_minutes: 5,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems_of(body: serde_json::Value) -> Vec<(String, String)> {
        SiteConfig::from_admin_json(body)
            .unwrap_err()
            .into_iter()
            .map(|problem| (problem.field, problem.message))
            .collect()
    }

    #[test]
    fn the_typical_ward_is_within_every_bound_and_reads_back_as_itself() {
        let config = SiteConfig::typical_ward();
        let body: serde_json::Value = serde_json::from_str(&config.to_json()).unwrap();
        assert_eq!(SiteConfig::from_admin_json(body).unwrap(), config);
    }

    #[test]
    fn every_field_out_of_bounds_is_reported_by_its_path() {
        let mut body: serde_json::Value =
            serde_json::from_str(&SiteConfig::typical_ward().to_json()).unwrap();
        body["inactivity_lockout_minutes"] = 0.into();
        body["rules"]["grace_minutes"] = (-1).into();
        body["rules"]["max_clock_skew_ms"] = 10_000_000.into();
        body["rules"]["utc_offset_minutes"] = 900.into();
        body["rules"]["persistent_gap_after_ms"] = 1.into();
        body["rules"]["shifts"][1]["duration_minutes"] = 5_000.into();
        body["rules"]["shifts"][1]["name"] = " day ".into();
        body["rules"]["shifts"][0]["start_minute_of_day"] = 1440.into();
        let fields: Vec<String> = problems_of(body)
            .into_iter()
            .map(|(field, _)| field)
            .collect();
        assert_eq!(
            fields,
            [
                "rules.utc_offset_minutes",
                "rules.shifts[0].start_minute_of_day",
                "rules.shifts[1].name",
                "rules.shifts[1].duration_minutes",
                "rules.grace_minutes",
                "rules.max_clock_skew_ms",
                "rules.persistent_gap_after_ms",
                "inactivity_lockout_minutes",
            ]
        );
    }

    #[test]
    fn the_lockout_bounds_are_one_minute_and_one_hour_and_the_message_says_so() {
        let mut body: serde_json::Value =
            serde_json::from_str(&SiteConfig::typical_ward().to_json()).unwrap();
        for (minutes, accepted) in [(0, false), (1, true), (60, true), (61, false)] {
            body["inactivity_lockout_minutes"] = minutes.into();
            let outcome = SiteConfig::from_admin_json(body.clone());
            assert_eq!(outcome.is_ok(), accepted, "{minutes}: {outcome:?}");
        }
        body["inactivity_lockout_minutes"] = 61.into();
        assert_eq!(
            problems_of(body),
            [(
                "inactivity_lockout_minutes".to_owned(),
                "must be between 1 and 60 minutes; 61 is not".to_owned()
            )]
        );
    }

    #[test]
    fn a_body_of_the_wrong_shape_is_refused_whole_naming_the_field() {
        let mut body: serde_json::Value =
            serde_json::from_str(&SiteConfig::typical_ward().to_json()).unwrap();
        body["rules"]["shifts"] = serde_json::json!([]);
        assert_eq!(problems_of(body.clone())[0].0, "rules.shifts");
        body["lockout"] = 3.into();
        let problems = problems_of(body);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].1.contains("lockout"), "{problems:?}");
        let problems = problems_of(serde_json::json!({ "rules": {} }));
        assert!(problems[0].1.contains("missing field"), "{problems:?}");
    }

    #[test]
    fn the_configuration_round_trips_and_unknown_fields_are_refused() {
        let config = SiteConfig::typical_ward();
        assert_eq!(SiteConfig::from_json(&config.to_json()).unwrap(), config);
        let mut value: serde_json::Value = serde_json::from_str(&config.to_json()).unwrap();
        value["lockout"] = serde_json::json!(3);
        assert!(
            SiteConfig::from_json(&value.to_string())
                .unwrap_err()
                .contains("lockout")
        );
    }
}
