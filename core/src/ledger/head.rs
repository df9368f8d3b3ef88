//! Signed tree heads: the server's signed statement "the log of this site has this many entries
//! and this root", and the comparison witnesses make between two of them.
//!
//! The format is specified in docs/PROTOCOL.md §3.6 and pinned by the `tree-head-vector` blocks
//! of §3.8. Like events, a head is signed over a domain-separation prefix followed by its RFC 8785
//! canonical JSON, so that a head signature can never pass for an event or request signature
//! made with the same key.

use ed25519_dalek::{Signature, Signer, SigningKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

use crate::body::{FieldError, check_timestamp};
use crate::canonical::write_canonical;
use crate::ids::{SignerKey, SiteId, decode_lower_hex};
use crate::key_rotation::KeyHistory;
use crate::ledger::hash::LedgerHash;

/// Bytes signed before the canonical head. A new head format needs a new prefix.
pub const TREE_HEAD_SIGNING_PREFIX: &[u8] = b"baton.tree-head.v1\n";

/// What the log's key signs about the log.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TreeHead {
    /// The site whose log this is: every site keeps its own ledger.
    pub log_id: SiteId,
    pub tree_size: u64,
    pub root_hash: LedgerHash,
    /// The server's clock when it signed, in milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// The public key that signs the head. Naming the key itself rather than a label lets a
    /// witness that knows several keys (before and after a rotation) pick the right one without
    /// a lookup table, and a label could be reassigned.
    pub key_id: SignerKey,
}

/// A tree head with the Ed25519 signature of its key over `TreeHead::signed_message`.
///
/// Holding one does not mean the signature was checked; `verify` does that.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedTreeHead {
    pub head: TreeHead,
    #[serde(
        serialize_with = "serialize_signature",
        deserialize_with = "deserialize_signature"
    )]
    pub signature: [u8; 64],
}

/// Why a tree head cannot be signed, decoded or verified.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TreeHeadError {
    #[error(transparent)]
    Field(#[from] FieldError),
    #[error("key_id: the head names key {key_id} but the key used is {key}")]
    KeyMismatch { key_id: SignerKey, key: SignerKey },
    #[error("signature: does not verify for key {key_id}")]
    BadSignature { key_id: SignerKey },
    #[error("key_id: the head names key {key_id}, which is not one of the server's keys")]
    UnknownKey { key_id: SignerKey },
    /// Invalid JSON, a missing, duplicate or unknown field, or a field of the wrong type; the
    /// message names the field and its position.
    #[error("malformed tree head JSON: {message}")]
    Json { message: String },
}

/// The hex form of an Ed25519 signature in signed JSON (heads, key rotations).
pub(crate) fn serialize_signature<S: Serializer>(
    signature: &[u8; 64],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&hex::encode(signature))
}

pub(crate) fn deserialize_signature<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<[u8; 64], D::Error> {
    let text = String::deserialize(deserializer)?;
    decode_lower_hex("signature", &text).map_err(serde::de::Error::custom)
}

impl TreeHead {
    /// Checks the rules the field types do not: the integers must fit canonical JSON.
    pub fn validate(&self) -> Result<(), FieldError> {
        check_timestamp("tree_size", Some(self.tree_size))?;
        check_timestamp("timestamp_ms", Some(self.timestamp_ms))
    }

    /// The canonical JSON of the head (RFC 8785, PROTOCOL.md §1.2).
    pub fn canonical_bytes(&self) -> Result<Vec<u8>, TreeHeadError> {
        let mut out = Vec::with_capacity(256);
        self.write_canonical(&mut out)?;
        Ok(out)
    }

    /// The exact bytes the signature covers: the prefix, then the canonical JSON.
    pub fn signed_message(&self) -> Result<Vec<u8>, TreeHeadError> {
        let mut out = Vec::with_capacity(TREE_HEAD_SIGNING_PREFIX.len() + 256);
        out.extend_from_slice(TREE_HEAD_SIGNING_PREFIX);
        self.write_canonical(&mut out)?;
        Ok(out)
    }

    fn write_canonical(&self, out: &mut Vec<u8>) -> Result<(), TreeHeadError> {
        self.validate()?;
        let value = serde_json::to_value(self).expect("tree head fields always serialise to JSON");
        write_canonical(&value, out).expect("validated fields are in the canonical subset");
        Ok(())
    }

    /// Signs the head with the key that `key_id` names.
    pub fn sign(self, signing_key: &SigningKey) -> Result<SignedTreeHead, TreeHeadError> {
        let key = SignerKey::from_signing_key(signing_key);
        if key != self.key_id {
            return Err(TreeHeadError::KeyMismatch {
                key_id: self.key_id,
                key,
            });
        }
        let signature = signing_key.sign(&self.signed_message()?).to_bytes();
        Ok(SignedTreeHead {
            head: self,
            signature,
        })
    }
}

impl SignedTreeHead {
    /// Checks that `key` is the key the head names and that the signature is valid under
    /// `verify_strict`, which refuses malleated and small-order signatures.
    pub fn verify(&self, key: &SignerKey) -> Result<(), TreeHeadError> {
        if *key != self.head.key_id {
            return Err(TreeHeadError::KeyMismatch {
                key_id: self.head.key_id,
                key: *key,
            });
        }
        let message = self.head.signed_message()?;
        key.verifying_key()
            .verify_strict(&message, &Signature::from_bytes(&self.signature))
            .map_err(|_| TreeHeadError::BadSignature {
                key_id: self.head.key_id,
            })
    }

    /// Checks the head against a signer's key history: the key it names must be one of the
    /// history's keys (retired keys included, so that heads signed before a rotation still
    /// verify), and the signature must be valid for it.
    pub fn verify_in(&self, history: &KeyHistory) -> Result<(), TreeHeadError> {
        if !history.contains(&self.head.key_id) {
            return Err(TreeHeadError::UnknownKey {
                key_id: self.head.key_id,
            });
        }
        self.verify(&self.head.key_id)
    }

    /// Decodes `{"head": {...}, "signature": "<128 hex digits>"}`, refusing unknown members.
    /// The signature is not checked here.
    pub fn from_json_bytes(bytes: &[u8]) -> Result<SignedTreeHead, TreeHeadError> {
        let signed_head: SignedTreeHead =
            serde_json::from_slice(bytes).map_err(|error| TreeHeadError::Json {
                message: error.to_string(),
            })?;
        signed_head.head.validate()?;
        Ok(signed_head)
    }

    /// The canonical JSON of the signed head, as served.
    pub fn to_json_bytes(&self) -> Result<Vec<u8>, TreeHeadError> {
        self.head.validate()?;
        let value =
            serde_json::to_value(self).expect("signed tree head fields always serialise to JSON");
        let mut out = Vec::with_capacity(400);
        write_canonical(&value, &mut out).expect("validated fields are in the canonical subset");
        Ok(out)
    }
}

/// What two signed heads say about each other, as a witness sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HeadConsistency {
    /// The heads are of different logs and say nothing about each other.
    DifferentLogs,
    /// Same log, same size, same root; the timestamps may differ.
    Agree,
    /// Same log, different sizes: they agree only if a consistency proof from `old_size` to
    /// `new_size` verifies (`ledger::verify_consistency`).
    NeedsConsistencyProof { old_size: u64, new_size: u64 },
    /// Same log and size, different roots: the log signed two different histories. The two
    /// signed heads are the evidence, to be kept and reported.
    Fork { tree_size: u64 },
}

/// Compares two heads of the same log. The caller checks both signatures first: a fork is
/// evidence only when both heads carry valid signatures of the log's key.
pub fn check_heads_consistent(first: &SignedTreeHead, second: &SignedTreeHead) -> HeadConsistency {
    let (first, second) = (&first.head, &second.head);
    if first.log_id != second.log_id {
        return HeadConsistency::DifferentLogs;
    }
    if first.tree_size != second.tree_size {
        return HeadConsistency::NeedsConsistencyProof {
            old_size: first.tree_size.min(second.tree_size),
            new_size: first.tree_size.max(second.tree_size),
        };
    }
    if first.root_hash != second.root_hash {
        return HeadConsistency::Fork {
            tree_size: first.tree_size,
        };
    }
    HeadConsistency::Agree
}
