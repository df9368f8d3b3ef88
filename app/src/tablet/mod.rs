//! The tablet's domain, without any browser API: who it is, what it has signed, what it knows
//! of the site, and how a handoff becomes a signed event. Pages call into this; the browser
//! modules feed it.
//!
//! # Layout
//! - `enrollment`: what is sent to join a ward and what is kept.
//! - `roster`: the cached site configuration, staff and device registry, with scan lookups.
//! - `pin`: offline PIN checks and the wrong-PIN throttle.
//! - `shift`: which shift a check-out is for.
//! - `capture`: the check-out and check-in bodies.
//! - `clock_check`: how far the tablet's clock is from the server's, and which time it signs
//!   with.
//! - `board`: the ward board and its exceptions, from the local fold.
//! - `wipe`: what the session wipe at the end of this device's custody removes and keeps, and
//!   what the check-in may claim.
//! - `lock`: the inactivity lockout of this device while someone holds it.
//! - `key_rotation`: the decisions of a rotation of the tablet's own signing key.
//! - `Tablet` (here): the chains of its keys, the clock and the local replica kept in step.

pub mod board;
pub mod capture;
pub mod clock_check;
pub mod enrollment;
pub mod hand_out;
pub mod key_rotation;
pub mod lock;
pub mod pin;
pub mod roster;
pub mod shift;
pub mod wipe;
pub mod witness;

use std::collections::BTreeMap;

use baton_core::body::Body;
use baton_core::event::{ChainHead, SignedEvent, UnsignedEvent};
use baton_core::hlc::Hlc;
use baton_core::ids::SignerKey;
use baton_core::key_rotation::{
    ChainEnd, KeyHistory, KeyRotationError, RotatingSigner, SignedKeyRotation,
};
use baton_core::keys::{KeySet, SignerInfo};
use baton_core::replica::Replica;
use ed25519_dalek::{Signature, SigningKey};
use thiserror::Error;

use crate::sync::protocol::{Delivery, Receipt};
use enrollment::Enrollment;
use roster::Roster;

/// Why the tablet could not be brought up from what it stored.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TabletError {
    #[error("the stored signing key does not belong to this tablet's enrolled public key")]
    KeyMismatch,
    #[error("a stored event of this tablet's key {signer} is out of order at seq {seq}")]
    BrokenChain { signer: SignerKey, seq: u64 },
    #[error("this tablet's key history does not hold: {0}")]
    KeyHistory(KeyRotationError),
    #[error("a stored event at seq {seq} is signed by {signer}, a key this tablet never held")]
    ForeignEvent { signer: SignerKey, seq: u64 },
}

/// Why the tablet refused to switch to a new key.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RotateError {
    #[error("the rotation does not hand over from the key this tablet signs with")]
    NotFromCurrentKey,
    #[error("the rotation does not hand over to the new signing key")]
    NotToNewKey,
    #[error("the rotation names another end of this tablet's chain than its latest event")]
    ChainMoved,
    #[error(transparent)]
    History(#[from] KeyRotationError),
}

/// Why a handoff could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SignFailure {
    #[error("the tablet's clock cannot issue a timestamp: {0}")]
    Clock(String),
    #[error("the event breaks a rule of the signed format: {0}")]
    Format(String),
}

/// One event this tablet signed, with the server's latest word on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnEvent {
    pub event: SignedEvent,
    pub receipt: Option<Receipt>,
}

impl OwnEvent {
    pub fn delivery(&self) -> Delivery {
        self.receipt
            .as_ref()
            .map_or(Delivery::Pending, Receipt::delivery)
    }
}

/// An enrolled tablet: its key, its chain, its clock and its replica of the site's events.
///
/// A tablet that rotated its key (`key_rotation`) has one chain per key: each key's events run
/// from seq 1 without a gap, the retired keys' chains end where their rotation says, and only
/// the current key's chain grows. Its events of every key stay its own: on the board, in the
/// receipts, and correctable.
pub struct Tablet {
    pub enrollment: Enrollment,
    pub roster: Roster,
    signing_key: SigningKey,
    signer: SignerKey,
    /// Every key this tablet has signed with, oldest first; the last is `signer`.
    own_keys: KeyHistory,
    /// The end of the current key's chain.
    head: Option<ChainHead>,
    clock: Hlc,
    /// The events of every key, in the order they were signed (HLC order: one clock signs
    /// them all, so it also orders the keys' chains one after the other).
    own_events: Vec<OwnEvent>,
    replica: Replica,
    /// The server keys whose events fold as the authority's: the enrolled key, and the keys
    /// its verified rotations lead to.
    server_keys: Vec<SignerKey>,
    pub last_sync_ms: Option<u64>,
    /// The registry device this tablet is, when it was told (`wipe::ThisDevice`).
    pub this_device: Option<wipe::ThisDevice>,
}

impl Tablet {
    /// Brings a tablet up from storage: its own events (of every key it held, each key's in
    /// chain order) with their receipts, and the events pulled from the server.
    pub fn new(
        enrollment: Enrollment,
        roster: Roster,
        signing_key: SigningKey,
        own_events: Vec<SignedEvent>,
        receipts: Vec<Receipt>,
        pulled: Vec<SignedEvent>,
        now_ms: u64,
    ) -> Result<Tablet, TabletError> {
        let signer = SignerKey::from_signing_key(&signing_key);
        if signer.to_hex() != enrollment.public_key {
            return Err(TabletError::KeyMismatch);
        }
        let own_keys =
            KeyHistory::from_rotations(RotatingSigner::Tablet, &signer, &enrollment.key_rotations)
                .map_err(TabletError::KeyHistory)?;
        if own_keys.current() != signer {
            return Err(TabletError::KeyMismatch);
        }
        let own_events = chains_in_signing_order(&own_keys, own_events)?;
        let server_keys: Vec<SignerKey> = SignerKey::from_hex(&enrollment.server_public_key)
            .into_iter()
            .collect();
        let replica = Replica::new(
            roster.site_config.rules.clone(),
            fold_keys(&server_keys, own_keys.keys()),
            roster.device_registry(),
        );
        let mut tablet = Tablet {
            enrollment,
            roster,
            signing_key,
            signer,
            own_keys,
            head: None,
            clock: Hlc::ZERO,
            own_events: Vec::new(),
            replica,
            server_keys,
            last_sync_ms: None,
            this_device: None,
        };
        for event in own_events {
            tablet.record_own(event);
        }
        tablet.apply_receipts(receipts);
        tablet.absorb(pulled, now_ms);
        Ok(tablet)
    }

    pub fn signing_key(&self) -> &SigningKey {
        &self.signing_key
    }

    /// The key this tablet signs with now.
    pub fn signer(&self) -> SignerKey {
        self.signer
    }

    /// Every key this tablet has signed with, oldest first; the last is the current one.
    pub fn own_keys(&self) -> &[SignerKey] {
        self.own_keys.keys()
    }

    /// The latest event of the current key's chain, as a key rotation names it.
    pub fn chain_end(&self) -> Option<ChainEnd> {
        self.head.map(|head| ChainEnd {
            seq: head.seq,
            id: head.id,
        })
    }

    /// Switches to the key `rotation` hands over to, once the server accepted the rotation and
    /// storage holds the new key. The new key's chain starts afresh at seq 1; the clock goes on,
    /// so its events sort after the old key's; the old key's events stay this tablet's own.
    pub fn rotate(
        &mut self,
        next_signing_key: SigningKey,
        rotation: SignedKeyRotation,
    ) -> Result<(), RotateError> {
        let next = SignerKey::from_signing_key(&next_signing_key);
        if rotation.rotation.previous != self.signer {
            return Err(RotateError::NotFromCurrentKey);
        }
        if rotation.rotation.next != next {
            return Err(RotateError::NotToNewKey);
        }
        if rotation.rotation.last_event != self.chain_end() {
            return Err(RotateError::ChainMoved);
        }
        let enrollment = key_rotation::enrollment_after(&self.enrollment, &rotation);
        let own_keys =
            KeyHistory::from_rotations(RotatingSigner::Tablet, &next, &enrollment.key_rotations)?;
        self.enrollment = enrollment;
        self.own_keys = own_keys;
        self.signing_key = next_signing_key;
        self.signer = next;
        self.head = None;
        self.refold();
        Ok(())
    }

    /// Rebuilds the fold from the log with the current roster and keys.
    fn refold(&mut self) {
        let log = self.replica.log().clone();
        self.replica = Replica::from_log(
            log,
            self.roster.site_config.rules.clone(),
            fold_keys(&self.server_keys, self.own_keys.keys()),
            self.roster.device_registry(),
        );
    }

    /// `sign_with_reference` with the tablet's own clock as the reference: for tests.
    #[cfg(test)]
    pub fn sign(&self, body: Body, now_ms: u64) -> Result<SignedEvent, SignFailure> {
        self.sign_with_reference(body, now_ms, now_ms)
    }

    /// Signs the next event of this tablet's chain without recording it: the caller records it
    /// with `record_own` only once storage has committed it. The hybrid clock ticks from
    /// `reference_ms`, the server's time as the tablet measured it (`clock_check`), while
    /// `wall_ms` keeps the tablet's own clock.
    pub fn sign_with_reference(
        &self,
        body: Body,
        wall_ms: u64,
        reference_ms: u64,
    ) -> Result<SignedEvent, SignFailure> {
        let unsigned = UnsignedEvent::next_with_reference(
            self.signer,
            self.head,
            self.clock,
            wall_ms,
            reference_ms,
            body,
        )
        .map_err(|error| SignFailure::Clock(error.to_string()))?;
        unsigned
            .sign(&self.signing_key)
            .map_err(|error| SignFailure::Format(error.to_string()))
    }

    /// Records an event of this tablet that storage has committed.
    pub fn record_own(&mut self, event: SignedEvent) {
        if *event.signer() == self.signer {
            self.head = Some(event.chain_head());
        }
        self.clock = self.clock.max(event.hlc());
        // The tablet's own events are trusted: it signed them itself.
        if let Err(error) = self.replica.insert_verified(event.clone()) {
            web_log(&format!("own event not folded: {error}"));
        }
        self.own_events.push(OwnEvent {
            event,
            receipt: None,
        });
    }

    /// Records the server's receipts for pushed events.
    pub fn apply_receipts(&mut self, receipts: impl IntoIterator<Item = Receipt>) {
        let mut by_id: BTreeMap<String, Receipt> = receipts
            .into_iter()
            .filter_map(|receipt| Some((receipt.event_id.clone()?, receipt)))
            .collect();
        for own in &mut self.own_events {
            if let Some(receipt) = by_id.remove(&own.event.id().to_hex()) {
                own.receipt = Some(receipt);
            }
        }
    }

    /// Adds events pulled from the server to the local replica and moves the clock past them.
    /// The sync checked each signature before storing the event (`signature_holds`), so events
    /// read back from storage are not checked again: a start stays fast on a long history.
    pub fn absorb(&mut self, pulled: impl IntoIterator<Item = SignedEvent>, now_ms: u64) -> usize {
        let max_ahead_ms = self.roster.site_config.rules.max_clock_skew_ms;
        let mut fresh = Vec::new();
        for event in pulled {
            if self.replica.log().contains(&event.id()) {
                continue;
            }
            // A remote clock far ahead would drag this one along; the server already refuses
            // such events, so this only guards against a misbehaving server.
            if event.hlc().ms <= now_ms.saturating_add(max_ahead_ms)
                && let Ok(clock) = Hlc::receive(self.clock, event.hlc(), now_ms)
            {
                self.clock = clock;
            }
            fresh.push(event);
        }
        // Folded at once: a device is re-folded once however the ward's events interleave.
        let mut n_absorbed = 0;
        for result in self.replica.insert_verified_batch(fresh) {
            match result {
                // The same event twice in one page is kept once.
                Ok(baton_core::log::InsertOutcome::Duplicate) => {}
                Ok(_) => n_absorbed += 1,
                Err(error) => web_log(&format!("pulled event not kept: {error}")),
            }
        }
        n_absorbed
    }

    /// Replaces the roster and re-folds, since shifts and home wards feed the fold.
    pub fn set_roster(&mut self, roster: Roster) {
        self.roster = roster;
        self.refold();
    }

    /// Replaces the server keys the authority's events are folded with (after the server
    /// rotated its key), re-folding only when they changed.
    pub fn set_server_keys(&mut self, server_keys: Vec<SignerKey>) {
        if server_keys == self.server_keys || server_keys.is_empty() {
            return;
        }
        self.server_keys = server_keys;
        self.refold();
    }

    pub fn replica(&self) -> &Replica {
        &self.replica
    }

    /// The staff numbers of whoever holds the device this tablet is, as far as its records go:
    /// empty when nobody does or when the tablet was not told which device it is.
    pub fn this_device_holders(&self) -> Vec<String> {
        self.this_device.as_ref().map_or_else(Vec::new, |this| {
            board::custodian_ids(&self.replica, &this.device_id)
        })
    }

    /// Whether this tablet's latest own event is a check-in of the device it is: that check-in
    /// ran the session wipe before it was signed, so the end of custody it causes needs no other.
    pub fn last_own_is_check_in_of_this_device(&self) -> bool {
        self.own_events.last().is_some_and(|own| {
            matches!(own.event.body(), Body::CheckIn { device, .. } if self.is_this_device(device.as_str()))
        })
    }

    /// Whether `device_id` is the device this tablet is.
    pub fn is_this_device(&self, device_id: &str) -> bool {
        self.this_device
            .as_ref()
            .is_some_and(|this| this.device_id == device_id)
    }

    /// The latest `n` events of this tablet, newest first.
    pub fn recent_own_events(&self, n: usize) -> impl Iterator<Item = &OwnEvent> {
        self.own_events.iter().rev().take(n)
    }

    /// One of this tablet's own events, by id (hex), for a correction.
    pub fn own_event(&self, event_id: &str) -> Option<&SignedEvent> {
        self.own_events
            .iter()
            .map(|own| &own.event)
            .find(|event| event.id().to_hex() == event_id)
    }

    /// Whether an effective correction already voids this event.
    pub fn is_voided(&self, event_id: &str) -> bool {
        let Some(event) = self.own_event(event_id) else {
            return false;
        };
        self.replica
            .custody()
            .device(event.body().device())
            .is_some_and(|custody| {
                custody
                    .corrections
                    .iter()
                    .any(|record| record.effective && record.corrects == event.id())
            })
    }

    /// The events to push: never delivered, or refused for a reason that may pass. Only the
    /// current key's: the server takes a tablet's events only with requests of the key that
    /// signed them, and a retired key signs no request. A rotation waits for an empty outbox, so
    /// a retired key's event is pending only if something went badly wrong, and it stays
    /// counted in `pending_count` for people to see.
    pub fn to_push(&self) -> Vec<SignedEvent> {
        self.own_events
            .iter()
            .filter(|own| *own.event.signer() == self.signer)
            .filter(|own| matches!(own.delivery(), Delivery::Pending | Delivery::RetryLater))
            .map(|own| own.event.clone())
            .collect()
    }

    /// Own events not yet stored by the server, of every key.
    pub fn pending_count(&self) -> usize {
        self.own_events
            .iter()
            .filter(|own| matches!(own.delivery(), Delivery::Pending | Delivery::RetryLater))
            .count()
    }

    /// Events the server refused for good, with their receipts.
    pub fn refused(&self) -> impl Iterator<Item = &OwnEvent> {
        self.own_events
            .iter()
            .filter(|own| own.delivery() == Delivery::Refused)
    }

    /// Events the server refused for a reason that may pass (a `future_timestamp`: the tablet's
    /// clock was ahead when it signed them), with their receipts: kept and pushed again.
    pub fn retrying(&self) -> impl Iterator<Item = &OwnEvent> {
        self.own_events
            .iter()
            .filter(|own| own.delivery() == Delivery::RetryLater)
    }
}

/// The key set the tablet folds with: the server as the authority (so its quarantines count)
/// and this tablet's keys. Other tablets are unknown here and fold as tablets, which is their
/// role.
fn fold_keys(server_keys: &[SignerKey], own_keys: &[SignerKey]) -> KeySet {
    let mut keys = KeySet::new();
    for server in server_keys {
        let _ = keys.enroll(*server, SignerInfo::authority());
    }
    for own in own_keys {
        let _ = keys.enroll(*own, SignerInfo::tablet());
    }
    keys
}

/// Checks that the stored events of each of this tablet's keys form one chain from seq 1
/// without a gap, and puts them all in the order they were signed. Storage returns them grouped
/// by key, so the order across keys comes from the clock: the tablet's one HLC signed them all.
fn chains_in_signing_order(
    own_keys: &KeyHistory,
    events: Vec<SignedEvent>,
) -> Result<Vec<SignedEvent>, TabletError> {
    let mut by_signer: BTreeMap<SignerKey, Vec<SignedEvent>> = BTreeMap::new();
    for event in events {
        if !own_keys.contains(event.signer()) {
            return Err(TabletError::ForeignEvent {
                signer: *event.signer(),
                seq: event.seq(),
            });
        }
        by_signer.entry(*event.signer()).or_default().push(event);
    }
    let mut ordered = Vec::new();
    for (signer, mut chain) in by_signer {
        chain.sort_by_key(SignedEvent::seq);
        for (event_idx, event) in chain.iter().enumerate() {
            let expected_prev = event_idx
                .checked_sub(1)
                .map(|prev_idx| chain[prev_idx].id());
            if event.seq() != event_idx as u64 + 1 || event.prev() != expected_prev {
                return Err(TabletError::BrokenChain {
                    signer,
                    seq: event.seq(),
                });
            }
        }
        ordered.extend(chain);
    }
    ordered.sort_by_key(SignedEvent::hlc);
    Ok(ordered)
}

/// Whether an event's signature verifies (strictly) for the key the event names, so that a
/// damaged or forged record never reaches storage or the board. Whether that key is enrolled at
/// the site is the server's check; the tablet does not hold the site's key set.
pub fn signature_holds(event: &SignedEvent) -> bool {
    let signature = Signature::from_bytes(event.signature_bytes());
    event
        .signer()
        .verifying_key()
        .verify_strict(event.signed_message(), &signature)
        .is_ok()
}

/// A line in the browser console for support (nothing personal, no secrets).
fn web_log(message: &str) {
    #[cfg(target_arch = "wasm32")]
    web_sys::console::warn_1(&message.into());
    #[cfg(not(target_arch = "wasm32"))]
    let _ = message;
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::sync::protocol::ReceiptStatus;
    use crate::tablet::capture::{ReturnChecklist, check_in_body, check_out_body};
    use baton_core::body::DeviceCondition;
    use baton_core::state::DeviceStatus;

    pub const NOW_MS: u64 = 1_741_600_000_000;

    pub fn signing_key() -> SigningKey {
        SigningKey::from_bytes(&[42; 32])
    }

    pub fn enrollment() -> Enrollment {
        Enrollment {
            tablet_id: "T-TEST".to_owned(),
            site_id: "SITE-DEMO".to_owned(),
            ward_id: "W-4E".to_owned(),
            server_public_key: SignerKey::from_signing_key(&SigningKey::from_bytes(&[9; 32]))
                .to_hex(),
            public_key: SignerKey::from_signing_key(&signing_key()).to_hex(),
            label: "test tablet".to_owned(),
            enrolled_at_ms: NOW_MS,
            key_rotations: Vec::new(),
        }
    }

    pub fn tablet() -> Tablet {
        Tablet::new(
            enrollment(),
            roster::tests::roster(),
            signing_key(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            NOW_MS,
        )
        .unwrap()
    }

    /// `n` chained check-outs of D-0001 by S-0001, a minute apart.
    pub fn signed_events(n: usize) -> Vec<SignedEvent> {
        let mut tablet = tablet();
        (0..n)
            .map(|event_idx| {
                let body = check_out_body("D-0001", "S-0001", "W-4E", None).unwrap();
                let event = tablet
                    .sign(body, NOW_MS + event_idx as u64 * 60_000)
                    .unwrap();
                tablet.record_own(event.clone());
                event
            })
            .collect()
    }

    fn receipt_for(event: &SignedEvent, status: ReceiptStatus) -> Receipt {
        Receipt {
            index: 0,
            event_id: Some(event.id().to_hex()),
            status,
            server_seq: Some(1),
            leaf_index: Some(0),
            received_at_ms: NOW_MS,
            fork: false,
            reason: None,
        }
    }

    #[test]
    fn an_event_refused_as_future_is_kept_pushed_again_and_listed_as_retrying() {
        let mut tablet = tablet();
        let events = signed_events(2);
        for event in &events {
            tablet.record_own(event.clone());
        }
        let mut future = receipt_for(&events[1], ReceiptStatus::Rejected);
        future.reason = Some(crate::sync::protocol::RejectionReason {
            code: "future_timestamp".to_owned(),
            message: "hlc.ms is ahead of the receiver's clock".to_owned(),
        });
        tablet.apply_receipts([receipt_for(&events[0], ReceiptStatus::Accepted), future]);
        assert_eq!(tablet.pending_count(), 1);
        assert_eq!(tablet.to_push(), vec![events[1].clone()]);
        let retrying: Vec<_> = tablet.retrying().map(|own| own.event.id()).collect();
        assert_eq!(retrying, vec![events[1].id()]);
        assert_eq!(tablet.refused().count(), 0);
    }

    #[test]
    fn a_tablet_with_its_clock_a_year_ahead_signs_as_of_the_servers_time() {
        let tablet = tablet();
        let year_ms = 365 * 24 * 3_600_000;
        let body = check_out_body("D-0001", "S-0001", "W-4E", None).unwrap();
        let event = tablet
            .sign_with_reference(body, NOW_MS + year_ms, NOW_MS)
            .unwrap();
        assert_eq!(event.hlc().ms, NOW_MS);
        assert_eq!(event.wall_ms(), NOW_MS + year_ms);
    }

    #[test]
    fn a_tablet_started_offline_a_year_off_signs_what_the_server_takes_and_flags_and_recovers() {
        use crate::tablet::clock_check::{self, LastServerTime};
        use baton_core::exceptions::ExceptionKind;
        use baton_core::keys::{KeySet, SignerInfo};
        use baton_core::verify::VerifyOptions;

        const YEAR_MS: u64 = 365 * 24 * 3_600_000;
        // The tablet last heard the server at NOW_MS with its clock right, then its page started
        // again offline, ten minutes later, with its clock set a year off.
        let last = LastServerTime {
            server_ms: NOW_MS,
            local_ms: NOW_MS,
        };
        let true_now_ms = NOW_MS + 10 * 60_000;
        for offset_ms in [YEAR_MS as i64, -(YEAR_MS as i64)] {
            let mut tablet = tablet();
            let wall_ms = true_now_ms.checked_add_signed(offset_ms).unwrap();
            let reference = clock_check::reference(wall_ms, None, Some(last), 2_000);
            assert_eq!(reference.unchecked_since_ms(), Some(NOW_MS));
            let body = check_out_body("D-0001", "S-0001", "W-4E", None).unwrap();
            let offline = tablet
                .sign_with_reference(body, wall_ms, reference.ms())
                .unwrap();
            tablet.record_own(offline.clone());
            // The server verifies it against its own clock: not from the future.
            let mut keys = KeySet::new();
            keys.enroll(tablet.signer(), SignerInfo::tablet()).unwrap();
            let server = VerifyOptions {
                now_ms: true_now_ms,
                max_clock_skew_ms: 5 * 60_000,
            };
            assert_eq!(keys.verify(&offline, server), Ok(()));
            assert!(offline.hlc().ms <= true_now_ms);
            assert_eq!(offline.wall_ms(), wall_ms);
            // The fold shows the difference, with the event as evidence.
            let skews: Vec<_> = tablet
                .replica()
                .exceptions(true_now_ms)
                .into_iter()
                .filter(|exception| exception.kind == ExceptionKind::ClockSkew)
                .collect();
            assert_eq!(skews.len(), 1);
            assert_eq!(skews[0].evidence, vec![offline.id()]);
            // Online again, the next event ticks from the measured time, after the first.
            let measured = clock_check::reference(wall_ms, Some(true_now_ms), Some(last), 60_000);
            let body = check_out_body("D-0002", "S-0002", "W-4E", None).unwrap();
            let online = tablet
                .sign_with_reference(body, wall_ms, measured.ms())
                .unwrap();
            assert_eq!(online.hlc().ms, true_now_ms);
            assert!(online.hlc() > offline.hlc());
            assert_eq!(keys.verify(&online, server), Ok(()));
        }
    }

    #[test]
    fn a_signed_event_joins_the_chain_only_once_recorded() {
        let mut tablet = tablet();
        let body = check_out_body("D-0001", "S-0001", "W-4E", Some("day".to_owned())).unwrap();
        let first = tablet.sign(body.clone(), NOW_MS).unwrap();
        // Not recorded (say the write failed): the next signature reuses seq 1.
        let again = tablet.sign(body.clone(), NOW_MS + 1).unwrap();
        assert_eq!((first.seq(), again.seq()), (1, 1));
        assert_eq!(tablet.pending_count(), 0);
        tablet.record_own(first.clone());
        let second = tablet.sign(body, NOW_MS + 2).unwrap();
        assert_eq!(second.seq(), 2);
        assert_eq!(second.prev(), Some(first.id()));
        assert!(second.hlc() > first.hlc());
        assert_eq!(tablet.pending_count(), 1);
    }

    #[test]
    fn the_board_follows_own_events_and_receipts_settle_the_outbox() {
        let mut tablet = tablet();
        let check_out = tablet
            .sign(
                check_out_body("D-0002", "S-0002", "W-4E", None).unwrap(),
                NOW_MS,
            )
            .unwrap();
        tablet.record_own(check_out.clone());
        let device = baton_core::ids::DeviceId::new("D-0002").unwrap();
        let custody = tablet.replica().custody().device(&device).unwrap();
        assert_eq!(custody.status(NOW_MS), DeviceStatus::InUse);

        let checklist = ReturnChecklist {
            apps_signed_out: true,
            local_data_wiped: true,
            condition: DeviceCondition::Ok,
            note: String::new(),
        };
        let check_in = tablet
            .sign(
                check_in_body("D-0002", "S-0002", "W-4E", &checklist).unwrap(),
                NOW_MS + 60_000,
            )
            .unwrap();
        tablet.record_own(check_in.clone());
        let custody = tablet.replica().custody().device(&device).unwrap();
        assert_eq!(custody.status(NOW_MS + 60_000), DeviceStatus::Available);
        assert_eq!(tablet.to_push(), vec![check_out.clone(), check_in.clone()]);

        let mut refused = receipt_for(&check_in, ReceiptStatus::Rejected);
        refused.reason = Some(crate::sync::protocol::RejectionReason {
            code: "bad_signature".to_owned(),
            message: "no".to_owned(),
        });
        tablet.apply_receipts([receipt_for(&check_out, ReceiptStatus::Accepted), refused]);
        assert_eq!(tablet.pending_count(), 0);
        assert_eq!(tablet.refused().count(), 1);
    }

    #[test]
    fn a_tablet_comes_back_from_storage_as_it_was() {
        let events = signed_events(3);
        let receipts = vec![receipt_for(&events[0], ReceiptStatus::Accepted)];
        let tablet = Tablet::new(
            enrollment(),
            roster::tests::roster(),
            signing_key(),
            events.clone(),
            receipts,
            events[..2].to_vec(),
            NOW_MS,
        )
        .unwrap();
        assert_eq!(tablet.pending_count(), 2);
        let next = tablet
            .sign(
                check_out_body("D-0003", "S-0001", "W-4E", None).unwrap(),
                NOW_MS,
            )
            .unwrap();
        assert_eq!(next.seq(), 4);
        assert!(next.hlc() > events[2].hlc());

        let wrong_key = Tablet::new(
            enrollment(),
            roster::tests::roster(),
            SigningKey::from_bytes(&[1; 32]),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            NOW_MS,
        );
        assert_eq!(wrong_key.err(), Some(TabletError::KeyMismatch));
    }

    pub fn next_signing_key() -> SigningKey {
        SigningKey::from_bytes(&[43; 32])
    }

    /// A tablet that checked D-0001 out and D-0002 out with its enrolled key, rotated to
    /// `next_signing_key`, then checked D-0001 in with the new key.
    pub fn rotated_tablet() -> (Tablet, Vec<SignedEvent>) {
        let mut tablet = tablet();
        let mut events = Vec::new();
        for (minute, device) in [(0, "D-0001"), (1, "D-0002")] {
            let body = check_out_body(device, "S-0001", "W-4E", None).unwrap();
            let event = tablet.sign(body, NOW_MS + minute * 60_000).unwrap();
            tablet.record_own(event.clone());
            events.push(event);
        }
        let rotation =
            key_rotation::build_rotation(&tablet, &next_signing_key(), NOW_MS + 120_000).unwrap();
        tablet.rotate(next_signing_key(), rotation).unwrap();
        let checklist = ReturnChecklist {
            apps_signed_out: true,
            local_data_wiped: true,
            condition: DeviceCondition::Ok,
            note: String::new(),
        };
        let body = check_in_body("D-0001", "S-0001", "W-4E", &checklist).unwrap();
        // The wall clock stepped back: the HLC still orders the new key's event last.
        let event = tablet.sign(body, NOW_MS + 30_000).unwrap();
        tablet.record_own(event.clone());
        events.push(event);
        (tablet, events)
    }

    #[test]
    fn after_a_rotation_the_new_key_starts_its_own_chain_and_the_old_events_stay() {
        let (tablet, events) = rotated_tablet();
        let old = SignerKey::from_signing_key(&signing_key());
        let new = SignerKey::from_signing_key(&next_signing_key());
        assert_eq!(tablet.signer(), new);
        assert_eq!(tablet.own_keys(), &[old, new]);
        assert_eq!(tablet.enrollment.public_key, new.to_hex());
        assert_eq!(tablet.enrollment.key_rotations.len(), 1);
        let check_in = &events[2];
        assert_eq!(
            (*check_in.signer(), check_in.seq(), check_in.prev()),
            (new, 1, None)
        );
        assert!(check_in.hlc() > events[1].hlc());
        // The board folds both keys' events: D-0001 went out under the old key and came back
        // under the new one.
        let device = baton_core::ids::DeviceId::new("D-0001").unwrap();
        let custody = tablet.replica().custody().device(&device).unwrap();
        assert_eq!(custody.status(NOW_MS + 200_000), DeviceStatus::Available);
        // Old events can still be found for a correction, newest first in the list.
        assert!(tablet.own_event(&events[0].id().to_hex()).is_some());
        let recent: Vec<_> = tablet
            .recent_own_events(3)
            .map(|own| own.event.id())
            .collect();
        assert_eq!(recent, [events[2].id(), events[1].id(), events[0].id()]);
        // Only the current key's events are pushed; everything unsent is counted.
        assert_eq!(tablet.to_push(), vec![events[2].clone()]);
        assert_eq!(tablet.pending_count(), 3);
    }

    #[test]
    fn a_rotated_tablet_comes_back_from_storage_with_both_chains() {
        let (before, events) = rotated_tablet();
        // Storage groups the events by key; the order across keys does not matter.
        let mut stored = events.clone();
        stored.reverse();
        let receipts = vec![
            receipt_for(&events[0], ReceiptStatus::Accepted),
            receipt_for(&events[1], ReceiptStatus::Accepted),
        ];
        let tablet = Tablet::new(
            before.enrollment.clone(),
            roster::tests::roster(),
            next_signing_key(),
            stored,
            receipts,
            Vec::new(),
            NOW_MS,
        )
        .unwrap();
        assert_eq!(tablet.chain_end(), before.chain_end());
        assert_eq!(tablet.pending_count(), 1);
        let recent: Vec<_> = tablet
            .recent_own_events(3)
            .map(|own| own.event.id())
            .collect();
        assert_eq!(recent, [events[2].id(), events[1].id(), events[0].id()]);
        let next = tablet
            .sign(
                check_out_body("D-0003", "S-0001", "W-4E", None).unwrap(),
                NOW_MS,
            )
            .unwrap();
        assert_eq!((next.seq(), next.prev()), (2, Some(events[2].id())));

        // The enrolled key alone no longer opens it: the enrollment names the new key.
        let stale_key = Tablet::new(
            before.enrollment.clone(),
            roster::tests::roster(),
            signing_key(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            NOW_MS,
        );
        assert_eq!(stale_key.err(), Some(TabletError::KeyMismatch));
    }

    #[test]
    fn each_key_chain_is_checked_and_a_stranger_event_is_refused() {
        let (before, events) = rotated_tablet();
        let load = |own_events: Vec<SignedEvent>| {
            Tablet::new(
                before.enrollment.clone(),
                roster::tests::roster(),
                next_signing_key(),
                own_events,
                Vec::new(),
                Vec::new(),
                NOW_MS,
            )
            .err()
        };
        // The old key's seq 1 is missing: its chain has a gap, although the new key's is fine.
        assert_eq!(
            load(vec![events[1].clone(), events[2].clone()]),
            Some(TabletError::BrokenChain {
                signer: SignerKey::from_signing_key(&signing_key()),
                seq: 2
            })
        );
        let stranger_key = SigningKey::from_bytes(&[77; 32]);
        let stranger = UnsignedEvent::next(
            SignerKey::from_signing_key(&stranger_key),
            None,
            Hlc::ZERO,
            NOW_MS,
            check_out_body("D-0003", "S-0002", "W-4E", None).unwrap(),
        )
        .unwrap()
        .sign(&stranger_key)
        .unwrap();
        assert!(matches!(
            load(vec![stranger]),
            Some(TabletError::ForeignEvent { seq: 1, .. })
        ));
    }

    #[test]
    fn a_rotation_is_refused_unless_it_hands_over_from_this_chain_end_to_the_new_key() {
        let mut tablet = tablet();
        let stale = key_rotation::build_rotation(&tablet, &next_signing_key(), NOW_MS).unwrap();
        let body = check_out_body("D-0001", "S-0001", "W-4E", None).unwrap();
        let event = tablet.sign(body, NOW_MS).unwrap();
        tablet.record_own(event);
        assert_eq!(
            tablet.rotate(next_signing_key(), stale),
            Err(RotateError::ChainMoved)
        );
        let rotation = key_rotation::build_rotation(&tablet, &next_signing_key(), NOW_MS).unwrap();
        assert_eq!(
            tablet.rotate(SigningKey::from_bytes(&[44; 32]), rotation.clone()),
            Err(RotateError::NotToNewKey)
        );
        assert_eq!(tablet.signer(), SignerKey::from_signing_key(&signing_key()));
        tablet.rotate(next_signing_key(), rotation.clone()).unwrap();
        assert_eq!(
            tablet.rotate(next_signing_key(), rotation),
            Err(RotateError::NotFromCurrentKey)
        );
    }

    #[test]
    fn pulled_events_from_other_tablets_reach_the_board_and_forged_ones_are_caught() {
        let other_key = SigningKey::from_bytes(&[77; 32]);
        let other_signer = SignerKey::from_signing_key(&other_key);
        let body = check_out_body("D-0003", "S-0002", "W-5W", None).unwrap();
        let other_event = UnsignedEvent::next(other_signer, None, Hlc::ZERO, NOW_MS, body.clone())
            .unwrap()
            .sign(&other_key)
            .unwrap();
        let mut forged_signature = *other_event.signature_bytes();
        forged_signature[5] ^= 1;
        let forged = SignedEvent::from_parts(
            UnsignedEvent::next(other_signer, None, Hlc::ZERO, NOW_MS + 5, body).unwrap(),
            forged_signature,
        )
        .unwrap();
        assert!(signature_holds(&other_event));
        assert!(!signature_holds(&forged));

        let mut tablet = tablet();
        assert_eq!(
            tablet.absorb([other_event.clone(), other_event.clone()], NOW_MS),
            1
        );
        let device = baton_core::ids::DeviceId::new("D-0003").unwrap();
        let custody = tablet.replica().custody().device(&device).unwrap();
        assert_eq!(custody.custodians()[0].as_str(), "S-0002");
        // The clock moved past the pulled event, so the next own event sorts after it.
        let next = tablet
            .sign(
                check_out_body("D-0001", "S-0001", "W-4E", None).unwrap(),
                NOW_MS - 10,
            )
            .unwrap();
        assert!(next.hlc() > other_event.hlc());
    }
}
