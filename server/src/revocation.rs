//! Which access must be closed when custody changes, decided from the fold.
//!
//! When the merged state shows that someone's custody of a device has ended (check-in,
//! transfer, lockout, found, quarantine, a renewed check-out), that the device was reported
//! missing while they held it, or that an overlapping custody superseded theirs, the push that
//! caused it records a revocation in the same transaction that stores the events (see
//! `Storage::append_events`). A custody is identified by (device, person, opening event), so
//! nothing is revoked twice and a crash between storing and revoking cannot happen.

use std::collections::BTreeMap;

use baton_core::event::SignedEvent;
use baton_core::fold::CustodyState;
use baton_core::ids::DeviceId;
use baton_core::state::DeviceStatus;

use crate::storage::NewRevocation;

/// Baton's own custody-bound tokens: revoked inside the ingest transaction itself.
pub const BUILT_IN_CONNECTOR: &str = "baton_tokens";

/// The exceptions the revocation outbox raises: one per revocation that some connector gave
/// up on (status `failed` after its retries). They join the fold's exceptions on the dashboard,
/// with the event that ended the custody as evidence, so a manager sees that a person's access
/// is still open and why.
pub fn failed_revocation_exceptions(
    revocations: &[crate::storage::RevocationRecord],
) -> Vec<baton_core::exceptions::Exception> {
    use baton_core::exceptions::{Exception, ExceptionKind, Severity};
    use baton_core::ids::{EventId, StaffId};
    revocations
        .iter()
        .filter_map(|revocation| {
            let failed: Vec<String> = revocation
                .deliveries
                .iter()
                .filter(|delivery| delivery.status == "failed")
                .map(|delivery| {
                    format!(
                        "{} failed after {} attempts{}",
                        delivery.connector,
                        delivery.attempts,
                        delivery
                            .last_error
                            .as_ref()
                            .map(|error| format!(": {error}"))
                            .unwrap_or_default()
                    )
                })
                .collect();
            if failed.is_empty() {
                return None;
            }
            Some(Exception {
                device: DeviceId::new(&revocation.device_id).ok()?,
                at_ms: u64::try_from(revocation.created_at_ms).unwrap_or(0),
                kind: ExceptionKind::RevocationFailed,
                evidence: revocation
                    .ended_by
                    .as_deref()
                    .and_then(|id| EventId::from_hex(id).ok())
                    .into_iter()
                    .collect(),
                severity: Severity::Critical,
                people: StaffId::new(&revocation.staff_id)
                    .ok()
                    .into_iter()
                    .collect(),
                signer: None,
                detail: format!(
                    "access of {} after {} is not confirmed closed: {}",
                    revocation.staff_id,
                    revocation.reason,
                    failed.join("; ")
                ),
            })
        })
        .collect()
}

/// For each device that newly folded events name, the earliest `hlc.ms` among them: the fold
/// runs in clock order, so custody that ended before that moment is exactly as it was, and was
/// already recorded by the push that folded its end.
pub fn changed_since<'a>(
    events: impl IntoIterator<Item = &'a SignedEvent>,
) -> BTreeMap<DeviceId, u64> {
    let mut since: BTreeMap<DeviceId, u64> = BTreeMap::new();
    for event in events {
        let at_ms = event.hlc().ms;
        since
            .entry(event.body().device().clone())
            .and_modify(|earliest| *earliest = (*earliest).min(at_ms))
            .or_insert(at_ms);
    }
    since
}

/// The revocations the current state of the changed devices calls for: custody that ended at
/// or after the device's first changed moment (`changed_since`), custody still open while the
/// device is missing, and custody superseded by an overlapping hand-out. Storage keys them by
/// custody, so one returned again is ignored; bounding the scan by time keeps a push's cost
/// independent of how long a device's history is.
pub fn revocations_for(
    custody: &CustodyState,
    changed: &BTreeMap<DeviceId, u64>,
    now_ms: u64,
) -> Vec<NewRevocation> {
    let mut revocations = Vec::new();
    for (device, since_ms) in changed {
        let Some(state) = custody.device(device) else {
            continue;
        };
        let missing = state.status(now_ms) == DeviceStatus::Missing;
        let open: Vec<_> = state.open_intervals().collect();
        for interval in &state.intervals {
            if interval
                .end
                .as_ref()
                .is_some_and(|end| end.end_ms < *since_ms)
            {
                continue;
            }
            let revocation = |reason: &str, ended_by: Option<String>| NewRevocation {
                device_id: device.as_str().to_owned(),
                staff_id: interval.staff.as_str().to_owned(),
                opened_by: interval.opened_by.to_hex(),
                ended_by,
                reason: reason.to_owned(),
            };
            if let Some(end) = &interval.end {
                revocations.push(revocation(end.reason.name(), Some(end.event.to_hex())));
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

/// The revocations of `after` (the state once a push is folded) that `before` (the same
/// devices' revocations before it) did not call for. Those of `before` are stored already: the
/// push that folded them recorded them. A late event in the middle of a busy device's history
/// re-examines every custody after it, so without this a push would offer the database each of
/// them again, only for it to ignore them (thousands per push when many tablets push
/// interleaved events for the same devices).
pub fn not_yet_recorded(before: &[NewRevocation], after: Vec<NewRevocation>) -> Vec<NewRevocation> {
    let recorded: std::collections::HashSet<(&str, &str, &str)> = before
        .iter()
        .map(|revocation| revocation.custody())
        .collect();
    after
        .into_iter()
        .filter(|revocation| !recorded.contains(&revocation.custody()))
        .collect()
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

#[cfg(test)]
mod tests {
    use baton_core::body::{AuthMethod, Body, Checklist, DeviceCondition, PersonAuth};
    use baton_core::event::{ChainHead, UnsignedEvent};
    use baton_core::hlc::Hlc;
    use baton_core::ids::{SignerKey, StaffId, WardId};
    use baton_core::keys::{KeySet, SignerInfo};
    use baton_core::rules::{DeviceRegistry, SiteRules};
    use ed25519_dalek::SigningKey;

    use super::*;

    const T0: u64 = 1_764_000_000_000;

    fn person(staff: &str) -> PersonAuth {
        PersonAuth {
            staff: StaffId::new(staff).unwrap(),
            method: AuthMethod::BadgePin,
        }
    }

    fn check_out(staff: &str) -> Body {
        Body::CheckOut {
            device: DeviceId::new("D-1").unwrap(),
            custodian: person(staff),
            ward: WardId::new("W-1").unwrap(),
            shift: None,
            expected_return_ms: None,
            purpose: None,
            issued_by: None,
        }
    }

    fn check_in(staff: &str) -> Body {
        Body::CheckIn {
            device: DeviceId::new("D-1").unwrap(),
            returned_by: person(staff),
            ward: WardId::new("W-1").unwrap(),
            checklist: Checklist {
                apps_signed_out: true,
                local_data_wiped: true,
                condition: DeviceCondition::Ok,
            },
            note: None,
        }
    }

    /// Signs `bodies` as one tablet's chain, one minute apart.
    fn chain(bodies: Vec<Body>) -> (SignerKey, Vec<SignedEvent>) {
        let key = SigningKey::from_bytes(&[5; 32]);
        let signer = SignerKey::from_signing_key(&key);
        let (mut head, mut clock): (Option<ChainHead>, Hlc) = (None, Hlc::ZERO);
        let events = bodies
            .into_iter()
            .enumerate()
            .map(|(index, body)| {
                let wall_ms = T0 + index as u64 * 60_000;
                let event = UnsignedEvent::next(signer, head, clock, wall_ms, body)
                    .unwrap()
                    .sign(&key)
                    .unwrap();
                head = Some(event.chain_head());
                clock = event.hlc();
                event
            })
            .collect();
        (signer, events)
    }

    fn fold(signer: SignerKey, events: &[SignedEvent]) -> CustodyState {
        let mut keys = KeySet::new();
        keys.enroll(signer, SignerInfo::tablet()).unwrap();
        CustodyState::fold(
            SiteRules::default(),
            keys,
            DeviceRegistry::default(),
            events,
        )
    }

    #[test]
    fn a_push_revokes_only_the_custody_its_events_ended_not_the_whole_history() {
        let (signer, events) = chain(vec![
            check_out("S-1"),
            check_in("S-1"),
            check_out("S-2"),
            check_in("S-2"),
            check_out("S-3"),
            check_in("S-3"),
        ]);
        let custody = fold(signer, &events);
        // The last push brought the last check-in: one custody ended, one revocation.
        let last = changed_since([&events[5]]);
        let revocations = revocations_for(&custody, &last, T0 + 3_600_000);
        let staff: Vec<&str> = revocations.iter().map(|r| r.staff_id.as_str()).collect();
        assert_eq!(staff, ["S-3"]);
        assert_eq!(revocations[0].ended_by, Some(events[5].id().to_hex()));
        // Everything new (a fresh replica's first push): every ended custody.
        let all = changed_since(&events);
        assert_eq!(revocations_for(&custody, &all, T0 + 3_600_000).len(), 3);
    }

    #[test]
    fn a_revocation_a_connector_gave_up_on_is_a_critical_exception_with_its_evidence() {
        use crate::storage::{DeliveryRecord, RevocationRecord};
        let ended_by = "ab".repeat(32);
        let delivery = |connector: &str, status: &str| DeliveryRecord {
            connector: connector.to_owned(),
            status: status.to_owned(),
            attempts: 8,
            last_error: (status == "failed").then(|| "HTTP 503".to_owned()),
            updated_at_ms: 0,
            detail: None,
        };
        let revocation = |deliveries| RevocationRecord {
            revocation_id: 1,
            device_id: "D-1".to_owned(),
            staff_id: "S-1".to_owned(),
            opened_by: "cd".repeat(32),
            ended_by: Some(ended_by.clone()),
            reason: "checked_in".to_owned(),
            created_at_ms: 5,
            deliveries,
        };
        let exceptions = failed_revocation_exceptions(&[
            revocation(vec![
                delivery("baton_tokens", "confirmed"),
                delivery("mdm", "failed"),
            ]),
            revocation(vec![
                delivery("baton_tokens", "confirmed"),
                delivery("mdm", "pending"),
            ]),
        ]);
        assert_eq!(exceptions.len(), 1);
        let exception = &exceptions[0];
        assert_eq!(exception.kind.name(), "revocation_failed");
        assert_eq!(exception.evidence[0].to_hex(), ended_by);
        assert_eq!(exception.people[0].as_str(), "S-1");
        assert!(
            exception
                .detail
                .contains("mdm failed after 8 attempts: HTTP 503")
        );
    }

    #[test]
    fn a_late_event_offers_storage_only_the_custody_it_changed() {
        let (signer, events) = chain(vec![
            check_out("S-1"),
            check_in("S-1"),
            check_out("S-2"),
            check_in("S-2"),
            check_out("S-3"),
            check_in("S-3"),
            check_out("S-4"),
        ]);
        let mut custody = fold(signer, &events);
        // A second tablet, offline until now, hands the device to S-9 between S-2's return
        // and S-3's check-out: S-3's check-out overlaps it and S-3's check-in ends both.
        let other_key = SigningKey::from_bytes(&[6; 32]);
        let other = SignerKey::from_signing_key(&other_key);
        let late = UnsignedEvent::next(other, None, Hlc::ZERO, T0 + 210_000, check_out("S-9"))
            .unwrap()
            .sign(&other_key)
            .unwrap();
        let mut keys = custody.keys().clone();
        keys.enroll(other, SignerInfo::tablet()).unwrap();
        custody.set_keys(keys);
        let now_ms = T0 + 3_600_000;
        let pushed = changed_since([&late]);
        let before = revocations_for(&custody, &pushed, now_ms);
        custody.apply(&late);
        let after = revocations_for(&custody, &pushed, now_ms);
        let after_staff: Vec<&str> = after.iter().map(|r| r.staff_id.as_str()).collect();
        assert_eq!(
            after_staff,
            ["S-9", "S-3"],
            "the late event re-examines later custody"
        );
        let new = not_yet_recorded(&before, after);
        let staff: Vec<&str> = new.iter().map(|r| r.staff_id.as_str()).collect();
        assert_eq!(
            staff,
            ["S-9"],
            "S-3's custody was recorded when its check-in came"
        );
    }

    #[test]
    fn a_late_event_in_the_middle_of_the_history_re_examines_everything_after_it() {
        let (signer, events) = chain(vec![
            check_out("S-1"),
            check_in("S-1"),
            check_out("S-2"),
            check_in("S-2"),
        ]);
        let custody = fold(signer, &events);
        let from_second = changed_since([&events[2]]);
        let staff: Vec<String> = revocations_for(&custody, &from_second, T0 + 3_600_000)
            .into_iter()
            .map(|revocation| revocation.staff_id)
            .collect();
        assert_eq!(staff, ["S-2"]);
        let from_first = changed_since([&events[1]]);
        assert_eq!(
            revocations_for(&custody, &from_first, T0 + 3_600_000).len(),
            2
        );
    }
}
