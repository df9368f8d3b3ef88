//! Arbitrary bytes as the body of a push (`POST /api/v1/sync/push`), through the code the
//! handler runs: `baton_server::http::push_body::parse_push`, then the site replica's batch
//! verification and insertion (`Replica::receive_batch`), then the wire form that is stored.
//!
//! The request signature is not part of this: the handler runs only after `SignedByTablet`
//! checked it, so the body here is what an enrolled (possibly compromised) tablet can send.

#![no_main]

use baton_core::ids::SignerKey;
use baton_core::keys::{KeySet, SignerInfo};
use baton_core::replica::Replica;
use baton_core::rules::{DeviceRegistry, SiteRules};
use baton_core::verify::VerifyOptions;
use baton_server::http::push_body::{MAX_PUSH_EVENTS, PushBodyError, parse_push};
use libfuzzer_sys::fuzz_target;

/// The pushing tablet: the signer of docs/PROTOCOL.md §1.11's vectors 1 to 3, whose events are
/// in the seed corpus. Vector 4 is the authority's, a foreign signer for this tablet.
const PUSHER: &str = "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8";
const AUTHORITY: &str = "4fd099ccd47d7893dfe9ec24414ecb0d9b5420232aad30d91c465be33cbe65c4";

const OPTIONS: VerifyOptions = VerifyOptions {
    now_ms: 1_800_000_000_000,
    max_clock_skew_ms: 5 * 60_000,
};

fuzz_target!(|data: &[u8]| {
    let pusher = SignerKey::from_hex(PUSHER).expect("a valid key");
    let parsed = match parse_push(data, &pusher) {
        Ok(parsed) => parsed,
        Err(PushBodyError::TooManyEvents { n_events }) => {
            assert!(n_events > MAX_PUSH_EVENTS);
            return;
        }
        Err(PushBodyError::Malformed { .. }) => return,
    };

    // Every event of the push gets exactly one fate, at its own index, in push order.
    assert!(parsed.n_events <= MAX_PUSH_EVENTS);
    let mut fates: Vec<usize> = parsed.events.iter().map(|(index, _)| *index).collect();
    fates.extend(parsed.refused.iter().map(|refused| refused.index));
    fates.sort_unstable();
    assert_eq!(fates, (0..parsed.n_events).collect::<Vec<_>>());
    assert!(parsed.events.is_sorted_by_key(|(index, _)| *index));
    for (_, event) in &parsed.events {
        assert_eq!(event.signer(), &pusher, "another signer's event was kept");
    }
    for refused in &parsed.refused {
        match refused.code {
            "malformed" => assert!(refused.event_id.is_none()),
            "foreign_signer" => assert!(refused.event_id.is_some()),
            other => panic!("unexpected refusal code {other}"),
        }
    }

    // What the handler does next, against a site where the pusher is an enrolled tablet.
    let keys = KeySet::from_signers([
        (pusher, SignerInfo::tablet()),
        (
            SignerKey::from_hex(AUTHORITY).expect("a valid key"),
            SignerInfo::authority(),
        ),
    ])
    .expect("both keys are canonical and torsion-free");
    let mut replica = Replica::new(SiteRules::default(), keys, DeviceRegistry::default());
    let events: Vec<_> = parsed.events.into_iter().map(|(_, event)| event).collect();
    let outcomes = replica.receive_batch(events.clone(), OPTIONS);
    assert_eq!(outcomes.len(), events.len());
    let _ = replica.exceptions(OPTIONS.now_ms);
    for event in &events {
        // The handler stores this string and `expect`s it to be UTF-8.
        String::from_utf8(event.to_json_bytes()).expect("wire JSON is UTF-8");
    }
});
