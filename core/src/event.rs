//! The signed envelope: encoding, signing and decoding of custody events.
//!
//! The format is frozen and specified in docs/PROTOCOL.md §1; the golden vectors there are
//! checked by `tests/it/vectors.rs`. Any change to what is signed needs a new version number and
//! a new signing prefix, never an edit of version 1.

use std::fmt;

use ed25519_dalek::{Signer, SigningKey};
use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::body::{Body, FieldError, FieldRule, check_timestamp};
use crate::canonical::{CanonicalError, write_canonical};
use crate::hlc::{Hlc, HlcError};
use crate::ids::{EventId, SignerKey, decode_lower_hex};

/// The envelope version this implementation writes and reads.
pub const ENVELOPE_VERSION: u64 = 1;
/// Bytes signed before the canonical envelope, so that a Baton signature can never be replayed as
/// a signature over some other protocol's message that happens to be the same JSON.
pub const SIGNING_PREFIX: &[u8] = b"baton.event.v1\n";
/// The largest encoded event accepted, signature included.
pub const MAX_EVENT_BYTES: usize = 8 * 1024;

/// What the `sig` member adds to the canonical bytes: a comma, `"sig":"`, 128 hex digits, `"`.
/// The member is never first nor last (`body` sorts before it, `wall_ms` after it), so exactly
/// one comma comes with it.
const SIG_MEMBER_LEN: usize = 1 + 7 + 128 + 1;

/// The position of a signer's latest event in its own chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChainHead {
    pub seq: u64,
    pub id: EventId,
}

/// An event before signing: every signed field except the signature.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UnsignedEvent {
    pub signer: SignerKey,
    /// Position in the signer's chain, starting at 1.
    pub seq: u64,
    /// Id of the signer's event at `seq - 1`; `None` exactly when `seq` is 1.
    pub prev: Option<EventId>,
    pub hlc: Hlc,
    /// The signer's wall clock when the event was made, kept to detect clock trouble.
    pub wall_ms: u64,
    pub body: Body,
}

/// A signed event whose fields satisfy the format's rules. The signature itself is checked
/// against a key set by the `verify` module; holding a `SignedEvent` does not mean it was.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SignedEvent {
    event: UnsignedEvent,
    signature: [u8; 64],
    id: EventId,
    /// `SIGNING_PREFIX` followed by the canonical envelope without `sig`, kept because every
    /// verification needs it and re-encoding it each time would be a noticeable extra cost.
    signed_message: Box<[u8]>,
}

impl fmt::Debug for SignedEvent {
    // The signed message repeats the fields as bytes; leaving it out keeps test failures and
    // logs readable.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("SignedEvent")
            .field("id", &self.id)
            .field("event", &self.event)
            .field("signature", &hex::encode(self.signature))
            .finish_non_exhaustive()
    }
}

/// Why an unsigned event cannot be signed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SignError {
    #[error(
        "signer: the event names signer {event_signer} but the signing key belongs to {key_signer}"
    )]
    SignerMismatch {
        event_signer: SignerKey,
        key_signer: SignerKey,
    },
    #[error(transparent)]
    Field(#[from] FieldError),
    #[error(transparent)]
    Canonical(#[from] CanonicalError),
    #[error("the encoded event would be {len} bytes, the maximum is {max}")]
    TooLarge { len: usize, max: usize },
}

/// Why bytes are not a well-formed signed event.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    #[error("the encoded event is {len} bytes, the maximum is {max}")]
    TooLarge { len: usize, max: usize },
    /// Invalid JSON, a missing, duplicate or unknown field, or a field of the wrong type; the
    /// message names the field and its position.
    #[error("malformed event JSON: {message}")]
    Json { message: String },
    #[error(transparent)]
    Field(#[from] FieldError),
    #[error(transparent)]
    Canonical(#[from] CanonicalError),
}

/// The envelope as serialised, borrowed from an event; `sig` is omitted for the signed bytes.
#[derive(Serialize)]
struct EnvelopeRef<'a> {
    v: u64,
    signer: &'a SignerKey,
    seq: u64,
    prev: &'a Option<EventId>,
    hlc: &'a Hlc,
    wall_ms: u64,
    body: &'a Body,
    #[serde(skip_serializing_if = "Option::is_none")]
    sig: Option<String>,
}

/// The envelope as decoded. Unknown members are refused so that nothing unsigned can ride along.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireEvent {
    #[allow(
        dead_code,
        reason = "checked by VersionProbe before this struct is decoded"
    )]
    v: u64,
    signer: SignerKey,
    seq: u64,
    // Using `deserialize_with` makes the member mandatory: `prev` is written as null, not omitted.
    #[serde(deserialize_with = "Option::deserialize")]
    prev: Option<EventId>,
    hlc: Hlc,
    wall_ms: u64,
    body: Body,
    #[serde(deserialize_with = "deserialize_signature")]
    sig: [u8; 64],
}

/// Reads only the version, so that an event from a newer protocol is reported as such rather
/// than as a pile of unknown fields.
#[derive(Deserialize)]
struct VersionProbe {
    v: u64,
}

fn deserialize_signature<'de, D: Deserializer<'de>>(deserializer: D) -> Result<[u8; 64], D::Error> {
    let text = String::deserialize(deserializer)?;
    decode_lower_hex("signature", &text).map_err(serde::de::Error::custom)
}

impl UnsignedEvent {
    /// The next event in a signer's chain: `previous` is the signer's latest event (`None` for
    /// its first), `clock` the last timestamp its hybrid clock issued or received.
    pub fn next(
        signer: SignerKey,
        previous: Option<ChainHead>,
        clock: Hlc,
        wall_ms: u64,
        body: Body,
    ) -> Result<UnsignedEvent, HlcError> {
        UnsignedEvent::next_with_reference(signer, previous, clock, wall_ms, wall_ms, body)
    }

    /// Like `next`, but the hybrid clock ticks from `reference_ms`, the signer's best estimate of
    /// the true time (a tablet measures the server's clock at each sync), while `wall_ms` still
    /// records what the signer's own clock said. A signer whose clock was set a year off thus
    /// signs events that order and verify as of the true time, and the difference between the
    /// two stays in the signed record, where the fold raises `clock_skew` for people to see.
    pub fn next_with_reference(
        signer: SignerKey,
        previous: Option<ChainHead>,
        clock: Hlc,
        wall_ms: u64,
        reference_ms: u64,
        body: Body,
    ) -> Result<UnsignedEvent, HlcError> {
        let hlc = Hlc::tick(clock, reference_ms)?;
        let (seq, prev) = match previous {
            Some(head) => (head.seq + 1, Some(head.id)),
            None => (1, None),
        };
        Ok(UnsignedEvent {
            signer,
            seq,
            prev,
            hlc,
            wall_ms,
            body,
        })
    }

    /// Checks every rule of the format that the field types do not already guarantee.
    pub fn validate(&self) -> Result<(), FieldError> {
        if self.seq == 0 {
            return Err(FieldError {
                field: "seq",
                rule: FieldRule::Zero,
            });
        }
        check_timestamp("seq", Some(self.seq))?;
        if (self.seq == 1) != self.prev.is_none() {
            return Err(FieldError {
                field: "prev",
                rule: FieldRule::PrevDoesNotMatchSeq { seq: self.seq },
            });
        }
        check_timestamp("hlc.ms", Some(self.hlc.ms))?;
        check_timestamp("wall_ms", Some(self.wall_ms))?;
        self.body.validate()
    }

    /// The canonical JSON of the envelope without `sig`: what is hashed into the id.
    pub fn canonical_bytes(&self) -> Result<Vec<u8>, CanonicalError> {
        let mut out = Vec::with_capacity(512);
        self.write_envelope(None, &mut out)?;
        Ok(out)
    }

    fn write_envelope(
        &self,
        signature: Option<&[u8; 64]>,
        out: &mut Vec<u8>,
    ) -> Result<(), CanonicalError> {
        let envelope = EnvelopeRef {
            v: ENVELOPE_VERSION,
            signer: &self.signer,
            seq: self.seq,
            prev: &self.prev,
            hlc: &self.hlc,
            wall_ms: self.wall_ms,
            body: &self.body,
            sig: signature.map(hex::encode),
        };
        let value =
            serde_json::to_value(&envelope).expect("envelope fields always serialise to JSON");
        write_canonical(&value, out)
    }

    /// Signs the event with the signer's key.
    pub fn sign(self, signing_key: &SigningKey) -> Result<SignedEvent, SignError> {
        let key_signer = SignerKey::from_signing_key(signing_key);
        if key_signer != self.signer {
            return Err(SignError::SignerMismatch {
                event_signer: self.signer,
                key_signer,
            });
        }
        self.validate()?;
        let signed_message = signed_message(&self)?;
        let len = signed_message.len() - SIGNING_PREFIX.len() + SIG_MEMBER_LEN;
        if len > MAX_EVENT_BYTES {
            return Err(SignError::TooLarge {
                len,
                max: MAX_EVENT_BYTES,
            });
        }
        let signature = signing_key.sign(&signed_message).to_bytes();
        let signed_event = SignedEvent::assemble(self, signature, signed_message);
        debug_assert_eq!(signed_event.to_json_bytes().len(), len);
        Ok(signed_event)
    }
}

fn signed_message(event: &UnsignedEvent) -> Result<Vec<u8>, CanonicalError> {
    let mut message = Vec::with_capacity(512);
    message.extend_from_slice(SIGNING_PREFIX);
    event.write_envelope(None, &mut message)?;
    Ok(message)
}

impl SignedEvent {
    /// Rebuilds a signed event from its fields, for example from a database row. The fields are
    /// validated; the signature is not checked here.
    pub fn from_parts(
        event: UnsignedEvent,
        signature: [u8; 64],
    ) -> Result<SignedEvent, DecodeError> {
        event.validate()?;
        let signed_message = signed_message(&event)?;
        let len = signed_message.len() - SIGNING_PREFIX.len() + SIG_MEMBER_LEN;
        if len > MAX_EVENT_BYTES {
            return Err(DecodeError::TooLarge {
                len,
                max: MAX_EVENT_BYTES,
            });
        }
        Ok(SignedEvent::assemble(event, signature, signed_message))
    }

    fn assemble(event: UnsignedEvent, signature: [u8; 64], signed_message: Vec<u8>) -> SignedEvent {
        let id = EventId(Sha256::digest(&signed_message[SIGNING_PREFIX.len()..]).into());
        SignedEvent {
            event,
            signature,
            id,
            signed_message: signed_message.into_boxed_slice(),
        }
    }

    /// Decodes the wire form. Any JSON spelling of a valid event is accepted (whitespace, member
    /// order, string escapes), because the signature covers the canonical form recomputed here.
    pub fn from_json_bytes(bytes: &[u8]) -> Result<SignedEvent, DecodeError> {
        if bytes.len() > MAX_EVENT_BYTES {
            return Err(DecodeError::TooLarge {
                len: bytes.len(),
                max: MAX_EVENT_BYTES,
            });
        }
        let json_error = |error: serde_json::Error| DecodeError::Json {
            message: error.to_string(),
        };
        let probe: VersionProbe = serde_json::from_slice(bytes).map_err(json_error)?;
        if probe.v != ENVELOPE_VERSION {
            return Err(FieldError {
                field: "v",
                rule: FieldRule::UnsupportedVersion { found: probe.v },
            }
            .into());
        }
        let wire: WireEvent = serde_json::from_slice(bytes).map_err(json_error)?;
        let event = UnsignedEvent {
            signer: wire.signer,
            seq: wire.seq,
            prev: wire.prev,
            hlc: wire.hlc,
            wall_ms: wire.wall_ms,
            body: wire.body,
        };
        SignedEvent::from_parts(event, wire.sig)
    }

    /// The wire form: the canonical JSON of the whole envelope, `sig` included.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.signed_message.len() + 140);
        self.event
            .write_envelope(Some(&self.signature), &mut out)
            .expect("a signed event was validated when it was built");
        out
    }

    pub fn id(&self) -> EventId {
        self.id
    }

    /// The canonical envelope without `sig`, whose SHA-256 is the id.
    pub fn canonical_bytes(&self) -> &[u8] {
        &self.signed_message[SIGNING_PREFIX.len()..]
    }

    /// The exact bytes the signature covers: the signing prefix, then the canonical bytes.
    pub fn signed_message(&self) -> &[u8] {
        &self.signed_message
    }

    pub fn signature_bytes(&self) -> &[u8; 64] {
        &self.signature
    }

    pub fn unsigned(&self) -> &UnsignedEvent {
        &self.event
    }

    pub fn into_unsigned(self) -> UnsignedEvent {
        self.event
    }

    pub fn signer(&self) -> &SignerKey {
        &self.event.signer
    }

    pub fn seq(&self) -> u64 {
        self.event.seq
    }

    pub fn prev(&self) -> Option<EventId> {
        self.event.prev
    }

    pub fn hlc(&self) -> Hlc {
        self.event.hlc
    }

    pub fn wall_ms(&self) -> u64 {
        self.event.wall_ms
    }

    pub fn body(&self) -> &Body {
        &self.event.body
    }

    /// Where the signer's chain stands after this event, for building its successor.
    pub fn chain_head(&self) -> ChainHead {
        ChainHead {
            seq: self.event.seq,
            id: self.id,
        }
    }
}
