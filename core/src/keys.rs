//! The set of enrolled signers: which keys may sign events, in which role, and since when a key
//! is revoked.

use std::collections::BTreeMap;
use std::fmt;

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::ids::SignerKey;

/// What a signer is allowed to say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A shared device: may record handoffs, reports, lockouts and corrections.
    Tablet,
    /// The server's key: may also quarantine and release devices.
    Authority,
}

/// What the key set knows about one signer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignerInfo {
    pub role: Role,
    /// Events whose `hlc.ms` is at or after this instant are refused, and those already held are
    /// flagged. The instant may lie in the past: a tablet reported stolen at noon may be revoked
    /// from the morning round when it was last seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_from_ms: Option<u64>,
    /// Set when the signer rotated to a new key: the last `seq` of this key's chain. Later
    /// events of this key are refused whatever their clock says, so a copy of a retired key
    /// cannot extend the tablet's record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired_after_seq: Option<u64>,
}

impl SignerInfo {
    pub fn tablet() -> SignerInfo {
        SignerInfo {
            role: Role::Tablet,
            revoked_from_ms: None,
            retired_after_seq: None,
        }
    }

    pub fn authority() -> SignerInfo {
        SignerInfo {
            role: Role::Authority,
            revoked_from_ms: None,
            retired_after_seq: None,
        }
    }

    /// Whether an event stamped `hlc_ms` falls in the revoked period.
    pub fn is_revoked_at(&self, hlc_ms: u64) -> bool {
        self.revoked_from_ms
            .is_some_and(|revoked_from_ms| hlc_ms >= revoked_from_ms)
    }
}

/// Why a key cannot be enrolled.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeySetError {
    #[error("signer {signer}: the key is not the canonical encoding of its curve point")]
    NonCanonicalKey { signer: SignerKey },
    #[error(
        "signer {signer}: the key has a small-order component, so batch and single verification could disagree"
    )]
    KeyWithTorsion { signer: SignerKey },
}

#[derive(Clone, PartialEq, Eq)]
pub(crate) struct EnrolledSigner {
    pub(crate) info: SignerInfo,
    /// Decompressed once at enrollment, because decompression costs about a tenth of a
    /// verification.
    pub(crate) verifying_key: VerifyingKey,
}

impl fmt::Debug for EnrolledSigner {
    // The decompressed point is the key again in another form; printing it adds only noise.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("EnrolledSigner")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

/// The enrolled signers, keyed by public key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeySet {
    signers: BTreeMap<SignerKey, EnrolledSigner>,
}

impl KeySet {
    pub fn new() -> KeySet {
        KeySet::default()
    }

    /// Builds a key set from the server's signer table.
    pub fn from_signers(
        signers: impl IntoIterator<Item = (SignerKey, SignerInfo)>,
    ) -> Result<KeySet, KeySetError> {
        let mut key_set = KeySet::new();
        for (signer, info) in signers {
            key_set.enroll(signer, info)?;
        }
        Ok(key_set)
    }

    /// Adds a signer, or replaces what is known about it (for example to record a revocation).
    ///
    /// Beyond the weak-key check every `SignerKey` passed, enrollment requires the canonical
    /// encoding of a point in the prime-order subgroup. Every honestly generated key qualifies;
    /// the check makes single (`verify_strict`) and batch verification accept exactly the same
    /// signatures, so that replicas verifying differently still agree on the log.
    pub fn enroll(&mut self, signer: SignerKey, info: SignerInfo) -> Result<(), KeySetError> {
        let verifying_key = signer.verifying_key();
        let point = verifying_key.to_edwards();
        if point.compress().to_bytes() != *signer.as_bytes() {
            return Err(KeySetError::NonCanonicalKey { signer });
        }
        if !point.is_torsion_free() {
            return Err(KeySetError::KeyWithTorsion { signer });
        }
        self.signers.insert(
            signer,
            EnrolledSigner {
                info,
                verifying_key,
            },
        );
        Ok(())
    }

    pub fn info(&self, signer: &SignerKey) -> Option<SignerInfo> {
        self.signers.get(signer).map(|enrolled| enrolled.info)
    }

    pub(crate) fn enrolled(&self, signer: &SignerKey) -> Option<&EnrolledSigner> {
        self.signers.get(signer)
    }

    /// The signer's role; a signer the set does not know is treated as a tablet, the role with
    /// the fewest rights.
    pub fn role(&self, signer: &SignerKey) -> Role {
        self.info(signer).map_or(Role::Tablet, |info| info.role)
    }

    pub fn signers(&self) -> impl Iterator<Item = (&SignerKey, SignerInfo)> {
        self.signers
            .iter()
            .map(|(signer, enrolled)| (signer, enrolled.info))
    }

    pub fn len(&self) -> usize {
        self.signers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.signers.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;

    #[test]
    fn honest_keys_enroll_and_keep_their_role() {
        let tablet = SignerKey::from_signing_key(&SigningKey::from_bytes(&[1; 32]));
        let server = SignerKey::from_signing_key(&SigningKey::from_bytes(&[2; 32]));
        let keys = KeySet::from_signers([
            (tablet, SignerInfo::tablet()),
            (server, SignerInfo::authority()),
        ])
        .unwrap();
        assert_eq!(keys.role(&tablet), Role::Tablet);
        assert_eq!(keys.role(&server), Role::Authority);
        let stranger = SignerKey::from_signing_key(&SigningKey::from_bytes(&[3; 32]));
        assert_eq!(keys.info(&stranger), None);
        assert_eq!(keys.role(&stranger), Role::Tablet);
    }

    #[test]
    fn keys_with_a_small_order_component_are_refused() {
        let honest = SigningKey::from_bytes(&[1; 32])
            .verifying_key()
            .to_edwards();
        // Adding a point of order two (x = 0, y = -1) keeps the key off the small-order list
        // that `is_weak` checks but takes it out of the prime-order subgroup.
        let mut order_two = [0xff_u8; 32];
        order_two[0] = 0xec;
        order_two[31] = 0x7f;
        let torsion = VerifyingKey::from_bytes(&order_two).unwrap().to_edwards();
        let mixed = SignerKey::from_bytes((honest + torsion).compress().to_bytes()).unwrap();
        let error = KeySet::new()
            .enroll(mixed, SignerInfo::tablet())
            .unwrap_err();
        assert_eq!(error, KeySetError::KeyWithTorsion { signer: mixed });
    }

    #[test]
    fn revocation_applies_from_its_instant_onwards() {
        let info = SignerInfo {
            revoked_from_ms: Some(1_000),
            ..SignerInfo::tablet()
        };
        assert!(!info.is_revoked_at(999));
        assert!(info.is_revoked_at(1_000));
        assert!(!SignerInfo::tablet().is_revoked_at(u64::MAX));
    }
}
