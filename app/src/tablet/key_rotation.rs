//! A tablet rotates its own signing key (issue 11): the old key and the new one both sign a
//! `KeyRotation` that names the end of the old key's chain, the server accepts it only from a
//! request signed by the old key (`POST /api/v1/tablet/key-rotation`), and from then on the old
//! key signs nothing: its requests get 401 `key_rotated` and the new key's chain starts at seq 1.
//!
//! The flow (`crate::key_rotation`) stores the new key, sealed, as a *pending* key before it asks
//! the server, so that a crash after the server's answer cannot lose the only key the server
//! accepts; a pending key found at start-up is settled by asking the server which key it takes.
//! The decisions of that flow are here, without a browser, and tested natively.

use baton_core::ids::SignerKey;
use baton_core::key_rotation::{KeyRotation, KeyRotationError, RotatingSigner, SignedKeyRotation};
use ed25519_dalek::SigningKey;
use serde::Deserialize;

use super::Tablet;
use super::enrollment::Enrollment;
use crate::sync::TransportError;

pub const KEY_ROTATION_PATH: &str = "/api/v1/tablet/key-rotation";

/// Why a rotation cannot start now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotNow {
    /// The server must answer at once; offline nothing would change anyway.
    Offline,
    /// Own events still wait to be pushed: the old key's chain must be on the server, whole,
    /// before the key that signed it retires (it could not push them afterwards).
    Unsynced { n_pending: usize },
    /// An earlier rotation's answer never arrived; it is settled first (`decide_pending`).
    PendingKey,
}

/// Whether a rotation may start, checked after a sync round.
pub fn may_start(online: bool, n_pending: usize, pending_key: bool) -> Result<(), NotNow> {
    if pending_key {
        Err(NotNow::PendingKey)
    } else if !online {
        Err(NotNow::Offline)
    } else if n_pending > 0 {
        Err(NotNow::Unsynced { n_pending })
    } else {
        Ok(())
    }
}

/// Whether a member of staff with this role may rotate the tablet's key: a supervisor, who
/// answers for the ward's tablets.
pub fn may_rotate(role: &str) -> bool {
    super::roster::is_supervisor(role)
}

/// The rotation from the tablet's current key to `next`, naming the end of its current chain,
/// signed by both keys.
pub fn build_rotation(
    tablet: &Tablet,
    next: &SigningKey,
    at_ms: u64,
) -> Result<SignedKeyRotation, KeyRotationError> {
    KeyRotation {
        signer: RotatingSigner::Tablet,
        previous: tablet.signer(),
        next: SignerKey::from_signing_key(next),
        at_ms,
        last_event: tablet.chain_end(),
    }
    .sign(tablet.signing_key(), next)
}

/// The enrollment once `rotation` is accepted: the new key is the tablet's, and the rotation
/// joins its key history.
pub fn enrollment_after(enrollment: &Enrollment, rotation: &SignedKeyRotation) -> Enrollment {
    let mut next = enrollment.clone();
    next.public_key = rotation.rotation.next.to_hex();
    next.key_rotations.push(rotation.clone());
    next
}

/// The server's 200 to a rotation.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RotationAccepted {
    pub tablet_id: String,
    pub public_key: String,
    pub retired_key: String,
    #[serde(default)]
    pub last_seq: u64,
    #[serde(default)]
    pub ledger_leaf: Option<u64>,
}

impl RotationAccepted {
    /// Whether the answer is about this rotation: the keys it names are the rotation's.
    pub fn confirms(&self, rotation: &SignedKeyRotation) -> bool {
        self.public_key == rotation.rotation.next.to_hex()
            && self.retired_key == rotation.rotation.previous.to_hex()
    }
}

/// What a failed rotation request means for the tablet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotationFailure {
    /// The server holds another end of the old key's chain: sync, then try again.
    NotSynced,
    /// The server refused the rotation for good; its message says why. Nothing changed.
    Refused(String),
    /// No usable answer: the server may or may not have taken the new key. The pending key is
    /// kept and settled by asking the server (`decide_pending`).
    Unknown(String),
}

/// Sorts the error of `POST /api/v1/tablet/key-rotation`. A 4xx is the server's definite "no"
/// (it changes nothing before it answers 200); a 5xx or no answer leaves the outcome unknown.
pub fn classify_failure(error: &TransportError) -> RotationFailure {
    match error {
        TransportError::Refused { status, code, .. }
            if *status == 409 && code == "chain_not_synced" =>
        {
            RotationFailure::NotSynced
        }
        TransportError::Refused {
            status, message, ..
        } if (400..500).contains(status) => RotationFailure::Refused(message.clone()),
        other => RotationFailure::Unknown(other.to_string()),
    }
}

/// How the server answered one signed request made to find out which key it accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    Accepted,
    /// Refused, with the stable error code.
    Refused(String),
    /// No usable answer.
    Unreachable,
}

impl Probe {
    pub fn from_result<T>(result: &Result<T, TransportError>) -> Probe {
        match result {
            Ok(_) => Probe::Accepted,
            Err(TransportError::Refused { code, .. }) => Probe::Refused(code.clone()),
            Err(_) => Probe::Unreachable,
        }
    }
}

/// What to do with a pending key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PendingVerdict {
    /// The server took the new key: make it the tablet's key.
    Promote,
    /// The server never took it: forget it, the current key stays.
    Discard,
    /// Not known yet (offline, a server error): keep it and sign nothing until it is settled,
    /// since an event the old key signed after an accepted rotation could never be delivered.
    Undecided,
}

/// Settles a pending key from a signed request made with it and, when that did not decide,
/// one made with the current key. A key the server knows (even a decommissioned tablet's) was
/// taken; a pending key the server does not know was not; the current key refused as
/// `key_rotated` was retired, so the rotation went through; the current key still accepted was
/// not. Only the flow's own request could change that in between, and it has answered.
pub fn decide_pending(with_pending: &Probe, with_current: Option<&Probe>) -> PendingVerdict {
    match with_pending {
        Probe::Accepted => return PendingVerdict::Promote,
        Probe::Refused(code) if code == "tablet_decommissioned" => {
            return PendingVerdict::Promote;
        }
        Probe::Refused(code) if code == "unknown_tablet" => return PendingVerdict::Discard,
        _ => {}
    }
    match with_current {
        Some(Probe::Refused(code)) if code == "key_rotated" => PendingVerdict::Promote,
        // The server still takes the current key, so it accepted no rotation from it.
        Some(Probe::Accepted) => PendingVerdict::Discard,
        _ => PendingVerdict::Undecided,
    }
}

/// The first 16 hex digits of a key: enough for a person to tell two keys apart.
pub fn fingerprint(key_hex: &str) -> &str {
    key_hex.get(..16).unwrap_or(key_hex)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tablet::capture::check_out_body;
    use crate::tablet::tests::{NOW_MS, tablet};

    fn refused(status: u16, code: &str) -> TransportError {
        TransportError::Refused {
            status,
            code: code.to_owned(),
            message: format!("the server says {code}"),
        }
    }

    #[test]
    fn a_rotation_waits_for_the_network_an_empty_outbox_and_a_settled_pending_key() {
        assert_eq!(may_start(true, 0, false), Ok(()));
        assert_eq!(may_start(false, 0, false), Err(NotNow::Offline));
        assert_eq!(
            may_start(true, 3, false),
            Err(NotNow::Unsynced { n_pending: 3 })
        );
        assert_eq!(may_start(true, 0, true), Err(NotNow::PendingKey));
        assert!(may_rotate("charge_nurse") && may_rotate("manager"));
        assert!(!may_rotate("nurse") && !may_rotate(""));
    }

    #[test]
    fn the_rotation_names_the_chain_end_and_verifies_under_both_keys() {
        let mut tablet = tablet();
        let next = SigningKey::from_bytes(&[43; 32]);
        let first = build_rotation(&tablet, &next, NOW_MS).unwrap();
        assert_eq!(first.rotation.last_event, None, "nothing signed yet");

        for minute in 0..2 {
            let body = check_out_body("D-0001", "S-0001", "W-4E", None).unwrap();
            let event = tablet.sign(body, NOW_MS + minute * 60_000).unwrap();
            tablet.record_own(event);
        }
        let rotation = build_rotation(&tablet, &next, NOW_MS + 180_000).unwrap();
        rotation.verify().unwrap();
        assert_eq!(rotation.rotation.signer, RotatingSigner::Tablet);
        assert_eq!(rotation.rotation.previous, tablet.signer());
        assert_eq!(rotation.rotation.next, SignerKey::from_signing_key(&next));
        assert_eq!(rotation.rotation.last_event, tablet.chain_end());
        assert_eq!(rotation.rotation.last_event.unwrap().seq, 2);
        // The JSON body is the wire form the server decodes, unknown members refused.
        let decoded = SignedKeyRotation::from_json_value(&rotation.to_json_value()).unwrap();
        assert_eq!(decoded, rotation);

        let answer = RotationAccepted {
            tablet_id: "T-TEST".to_owned(),
            public_key: rotation.rotation.next.to_hex(),
            retired_key: rotation.rotation.previous.to_hex(),
            last_seq: 2,
            ledger_leaf: Some(7),
        };
        assert!(answer.confirms(&rotation));
        let swapped = RotationAccepted {
            public_key: answer.retired_key.clone(),
            retired_key: answer.public_key.clone(),
            ..answer
        };
        assert!(!swapped.confirms(&rotation));
        // A rotation to the same key is refused before anything is sent.
        assert!(build_rotation(&tablet, &tablet.signing_key().clone(), NOW_MS).is_err());
    }

    #[test]
    fn the_server_answer_decides_between_retry_after_sync_refusal_and_unknown() {
        assert_eq!(
            classify_failure(&refused(409, "chain_not_synced")),
            RotationFailure::NotSynced
        );
        assert_eq!(
            classify_failure(&refused(409, "key_already_enrolled")),
            RotationFailure::Refused("the server says key_already_enrolled".to_owned())
        );
        assert_eq!(
            classify_failure(&refused(400, "bad_key_rotation")),
            RotationFailure::Refused("the server says bad_key_rotation".to_owned())
        );
        assert!(matches!(
            classify_failure(&refused(503, "unavailable")),
            RotationFailure::Unknown(_)
        ));
        assert!(matches!(
            classify_failure(&TransportError::Unreachable("reset".to_owned())),
            RotationFailure::Unknown(_)
        ));
    }

    #[test]
    fn a_pending_key_is_promoted_only_when_the_server_took_it() {
        let accepted = Probe::Accepted;
        let unknown = Probe::Refused("unknown_tablet".to_owned());
        let rotated = Probe::Refused("key_rotated".to_owned());
        let offline = Probe::Unreachable;
        assert_eq!(decide_pending(&accepted, None), PendingVerdict::Promote);
        assert_eq!(
            decide_pending(&Probe::Refused("tablet_decommissioned".to_owned()), None),
            PendingVerdict::Promote
        );
        assert_eq!(decide_pending(&unknown, None), PendingVerdict::Discard);
        assert_eq!(
            decide_pending(&unknown, Some(&accepted)),
            PendingVerdict::Discard
        );
        // The pending key's request failed for another reason: the old key tells.
        assert_eq!(
            decide_pending(&offline, Some(&rotated)),
            PendingVerdict::Promote
        );
        assert_eq!(
            decide_pending(&Probe::Refused("rate_limited".to_owned()), Some(&accepted)),
            PendingVerdict::Discard,
            "the server still takes the old key"
        );
        assert_eq!(
            decide_pending(
                &Probe::Refused("rate_limited".to_owned()),
                Some(&Probe::Refused("rate_limited".to_owned()))
            ),
            PendingVerdict::Undecided
        );
        assert_eq!(decide_pending(&offline, None), PendingVerdict::Undecided);
        assert_eq!(
            decide_pending(&offline, Some(&offline)),
            PendingVerdict::Undecided
        );
        assert_eq!(Probe::from_result::<()>(&Ok(())), Probe::Accepted);
        assert_eq!(
            Probe::from_result::<()>(&Err(refused(401, "key_rotated"))),
            rotated
        );
        assert_eq!(
            Probe::from_result::<()>(&Err(TransportError::BadAnswer("x".to_owned()))),
            offline
        );
    }

    #[test]
    fn fingerprints_are_the_first_sixteen_hex_digits() {
        let key = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        assert_eq!(fingerprint(key), "0123456789abcdef");
        assert_eq!(fingerprint("abc"), "abc");
    }
}
