//! Validated identifiers: devices, staff, wards, sites and events.
//!
//! Identifiers are opaque codes issued by the hospital (asset tags, staff numbers, ward codes),
//! never names: the signed log is kept for years and must not accumulate personal data beyond a
//! staff number. The allowed alphabet is small so that identifiers are safe in URLs, file names
//! and log lines without escaping.

use std::fmt;

use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

/// The longest identifier accepted, in characters (all of them ASCII).
pub const MAX_IDENTIFIER_LEN: usize = 64;

/// Why a string is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IdentifierError {
    #[error("{kind} must not be empty")]
    Empty { kind: &'static str },
    #[error("{kind} is {len} characters long, the maximum is {MAX_IDENTIFIER_LEN}")]
    TooLong { kind: &'static str, len: usize },
    #[error("{kind} contains {character:?} at index {index}; only A-Z a-z 0-9 . _ : - are allowed")]
    InvalidCharacter {
        kind: &'static str,
        character: char,
        index: usize,
    },
}

fn validate_identifier(kind: &'static str, text: &str) -> Result<(), IdentifierError> {
    if text.is_empty() {
        return Err(IdentifierError::Empty { kind });
    }
    let allowed = |character: char| {
        character.is_ascii_alphanumeric() || matches!(character, '.' | '_' | ':' | '-')
    };
    if let Some((index, character)) = text
        .chars()
        .enumerate()
        .find(|(_, character)| !allowed(*character))
    {
        return Err(IdentifierError::InvalidCharacter {
            kind,
            character,
            index,
        });
    }
    // Every allowed character is ASCII, so the byte length is the character count.
    if text.len() > MAX_IDENTIFIER_LEN {
        return Err(IdentifierError::TooLong {
            kind,
            len: text.len(),
        });
    }
    Ok(())
}

macro_rules! string_identifier {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Validates `text` as this kind of identifier.
            pub fn new(text: impl Into<String>) -> Result<$name, IdentifierError> {
                let text = text.into();
                validate_identifier($kind, &text)?;
                Ok($name(text))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdentifierError;

            fn try_from(text: String) -> Result<$name, IdentifierError> {
                $name::new(text)
            }
        }

        impl From<$name> for String {
            fn from(identifier: $name) -> String {
                identifier.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str(&self.0)
            }
        }
    };
}

string_identifier!(
    /// A shared device, usually its asset tag.
    DeviceId,
    "device id"
);
string_identifier!(
    /// A member of staff, by staff number; never a name.
    StaffId,
    "staff id"
);
string_identifier!(
    /// A ward or unit code.
    WardId,
    "ward id"
);
string_identifier!(
    /// A hospital site.
    SiteId,
    "site id"
);

/// Why a hexadecimal field could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HexError {
    #[error("{kind} must be {expected} lowercase hex digits, found {found} characters")]
    WrongLength {
        kind: &'static str,
        expected: usize,
        found: usize,
    },
    #[error("{kind} must be lowercase hex; found {character:?} at index {index}")]
    InvalidDigit {
        kind: &'static str,
        character: char,
        index: usize,
    },
}

/// Decodes exactly `N` bytes from lowercase hex.
///
/// Uppercase digits are refused so that every value has exactly one spelling on the wire.
/// Lowercase hex of 32 bytes (an event id, a key, a hash). `hex::encode` builds its string one
/// `char` at a time, which the ingest profile showed at several percent of the server's CPU;
/// `encode_to_slice` writes the bytes directly.
pub(crate) fn encode_lower_hex(bytes: &[u8; 32]) -> String {
    let mut digits = [0u8; 64];
    hex::encode_to_slice(bytes, &mut digits).expect("64 digits for 32 bytes");
    String::from_utf8(digits.to_vec()).expect("hex digits are ASCII")
}

pub(crate) fn decode_lower_hex<const N: usize>(
    kind: &'static str,
    text: &str,
) -> Result<[u8; N], HexError> {
    if let Some((index, character)) = text
        .chars()
        .enumerate()
        .find(|(_, character)| !matches!(character, '0'..='9' | 'a'..='f'))
    {
        return Err(HexError::InvalidDigit {
            kind,
            character,
            index,
        });
    }
    if text.len() != 2 * N {
        return Err(HexError::WrongLength {
            kind,
            expected: 2 * N,
            found: text.len(),
        });
    }
    let mut bytes = [0u8; N];
    hex::decode_to_slice(text, &mut bytes).expect("length and digits were checked above");
    Ok(bytes)
}

/// An event's identity: the SHA-256 of its canonical encoding without the signature.
///
/// Serialised as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventId(pub [u8; 32]);

impl EventId {
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn to_hex(&self) -> String {
        encode_lower_hex(&self.0)
    }

    pub fn from_hex(text: &str) -> Result<EventId, HexError> {
        decode_lower_hex("event id", text).map(EventId)
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.to_hex())
    }
}

impl fmt::Debug for EventId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Eight digits are enough to tell events apart in test output and logs.
        write!(formatter, "EventId({})", &self.to_hex()[..8])
    }
}

impl Serialize for EventId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for EventId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<EventId, D::Error> {
        let text = String::deserialize(deserializer)?;
        EventId::from_hex(&text).map_err(serde::de::Error::custom)
    }
}

/// Why 32 bytes are not an acceptable Ed25519 public key for a Baton signer.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SignerKeyError {
    #[error(transparent)]
    Hex(#[from] HexError),
    #[error("signer key is not the encoding of a point on the Ed25519 curve")]
    NotACurvePoint,
    #[error("signer key is a weak key of small order, which would let anyone forge signatures")]
    WeakKey,
}

std::thread_local! {
    /// The last bytes `SignerKey::from_bytes` accepted on this thread.
    static LAST_ACCEPTED_KEY: std::cell::Cell<Option<[u8; 32]>> = const { std::cell::Cell::new(None) };
}

/// The Ed25519 public key of a signer (a tablet or the authority).
///
/// Construction rejects bytes that do not decode to a curve point and the small-order (weak) keys,
/// because batch verification does not check for them and a weak key's signatures prove nothing.
/// The key is kept as its 32-byte encoding; verifiers keep the decompressed form in their key set.
/// Serialised as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SignerKey([u8; 32]);

impl SignerKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Result<SignerKey, SignerKeyError> {
        // Whether 32 bytes are a curve point is a function of the bytes alone, and checking it
        // decompresses the point, about a third of a signature check's cost. Every event of a
        // push or a pull page carries the same few keys, so the last key this thread accepted
        // is remembered and not checked again.
        if LAST_ACCEPTED_KEY.get() == Some(bytes) {
            return Ok(SignerKey(bytes));
        }
        let verifying_key =
            VerifyingKey::from_bytes(&bytes).map_err(|_| SignerKeyError::NotACurvePoint)?;
        if verifying_key.is_weak() {
            return Err(SignerKeyError::WeakKey);
        }
        LAST_ACCEPTED_KEY.set(Some(bytes));
        Ok(SignerKey(bytes))
    }

    /// The public key of a tablet's or the authority's own signing key.
    pub fn from_signing_key(signing_key: &SigningKey) -> SignerKey {
        // A key derived from a secret scalar is never of small order.
        SignerKey(signing_key.verifying_key().to_bytes())
    }

    pub fn from_hex(text: &str) -> Result<SignerKey, SignerKeyError> {
        SignerKey::from_bytes(decode_lower_hex("signer key", text)?)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn to_hex(&self) -> String {
        encode_lower_hex(&self.0)
    }

    /// Decompresses the key for verification.
    pub fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey::from_bytes(&self.0).expect("validated when the signer key was constructed")
    }
}

impl fmt::Display for SignerKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.to_hex())
    }
}

impl fmt::Debug for SignerKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "SignerKey({})", &self.to_hex()[..8])
    }
}

impl Serialize for SignerKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for SignerKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<SignerKey, D::Error> {
        let text = String::deserialize(deserializer)?;
        SignerKey::from_hex(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::{Expect, expect};

    fn check_device(input: &str, expected: Expect) {
        let actual = match DeviceId::new(input) {
            Ok(device) => format!("ok {device}"),
            Err(error) => format!("error: {error}"),
        };
        expected.assert_eq(&actual);
    }

    #[test]
    fn ids_are_written_as_the_hex_crate_writes_them_and_read_back() {
        let bytes: [u8; 32] = std::array::from_fn(|index| (index * 37 + 5) as u8);
        let id = EventId(bytes);
        assert_eq!(id.to_hex(), hex::encode(bytes));
        assert_eq!(EventId::from_hex(&id.to_hex()).unwrap(), id);
        assert_eq!(encode_lower_hex(&[0xab; 32]), "ab".repeat(32));
    }

    #[test]
    fn identifier_rules() {
        check_device("TAB-0042", expect!["ok TAB-0042"]);
        check_device("ward:4B.bed_12", expect!["ok ward:4B.bed_12"]);
        check_device("", expect!["error: device id must not be empty"]);
        check_device(
            "TAB 42",
            expect![[
                r#"error: device id contains ' ' at index 3; only A-Z a-z 0-9 . _ : - are allowed"#
            ]],
        );
        check_device(
            "Tablé",
            expect![[
                r#"error: device id contains 'é' at index 4; only A-Z a-z 0-9 . _ : - are allowed"#
            ]],
        );
        check_device(
            &"x".repeat(64),
            expect![[r#"ok xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"#]],
        );
        check_device(
            &"x".repeat(65),
            expect!["error: device id is 65 characters long, the maximum is 64"],
        );
    }

    #[test]
    fn identifiers_validate_when_deserialised() {
        let staff: StaffId = serde_json::from_str(r#""N-1234""#).unwrap();
        assert_eq!(staff.as_str(), "N-1234");
        let error = serde_json::from_str::<WardId>(r#""4B/east""#).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("ward id contains '/' at index 2"),
            "{error}"
        );
    }

    #[test]
    fn event_ids_are_lowercase_hex_only() {
        let id = EventId([0xab; 32]);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{}\"", "ab".repeat(32)));
        assert_eq!(serde_json::from_str::<EventId>(&json).unwrap(), id);
        let upper = format!("\"{}\"", "AB".repeat(32));
        let error = serde_json::from_str::<EventId>(&upper).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("event id must be lowercase hex; found 'A' at index 0"),
            "{error}"
        );
        let short = EventId::from_hex("abcd").unwrap_err();
        assert_eq!(
            short,
            HexError::WrongLength {
                kind: "event id",
                expected: 64,
                found: 4
            }
        );
    }

    #[test]
    fn signer_keys_reject_weak_and_invalid_points() {
        let signing_key = SigningKey::from_bytes(&[7u8; 32]);
        let signer = SignerKey::from_signing_key(&signing_key);
        assert_eq!(SignerKey::from_hex(&signer.to_hex()), Ok(signer));
        // The identity point (y = 1) has order one: a weak key.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(
            SignerKey::from_bytes(identity),
            Err(SignerKeyError::WeakKey)
        );
        // y = 2 has no matching x on the curve.
        let mut off_curve = [0u8; 32];
        off_curve[0] = 2;
        assert_eq!(
            SignerKey::from_bytes(off_curve),
            Err(SignerKeyError::NotACurvePoint)
        );
        let error = serde_json::from_str::<SignerKey>(&format!("\"{}\"", hex::encode(identity)))
            .unwrap_err();
        assert!(
            error.to_string().starts_with("signer key is a weak key"),
            "{error}"
        );
    }
    #[test]
    fn remembering_the_last_accepted_key_never_accepts_another() {
        let signer = SignerKey::from_signing_key(&SigningKey::from_bytes(&[9u8; 32]));
        let bytes = *signer.as_bytes();
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let mut off_curve = [0u8; 32];
        off_curve[0] = 2;
        // Accepted, then remembered: the same bytes again, then bad keys between good ones.
        for _ in 0..2 {
            assert_eq!(SignerKey::from_bytes(bytes), Ok(signer));
            assert_eq!(
                SignerKey::from_bytes(identity),
                Err(SignerKeyError::WeakKey)
            );
            assert_eq!(SignerKey::from_bytes(bytes), Ok(signer));
            assert_eq!(
                SignerKey::from_bytes(off_curve),
                Err(SignerKeyError::NotACurvePoint)
            );
        }
        // A refused key is never the one remembered.
        assert_eq!(
            SignerKey::from_bytes(off_curve),
            Err(SignerKeyError::NotACurvePoint)
        );
    }
}
