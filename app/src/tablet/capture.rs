//! The bodies of the two handoffs the tablet captures: a check-out and a check-in, each naming
//! the person by staff number with the way they proved who they were (badge and PIN).

use baton_core::body::{AuthMethod, Body, Checklist, DeviceCondition, MAX_NOTE_CHARS, PersonAuth};
use baton_core::ids::{DeviceId, StaffId, WardId};
use thiserror::Error;

/// Why a handoff's body cannot be built from what was scanned.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CaptureError {
    #[error("the roster holds an identifier the signed format refuses: {0}")]
    BadIdentifier(String),
    #[error("the note is {chars} characters long; the most is {max}")]
    NoteTooLong { chars: usize, max: usize },
}

/// What the nurse confirms when handing a device back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnChecklist {
    pub apps_signed_out: bool,
    pub local_data_wiped: bool,
    pub condition: DeviceCondition,
    /// Free text; empty means no note.
    pub note: String,
}

fn identifiers(
    device_id: &str,
    staff_id: &str,
    ward_id: &str,
) -> Result<(DeviceId, PersonAuth, WardId), CaptureError> {
    let bad =
        |error: baton_core::ids::IdentifierError| CaptureError::BadIdentifier(error.to_string());
    Ok((
        DeviceId::new(device_id).map_err(bad)?,
        PersonAuth {
            staff: StaffId::new(staff_id).map_err(bad)?,
            method: AuthMethod::BadgePin,
        },
        WardId::new(ward_id).map_err(bad)?,
    ))
}

/// A check-out on this tablet's ward by a person who gave badge and PIN.
pub fn check_out_body(
    device_id: &str,
    staff_id: &str,
    ward_id: &str,
    shift: Option<String>,
) -> Result<Body, CaptureError> {
    let (device, custodian, ward) = identifiers(device_id, staff_id, ward_id)?;
    Ok(Body::CheckOut {
        device,
        custodian,
        ward,
        shift,
        expected_return_ms: None,
        purpose: None,
    })
}

/// A check-in on this tablet's ward, by the person returning the device, with the checklist.
pub fn check_in_body(
    device_id: &str,
    staff_id: &str,
    ward_id: &str,
    checklist: &ReturnChecklist,
) -> Result<Body, CaptureError> {
    let (device, returned_by, ward) = identifiers(device_id, staff_id, ward_id)?;
    let note = checklist.note.trim();
    let chars = note.chars().count();
    if chars > MAX_NOTE_CHARS {
        return Err(CaptureError::NoteTooLong {
            chars,
            max: MAX_NOTE_CHARS,
        });
    }
    Ok(Body::CheckIn {
        device,
        returned_by,
        ward,
        checklist: Checklist {
            apps_signed_out: checklist.apps_signed_out,
            local_data_wiped: checklist.local_data_wiped,
            condition: checklist.condition,
        },
        note: (!note.is_empty()).then(|| note.to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_out_names_the_person_by_staff_number_and_badge_pin() {
        let body = check_out_body("D-0001", "S-0007", "W-4E", Some("day".to_owned())).unwrap();
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "type": "check_out",
                "device": "D-0001",
                "custodian": {"staff": "S-0007", "method": "badge_pin"},
                "ward": "W-4E",
                "shift": "day",
            })
        );
        assert!(matches!(
            check_out_body("D 1", "S-0007", "W-4E", None),
            Err(CaptureError::BadIdentifier(_))
        ));
    }

    #[test]
    fn a_check_in_carries_the_checklist_and_a_trimmed_note_or_none() {
        let mut checklist = ReturnChecklist {
            apps_signed_out: true,
            local_data_wiped: false,
            condition: DeviceCondition::NeedsCharging,
            note: "   ".to_owned(),
        };
        let body = check_in_body("D-0001", "S-0007", "W-4E", &checklist).unwrap();
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(json["checklist"]["condition"], "needs_charging");
        assert_eq!(json["checklist"]["local_data_wiped"], false);
        assert!(json.get("note").is_none());

        checklist.note = " cracked corner ".to_owned();
        let body = check_in_body("D-0001", "S-0007", "W-4E", &checklist).unwrap();
        assert_eq!(
            serde_json::to_value(&body).unwrap()["note"],
            "cracked corner"
        );

        checklist.note = "x".repeat(MAX_NOTE_CHARS + 1);
        assert_eq!(
            check_in_body("D-0001", "S-0007", "W-4E", &checklist),
            Err(CaptureError::NoteTooLong {
                chars: MAX_NOTE_CHARS + 1,
                max: MAX_NOTE_CHARS
            })
        );
    }
}
