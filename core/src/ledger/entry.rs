//! What the ledger records: each leaf is the canonical JSON of one `LedgerEntry`.
//!
//! An entry is either a signed event as the server received it, with the sequence number and
//! time the server gave it, or a governance action taken on the dashboard (a registry change, an
//! enrollment, a correction). Entries are RFC 8785 canonical JSON so that an auditor can read
//! the exact bytes that were hashed; the event inside is its canonical wire form, signature
//! included, so the auditor can check it against the tablet's key without trusting the server.
//! The format belongs to version 1 of the ledger (`baton.tree-head.v1`); a change to it needs a
//! new version.

use serde::Deserialize;
use serde_json::{Value, json};
use thiserror::Error;

use crate::body::{FieldError, FieldRule, check_timestamp};
use crate::canonical::{CanonicalError, write_canonical};
use crate::event::{DecodeError, SignedEvent};
use crate::ledger::hash::{LedgerHash, leaf_hash};

/// The longest `by` accepted, in characters.
pub const MAX_ACTOR_CHARS: usize = 128;

/// One leaf of the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerEntry {
    /// A signed event, logged when the server first stored it.
    Event {
        /// Boxed because an event is several times larger than a governance entry.
        event: Box<SignedEvent>,
        /// The event's position in the site's `server_seq` order (PROTOCOL.md §2.3).
        server_seq: u64,
        /// The server's clock when it stored the event.
        received_at_ms: u64,
    },
    /// An action taken by a person on the dashboard.
    Governance {
        /// A JSON object whose string member `type` names the action in snake_case, such as
        /// `{"type":"device_registered","device":"TAB-0042"}`, with whatever members that
        /// action needs. The ledger fixes only the framing; the server defines the actions.
        action: Value,
        /// The dashboard account that acted.
        by: String,
        /// The server's clock when the action was taken.
        at_ms: u64,
        /// The leaf index of an earlier governance entry that this one corrects. Nothing in
        /// the ledger is edited; a correction is a new entry that points at the old one.
        corrects: Option<u64>,
    },
}

/// Why an entry cannot be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EntryError {
    #[error(transparent)]
    Field(#[from] FieldError),
    #[error("action: must be a JSON object with a non-empty string member \"type\"")]
    ActionWithoutType,
    #[error(transparent)]
    Canonical(#[from] CanonicalError),
    #[error("event: {0}")]
    Event(#[from] DecodeError),
    /// Invalid JSON, an unknown `kind`, a missing, duplicate or unknown field, or a field of the
    /// wrong type; the message names the field and its position.
    #[error("malformed ledger entry JSON: {message}")]
    Json { message: String },
}

/// The entry as decoded; `kind` selects the variant.
#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum WireEntry {
    Event {
        event: Value,
        server_seq: u64,
        received_at_ms: u64,
    },
    Governance {
        action: Value,
        by: String,
        at_ms: u64,
        // Using `deserialize_with` makes the member mandatory: `corrects` is written as null.
        #[serde(deserialize_with = "Option::deserialize")]
        corrects: Option<u64>,
    },
}

impl LedgerEntry {
    /// Checks the rules the field types do not.
    pub fn validate(&self) -> Result<(), EntryError> {
        match self {
            LedgerEntry::Event {
                server_seq,
                received_at_ms,
                ..
            } => {
                check_timestamp("server_seq", Some(*server_seq))?;
                check_timestamp("received_at_ms", Some(*received_at_ms))?;
            }
            LedgerEntry::Governance {
                action,
                by,
                at_ms,
                corrects,
            } => {
                let action_type = action.get("type").and_then(Value::as_str);
                if !action.is_object() || action_type.is_none_or(str::is_empty) {
                    return Err(EntryError::ActionWithoutType);
                }
                if by.trim().is_empty() {
                    return Err(FieldError {
                        field: "by",
                        rule: FieldRule::Blank,
                    }
                    .into());
                }
                let chars = by.chars().count();
                if chars > MAX_ACTOR_CHARS {
                    return Err(FieldError {
                        field: "by",
                        rule: FieldRule::TooLong {
                            chars,
                            max: MAX_ACTOR_CHARS,
                        },
                    }
                    .into());
                }
                check_timestamp("at_ms", Some(*at_ms))?;
                check_timestamp("corrects", *corrects)?;
            }
        }
        Ok(())
    }

    /// The canonical JSON of the entry: the bytes that are leaf-hashed.
    pub fn canonical_bytes(&self) -> Result<Vec<u8>, EntryError> {
        self.validate()?;
        let value = match self {
            LedgerEntry::Event {
                event,
                server_seq,
                received_at_ms,
            } => {
                // The wire form is already canonical; parsing it back makes it a member that
                // the canonical writer reproduces byte for byte.
                let event: Value = serde_json::from_slice(&event.to_json_bytes())
                    .expect("an event's wire form is JSON");
                json!({
                    "kind": "event",
                    "event": event,
                    "server_seq": server_seq,
                    "received_at_ms": received_at_ms,
                })
            }
            LedgerEntry::Governance {
                action,
                by,
                at_ms,
                corrects,
            } => json!({
                "kind": "governance",
                "action": action,
                "by": by,
                "at_ms": at_ms,
                "corrects": corrects,
            }),
        };
        let mut out = Vec::with_capacity(1024);
        write_canonical(&value, &mut out)?;
        Ok(out)
    }

    /// `canonical_bytes` of `LedgerEntry::Event` for the event whose wire form
    /// (`SignedEvent::to_json_bytes`, already canonical) is `event_wire`, without writing the
    /// event again: the server stores that form beside the entry and has it at hand. The
    /// members are in canonical order, `event` first, so the entry is the wire form framed.
    pub fn event_canonical_bytes(
        event_wire: &[u8],
        server_seq: u64,
        received_at_ms: u64,
    ) -> Result<Vec<u8>, EntryError> {
        check_timestamp("server_seq", Some(server_seq))?;
        check_timestamp("received_at_ms", Some(received_at_ms))?;
        let mut out = Vec::with_capacity(event_wire.len() + 80);
        out.extend_from_slice(b"{\"event\":");
        out.extend_from_slice(event_wire);
        out.extend_from_slice(
            format!(",\"kind\":\"event\",\"received_at_ms\":{received_at_ms},\"server_seq\":{server_seq}}}")
                .as_bytes(),
        );
        Ok(out)
    }

    /// The entry's leaf hash, SHA-256(0x00 ‖ canonical bytes).
    pub fn leaf_hash(&self) -> Result<LedgerHash, EntryError> {
        Ok(leaf_hash(&self.canonical_bytes()?))
    }

    /// Decodes an entry. Any JSON spelling is accepted; the leaf hash is always taken over
    /// `canonical_bytes`, so an auditor compares that with what the server served. The event's
    /// fields are validated, its signature is not: that needs the site's key set.
    ///
    /// Decoding is otherwise strict, because a reader that skipped a member would show an
    /// auditor less than what was hashed: unknown members, a missing `corrects`, floats and
    /// integers above 2^53 - 1 are refused.
    pub fn from_json_bytes(bytes: &[u8]) -> Result<LedgerEntry, EntryError> {
        let wire: WireEntry = serde_json::from_slice(bytes).map_err(|error| EntryError::Json {
            message: error.to_string(),
        })?;
        let entry = match wire {
            WireEntry::Event {
                event,
                server_seq,
                received_at_ms,
            } => {
                let event_bytes =
                    serde_json::to_vec(&event).expect("a JSON value always serialises");
                LedgerEntry::Event {
                    event: Box::new(SignedEvent::from_json_bytes(&event_bytes)?),
                    server_seq,
                    received_at_ms,
                }
            }
            WireEntry::Governance {
                action,
                by,
                at_ms,
                corrects,
            } => LedgerEntry::Governance {
                action,
                by,
                at_ms,
                corrects,
            },
        };
        // An entry without a canonical form has no leaf hash: refuse it here rather than
        // when someone first tries to hash it.
        entry.canonical_bytes()?;
        Ok(entry)
    }
}
