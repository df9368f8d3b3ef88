//! The signed envelope: wire form, decoding rules and field limits.

use baton_core::{
    AuthMethod, Body, DecodeError, FieldError, FieldRule, Hlc, MAX_EVENT_BYTES, PersonAuth,
    SIGNING_PREFIX, SignError, SignedEvent, UnsignedEvent,
};
use expect_test::{Expect, expect};
use sha2::{Digest, Sha256};

use crate::common::*;

fn first_event() -> SignedEvent {
    Tablet::new(1).sign(T0 + 8 * HOUR, check_out("TAB-1", "N-1", Some("day")))
}

/// Decodes `json` and renders the error, or "ok".
fn check_decode(json: &str, expected: Expect) {
    let actual = match SignedEvent::from_json_bytes(json.as_bytes()) {
        Ok(_) => "ok".to_owned(),
        Err(error) => error.to_string(),
    };
    expected.assert_eq(&actual);
}

/// The wire form of the first event with its JSON object edited by `edit`.
fn edited(edit: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>)) -> String {
    let mut value: serde_json::Value =
        serde_json::from_slice(&first_event().to_json_bytes()).unwrap();
    edit(value.as_object_mut().unwrap());
    value.to_string()
}

#[test]
fn wire_form_is_canonical_json_with_sig_and_round_trips() {
    let event = first_event();
    let wire = String::from_utf8(event.to_json_bytes()).unwrap();
    let expected_prefix = r#"{"body":{"custodian":{"method":"badge_pin","staff":"N-1"},"device":"TAB-1","shift":"day","type":"check_out","ward":"4B"},"hlc":{"c":0,"ms":1741593600000},"prev":null,"seq":1,"sig":""#;
    assert!(wire.starts_with(expected_prefix), "{wire}");
    let decoded = SignedEvent::from_json_bytes(wire.as_bytes()).unwrap();
    assert_eq!(decoded, event);
    assert_eq!(
        decoded.id().0,
        <[u8; 32]>::from(Sha256::digest(event.canonical_bytes()))
    );
    assert_eq!(
        &event.signed_message()[..SIGNING_PREFIX.len()],
        SIGNING_PREFIX
    );
    assert!(!String::from_utf8_lossy(event.canonical_bytes()).contains("\"sig\""));
}

#[test]
fn any_json_spelling_of_an_event_decodes_to_the_same_event() {
    let event = first_event();
    let value: serde_json::Value = serde_json::from_slice(&event.to_json_bytes()).unwrap();
    let pretty = serde_json::to_string_pretty(&value)
        .unwrap()
        .replace("N-1", "N\\u002d1");
    assert_eq!(
        SignedEvent::from_json_bytes(pretty.as_bytes()).unwrap(),
        event
    );
}

#[test]
fn decoding_refuses_what_is_not_signed_or_not_version_1() {
    check_decode(
        &edited(|event| {
            event.insert("extra".into(), 1.into());
        }),
        expect![
            "malformed event JSON: unknown field `extra`, expected one of `v`, `signer`, `seq`, `prev`, `hlc`, `wall_ms`, `body`, `sig` at line 1 column 128"
        ],
    );
    check_decode(
        &edited(|event| {
            event["body"]["colour"] = "red".into();
        }),
        expect![
            "malformed event JSON: unknown field `colour`, expected one of `device`, `custodian`, `ward`, `shift`, `expected_return_ms`, `purpose`, `issued_by` at line 1 column 135"
        ],
    );
    check_decode(
        &edited(|event| {
            event.insert("v".into(), 2.into());
        }),
        expect!["v: version 2 is not supported; this implementation reads version 1"],
    );
    check_decode(
        &edited(|event| {
            event.remove("prev");
        }),
        expect!["malformed event JSON: missing field `prev` at line 1 column 405"],
    );
    check_decode(
        &edited(|event| {
            event["body"]["purpose"] = serde_json::Value::Null;
        }),
        expect!["malformed event JSON: invalid type: null, expected a string at line 1 column 135"],
    );
    check_decode(
        &edited(|event| {
            event["body"]["type"] = "borrow".into();
        }),
        expect![
            "malformed event JSON: unknown variant `borrow`, expected one of `check_out`, `check_in`, `transfer`, `report_missing`, `report_found`, `break_glass`, `lockout`, `correction`, `quarantine`, `release` at line 1 column 104"
        ],
    );
    check_decode(
        &edited(|event| {
            event["body"]["device"] = "TAB 1".into();
        }),
        expect![
            "malformed event JSON: device id contains ' ' at index 3; only A-Z a-z 0-9 . _ : - are allowed at line 1 column 120"
        ],
    );
    check_decode(
        &edited(|event| {
            event.insert("seq".into(), 2.into());
        }),
        expect!["prev: must be null exactly when seq is 1 (seq is 2)"],
    );
    check_decode(
        &edited(|event| {
            event.insert("seq".into(), 0.into());
        }),
        expect!["seq: must be at least 1"],
    );
    check_decode(
        &edited(|event| {
            event.insert("wall_ms".into(), 9_007_199_254_740_992u64.into());
        }),
        expect!["wall_ms: is 9007199254740992, the maximum is 2^53-1"],
    );
    check_decode(
        &edited(|event| {
            event.insert("wall_ms".into(), 1.5.into());
        }),
        expect![
            "malformed event JSON: invalid type: floating point `1.5`, expected u64 at line 1 column 406"
        ],
    );
    check_decode(
        &edited(|event| {
            event.insert("sig".into(), "AB".repeat(64).into());
        }),
        expect![
            "malformed event JSON: signature must be lowercase hex; found 'A' at index 0 at line 1 column 310"
        ],
    );
}

#[test]
fn repeated_members_are_refused_at_every_level() {
    let wire = String::from_utf8(first_event().to_json_bytes()).unwrap();
    let repeat = |member: &str| wire.replacen(member, &format!("{member}{member}"), 1);
    check_decode(
        &repeat(r#""seq":1,"#),
        expect!["malformed event JSON: duplicate field `seq` at line 1 column 179"],
    );
    check_decode(
        &repeat(r#""device":"TAB-1","#),
        expect!["malformed event JSON: duplicate field `device` at line 1 column 137"],
    );
    check_decode(
        &repeat(r#""type":"check_out","#),
        expect!["malformed event JSON: duplicate field `type` at line 1 column 114"],
    );
    check_decode(
        &repeat(r#""v":1,"#),
        expect!["malformed event JSON: duplicate field `v` at line 1 column 396"],
    );
}

#[test]
fn field_limits_are_enforced_when_signing_and_when_decoding() {
    let mut tablet = Tablet::new(1);
    let long_note = Body::ReportMissing {
        device: device("TAB-1"),
        reported_by: badge("N-1"),
        note: Some("x".repeat(501)),
    };
    let unsigned = UnsignedEvent::next(tablet.signer, None, Hlc::ZERO, T0, long_note).unwrap();
    let error = unsigned.clone().sign(&tablet.key).unwrap_err();
    assert_eq!(
        error,
        SignError::Field(FieldError {
            field: "body.note",
            rule: FieldRule::TooLong {
                chars: 501,
                max: 500
            }
        })
    );
    let forged = SignedEvent::from_parts(unsigned, [0; 64]).unwrap_err();
    assert_eq!(
        forged.to_string(),
        "body.note: is 501 characters long, the maximum is 500"
    );

    let mut blank = break_glass("TAB-1", "N-1");
    if let Body::BreakGlass { note, .. } = &mut blank {
        *note = "  ".to_owned();
    }
    let error = UnsignedEvent::next(tablet.signer, None, Hlc::ZERO, T0, blank)
        .unwrap()
        .sign(&tablet.key)
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "body.note: must not be empty or only whitespace"
    );

    let other_key = Tablet::new(2);
    let unsigned =
        UnsignedEvent::next(tablet.signer, None, Hlc::ZERO, T0, check_in("TAB-1", "N-1")).unwrap();
    assert!(matches!(
        unsigned.sign(&other_key.key),
        Err(SignError::SignerMismatch { .. })
    ));

    // 500 characters of four-byte emoji fit the note limit, and the event stays under 8 KiB.
    let emoji_note = Body::ReportMissing {
        device: device("TAB-1"),
        reported_by: badge("N-1"),
        note: Some("🩺".repeat(500)),
    };
    let event = tablet.sign(T0, emoji_note);
    assert!(event.to_json_bytes().len() <= MAX_EVENT_BYTES);
}

#[test]
fn oversized_input_is_refused_before_parsing() {
    let padded = format!(
        "{}{}",
        " ".repeat(MAX_EVENT_BYTES),
        String::from_utf8(first_event().to_json_bytes()).unwrap()
    );
    let error = SignedEvent::from_json_bytes(padded.as_bytes()).unwrap_err();
    assert_eq!(
        error,
        DecodeError::TooLarge {
            len: padded.len(),
            max: MAX_EVENT_BYTES
        }
    );
}

#[test]
fn chain_building_follows_the_previous_event() {
    let mut tablet = Tablet::new(1);
    let first = tablet.sign(T0, check_out("TAB-1", "N-1", None));
    // The wall clock went backwards; the hybrid clock does not.
    let second = tablet.sign(T0 - 5 * MINUTE, check_in("TAB-1", "N-1"));
    assert_eq!((second.seq(), second.prev()), (2, Some(first.id())));
    assert!(second.hlc() > first.hlc());
    assert_eq!(second.wall_ms(), T0 - 5 * MINUTE);
}

/// A bulk hand-out's check-out: `custodian` gave only a badge, `issuer` badge and PIN.
fn handed_out(custodian: &str, issuer: Option<PersonAuth>) -> Body {
    let mut body = check_out("TAB-1", custodian, Some("day"));
    if let Body::CheckOut {
        custodian,
        issued_by,
        ..
    } = &mut body
    {
        custodian.method = AuthMethod::Badge;
        *issued_by = issuer;
    }
    body
}

fn sign_error(body: Body) -> String {
    let tablet = Tablet::new(1);
    match UnsignedEvent::next(tablet.signer, None, Hlc::ZERO, T0, body)
        .unwrap()
        .sign(&tablet.key)
    {
        Ok(_) => "ok".to_owned(),
        Err(error) => error.to_string(),
    }
}

#[test]
fn a_badge_without_a_pin_needs_a_colleague_who_gave_badge_and_pin() {
    expect!["ok"].assert_eq(&sign_error(handed_out("N-1", Some(badge("C-1")))));
    expect!["body.issued_by: a badge without a PIN is accepted only for the custodian of a check-out issued by a colleague who gave badge and PIN"]
        .assert_eq(&sign_error(handed_out("N-1", None)));
    let mut badge_only_issuer = badge("C-1");
    badge_only_issuer.method = AuthMethod::Badge;
    expect!["body.issued_by.method: the person who issues a check-out must give badge and PIN"]
        .assert_eq(&sign_error(handed_out("N-1", Some(badge_only_issuer))));
    expect!["body.issued_by.staff: the person who issues a check-out cannot be its custodian"]
        .assert_eq(&sign_error(handed_out("N-1", Some(badge("N-1")))));

    // Anywhere else a badge alone is refused: a return or a transfer proves who is present.
    let mut check_in = check_in("TAB-1", "N-1");
    if let Body::CheckIn { returned_by, .. } = &mut check_in {
        returned_by.method = AuthMethod::Badge;
    }
    expect!["body.returned_by.method: a badge without a PIN is accepted only for the custodian of a check-out issued by a colleague who gave badge and PIN"]
        .assert_eq(&sign_error(check_in));

    // An issuer beside a custodian who gave badge and PIN too is a plain, allowed record.
    let mut both_authenticated = check_out("TAB-1", "N-1", None);
    if let Body::CheckOut { issued_by, .. } = &mut both_authenticated {
        *issued_by = Some(badge("C-1"));
    }
    expect!["ok"].assert_eq(&sign_error(both_authenticated));
}

#[test]
fn a_forged_badge_only_check_out_is_refused_when_decoding_too() {
    let tablet = Tablet::new(1);
    let allowed = tablet_sign(&tablet, handed_out("N-1", Some(badge("C-1"))));
    let mut value: serde_json::Value = serde_json::from_slice(&allowed.to_json_bytes()).unwrap();
    value["body"]
        .as_object_mut()
        .unwrap()
        .remove("issued_by")
        .unwrap();
    let error = SignedEvent::from_json_bytes(value.to_string().as_bytes()).unwrap_err();
    expect!["body.issued_by: a badge without a PIN is accepted only for the custodian of a check-out issued by a colleague who gave badge and PIN"]
        .assert_eq(&error.to_string());
    // The issuer is part of the signed bytes: the wire form names it.
    assert!(
        String::from_utf8(allowed.to_json_bytes())
            .unwrap()
            .contains(r#""issued_by":{"method":"badge_pin","staff":"C-1"}"#)
    );
}

fn tablet_sign(tablet: &Tablet, body: Body) -> SignedEvent {
    UnsignedEvent::next(tablet.signer, None, Hlc::ZERO, T0, body)
        .unwrap()
        .sign(&tablet.key)
        .unwrap()
}
