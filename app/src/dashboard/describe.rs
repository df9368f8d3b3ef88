//! One sentence per event for the dashboard's timelines: what happened, to whom, where, with the
//! people named through the roster.

use baton_core::body::{Body, BreakGlassReason, DeviceCondition};

/// What `body` says happened, naming people with `name(staff_id)`.
pub fn describe(body: &Body, name: impl Fn(&str) -> String) -> String {
    let who = |person: &baton_core::body::PersonAuth| name(person.staff.as_str());
    let noted = |note: &Option<String>| {
        note.as_ref()
            .map(|note| format!(": \u{201c}{note}\u{201d}"))
            .unwrap_or_default()
    };
    match body {
        Body::CheckOut {
            custodian,
            ward,
            issued_by: Some(issuer),
            ..
        } if custodian.method == baton_core::body::AuthMethod::Badge => format!(
            "Handed out to {} (badge scanned) on {ward} by {} (badge and PIN)",
            who(custodian),
            who(issuer)
        ),
        Body::CheckOut {
            custodian,
            ward,
            issued_by,
            ..
        } => {
            let issued = issued_by
                .as_ref()
                .map(|issuer| format!(", issued by {}", who(issuer)))
                .unwrap_or_default();
            format!("Checked out to {} on {ward}{issued}", who(custodian))
        }
        Body::CheckIn {
            returned_by,
            ward,
            checklist,
            ..
        } => {
            let mut problems = Vec::new();
            if !checklist.apps_signed_out {
                problems.push("apps not signed out");
            }
            if !checklist.local_data_wiped {
                problems.push("local data not wiped");
            }
            match checklist.condition {
                DeviceCondition::Ok => {}
                DeviceCondition::Damaged => problems.push("damaged"),
                DeviceCondition::NeedsCharging => problems.push("needs charging"),
            }
            let checklist = if problems.is_empty() {
                "checklist complete".to_owned()
            } else {
                problems.join(", ")
            };
            format!("Checked in by {} on {ward} ({checklist})", who(returned_by))
        }
        Body::Transfer { from, to, ward, .. } => {
            format!("Handed from {} to {} on {ward}", who(from), who(to))
        }
        Body::ReportMissing {
            reported_by, note, ..
        } => format!("Reported missing by {}{}", who(reported_by), noted(note)),
        Body::ReportFound {
            found_by,
            ward,
            note,
            ..
        } => format!("Found on {ward} by {}{}", who(found_by), noted(note)),
        Body::BreakGlass {
            custodian,
            ward,
            reason,
            note,
            ..
        } => {
            let reason = match reason {
                BreakGlassReason::Emergency => "emergency",
                BreakGlassReason::SecondPartyAbsent => "second person absent",
            };
            format!(
                "Break-glass hand-out to {} on {ward} ({reason}): \u{201c}{note}\u{201d}",
                who(custodian)
            )
        }
        Body::Lockout {
            custodian,
            idle_minutes,
            ..
        } => match custodian {
            Some(staff) => format!(
                "Tablet locked after {idle_minutes} min idle; custody of {} ended",
                name(staff.as_str())
            ),
            None => format!("Tablet locked after {idle_minutes} min idle"),
        },
        Body::Correction { by, note, .. } => {
            format!("Correction by {}: \u{201c}{note}\u{201d}", who(by))
        }
        Body::Quarantine { by, note, .. } => {
            format!(
                "Quarantined by {}: \u{201c}{note}\u{201d}",
                name(by.as_str())
            )
        }
        Body::Release { by, note, .. } => format!(
            "Released from quarantine by {}: \u{201c}{note}\u{201d}",
            name(by.as_str())
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(json: &str) -> Body {
        serde_json::from_str(json).unwrap()
    }

    fn name(staff: &str) -> String {
        match staff {
            "S-0001" => "Ada Example".to_owned(),
            other => other.to_owned(),
        }
    }

    #[test]
    fn a_check_out_names_the_person_and_ward() {
        let check_out = body(
            r#"{"type":"check_out","device":"D-1","custodian":{"staff":"S-0001","method":"badge_pin"},"ward":"W-4N"}"#,
        );
        assert_eq!(
            describe(&check_out, name),
            "Checked out to Ada Example on W-4N"
        );
    }

    #[test]
    fn a_bulk_hand_out_names_the_recipient_by_badge_and_the_charge_nurse() {
        let hand_out = body(
            r#"{"type":"check_out","device":"D-1","custodian":{"staff":"S-0002","method":"badge"},"ward":"W-4N","issued_by":{"staff":"S-0001","method":"badge_pin"}}"#,
        );
        assert_eq!(
            describe(&hand_out, name),
            "Handed out to S-0002 (badge scanned) on W-4N by Ada Example (badge and PIN)"
        );
    }

    #[test]
    fn a_check_in_lists_what_the_checklist_missed() {
        let check_in = body(
            r#"{"type":"check_in","device":"D-1","returned_by":{"staff":"S-0002","method":"badge_pin"},"ward":"W-4N","checklist":{"apps_signed_out":false,"local_data_wiped":true,"condition":"damaged"}}"#,
        );
        assert_eq!(
            describe(&check_in, name),
            "Checked in by S-0002 on W-4N (apps not signed out, damaged)"
        );
    }

    #[test]
    fn a_quarantine_quotes_the_note() {
        let quarantine =
            body(r#"{"type":"quarantine","device":"D-1","by":"S-0001","note":"cracked"}"#);
        assert_eq!(
            describe(&quarantine, name),
            "Quarantined by Ada Example: \u{201c}cracked\u{201d}"
        );
    }
}
