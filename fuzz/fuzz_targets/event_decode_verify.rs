//! Arbitrary bytes into the event path every replica runs on what it receives: wire decoding
//! (`SignedEvent::from_json_bytes`), the canonical re-encoding the signature covers, single and
//! batch verification, and a replica's receipt of the event (log and custody fold).
//!
//! Besides "no panic", it checks the invariants the protocol depends on (docs/PROTOCOL.md §1):
//! the canonical writer is a fixpoint on what it writes, a decoded event re-encodes to a wire
//! form that decodes to the same event, and single and batch verification agree.

#![no_main]

use baton_core::canonical::to_canonical_bytes;
use baton_core::event::{MAX_EVENT_BYTES, SIGNING_PREFIX, SignedEvent};
use baton_core::keys::{KeySet, SignerInfo};
use baton_core::replica::{ReceiveOutcome, Replica};
use baton_core::rules::{DeviceRegistry, SiteRules};
use baton_core::verify::VerifyOptions;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// A receiver's clock after every seed's events (2027-01-15), with the default five minutes of
/// tolerated skew, so that seeds pass the time checks and mutated clocks can fail them.
const OPTIONS: VerifyOptions = VerifyOptions {
    now_ms: 1_800_000_000_000,
    max_clock_skew_ms: 5 * 60_000,
};

fuzz_target!(|data: &[u8]| {
    check_canonical_writer(data);
    if let Ok(event) = SignedEvent::from_json_bytes(data) {
        check_round_trip(&event);
        check_verification(data, event);
    }
});

/// Whatever JSON the canonical writer accepts, its output parses back to the same value and is
/// its own canonical form.
fn check_canonical_writer(data: &[u8]) {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let Ok(canonical) = to_canonical_bytes(&value) else {
        return;
    };
    let reparsed: Value =
        serde_json::from_slice(&canonical).expect("canonical output is valid JSON");
    assert_eq!(reparsed, value, "canonical JSON changed the value");
    assert_eq!(
        to_canonical_bytes(&reparsed).expect("a canonical value stays encodable"),
        canonical,
        "canonical JSON is not a fixpoint"
    );
}

/// A decoded event's wire form is canonical, within the size limit, and decodes to the same
/// event; rebuilding it from its parts gives the same event too.
fn check_round_trip(event: &SignedEvent) {
    let wire = event.to_json_bytes();
    assert!(wire.len() <= MAX_EVENT_BYTES, "{} bytes", wire.len());
    let wire_value: Value = serde_json::from_slice(&wire).expect("the wire form is JSON");
    assert_eq!(
        to_canonical_bytes(&wire_value).expect("the wire form is canonical"),
        wire,
        "the wire form is not canonical"
    );
    let decoded_again = SignedEvent::from_json_bytes(&wire).expect("the wire form decodes");
    assert_eq!(&decoded_again, event, "decode(encode(event)) differs");
    assert_eq!(decoded_again.to_json_bytes(), wire);
    let rebuilt = SignedEvent::from_parts(event.unsigned().clone(), *event.signature_bytes())
        .expect("a decoded event's parts are valid");
    assert_eq!(&rebuilt, event);
    let message = event.signed_message();
    assert!(message.starts_with(SIGNING_PREFIX));
    assert_eq!(&message[SIGNING_PREFIX.len()..], event.canonical_bytes());
}

/// Verification with the event's signer enrolled (as the authority when the body needs one):
/// single, batch and bytes-in verification give one verdict, and a replica inserts the event
/// exactly when that verdict is a pass.
fn check_verification(data: &[u8], event: SignedEvent) {
    let info = if event.body().authority_only().is_some() {
        SignerInfo::authority()
    } else {
        SignerInfo::tablet()
    };
    // A key that decodes but is not canonical or has a torsion component cannot be enrolled;
    // verification against an empty key set must then refuse the event as unknown.
    let keys = KeySet::from_signers([(*event.signer(), info)]).unwrap_or_default();
    let single = keys.verify(&event, OPTIONS);
    let batch = keys.verify_batch(std::slice::from_ref(&event), OPTIONS);
    assert_eq!(
        batch,
        vec![single.clone()],
        "batch and single verification disagree"
    );
    let from_bytes = keys.verify_json(data, OPTIONS);
    assert_eq!(from_bytes.as_ref().err(), single.as_ref().err());
    if let Ok(verified) = &from_bytes {
        assert_eq!(verified, &event);
    }

    let mut replica = Replica::new(SiteRules::default(), keys, DeviceRegistry::default());
    let outcomes = replica.receive_batch(vec![event.clone()], OPTIONS);
    assert_eq!(outcomes.len(), 1);
    match (&outcomes[0], &single) {
        (ReceiveOutcome::Inserted(_), Ok(())) => {
            assert!(replica.log().contains(&event.id()));
            // The fold and its exceptions run on what was admitted; they must not panic.
            let _ = replica.exceptions(OPTIONS.now_ms);
            let _ = replica.custody().timeline(event.body().device());
        }
        (ReceiveOutcome::Rejected(rejection), Err(expected)) => {
            assert_eq!(rejection, expected);
            assert!(replica.log().is_empty());
        }
        (outcome, verdict) => panic!("replica said {outcome:?}, verification said {verdict:?}"),
    }
}
