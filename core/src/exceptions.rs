//! Exceptions: the conflicts and anomalies that the merge and the fold find in the record.
//!
//! Conflicts are data, not errors. Two nurses both holding a tablet, a device nobody returned, a
//! signer that equivocated: each is reported to a human with the evidence, and the record is kept
//! as it is. Exceptions are derived from the event set (and, for the time-dependent kinds, from
//! the `now_ms` of the query), so every replica holding the same events reports the same list.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::canonical::to_canonical_bytes;
use crate::ids::{DeviceId, EventId, SignerKey, StaffId};

/// Hex digits in an exception key: the first 16 bytes of a SHA-256.
pub const EXCEPTION_KEY_HEX_LEN: usize = 32;

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
    /// A custody ended but a connector could not close the person's access: the server's
    /// revocation outbox gave up after its retries. Raised by the server from its outbox, not by
    /// the fold, so tablets never see it.
    RevocationFailed,
}

impl ExceptionKind {
    /// Every kind, in declaration order: for reports that list each kind, found or not.
    pub const ALL: [ExceptionKind; 15] = [
        ExceptionKind::OverlappingCustody,
        ExceptionKind::CheckInWithoutCustody,
        ExceptionKind::IncompleteChecklist,
        ExceptionKind::Overdue,
        ExceptionKind::Missing,
        ExceptionKind::BreakGlassUsed,
        ExceptionKind::ForkDetected,
        ExceptionKind::PersistentGap,
        ExceptionKind::ClockSkew,
        ExceptionKind::TransferFromNonCustodian,
        ExceptionKind::AwayFromHomeWard,
        ExceptionKind::AuthorityRequired,
        ExceptionKind::RevokedSignerEvent,
        ExceptionKind::UsedWhileQuarantined,
        ExceptionKind::RevocationFailed,
    ];

    /// The snake_case name used on the wire.
    pub fn name(self) -> &'static str {
        match self {
            ExceptionKind::OverlappingCustody => "overlapping_custody",
            ExceptionKind::CheckInWithoutCustody => "check_in_without_custody",
            ExceptionKind::IncompleteChecklist => "incomplete_checklist",
            ExceptionKind::Overdue => "overdue",
            ExceptionKind::Missing => "missing",
            ExceptionKind::BreakGlassUsed => "break_glass_used",
            ExceptionKind::ForkDetected => "fork_detected",
            ExceptionKind::PersistentGap => "persistent_gap",
            ExceptionKind::ClockSkew => "clock_skew",
            ExceptionKind::TransferFromNonCustodian => "transfer_from_non_custodian",
            ExceptionKind::AwayFromHomeWard => "away_from_home_ward",
            ExceptionKind::AuthorityRequired => "authority_required",
            ExceptionKind::RevokedSignerEvent => "revoked_signer_event",
            ExceptionKind::UsedWhileQuarantined => "used_while_quarantined",
            ExceptionKind::RevocationFailed => "revocation_failed",
        }
    }
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
    /// A stable name for this exception, so that people can review it although it is derived
    /// anew at every query: the first 16 bytes, in hex, of the SHA-256 of the canonical JSON
    /// (RFC 8785, §1.2 of docs/PROTOCOL.md) of
    /// `{"at_ms", "device", "evidence": [event ids in hex], "kind"}`.
    ///
    /// Every replica derives the same exceptions from the same events, so each names an
    /// exception alike. Severity, people and detail are left out: they describe the exception
    /// and may be worded differently by another version, while device, kind, time and evidence
    /// are what make it this exception.
    pub fn key(&self) -> String {
        let value = serde_json::json!({
            "device": self.device.as_str(),
            "kind": self.kind.name(),
            "at_ms": self.at_ms,
            "evidence": self.evidence.iter().map(EventId::to_hex).collect::<Vec<_>>(),
        });
        let canonical = to_canonical_bytes(&value).expect(
            "identifiers, a snake_case kind, hex ids and a timestamp below 2^53 are canonical",
        );
        hex::encode(&Sha256::digest(&canonical)[..EXCEPTION_KEY_HEX_LEN / 2])
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    fn overdue(evidence: Vec<EventId>) -> Exception {
        Exception::about_device(
            &DeviceId::new("D-0001").unwrap(),
            1_741_611_600_000,
            ExceptionKind::Overdue,
            Severity::Warning,
        )
        .with_evidence(evidence)
    }

    #[test]
    fn the_key_hashes_the_canonical_identity_of_the_exception() {
        let exception = overdue(vec![EventId([0xab; 32]), EventId([0x01; 32])]);
        let canonical = format!(
            "{{\"at_ms\":1741611600000,\"device\":\"D-0001\",\"evidence\":[\"{}\",\"{}\"],\"kind\":\"overdue\"}}",
            "ab".repeat(32),
            "01".repeat(32)
        );
        let digest = Sha256::digest(canonical.as_bytes());
        assert_eq!(exception.key(), hex::encode(&digest[..16]));
        assert_eq!(exception.key(), "fc9ef937519a540433a2ded3311f62e2");
    }

    #[test]
    fn every_kind_is_listed_once_under_its_wire_name() {
        // `name` matches without a wildcard, so a new kind cannot compile without a name; this
        // checks that `ALL` lists distinct kinds and that `name` agrees with serde.
        let names: std::collections::BTreeSet<&str> =
            ExceptionKind::ALL.iter().map(|kind| kind.name()).collect();
        assert_eq!(names.len(), ExceptionKind::ALL.len());
        for kind in ExceptionKind::ALL {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.name());
        }
    }

    #[test]
    fn the_key_ignores_wording_but_not_identity() {
        let exception = overdue(vec![EventId([0xab; 32])]);
        let reworded = exception
            .clone()
            .with_detail("another wording")
            .with_people([&StaffId::new("S-0001").unwrap()]);
        assert_eq!(reworded.key(), exception.key());
        assert_eq!(exception.key().len(), EXCEPTION_KEY_HEX_LEN);
        let mut other_kind = exception.clone();
        other_kind.kind = ExceptionKind::Missing;
        let mut later = exception.clone();
        later.at_ms += 1;
        let other_evidence = overdue(vec![EventId([0xac; 32])]);
        let keys: std::collections::BTreeSet<String> =
            [&exception, &other_kind, &later, &other_evidence]
                .iter()
                .map(|exception| exception.key())
                .collect();
        assert_eq!(keys.len(), 4, "each identity has its own key");
    }
}
