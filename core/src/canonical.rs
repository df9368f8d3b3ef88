//! RFC 8785 (JSON Canonicalization Scheme) writer for the subset of JSON that Baton signs.
//!
//! We sign JCS rather than deterministic CBOR because an auditor can read the signed bytes and
//! every language used around the hospital already has a JSON parser. The subset is smaller than
//! full JCS so that an independent implementation only needs string escaping and key sorting:
//! objects, arrays, strings, booleans, null and integers in the I-JSON safe range. Floats are
//! refused because their JCS form needs the ECMAScript number formatter, which few languages
//! reproduce exactly. Object keys must be ASCII so that JCS's UTF-16 key order and plain byte
//! order agree.

use serde_json::{Number, Value};
use thiserror::Error;

/// The largest integer that survives a round trip through an IEEE 754 double, 2^53 - 1.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Why a JSON value has no canonical encoding in Baton's JCS subset.
///
/// `path` is a JSON Pointer (RFC 6901) to the offending value, such as `/body/expected_return_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CanonicalError {
    #[error("at \"{path}\": floating-point number {number} is not allowed in canonical JSON")]
    Float { path: String, number: String },
    #[error("at \"{path}\": integer {number} is outside the safe range -(2^53-1)..=2^53-1")]
    IntegerOutOfRange { path: String, number: String },
    #[error("at \"{path}\": object key {key:?} is not ASCII")]
    NonAsciiKey { path: String, key: String },
    /// serde_json reads an object whose first key is in its private namespace as one of its
    /// own types when its `raw_value` or `arbitrary_precision` feature is on (axum and sqlx
    /// turn `raw_value` on in the server), so such an object would not read back the same in
    /// every build; canonical order puts `$` first. Found by fuzzing (docs/RELIABILITY.md).
    #[error("at \"{path}\": object key {key:?} is reserved by serde_json")]
    ReservedKey { path: String, key: String },
}

/// The prefix of the object keys serde_json reserves for itself.
const SERDE_JSON_PRIVATE_PREFIX: &str = "$serde_json::private::";

impl CanonicalError {
    /// Prefixes the pointer with one more segment while the error travels up the recursion, so
    /// that the happy path never allocates a path.
    fn nested_in(self, segment: &str) -> CanonicalError {
        let prefix = |path: String| format!("/{}{}", escape_pointer_segment(segment), path);
        match self {
            CanonicalError::Float { path, number } => CanonicalError::Float {
                path: prefix(path),
                number,
            },
            CanonicalError::IntegerOutOfRange { path, number } => {
                CanonicalError::IntegerOutOfRange {
                    path: prefix(path),
                    number,
                }
            }
            CanonicalError::NonAsciiKey { path, key } => CanonicalError::NonAsciiKey {
                path: prefix(path),
                key,
            },
            CanonicalError::ReservedKey { path, key } => CanonicalError::ReservedKey {
                path: prefix(path),
                key,
            },
        }
    }
}

fn escape_pointer_segment(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// Returns the canonical encoding of `value`.
pub fn to_canonical_bytes(value: &Value) -> Result<Vec<u8>, CanonicalError> {
    let mut out = Vec::with_capacity(512);
    write_canonical(value, &mut out)?;
    Ok(out)
}

/// Appends the canonical encoding of `value` to `out`.
///
/// On error `out` holds a partial encoding and must be discarded.
pub fn write_canonical(value: &Value, out: &mut Vec<u8>) -> Result<(), CanonicalError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(number) => write_integer(number, out)?,
        Value::String(text) => write_string(text, out),
        Value::Array(items) => {
            out.push(b'[');
            for (item_idx, item) in items.iter().enumerate() {
                if item_idx > 0 {
                    out.push(b',');
                }
                write_canonical(item, out)
                    .map_err(|error| error.nested_in(&item_idx.to_string()))?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            // The writer sorts keys itself: serde_json's map order depends on whether some other
            // crate in the build enabled the `preserve_order` feature.
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|left, right| left.0.as_bytes().cmp(right.0.as_bytes()));
            out.push(b'{');
            for (entry_idx, (key, member)) in entries.into_iter().enumerate() {
                if !key.is_ascii() {
                    return Err(CanonicalError::NonAsciiKey {
                        path: String::new(),
                        key: key.clone(),
                    });
                }
                if key.starts_with(SERDE_JSON_PRIVATE_PREFIX) {
                    return Err(CanonicalError::ReservedKey {
                        path: String::new(),
                        key: key.clone(),
                    });
                }
                if entry_idx > 0 {
                    out.push(b',');
                }
                write_string(key, out);
                out.push(b':');
                write_canonical(member, out).map_err(|error| error.nested_in(key))?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn write_integer(number: &Number, out: &mut Vec<u8>) -> Result<(), CanonicalError> {
    if let Some(unsigned) = number.as_u64() {
        if unsigned > MAX_SAFE_INTEGER {
            return Err(CanonicalError::IntegerOutOfRange {
                path: String::new(),
                number: number.to_string(),
            });
        }
        out.extend_from_slice(unsigned.to_string().as_bytes());
        return Ok(());
    }
    if let Some(signed) = number.as_i64() {
        if signed.unsigned_abs() > MAX_SAFE_INTEGER {
            return Err(CanonicalError::IntegerOutOfRange {
                path: String::new(),
                number: number.to_string(),
            });
        }
        out.extend_from_slice(signed.to_string().as_bytes());
        return Ok(());
    }
    Err(CanonicalError::Float {
        path: String::new(),
        number: number.to_string(),
    })
}

/// Writes a JSON string the way ECMAScript's `JSON.stringify` does, which is what JCS requires:
/// only the quote, the backslash and control characters are escaped, everything else is raw UTF-8.
fn write_string(text: &str, out: &mut Vec<u8>) {
    const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = text.as_bytes();
    let mut run_start = 0;
    for (byte_idx, &byte) in bytes.iter().enumerate() {
        let short_escape: Option<&[u8]> = match byte {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            0x08 => Some(b"\\b"),
            b'\t' => Some(b"\\t"),
            b'\n' => Some(b"\\n"),
            0x0c => Some(b"\\f"),
            b'\r' => Some(b"\\r"),
            _ => None,
        };
        if short_escape.is_none() && byte >= 0x20 {
            continue;
        }
        out.extend_from_slice(&bytes[run_start..byte_idx]);
        run_start = byte_idx + 1;
        match short_escape {
            Some(escape) => out.extend_from_slice(escape),
            None => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX_DIGITS[usize::from(byte >> 4)]);
                out.push(HEX_DIGITS[usize::from(byte & 0x0f)]);
            }
        }
    }
    out.extend_from_slice(&bytes[run_start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::{Expect, expect};

    #[test]
    fn keys_in_serde_jsons_private_namespace_are_refused() {
        let value = serde_json::json!({
            "body": { "$serde_json::private::RawValue": 1 },
            "a": 2,
        });
        assert_eq!(
            to_canonical_bytes(&value),
            Err(CanonicalError::ReservedKey {
                path: "/body".to_owned(),
                key: "$serde_json::private::RawValue".to_owned(),
            })
        );
        assert!(to_canonical_bytes(&serde_json::json!({ "$serde_json": 1 })).is_ok());
    }

    /// Parses `input` as JSON and compares its canonical form, or the error, with `expected`.
    fn check(input: &str, expected: Expect) {
        let value: Value = serde_json::from_str(input).expect("test input is valid JSON");
        let actual = match to_canonical_bytes(&value) {
            Ok(bytes) => String::from_utf8(bytes).expect("canonical JSON is UTF-8"),
            Err(error) => format!("error: {error}"),
        };
        expected.assert_eq(&actual);
    }

    #[test]
    fn rfc8785_section_3_2_2_string_and_literals() {
        // The RFC's example without its "numbers" member, which lies outside our subset.
        check(
            r#"{
                "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
                "literals": [null, true, false]
            }"#,
            expect![[r#"{"literals":[null,true,false],"string":"€$\u000f\nA'B\"\\\\\"/"}"#]],
        );
    }

    #[test]
    fn rfc8785_section_3_2_2_full_example_is_refused_for_its_floats() {
        check(
            r#"{
                "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
                "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
                "literals": [null, true, false]
            }"#,
            expect![[
                r#"error: at "/numbers/0": floating-point number 333333333.33333325 is not allowed in canonical JSON"#
            ]],
        );
    }

    #[test]
    fn rfc8785_section_3_2_3_sorting_ascii_keys() {
        check(
            r#"{"1": "One", "\r": "Carriage Return"}"#,
            expect![[r#"{"\r":"Carriage Return","1":"One"}"#]],
        );
    }

    #[test]
    fn rfc8785_section_3_2_3_sorting_example_is_refused_for_non_ascii_keys() {
        check(
            r#"{"\u20ac": "Euro Sign", "\r": "Carriage Return", "1": "One", "\u0080": "Control"}"#,
            expect![[r#"error: at "": object key "\u{80}" is not ASCII"#]],
        );
    }

    #[test]
    fn rfc8785_appendix_b_integers_in_the_safe_range() {
        check(
            "[0, 9007199254740991, -9007199254740991, 1]",
            expect!["[0,9007199254740991,-9007199254740991,1]"],
        );
    }

    #[test]
    fn minus_zero_is_refused_because_serde_json_reads_it_as_a_float() {
        // Baton's fields are unsigned integers, so a producer has no reason to write -0.
        check(
            "-0",
            expect![[
                r#"error: at "": floating-point number -0.0 is not allowed in canonical JSON"#
            ]],
        );
    }

    #[test]
    fn integers_beyond_the_safe_range_are_refused() {
        check(
            r#"{"a": {"b~/c": [9007199254740992]}}"#,
            expect![[
                r#"error: at "/a/b~0~1c/0": integer 9007199254740992 is outside the safe range -(2^53-1)..=2^53-1"#
            ]],
        );
        check(
            "-9007199254740992",
            expect![[
                r#"error: at "": integer -9007199254740992 is outside the safe range -(2^53-1)..=2^53-1"#
            ]],
        );
    }

    #[test]
    fn control_characters_use_short_forms_or_lowercase_unicode_escapes() {
        check(
            r#""\u0000\u0008\u0009\u000a\u000b\u000c\u000d\u001f""#,
            expect![[r#""\u0000\b\t\n\u000b\f\r\u001f""#]],
        );
    }

    #[test]
    fn delete_and_non_ascii_characters_are_written_raw() {
        let value = Value::String("\u{7f}é€😀".to_owned());
        assert_eq!(
            to_canonical_bytes(&value).unwrap(),
            "\"\u{7f}é€😀\"".as_bytes()
        );
    }

    #[test]
    fn nested_objects_are_sorted_by_byte_order_at_every_level() {
        check(
            r#"{"b": {"z": 1, "a": [{"y": true, "x": null}]}, "a": "", "B": false}"#,
            expect![[r#"{"B":false,"a":"","b":{"a":[{"x":null,"y":true}],"z":1}}"#]],
        );
    }
}
