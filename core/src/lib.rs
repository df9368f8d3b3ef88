//! Baton's domain: signed custody events for shared clinical devices, their hash chains and
//! hybrid logical clocks, the order-independent merge of replicas and the custody fold.
//!
//! A tablet records each handoff as an event signed with its own Ed25519 key and chained to its
//! previous event. Replicas (the tablets and the server) exchange events in any order; each
//! keeps a grow-only log and folds the admitted events into every device's custody and a list
//! of exceptions for people to review. The signed format is frozen and specified in
//! docs/PROTOCOL.md.
//!
//! This crate does no I/O, reads no clock and draws no randomness: time always comes in as a
//! `now_ms` or `wall_ms` argument, so that the same inputs give the same state on the server,
//! in the browser (wasm32) and in tests.
//!
//! # Layout
//!
//! - `canonical`: the RFC 8785 (JCS) canonical JSON writer for the subset Baton signs.
//! - `ids`: validated identifiers (`DeviceId`, `StaffId`, `WardId`, `SiteId`), `EventId` and
//!   `SignerKey`.
//! - `hlc`: the hybrid logical clock, `Hlc`.
//! - `body`: what an event says happened, `Body`, and its field rules.
//! - `event`: the signed envelope, `UnsignedEvent` and `SignedEvent`: canonical bytes, signing,
//!   ids, wire encoding and decoding.
//! - `keys`: the enrolled signers, `KeySet`, with their roles and revocations.
//! - `key_rotation`: `SignedKeyRotation`, one key handing over to the next under both keys'
//!   signatures, and `KeyHistory`, the verified chain of a signer's keys.
//! - `verify`: single and batch verification against a `KeySet`, and the classification of an
//!   incoming event against a log.
//! - `log`: the `EventLog`, a grow-only set of events with per-signer chains, admission, gaps
//!   and forks; its merge is commutative, associative and idempotent.
//! - `rules`: `SiteRules` (shifts, grace, tolerances) and the `DeviceRegistry` of home wards.
//! - `state`: the derived custody of one device, `DeviceCustody`, and its intervals.
//! - `shift_change`: a ward's shift change over a time window (who held each device at each
//!   end, the handoffs between, what was not handed over), and the site's recent shift starts.
//! - `exceptions`: `Exception`, with its kind, severity and evidence.
//! - `device_fold`, `corrections`, `custody_step` (private): the replay of one device's
//!   history, which events corrections void, and what each event does to custody.
//! - `fold`: `CustodyState`, the custody of every device, folded in full or incrementally.
//! - `replica`: `Replica`, a log and its fold kept in step, with batch receipt.
//! - `request`: signed sync requests, `RequestToSign`, and their verification.
//! - `ledger`: the audit ledger, an RFC 9162 Merkle log: proofs, their checks, signed tree heads.

mod corrections;
mod custody_step;
mod device_fold;

pub mod body;
pub mod canonical;
pub mod event;
pub mod exceptions;
pub mod fold;
pub mod hlc;
pub mod ids;
pub mod key_rotation;
pub mod keys;
pub mod ledger;
pub mod log;
pub mod replica;
pub mod request;
pub mod rules;
pub mod shift_change;
pub mod state;
pub mod verify;

pub use body::{
    AuthMethod, Body, BreakGlassReason, Checklist, DeviceCondition, FieldError, FieldRule,
    PersonAuth,
};
pub use canonical::{CanonicalError, to_canonical_bytes};
pub use event::{
    ChainHead, DecodeError, ENVELOPE_VERSION, MAX_EVENT_BYTES, SIGNING_PREFIX, SignError,
    SignedEvent, UnsignedEvent,
};
pub use exceptions::{Exception, ExceptionKind, Severity};
pub use fold::CustodyState;
pub use hlc::{Hlc, HlcError};
pub use ids::{
    DeviceId, EventId, HexError, IdentifierError, SignerKey, SignerKeyError, SiteId, StaffId,
    WardId,
};
pub use keys::{KeySet, KeySetError, Role, SignerInfo};
pub use log::{EventLog, Fork, InsertOutcome, LogError, MergeOutcome};
pub use replica::{ReceiveOutcome, Replica};
pub use rules::{DeviceRegistry, Shift, SiteRules};
pub use state::{
    CorrectionRecord, CustodyEnd, CustodyEndReason, CustodyInterval, DeviceCustody, DeviceStatus,
    EndedCustody, TimelineEntry,
};
pub use verify::{Classification, Rejection, VerifyOptions, classify, verify_incoming};
