//! The tablet as a witness of its site's audit ledger (docs/PROTOCOL.md §3.7).
//!
//! The tablet keeps the latest signed tree head it verified. At every sync it checks the
//! server's current head against it: a head of the same size with another root is a fork; a
//! head of another size must come with a consistency proof that verifies. Either failure is
//! evidence that the server showed two histories: the tablet keeps both signed heads (and the
//! failed proof), raises an alarm on screen, and reports it at the next contact. It also proves,
//! a few at a time, that each of its own events is in the log where its receipt says.
//!
//! Everything here is pure: the sync round fetches, this module decides.

use baton_core::event::SignedEvent;
use baton_core::ids::SignerKey;
use baton_core::key_rotation::{KeyHistory, RotatingSigner, SignedKeyRotation};
use baton_core::ledger::{
    HeadConsistency, LedgerEntry, LedgerHash, SignedTreeHead, check_heads_consistent,
    verify_consistency, verify_inclusion,
};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// How many of its own events a tablet proves included per sync round: enough to keep up with
/// a ward's handoffs, few enough that a catch-up sync after a long outage is not slowed.
pub const INCLUSION_CHECKS_PER_ROUND: usize = 20;

/// What the tablet keeps about the ledger, durably.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WitnessState {
    /// The latest head that verified and extends every head seen before it.
    pub head: Option<SignedTreeHead>,
    /// Own events with a leaf index below this one are proven in the log.
    #[serde(default)]
    pub proven_below_leaf: u64,
    #[serde(default)]
    pub alarms: Vec<WitnessAlarm>,
    /// The server key's rotations this tablet verified, oldest first: with the key it enrolled
    /// with, they name every key whose heads and authority events it accepts.
    #[serde(default)]
    pub server_key_rotations: Vec<SignedKeyRotation>,
}

/// The server keys this tablet trusts: the one it enrolled with and every key the verified
/// rotations link to it. Rotations that no longer verify (a damaged record) fall back to the
/// enrolled key alone, which is the safe side: an unknown key's heads are refused.
pub fn trusted_server_keys(enrolled: &SignerKey, state: &WitnessState) -> KeyHistory {
    KeyHistory::from_rotations(
        RotatingSigner::Server,
        enrolled,
        &state.server_key_rotations,
    )
    .unwrap_or_else(|_| KeyHistory::single(*enrolled))
}

/// Learns the rotations the server published when a head names a key this tablet does not
/// know. They must verify from the enrolled key and extend the rotations already known (a
/// history that forks from what the tablet saw is refused), and they must bring in the key the
/// head names. Returns the new history to keep, or `None` if nothing changes.
pub fn learn_rotations(
    enrolled: &SignerKey,
    known: &[SignedKeyRotation],
    published: &[SignedKeyRotation],
    wanted: &SignerKey,
) -> Option<KeyHistory> {
    if !published.starts_with(known) || published.len() == known.len() {
        return None;
    }
    let history = KeyHistory::from_rotations(RotatingSigner::Server, enrolled, published).ok()?;
    history.contains(wanted).then_some(history)
}

/// What kind of misbehaviour the evidence shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlarmKind {
    /// Two signed heads of one size with different roots.
    Fork,
    /// Two signed heads of different sizes whose consistency proof does not verify.
    Inconsistent,
    /// An own event is not in the log at the leaf its receipt named.
    MissingEntry,
}

/// The evidence of an alarm, kept until a person has seen it and reported to the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WitnessAlarm {
    pub kind: AlarmKind,
    /// The head the tablet held.
    pub kept: SignedTreeHead,
    /// The head the server offered (for a missing entry, the head the proof was asked against).
    pub offered: SignedTreeHead,
    /// The proof that failed, if one did.
    #[serde(default)]
    pub proof: Vec<LedgerHash>,
    /// The leaf index of the missing own event.
    #[serde(default)]
    pub leaf_index: Option<u64>,
    /// What the check found, for the people who investigate.
    pub detail: String,
    pub raised_at_ms: u64,
    /// Whether the server has acknowledged the report (the evidence stays on the tablet).
    #[serde(default)]
    pub reported: bool,
}

/// Why a head from the server is not even a candidate: not evidence of anything, just refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HeadRefused {
    #[error("the server's tree head is for site {found}, and this tablet belongs to {expected}")]
    WrongSite { expected: String, found: String },
    #[error("the server's tree head does not verify with the server keys this tablet trusts: {0}")]
    BadSignature(String),
}

/// What to do with a head the server offered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadCheck {
    /// Nothing new: the same tree.
    Same,
    /// The first head this tablet sees: keep it.
    Adopt,
    /// Ask for the consistency proof between these sizes, then call `conclude`.
    NeedsProof { old_size: u64, new_size: u64 },
    /// Same size, different root.
    Fork,
}

/// §3.7 steps 1 and 2 up to the proof: checks the offered head's site and signature and
/// compares it with the kept one.
pub fn check_head(
    kept: Option<&SignedTreeHead>,
    offered: &SignedTreeHead,
    site_id: &str,
    server_keys: &KeyHistory,
) -> Result<HeadCheck, HeadRefused> {
    if offered.head.log_id.as_str() != site_id {
        return Err(HeadRefused::WrongSite {
            expected: site_id.to_owned(),
            found: offered.head.log_id.as_str().to_owned(),
        });
    }
    offered
        .verify_in(server_keys)
        .map_err(|error| HeadRefused::BadSignature(error.to_string()))?;
    let Some(kept) = kept else {
        return Ok(HeadCheck::Adopt);
    };
    Ok(match check_heads_consistent(kept, offered) {
        HeadConsistency::Agree => HeadCheck::Same,
        HeadConsistency::Fork { .. } => HeadCheck::Fork,
        HeadConsistency::NeedsConsistencyProof { old_size, new_size } => {
            HeadCheck::NeedsProof { old_size, new_size }
        }
        // The site was checked above, and the kept head was checked the same way.
        HeadConsistency::DifferentLogs => HeadCheck::Fork,
    })
}

/// The end of a check that needed a proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProofOutcome {
    /// The offered head extends the kept one: keep the offered head.
    Extends,
    /// The offered head is older than the kept one but consistent with it: the server is
    /// behind what this tablet has seen (a restore from backup); keep the kept head.
    ServerBehind,
    /// The proof failed.
    Inconsistent(String),
}

/// Verifies the consistency proof between the kept and the offered head.
pub fn conclude(
    kept: &SignedTreeHead,
    offered: &SignedTreeHead,
    proof: &[LedgerHash],
) -> ProofOutcome {
    let (old, new) = if kept.head.tree_size <= offered.head.tree_size {
        (&kept.head, &offered.head)
    } else {
        (&offered.head, &kept.head)
    };
    match verify_consistency(
        old.tree_size,
        new.tree_size,
        &old.root_hash,
        &new.root_hash,
        proof,
    ) {
        Ok(()) if offered.head.tree_size >= kept.head.tree_size => ProofOutcome::Extends,
        Ok(()) => ProofOutcome::ServerBehind,
        Err(error) => ProofOutcome::Inconsistent(error.to_string()),
    }
}

/// An own event with its receipt: what its leaf in the log must hash to.
pub fn own_leaf_hash(
    event: &SignedEvent,
    server_seq: u64,
    received_at_ms: u64,
) -> Option<LedgerHash> {
    LedgerEntry::Event {
        event: Box::new(event.clone()),
        server_seq,
        received_at_ms,
    }
    .leaf_hash()
    .ok()
}

/// Checks that an own event is in the log of `head` at `leaf_index`.
pub fn check_inclusion(
    leaf_hash: &LedgerHash,
    leaf_index: u64,
    head: &SignedTreeHead,
    proof: &[LedgerHash],
) -> Result<(), String> {
    verify_inclusion(
        leaf_hash,
        leaf_index,
        head.head.tree_size,
        proof,
        &head.head.root_hash,
    )
    .map_err(|error| error.to_string())
}

#[cfg(test)]
mod tests {
    use baton_core::ids::SiteId;
    use baton_core::ledger::{
        MemoryHashStore, TreeHead, consistency_proof, inclusion_proof, leaf_hash,
    };
    use ed25519_dalek::SigningKey;

    use super::*;

    const SERVER_SEED: [u8; 32] = [9; 32];

    fn server_key() -> SignerKey {
        SignerKey::from_signing_key(&SigningKey::from_bytes(&SERVER_SEED))
    }

    fn trusted() -> KeyHistory {
        KeyHistory::single(server_key())
    }

    fn tree(leaves: &[&[u8]]) -> MemoryHashStore {
        let mut store = MemoryHashStore::new();
        for leaf in leaves {
            store.append(leaf_hash(leaf));
        }
        store
    }

    fn head_of(store: &MemoryHashStore, site: &str, seed: [u8; 32]) -> SignedTreeHead {
        let signing_key = SigningKey::from_bytes(&seed);
        TreeHead {
            log_id: SiteId::new(site).unwrap(),
            tree_size: store.size(),
            root_hash: store.root(),
            timestamp_ms: 1_764_000_000_000 + store.size(),
            key_id: SignerKey::from_signing_key(&signing_key),
        }
        .sign(&signing_key)
        .unwrap()
    }

    fn head(store: &MemoryHashStore) -> SignedTreeHead {
        head_of(store, "SITE-DEMO", SERVER_SEED)
    }

    #[test]
    fn the_first_head_is_adopted_and_the_same_head_is_nothing_new() {
        let three = tree(&[b"a", b"b", b"c"]);
        let offered = head(&three);
        assert_eq!(
            check_head(None, &offered, "SITE-DEMO", &trusted()),
            Ok(HeadCheck::Adopt)
        );
        assert_eq!(
            check_head(Some(&offered), &offered, "SITE-DEMO", &trusted()),
            Ok(HeadCheck::Same)
        );
    }

    #[test]
    fn a_head_of_another_site_or_key_is_refused_not_evidence() {
        let three = tree(&[b"a", b"b", b"c"]);
        assert!(matches!(
            check_head(
                None,
                &head_of(&three, "SITE-OTHER", SERVER_SEED),
                "SITE-DEMO",
                &trusted()
            ),
            Err(HeadRefused::WrongSite { .. })
        ));
        assert!(matches!(
            check_head(
                None,
                &head_of(&three, "SITE-DEMO", [7; 32]),
                "SITE-DEMO",
                &trusted()
            ),
            Err(HeadRefused::BadSignature(_))
        ));
        let mut tampered = head(&three);
        tampered.head.tree_size = 4;
        assert!(matches!(
            check_head(None, &tampered, "SITE-DEMO", &trusted()),
            Err(HeadRefused::BadSignature(_))
        ));
    }

    #[test]
    fn a_grown_log_with_a_good_proof_extends_the_kept_head() {
        let mut store = tree(&[b"a", b"b", b"c"]);
        let kept = head(&store);
        store.append(leaf_hash(b"d"));
        store.append(leaf_hash(b"e"));
        let offered = head(&store);
        assert_eq!(
            check_head(Some(&kept), &offered, "SITE-DEMO", &trusted()),
            Ok(HeadCheck::NeedsProof {
                old_size: 3,
                new_size: 5
            })
        );
        let proof = consistency_proof(&store, 3, 5).unwrap();
        assert_eq!(conclude(&kept, &offered, &proof), ProofOutcome::Extends);
        // The same proof read the other way: a server showing the older head is behind.
        assert_eq!(
            conclude(&offered, &kept, &proof),
            ProofOutcome::ServerBehind
        );
    }

    #[test]
    fn a_rewritten_history_fails_its_proof_and_a_same_size_rewrite_is_a_fork() {
        let kept = head(&tree(&[b"a", b"b", b"c"]));
        // The server rewrote entry "b" and kept appending.
        let rewritten = tree(&[b"a", b"B", b"c", b"d"]);
        let offered = head(&rewritten);
        let proof = consistency_proof(&rewritten, 3, 4).unwrap();
        assert!(matches!(
            conclude(&kept, &offered, &proof),
            ProofOutcome::Inconsistent(_)
        ));
        let same_size = head(&tree(&[b"a", b"B", b"c"]));
        assert_eq!(
            check_head(Some(&kept), &same_size, "SITE-DEMO", &trusted()),
            Ok(HeadCheck::Fork)
        );
    }

    #[test]
    fn an_own_entry_is_proven_where_the_receipt_says_and_nowhere_else() {
        let store = tree(&[b"a", b"mine", b"c", b"d"]);
        let head = head(&store);
        let proof = inclusion_proof(&store, 1, 4).unwrap();
        assert_eq!(
            check_inclusion(&leaf_hash(b"mine"), 1, &head, &proof),
            Ok(())
        );
        assert!(check_inclusion(&leaf_hash(b"mine"), 2, &head, &proof).is_err());
        assert!(check_inclusion(&leaf_hash(b"not mine"), 1, &head, &proof).is_err());
    }

    #[test]
    fn the_state_survives_json_with_its_alarms() {
        let kept = head(&tree(&[b"a"]));
        let state = WitnessState {
            head: Some(kept.clone()),
            proven_below_leaf: 3,
            alarms: vec![WitnessAlarm {
                kind: AlarmKind::Fork,
                kept: kept.clone(),
                offered: kept,
                proof: Vec::new(),
                leaf_index: None,
                detail: "two roots".to_owned(),
                raised_at_ms: 1,
                reported: false,
            }],
            server_key_rotations: vec![rotation(SERVER_SEED, [10; 32], 1_000)],
        };
        let json = serde_json::to_string(&state).unwrap();
        let back: WitnessState = serde_json::from_str(&json).unwrap();
        assert_eq!(back, state);
        assert!(!back.alarms[0].reported);
    }

    fn rotation(from: [u8; 32], to: [u8; 32], at_ms: u64) -> SignedKeyRotation {
        let (previous, next) = (SigningKey::from_bytes(&from), SigningKey::from_bytes(&to));
        baton_core::key_rotation::KeyRotation {
            signer: RotatingSigner::Server,
            previous: SignerKey::from_signing_key(&previous),
            next: SignerKey::from_signing_key(&next),
            at_ms,
            last_event: None,
        }
        .sign(&previous, &next)
        .unwrap()
    }

    #[test]
    fn after_a_server_key_rotation_the_new_keys_heads_verify_once_the_rotation_is_learned() {
        let store = tree(&[b"a", b"b", b"c"]);
        let rotated_seed = [10; 32];
        let rotated_key = SignerKey::from_signing_key(&SigningKey::from_bytes(&rotated_seed));
        let offered = head_of(&store, "SITE-DEMO", rotated_seed);
        // Before: a head by a key the tablet does not know is refused, not adopted.
        assert!(matches!(
            check_head(None, &offered, "SITE-DEMO", &trusted()),
            Err(HeadRefused::BadSignature(_))
        ));
        let published = [rotation(SERVER_SEED, rotated_seed, 1_000)];
        let learned = learn_rotations(&server_key(), &[], &published, &rotated_key).unwrap();
        assert_eq!(
            check_head(None, &offered, "SITE-DEMO", &learned),
            Ok(HeadCheck::Adopt)
        );
        // Heads the old key signed before the rotation still verify.
        assert_eq!(
            check_head(None, &head(&store), "SITE-DEMO", &learned),
            Ok(HeadCheck::Adopt)
        );
        let state = WitnessState {
            server_key_rotations: published.to_vec(),
            ..WitnessState::default()
        };
        assert_eq!(trusted_server_keys(&server_key(), &state), learned);
    }

    #[test]
    fn rotations_that_do_not_start_from_the_enrolled_key_or_rewrite_known_ones_are_not_learned() {
        let stranger_seed = [11; 32];
        let stranger_key = SignerKey::from_signing_key(&SigningKey::from_bytes(&stranger_seed));
        // A chain that never includes the enrolled key: whoever holds the stranger key made it.
        let unanchored = [rotation([12; 32], stranger_seed, 1_000)];
        assert_eq!(
            learn_rotations(&server_key(), &[], &unanchored, &stranger_key),
            None
        );
        // A published history that drops or replaces a rotation the tablet already verified.
        let known = [rotation(SERVER_SEED, [10; 32], 1_000)];
        let rewritten = [rotation(SERVER_SEED, stranger_seed, 1_000)];
        assert_eq!(
            learn_rotations(&server_key(), &known, &rewritten, &stranger_key),
            None
        );
        // A history that does not bring in the key the head names teaches nothing.
        let rotated_key = SignerKey::from_signing_key(&SigningKey::from_bytes(&[10; 32]));
        assert_eq!(
            learn_rotations(&server_key(), &[], &known, &stranger_key),
            None
        );
        assert!(learn_rotations(&server_key(), &[], &known, &rotated_key).is_some());
    }
}
