//! The push body, from the request's bytes to the pushing tablet's own well-formed events.
//!
//! This is the part of a push that depends on nothing but the bytes and who signed the request:
//! no replica, no storage, no clock. `http::sync::push` calls `parse_push` first, and the fuzz
//! target `fuzz/fuzz_targets/sync_push_parse.rs` feeds it arbitrary bytes, so that the fuzzer
//! exercises exactly the code that production runs.

use baton_core::event::SignedEvent;
use baton_core::ids::{EventId, SignerKey};
use serde::Deserialize;
use thiserror::Error;

/// The most events one push may carry.
pub const MAX_PUSH_EVENTS: usize = 500;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PushRequest<'a> {
    /// Kept as each event's own text, so that one malformed event is refused on its own, with a
    /// receipt, instead of refusing the whole push, and is decoded from the bytes the tablet
    /// sent (no tree of values built, nothing written out again).
    #[serde(borrow)]
    events: Vec<&'a serde_json::value::RawValue>,
}

/// Why a whole push is refused before any of its events is looked at.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PushBodyError {
    #[error("The body must be {{\"events\": [...]}}: {message}")]
    Malformed { message: String },
    #[error("A push carries at most {MAX_PUSH_EVENTS} events; this one has {n_events}. Split it.")]
    TooManyEvents { n_events: usize },
}

/// An event of the push refused on its own, before any state is consulted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedEvent {
    /// Its position in the push.
    pub index: usize,
    /// Known when the event decoded, that is when it was refused as another signer's.
    pub event_id: Option<EventId>,
    /// The receipt's stable code: `malformed` or `foreign_signer` (docs/PROTOCOL.md §2.3).
    pub code: &'static str,
    pub message: String,
}

/// A push body taken apart: every index below `n_events` is in exactly one of `events` and
/// `refused`.
#[derive(Debug, Clone)]
pub struct ParsedPush {
    pub n_events: usize,
    /// The pushing tablet's own well-formed events with their positions, in push order. Their
    /// signatures are not checked yet: that needs the site's key set.
    pub events: Vec<(usize, SignedEvent)>,
    /// The others, in push order.
    pub refused: Vec<RefusedEvent>,
}

/// Decodes a push body signed by `pusher`: `{"events": [...]}` with at most `MAX_PUSH_EVENTS`
/// events, each decoded as a wire event; a tablet may push only the events it signed itself.
pub fn parse_push(body: &[u8], pusher: &SignerKey) -> Result<ParsedPush, PushBodyError> {
    let push: PushRequest =
        serde_json::from_slice(body).map_err(|error| PushBodyError::Malformed {
            message: error.to_string(),
        })?;
    let n_events = push.events.len();
    if n_events > MAX_PUSH_EVENTS {
        return Err(PushBodyError::TooManyEvents { n_events });
    }
    let mut parsed = ParsedPush {
        n_events,
        events: Vec::with_capacity(n_events),
        refused: Vec::new(),
    };
    for (index, text) in push.events.into_iter().enumerate() {
        // The signature covers the canonical form that decoding recomputes, so how the tablet
        // spelled the event (spacing, member order) changes nothing that is checked.
        let decoded = SignedEvent::from_json_bytes(text.get().as_bytes());
        // Reading the body as raw text checks its syntax but not everything a JSON value must
        // be (nesting depth, string escapes): an event that is not one refuses the whole push,
        // as a body that is not JSON does. Only an event refused anyway pays for this check.
        if decoded.is_err()
            && let Err(error) = serde_json::from_str::<serde_json::Value>(text.get())
        {
            return Err(PushBodyError::Malformed {
                message: format!("event {index}: {error}"),
            });
        }
        match decoded {
            Err(error) => parsed.refused.push(RefusedEvent {
                index,
                event_id: None,
                code: "malformed",
                message: error.to_string(),
            }),
            Ok(event) if event.signer() != pusher => parsed.refused.push(RefusedEvent {
                index,
                event_id: Some(event.id()),
                code: "foreign_signer",
                message: "A tablet pushes only the events it signed itself.".to_owned(),
            }),
            Ok(event) => parsed.events.push((index, event)),
        }
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use baton_core::body::{AuthMethod, Body, PersonAuth};
    use baton_core::event::UnsignedEvent;
    use baton_core::hlc::Hlc;
    use baton_core::ids::{DeviceId, StaffId, WardId};
    use ed25519_dalek::SigningKey;
    use serde_json::{Value, json};

    use super::*;

    const T0: u64 = 1_767_261_600_000;

    fn signed_check_out(signing_key: &SigningKey, device: &str) -> SignedEvent {
        let body = Body::CheckOut {
            device: DeviceId::new(device).unwrap(),
            custodian: PersonAuth {
                staff: StaffId::new("S-0001").unwrap(),
                method: AuthMethod::BadgePin,
            },
            ward: WardId::new("W-4E").unwrap(),
            shift: None,
            expected_return_ms: None,
            purpose: None,
            issued_by: None,
        };
        let signer = SignerKey::from_signing_key(signing_key);
        UnsignedEvent::next(signer, None, Hlc::ZERO, T0, body)
            .unwrap()
            .sign(signing_key)
            .unwrap()
    }

    fn wire(event: &SignedEvent) -> Value {
        serde_json::from_slice(&event.to_json_bytes()).unwrap()
    }

    #[test]
    fn each_event_is_kept_or_refused_at_its_own_index() {
        let tablet = SigningKey::from_bytes(&[0x22; 32]);
        let other_tablet = SigningKey::from_bytes(&[0x33; 32]);
        let own = signed_check_out(&tablet, "D-0001");
        let foreign = signed_check_out(&other_tablet, "D-0002");
        let mut unknown_member = wire(&own);
        unknown_member["extra"] = json!("rides along unsigned");
        let body = json!({ "events": [wire(&foreign), wire(&own), unknown_member, 7] });

        let parsed = parse_push(
            &serde_json::to_vec(&body).unwrap(),
            &SignerKey::from_signing_key(&tablet),
        )
        .unwrap();

        assert_eq!(parsed.n_events, 4);
        assert_eq!(parsed.events, vec![(1, own)]);
        let refused: Vec<(usize, Option<EventId>, &str)> = parsed
            .refused
            .iter()
            .map(|refused| (refused.index, refused.event_id, refused.code))
            .collect();
        assert_eq!(
            refused,
            vec![
                (0, Some(foreign.id()), "foreign_signer"),
                (2, None, "malformed"),
                (3, None, "malformed"),
            ]
        );
        assert!(
            parsed.refused[1].message.contains("extra"),
            "{:?}",
            parsed.refused[1]
        );
    }

    #[test]
    fn an_event_is_decoded_from_its_own_text_however_spelled_but_never_with_a_repeated_member() {
        let tablet = SigningKey::from_bytes(&[0x22; 32]);
        let own = signed_check_out(&tablet, "D-0001");
        let canonical = String::from_utf8(own.to_json_bytes()).unwrap();
        // Spaced out and with its members in another order: the same signed event.
        let members = wire(&own);
        let respelled = format!(
            "{{ {} }}",
            members
                .as_object()
                .unwrap()
                .iter()
                .rev()
                .map(|(key, value)| format!("{key:?} : {value}"))
                .collect::<Vec<_>>()
                .join(" ,\n ")
        );
        // A repeated member would let what is kept differ from what a reader of the text sees.
        let repeated = canonical.replacen('{', "{\"seq\":999,", 1);
        let body = format!("{{\"events\": [{respelled}, {repeated}]}}");

        let parsed = parse_push(body.as_bytes(), &SignerKey::from_signing_key(&tablet)).unwrap();

        assert_eq!(parsed.events, vec![(0, own)]);
        assert_eq!(parsed.refused.len(), 1);
        assert_eq!(parsed.refused[0].index, 1);
        assert_eq!(parsed.refused[0].code, "malformed");
        assert!(
            parsed.refused[0].message.contains("duplicate field"),
            "{:?}",
            parsed.refused[0]
        );
    }

    #[test]
    fn a_body_that_is_not_a_push_or_too_large_is_refused_whole() {
        let pusher = SignerKey::from_signing_key(&SigningKey::from_bytes(&[0x22; 32]));
        for body in [
            &b""[..],
            b"[]",
            b"{\"events\": {}}",
            b"{\"events\": [], \"more\": 1}",
        ] {
            let error = parse_push(body, &pusher).unwrap_err();
            assert!(
                matches!(error, PushBodyError::Malformed { .. }),
                "{body:?}: {error}"
            );
        }
        let too_many = format!("{{\"events\": [{}0]}}", "0,".repeat(MAX_PUSH_EVENTS));
        assert_eq!(
            parse_push(too_many.as_bytes(), &pusher).unwrap_err(),
            PushBodyError::TooManyEvents {
                n_events: MAX_PUSH_EVENTS + 1
            }
        );
        let at_the_limit = format!("{{\"events\": [{}0]}}", "0,".repeat(MAX_PUSH_EVENTS - 1));
        let parsed = parse_push(at_the_limit.as_bytes(), &pusher).unwrap();
        assert_eq!(parsed.refused.len(), MAX_PUSH_EVENTS);
    }
}
