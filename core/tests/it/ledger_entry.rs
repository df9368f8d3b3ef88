//! Ledger entries: the `ledger-entry-vector` blocks of docs/PROTOCOL.md §3.8, round trips and
//! the field rules.

use baton_core::SignedEvent;
use baton_core::ledger::{EntryError, LedgerEntry, LedgerHash, MemoryHashStore};
use expect_test::{Expect, expect};
use serde_json::json;

use crate::ledger_head::blocks;

#[test]
fn protocol_document_entry_vectors_hold() {
    let vectors = blocks("ledger-entry-vector");
    assert!(vectors.len() >= 3, "found {} vectors", vectors.len());
    let mut store = MemoryHashStore::new();
    for vector in &vectors {
        let name = &vector["name"];
        let text = &vector["canonical_text"];
        let entry = LedgerEntry::from_json_bytes(text.as_bytes())
            .unwrap_or_else(|error| panic!("{name}: {error}"));
        assert_eq!(
            String::from_utf8(entry.canonical_bytes().unwrap()).unwrap(),
            *text,
            "{name}: canonical bytes"
        );
        let leaf = entry.leaf_hash().unwrap();
        assert_eq!(leaf.to_hex(), vector["leaf_hash"], "{name}: leaf hash");
        store.append(leaf);
        assert_eq!(
            store.root(),
            LedgerHash::from_hex(&vector["root_after"]).unwrap(),
            "{name}: root after appending it"
        );
    }
}

fn event_entry() -> LedgerEntry {
    let vectors = blocks("vector");
    let event = SignedEvent::from_json_bytes(vectors[0]["wire"].as_bytes()).unwrap();
    LedgerEntry::Event {
        event: Box::new(event),
        server_seq: 1,
        received_at_ms: 1_741_593_601_234,
    }
}

fn governance_entry() -> LedgerEntry {
    LedgerEntry::Governance {
        action: json!({"type": "device_registered", "device": "TAB-0042", "ward": "4B"}),
        by: "admin".to_owned(),
        at_ms: 1_741_593_700_000,
        corrects: None,
    }
}

#[test]
fn entries_round_trip_from_any_spelling_to_the_same_canonical_bytes() {
    for entry in [event_entry(), governance_entry()] {
        let canonical = entry.canonical_bytes().unwrap();
        assert_eq!(LedgerEntry::from_json_bytes(&canonical).unwrap(), entry);
        let pretty = serde_json::to_vec_pretty(
            &serde_json::from_slice::<serde_json::Value>(&canonical).unwrap(),
        )
        .unwrap();
        assert_ne!(pretty, canonical);
        let decoded = LedgerEntry::from_json_bytes(&pretty).unwrap();
        assert_eq!(decoded.canonical_bytes().unwrap(), canonical);
    }
    // Different entries, different leaves: changing the receipt time changes the hash.
    let LedgerEntry::Event { event, .. } = event_entry() else {
        unreachable!()
    };
    let later = LedgerEntry::Event {
        event,
        server_seq: 1,
        received_at_ms: 1_741_593_601_235,
    };
    assert_ne!(later.leaf_hash(), event_entry().leaf_hash());
}

fn check_decode(json: &str, expected: Expect) {
    let actual = match LedgerEntry::from_json_bytes(json.as_bytes()) {
        Ok(entry) => format!(
            "ok {}",
            String::from_utf8(entry.canonical_bytes().unwrap()).unwrap()
        ),
        Err(error) => format!("error: {error}"),
    };
    expected.assert_eq(&actual);
}

#[test]
fn malformed_entries_are_refused_naming_the_rule() {
    check_decode(
        r#"{"kind":"governance","action":{"type":"x"},"by":"admin","at_ms":1}"#,
        expect!["error: malformed ledger entry JSON: missing field `corrects`"],
    );
    check_decode(
        r#"{"kind":"governance","action":{"type":"x"},"by":"admin","at_ms":1,"corrects":null,"note":"x"}"#,
        expect![
            "error: malformed ledger entry JSON: unknown field `note`, expected one of `action`, `by`, `at_ms`, `corrects`"
        ],
    );
    check_decode(
        r#"{"kind":"vote","by":"admin"}"#,
        expect![
            "error: malformed ledger entry JSON: unknown variant `vote`, expected `event` or `governance` at line 1 column 14"
        ],
    );
    check_decode(
        r#"{"kind":"governance","action":{"device":"TAB-1"},"by":"admin","at_ms":1,"corrects":null}"#,
        expect![[r#"error: action: must be a JSON object with a non-empty string member "type""#]],
    );
    check_decode(
        r#"{"kind":"governance","action":"device_registered","by":"admin","at_ms":1,"corrects":null}"#,
        expect![[r#"error: action: must be a JSON object with a non-empty string member "type""#]],
    );
    check_decode(
        r#"{"kind":"governance","action":{"type":"x"},"by":"  ","at_ms":1,"corrects":null}"#,
        expect!["error: by: must not be empty or only whitespace"],
    );
    check_decode(
        r#"{"kind":"governance","action":{"type":"x","amount":1.5},"by":"admin","at_ms":1,"corrects":null}"#,
        expect![[
            r#"error: at "/action/amount": floating-point number 1.5 is not allowed in canonical JSON"#
        ]],
    );
    check_decode(
        r#"{"kind":"event","event":{"v":1},"server_seq":1,"received_at_ms":1}"#,
        expect!["error: event: malformed event JSON: missing field `signer` at line 1 column 7"],
    );
    check_decode(
        r#"{"corrects":3,"at_ms":9007199254740991,"by":"admin","action":{"type":"x"},"kind":"governance"}"#,
        expect![[
            r#"ok {"action":{"type":"x"},"at_ms":9007199254740991,"by":"admin","corrects":3,"kind":"governance"}"#
        ]],
    );
    let too_late = LedgerEntry::Governance {
        action: json!({"type": "x"}),
        by: "admin".to_owned(),
        at_ms: 1 << 53,
        corrects: None,
    };
    assert_eq!(
        too_late.canonical_bytes().unwrap_err().to_string(),
        "at_ms: is 9007199254740992, the maximum is 2^53-1"
    );
    let long_name = LedgerEntry::Governance {
        action: json!({"type": "x"}),
        by: "a".repeat(129),
        at_ms: 1,
        corrects: None,
    };
    assert!(matches!(long_name.leaf_hash(), Err(EntryError::Field(_))));
}

mod framed_event_entries {
    use baton_core::ledger::LedgerEntry;
    use proptest::prelude::*;

    use crate::common;

    proptest! {
        /// The server frames an event's stored wire form instead of writing the entry's
        /// canonical JSON again: the bytes, and so the leaf hashes, must be the same for every
        /// kind of event and every position, and the same positions must be refused.
        #[test]
        fn an_events_entry_framed_from_its_wire_form_is_its_canonical_entry(
            kind in 0..5_usize,
            server_seq in 0..=(1_u64 << 54),
            received_at_ms in 0..=(1_u64 << 54),
        ) {
            let body = match kind {
                0 => common::check_out("TAB-0042", "N-1001", Some("day")),
                1 => common::check_in("TAB-0042", "N-1001"),
                2 => common::transfer("TAB-0042", "N-1001", "N-1002"),
                3 => common::break_glass("TAB-0042", "N-1003"),
                _ => common::correction("TAB-0042", baton_core::ids::EventId([7; 32]), "N-1004"),
            };
            let event = common::Tablet::new(1).sign(1_767_261_600_000, body);
            let wire = event.to_json_bytes();
            let entry = LedgerEntry::Event { event: Box::new(event), server_seq, received_at_ms };
            prop_assert_eq!(
                LedgerEntry::event_canonical_bytes(&wire, server_seq, received_at_ms),
                entry.canonical_bytes()
            );
        }
    }
}
