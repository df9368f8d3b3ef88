//! Checking inclusion and consistency proofs: RFC 9162 §2.1.3.2 and §2.1.4.2, step by step.
//!
//! These run wherever someone must not trust the server: on the tablet (in wasm) acting as a
//! witness, and in the auditor's offline verifier. They take only hashes and sizes, never a
//! store. The expected proof length is checked first, so that a truncated or padded proof is
//! reported as such rather than as a root mismatch; the RFC's own checks of `sn` stay in place.

use thiserror::Error;

use crate::ledger::hash::{LedgerHash, empty_root, node_hash};

/// Why a proof does not prove what it claims.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProofError {
    #[error("leaf_index: {leaf_index} is not below the tree size {tree_size}")]
    LeafIndexBeyondSize { leaf_index: u64, tree_size: u64 },
    #[error("old_size: {old_size} is larger than new_size {new_size}")]
    OldSizeAboveNewSize { old_size: u64, new_size: u64 },
    #[error("proof: has {found} hashes, a proof for these sizes has exactly {expected}")]
    WrongProofLength { expected: usize, found: usize },
    #[error("root: the proof leads to {computed}, not to the claimed root {claimed}")]
    RootMismatch {
        computed: LedgerHash,
        claimed: LedgerHash,
    },
    #[error("old_root: the proof leads to {computed}, not to the claimed old root {claimed}")]
    OldRootMismatch {
        computed: LedgerHash,
        claimed: LedgerHash,
    },
    #[error("new_root: the proof leads to {computed}, not to the claimed new root {claimed}")]
    NewRootMismatch {
        computed: LedgerHash,
        claimed: LedgerHash,
    },
}

/// The number of hashes in the inclusion proof of `leaf_index` in a tree of `tree_size`
/// leaves, or 0 when the leaf is not in the tree. Below the node where the leaf's path parts
/// from the last leaf's path, the leaf is inside a perfect subtree and every level has a
/// sibling; above it, the path runs along the right edge and has a sibling exactly where it is
/// a right child, that is for each set bit of the remaining index.
pub fn inclusion_proof_len(leaf_index: u64, tree_size: u64) -> usize {
    if leaf_index >= tree_size {
        return 0;
    }
    let inner = u64::BITS - (leaf_index ^ (tree_size - 1)).leading_zeros();
    let border = leaf_index.checked_shr(inner).unwrap_or(0).count_ones();
    (inner + border) as usize
}

/// The number of hashes in the consistency proof from `old_size` to `new_size`, or 0 unless
/// `0 < old_size < new_size`. The proof is the inclusion path of the old tree's last leaf
/// without the levels inside the largest perfect subtree that ends with that leaf, plus that
/// subtree's root unless it is the whole old tree, whose root the verifier already has.
pub fn consistency_proof_len(old_size: u64, new_size: u64) -> usize {
    if old_size == 0 || old_size >= new_size {
        return 0;
    }
    let shared_levels = old_size.trailing_zeros() as usize;
    let seed = usize::from(!old_size.is_power_of_two());
    inclusion_proof_len(old_size - 1, new_size) - shared_levels + seed
}

/// Right-shifts `first` and `second` together while `first` is even and not zero.
fn shift_while_even(first: &mut u64, second: &mut u64) {
    while *first != 0 && *first & 1 == 0 {
        *first >>= 1;
        *second >>= 1;
    }
}

/// Checks that `proof` proves the leaf with hash `leaf_hash` at `leaf_index` in the tree of
/// `tree_size` leaves whose root is `root` (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    leaf_hash: &LedgerHash,
    leaf_index: u64,
    tree_size: u64,
    proof: &[LedgerHash],
    root: &LedgerHash,
) -> Result<(), ProofError> {
    if leaf_index >= tree_size {
        return Err(ProofError::LeafIndexBeyondSize {
            leaf_index,
            tree_size,
        });
    }
    let expected = inclusion_proof_len(leaf_index, tree_size);
    let wrong_length = ProofError::WrongProofLength {
        expected,
        found: proof.len(),
    };
    if proof.len() != expected {
        return Err(wrong_length);
    }
    // fn is the node's index at its level, sn the index of the level's last node.
    let (mut fn_index, mut sn_index) = (leaf_index, tree_size - 1);
    let mut computed = *leaf_hash;
    for sibling in proof {
        if sn_index == 0 {
            return Err(wrong_length);
        }
        if fn_index & 1 == 1 || fn_index == sn_index {
            computed = node_hash(sibling, &computed);
            // A last node without a right sibling is carried up unchanged; skip those levels.
            if fn_index & 1 == 0 {
                shift_while_even(&mut fn_index, &mut sn_index);
            }
        } else {
            computed = node_hash(&computed, sibling);
        }
        fn_index >>= 1;
        sn_index >>= 1;
    }
    if sn_index != 0 {
        return Err(wrong_length);
    }
    if computed != *root {
        return Err(ProofError::RootMismatch {
            computed,
            claimed: *root,
        });
    }
    Ok(())
}

/// Checks that `proof` proves the tree of `new_size` leaves with root `new_root` extends the
/// tree of `old_size` leaves with root `old_root` (RFC 9162 §2.1.4.2).
///
/// Two cases lie outside the RFC's algorithm, which assumes `0 < old_size < new_size`: equal
/// sizes need an empty proof and equal roots, and the empty tree (whose root must be SHA-256 of
/// the empty string) is extended by every tree, with an empty proof.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &LedgerHash,
    new_root: &LedgerHash,
    proof: &[LedgerHash],
) -> Result<(), ProofError> {
    if old_size > new_size {
        return Err(ProofError::OldSizeAboveNewSize { old_size, new_size });
    }
    if old_size == 0 || old_size == new_size {
        if !proof.is_empty() {
            return Err(ProofError::WrongProofLength {
                expected: 0,
                found: proof.len(),
            });
        }
        if old_size == 0 && *old_root != empty_root() {
            return Err(ProofError::OldRootMismatch {
                computed: empty_root(),
                claimed: *old_root,
            });
        }
        if old_size == new_size && old_root != new_root {
            return Err(ProofError::NewRootMismatch {
                computed: *old_root,
                claimed: *new_root,
            });
        }
        return Ok(());
    }
    let expected = consistency_proof_len(old_size, new_size);
    let wrong_length = ProofError::WrongProofLength {
        expected,
        found: proof.len(),
    };
    if proof.len() != expected {
        return Err(wrong_length);
    }
    // Step 2: when the old tree is one perfect subtree, its root is the path's first hash.
    let (seed, path) = if old_size.is_power_of_two() {
        (old_root, proof)
    } else {
        (&proof[0], &proof[1..])
    };
    let (mut fn_index, mut sn_index) = (old_size - 1, new_size - 1);
    // Step 4: the levels where the old tree's last leaf is a right child lie inside the seed.
    while fn_index & 1 == 1 {
        fn_index >>= 1;
        sn_index >>= 1;
    }
    let (mut old_computed, mut new_computed) = (*seed, *seed);
    for sibling in path {
        if sn_index == 0 {
            return Err(wrong_length);
        }
        if fn_index & 1 == 1 || fn_index == sn_index {
            old_computed = node_hash(sibling, &old_computed);
            new_computed = node_hash(sibling, &new_computed);
            if fn_index & 1 == 0 {
                shift_while_even(&mut fn_index, &mut sn_index);
            }
        } else {
            // A right sibling exists only in the new tree.
            new_computed = node_hash(&new_computed, sibling);
        }
        fn_index >>= 1;
        sn_index >>= 1;
    }
    if sn_index != 0 {
        return Err(wrong_length);
    }
    if old_computed != *old_root {
        return Err(ProofError::OldRootMismatch {
            computed: old_computed,
            claimed: *old_root,
        });
    }
    if new_computed != *new_root {
        return Err(ProofError::NewRootMismatch {
            computed: new_computed,
            claimed: *new_root,
        });
    }
    Ok(())
}
