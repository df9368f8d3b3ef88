//! The derived custody state of one device: who holds it, since when, until when, and every
//! custody interval in its history.

use serde::{Deserialize, Serialize};

use crate::body::AuthMethod;
use crate::hlc::Hlc;
use crate::ids::{DeviceId, EventId, SignerKey, StaffId, WardId};

/// Where a device stands, as shown on the ward board.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceStatus {
    Available,
    InUse,
    /// In use past the expected return of at least one open custody.
    Overdue,
    Missing,
    Quarantined,
}

/// Why a custody interval ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustodyEndReason {
    CheckedIn,
    /// Handed to someone else by a transfer.
    Transferred,
    /// The tablet locked itself after inactivity.
    Lockout,
    /// The same person checked the device out again, opening a new interval.
    Renewed,
    /// The device was reported found, so whoever held it no longer did.
    Found,
    /// The authority took the device out of service.
    Quarantined,
}

impl CustodyEndReason {
    /// The snake_case name used on the wire (revocations, the custody CSV).
    pub fn name(self) -> &'static str {
        match self {
            CustodyEndReason::CheckedIn => "checked_in",
            CustodyEndReason::Transferred => "transferred",
            CustodyEndReason::Lockout => "lockout",
            CustodyEndReason::Renewed => "renewed",
            CustodyEndReason::Found => "found",
            CustodyEndReason::Quarantined => "quarantined",
        }
    }
}

/// The event that closed a custody interval.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CustodyEnd {
    pub event: EventId,
    /// The closing event's `hlc.ms`.
    pub end_ms: u64,
    pub reason: CustodyEndReason,
}

/// One person's custody of a device, from the event that opened it to the one that closed it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CustodyInterval {
    pub staff: StaffId,
    pub method: AuthMethod,
    /// The check-out, transfer or break-glass event that opened the custody.
    pub opened_by: EventId,
    /// The opening event's `hlc.ms`.
    pub start_ms: u64,
    pub expected_return_ms: u64,
    /// `None` while the custody is open. A closed custody means the person's access to the
    /// device's apps must be revoked.
    pub end: Option<CustodyEnd>,
}

impl CustodyInterval {
    pub fn is_open(&self) -> bool {
        self.end.is_none()
    }

    pub fn is_overdue(&self, now_ms: u64) -> bool {
        self.is_open() && now_ms > self.expected_return_ms
    }
}

/// A correction seen in a device's history and whether it took effect.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CorrectionRecord {
    pub correction: EventId,
    pub corrects: EventId,
    /// False when the correction was itself voided, when a tablet tried to correct the
    /// authority, or when the corrected event is not (yet) known for this device.
    pub effective: bool,
}

/// One event in a device's history, in fold order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub event: EventId,
    pub hlc: Hlc,
    pub signer: SignerKey,
    pub body_type: String,
    /// The effective correction that voided this event, if any. Voided events stay in the
    /// timeline but have no effect on custody.
    pub voided_by: Option<EventId>,
}

/// A custody that has ended, for the revocation engine: the person's sessions on the device's
/// apps must be revoked.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EndedCustody {
    pub device: DeviceId,
    pub staff: StaffId,
    pub opened_by: EventId,
    pub ended_by: EventId,
    pub end_ms: u64,
    pub reason: CustodyEndReason,
}

/// The derived state of one device.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct DeviceCustody {
    pub device: DeviceId,
    /// Every custody interval, in the order they were opened.
    pub intervals: Vec<CustodyInterval>,
    /// The unanswered missing report, if the device is missing.
    pub missing_report: Option<EventId>,
    /// The authority's quarantine event, if the device is out of service.
    pub quarantine: Option<EventId>,
    /// The ward named by the latest event that names one.
    pub last_ward: Option<WardId>,
    pub corrections: Vec<CorrectionRecord>,
    /// Indices of the open intervals in opening order, so that a step does not scan a long
    /// history.
    #[serde(skip)]
    open: Vec<usize>,
}

/// A point in a device's fold that `DeviceCustody::rewind` returns to.
#[derive(Debug, Clone)]
pub(crate) struct CustodyMark {
    intervals_len: usize,
    open: Vec<usize>,
    missing_report: Option<EventId>,
    quarantine: Option<EventId>,
    last_ward: Option<WardId>,
    corrections_len: usize,
}

impl DeviceCustody {
    pub(crate) fn new(device: DeviceId) -> DeviceCustody {
        DeviceCustody {
            device,
            intervals: Vec::new(),
            missing_report: None,
            quarantine: None,
            last_ward: None,
            corrections: Vec::new(),
            open: Vec::new(),
        }
    }

    /// What a fold step can change, marked so that the state can be rewound to here. A step
    /// only appends intervals and correction records and closes open intervals, so lengths and
    /// the open intervals' positions are enough: no interval is copied.
    pub(crate) fn mark(&self) -> CustodyMark {
        CustodyMark {
            intervals_len: self.intervals.len(),
            open: self.open.clone(),
            missing_report: self.missing_report,
            quarantine: self.quarantine,
            last_ward: self.last_ward.clone(),
            corrections_len: self.corrections.len(),
        }
    }

    /// Returns to the state `mark` was taken in, undoing every later step.
    pub(crate) fn rewind(&mut self, mark: &CustodyMark) {
        self.intervals.truncate(mark.intervals_len);
        // The intervals open at the mark may have been closed since; nothing else about an
        // interval changes after it is opened.
        for &interval_idx in &mark.open {
            self.intervals[interval_idx].end = None;
        }
        self.open.clone_from(&mark.open);
        self.missing_report = mark.missing_report;
        self.quarantine = mark.quarantine;
        self.last_ward.clone_from(&mark.last_ward);
        self.corrections.truncate(mark.corrections_len);
    }

    pub(crate) fn open_custody(&mut self, interval: CustodyInterval) {
        self.open.push(self.intervals.len());
        self.intervals.push(interval);
    }

    /// Closes the open intervals for which `should_close` holds; returns how many it closed.
    pub(crate) fn close_custodies(
        &mut self,
        end: &CustodyEnd,
        mut should_close: impl FnMut(&CustodyInterval) -> bool,
    ) -> usize {
        let open_before = self.open.len();
        let intervals = &mut self.intervals;
        self.open.retain(|&interval_idx| {
            let close = should_close(&intervals[interval_idx]);
            if close {
                intervals[interval_idx].end = Some(end.clone());
            }
            !close
        });
        open_before - self.open.len()
    }

    /// The open custodies, in the order they were opened.
    pub fn open_intervals(&self) -> impl Iterator<Item = &CustodyInterval> {
        self.open
            .iter()
            .map(|&interval_idx| &self.intervals[interval_idx])
    }

    /// Who holds the device now; more than one person means overlapping custody.
    pub fn custodians(&self) -> Vec<&StaffId> {
        self.open_intervals()
            .map(|interval| &interval.staff)
            .collect()
    }

    /// When the earliest open custody began.
    pub fn since_ms(&self) -> Option<u64> {
        self.open_intervals()
            .map(|interval| interval.start_ms)
            .min()
    }

    /// The earliest expected return among the open custodies.
    pub fn expected_return_ms(&self) -> Option<u64> {
        self.open_intervals()
            .map(|interval| interval.expected_return_ms)
            .min()
    }

    /// The event that opened the earliest open custody.
    pub fn opened_by(&self) -> Option<EventId> {
        self.open_intervals()
            .next()
            .map(|interval| interval.opened_by)
    }

    /// The status at `now_ms`: quarantine, then missing, then overdue, then in use.
    pub fn status(&self, now_ms: u64) -> DeviceStatus {
        if self.quarantine.is_some() {
            DeviceStatus::Quarantined
        } else if self.missing_report.is_some() {
            DeviceStatus::Missing
        } else if self
            .open_intervals()
            .any(|interval| interval.is_overdue(now_ms))
        {
            DeviceStatus::Overdue
        } else if self.open_intervals().next().is_some() {
            DeviceStatus::InUse
        } else {
            DeviceStatus::Available
        }
    }

    /// The custodies that have ended, for the revocation engine.
    pub fn ended_custodies(&self) -> impl Iterator<Item = EndedCustody> + '_ {
        self.intervals.iter().filter_map(|interval| {
            let end = interval.end.as_ref()?;
            Some(EndedCustody {
                device: self.device.clone(),
                staff: interval.staff.clone(),
                opened_by: interval.opened_by,
                ended_by: end.event,
                end_ms: end.end_ms,
                reason: end.reason,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::CustodyEndReason;

    #[test]
    fn end_reason_names_agree_with_serde() {
        for reason in [
            CustodyEndReason::CheckedIn,
            CustodyEndReason::Transferred,
            CustodyEndReason::Lockout,
            CustodyEndReason::Renewed,
            CustodyEndReason::Found,
            CustodyEndReason::Quarantined,
        ] {
            assert_eq!(
                serde_json::to_value(reason).unwrap(),
                serde_json::json!(reason.name())
            );
        }
    }
}
