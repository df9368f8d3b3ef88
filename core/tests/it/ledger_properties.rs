//! Properties of the ledger's proofs: for random trees, every proof the store produces is the
//! one RFC 6962's recursive definitions give, verifies, has the length the verifier expects
//! and is O(log n) long; and every single-bit change, wrong index or wrong size makes
//! verification fail.

use std::sync::OnceLock;

use baton_core::ledger::{
    LedgerHash, MemoryHashStore, MerkleFrontier, consistency_proof, consistency_proof_len,
    empty_root, inclusion_proof, inclusion_proof_len, leaf_hash, node_hash, root_at,
    verify_consistency, verify_inclusion,
};
use proptest::prelude::*;

const N_LEAVES: u64 = 3000;

fn entry(leaf_index: u64) -> Vec<u8> {
    format!("leaf {leaf_index}").into_bytes()
}

/// One store of 3,000 leaves, shared by every case: it answers for every smaller size too.
fn shared() -> &'static (MemoryHashStore, Vec<LedgerHash>) {
    static SHARED: OnceLock<(MemoryHashStore, Vec<LedgerHash>)> = OnceLock::new();
    SHARED.get_or_init(|| {
        let leaves: Vec<LedgerHash> = (0..N_LEAVES)
            .map(|leaf_index| leaf_hash(&entry(leaf_index)))
            .collect();
        let mut store = MemoryHashStore::new();
        for leaf in &leaves {
            store.append(*leaf);
        }
        (store, leaves)
    })
}

fn root(tree_size: u64) -> LedgerHash {
    root_at(&shared().0, tree_size).unwrap()
}

// RFC 6962 §2.1, written as the RFC writes it, to compare the store-based code against.

fn split(size: usize) -> usize {
    let mut split = 1;
    while split * 2 < size {
        split *= 2;
    }
    split
}

fn reference_root(leaves: &[LedgerHash]) -> LedgerHash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        size => {
            let (left, right) = leaves.split_at(split(size));
            node_hash(&reference_root(left), &reference_root(right))
        }
    }
}

fn reference_path(leaf_index: usize, leaves: &[LedgerHash]) -> Vec<LedgerHash> {
    if leaves.len() == 1 {
        return Vec::new();
    }
    let (left, right) = leaves.split_at(split(leaves.len()));
    if leaf_index < left.len() {
        let mut path = reference_path(leaf_index, left);
        path.push(reference_root(right));
        path
    } else {
        let mut path = reference_path(leaf_index - left.len(), right);
        path.push(reference_root(left));
        path
    }
}

fn reference_subproof(old_size: usize, leaves: &[LedgerHash], whole: bool) -> Vec<LedgerHash> {
    if old_size == leaves.len() {
        return if whole {
            Vec::new()
        } else {
            vec![reference_root(leaves)]
        };
    }
    let (left, right) = leaves.split_at(split(leaves.len()));
    if old_size <= left.len() {
        let mut proof = reference_subproof(old_size, left, whole);
        proof.push(reference_root(right));
        proof
    } else {
        let mut proof = reference_subproof(old_size - left.len(), right, false);
        proof.push(reference_root(left));
        proof
    }
}

fn ceil_log2(size: u64) -> usize {
    (u64::BITS - (size - 1).leading_zeros()) as usize
}

fn flip_bit(hash: &LedgerHash, bit: usize) -> LedgerHash {
    let mut bytes = hash.0;
    bytes[bit / 8] ^= 1 << (bit % 8);
    LedgerHash(bytes)
}

/// A tree size and a leaf in it.
fn leaf_in_tree() -> impl Strategy<Value = (u64, u64)> {
    (1..=N_LEAVES).prop_flat_map(|tree_size| (0..tree_size, Just(tree_size)))
}

/// Two tree sizes, the old one not larger.
fn two_sizes() -> impl Strategy<Value = (u64, u64)> {
    (1..=N_LEAVES).prop_flat_map(|new_size| (0..=new_size, Just(new_size)))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn incremental_roots_equal_roots_recomputed_from_scratch(
        entries in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..200),
    ) {
        let mut frontier = MerkleFrontier::new();
        let mut store = MemoryHashStore::new();
        let mut leaves = Vec::new();
        prop_assert_eq!(frontier.root(), reference_root(&leaves));
        for entry in &entries {
            let leaf = leaf_hash(entry);
            leaves.push(leaf);
            frontier.append(leaf, &mut Vec::new());
            store.append(leaf);
            let expected = reference_root(&leaves);
            prop_assert_eq!(frontier.root(), expected);
            prop_assert_eq!(root_at(&store, leaves.len() as u64), Ok(expected));
            prop_assert_eq!(MerkleFrontier::from_store(&store, leaves.len() as u64), Ok(frontier.clone()));
        }
        // Every earlier size can still be asked of the store.
        for size in 0..=leaves.len() {
            prop_assert_eq!(root_at(&store, size as u64), Ok(reference_root(&leaves[..size])));
        }
    }

    #[test]
    fn proofs_equal_rfc6962_path_and_proof((leaf_index, tree_size) in leaf_in_tree(), old_pick in any::<u64>()) {
        let (store, leaves) = shared();
        let tree = &leaves[..tree_size as usize];
        prop_assert_eq!(
            inclusion_proof(store, leaf_index, tree_size).unwrap(),
            reference_path(leaf_index as usize, tree)
        );
        let old_size = 1 + old_pick % tree_size;
        prop_assert_eq!(
            consistency_proof(store, old_size, tree_size).unwrap(),
            reference_subproof(old_size as usize, tree, true)
        );
    }
}

proptest! {
    // Each case checks every proof of a tree, or every bit of a proof: fewer cases suffice.
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn every_proof_of_a_tree_verifies_and_has_the_expected_length(tree_size in 1..=N_LEAVES) {
        let (store, leaves) = shared();
        let new_root = root(tree_size);
        for leaf_index in 0..tree_size {
            let proof = inclusion_proof(store, leaf_index, tree_size).unwrap();
            prop_assert_eq!(proof.len(), inclusion_proof_len(leaf_index, tree_size));
            prop_assert!(proof.len() <= ceil_log2(tree_size));
            let leaf = &leaves[leaf_index as usize];
            prop_assert_eq!(verify_inclusion(leaf, leaf_index, tree_size, &proof, &new_root), Ok(()));
        }
        for old_size in 0..=tree_size {
            let proof = consistency_proof(store, old_size, tree_size).unwrap();
            if 0 < old_size && old_size < tree_size {
                prop_assert_eq!(proof.len(), consistency_proof_len(old_size, tree_size));
                prop_assert!(proof.len() <= ceil_log2(tree_size) + 1);
            } else {
                prop_assert!(proof.is_empty());
            }
            let old_root = root(old_size);
            prop_assert_eq!(verify_consistency(old_size, tree_size, &old_root, &new_root, &proof), Ok(()));
        }
    }

    #[test]
    fn any_change_breaks_an_inclusion_proof(
        (leaf_index, tree_size) in leaf_in_tree(),
        other_pick in any::<u64>(),
    ) {
        let (store, leaves) = shared();
        let proof = inclusion_proof(store, leaf_index, tree_size).unwrap();
        let leaf = leaves[leaf_index as usize];
        let tree_root = root(tree_size);
        prop_assert_eq!(verify_inclusion(&leaf, leaf_index, tree_size, &proof, &tree_root), Ok(()));
        for bit in 0..256 {
            let flipped = flip_bit(&leaf, bit);
            prop_assert!(verify_inclusion(&flipped, leaf_index, tree_size, &proof, &tree_root).is_err());
            let flipped = flip_bit(&tree_root, bit);
            prop_assert!(verify_inclusion(&leaf, leaf_index, tree_size, &proof, &flipped).is_err());
            for element_idx in 0..proof.len() {
                let mut tampered = proof.clone();
                tampered[element_idx] = flip_bit(&proof[element_idx], bit);
                prop_assert!(verify_inclusion(&leaf, leaf_index, tree_size, &tampered, &tree_root).is_err());
            }
        }
        let entry = entry(leaf_index);
        for bit in 0..entry.len() * 8 {
            let mut changed = entry.clone();
            changed[bit / 8] ^= 1 << (bit % 8);
            let changed_leaf = leaf_hash(&changed);
            prop_assert!(verify_inclusion(&changed_leaf, leaf_index, tree_size, &proof, &tree_root).is_err());
        }
        // Another leaf's place, or this place in a tree of another size (with that tree's
        // genuine root), is not proven by this proof.
        let other_index = other_pick % tree_size;
        if other_index != leaf_index {
            let other_leaf = leaves[other_index as usize];
            prop_assert!(verify_inclusion(&leaf, other_index, tree_size, &proof, &tree_root).is_err());
            prop_assert!(verify_inclusion(&other_leaf, leaf_index, tree_size, &proof, &tree_root).is_err());
        }
        let other_size = leaf_index + 1 + other_pick % (N_LEAVES - leaf_index);
        if other_size != tree_size {
            let other_root = root(other_size);
            prop_assert!(verify_inclusion(&leaf, leaf_index, other_size, &proof, &other_root).is_err());
            let other_proof = inclusion_proof(store, leaf_index, other_size).unwrap();
            prop_assert!(verify_inclusion(&leaf, leaf_index, tree_size, &other_proof, &tree_root).is_err());
        }
        // Too short, too long.
        if let Some((_, shorter)) = proof.split_last() {
            prop_assert!(verify_inclusion(&leaf, leaf_index, tree_size, shorter, &tree_root).is_err());
        }
        let mut longer = proof.clone();
        longer.push(tree_root);
        prop_assert!(verify_inclusion(&leaf, leaf_index, tree_size, &longer, &tree_root).is_err());
        prop_assert!(verify_inclusion(&leaf, tree_size, tree_size, &proof, &tree_root).is_err());
    }

    #[test]
    fn any_change_breaks_a_consistency_proof(
        (old_size, new_size) in two_sizes(),
        other_pick in any::<u64>(),
    ) {
        prop_assume!(0 < old_size && old_size < new_size);
        let store = &shared().0;
        let proof = consistency_proof(store, old_size, new_size).unwrap();
        let (old_root, new_root) = (root(old_size), root(new_size));
        prop_assert_eq!(verify_consistency(old_size, new_size, &old_root, &new_root, &proof), Ok(()));
        for bit in 0..256 {
            let flipped = flip_bit(&old_root, bit);
            prop_assert!(verify_consistency(old_size, new_size, &flipped, &new_root, &proof).is_err());
            let flipped = flip_bit(&new_root, bit);
            prop_assert!(verify_consistency(old_size, new_size, &old_root, &flipped, &proof).is_err());
            for element_idx in 0..proof.len() {
                let mut tampered = proof.clone();
                tampered[element_idx] = flip_bit(&proof[element_idx], bit);
                prop_assert!(verify_consistency(old_size, new_size, &old_root, &new_root, &tampered).is_err());
            }
        }
        // Either size replaced by another, each with its genuine root.
        let other_old = 1 + other_pick % (new_size - 1);
        if other_old != old_size {
            let other_root = root(other_old);
            prop_assert!(verify_consistency(other_old, new_size, &other_root, &new_root, &proof).is_err());
        }
        let other_new = old_size + 1 + other_pick % (N_LEAVES - old_size);
        if other_new != new_size {
            let other_root = root(other_new);
            prop_assert!(verify_consistency(old_size, other_new, &old_root, &other_root, &proof).is_err());
        }
        let (_, shorter) = proof.split_last().expect("a proof between different sizes is not empty");
        prop_assert!(verify_consistency(old_size, new_size, &old_root, &new_root, shorter).is_err());
        let mut longer = proof.clone();
        longer.push(new_root);
        prop_assert!(verify_consistency(old_size, new_size, &old_root, &new_root, &longer).is_err());
        prop_assert!(verify_consistency(new_size, old_size, &new_root, &old_root, &proof).is_err());
    }
}
