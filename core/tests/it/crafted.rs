//! Signatures crafted by a dishonest key holder to exploit the gap between `verify_strict` and
//! `ed25519_dalek::verify_batch`. Only the holder of an enrolled key can build these; the tests
//! pin down which of them each verification path refuses.

use std::ops::{Add, Mul};

use baton_core::{Rejection, SignedEvent, UnsignedEvent, VerifyOptions};
use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha512};

use crate::common::*;

const OPTIONS: VerifyOptions = VerifyOptions {
    now_ms: T0 + 24 * HOUR,
    max_clock_skew_ms: 5 * MINUTE,
};
/// The Ed25519 base point, encoded.
const BASE_POINT: &str = "5866666666666666666666666666666666666666666666666666666666666666";
/// The point of order two, (0, -1), encoded.
const ORDER_TWO_POINT: &str = "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f";

/// Reduces a 512-bit little-endian integer modulo the group order, in whatever scalar type
/// `SigningKey::to_scalar` returns (so that the test needs no direct curve25519-dalek dependency).
fn wide_scalar<S: From<u64> + Mul<Output = S> + Add<Output = S> + Copy>(
    bytes: &[u8; 64],
    _like: S,
) -> S {
    let base = S::from(256);
    bytes.iter().rev().fold(S::from(0), |scalar, &byte| {
        scalar * base + S::from(u64::from(byte))
    })
}

fn point(hex_text: &str) -> VerifyingKey {
    VerifyingKey::from_bytes(&hex::decode(hex_text).unwrap().try_into().unwrap()).unwrap()
}

/// Signs `unsigned` with commitment `R = nonce·B + extra` instead of the honest `R`.
fn sign_with_commitment(
    tablet: &Tablet,
    unsigned: UnsignedEvent,
    nonce_seed: u8,
    extra: Option<&VerifyingKey>,
) -> SignedEvent {
    let secret = tablet.key.to_scalar();
    let message = SignedEvent::from_parts(unsigned.clone(), [0; 64])
        .unwrap()
        .signed_message()
        .to_vec();
    let nonce = wide_scalar(&[nonce_seed; 64], secret);
    let mut commitment = nonce * point(BASE_POINT).to_edwards();
    if let Some(extra) = extra {
        commitment += extra.to_edwards();
    }
    let commitment = commitment.compress().to_bytes();
    let challenge: [u8; 64] = Sha512::new()
        .chain_update(commitment)
        .chain_update(tablet.signer.as_bytes())
        .chain_update(&message)
        .finalize()
        .into();
    let response = nonce + wide_scalar(&challenge, secret) * secret;
    let mut signature = [0u8; 64];
    signature[..32].copy_from_slice(&commitment);
    signature[32..].copy_from_slice(&response.to_bytes());
    SignedEvent::from_parts(unsigned, signature).unwrap()
}

fn raw_batch_accepts(events: &[&SignedEvent]) -> bool {
    let messages: Vec<&[u8]> = events.iter().map(|event| event.signed_message()).collect();
    let signatures: Vec<Signature> = events
        .iter()
        .map(|event| Signature::from_bytes(event.signature_bytes()))
        .collect();
    let keys: Vec<VerifyingKey> = events
        .iter()
        .map(|event| VerifyingKey::from_bytes(event.signer().as_bytes()).unwrap())
        .collect();
    ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok()
}

#[test]
fn the_crafting_helper_produces_honest_signatures_when_asked_to() {
    let tablet = Tablet::new(1);
    let keys = key_set(&[&tablet], &[]);
    let unsigned = UnsignedEvent::next(
        tablet.signer,
        None,
        tablet.clock,
        T0,
        check_out("TAB-1", "N-1", None),
    )
    .unwrap();
    let event = sign_with_commitment(&tablet, unsigned, 5, None);
    assert_eq!(keys.verify(&event, OPTIONS), Ok(()));
    assert_eq!(keys.verify_batch(&[event], OPTIONS), [Ok(())]);
}

#[test]
fn an_identity_commitment_passes_a_raw_batch_but_is_refused_by_ours() {
    let tablet = Tablet::new(1);
    let keys = key_set(&[&tablet], &[]);
    let unsigned = UnsignedEvent::next(
        tablet.signer,
        None,
        tablet.clock,
        T0,
        check_out("TAB-1", "N-1", None),
    )
    .unwrap();
    // R = 0·B, the identity: s = h·a satisfies the batch equation exactly.
    let forged = sign_with_commitment(&tablet, unsigned, 0, None);
    assert_eq!(
        &forged.signature_bytes()[..32],
        &hex::decode("01".to_owned() + &"00".repeat(31)).unwrap()[..]
    );
    let honest = Tablet::new(1).sign(T0, check_in("TAB-1", "N-1"));
    assert!(
        raw_batch_accepts(&[&honest, &forged]),
        "precondition: ed25519-dalek's batch accepts it"
    );
    let refused = Err(Rejection::BadSignature {
        id: forged.id(),
        signer: tablet.signer,
    });
    assert_eq!(keys.verify(&forged, OPTIONS), refused);
    assert_eq!(
        keys.verify_batch(&[honest, forged], OPTIONS),
        [Ok(()), refused]
    );
}

#[test]
fn a_non_canonical_identity_commitment_is_refused_too() {
    // 01 00 .. 00 80 sets the sign bit of x = 0: it decompresses to the identity all the same.
    let tablet = Tablet::new(1);
    let keys = key_set(&[&tablet], &[]);
    let unsigned = UnsignedEvent::next(
        tablet.signer,
        None,
        tablet.clock,
        T0,
        check_out("TAB-1", "N-1", None),
    )
    .unwrap();
    let mut commitment = [0u8; 32];
    commitment[0] = 1;
    commitment[31] = 0x80;
    let forged = sign_with_explicit_commitment(&tablet, unsigned, commitment);
    assert!(
        raw_batch_accepts(&[&forged]),
        "precondition: ed25519-dalek's batch accepts it"
    );
    let refused = Err(Rejection::BadSignature {
        id: forged.id(),
        signer: tablet.signer,
    });
    assert_eq!(keys.verify(&forged, OPTIONS), refused);
    assert_eq!(keys.verify_batch(&[forged], OPTIONS), [refused]);
}

/// Signs with commitment bytes of the identity point, in whatever spelling, so `s = h·a`.
fn sign_with_explicit_commitment(
    tablet: &Tablet,
    unsigned: UnsignedEvent,
    commitment: [u8; 32],
) -> SignedEvent {
    let secret = tablet.key.to_scalar();
    let message = SignedEvent::from_parts(unsigned.clone(), [0; 64])
        .unwrap()
        .signed_message()
        .to_vec();
    let challenge: [u8; 64] = Sha512::new()
        .chain_update(commitment)
        .chain_update(tablet.signer.as_bytes())
        .chain_update(&message)
        .finalize()
        .into();
    let response = wide_scalar(&challenge, secret) * secret;
    let mut signature = [0u8; 64];
    signature[..32].copy_from_slice(&commitment);
    signature[32..].copy_from_slice(&response.to_bytes());
    SignedEvent::from_parts(unsigned, signature).unwrap()
}

#[test]
fn a_commitment_with_a_torsion_component_is_refused_by_strict_verification() {
    // These fail `verify_strict` but pass a batch about half of the time; PROTOCOL.md §1.7
    // makes strict single verification the normative rule for this reason.
    let mut tablet = Tablet::new(1);
    let keys = key_set(&[&tablet], &[]);
    let order_two = point(ORDER_TWO_POINT);
    let mut raw_batch_acceptances = 0;
    for attempt in 0..16u8 {
        let body = check_out("TAB-1", "N-1", None);
        let unsigned = UnsignedEvent::next(
            tablet.signer,
            None,
            tablet.clock,
            T0 + u64::from(attempt),
            body,
        )
        .unwrap();
        let forged = sign_with_commitment(&tablet, unsigned, attempt + 1, Some(&order_two));
        assert_eq!(
            keys.verify(&forged, OPTIONS),
            Err(Rejection::BadSignature {
                id: forged.id(),
                signer: tablet.signer
            })
        );
        raw_batch_acceptances += usize::from(raw_batch_accepts(&[&forged]));
        tablet.clock = forged.hlc();
    }
    assert!(
        (1..16).contains(&raw_batch_acceptances),
        "precondition: the batch equation misses some of them"
    );
}
