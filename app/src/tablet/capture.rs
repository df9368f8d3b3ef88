//! The bodies of the handoffs the tablet captures: check-out, check-in, transfer, and reports of
//! a missing or found device, each naming people by staff number with the way they proved who
//! they were (badge and PIN).

use baton_core::body::{
    AuthMethod, Body, BreakGlassReason, Checklist, DeviceCondition, MAX_NOTE_CHARS, PersonAuth,
};
use baton_core::ids::{DeviceId, StaffId, WardId};
use thiserror::Error;

/// Why a handoff's body cannot be built from what was scanned.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CaptureError {
    #[error("the roster holds an identifier the signed format refuses: {0}")]
    BadIdentifier(String),
    #[error("the note is {chars} characters long; the most is {max}")]
    NoteTooLong { chars: usize, max: usize },
    #[error("a transfer needs two different people")]
    SamePerson,
    #[error("a note saying why is required")]
    NoteRequired,
    #[error("whoever issues a hand-out cannot also receive it: use Check out")]
    IssuerIsRecipient,
}

/// A trimmed note, `None` when empty, refused when longer than the signed format allows.
fn optional_note(note: &str) -> Result<Option<String>, CaptureError> {
    let note = note.trim();
    let chars = note.chars().count();
    if chars > MAX_NOTE_CHARS {
        return Err(CaptureError::NoteTooLong {
            chars,
            max: MAX_NOTE_CHARS,
        });
    }
    Ok((!note.is_empty()).then(|| note.to_owned()))
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

fn bad(error: baton_core::ids::IdentifierError) -> CaptureError {
    CaptureError::BadIdentifier(error.to_string())
}

/// A person who gave badge and PIN at this tablet.
fn badge_pin(staff_id: &str) -> Result<PersonAuth, CaptureError> {
    Ok(PersonAuth {
        staff: StaffId::new(staff_id).map_err(bad)?,
        method: AuthMethod::BadgePin,
    })
}

fn identifiers(
    device_id: &str,
    staff_id: &str,
    ward_id: &str,
) -> Result<(DeviceId, PersonAuth, WardId), CaptureError> {
    Ok((
        DeviceId::new(device_id).map_err(bad)?,
        badge_pin(staff_id)?,
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
        issued_by: None,
    })
}

/// A check-out in a charge nurse's bulk hand-out: the recipient's badge was scanned without a
/// PIN, and the issuer gave badge and PIN once for the run (core refuses a badge-only custodian
/// without such an issuer).
pub fn hand_out_body(
    device_id: &str,
    staff_id: &str,
    issuer_staff_id: &str,
    ward_id: &str,
    shift: Option<String>,
) -> Result<Body, CaptureError> {
    if staff_id == issuer_staff_id {
        return Err(CaptureError::IssuerIsRecipient);
    }
    let (device, mut custodian, ward) = identifiers(device_id, staff_id, ward_id)?;
    custodian.method = AuthMethod::Badge;
    Ok(Body::CheckOut {
        device,
        custodian,
        ward,
        shift,
        expected_return_ms: None,
        purpose: None,
        issued_by: Some(badge_pin(issuer_staff_id)?),
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
    let note = optional_note(&checklist.note)?;
    Ok(Body::CheckIn {
        device,
        returned_by,
        ward,
        checklist: Checklist {
            apps_signed_out: checklist.apps_signed_out,
            local_data_wiped: checklist.local_data_wiped,
            condition: checklist.condition,
        },
        note,
    })
}

/// A device handed from one person to another on this tablet's ward, both with badge and PIN.
pub fn transfer_body(
    device_id: &str,
    from_staff: &str,
    to_staff: &str,
    ward_id: &str,
    shift: Option<String>,
) -> Result<Body, CaptureError> {
    if from_staff == to_staff {
        return Err(CaptureError::SamePerson);
    }
    let (device, from, ward) = identifiers(device_id, from_staff, ward_id)?;
    Ok(Body::Transfer {
        device,
        from,
        to: badge_pin(to_staff)?,
        ward,
        shift,
        expected_return_ms: None,
    })
}

/// A device reported missing by the person who noticed, with what they know.
pub fn missing_body(device_id: &str, staff_id: &str, note: &str) -> Result<Body, CaptureError> {
    Ok(Body::ReportMissing {
        device: DeviceId::new(device_id).map_err(bad)?,
        reported_by: badge_pin(staff_id)?,
        note: optional_note(note)?,
    })
}

/// A device found on this tablet's ward.
pub fn found_body(
    device_id: &str,
    staff_id: &str,
    ward_id: &str,
    note: &str,
) -> Result<Body, CaptureError> {
    let (device, found_by, ward) = identifiers(device_id, staff_id, ward_id)?;
    Ok(Body::ReportFound {
        device,
        found_by,
        ward,
        note: optional_note(note)?,
    })
}

/// Voids an earlier event of this tablet (a mis-scanned device or person), keeping it in the
/// record: the person making the correction gives badge and PIN, and says what was wrong.
pub fn correction_body(
    corrects: &str,
    device_id: &str,
    staff_id: &str,
    note: &str,
) -> Result<Body, CaptureError> {
    let note = optional_note(note)?.ok_or(CaptureError::NoteRequired)?;
    Ok(Body::Correction {
        corrects: baton_core::ids::EventId::from_hex(corrects)
            .map_err(|error| CaptureError::BadIdentifier(error.to_string()))?,
        device: DeviceId::new(device_id).map_err(bad)?,
        by: badge_pin(staff_id)?,
        note,
    })
}

/// Emergency access: the person is identified by badge only (no PIN), with a reason and a
/// required note. The manager's dashboard shows every one.
pub fn break_glass_body(
    device_id: &str,
    staff_id: &str,
    ward_id: &str,
    reason: BreakGlassReason,
    note: &str,
) -> Result<Body, CaptureError> {
    let note = optional_note(note)?.ok_or(CaptureError::NoteRequired)?;
    Ok(Body::BreakGlass {
        device: DeviceId::new(device_id).map_err(bad)?,
        custodian: PersonAuth {
            staff: StaffId::new(staff_id).map_err(bad)?,
            method: AuthMethod::BreakGlass,
        },
        ward: WardId::new(ward_id).map_err(bad)?,
        reason,
        note,
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
    fn a_hand_out_names_the_recipient_by_badge_and_the_issuer_by_badge_and_pin() {
        let body = hand_out_body("D-0001", "S-0007", "S-0101", "W-4E", None).unwrap();
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            serde_json::json!({
                "type": "check_out",
                "device": "D-0001",
                "custodian": {"staff": "S-0007", "method": "badge"},
                "ward": "W-4E",
                "issued_by": {"staff": "S-0101", "method": "badge_pin"},
            })
        );
        // What core checks when it signs: a badge-only custodian with a PIN-checked issuer.
        assert_eq!(body.validate(), Ok(()));
        assert_eq!(
            hand_out_body("D-0001", "S-0101", "S-0101", "W-4E", None),
            Err(CaptureError::IssuerIsRecipient)
        );
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

    #[test]
    fn a_transfer_names_both_people_and_refuses_one_person_twice() {
        let body = transfer_body("D-0001", "S-0001", "S-0002", "W-4E", None).unwrap();
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(json["type"], "transfer");
        assert_eq!(
            json["from"],
            serde_json::json!({"staff": "S-0001", "method": "badge_pin"})
        );
        assert_eq!(
            json["to"],
            serde_json::json!({"staff": "S-0002", "method": "badge_pin"})
        );
        assert_eq!(
            transfer_body("D-0001", "S-0001", "S-0001", "W-4E", None),
            Err(CaptureError::SamePerson)
        );
    }

    #[test]
    fn missing_and_found_carry_the_reporter_and_an_optional_note() {
        let missing =
            serde_json::to_value(missing_body("D-0001", "S-0003", " last seen bay 4 ").unwrap())
                .unwrap();
        assert_eq!(missing["type"], "report_missing");
        assert_eq!(missing["reported_by"]["staff"], "S-0003");
        assert_eq!(missing["note"], "last seen bay 4");
        let found =
            serde_json::to_value(found_body("D-0001", "S-0003", "W-4E", "").unwrap()).unwrap();
        assert_eq!(found["type"], "report_found");
        assert_eq!(found["ward"], "W-4E");
        assert!(found.get("note").is_none());
        assert!(matches!(
            missing_body("D-0001", "S-0003", &"x".repeat(MAX_NOTE_CHARS + 1)),
            Err(CaptureError::NoteTooLong { .. })
        ));
    }

    #[test]
    fn a_break_glass_hand_out_says_why_and_how_the_person_was_identified() {
        let body = break_glass_body(
            "D-0001",
            "S-0003",
            "W-4E",
            BreakGlassReason::Emergency,
            " cardiac arrest bay 2 ",
        )
        .unwrap();
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(json["type"], "break_glass");
        assert_eq!(
            json["custodian"],
            serde_json::json!({"staff": "S-0003", "method": "break_glass"})
        );
        assert_eq!(json["reason"], "emergency");
        assert_eq!(json["note"], "cardiac arrest bay 2");
        assert_eq!(
            break_glass_body(
                "D-0001",
                "S-0003",
                "W-4E",
                BreakGlassReason::Emergency,
                "  "
            ),
            Err(CaptureError::NoteRequired)
        );
    }

    #[test]
    fn a_correction_points_at_the_event_it_voids_and_says_why() {
        let corrects = "ab".repeat(32);
        let body = correction_body(&corrects, "D-0001", "S-0003", "wrong device scanned").unwrap();
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(json["type"], "correction");
        assert_eq!(json["corrects"], corrects);
        assert_eq!(json["by"]["method"], "badge_pin");
        assert_eq!(
            correction_body(&corrects, "D-0001", "S-0003", ""),
            Err(CaptureError::NoteRequired)
        );
        assert!(matches!(
            correction_body("not hex", "D-0001", "S-0003", "x"),
            Err(CaptureError::BadIdentifier(_))
        ));
    }
}
