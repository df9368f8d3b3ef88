//! The worked example of an audit bundle in docs/PROTOCOL.md §4.2: rebuilt here from fixed keys
//! and times with baton-core, compared with the document byte for byte, and verified with
//! `verify_bundle`, so the example an auditor follows to write their own verifier is exactly
//! what Baton produces and accepts.

use baton_core::body::{AuthMethod, Body, Checklist, DeviceCondition, PersonAuth};
use baton_core::event::{ChainHead, UnsignedEvent};
use baton_core::hlc::Hlc;
use baton_core::ids::{DeviceId, SignerKey, SiteId, StaffId, WardId};
use baton_core::ledger::{LedgerEntry, MemoryHashStore, TreeHead, inclusion_proof};
use ed25519_dalek::SigningKey;
use serde_json::{Value, json};

const PROTOCOL: &str = include_str!("../../../docs/PROTOCOL.md");
const T0: u64 = 1_767_261_600_000; // 2026-01-01T10:00:00Z
const SERVER_SEED: [u8; 32] = [0x11; 32];
const TABLET_SEED: [u8; 32] = [0x22; 32];

fn person(staff: &str) -> PersonAuth {
    PersonAuth {
        staff: StaffId::new(staff).unwrap(),
        method: AuthMethod::BadgePin,
    }
}

/// The example: a tablet's enrollment (governance), then a check-out and its check-in.
fn example() -> (Value, Vec<(u64, String)>, String) {
    bundle_of(&example_entries())
}

/// The example's ledger entries, in order.
fn example_entries() -> Vec<LedgerEntry> {
    let tablet = SigningKey::from_bytes(&TABLET_SEED);
    let tablet_key = SignerKey::from_signing_key(&tablet);
    let device = DeviceId::new("D-0001").unwrap();
    let ward = WardId::new("W-4E").unwrap();
    let bodies = [
        Body::CheckOut {
            device: device.clone(),
            custodian: person("S-0001"),
            ward: ward.clone(),
            shift: None,
            expected_return_ms: None,
            purpose: None,
            issued_by: None,
        },
        Body::CheckIn {
            device,
            returned_by: person("S-0001"),
            ward,
            checklist: Checklist {
                apps_signed_out: true,
                local_data_wiped: true,
                condition: DeviceCondition::Ok,
            },
            note: None,
        },
    ];
    let mut entries = vec![LedgerEntry::Governance {
        action: json!({
            "type": "tablet_enrolled",
            "tablet_id": "T-EXAMPLE",
            "ward_id": "W-4E",
            "public_key": tablet_key.to_hex(),
            "label": "Ward 4E tablet",
        }),
        by: "enrollment-code".to_owned(),
        at_ms: T0,
        corrects: None,
    }];
    let (mut head, mut clock): (Option<ChainHead>, Hlc) = (None, Hlc::ZERO);
    for (index, body) in bodies.into_iter().enumerate() {
        let wall_ms = T0 + 60_000 * (index as u64 + 1);
        let event = UnsignedEvent::next(tablet_key, head, clock, wall_ms, body)
            .unwrap()
            .sign(&tablet)
            .unwrap();
        head = Some(event.chain_head());
        clock = event.hlc();
        entries.push(LedgerEntry::Event {
            event: Box::new(event),
            server_seq: index as u64 + 1,
            received_at_ms: wall_ms + 500,
        });
    }
    entries
}

/// A bundle of these entries under a head signed by the example's server key, with the leaves
/// and the root.
fn bundle_of(entries: &[LedgerEntry]) -> (Value, Vec<(u64, String)>, String) {
    let server = SigningKey::from_bytes(&SERVER_SEED);
    let tablet_key = SignerKey::from_signing_key(&SigningKey::from_bytes(&TABLET_SEED));
    let mut tree = MemoryHashStore::new();
    let mut leaves = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let leaf = entry.leaf_hash().unwrap();
        leaves.push((index as u64, leaf.to_hex()));
        tree.append(leaf);
    }
    let size = tree.size();
    let signed_head = TreeHead {
        log_id: SiteId::new("SITE-DEMO").unwrap(),
        tree_size: size,
        root_hash: tree.root(),
        timestamp_ms: T0 + 300_000,
        key_id: SignerKey::from_signing_key(&server),
    }
    .sign(&server)
    .unwrap();
    let bundle = json!({
        "format": "baton.audit-bundle.v1",
        "site_id": "SITE-DEMO",
        "server_public_key": SignerKey::from_signing_key(&server).to_hex(),
        "tablet_keys": [{ "tablet_id": "T-EXAMPLE", "public_key": tablet_key.to_hex(), "revoked_from_ms": null }],
        "tree_head": signed_head,
        "entries": entries.iter().enumerate().map(|(index, entry)| json!({
            "leaf_index": index,
            "entry": serde_json::from_slice::<Value>(&entry.canonical_bytes().unwrap()).unwrap(),
            "inclusion_proof": inclusion_proof(&tree, index as u64, size).unwrap(),
        })).collect::<Vec<_>>(),
    });
    (bundle, leaves, tree.root().to_hex())
}

/// The text between the ```bundle-example fence and the next fence.
fn documented() -> &'static str {
    let start = PROTOCOL
        .find("```bundle-example\n")
        .expect("PROTOCOL.md has a bundle-example block")
        + "```bundle-example\n".len();
    let end = start
        + PROTOCOL[start..]
            .find("\n```")
            .expect("the block is closed");
    &PROTOCOL[start..end]
}

#[test]
fn the_documented_bundle_is_what_baton_builds_and_it_verifies() {
    let (bundle, leaves, root) = example();
    let pretty = serde_json::to_string_pretty(&bundle).unwrap();
    assert_eq!(
        documented(),
        pretty,
        "docs/PROTOCOL.md §4.2's bundle-example differs; the bundle Baton builds is:\n{pretty}"
    );
    for (index, leaf) in &leaves {
        let line = format!("leaf {index}: `{leaf}`");
        assert!(PROTOCOL.contains(&line), "PROTOCOL.md should say {line}");
    }
    assert!(PROTOCOL.contains(&format!("root: `{root}`")));
    let report = baton_server::verify::verify_bundle(
        documented().as_bytes(),
        Some(&SignerKey::from_signing_key(&SigningKey::from_bytes(&SERVER_SEED)).to_hex()),
    );
    assert!(report.is_valid(), "{report:?}");
}

fn problems_of(entries: &[LedgerEntry]) -> Vec<String> {
    let (bundle, _, _) = bundle_of(entries);
    let server_key = SignerKey::from_signing_key(&SigningKey::from_bytes(&SERVER_SEED)).to_hex();
    let report = baton_server::verify::verify_bundle(
        serde_json::to_string(&bundle).unwrap().as_bytes(),
        Some(&server_key),
    );
    report
        .problems()
        .map(|finding| finding.message.clone())
        .collect()
}

#[test]
fn a_tablet_key_without_an_enrollment_before_its_first_event_fails_verification() {
    let entries = example_entries();
    // A database insider's tablet: its row is in the tablets table (so in `tablet_keys`) and
    // its events are correctly signed and ledgered, but no code ever enrolled it.
    assert_eq!(
        problems_of(&entries[1..]),
        [
            "tablet T-EXAMPLE: its key signed events from leaf 0 on, but the ledger has no tablet_enrolled entry for it: it was not enrolled with a code, and its events are not evidence"
        ]
    );
    // An enrollment ledgered after the events does not make them evidence either.
    let late = [&entries[1..], &entries[..1]].concat();
    assert_eq!(
        problems_of(&late),
        ["tablet T-EXAMPLE: its key signed events from leaf 0 on, before its enrollment at leaf 2"]
    );
    // Nor does the enrollment of another tablet id for the same key.
    let mut renamed = entries.clone();
    let LedgerEntry::Governance { action, .. } = &mut renamed[0] else {
        panic!("the example starts with the enrollment")
    };
    action["tablet_id"] = json!("T-OTHER");
    assert_eq!(
        problems_of(&renamed),
        ["tablet T-EXAMPLE: its key was enrolled as tablet T-OTHER"]
    );
    // The example as documented has no problem.
    assert_eq!(problems_of(&entries), Vec::<String>::new());
}
