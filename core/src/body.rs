//! The bodies of custody events: what happened to which device, and who vouched for it.
//!
//! Bodies name people by staff number together with how each was authenticated, and never carry
//! a PIN or a name. Field names are part of the frozen signed format (docs/PROTOCOL.md §1.5):
//! adding, renaming or retyping a field needs a new envelope version.

use serde::{Deserialize, Deserializer, Serialize};
use thiserror::Error;

use crate::canonical::MAX_SAFE_INTEGER;
use crate::ids::{DeviceId, EventId, StaffId, WardId};

/// The longest free-text field (notes, purposes), in characters.
pub const MAX_NOTE_CHARS: usize = 500;
/// The longest shift name, in characters.
pub const MAX_SHIFT_NAME_CHARS: usize = 64;

/// How a person proved who they were at the tablet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    BadgePin,
    PinOnly,
    BreakGlass,
    /// Only the person's badge was scanned, without a PIN. Valid only for the custodian of a
    /// check-out that names, in `issued_by`, the colleague who gave badge and PIN and handed the
    /// device out (a charge nurse's bulk hand-out at shift start).
    Badge,
    /// A manager signed in to the dashboard with a password session, not at a tablet. Only the
    /// authority (the server) may sign an event naming a person authenticated this way: a
    /// tablet never sees the session, so from a tablet the claim would be unfounded.
    Dashboard,
}

/// A person named in an event, by staff number, with how they were authenticated.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonAuth {
    pub staff: StaffId,
    pub method: AuthMethod,
}

/// The state a device is returned in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceCondition {
    Ok,
    Damaged,
    NeedsCharging,
}

/// The hand-back checklist a nurse confirms at check-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checklist {
    pub apps_signed_out: bool,
    pub local_data_wiped: bool,
    pub condition: DeviceCondition,
}

/// Why the normal two-person handoff was bypassed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakGlassReason {
    Emergency,
    SecondPartyAbsent,
}

/// What an event says happened. On the wire the variant is the `type` member of `body`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Body {
    CheckOut {
        device: DeviceId,
        custodian: PersonAuth,
        ward: WardId,
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "present"
        )]
        shift: Option<String>,
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "present"
        )]
        expected_return_ms: Option<u64>,
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "present"
        )]
        purpose: Option<String>,
        /// Who handed the device out, when not the custodian: required when the custodian gave
        /// only a badge (`AuthMethod::Badge`), and then authenticated with badge and PIN.
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "present"
        )]
        issued_by: Option<PersonAuth>,
    },
    CheckIn {
        device: DeviceId,
        returned_by: PersonAuth,
        ward: WardId,
        checklist: Checklist,
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "present"
        )]
        note: Option<String>,
    },
    Transfer {
        device: DeviceId,
        from: PersonAuth,
        to: PersonAuth,
        ward: WardId,
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "present"
        )]
        shift: Option<String>,
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "present"
        )]
        expected_return_ms: Option<u64>,
    },
    ReportMissing {
        device: DeviceId,
        reported_by: PersonAuth,
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "present"
        )]
        note: Option<String>,
    },
    ReportFound {
        device: DeviceId,
        found_by: PersonAuth,
        ward: WardId,
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "present"
        )]
        note: Option<String>,
    },
    BreakGlass {
        device: DeviceId,
        custodian: PersonAuth,
        ward: WardId,
        reason: BreakGlassReason,
        note: String,
    },
    /// The tablet locked itself after inactivity, which ends the custody session.
    Lockout {
        device: DeviceId,
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "present"
        )]
        custodian: Option<StaffId>,
        idle_minutes: u32,
    },
    /// Voids an earlier event, such as a mis-scanned check-out, while keeping it in the record.
    Correction {
        corrects: EventId,
        device: DeviceId,
        by: PersonAuth,
        note: String,
    },
    /// Takes a device out of service. Only the authority may issue it.
    Quarantine {
        device: DeviceId,
        by: StaffId,
        note: String,
    },
    /// Returns a quarantined device to service. Only the authority may issue it.
    Release {
        device: DeviceId,
        by: StaffId,
        note: String,
    },
}

/// Deserialises an optional field that, when present, must not be `null`: an absent field and
/// an explicit `null` would otherwise both mean `None`, giving one event two spellings.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

/// A body field that breaks a rule of the signed format.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{field}: {rule}")]
pub struct FieldError {
    /// Dotted path of the field, such as `body.note`.
    pub field: &'static str,
    pub rule: FieldRule,
}

/// The rule a field breaks.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FieldRule {
    #[error("must not be empty or only whitespace")]
    Blank,
    #[error("is {chars} characters long, the maximum is {max}")]
    TooLong { chars: usize, max: usize },
    #[error("is {value}, the maximum is 2^53-1")]
    IntegerTooLarge { value: u64 },
    #[error("must be at least 1")]
    Zero,
    #[error("must be null exactly when seq is 1 (seq is {seq})")]
    PrevDoesNotMatchSeq { seq: u64 },
    #[error("version {found} is not supported; this implementation reads version 1")]
    UnsupportedVersion { found: u64 },
    #[error(
        "a badge without a PIN is accepted only for the custodian of a check-out issued by a \
         colleague who gave badge and PIN"
    )]
    BadgeWithoutIssuer,
    #[error("the person who issues a check-out must give badge and PIN")]
    IssuerNotBadgePin,
    #[error("the person who issues a check-out cannot be its custodian")]
    IssuerIsCustodian,
}

impl Body {
    /// The `type` name used on the wire.
    pub fn type_name(&self) -> &'static str {
        match self {
            Body::CheckOut { .. } => "check_out",
            Body::CheckIn { .. } => "check_in",
            Body::Transfer { .. } => "transfer",
            Body::ReportMissing { .. } => "report_missing",
            Body::ReportFound { .. } => "report_found",
            Body::BreakGlass { .. } => "break_glass",
            Body::Lockout { .. } => "lockout",
            Body::Correction { .. } => "correction",
            Body::Quarantine { .. } => "quarantine",
            Body::Release { .. } => "release",
        }
    }

    /// The device the event is about. Every body names exactly one.
    pub fn device(&self) -> &DeviceId {
        match self {
            Body::CheckOut { device, .. }
            | Body::CheckIn { device, .. }
            | Body::Transfer { device, .. }
            | Body::ReportMissing { device, .. }
            | Body::ReportFound { device, .. }
            | Body::BreakGlass { device, .. }
            | Body::Lockout { device, .. }
            | Body::Correction { device, .. }
            | Body::Quarantine { device, .. }
            | Body::Release { device, .. } => device,
        }
    }

    /// Whether only a signer with the authority role may issue this body.
    pub fn requires_authority(&self) -> bool {
        self.authority_only().is_some()
    }

    /// What in this body only the authority may sign, as (field, what), or `None` when any
    /// enrolled signer may sign it: quarantines and releases, and any person authenticated by a
    /// dashboard session (`AuthMethod::Dashboard`).
    pub fn authority_only(&self) -> Option<(&'static str, &'static str)> {
        if matches!(self, Body::Quarantine { .. } | Body::Release { .. }) {
            return Some(("body.type", self.type_name()));
        }
        self.persons()
            .into_iter()
            .find(|(_, person)| person.method == AuthMethod::Dashboard)
            .map(|(field, _)| (field, "a person authenticated by a dashboard session"))
    }

    /// The authenticated people the event names, with the path of each one's `method` field.
    pub fn persons(&self) -> Vec<(&'static str, &PersonAuth)> {
        match self {
            Body::CheckOut {
                custodian,
                issued_by,
                ..
            } => [("body.custodian.method", custodian)]
                .into_iter()
                .chain(
                    issued_by
                        .iter()
                        .map(|issuer| ("body.issued_by.method", issuer)),
                )
                .collect(),
            Body::BreakGlass { custodian, .. } => vec![("body.custodian.method", custodian)],
            Body::CheckIn { returned_by, .. } => vec![("body.returned_by.method", returned_by)],
            Body::Transfer { from, to, .. } => {
                vec![("body.from.method", from), ("body.to.method", to)]
            }
            Body::ReportMissing { reported_by, .. } => {
                vec![("body.reported_by.method", reported_by)]
            }
            Body::ReportFound { found_by, .. } => vec![("body.found_by.method", found_by)],
            Body::Correction { by, .. } => vec![("body.by.method", by)],
            Body::Lockout { .. } | Body::Quarantine { .. } | Body::Release { .. } => Vec::new(),
        }
    }

    /// The people the event names, in field order.
    pub fn people(&self) -> Vec<&StaffId> {
        match self {
            Body::CheckOut {
                custodian,
                issued_by,
                ..
            } => [&custodian.staff]
                .into_iter()
                .chain(issued_by.iter().map(|issuer| &issuer.staff))
                .collect(),
            Body::BreakGlass { custodian, .. } => vec![&custodian.staff],
            Body::CheckIn { returned_by, .. } => vec![&returned_by.staff],
            Body::Transfer { from, to, .. } => vec![&from.staff, &to.staff],
            Body::ReportMissing { reported_by, .. } => vec![&reported_by.staff],
            Body::ReportFound { found_by, .. } => vec![&found_by.staff],
            Body::Lockout { custodian, .. } => custodian.iter().collect(),
            Body::Correction { by, .. } => vec![&by.staff],
            Body::Quarantine { by, .. } | Body::Release { by, .. } => vec![by],
        }
    }

    /// Checks the size and presence rules that the types alone do not express.
    pub fn validate(&self) -> Result<(), FieldError> {
        match self {
            Body::CheckOut {
                custodian,
                shift,
                expected_return_ms,
                purpose,
                issued_by,
                ..
            } => {
                check_shift(shift.as_deref())?;
                check_timestamp("body.expected_return_ms", *expected_return_ms)?;
                check_optional_note("body.purpose", purpose.as_deref())?;
                check_issuer(custodian, issued_by.as_ref())?;
                self.check_badge_only_methods()
            }
            Body::CheckIn { note, .. }
            | Body::ReportMissing { note, .. }
            | Body::ReportFound { note, .. } => {
                check_optional_note("body.note", note.as_deref())?;
                self.check_badge_only_methods()
            }
            Body::Transfer {
                shift,
                expected_return_ms,
                ..
            } => {
                check_shift(shift.as_deref())?;
                check_timestamp("body.expected_return_ms", *expected_return_ms)?;
                self.check_badge_only_methods()
            }
            Body::Lockout { .. } => Ok(()),
            Body::BreakGlass { note, .. }
            | Body::Correction { note, .. }
            | Body::Quarantine { note, .. }
            | Body::Release { note, .. } => {
                check_required_note("body.note", note)?;
                self.check_badge_only_methods()
            }
        }
    }

    /// A badge without a PIN proves too little on its own: it is refused for every person an
    /// event names except a check-out's custodian (whose issuer `check_issuer` checks).
    fn check_badge_only_methods(&self) -> Result<(), FieldError> {
        let badge_only = self.persons().into_iter().find(|(field, person)| {
            person.method == AuthMethod::Badge
                && !(matches!(self, Body::CheckOut { .. }) && *field == "body.custodian.method")
        });
        match badge_only {
            Some((field, _)) => Err(FieldError {
                field,
                rule: FieldRule::BadgeWithoutIssuer,
            }),
            None => Ok(()),
        }
    }
}

/// A check-out's issuer: present when the custodian gave only a badge, and then someone else
/// who gave badge and PIN.
fn check_issuer(custodian: &PersonAuth, issued_by: Option<&PersonAuth>) -> Result<(), FieldError> {
    match issued_by {
        None if custodian.method == AuthMethod::Badge => Err(FieldError {
            field: "body.issued_by",
            rule: FieldRule::BadgeWithoutIssuer,
        }),
        None => Ok(()),
        Some(issuer) if issuer.method != AuthMethod::BadgePin => Err(FieldError {
            field: "body.issued_by.method",
            rule: FieldRule::IssuerNotBadgePin,
        }),
        Some(issuer) if issuer.staff == custodian.staff => Err(FieldError {
            field: "body.issued_by.staff",
            rule: FieldRule::IssuerIsCustodian,
        }),
        Some(_) => Ok(()),
    }
}

fn check_shift(shift: Option<&str>) -> Result<(), FieldError> {
    let Some(shift) = shift else { return Ok(()) };
    check_text("body.shift", shift, MAX_SHIFT_NAME_CHARS)?;
    if shift.trim().is_empty() {
        return Err(FieldError {
            field: "body.shift",
            rule: FieldRule::Blank,
        });
    }
    Ok(())
}

fn check_optional_note(field: &'static str, note: Option<&str>) -> Result<(), FieldError> {
    note.map_or(Ok(()), |note| check_text(field, note, MAX_NOTE_CHARS))
}

fn check_required_note(field: &'static str, note: &str) -> Result<(), FieldError> {
    if note.trim().is_empty() {
        return Err(FieldError {
            field,
            rule: FieldRule::Blank,
        });
    }
    check_text(field, note, MAX_NOTE_CHARS)
}

fn check_text(field: &'static str, text: &str, max: usize) -> Result<(), FieldError> {
    let chars = text.chars().count();
    if chars > max {
        return Err(FieldError {
            field,
            rule: FieldRule::TooLong { chars, max },
        });
    }
    Ok(())
}

pub(crate) fn check_timestamp(field: &'static str, value: Option<u64>) -> Result<(), FieldError> {
    match value {
        Some(value) if value > MAX_SAFE_INTEGER => Err(FieldError {
            field,
            rule: FieldRule::IntegerTooLarge { value },
        }),
        _ => Ok(()),
    }
}
