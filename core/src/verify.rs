//! Verification of signed events against the enrolled signers, one at a time or in batches, and
//! their classification against what a replica already holds.
//!
//! Rejections are errors: the event is not evidence of anything and is dropped. Gaps and forks
//! are not: a gap is held until its predecessor arrives, and both sides of a fork are kept as
//! evidence against their signer.

use std::borrow::Borrow;

use ed25519_dalek::{Signature, VerifyingKey};
use thiserror::Error;

use crate::event::{DecodeError, SignedEvent};
use crate::ids::{EventId, SignerKey};
use crate::keys::{KeySet, Role};
use crate::log::EventLog;

/// The receiver's side of verification: its clock and how far ahead of it an event may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifyOptions {
    pub now_ms: u64,
    /// Tolerated lead of an event's `hlc.ms` over `now_ms`. Without this bound a tablet with a
    /// clock years ahead would drag every hybrid clock it syncs with into the future.
    pub max_clock_skew_ms: u64,
}

/// Why an event is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Rejection {
    #[error("sig: the signature of event {id} does not verify for signer {signer}")]
    BadSignature { id: EventId, signer: SignerKey },
    #[error("signer: {signer} is not an enrolled signer")]
    UnknownSigner { signer: SignerKey },
    #[error(
        "signer: {signer} is revoked from {revoked_from_ms} ms and the event's hlc.ms is {hlc_ms}"
    )]
    RevokedSigner {
        signer: SignerKey,
        revoked_from_ms: u64,
        hlc_ms: u64,
    },
    #[error(
        "seq: {signer} rotated to a new key after its event {last_seq}, and this event is {seq}"
    )]
    RetiredKey {
        signer: SignerKey,
        last_seq: u64,
        seq: u64,
    },
    #[error(
        "hlc.ms: {hlc_ms} is more than {max_clock_skew_ms} ms ahead of the receiver's clock ({now_ms})"
    )]
    FutureTimestamp {
        hlc_ms: u64,
        now_ms: u64,
        max_clock_skew_ms: u64,
    },
    #[error("{field}: only the authority may sign {what}, and {signer} is a tablet")]
    Unauthorized {
        signer: SignerKey,
        /// The field that needs the authority, such as `body.type` for a quarantine.
        field: &'static str,
        what: &'static str,
    },
    #[error("malformed event: {0}")]
    Malformed(#[from] DecodeError),
}

/// How a verified event relates to what the replica already holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Classification {
    /// New, and its predecessor is admitted (or it is the first of its chain).
    Valid,
    /// Already held: storing it again is a no-op.
    Duplicate,
    /// New, but its predecessor is not admitted yet: hold it, do not reject it.
    Gap { missing_prev: EventId },
    /// Another event with the same signer and seq is already held: keep both, flag the signer.
    Fork { conflicting: Vec<EventId> },
}

impl KeySet {
    /// Checks the rules that need no cryptography: enrolled, not revoked, not from the future,
    /// allowed to say this. Returns the key to verify the signature with.
    fn check_policy(
        &self,
        event: &SignedEvent,
        options: VerifyOptions,
    ) -> Result<&VerifyingKey, Rejection> {
        let signer = *event.signer();
        let enrolled = self
            .enrolled(&signer)
            .ok_or(Rejection::UnknownSigner { signer })?;
        let hlc_ms = event.hlc().ms;
        if let Some(revoked_from_ms) = enrolled
            .info
            .revoked_from_ms
            .filter(|&from_ms| hlc_ms >= from_ms)
        {
            return Err(Rejection::RevokedSigner {
                signer,
                revoked_from_ms,
                hlc_ms,
            });
        }
        if let Some(last_seq) = enrolled.info.retired_after_seq
            && event.seq() > last_seq
        {
            return Err(Rejection::RetiredKey {
                signer,
                last_seq,
                seq: event.seq(),
            });
        }
        if hlc_ms > options.now_ms.saturating_add(options.max_clock_skew_ms) {
            return Err(Rejection::FutureTimestamp {
                hlc_ms,
                now_ms: options.now_ms,
                max_clock_skew_ms: options.max_clock_skew_ms,
            });
        }
        if let Some((field, what)) = event.body().authority_only()
            && enrolled.info.role != Role::Authority
        {
            return Err(Rejection::Unauthorized {
                signer,
                field,
                what,
            });
        }
        Ok(&enrolled.verifying_key)
    }

    /// Verifies one event with `verify_strict`.
    pub fn verify(&self, event: &SignedEvent, options: VerifyOptions) -> Result<(), Rejection> {
        let verifying_key = self.check_policy(event, options)?;
        let signature = Signature::from_bytes(event.signature_bytes());
        verifying_key
            .verify_strict(event.signed_message(), &signature)
            .map_err(|_| Rejection::BadSignature {
                id: event.id(),
                signer: *event.signer(),
            })
    }

    /// Decodes and verifies one event received as bytes.
    pub fn verify_json(
        &self,
        bytes: &[u8],
        options: VerifyOptions,
    ) -> Result<SignedEvent, Rejection> {
        let event = SignedEvent::from_json_bytes(bytes)?;
        self.verify(&event, options)?;
        Ok(event)
    }

    /// Verifies many events at once, returning one result per event in input order.
    ///
    /// Policy checks run first. The remaining signatures go through `ed25519_dalek::verify_batch`,
    /// which is several times cheaper per signature than one `verify_strict` each. Batch
    /// verification alone is laxer than `verify_strict` (it accepts small-order or non-canonical
    /// commitments `R`), so those are refused here first; weak keys cannot reach this point
    /// because `SignerKey` refuses them. If the batch fails, each event is verified on its own to
    /// name the culprits.
    pub fn verify_batch<E: Borrow<SignedEvent>>(
        &self,
        events: &[E],
        options: VerifyOptions,
    ) -> Vec<Result<(), Rejection>> {
        let mut results: Vec<Result<(), Rejection>> = Vec::with_capacity(events.len());
        let mut batch_event_indices = Vec::with_capacity(events.len());
        let mut messages: Vec<&[u8]> = Vec::with_capacity(events.len());
        let mut signatures = Vec::with_capacity(events.len());
        let mut verifying_keys = Vec::with_capacity(events.len());
        for (event_idx, event) in events.iter().map(Borrow::borrow).enumerate() {
            let checked = self.check_policy(event, options).and_then(|verifying_key| {
                if commitment_is_strict(event.signature_bytes()) {
                    Ok(verifying_key)
                } else {
                    Err(Rejection::BadSignature {
                        id: event.id(),
                        signer: *event.signer(),
                    })
                }
            });
            match checked {
                Ok(verifying_key) => {
                    batch_event_indices.push(event_idx);
                    messages.push(event.signed_message());
                    signatures.push(Signature::from_bytes(event.signature_bytes()));
                    verifying_keys.push(*verifying_key);
                    results.push(Ok(()));
                }
                Err(rejection) => results.push(Err(rejection)),
            }
        }
        if batch_event_indices.is_empty()
            || ed25519_dalek::verify_batch(&messages, &signatures, &verifying_keys).is_ok()
        {
            return results;
        }
        for event_idx in batch_event_indices {
            results[event_idx] = self.verify(events[event_idx].borrow(), options);
        }
        results
    }
}

/// The encodings with a canonical y coordinate of the eight points of small order: the
/// identity and the point of order two (each also with the sign bit set, which is not canonical
/// because their x is zero, yet decompresses), the two points of order four and the four of
/// order eight.
const SMALL_ORDER_ENCODINGS: [[u8; 32]; 10] = [
    hex_literal(b"0100000000000000000000000000000000000000000000000000000000000000"),
    hex_literal(b"0100000000000000000000000000000000000000000000000000000000000080"),
    hex_literal(b"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    hex_literal(b"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"),
    hex_literal(b"0000000000000000000000000000000000000000000000000000000000000000"),
    hex_literal(b"0000000000000000000000000000000000000000000000000000000000000080"),
    hex_literal(b"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),
    hex_literal(b"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa"),
    hex_literal(b"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),
    hex_literal(b"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85"),
];

const fn hex_literal(text: &[u8; 64]) -> [u8; 32] {
    const fn digit(character: u8) -> u8 {
        match character {
            b'0'..=b'9' => character - b'0',
            b'a'..=b'f' => character - b'a' + 10,
            _ => panic!("not a lowercase hex digit"),
        }
    }
    let mut bytes = [0u8; 32];
    let mut byte_idx = 0;
    while byte_idx < 32 {
        bytes[byte_idx] = digit(text[2 * byte_idx]) << 4 | digit(text[2 * byte_idx + 1]);
        byte_idx += 1;
    }
    bytes
}

/// Whether the signature's commitment `R` passes the two checks `verify_strict` makes and
/// `verify_batch` does not: `R` is a canonical encoding (its y coordinate is below
/// p = 2^255 - 19, and its sign bit is clear when x is zero) and not a point of small order.
/// Both are byte comparisons, because a point decompression here would cost a third of what
/// batching saves.
///
/// One difference remains: a commitment with a small-order component added to a prime-order
/// point fails `verify_strict` but passes a batch with probability 1/2 to 1/8. Only the holder
/// of the signing key can build one (docs/PROTOCOL.md §1.7 discusses the consequence).
fn commitment_is_strict(signature: &[u8; 64]) -> bool {
    let commitment: [u8; 32] = signature[..32]
        .try_into()
        .expect("a signature starts with 32 bytes of R");
    let y_is_canonical = !(commitment[31] & 0x7f == 0x7f
        && commitment[1..31].iter().all(|&byte| byte == 0xff)
        && commitment[0] >= 0xed);
    y_is_canonical && !SMALL_ORDER_ENCODINGS.contains(&commitment)
}

/// Verifies `event` and classifies it against `log`, the events this replica already holds.
///
/// A duplicate is recognised before any cryptography, so re-sending a known event is cheap.
pub fn verify_incoming(
    keys: &KeySet,
    log: &EventLog,
    event: &SignedEvent,
    options: VerifyOptions,
) -> Result<Classification, Rejection> {
    if log.contains(&event.id()) {
        return Ok(Classification::Duplicate);
    }
    keys.verify(event, options)?;
    Ok(classify(log, event))
}

/// Classifies an already verified event against `log`.
pub fn classify(log: &EventLog, event: &SignedEvent) -> Classification {
    if log.contains(&event.id()) {
        return Classification::Duplicate;
    }
    let conflicting: Vec<EventId> = log.ids_at(event.signer(), event.seq()).to_vec();
    if !conflicting.is_empty() {
        return Classification::Fork { conflicting };
    }
    match event.prev() {
        Some(prev) if !log.is_admitted_predecessor(event.signer(), event.seq(), &prev) => {
            Classification::Gap { missing_prev: prev }
        }
        _ => Classification::Valid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_small_order_list_holds_exactly_small_order_points() {
        for encoding in SMALL_ORDER_ENCODINGS {
            let point = VerifyingKey::from_bytes(&encoding).expect("small-order points decompress");
            assert!(
                point.is_weak(),
                "{} is not of small order",
                hex::encode(encoding)
            );
            let mut signature = [0u8; 64];
            signature[..32].copy_from_slice(&encoding);
            assert!(!commitment_is_strict(&signature));
        }
    }

    #[test]
    fn commitments_with_a_non_canonical_y_are_refused() {
        let honest = VerifyingKey::from_bytes(&[
            0x58, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
            0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
            0x66, 0x66, 0x66, 0x66,
        ])
        .unwrap();
        let mut signature = [0u8; 64];
        signature[..32].copy_from_slice(honest.as_bytes());
        assert!(
            commitment_is_strict(&signature),
            "the base point is a fine commitment"
        );
        // y = p + 3 (bytes ed+3 = f0, ff.., 7f) is a non-canonical spelling of y = 3.
        let mut non_canonical = [0xff_u8; 32];
        non_canonical[0] = 0xf0;
        non_canonical[31] = 0x7f;
        signature[..32].copy_from_slice(&non_canonical);
        assert!(!commitment_is_strict(&signature));
        // y = p - 2 (bytes eb, ff.., 7f) is canonical.
        let mut largest_canonical = non_canonical;
        largest_canonical[0] = 0xeb;
        signature[..32].copy_from_slice(&largest_canonical);
        assert!(commitment_is_strict(&signature));
    }
}
