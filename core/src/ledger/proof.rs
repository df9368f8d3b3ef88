//! Roots, inclusion proofs and consistency proofs of the ledger, read from stored nodes.
//!
//! The proofs are RFC 9162 §2.1.3.1 and §2.1.4.1 (RFC 6962's PATH and PROOF), byte for byte.
//! Those definitions recurse over subtrees `D[start:end]` and need the tree hash of some of
//! them. Every such subtree starts at a multiple of a power of two at least as large as its
//! width, so it splits into perfect subtrees, one per set bit of its width, all of which a
//! `HashStore` holds. Moreover, once the recursion descends into a left subtree, the subtree is
//! perfect and so is everything below it; only the first non-perfect sibling costs more than
//! one lookup. A proof therefore costs O(log n) lookups and at most O(log n) hashes.

use std::cell::RefCell;

use thiserror::Error;

use crate::ledger::hash::{LedgerHash, empty_root, node_hash, split_point};
use crate::ledger::tree::{HashStore, MissingNode, stored_node};

/// Why a proof cannot be produced.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProofRequestError {
    #[error("leaf_index: {leaf_index} is not below the tree size {tree_size}")]
    LeafIndexBeyondSize { leaf_index: u64, tree_size: u64 },
    #[error("old_size: {old_size} is larger than new_size {new_size}")]
    OldSizeAboveNewSize { old_size: u64, new_size: u64 },
    #[error(transparent)]
    MissingNode(#[from] MissingNode),
}

/// A perfect subtree that a root or proof reads from the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodePosition {
    pub level: u32,
    pub index: u64,
}

/// The tree hash of the leaves `start..end`, which must start at a multiple of the smallest
/// power of two not below `end - start` (true of every subtree in RFC 9162's definitions).
fn subtree_hash<S: HashStore + ?Sized>(
    store: &S,
    start: u64,
    end: u64,
) -> Result<LedgerHash, MissingNode> {
    debug_assert!(start < end, "subtrees are never empty");
    // The perfect pieces are read from the right, so that each one becomes the left child of
    // the hash of everything to its right: the split rule puts the larger piece on the left.
    let mut remaining = end - start;
    let mut piece_end = end;
    let mut right: Option<LedgerHash> = None;
    while remaining != 0 {
        let level = remaining.trailing_zeros();
        piece_end -= 1 << level;
        debug_assert_eq!(piece_end % (1 << level), 0, "perfect subtrees are aligned");
        let piece = stored_node(store, level, piece_end >> level)?;
        right = Some(match right {
            None => piece,
            Some(right) => node_hash(&piece, &right),
        });
        remaining &= remaining - 1;
    }
    Ok(right.expect("a non-empty subtree has at least one piece"))
}

/// The tree hash of the first `tree_size` leaves (RFC 9162 §2.1.1), with one lookup per set
/// bit of `tree_size`. The empty tree needs no lookup.
pub fn root_at<S: HashStore + ?Sized>(
    store: &S,
    tree_size: u64,
) -> Result<LedgerHash, MissingNode> {
    if tree_size == 0 {
        return Ok(empty_root());
    }
    subtree_hash(store, 0, tree_size)
}

/// The inclusion proof (audit path) of leaf `leaf_index` in the tree of `tree_size` leaves,
/// RFC 9162 §2.1.3.1: the sibling hashes from the leaf up to the root.
pub fn inclusion_proof<S: HashStore + ?Sized>(
    store: &S,
    leaf_index: u64,
    tree_size: u64,
) -> Result<Vec<LedgerHash>, ProofRequestError> {
    if leaf_index >= tree_size {
        return Err(ProofRequestError::LeafIndexBeyondSize {
            leaf_index,
            tree_size,
        });
    }
    // PATH(m, D[n]) appends each level's sibling after the path below it. Walking down from
    // the root finds the siblings top first, so the list is reversed at the end.
    let mut proof = Vec::with_capacity(u64::BITS as usize);
    let (mut start, mut end) = (0, tree_size);
    while end - start > 1 {
        let middle = start + split_point(end - start);
        if leaf_index < middle {
            proof.push(subtree_hash(store, middle, end)?);
            end = middle;
        } else {
            proof.push(subtree_hash(store, start, middle)?);
            start = middle;
        }
    }
    proof.reverse();
    Ok(proof)
}

/// The consistency proof between the trees of `old_size` and `new_size` leaves, RFC 9162
/// §2.1.4.1 (RFC 6962's PROOF). It is empty when the sizes are equal and, as every tree is
/// consistent with the empty tree, when `old_size` is 0.
pub fn consistency_proof<S: HashStore + ?Sized>(
    store: &S,
    old_size: u64,
    new_size: u64,
) -> Result<Vec<LedgerHash>, ProofRequestError> {
    if old_size > new_size {
        return Err(ProofRequestError::OldSizeAboveNewSize { old_size, new_size });
    }
    let mut proof = Vec::with_capacity(u64::BITS as usize + 1);
    if old_size == 0 || old_size == new_size {
        return Ok(proof);
    }
    // SUBPROOF(m, D[start:end], b) with m = old_size - start. `old_root_is_known` is RFC's b:
    // true while the old tree is exactly a left part of the current subtree, whose hash the
    // verifier already has as the old root.
    let (mut start, mut end) = (0, new_size);
    let mut old_root_is_known = true;
    while old_size != end {
        let middle = start + split_point(end - start);
        if old_size <= middle {
            proof.push(subtree_hash(store, middle, end)?);
            end = middle;
        } else {
            proof.push(subtree_hash(store, start, middle)?);
            start = middle;
            old_root_is_known = false;
        }
    }
    if !old_root_is_known {
        proof.push(subtree_hash(store, start, end)?);
    }
    proof.reverse();
    Ok(proof)
}

/// A store that answers every lookup with a placeholder and remembers what was asked. The
/// proof algorithms read the same positions whatever the hashes are, so a dry run lists them.
#[derive(Default)]
struct PositionRecorder {
    positions: RefCell<Vec<NodePosition>>,
}

impl HashStore for PositionRecorder {
    fn node(&self, level: u32, index: u64) -> Option<LedgerHash> {
        self.positions
            .borrow_mut()
            .push(NodePosition { level, index });
        Some(LedgerHash([0; 32]))
    }
}

impl PositionRecorder {
    fn into_positions(self) -> Vec<NodePosition> {
        let mut positions = self.positions.into_inner();
        positions.sort_unstable();
        positions.dedup();
        positions
    }
}

/// The stored nodes `root_at(store, tree_size)` reads, so that a store backed by a database
/// can fetch them in one query.
pub fn nodes_for_root(tree_size: u64) -> Vec<NodePosition> {
    let recorder = PositionRecorder::default();
    root_at(&recorder, tree_size).expect("the recorder holds every node");
    recorder.into_positions()
}

/// The stored nodes `inclusion_proof(store, leaf_index, tree_size)` reads.
pub fn nodes_for_inclusion_proof(
    leaf_index: u64,
    tree_size: u64,
) -> Result<Vec<NodePosition>, ProofRequestError> {
    let recorder = PositionRecorder::default();
    inclusion_proof(&recorder, leaf_index, tree_size)?;
    Ok(recorder.into_positions())
}

/// The stored nodes `consistency_proof(store, old_size, new_size)` reads.
pub fn nodes_for_consistency_proof(
    old_size: u64,
    new_size: u64,
) -> Result<Vec<NodePosition>, ProofRequestError> {
    let recorder = PositionRecorder::default();
    consistency_proof(&recorder, old_size, new_size)?;
    Ok(recorder.into_positions())
}
