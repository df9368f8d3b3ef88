//! Which access must be closed when custody changes, decided from the fold.
//!
//! When the merged state shows that someone's custody of a device has ended (check-in,
//! transfer, lockout, found, quarantine, a renewed check-out), that the device was reported
//! missing while they held it, or that an overlapping custody superseded theirs, the push that
//! caused it records a revocation in the same transaction that stores the events (see
//! `Storage::append_events`). A custody is identified by (device, person, opening event), so
//! nothing is revoked twice and a crash between storing and revoking cannot happen.

use std::collections::BTreeSet;

use baton_core::fold::CustodyState;
use baton_core::ids::DeviceId;
use baton_core::state::{CustodyEndReason, DeviceStatus};

use crate::storage::NewRevocation;

/// Baton's own custody-bound tokens: revoked inside the ingest transaction itself.
pub const BUILT_IN_CONNECTOR: &str = "baton_tokens";

/// The name of a custody end reason, as revocations and the custody CSV give it.
pub fn reason_name(reason: CustodyEndReason) -> &'static str {
    match reason {
        CustodyEndReason::CheckedIn => "checked_in",
        CustodyEndReason::Transferred => "transferred",
        CustodyEndReason::Lockout => "lockout",
        CustodyEndReason::Renewed => "renewed",
        CustodyEndReason::Found => "found",
        CustodyEndReason::Quarantined => "quarantined",
    }
}

/// The revocations the current state of `devices` calls for. Already recorded ones are
/// returned again and ignored by storage, which keys them by custody.
pub fn revocations_for<'a>(
    custody: &CustodyState,
    devices: impl IntoIterator<Item = &'a DeviceId>,
    now_ms: u64,
) -> Vec<NewRevocation> {
    let mut revocations = Vec::new();
    let devices: BTreeSet<&DeviceId> = devices.into_iter().collect();
    for device in devices {
        let Some(state) = custody.device(device) else {
            continue;
        };
        let missing = state.status(now_ms) == DeviceStatus::Missing;
        let open: Vec<_> = state.open_intervals().collect();
        for interval in &state.intervals {
            let revocation = |reason: &str, ended_by: Option<String>| NewRevocation {
                device_id: device.as_str().to_owned(),
                staff_id: interval.staff.as_str().to_owned(),
                opened_by: interval.opened_by.to_hex(),
                ended_by,
                reason: reason.to_owned(),
            };
            if let Some(end) = &interval.end {
                revocations.push(revocation(
                    reason_name(end.reason),
                    Some(end.event.to_hex()),
                ));
            } else if missing {
                revocations.push(revocation(
                    "reported_missing",
                    state.missing_report.map(|id| id.to_hex()),
                ));
            } else if open.len() > 1
                && open
                    .last()
                    .is_some_and(|latest| latest.opened_by != interval.opened_by)
            {
                // Two people hold the device at once: the later hand-out stands, the earlier
                // custodian's access is closed until a manager resolves the overlap.
                let latest = open.last().map(|latest| latest.opened_by.to_hex());
                revocations.push(revocation("overlapping_custody", latest));
            }
        }
    }
    revocations
}

/// Whether `staff` holds `device` through the custody opened by `opened_by`, right now: the
/// condition for a custody-bound token to be active.
pub fn custody_is_open(
    custody: &CustodyState,
    device: &DeviceId,
    staff: &str,
    opened_by: &str,
    now_ms: u64,
) -> bool {
    let Some(state) = custody.device(device) else {
        return false;
    };
    if matches!(
        state.status(now_ms),
        DeviceStatus::Missing | DeviceStatus::Quarantined
    ) {
        return false;
    }
    let open: Vec<_> = state.open_intervals().collect();
    // Under overlapping custody only the latest hand-out keeps access (see `revocations_for`).
    open.last().is_some_and(|latest| {
        latest.staff.as_str() == staff && latest.opened_by.to_hex() == opened_by
    })
}
