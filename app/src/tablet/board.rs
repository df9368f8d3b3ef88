//! The ward board: every device of the site with its custody as the local fold sees it (own
//! events and everything pulled at the last sync), and the exceptions that need a person.

use baton_core::body::Body;
use baton_core::exceptions::{ExceptionKind, Severity};
use baton_core::ids::DeviceId;
use baton_core::replica::Replica;
use baton_core::state::DeviceStatus;

use super::roster::Roster;
use super::{OwnEvent, Tablet};
use crate::sync::protocol::Delivery;

/// One of this tablet's own handoffs, for the list that shows what was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentHandoff {
    pub event_id: String,
    pub asset_tag: String,
    pub body_type: &'static str,
    /// The person the handoff names, by name.
    pub person: String,
    pub wall_ms: u64,
    pub delivery: Delivery,
    /// The server's rejection code, for refused events.
    pub refusal: Option<String>,
}

/// The latest `n` handoffs captured on this tablet, newest first, with where each stands.
pub fn recent_handoffs(tablet: &Tablet, n: usize) -> Vec<RecentHandoff> {
    tablet
        .recent_own_events(n)
        .map(|own: &OwnEvent| {
            let body = own.event.body();
            let device = body.device().as_str();
            let person = match body {
                Body::CheckOut { custodian, .. } => Some(&custodian.staff),
                Body::CheckIn { returned_by, .. } => Some(&returned_by.staff),
                _ => body.people().into_iter().next(),
            }
            .map(|staff| tablet.roster.display_name(staff.as_str()).to_owned())
            .unwrap_or_default();
            RecentHandoff {
                event_id: own.event.id().to_hex(),
                asset_tag: tablet
                    .roster
                    .device(device)
                    .map_or_else(|| device.to_owned(), |found| found.asset_tag.clone()),
                body_type: body.type_name(),
                person,
                wall_ms: own.event.wall_ms(),
                delivery: own.delivery(),
                refusal: own
                    .receipt
                    .as_ref()
                    .and_then(|receipt| receipt.reason.as_ref())
                    .map(|reason| reason.code.clone()),
            }
        })
        .collect()
}

/// One line of the board.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardRow {
    pub device_id: String,
    pub asset_tag: String,
    pub kind: String,
    pub home_ward: String,
    pub status: DeviceStatus,
    /// Display names of everyone holding the device; more than one is overlapping custody.
    pub custodians: Vec<String>,
    pub since_ms: Option<u64>,
    pub expected_return_ms: Option<u64>,
}

impl BoardRow {
    pub fn overlapping(&self) -> bool {
        self.custodians.len() > 1
    }
}

/// One exception for the board, with names instead of numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardException {
    pub kind: ExceptionKind,
    pub severity: Severity,
    pub device_label: String,
    pub people: Vec<String>,
    pub at_ms: u64,
    pub detail: String,
}

/// Who holds a device now, by name, and since when; `None` when nobody does.
pub fn holders(roster: &Roster, replica: &Replica, device_id: &str) -> Option<(Vec<String>, u64)> {
    let device = DeviceId::new(device_id).ok()?;
    let custody = replica.custody().device(&device)?;
    let since_ms = custody.since_ms()?;
    let names = custody
        .custodians()
        .into_iter()
        .map(|staff| roster.display_name(staff.as_str()).to_owned())
        .collect();
    Some((names, since_ms))
}

/// The staff numbers of whoever holds a device, as far as this tablet's records go.
pub fn custodian_ids(replica: &Replica, device_id: &str) -> Vec<String> {
    DeviceId::new(device_id)
        .ok()
        .and_then(|device| {
            replica.custody().device(&device).map(|custody| {
                custody
                    .custodians()
                    .into_iter()
                    .map(|staff| staff.as_str().to_owned())
                    .collect()
            })
        })
        .unwrap_or_default()
}

/// The board at `now_ms`: the registry's devices in asset-tag order, then any device the events
/// name that the registry does not.
pub fn board_rows(roster: &Roster, replica: &Replica, now_ms: u64) -> Vec<BoardRow> {
    let custody_state = replica.custody();
    let mut devices: Vec<_> = roster.devices.iter().collect();
    devices.sort_by(|left, right| left.asset_tag.cmp(&right.asset_tag));
    let mut rows: Vec<BoardRow> = devices
        .into_iter()
        .map(|device| {
            let custody = DeviceId::new(&device.device_id)
                .ok()
                .and_then(|device_id| custody_state.device(&device_id));
            BoardRow {
                device_id: device.device_id.clone(),
                asset_tag: device.asset_tag.clone(),
                kind: device.kind.clone(),
                home_ward: device.home_ward.clone(),
                status: custody.map_or(DeviceStatus::Available, |custody| custody.status(now_ms)),
                custodians: custody
                    .map(|custody| {
                        custody
                            .custodians()
                            .into_iter()
                            .map(|staff| roster.display_name(staff.as_str()).to_owned())
                            .collect()
                    })
                    .unwrap_or_default(),
                since_ms: custody.and_then(|custody| custody.since_ms()),
                expected_return_ms: custody.and_then(|custody| custody.expected_return_ms()),
            }
        })
        .collect();
    for custody in custody_state.devices() {
        if roster.device(custody.device.as_str()).is_none() {
            rows.push(BoardRow {
                device_id: custody.device.to_string(),
                asset_tag: custody.device.to_string(),
                kind: String::new(),
                home_ward: String::new(),
                status: custody.status(now_ms),
                custodians: custody
                    .custodians()
                    .into_iter()
                    .map(|staff| roster.display_name(staff.as_str()).to_owned())
                    .collect(),
                since_ms: custody.since_ms(),
                expected_return_ms: custody.expected_return_ms(),
            });
        }
    }
    rows
}

/// The exceptions at `now_ms`, most severe first, then newest first.
pub fn board_exceptions(roster: &Roster, replica: &Replica, now_ms: u64) -> Vec<BoardException> {
    let mut exceptions: Vec<BoardException> = replica
        .exceptions(now_ms)
        .into_iter()
        .map(|exception| BoardException {
            kind: exception.kind,
            severity: exception.severity,
            device_label: roster.device(exception.device.as_str()).map_or_else(
                || exception.device.to_string(),
                |device| device.asset_tag.clone(),
            ),
            people: exception
                .people
                .iter()
                .map(|staff| roster.display_name(staff.as_str()).to_owned())
                .collect(),
            at_ms: exception.at_ms,
            detail: exception.detail,
        })
        .collect();
    exceptions.sort_by(|left, right| {
        right
            .severity
            .cmp(&left.severity)
            .then(right.at_ms.cmp(&left.at_ms))
    });
    exceptions
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tablet::capture::check_out_body;
    use crate::tablet::tests::{NOW_MS, tablet};

    #[test]
    fn every_registry_device_is_listed_and_two_holders_show_as_overlapping_custody() {
        let mut tablet = tablet();
        for (staff, at_ms) in [("S-0001", NOW_MS), ("S-0002", NOW_MS + 60_000)] {
            let body = check_out_body("D-0003", staff, "W-4E", None).unwrap();
            let event = tablet.sign(body, at_ms).unwrap();
            tablet.record_own(event);
        }
        let now_ms = NOW_MS + 120_000;
        let rows = board_rows(&tablet.roster, tablet.replica(), now_ms);
        let tags: Vec<&str> = rows.iter().map(|row| row.asset_tag.as_str()).collect();
        assert_eq!(tags, ["BT-10001", "BT-10002", "BT-10003"]);
        assert_eq!(rows[0].status, DeviceStatus::Available);
        let held = &rows[2];
        assert_eq!(held.status, DeviceStatus::InUse);
        assert_eq!(held.custodians, ["Avery Alder", "Blake Birch"]);
        assert!(held.overlapping());
        assert_eq!(held.since_ms, Some(NOW_MS));

        let exceptions = board_exceptions(&tablet.roster, tablet.replica(), now_ms);
        assert_eq!(exceptions.len(), 1);
        assert_eq!(exceptions[0].kind, ExceptionKind::OverlappingCustody);
        assert_eq!(exceptions[0].device_label, "BT-10003");
        assert_eq!(exceptions[0].people, ["Avery Alder", "Blake Birch"]);
    }
}
