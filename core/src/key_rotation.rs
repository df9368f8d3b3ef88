//! Key rotation: a statement, signed by both keys, that one ed25519 key hands over to the next,
//! and the chain of such statements that says which keys belong to one signer over time.
//!
//! The server's key signs tree heads, authority events and tokens. When an operator rotates it,
//! `baton rotate-server-key` signs a `KeyRotation` with the old key (the old key vouches for the
//! new one) and with the new key (proof that whoever introduces it holds it, and the new key's
//! word that the old one was its predecessor). Both signatures make each link good in both
//! directions, so a tablet enrolled before the rotation can follow it forwards, and an auditor
//! who trusts today's key can check heads signed years ago by a key retired since.
//!
//! The statement is specified in docs/PROTOCOL.md §3.9. Like events and tree heads it is signed
//! over a domain-separation prefix followed by its RFC 8785 canonical JSON.

use ed25519_dalek::{Signature, Signer, SigningKey};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::body::{FieldError, check_timestamp};
use crate::canonical::write_canonical;
use crate::ids::{EventId, SignerKey};
use crate::ledger::head::{deserialize_signature, serialize_signature};

/// Bytes signed before the canonical statement. A new statement format needs a new prefix.
pub const KEY_ROTATION_SIGNING_PREFIX: &[u8] = b"baton.key-rotation.v1\n";

/// The most rotations a history may hold: one a month for forty years. It bounds what a
/// verifier accepts from a bundle or a server.
pub const MAX_ROTATIONS: usize = 480;

/// Which kind of signer rotates its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RotatingSigner {
    /// The server's key: tree heads, authority events, tokens.
    Server,
    /// A tablet's key: its events and its signed requests.
    Tablet,
}

/// The last event a rotating key signed: its chain ends there and the next key's chain takes
/// over, so the record of the signer continues without a gap anyone could fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainEnd {
    pub seq: u64,
    pub id: EventId,
}

/// "From `at_ms` on, `next` signs in place of `previous`."
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRotation {
    pub signer: RotatingSigner,
    pub previous: SignerKey,
    pub next: SignerKey,
    /// When the rotation was made, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// For a tablet: the last event the previous key signed, absent if it signed none. The
    /// previous key may sign nothing after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_event: Option<ChainEnd>,
}

/// A rotation with the signatures of both keys over `KeyRotation::signed_message`.
///
/// Holding one does not mean the signatures were checked; `verify` does that.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedKeyRotation {
    pub rotation: KeyRotation,
    #[serde(
        serialize_with = "serialize_signature",
        deserialize_with = "deserialize_signature"
    )]
    pub previous_signature: [u8; 64],
    #[serde(
        serialize_with = "serialize_signature",
        deserialize_with = "deserialize_signature"
    )]
    pub next_signature: [u8; 64],
}

/// Why a rotation or a history of rotations is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeyRotationError {
    #[error(transparent)]
    Field(#[from] FieldError),
    #[error("the rotation hands key {key} over to itself")]
    SameKey { key: SignerKey },
    #[error("the signing keys are not the rotation's previous and next keys")]
    KeyMismatch,
    #[error("previous_signature: does not verify for the previous key {key}")]
    BadPreviousSignature { key: SignerKey },
    #[error("next_signature: does not verify for the next key {key}")]
    BadNextSignature { key: SignerKey },
    #[error("rotation {index}: hands over from {found}, but the key in use was {expected}")]
    BrokenChain {
        index: usize,
        expected: SignerKey,
        found: SignerKey,
    },
    #[error("rotation {index}: is dated before the rotation it follows")]
    OutOfOrder { index: usize },
    #[error("rotation {index}: brings back key {key}, which the history already retired")]
    KeyReused { index: usize, key: SignerKey },
    #[error("the history holds {count} rotations, the most accepted is {max}")]
    TooMany { count: usize, max: usize },
    #[error("the trusted key {trusted} is not in the key history")]
    TrustedKeyAbsent { trusted: SignerKey },
    #[error("rotation {index}: is for {found:?} keys, not {expected:?} keys")]
    WrongSigner {
        index: usize,
        expected: RotatingSigner,
        found: RotatingSigner,
    },
    /// Invalid JSON, a missing, duplicate or unknown field, or a field of the wrong type.
    #[error("malformed key rotation JSON: {message}")]
    Json { message: String },
}

impl KeyRotation {
    /// The exact bytes both signatures cover: the prefix, then the canonical JSON.
    pub fn signed_message(&self) -> Result<Vec<u8>, KeyRotationError> {
        check_timestamp("at_ms", Some(self.at_ms))?;
        if let Some(last_event) = &self.last_event {
            check_timestamp("last_event.seq", Some(last_event.seq))?;
        }
        let value = serde_json::to_value(self).expect("rotation fields always serialise to JSON");
        let mut out = Vec::with_capacity(KEY_ROTATION_SIGNING_PREFIX.len() + 200);
        out.extend_from_slice(KEY_ROTATION_SIGNING_PREFIX);
        write_canonical(&value, &mut out).expect("validated fields are in the canonical subset");
        Ok(out)
    }

    /// Signs the rotation with both keys; each must be the one the rotation names.
    pub fn sign(
        self,
        previous: &SigningKey,
        next: &SigningKey,
    ) -> Result<SignedKeyRotation, KeyRotationError> {
        if SignerKey::from_signing_key(previous) != self.previous
            || SignerKey::from_signing_key(next) != self.next
        {
            return Err(KeyRotationError::KeyMismatch);
        }
        if self.previous == self.next {
            return Err(KeyRotationError::SameKey { key: self.next });
        }
        let message = self.signed_message()?;
        Ok(SignedKeyRotation {
            previous_signature: previous.sign(&message).to_bytes(),
            next_signature: next.sign(&message).to_bytes(),
            rotation: self,
        })
    }
}

impl SignedKeyRotation {
    /// Checks both signatures under `verify_strict`, which refuses malleated and small-order
    /// signatures, and that the rotation changes the key.
    pub fn verify(&self) -> Result<(), KeyRotationError> {
        let rotation = &self.rotation;
        if rotation.previous == rotation.next {
            return Err(KeyRotationError::SameKey { key: rotation.next });
        }
        let message = rotation.signed_message()?;
        rotation
            .previous
            .verifying_key()
            .verify_strict(&message, &Signature::from_bytes(&self.previous_signature))
            .map_err(|_| KeyRotationError::BadPreviousSignature {
                key: rotation.previous,
            })?;
        rotation
            .next
            .verifying_key()
            .verify_strict(&message, &Signature::from_bytes(&self.next_signature))
            .map_err(|_| KeyRotationError::BadNextSignature { key: rotation.next })
    }

    /// Decodes the JSON form, refusing unknown members. The signatures are not checked here.
    pub fn from_json_value(
        value: &serde_json::Value,
    ) -> Result<SignedKeyRotation, KeyRotationError> {
        SignedKeyRotation::deserialize(value).map_err(|error| KeyRotationError::Json {
            message: error.to_string(),
        })
    }

    pub fn to_json_value(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("rotation fields always serialise to JSON")
    }
}

/// The keys one signer has used, oldest first, each handed over to the next by a verified
/// rotation. A key in the history stays good for what it signed while it was in use: heads
/// signed before a rotation verify after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyHistory {
    keys: Vec<SignerKey>,
}

impl KeyHistory {
    /// A signer that never rotated.
    pub fn single(key: SignerKey) -> KeyHistory {
        KeyHistory { keys: vec![key] }
    }

    /// Checks `rotations` (oldest first) as one unbroken chain of `signer` keys that contains
    /// `trusted`, the key the caller already trusts (the key a tablet enrolled with, or the key
    /// an auditor was given). With no rotations the history is `trusted` alone.
    pub fn from_rotations(
        signer: RotatingSigner,
        trusted: &SignerKey,
        rotations: &[SignedKeyRotation],
    ) -> Result<KeyHistory, KeyRotationError> {
        if rotations.len() > MAX_ROTATIONS {
            return Err(KeyRotationError::TooMany {
                count: rotations.len(),
                max: MAX_ROTATIONS,
            });
        }
        let Some(first) = rotations.first() else {
            return Ok(KeyHistory::single(*trusted));
        };
        let mut keys = vec![first.rotation.previous];
        let mut last_at_ms = 0;
        for (index, signed) in rotations.iter().enumerate() {
            let rotation = &signed.rotation;
            if rotation.signer != signer {
                return Err(KeyRotationError::WrongSigner {
                    index,
                    expected: signer,
                    found: rotation.signer,
                });
            }
            let current = *keys.last().expect("the history starts with a key");
            if rotation.previous != current {
                return Err(KeyRotationError::BrokenChain {
                    index,
                    expected: current,
                    found: rotation.previous,
                });
            }
            if rotation.at_ms < last_at_ms {
                return Err(KeyRotationError::OutOfOrder { index });
            }
            if keys.contains(&rotation.next) {
                return Err(KeyRotationError::KeyReused {
                    index,
                    key: rotation.next,
                });
            }
            signed.verify()?;
            last_at_ms = rotation.at_ms;
            keys.push(rotation.next);
        }
        if !keys.contains(trusted) {
            return Err(KeyRotationError::TrustedKeyAbsent { trusted: *trusted });
        }
        Ok(KeyHistory { keys })
    }

    pub fn contains(&self, key: &SignerKey) -> bool {
        self.keys.contains(key)
    }

    /// The key in use now: the last one handed over to.
    pub fn current(&self) -> SignerKey {
        *self.keys.last().expect("a history holds at least one key")
    }

    /// Every key, oldest first.
    pub fn keys(&self) -> &[SignerKey] {
        &self.keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn public(seed: u8) -> SignerKey {
        SignerKey::from_signing_key(&key(seed))
    }

    fn rotate(from: u8, to: u8, at_ms: u64) -> SignedKeyRotation {
        KeyRotation {
            signer: RotatingSigner::Server,
            previous: public(from),
            next: public(to),
            at_ms,
            last_event: None,
        }
        .sign(&key(from), &key(to))
        .unwrap()
    }

    #[test]
    fn a_chain_of_rotations_is_trusted_from_any_of_its_keys() {
        let rotations = [rotate(1, 2, 1_000), rotate(2, 3, 2_000)];
        for trusted in [1, 2, 3] {
            let history =
                KeyHistory::from_rotations(RotatingSigner::Server, &public(trusted), &rotations)
                    .unwrap();
            assert_eq!(history.keys(), &[public(1), public(2), public(3)]);
            assert_eq!(history.current(), public(3));
        }
        let error =
            KeyHistory::from_rotations(RotatingSigner::Server, &public(9), &rotations).unwrap_err();
        assert_eq!(
            error,
            KeyRotationError::TrustedKeyAbsent { trusted: public(9) }
        );
    }

    #[test]
    fn no_rotation_means_the_trusted_key_alone() {
        let history = KeyHistory::from_rotations(RotatingSigner::Server, &public(1), &[]).unwrap();
        assert_eq!(history, KeyHistory::single(public(1)));
        assert!(history.contains(&public(1)) && !history.contains(&public(2)));
    }

    #[test]
    fn a_rotation_signed_by_one_key_only_is_refused() {
        let mut forged = rotate(1, 2, 1_000);
        // An attacker who holds only the new key cannot make the old key vouch for it.
        forged.previous_signature = key(2)
            .sign(&forged.rotation.signed_message().unwrap())
            .to_bytes();
        assert_eq!(
            forged.verify(),
            Err(KeyRotationError::BadPreviousSignature { key: public(1) })
        );
        let mut forged = rotate(1, 2, 1_000);
        forged.next_signature = forged.previous_signature;
        assert_eq!(
            forged.verify(),
            Err(KeyRotationError::BadNextSignature { key: public(2) })
        );
        let mut altered = rotate(1, 2, 1_000);
        altered.rotation.at_ms += 1;
        assert!(altered.verify().is_err());
    }

    #[test]
    fn gaps_reorderings_and_returns_to_an_old_key_are_refused() {
        let gap = [rotate(1, 2, 1_000), rotate(3, 4, 2_000)];
        assert_eq!(
            KeyHistory::from_rotations(RotatingSigner::Server, &public(1), &gap),
            Err(KeyRotationError::BrokenChain {
                index: 1,
                expected: public(2),
                found: public(3)
            })
        );
        let backwards = [rotate(1, 2, 2_000), rotate(2, 3, 1_000)];
        assert_eq!(
            KeyHistory::from_rotations(RotatingSigner::Server, &public(1), &backwards),
            Err(KeyRotationError::OutOfOrder { index: 1 })
        );
        let cycle = [rotate(1, 2, 1_000), rotate(2, 1, 2_000)];
        assert_eq!(
            KeyHistory::from_rotations(RotatingSigner::Server, &public(1), &cycle),
            Err(KeyRotationError::KeyReused {
                index: 1,
                key: public(1)
            })
        );
        assert_eq!(
            KeyRotation {
                signer: RotatingSigner::Server,
                previous: public(1),
                next: public(1),
                at_ms: 1,
                last_event: None,
            }
            .sign(&key(1), &key(1)),
            Err(KeyRotationError::SameKey { key: public(1) })
        );
    }

    #[test]
    fn the_json_form_round_trips_and_refuses_unknown_members() {
        let rotation = rotate(1, 2, 1_000);
        let value = rotation.to_json_value();
        assert_eq!(
            SignedKeyRotation::from_json_value(&value).unwrap(),
            rotation
        );
        let mut extra = value.clone();
        extra["by"] = "someone".into();
        assert!(matches!(
            SignedKeyRotation::from_json_value(&extra),
            Err(KeyRotationError::Json { .. })
        ));
    }

    #[test]
    fn the_signed_bytes_are_the_prefix_and_the_canonical_statement() {
        let rotation = rotate(1, 2, 1_000).rotation;
        let message = rotation.signed_message().unwrap();
        let text = String::from_utf8(message).unwrap();
        assert_eq!(
            text,
            format!(
                "baton.key-rotation.v1\n{{\"at_ms\":1000,\"next\":\"{}\",\"previous\":\"{}\",\"signer\":\"server\"}}",
                public(2).to_hex(),
                public(1).to_hex()
            )
        );
    }

    #[test]
    fn a_tablet_rotation_names_the_end_of_the_old_chain_under_both_signatures() {
        let last_event = ChainEnd {
            seq: 7,
            id: EventId::from_hex(&"ab".repeat(32)).unwrap(),
        };
        let signed = KeyRotation {
            signer: RotatingSigner::Tablet,
            previous: public(1),
            next: public(2),
            at_ms: 1_000,
            last_event: Some(last_event),
        }
        .sign(&key(1), &key(2))
        .unwrap();
        signed.verify().unwrap();
        let text = String::from_utf8(signed.rotation.signed_message().unwrap()).unwrap();
        assert!(
            text.contains(&format!(
                "\"last_event\":{{\"id\":\"{}\",\"seq\":7}}",
                "ab".repeat(32)
            )),
            "{text}"
        );
        // Moving the end of the chain breaks both signatures.
        let mut moved = signed.clone();
        moved.rotation.last_event = Some(ChainEnd {
            seq: 6,
            ..last_event
        });
        assert!(moved.verify().is_err());
        assert_eq!(
            SignedKeyRotation::from_json_value(&signed.to_json_value()).unwrap(),
            signed
        );
    }
}
