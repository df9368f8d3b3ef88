//! Appending to the ledger's Merkle tree without rehashing it, and where its nodes are kept.
//!
//! A tree of `size` leaves is, along its right edge, a sequence of perfect subtrees, one per set
//! bit of `size`, largest first (RFC 6962's split rule makes it so). `MerkleFrontier` keeps only
//! their roots, so an append costs one leaf plus as many node hashes as the new leaf completes
//! (two on average, never more than 64) and the root costs one hash per set bit.
//!
//! Every perfect subtree that an append completes is also reported as a `TreeNode`. There are
//! fewer than `2 * size` of them in all. A `HashStore` that keeps them answers every proof with
//! O(log n) lookups, because every subtree that RFC 9162's proof definitions name is either
//! perfect or made of O(log n) perfect ones (see `proof`).

use crate::ledger::hash::{LedgerHash, empty_root, node_hash};

/// The root of a perfect subtree: the tree hash of the `2^level` leaves
/// `index * 2^level .. (index + 1) * 2^level`. Level 0 holds the leaf hashes themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TreeNode {
    pub level: u32,
    pub index: u64,
    pub hash: LedgerHash,
}

/// Where perfect subtree roots are kept: in memory, or as rows of the server's database.
///
/// Lookups are synchronous because this crate does no I/O. A store backed by an asynchronous
/// database fetches the positions named by `proof::nodes_for_inclusion_proof` (and its siblings)
/// in one query first, then answers from what it fetched.
pub trait HashStore {
    /// The root of the perfect subtree at (`level`, `index`), if the store holds it.
    fn node(&self, level: u32, index: u64) -> Option<LedgerHash>;
}

impl<S: HashStore + ?Sized> HashStore for &S {
    fn node(&self, level: u32, index: u64) -> Option<LedgerHash> {
        (**self).node(level, index)
    }
}

/// The store lacks a node that a root or a proof needs; the store is behind the requested size
/// or has lost a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("hash store: no node at level {level}, index {index}")]
pub struct MissingNode {
    pub level: u32,
    pub index: u64,
}

/// Reads the node at (`level`, `index`) or says which one is missing.
pub(crate) fn stored_node<S: HashStore + ?Sized>(
    store: &S,
    level: u32,
    index: u64,
) -> Result<LedgerHash, MissingNode> {
    store.node(level, index).ok_or(MissingNode { level, index })
}

/// The right edge of a Merkle tree: its size and the roots of its perfect subtrees.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MerkleFrontier {
    size: u64,
    /// One root per set bit of `size`, the largest (leftmost) subtree first.
    subtree_roots: Vec<LedgerHash>,
}

impl MerkleFrontier {
    /// The frontier of the empty tree.
    pub fn new() -> MerkleFrontier {
        MerkleFrontier::default()
    }

    /// Rebuilds the frontier of the first `size` leaves from stored nodes, for example when the
    /// server starts, with one lookup per set bit of `size`.
    pub fn from_store<S: HashStore + ?Sized>(
        store: &S,
        size: u64,
    ) -> Result<MerkleFrontier, MissingNode> {
        let mut subtree_roots = Vec::with_capacity(size.count_ones() as usize);
        let mut subtree_start = 0u64;
        for level in (0..u64::BITS).rev() {
            if size & (1 << level) != 0 {
                subtree_roots.push(stored_node(store, level, subtree_start >> level)?);
                subtree_start += 1 << level;
            }
        }
        Ok(MerkleFrontier {
            size,
            subtree_roots,
        })
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The roots of the perfect subtrees along the right edge, largest first.
    pub fn subtree_roots(&self) -> &[LedgerHash] {
        &self.subtree_roots
    }

    /// The tree hash of all leaves appended so far (RFC 9162 §2.1.1).
    pub fn root(&self) -> LedgerHash {
        // The split rule puts the largest perfect subtree on the left at every level, so the
        // root folds the subtree roots from the smallest, rightmost one.
        let mut smallest_first = self.subtree_roots.iter().rev();
        match smallest_first.next() {
            None => empty_root(),
            Some(&smallest) => smallest_first.fold(smallest, |right, left| node_hash(left, &right)),
        }
    }

    /// Appends one leaf hash and pushes onto `completed` every perfect subtree it completes,
    /// smallest first: the leaf itself at level 0, then one node per level it closes. The
    /// caller persists exactly these rows; `completed` is not cleared, so one buffer can
    /// collect a whole batch.
    ///
    /// # Panics
    ///
    /// If the tree already holds 2^64 - 1 leaves.
    pub fn append(&mut self, leaf_hash: LedgerHash, completed: &mut Vec<TreeNode>) {
        let leaf_index = self.size;
        self.size = leaf_index
            .checked_add(1)
            .expect("a ledger never reaches 2^64 - 1 entries");
        let mut hash = leaf_hash;
        let mut level = 0u32;
        completed.push(TreeNode {
            level,
            index: leaf_index,
            hash,
        });
        // Each trailing one bit of the old size is a perfect subtree of the same width as the
        // one just finished, immediately to its left: the two merge into one of twice the width.
        while (leaf_index >> level) & 1 == 1 {
            let left = self
                .subtree_roots
                .pop()
                .expect("one subtree root per set bit of the size");
            hash = node_hash(&left, &hash);
            level += 1;
            completed.push(TreeNode {
                level,
                index: leaf_index >> level,
                hash,
            });
        }
        self.subtree_roots.push(hash);
    }
}

/// A `HashStore` in memory that also appends: for tests, benchmarks and small tools.
///
/// It holds every perfect subtree root, fewer than `2 * size` hashes of 32 bytes.
#[derive(Debug, Clone, Default)]
pub struct MemoryHashStore {
    /// `levels[level][index]` is the node at (`level`, `index`). Nodes of one level are
    /// completed in index order, so each level only ever grows at its end.
    levels: Vec<Vec<LedgerHash>>,
    frontier: MerkleFrontier,
    /// The nodes completed by the latest append, kept to avoid an allocation per append.
    completed: Vec<TreeNode>,
}

impl MemoryHashStore {
    pub fn new() -> MemoryHashStore {
        MemoryHashStore::default()
    }

    /// Appends one leaf hash and returns the nodes it completed, smallest first.
    pub fn append(&mut self, leaf_hash: LedgerHash) -> &[TreeNode] {
        self.completed.clear();
        self.frontier.append(leaf_hash, &mut self.completed);
        for node in &self.completed {
            let level = node.level as usize;
            if self.levels.len() == level {
                self.levels.push(Vec::new());
            }
            debug_assert_eq!(self.levels[level].len() as u64, node.index);
            self.levels[level].push(node.hash);
        }
        &self.completed
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// The tree hash of all leaves.
    pub fn root(&self) -> LedgerHash {
        self.frontier.root()
    }

    pub fn frontier(&self) -> &MerkleFrontier {
        &self.frontier
    }
}

impl HashStore for MemoryHashStore {
    fn node(&self, level: u32, index: u64) -> Option<LedgerHash> {
        let nodes = self.levels.get(usize::try_from(level).ok()?)?;
        nodes.get(usize::try_from(index).ok()?).copied()
    }
}
