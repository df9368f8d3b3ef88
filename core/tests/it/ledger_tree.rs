//! Known answers for the ledger's Merkle tree: the RFC 6962 reference data published with
//! certificate-transparency's merkle tree tests, and a 1,000-leaf tree. Every value here was
//! also computed apart from this crate, with a recursive RFC 6962 MTH/PATH/PROOF in Python's
//! hashlib.

use std::collections::BTreeMap;

use baton_core::ledger::{
    HashStore, LedgerHash, MemoryHashStore, MerkleFrontier, MissingNode, NodePosition,
    ProofRequestError, TreeNode, consistency_proof, consistency_proof_len, empty_root,
    inclusion_proof, inclusion_proof_len, leaf_hash, nodes_for_consistency_proof,
    nodes_for_inclusion_proof, nodes_for_root, root_at, verify_consistency, verify_inclusion,
};
use expect_test::{Expect, expect};

/// The eight leaf inputs of the RFC 6962 reference test data.
pub const RFC6962_LEAVES: [&[u8]; 8] = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
];

/// The roots of the first 0 to 8 of those leaves.
const RFC6962_ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

pub fn hash(text: &str) -> LedgerHash {
    LedgerHash::from_hex(text).unwrap()
}

fn hexes(hashes: &[LedgerHash]) -> Vec<String> {
    hashes.iter().map(LedgerHash::to_hex).collect()
}

pub fn store_of(entries: &[&[u8]]) -> MemoryHashStore {
    let mut store = MemoryHashStore::new();
    for entry in entries {
        store.append(leaf_hash(entry));
    }
    store
}

/// Leaf `entry_idx` of the 1,000-leaf tree is the ASCII text `entry <entry_idx>`.
fn thousand_leaves() -> MemoryHashStore {
    let mut store = MemoryHashStore::new();
    for entry_idx in 0..1000 {
        store.append(leaf_hash(format!("entry {entry_idx}").as_bytes()));
    }
    store
}

#[test]
fn rfc6962_roots_of_0_to_8_leaves_from_the_frontier_and_from_the_store() {
    let mut store = MemoryHashStore::new();
    for (size, expected) in RFC6962_ROOTS.iter().enumerate() {
        if size > 0 {
            store.append(leaf_hash(RFC6962_LEAVES[size - 1]));
        }
        assert_eq!(store.size(), size as u64);
        assert_eq!(store.root().to_hex(), *expected, "frontier root of {size}");
        let from_store = root_at(&store, size as u64).unwrap();
        assert_eq!(from_store.to_hex(), *expected, "stored root of {size}");
    }
    assert_eq!(empty_root().to_hex(), RFC6962_ROOTS[0]);
    assert_eq!(leaf_hash(b"").to_hex(), RFC6962_ROOTS[1]);
}

#[test]
fn rfc6962_inclusion_proofs() {
    let store = store_of(&RFC6962_LEAVES);
    let cases: [(u64, u64, &[&str]); 6] = [
        (0, 1, &[]),
        (
            0,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            5,
            8,
            &[
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            3,
            &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
        ),
        (
            1,
            5,
            &[
                "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
        (
            6,
            7,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
    ];
    for (leaf_index, tree_size, expected) in cases {
        let proof = inclusion_proof(&store, leaf_index, tree_size).unwrap();
        assert_eq!(hexes(&proof), expected, "leaf {leaf_index} of {tree_size}");
        let leaf = leaf_hash(RFC6962_LEAVES[leaf_index as usize]);
        let root = hash(RFC6962_ROOTS[tree_size as usize]);
        assert_eq!(
            verify_inclusion(&leaf, leaf_index, tree_size, &proof, &root),
            Ok(()),
            "leaf {leaf_index} of {tree_size}"
        );
    }
}

#[test]
fn rfc6962_consistency_proofs() {
    let store = store_of(&RFC6962_LEAVES);
    let cases: [(u64, u64, &[&str]); 6] = [
        (1, 1, &[]),
        (
            1,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            6,
            8,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            5,
            &[
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
        (
            3,
            7,
            &[
                "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
                "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
                "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
                "837dbb152e9b079010717e84e865da4ebc0fa198a806d59d31bf15accef22d0e",
            ],
        ),
        (
            4,
            8,
            &["6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
        ),
    ];
    for (old_size, new_size, expected) in cases {
        let proof = consistency_proof(&store, old_size, new_size).unwrap();
        assert_eq!(hexes(&proof), expected, "{old_size} to {new_size}");
        let old_root = hash(RFC6962_ROOTS[old_size as usize]);
        let new_root = hash(RFC6962_ROOTS[new_size as usize]);
        assert_eq!(
            verify_consistency(old_size, new_size, &old_root, &new_root, &proof),
            Ok(()),
            "{old_size} to {new_size}"
        );
    }
}

#[test]
fn a_thousand_leaves() {
    let store = thousand_leaves();
    let root = hash("346c6b9cb89c4b76fac9dcb20cda86e3a01c0a57417c139028eacd4538fde95b");
    assert_eq!(store.root(), root);
    assert_eq!(root_at(&store, 1000), Ok(root));
    let root_777 = hash("182ddefd12b8626f2a652b1486a7d45f6d58c3f94739bb8be9d72f194d19c78a");
    assert_eq!(root_at(&store, 777), Ok(root_777));

    let last_leaf = inclusion_proof(&store, 999, 1000).unwrap();
    assert_eq!(
        hexes(&last_leaf),
        [
            "3579c03131dd40a861bcbb4177d0ea6075de6bab1858d0d7558cbe9e29477a8e",
            "965022022400b746614ec3507b860f855b4972c529c2a639da20ccb3697c3c53",
            "cffc4a8697a85f9d1f713cd96c6f640f37355a3c68c700e62be67378669ede88",
            "9b8ff28cf6aa3950225a31a32fbe393649c58df9e0cd0277b983cacd82086a58",
            "0d60dedb0733956a6ba3d69ee6ff57fa4dddc35246c08eb6c79ee3f79ea68ad3",
            "ca515fb8f58e26391eac43ac8314dc4649d97b5367cdabfd9e3445b6de484992",
            "93da493591474959cac0a6826b2108c64bb8a22df44bfebf9e31aea7e58c5f2e",
            "c6db949e76cfd5d61407c73a481921265ab024ea6131d02dc6b70defdfd4fada",
        ]
    );
    let middle_leaf = inclusion_proof(&store, 500, 1000).unwrap();
    assert_eq!(
        hexes(&middle_leaf),
        [
            "1b5b9e2c6f38895a57f4a29477b4429500ac6683452643e14554121fb11e463c",
            "12426ef5c0d0ac29dada7d775ecc5b322a25a190a0ebbb189c001162285f3ab3",
            "96496459370746da811227713e64db346513f340a3e0bcac34928b75cc24b55c",
            "18e1468d93b090faf61e6e90e274d91dd38b7d4cc12cc52194e41def2a842add",
            "540c02042c1ada9da2d62de2461b4f824250946e89b208ce553a8fdde6e8abe9",
            "75fe5994fe41e3fb044dc8aa9617af6c73f4597bffb971d3fc727d9a581112c7",
            "80473b6b2069aeb486c6dd90730e7769c7afb7496a5b1f8ed9b95f6afa0fcfee",
            "0fb93201898219e497bf8667461d901ef6c630ab5fd32251200e59f6c3544b01",
            "da6596d95369f5fef322ab8e4e0da3b0b50236aa9c8a3b1d246f7411c9e2e32e",
            "31b0e9caf5c15d4eae3ed55b36abfe1c5d3210873262ece8c21a27ff7a172844",
        ]
    );
    let leaf_500 = leaf_hash(b"entry 500");
    assert_eq!(
        verify_inclusion(&leaf_500, 500, 1000, &middle_leaf, &root),
        Ok(())
    );

    let consistency = consistency_proof(&store, 777, 1000).unwrap();
    assert_eq!(
        hexes(&consistency),
        [
            "fb0c7a4eedd82655228135600931416b76f3877133834823e20ef9f64229c28f",
            "69f16a8f6d0d4d87ba321bb787159e2830a92c4beaf676d269f3f4b9945b9f62",
            "1e61494446ad20fc0042068fae78a7bafcb8ec9336fe0a19e3a834a22121d871",
            "10fca78267fe59608a1bae93f12983cd0e0dea05e933aa5fd935b23db9250f08",
            "d542148fe7ef7acf2f6fa4034125cd1ec920f40f09840c112ca4364256e72cc7",
            "be1952ee64437f0f190a03dce84eb1eb575dc20129898169e1f4bd78eb0b80fa",
            "cfcb0528c09b47c42bd6f0dcd7997cde4abb8aeccab67b1af93658e42773115d",
            "1faa9731465bc8c915b31b955d4e5ef950792bbe1a525e60b4a696e5661664f7",
            "8cfb9dac590ae3c1930c8a250f5abe5f8e07bd5ab7ed7e694aa63c32aca2d86c",
            "93da493591474959cac0a6826b2108c64bb8a22df44bfebf9e31aea7e58c5f2e",
            "c6db949e76cfd5d61407c73a481921265ab024ea6131d02dc6b70defdfd4fada",
        ]
    );
    assert_eq!(
        verify_consistency(777, 1000, &root_777, &root, &consistency),
        Ok(())
    );
}

/// The rows a server would keep: exactly the nodes each append reported.
#[derive(Default)]
struct Rows(BTreeMap<(u32, u64), LedgerHash>);

impl HashStore for Rows {
    fn node(&self, level: u32, index: u64) -> Option<LedgerHash> {
        self.0.get(&(level, index)).copied()
    }
}

#[test]
fn reported_nodes_are_every_perfect_subtree_and_suffice_for_proofs() {
    let mut frontier = MerkleFrontier::new();
    let mut completed: Vec<TreeNode> = Vec::new();
    for entry in RFC6962_LEAVES.iter().take(7) {
        frontier.append(leaf_hash(entry), &mut completed);
    }
    let positions: Vec<(u32, u64)> = completed
        .iter()
        .map(|node| (node.level, node.index))
        .collect();
    // Seven leaves complete the leaves, three pairs and one quadruple, smallest first.
    assert_eq!(
        positions,
        [
            (0, 0),
            (0, 1),
            (1, 0),
            (0, 2),
            (0, 3),
            (1, 1),
            (2, 0),
            (0, 4),
            (0, 5),
            (1, 2),
            (0, 6)
        ]
    );
    let rows = Rows(
        completed
            .iter()
            .map(|node| ((node.level, node.index), node.hash))
            .collect(),
    );
    let store = store_of(&RFC6962_LEAVES[..7]);
    for (level, index) in positions {
        assert_eq!(rows.node(level, index), store.node(level, index));
    }
    assert_eq!(root_at(&rows, 7).unwrap().to_hex(), RFC6962_ROOTS[7]);
    for leaf_index in 0..7 {
        assert_eq!(
            inclusion_proof(&rows, leaf_index, 7),
            inclusion_proof(&store, leaf_index, 7)
        );
    }
    // A restarted server rebuilds its frontier from the rows and carries on.
    let mut restarted = MerkleFrontier::from_store(&rows, 7).unwrap();
    assert_eq!(restarted, frontier);
    restarted.append(leaf_hash(RFC6962_LEAVES[7]), &mut Vec::new());
    assert_eq!(restarted.root().to_hex(), RFC6962_ROOTS[8]);
}

#[test]
fn node_positions_name_exactly_the_rows_a_proof_reads() {
    let store = thousand_leaves();
    let fetch = |positions: Vec<NodePosition>| {
        Rows(
            positions
                .into_iter()
                .map(|position| {
                    let hash = store.node(position.level, position.index).unwrap();
                    ((position.level, position.index), hash)
                })
                .collect(),
        )
    };
    let rows = fetch(nodes_for_root(1000));
    assert_eq!(rows.0.len(), 1000u64.count_ones() as usize);
    assert_eq!(root_at(&rows, 1000), Ok(store.root()));
    for (leaf_index, tree_size) in [(0, 1), (500, 1000), (999, 1000), (3, 777)] {
        let rows = fetch(nodes_for_inclusion_proof(leaf_index, tree_size).unwrap());
        assert_eq!(
            inclusion_proof(&rows, leaf_index, tree_size),
            inclusion_proof(&store, leaf_index, tree_size)
        );
    }
    for (old_size, new_size) in [(1, 1000), (777, 1000), (512, 1000), (999, 1000)] {
        let rows = fetch(nodes_for_consistency_proof(old_size, new_size).unwrap());
        assert!(rows.0.len() <= 2 * 10, "{} rows", rows.0.len());
        assert_eq!(
            consistency_proof(&rows, old_size, new_size),
            consistency_proof(&store, old_size, new_size)
        );
    }
}

fn check_request<T: std::fmt::Debug>(result: Result<T, impl std::fmt::Display>, expected: Expect) {
    let actual = match result {
        Ok(value) => format!("ok {value:?}"),
        Err(error) => format!("error: {error}"),
    };
    expected.assert_eq(&actual);
}

#[test]
fn proof_requests_outside_the_tree_or_the_store_are_refused() {
    let store = store_of(&RFC6962_LEAVES);
    check_request(
        inclusion_proof(&store, 8, 8),
        expect!["error: leaf_index: 8 is not below the tree size 8"],
    );
    check_request(
        inclusion_proof(&store, 0, 0),
        expect!["error: leaf_index: 0 is not below the tree size 0"],
    );
    check_request(
        consistency_proof(&store, 5, 4),
        expect!["error: old_size: 5 is larger than new_size 4"],
    );
    check_request(
        inclusion_proof(&store, 0, 9),
        expect!["error: hash store: no node at level 0, index 8"],
    );
    check_request(
        consistency_proof(&store, 3, 12),
        expect!["error: hash store: no node at level 2, index 2"],
    );
    check_request(
        root_at(&store, 9),
        expect!["error: hash store: no node at level 0, index 8"],
    );
    check_request(consistency_proof(&store, 0, 8), expect!["ok []"]);
    check_request(
        MerkleFrontier::from_store(&store, 16),
        expect!["error: hash store: no node at level 4, index 0"],
    );
    assert_eq!(
        inclusion_proof(&store, 0, 9),
        Err(ProofRequestError::MissingNode(MissingNode {
            level: 0,
            index: 8
        }))
    );
    // Outside the proofs' domain the expected lengths are zero rather than a panic.
    assert_eq!(inclusion_proof_len(8, 8), 0);
    assert_eq!(consistency_proof_len(0, 8), 0);
    assert_eq!(consistency_proof_len(8, 8), 0);
    assert_eq!(consistency_proof_len(9, 8), 0);
}
