//! Builders shared by the integration tests: tablets with fixed keys, bodies, and a renderer
//! that names events e1, e2, ... instead of by hash so that snapshots stay readable.

use std::collections::BTreeMap;

use baton_core::{
    AuthMethod, Body, BreakGlassReason, ChainHead, Checklist, DeviceCondition, DeviceId, EventId,
    Hlc, KeySet, PersonAuth, SignedEvent, SignerInfo, SignerKey, StaffId, UnsignedEvent, WardId,
};
use ed25519_dalek::SigningKey;

/// 2025-03-10T00:00:00Z.
pub const T0: u64 = 1_741_564_800_000;
pub const MINUTE: u64 = 60_000;
pub const HOUR: u64 = 60 * MINUTE;

/// A tablet with a fixed key, which signs a chain of events.
pub struct Tablet {
    pub key: SigningKey,
    pub signer: SignerKey,
    pub head: Option<ChainHead>,
    pub clock: Hlc,
}

impl Tablet {
    pub fn new(seed: u8) -> Tablet {
        let key = SigningKey::from_bytes(&[seed; 32]);
        let signer = SignerKey::from_signing_key(&key);
        Tablet {
            key,
            signer,
            head: None,
            clock: Hlc::ZERO,
        }
    }

    /// Signs the next event of the chain at `wall_ms`.
    pub fn sign(&mut self, wall_ms: u64, body: Body) -> SignedEvent {
        let unsigned =
            UnsignedEvent::next(self.signer, self.head, self.clock, wall_ms, body).unwrap();
        let event = unsigned.sign(&self.key).unwrap();
        self.head = Some(event.chain_head());
        self.clock = event.hlc();
        event
    }

    /// Learns of another replica's event, as a tablet does on sync.
    pub fn receive(&mut self, event: &SignedEvent, wall_ms: u64) {
        self.clock = Hlc::receive(self.clock, event.hlc(), wall_ms).unwrap();
    }
}

pub fn key_set(tablets: &[&Tablet], authorities: &[&Tablet]) -> KeySet {
    let tablets = tablets
        .iter()
        .map(|tablet| (tablet.signer, SignerInfo::tablet()));
    let authorities = authorities
        .iter()
        .map(|authority| (authority.signer, SignerInfo::authority()));
    KeySet::from_signers(tablets.chain(authorities)).unwrap()
}

pub fn device(text: &str) -> DeviceId {
    DeviceId::new(text).unwrap()
}

pub fn staff(text: &str) -> StaffId {
    StaffId::new(text).unwrap()
}

pub fn ward(text: &str) -> WardId {
    WardId::new(text).unwrap()
}

pub fn badge(text: &str) -> PersonAuth {
    PersonAuth {
        staff: staff(text),
        method: AuthMethod::BadgePin,
    }
}

pub fn check_out(device_id: &str, custodian: &str, shift: Option<&str>) -> Body {
    Body::CheckOut {
        device: device(device_id),
        custodian: badge(custodian),
        ward: ward("4B"),
        shift: shift.map(str::to_owned),
        expected_return_ms: None,
        purpose: None,
        issued_by: None,
    }
}

pub fn complete_checklist() -> Checklist {
    Checklist {
        apps_signed_out: true,
        local_data_wiped: true,
        condition: DeviceCondition::Ok,
    }
}

pub fn check_in(device_id: &str, returned_by: &str) -> Body {
    check_in_with(device_id, returned_by, "4B", complete_checklist())
}

pub fn check_in_with(
    device_id: &str,
    returned_by: &str,
    ward_id: &str,
    checklist: Checklist,
) -> Body {
    Body::CheckIn {
        device: device(device_id),
        returned_by: badge(returned_by),
        ward: ward(ward_id),
        checklist,
        note: None,
    }
}

pub fn transfer(device_id: &str, from: &str, to: &str) -> Body {
    Body::Transfer {
        device: device(device_id),
        from: badge(from),
        to: badge(to),
        ward: ward("4B"),
        shift: None,
        expected_return_ms: None,
    }
}

pub fn break_glass(device_id: &str, custodian: &str) -> Body {
    Body::BreakGlass {
        device: device(device_id),
        custodian: PersonAuth {
            staff: staff(custodian),
            method: AuthMethod::BreakGlass,
        },
        ward: ward("4B"),
        reason: BreakGlassReason::Emergency,
        note: "cardiac arrest bay 3".to_owned(),
    }
}

pub fn correction(device_id: &str, corrects: EventId, by: &str) -> Body {
    Body::Correction {
        corrects,
        device: device(device_id),
        by: badge(by),
        note: "scanned the wrong tablet".to_owned(),
    }
}

/// Names events by their position in a test's list, e1 first.
pub struct Labels {
    labels: BTreeMap<EventId, String>,
}

impl Labels {
    pub fn new(events: &[SignedEvent]) -> Labels {
        let labels = events
            .iter()
            .enumerate()
            .map(|(event_idx, event)| (event.id(), format!("e{}", event_idx + 1)));
        Labels {
            labels: labels.collect(),
        }
    }

    pub fn label(&self, id: &EventId) -> String {
        self.labels
            .get(id)
            .cloned()
            .unwrap_or_else(|| id.to_hex()[..8].to_owned())
    }

    pub fn list(&self, ids: &[EventId]) -> String {
        ids.iter()
            .map(|id| self.label(id))
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Minutes and hours after `T0`, as `+HH:MM`.
pub fn clock_time(ms: u64) -> String {
    let minutes = (ms - T0) / MINUTE;
    format!("+{:02}:{:02}", minutes / 60, minutes % 60)
}
