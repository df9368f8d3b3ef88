//! A site's configuration as stored (JSON) and handed to tablets at enrollment: the custody rules
//! that `core` folds with, plus what only the tablet uses.

use baton_core::rules::{Shift, SiteRules};
use serde::{Deserialize, Serialize};

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
