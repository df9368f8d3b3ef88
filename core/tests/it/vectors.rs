//! The golden test vectors of docs/PROTOCOL.md, checked byte for byte.
//!
//! Each fenced block marked `vector` holds `name: value` lines. The test recomputes every value
//! from the seed and the wire form, so the document and the code cannot drift apart.

use std::collections::BTreeMap;

use baton_core::{
    AuthMethod, Body, Checklist, DeviceCondition, Hlc, KeySet, PersonAuth, SignedEvent, SignerInfo,
    SignerKey, UnsignedEvent, VerifyOptions,
};
use ed25519_dalek::SigningKey;
use sha2::{Digest, Sha256};

use crate::common::*;

const PROTOCOL: &str = include_str!("../../../docs/PROTOCOL.md");

/// The `vector` blocks of the protocol document, as maps from field name to value.
fn vectors() -> Vec<BTreeMap<String, String>> {
    let mut vectors = Vec::new();
    let mut current: Option<BTreeMap<String, String>> = None;
    for line in PROTOCOL.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```vector") => current = Some(BTreeMap::new()),
            (Some(_), "```") => vectors.push(current.take().unwrap()),
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
    assert!(current.is_none(), "unterminated vector block");
    vectors
}

fn seed_key(seed_hex: &str) -> SigningKey {
    SigningKey::from_bytes(&hex::decode(seed_hex).unwrap().try_into().unwrap())
}

#[test]
fn protocol_document_vectors_hold() {
    let vectors = vectors();
    assert!(
        vectors.len() >= 3,
        "PROTOCOL.md must keep at least three vectors, found {}",
        vectors.len()
    );
    for vector in &vectors {
        let name = &vector["name"];
        let signing_key = seed_key(&vector["seed"]);
        let signer = SignerKey::from_signing_key(&signing_key);
        assert_eq!(signer.to_hex(), vector["public_key"], "{name}: public key");

        let canonical_text = &vector["canonical_text"];
        assert_eq!(
            hex::encode(canonical_text),
            vector["canonical_hex"],
            "{name}: canonical_hex is canonical_text"
        );

        let event = SignedEvent::from_json_bytes(vector["wire"].as_bytes())
            .unwrap_or_else(|error| panic!("{name}: {error}"));
        assert_eq!(
            event.canonical_bytes(),
            canonical_text.as_bytes(),
            "{name}: canonical bytes"
        );
        assert_eq!(
            String::from_utf8(event.to_json_bytes()).unwrap(),
            vector["wire"],
            "{name}: wire form is canonical"
        );
        assert_eq!(
            hex::encode(event.signature_bytes()),
            vector["signature"],
            "{name}: signature"
        );
        assert_eq!(event.id().to_hex(), vector["id"], "{name}: id");
        assert_eq!(
            hex::encode(Sha256::digest(canonical_text)),
            vector["id"],
            "{name}: id is SHA-256 of the canonical bytes"
        );

        // Ed25519 is deterministic: re-signing gives the same signature.
        let resigned = event.unsigned().clone().sign(&signing_key).unwrap();
        assert_eq!(
            resigned.signature_bytes(),
            event.signature_bytes(),
            "{name}: deterministic signature"
        );

        let role = if vector["role"] == "authority" {
            SignerInfo::authority()
        } else {
            SignerInfo::tablet()
        };
        let keys = KeySet::from_signers([(signer, role)]).unwrap();
        let options = VerifyOptions {
            now_ms: event.hlc().ms,
            max_clock_skew_ms: 0,
        };
        assert_eq!(keys.verify(&event, options), Ok(()), "{name}: verifies");
    }
}

#[test]
fn chained_vectors_point_at_their_predecessor() {
    let events: Vec<SignedEvent> = vectors()
        .iter()
        .map(|vector| SignedEvent::from_json_bytes(vector["wire"].as_bytes()).unwrap())
        .collect();
    for event in events.iter().filter(|event| event.seq() > 1) {
        let predecessor = events
            .iter()
            .find(|candidate| Some(candidate.id()) == event.prev())
            .expect("predecessor among the vectors");
        assert_eq!(
            (predecessor.signer(), predecessor.seq() + 1),
            (event.signer(), event.seq())
        );
    }
}

/// Prints the vector blocks for PROTOCOL.md. Version 1 is frozen, so this only runs by hand:
/// `cargo test -p baton-core --test it print_vectors -- --ignored --nocapture`.
#[test]
#[ignore = "generates documentation; run by hand"]
fn print_vectors() {
    let tablet_key = seed_key("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    let authority_key =
        seed_key("a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf");
    let tablet = SignerKey::from_signing_key(&tablet_key);
    let authority = SignerKey::from_signing_key(&authority_key);
    let wall_ms = 1_741_593_600_000; // 2025-03-10T08:00:00Z
    let first = UnsignedEvent::next(
        tablet,
        None,
        Hlc::ZERO,
        wall_ms,
        check_out("TAB-0042", "N-1234", Some("day")),
    )
    .unwrap()
    .sign(&tablet_key)
    .unwrap();
    let check_in = Body::CheckIn {
        device: device("TAB-0042"),
        returned_by: PersonAuth {
            staff: staff("N-1234"),
            method: AuthMethod::PinOnly,
        },
        ward: ward("4B"),
        checklist: Checklist {
            apps_signed_out: true,
            local_data_wiped: false,
            condition: DeviceCondition::Damaged,
        },
        note: Some("Screen cracked — \"bay 3\"\n\tcase missing".to_owned()),
    };
    let second = UnsignedEvent::next(
        tablet,
        Some(first.chain_head()),
        first.hlc(),
        wall_ms + 4 * HOUR,
        check_in,
    )
    .unwrap()
    .sign(&tablet_key)
    .unwrap();
    let transfer = Body::Transfer {
        device: device("TAB-0042"),
        from: badge("N-1234"),
        to: PersonAuth {
            staff: staff("N-5678"),
            method: AuthMethod::BreakGlass,
        },
        ward: ward("4B"),
        shift: None,
        expected_return_ms: Some(wall_ms + 12 * HOUR),
    };
    // The wall clock stalled: the hybrid clock counts.
    let third = UnsignedEvent::next(
        tablet,
        Some(second.chain_head()),
        second.hlc(),
        wall_ms + 4 * HOUR,
        transfer,
    )
    .unwrap()
    .sign(&tablet_key)
    .unwrap();
    let quarantine = Body::Quarantine {
        device: device("TAB-0042"),
        by: staff("IT-7"),
        note: "Reported lost overnight.".to_owned(),
    };
    let fourth = UnsignedEvent::next(
        authority,
        None,
        Hlc::new(wall_ms + 5 * HOUR, 3),
        wall_ms + 5 * HOUR,
        quarantine,
    )
    .unwrap()
    .sign(&authority_key)
    .unwrap();
    let vectors = [
        (
            "1: a tablet's first event, a check-out",
            &tablet_key,
            "tablet",
            &first,
        ),
        (
            "2: the tablet's second event, a check-in with escapes in its note",
            &tablet_key,
            "tablet",
            &second,
        ),
        (
            "3: a transfer with an explicit expected return, hlc counter 1",
            &tablet_key,
            "tablet",
            &third,
        ),
        (
            "4: the authority's first event, a quarantine, in a millisecond its clock had already used (hlc counter 4)",
            &authority_key,
            "authority",
            &fourth,
        ),
    ];
    for (name, key, role, event) in vectors {
        println!("```vector");
        println!("name: {name}");
        println!("role: {role}");
        println!("seed: {}", hex::encode(key.to_bytes()));
        println!("public_key: {}", SignerKey::from_signing_key(key).to_hex());
        println!(
            "canonical_text: {}",
            String::from_utf8(event.canonical_bytes().to_vec()).unwrap()
        );
        println!("canonical_hex: {}", hex::encode(event.canonical_bytes()));
        println!("signature: {}", hex::encode(event.signature_bytes()));
        println!("id: {}", event.id().to_hex());
        println!(
            "wire: {}",
            String::from_utf8(event.to_json_bytes()).unwrap()
        );
        println!("```");
        println!();
    }
}
