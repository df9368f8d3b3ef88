//! Signed tree heads: the `tree-head-vector` blocks of docs/PROTOCOL.md §3.8, round trips,
//! tampering, and the comparisons a witness makes.

use std::collections::BTreeMap;

use baton_core::SiteId;
use baton_core::ids::SignerKey;
use baton_core::ledger::{
    HeadConsistency, LedgerHash, MemoryHashStore, SignedTreeHead, TREE_HEAD_SIGNING_PREFIX,
    TreeHead, TreeHeadError, check_heads_consistent, consistency_proof, leaf_hash,
    verify_consistency,
};
use ed25519_dalek::SigningKey;
use expect_test::expect;
use proptest::prelude::*;

use crate::ledger_tree::{RFC6962_LEAVES, hash, store_of};

const PROTOCOL: &str = include_str!("../../../docs/PROTOCOL.md");

/// The fenced blocks of the protocol document opened with "```" + `marker`, as maps from
/// field name to value.
pub fn blocks(marker: &str) -> Vec<BTreeMap<String, String>> {
    let opening = format!("```{marker}");
    let mut blocks = Vec::new();
    let mut current: Option<BTreeMap<String, String>> = None;
    for line in PROTOCOL.lines() {
        match (&mut current, line.trim_end()) {
            (None, line) if line == opening => current = Some(BTreeMap::new()),
            (Some(_), "```") => blocks.push(current.take().unwrap()),
            (Some(fields), field_line) => {
                let (name, value) = field_line
                    .split_once(": ")
                    .unwrap_or_else(|| panic!("not `name: value`: {field_line}"));
                assert!(
                    fields.insert(name.to_owned(), value.to_owned()).is_none(),
                    "{name} given twice"
                );
            }
            (None, _) => {}
        }
    }
    assert!(current.is_none(), "unterminated {marker} block");
    blocks
}

fn seed_key(seed_hex: &str) -> SigningKey {
    SigningKey::from_bytes(&hex::decode(seed_hex).unwrap().try_into().unwrap())
}

const AUTHORITY_SEED: [u8; 32] = [0xa5; 32];

fn head(tree_size: u64, root_hash: LedgerHash, timestamp_ms: u64) -> TreeHead {
    TreeHead {
        log_id: SiteId::new("SITE-DEMO").unwrap(),
        tree_size,
        root_hash,
        timestamp_ms,
        key_id: SignerKey::from_signing_key(&SigningKey::from_bytes(&AUTHORITY_SEED)),
    }
}

fn signed(tree_size: u64, root_hash: LedgerHash, timestamp_ms: u64) -> SignedTreeHead {
    head(tree_size, root_hash, timestamp_ms)
        .sign(&SigningKey::from_bytes(&AUTHORITY_SEED))
        .unwrap()
}

fn authority() -> SignerKey {
    SignerKey::from_signing_key(&SigningKey::from_bytes(&AUTHORITY_SEED))
}

#[test]
fn protocol_document_tree_head_vectors_hold() {
    let vectors = blocks("tree-head-vector");
    assert!(vectors.len() >= 2, "found {} vectors", vectors.len());
    for vector in &vectors {
        let name = &vector["name"];
        let signing_key = seed_key(&vector["seed"]);
        let key = SignerKey::from_signing_key(&signing_key);
        assert_eq!(key.to_hex(), vector["public_key"], "{name}: public key");

        let signed_head = SignedTreeHead::from_json_bytes(vector["wire"].as_bytes())
            .unwrap_or_else(|error| panic!("{name}: {error}"));
        assert_eq!(signed_head.verify(&key), Ok(()), "{name}: verifies");
        let canonical = signed_head.head.canonical_bytes().unwrap();
        assert_eq!(
            String::from_utf8(canonical.clone()).unwrap(),
            vector["canonical_text"],
            "{name}: canonical text"
        );
        let mut message = TREE_HEAD_SIGNING_PREFIX.to_vec();
        message.extend_from_slice(&canonical);
        assert_eq!(
            hex::encode(signed_head.head.signed_message().unwrap()),
            vector["signed_message_hex"],
            "{name}: signed message"
        );
        assert_eq!(hex::encode(&message), vector["signed_message_hex"]);
        assert_eq!(
            hex::encode(signed_head.signature),
            vector["signature"],
            "{name}: signature"
        );
        // Ed25519 is deterministic: signing the decoded head again gives the same bytes.
        let resigned = signed_head.head.clone().sign(&signing_key).unwrap();
        assert_eq!(resigned, signed_head, "{name}: deterministic signature");
        assert_eq!(
            String::from_utf8(resigned.to_json_bytes().unwrap()).unwrap(),
            vector["wire"],
            "{name}: the wire form is canonical"
        );
    }
    // The first vector signs the RFC 6962 eight-leaf tree, so its root is checkable twice over.
    let first = SignedTreeHead::from_json_bytes(vectors[0]["wire"].as_bytes()).unwrap();
    assert_eq!(first.head.tree_size, 8);
    assert_eq!(first.head.root_hash, store_of(&RFC6962_LEAVES).root());
}

#[test]
fn signed_heads_round_trip_through_json() {
    let signed_head = signed(8, store_of(&RFC6962_LEAVES).root(), 1_741_611_600_000);
    assert_eq!(signed_head.verify(&authority()), Ok(()));
    let wire = signed_head.to_json_bytes().unwrap();
    let decoded = SignedTreeHead::from_json_bytes(&wire).unwrap();
    assert_eq!(decoded, signed_head);
    assert_eq!(decoded.verify(&authority()), Ok(()));
    // serde gives the same form, which the server may use directly.
    assert_eq!(serde_json::to_vec(&signed_head).unwrap().len(), wire.len());
}

#[test]
fn tampering_with_any_field_fails_verification() {
    let key = authority();
    let original = signed(8, store_of(&RFC6962_LEAVES).root(), 1_741_611_600_000);
    let mut tampered = Vec::new();
    let mut changed = original.clone();
    changed.head.tree_size = 9;
    tampered.push(("tree_size", changed));
    let mut changed = original.clone();
    changed.head.root_hash = store_of(&RFC6962_LEAVES[..7]).root();
    tampered.push(("root_hash", changed));
    let mut changed = original.clone();
    changed.head.timestamp_ms += 1;
    tampered.push(("timestamp_ms", changed));
    let mut changed = original.clone();
    changed.head.log_id = SiteId::new("SITE-OTHER").unwrap();
    tampered.push(("log_id", changed));
    let mut changed = original.clone();
    changed.signature[63] ^= 0x01;
    tampered.push(("signature", changed));
    for (field, head) in &tampered {
        assert_eq!(
            head.verify(&key),
            Err(TreeHeadError::BadSignature { key_id: key }),
            "{field}"
        );
    }
    // A head naming another key is refused before any signature check, and it does not
    // verify under the key it names either.
    let other_key = SignerKey::from_signing_key(&SigningKey::from_bytes(&[0x5a; 32]));
    let mut changed = original.clone();
    changed.head.key_id = other_key;
    assert_eq!(
        changed.verify(&key),
        Err(TreeHeadError::KeyMismatch {
            key_id: other_key,
            key
        })
    );
    assert_eq!(
        changed.verify(&other_key),
        Err(TreeHeadError::BadSignature { key_id: other_key })
    );
}

#[test]
fn every_single_bit_flip_of_a_signed_head_is_refused() {
    let key = authority();
    let wire = signed(1000, leaf_hash(b"x"), 1_741_611_600_000)
        .to_json_bytes()
        .unwrap();
    for bit in 0..wire.len() * 8 {
        let mut flipped = wire.clone();
        flipped[bit / 8] ^= 1 << (bit % 8);
        let outcome = SignedTreeHead::from_json_bytes(&flipped)
            .and_then(|signed_head| signed_head.verify(&key));
        assert!(outcome.is_err(), "bit {bit} flipped still verifies");
    }
}

#[test]
fn malformed_heads_are_refused_naming_the_field() {
    let check = |json: &str, expected: expect_test::Expect| {
        let error = SignedTreeHead::from_json_bytes(json.as_bytes()).unwrap_err();
        expected.assert_eq(&error.to_string());
    };
    let original = signed(8, leaf_hash(b""), 1).to_json_bytes().unwrap();
    let original = String::from_utf8(original).unwrap();
    check(
        &original.replace("\"tree_size\":8", "\"tree_size\":8,\"extra\":1"),
        expect![[
            r#"malformed tree head JSON: unknown field `extra`, expected one of `log_id`, `tree_size`, `root_hash`, `timestamp_ms`, `key_id` at line 1 column 223"#
        ]],
    );
    check(
        &original.replace("\"tree_size\":8", "\"tree_size\":9007199254740992"),
        expect!["tree_size: is 9007199254740992, the maximum is 2^53-1"],
    );
    check(
        &original.replace("6e340b9c", "6E340B9C"),
        expect![
            "malformed tree head JSON: ledger hash must be lowercase hex; found 'E' at index 1 at line 1 column 184"
        ],
    );
    check(
        &original.replace(",\"signature\":", ",\"sig\":"),
        expect![
            "malformed tree head JSON: unknown field `sig`, expected `head` or `signature` at line 1 column 222"
        ],
    );
    let too_large = head(1 << 53, leaf_hash(b""), 0);
    assert_eq!(
        too_large
            .sign(&SigningKey::from_bytes(&AUTHORITY_SEED))
            .unwrap_err()
            .to_string(),
        "tree_size: is 9007199254740992, the maximum is 2^53-1"
    );
    let wrong_key = head(1, leaf_hash(b""), 0).sign(&SigningKey::from_bytes(&[0x5a; 32]));
    assert!(matches!(wrong_key, Err(TreeHeadError::KeyMismatch { .. })));
}

#[test]
fn a_witness_tells_agreement_growth_and_forks_apart() {
    let store = store_of(&RFC6962_LEAVES);
    let at_6 = signed(
        6,
        hash("76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"),
        10,
    );
    let at_8 = signed(8, store.root(), 20);
    let at_8_later = signed(8, store.root(), 30);
    // The same eight leaves with the last one changed: a second history of the same size.
    let mut forked_leaves = RFC6962_LEAVES;
    forked_leaves[7] = b"rewritten";
    let forked_store = store_of(&forked_leaves);
    let forked_8 = signed(8, forked_store.root(), 25);
    let other_log = TreeHead {
        log_id: SiteId::new("SITE-OTHER").unwrap(),
        ..at_8.head.clone()
    }
    .sign(&SigningKey::from_bytes(&AUTHORITY_SEED))
    .unwrap();

    assert_eq!(
        check_heads_consistent(&at_8, &at_8_later),
        HeadConsistency::Agree
    );
    assert_eq!(
        check_heads_consistent(&at_8, &forked_8),
        HeadConsistency::Fork { tree_size: 8 }
    );
    assert_eq!(
        check_heads_consistent(&at_8, &other_log),
        HeadConsistency::DifferentLogs
    );
    let growth = check_heads_consistent(&at_8, &at_6);
    assert_eq!(
        growth,
        HeadConsistency::NeedsConsistencyProof {
            old_size: 6,
            new_size: 8
        }
    );
    // Growth is settled by a consistency proof. A fork that kept the first six leaves proves
    // consistency with size 6 as well as the honest log does: only the two heads of size 8
    // together expose it, which is why witnesses compare heads with each other.
    let honest = consistency_proof(&store, 6, 8).unwrap();
    assert_eq!(
        verify_consistency(6, 8, &at_6.head.root_hash, &at_8.head.root_hash, &honest),
        Ok(())
    );
    let forked = consistency_proof(&forked_store, 6, 8).unwrap();
    assert_eq!(
        verify_consistency(
            6,
            8,
            &at_6.head.root_hash,
            &forked_8.head.root_hash,
            &forked
        ),
        Ok(())
    );
    // A log that rewrote an entry the witness already saw cannot prove consistency at all.
    let mut rewritten_leaves = RFC6962_LEAVES;
    rewritten_leaves[2] = b"rewritten";
    let rewritten_store = store_of(&rewritten_leaves);
    let rewritten = consistency_proof(&rewritten_store, 6, 8).unwrap();
    assert!(
        verify_consistency(
            6,
            8,
            &at_6.head.root_hash,
            &rewritten_store.root(),
            &rewritten
        )
        .is_err()
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn a_random_bit_flip_in_a_random_head_is_refused(
        tree_size in 0u64..(1 << 53),
        root_bytes in any::<[u8; 32]>(),
        timestamp_ms in 0u64..(1 << 53),
        bit_pick in any::<usize>(),
    ) {
        let signed_head = signed(tree_size, LedgerHash(root_bytes), timestamp_ms);
        let wire = signed_head.to_json_bytes().unwrap();
        prop_assert_eq!(
            SignedTreeHead::from_json_bytes(&wire).and_then(|decoded| decoded.verify(&authority())),
            Ok(())
        );
        let bit = bit_pick % (wire.len() * 8);
        let mut flipped = wire.clone();
        flipped[bit / 8] ^= 1 << (bit % 8);
        let outcome = SignedTreeHead::from_json_bytes(&flipped)
            .and_then(|decoded| decoded.verify(&authority()));
        prop_assert!(outcome.is_err());
    }
}

#[test]
fn memory_store_heads_follow_appends() {
    // The server's loop in miniature: append, sign a head, prove the new head extends the old.
    let mut store = MemoryHashStore::new();
    let mut previous = signed(0, store.root(), 0);
    for (entry_idx, entry) in RFC6962_LEAVES.iter().enumerate() {
        store.append(leaf_hash(entry));
        let current = signed(store.size(), store.root(), entry_idx as u64 + 1);
        let proof = consistency_proof(&store, previous.head.tree_size, store.size()).unwrap();
        assert_eq!(
            verify_consistency(
                previous.head.tree_size,
                current.head.tree_size,
                &previous.head.root_hash,
                &current.head.root_hash,
                &proof
            ),
            Ok(())
        );
        previous = current;
    }
}
