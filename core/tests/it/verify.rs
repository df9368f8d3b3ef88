//! Verification: every kind of tampering is refused, and gaps and forks are classified, not
//! refused.

use baton_core::{
    Body, Classification, EventLog, KeySet, Rejection, SignedEvent, SignerInfo, UnsignedEvent,
    VerifyOptions, verify_incoming,
};

use crate::common::*;

const OPTIONS: VerifyOptions = VerifyOptions {
    now_ms: T0 + 24 * HOUR,
    max_clock_skew_ms: 5 * MINUTE,
};

/// A tablet's chain of `n_events` alternating check-outs and check-ins, a minute apart.
pub fn chain(tablet: &mut Tablet, n_events: u64) -> Vec<SignedEvent> {
    (0..n_events)
        .map(|event_idx| {
            let body = if event_idx.is_multiple_of(2) {
                check_out("TAB-1", "N-1", None)
            } else {
                check_in("TAB-1", "N-1")
            };
            tablet.sign(T0 + event_idx * MINUTE, body)
        })
        .collect()
}

/// The wire bytes of `event` with bit `bit` flipped in the byte at `offset` within the first
/// occurrence of `needle`.
fn flip_bit(event: &SignedEvent, needle: &str, offset: usize, bit: u8) -> Vec<u8> {
    let mut bytes = event.to_json_bytes();
    let position = bytes
        .windows(needle.len())
        .position(|window| window == needle.as_bytes())
        .unwrap();
    bytes[position + offset] ^= 1 << bit;
    bytes
}

fn with_signature(event: &SignedEvent, signature: [u8; 64]) -> SignedEvent {
    SignedEvent::from_parts(event.unsigned().clone(), signature).unwrap()
}

fn bad_signature(event: &SignedEvent) -> Result<(), Rejection> {
    Err(Rejection::BadSignature {
        id: event.id(),
        signer: *event.signer(),
    })
}

#[test]
fn a_good_event_verifies_alone_and_in_a_batch() {
    let mut tablet = Tablet::new(1);
    let keys = key_set(&[&tablet], &[]);
    let events = chain(&mut tablet, 3);
    for event in &events {
        assert_eq!(keys.verify(event, OPTIONS), Ok(()));
        assert_eq!(
            keys.verify_json(&event.to_json_bytes(), OPTIONS).as_ref(),
            Ok(event)
        );
    }
    assert_eq!(keys.verify_batch(&events, OPTIONS), vec![Ok(()); 3]);
}

#[test]
fn a_flipped_bit_in_the_body_breaks_the_signature() {
    let mut tablet = Tablet::new(1);
    let keys = key_set(&[&tablet], &[]);
    let event = tablet.sign(T0, check_out("TAB-1", "N-1", None));
    // "N-1" becomes "N-0": still a well-formed staff id, but not what was signed.
    let tampered = SignedEvent::from_json_bytes(&flip_bit(&event, "N-1", 2, 0)).unwrap();
    assert_eq!(tampered.body().people()[0].as_str(), "N-0");
    assert_eq!(keys.verify(&tampered, OPTIONS), bad_signature(&tampered));
    assert_eq!(
        keys.verify_batch(&[event, tampered.clone()], OPTIONS),
        [Ok(()), bad_signature(&tampered)]
    );
}

#[test]
fn a_flipped_bit_in_the_signature_is_refused_alone_and_in_a_batch() {
    let mut tablet = Tablet::new(1);
    let keys = key_set(&[&tablet], &[]);
    let event = tablet.sign(T0, check_out("TAB-1", "N-1", None));
    for (byte_idx, bit) in [(0, 0), (17, 3), (31, 6), (32, 0), (50, 5), (63, 2)] {
        let mut signature = *event.signature_bytes();
        signature[byte_idx] ^= 1 << bit;
        let tampered = with_signature(&event, signature);
        assert_eq!(
            tampered.id(),
            event.id(),
            "the id does not cover the signature"
        );
        assert_eq!(
            keys.verify(&tampered, OPTIONS),
            bad_signature(&tampered),
            "byte {byte_idx} bit {bit}"
        );
        assert_eq!(
            keys.verify_batch(std::slice::from_ref(&tampered), OPTIONS),
            [bad_signature(&tampered)]
        );
    }
}

#[test]
fn a_malleated_signature_with_s_plus_the_group_order_is_refused() {
    // L = 2^252 + 27742317777372353535851937790883648493, little-endian.
    const GROUP_ORDER: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut tablet = Tablet::new(1);
    let keys = key_set(&[&tablet], &[]);
    let event = tablet.sign(T0, check_out("TAB-1", "N-1", None));
    let mut signature = *event.signature_bytes();
    let mut carry = 0u16;
    for (byte_idx, order_byte) in GROUP_ORDER.iter().enumerate() {
        let sum = u16::from(signature[32 + byte_idx]) + u16::from(*order_byte) + carry;
        signature[32 + byte_idx] = sum as u8;
        carry = sum >> 8;
    }
    let malleated = with_signature(&event, signature);
    assert_eq!(keys.verify(&malleated, OPTIONS), bad_signature(&malleated));
    assert_eq!(
        keys.verify_batch(&[event, malleated.clone()], OPTIONS),
        [Ok(()), bad_signature(&malleated)]
    );
}

#[test]
fn foreign_keys_are_refused() {
    let mut tablet = Tablet::new(1);
    let mut stranger = Tablet::new(2);
    let keys = key_set(&[&tablet], &[]);
    let foreign = stranger.sign(T0, check_out("TAB-1", "N-1", None));
    assert_eq!(
        keys.verify(&foreign, OPTIONS),
        Err(Rejection::UnknownSigner {
            signer: stranger.signer
        })
    );

    // An enrolled tablet's name on an event signed by another key.
    let unsigned = UnsignedEvent::next(
        tablet.signer,
        None,
        tablet.clock,
        T0,
        check_in("TAB-1", "N-1"),
    )
    .unwrap();
    let unsigned_copy = SignedEvent::from_parts(unsigned.clone(), [0; 64]).unwrap();
    let by_stranger = ed25519_dalek::Signer::sign(&stranger.key, unsigned_copy.signed_message());
    let impostor = SignedEvent::from_parts(unsigned, by_stranger.to_bytes()).unwrap();
    assert_eq!(keys.verify(&impostor, OPTIONS), bad_signature(&impostor));

    // A genuine event whose signer field is swapped for another enrolled key.
    let keys = key_set(&[&tablet, &stranger], &[]);
    let genuine = tablet.sign(T0, check_in("TAB-1", "N-1"));
    let mut swapped = genuine.unsigned().clone();
    swapped.signer = stranger.signer;
    let swapped = SignedEvent::from_parts(swapped, *genuine.signature_bytes()).unwrap();
    assert_eq!(keys.verify(&swapped, OPTIONS), bad_signature(&swapped));
    assert_eq!(
        keys.verify_batch(&[genuine, swapped.clone()], OPTIONS),
        [Ok(()), bad_signature(&swapped)]
    );
}

#[test]
fn a_rotated_key_cannot_extend_its_chain_whatever_its_clock_says() {
    let mut tablet = Tablet::new(1);
    let first = tablet.sign(T0, check_out("TAB-1", "N-1", None));
    let second = tablet.sign(T0 + HOUR, check_in("TAB-1", "N-1"));
    let retired = SignerInfo {
        retired_after_seq: Some(first.seq()),
        ..SignerInfo::tablet()
    };
    let keys = KeySet::from_signers([(tablet.signer, retired)]).unwrap();
    // What the key signed up to its rotation stays good evidence.
    assert_eq!(keys.verify(&first, OPTIONS), Ok(()));
    assert_eq!(
        keys.verify(&second, OPTIONS),
        Err(Rejection::RetiredKey {
            signer: tablet.signer,
            last_seq: 1,
            seq: 2
        })
    );
}

#[test]
fn policy_rejections_name_the_rule() {
    let mut tablet = Tablet::new(1);
    let mut server = Tablet::new(9);
    let revoked = SignerInfo {
        revoked_from_ms: Some(T0 + HOUR),
        ..SignerInfo::tablet()
    };
    let keys = KeySet::from_signers([
        (tablet.signer, revoked),
        (server.signer, SignerInfo::authority()),
    ])
    .unwrap();

    let before = tablet.sign(T0, check_out("TAB-1", "N-1", None));
    assert_eq!(keys.verify(&before, OPTIONS), Ok(()));
    let after = tablet.sign(T0 + HOUR, check_in("TAB-1", "N-1"));
    let rejection = keys.verify(&after, OPTIONS).unwrap_err();
    assert_eq!(
        rejection,
        Rejection::RevokedSigner {
            signer: tablet.signer,
            revoked_from_ms: T0 + HOUR,
            hlc_ms: T0 + HOUR
        }
    );

    let quarantine = Body::Quarantine {
        device: device("TAB-1"),
        by: staff("N-1"),
        note: "suspicious".to_owned(),
    };
    let mut other = Tablet::new(3);
    let keys = key_set(&[&other], &[&server]);
    let by_tablet = other.sign(T0, quarantine.clone());
    let rejection = keys.verify(&by_tablet, OPTIONS).unwrap_err();
    assert_eq!(
        rejection.to_string(),
        format!(
            "body.type: only the authority may sign quarantine, and {} is a tablet",
            other.signer
        )
    );
    assert_eq!(keys.verify(&server.sign(T0, quarantine), OPTIONS), Ok(()));

    // A person authenticated by a dashboard session is the authority's to vouch for, like a
    // quarantine: a tablet never sees the session.
    let reported_from_the_dashboard = Body::ReportMissing {
        device: device("TAB-1"),
        reported_by: baton_core::PersonAuth {
            staff: staff("manager"),
            method: baton_core::AuthMethod::Dashboard,
        },
        note: None,
    };
    let by_tablet = other.sign(T0, reported_from_the_dashboard.clone());
    assert_eq!(
        keys.verify(&by_tablet, OPTIONS).unwrap_err().to_string(),
        format!(
            "body.reported_by.method: only the authority may sign a person authenticated by a dashboard session, and {} is a tablet",
            other.signer
        )
    );
    assert_eq!(
        keys.verify(&server.sign(T0, reported_from_the_dashboard), OPTIONS),
        Ok(())
    );

    let from_the_future = other.sign(
        OPTIONS.now_ms + OPTIONS.max_clock_skew_ms + 1,
        check_in("TAB-1", "N-1"),
    );
    let rejection = keys.verify(&from_the_future, OPTIONS).unwrap_err();
    assert_eq!(
        rejection.to_string(),
        "hlc.ms: 1741651500001 is more than 300000 ms ahead of the receiver's clock (1741651200000)"
    );
    let within_skew = other.sign(
        OPTIONS.now_ms + OPTIONS.max_clock_skew_ms,
        check_out("TAB-1", "N-1", None),
    );
    // Its hybrid clock already moved past the wall time of the refused event.
    assert!(matches!(
        keys.verify(&within_skew, OPTIONS),
        Err(Rejection::FutureTimestamp { .. })
    ));
}

#[test]
fn batch_verification_names_exactly_the_culprits() {
    let mut tablet = Tablet::new(1);
    let mut stranger = Tablet::new(2);
    let keys = key_set(&[&tablet], &[]);
    let mut events = chain(&mut tablet, 64);
    let mut signature = *events[10].signature_bytes();
    signature[40] ^= 0x10;
    events[10] = with_signature(&events[10], signature);
    events[41] = SignedEvent::from_json_bytes(&flip_bit(&events[41], "N-1", 2, 0)).unwrap();
    events[63] = stranger.sign(T0, check_out("TAB-1", "N-1", None));
    let results = keys.verify_batch(&events, OPTIONS);
    for (event_idx, result) in results.iter().enumerate() {
        let expected = match event_idx {
            10 | 41 => bad_signature(&events[event_idx]),
            63 => Err(Rejection::UnknownSigner {
                signer: stranger.signer,
            }),
            _ => Ok(()),
        };
        assert_eq!(result, &expected, "event {event_idx}");
        assert_eq!(
            keys.verify(&events[event_idx], OPTIONS),
            expected,
            "single and batch must agree"
        );
    }
}

#[test]
fn member_order_and_whitespace_are_not_tampering() {
    let mut tablet = Tablet::new(1);
    let keys = key_set(&[&tablet], &[]);
    let event = tablet.sign(T0, check_out("TAB-1", "N-1", None));
    let wire = String::from_utf8(event.to_json_bytes()).unwrap();
    // Move "body" from first to last place and add spaces.
    let body_end = wire.find(",\"hlc\"").unwrap();
    let reordered = format!(
        "{{ {} , {} }}",
        &wire[body_end + 1..wire.len() - 1],
        &wire[1..body_end]
    );
    assert_eq!(keys.verify_json(reordered.as_bytes(), OPTIONS), Ok(event));
}

#[test]
fn reordered_and_truncated_chains_are_held_not_refused() {
    let mut tablet = Tablet::new(1);
    let keys = key_set(&[&tablet], &[]);
    let events = chain(&mut tablet, 4);
    let mut log = EventLog::new();
    // The third event arrives first: its predecessor is missing.
    assert_eq!(
        verify_incoming(&keys, &log, &events[2], OPTIONS),
        Ok(Classification::Gap {
            missing_prev: events[1].id()
        })
    );
    log.insert(events[2].clone()).unwrap();
    assert_eq!(
        verify_incoming(&keys, &log, &events[0], OPTIONS),
        Ok(Classification::Valid)
    );
    log.insert(events[0].clone()).unwrap();
    assert!(!log.is_admitted(&events[2].id()));
    assert_eq!(
        verify_incoming(&keys, &log, &events[2], OPTIONS),
        Ok(Classification::Duplicate)
    );
    assert_eq!(
        verify_incoming(&keys, &log, &events[1], OPTIONS),
        Ok(Classification::Valid)
    );
    log.insert(events[1].clone()).unwrap();
    assert!(
        log.is_admitted(&events[2].id()),
        "the held successor is admitted with its predecessor"
    );
    assert_eq!(
        verify_incoming(&keys, &log, &events[3], OPTIONS),
        Ok(Classification::Valid)
    );
}

#[test]
fn seq_reuse_is_a_fork_kept_as_evidence() {
    let mut tablet = Tablet::new(1);
    let keys = key_set(&[&tablet], &[]);
    let first = tablet.sign(T0, check_out("TAB-1", "N-1", None));
    let honest = tablet.sign(T0 + MINUTE, check_in("TAB-1", "N-1"));
    // The same signer signs a different second event from the same chain head.
    let unsigned = UnsignedEvent::next(
        tablet.signer,
        Some(first.chain_head()),
        first.hlc(),
        T0 + MINUTE,
        check_out("TAB-1", "N-2", None),
    )
    .unwrap();
    let equivocation = unsigned.sign(&tablet.key).unwrap();
    let mut log = EventLog::new();
    log.insert(first).unwrap();
    log.insert(honest.clone()).unwrap();
    assert_eq!(
        verify_incoming(&keys, &log, &equivocation, OPTIONS),
        Ok(Classification::Fork {
            conflicting: vec![honest.id()]
        })
    );
}

#[test]
fn a_signer_whose_clock_is_a_year_off_is_accepted_when_it_ticks_from_the_true_time() {
    let tablet = Tablet::new(1);
    let keys = key_set(&[&tablet], &[]);
    const YEAR: u64 = 365 * 24 * HOUR;
    let true_now_ms = OPTIONS.now_ms;
    // Ticking from its own clock, a year ahead, the event is refused: it would drag every
    // hybrid clock it reaches a year into the future.
    let ahead = UnsignedEvent::next(
        tablet.signer,
        None,
        tablet.clock,
        true_now_ms + YEAR,
        check_out("TAB-1", "N-1", None),
    )
    .unwrap()
    .sign(&tablet.key)
    .unwrap();
    assert!(matches!(
        keys.verify(&ahead, OPTIONS),
        Err(Rejection::FutureTimestamp { .. })
    ));
    // Ticking from the true time it measured, it verifies, and its own clock's reading stays in
    // the signed record as evidence, a year from the hybrid clock in either direction.
    for wall_ms in [true_now_ms + YEAR, true_now_ms - YEAR] {
        let event = UnsignedEvent::next_with_reference(
            tablet.signer,
            None,
            tablet.clock,
            wall_ms,
            true_now_ms,
            check_out("TAB-1", "N-1", None),
        )
        .unwrap()
        .sign(&tablet.key)
        .unwrap();
        assert_eq!(keys.verify(&event, OPTIONS), Ok(()));
        assert_eq!(event.hlc().ms, true_now_ms);
        assert_eq!(event.wall_ms(), wall_ms);
    }
}

/// A replica given verdicts computed beforehand (by the server, before its site's lock) ends
/// where `receive_batch` ends, outcome for outcome, with the culprits refused and duplicates
/// found without their verdicts being looked at.
#[test]
fn receiving_precomputed_verdicts_equals_receiving_and_verifying() {
    let mut tablet = Tablet::new(1);
    let mut stranger = Tablet::new(2);
    let keys = key_set(&[&tablet], &[]);
    let mut events = chain(&mut tablet, 12);
    let mut signature = *events[7].signature_bytes();
    signature[40] ^= 0x10;
    events[7] = with_signature(&events[7], signature);
    events.push(stranger.sign(T0, check_out("TAB-1", "N-1", None)));
    // Sent again in the same batch: a duplicate.
    events.push(events[0].clone());
    let mut verifying = baton_core::Replica::new(
        baton_core::SiteRules::default(),
        keys.clone(),
        baton_core::DeviceRegistry::default(),
    );
    let mut given = verifying.clone();
    let expected = verifying.receive_batch(events.clone(), OPTIONS);
    let verdicts = keys.verify_batch(&events, OPTIONS);
    let outcomes = given.receive_verified_batch(events, verdicts);
    assert_eq!(outcomes, expected);
    assert_eq!(given, verifying);
    assert!(matches!(
        outcomes[7],
        baton_core::ReceiveOutcome::Rejected(Rejection::BadSignature { .. })
    ));
}
