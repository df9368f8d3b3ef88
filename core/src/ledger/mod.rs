//! The audit ledger: an append-only Merkle log of everything the server recorded for a site,
//! built as Certificate Transparency builds its logs (RFC 9162 §2.1, RFC 6962 §2.1), with
//! SHA-256, and specified in docs/PROTOCOL.md §3.
//!
//! The server appends one entry per stored event and per governance action, keeps every
//! perfect subtree root, and signs tree heads. Tablets and auditors need none of the server's
//! storage: they check inclusion and consistency proofs against signed heads, and a tablet that
//! sees two heads of the same size with different roots holds proof that the server forked its
//! log. The server's storage and signing live in `server/src/ledger/`; this module does no I/O.
//!
//! # Layout
//!
//! - `hash`: `LedgerHash`, the leaf and node hashes and the empty root.
//! - `tree`: `MerkleFrontier`, which appends in O(log n) and reports the nodes each append
//!   completes; the `HashStore` trait and `MemoryHashStore`.
//! - `proof`: roots, inclusion proofs and consistency proofs read from a `HashStore`, and the
//!   node positions each needs.
//! - `verify`: `verify_inclusion` and `verify_consistency`, the RFC 9162 verification
//!   algorithms.
//! - `head`: `TreeHead` and `SignedTreeHead`, their canonical bytes and signature, and
//!   `check_heads_consistent`.
//! - `entry`: `LedgerEntry`, the canonical JSON that each leaf hashes.

pub mod entry;
pub mod hash;
pub mod head;
pub mod proof;
pub mod tree;
pub mod verify;

pub use entry::{EntryError, LedgerEntry};
pub use hash::{LedgerHash, empty_root, leaf_hash, node_hash};
pub use head::{
    HeadConsistency, SignedTreeHead, TREE_HEAD_SIGNING_PREFIX, TreeHead, TreeHeadError,
    check_heads_consistent,
};
pub use proof::{
    NodePosition, ProofRequestError, consistency_proof, inclusion_proof,
    nodes_for_consistency_proof, nodes_for_inclusion_proof, nodes_for_root, root_at,
};
pub use tree::{HashStore, MemoryHashStore, MerkleFrontier, MissingNode, TreeNode};
pub use verify::{
    ProofError, consistency_proof_len, inclusion_proof_len, verify_consistency, verify_inclusion,
};
