//! Exceptions: the conflicts and anomalies that the merge and the fold find in the record.
//!
//! Conflicts are data, not errors. Two nurses both holding a tablet, a device nobody returned, a
//! signer that equivocated: each is reported to a human with the evidence, and the record is kept
//! as it is. Exceptions are derived from the event set (and, for the time-dependent kinds, from
//! the `now_ms` of the query), so every replica holding the same events reports the same list.

use serde::{Deserialize, Serialize};

use crate::ids::{DeviceId, EventId, SignerKey, StaffId};

/// What kind of anomaly was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExceptionKind {
    /// A device was checked out (or broken into) while another person's custody was open.
    OverlappingCustody,
    /// A device was checked in while nobody held it.
    CheckInWithoutCustody,
    /// A check-in's checklist was not all done, or the device came back damaged or flat.
    IncompleteChecklist,
    /// A custody is open past its expected return (at query time).
    Overdue,
    /// A device is reported missing and not found since (at query time).
    Missing,
    /// Someone took a device by break-glass.
    BreakGlassUsed,
    /// A signer signed two different events with the same seq.
    ForkDetected,
    /// An event has waited for its predecessor longer than the site allows (at query time).
    PersistentGap,
    /// A signer's wall clock and hybrid clock disagree by more than the site allows.
    ClockSkew,
    /// A transfer was made by someone who did not hold the device.
    TransferFromNonCustodian,
    /// A device was checked in on a ward other than its home ward.
    AwayFromHomeWard,
    /// A tablet signed something only the authority may: the event has no effect.
    AuthorityRequired,
    /// An event is stamped at or after its signer's revocation; it was accepted before the
    /// revocation was known.
    RevokedSignerEvent,
    /// A quarantined device was checked out or transferred.
    UsedWhileQuarantined,
}

/// How urgently a person should look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

/// One anomaly with its evidence.
///
/// The field order is the sort order of exception lists: by device, then time, then kind.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Exception {
    /// The device concerned. Every event names a device, so every exception has one; a fork
    /// whose events name different devices is reported on the device of its smallest id.
    pub device: DeviceId,
    /// When the anomaly arose, in ms since the epoch: the `hlc.ms` of the event that raised it,
    /// or for an overdue custody its expected return.
    pub at_ms: u64,
    pub kind: ExceptionKind,
    /// The events that show the anomaly, in fold order.
    pub evidence: Vec<EventId>,
    pub severity: Severity,
    /// The people involved, by staff number.
    pub people: Vec<StaffId>,
    /// The signer concerned, for anomalies about a signer rather than a person.
    pub signer: Option<SignerKey>,
    /// A short explanation for the person reviewing the exception.
    pub detail: String,
}

impl Exception {
    pub(crate) fn about_device(
        device: &DeviceId,
        at_ms: u64,
        kind: ExceptionKind,
        severity: Severity,
    ) -> Exception {
        Exception {
            device: device.clone(),
            at_ms,
            kind,
            evidence: Vec::new(),
            severity,
            people: Vec::new(),
            signer: None,
            detail: String::new(),
        }
    }

    pub(crate) fn with_evidence(
        mut self,
        evidence: impl IntoIterator<Item = EventId>,
    ) -> Exception {
        self.evidence.extend(evidence);
        self
    }

    /// Adds people, keeping each staff number once and in first-mentioned order.
    pub(crate) fn with_people<'a>(
        mut self,
        people: impl IntoIterator<Item = &'a StaffId>,
    ) -> Exception {
        for person in people {
            if !self.people.contains(person) {
                self.people.push(person.clone());
            }
        }
        self
    }

    pub(crate) fn with_signer(mut self, signer: SignerKey) -> Exception {
        self.signer = Some(signer);
        self
    }

    pub(crate) fn with_detail(mut self, detail: impl Into<String>) -> Exception {
        self.detail = detail.into();
        self
    }
}
