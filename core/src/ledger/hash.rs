//! The hashes of the audit ledger: RFC 6962 §2.1 leaf and node hashes over SHA-256.
//!
//! The one-byte prefixes keep a leaf apart from an interior node: without them, the hash of two
//! children could be presented as the hash of a leaf whose bytes happen to be their
//! concatenation, and a proof could claim an entry that was never logged (the second-preimage
//! attack that RFC 6962 §2.1 closes).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::ids::{HexError, decode_lower_hex};

/// Prefix of a leaf's hash input.
pub const LEAF_PREFIX: u8 = 0x00;
/// Prefix of an interior node's hash input.
pub const NODE_PREFIX: u8 = 0x01;

/// A SHA-256 value in the ledger: a leaf hash, an interior node or a tree's root.
///
/// Serialised as 64 lowercase hex digits, like event ids.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LedgerHash(pub [u8; 32]);

impl LedgerHash {
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn to_hex(&self) -> String {
        crate::ids::encode_lower_hex(&self.0)
    }

    pub fn from_hex(text: &str) -> Result<LedgerHash, HexError> {
        decode_lower_hex("ledger hash", text).map(LedgerHash)
    }
}

impl fmt::Display for LedgerHash {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.to_hex())
    }
}

impl fmt::Debug for LedgerHash {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Eight digits tell hashes apart in test output, as for event ids.
        write!(formatter, "LedgerHash({})", &self.to_hex()[..8])
    }
}

impl Serialize for LedgerHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for LedgerHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<LedgerHash, D::Error> {
        let text = String::deserialize(deserializer)?;
        LedgerHash::from_hex(&text).map_err(serde::de::Error::custom)
    }
}

/// The hash of a ledger entry as a leaf: SHA-256(0x00 ‖ entry).
pub fn leaf_hash(entry: &[u8]) -> LedgerHash {
    let mut hasher = Sha256::new();
    hasher.update([LEAF_PREFIX]);
    hasher.update(entry);
    LedgerHash(hasher.finalize().into())
}

/// The hash of an interior node: SHA-256(0x01 ‖ left ‖ right).
pub fn node_hash(left: &LedgerHash, right: &LedgerHash) -> LedgerHash {
    let mut hasher = Sha256::new();
    hasher.update([NODE_PREFIX]);
    hasher.update(left.0);
    hasher.update(right.0);
    LedgerHash(hasher.finalize().into())
}

/// The root of the empty tree: SHA-256 of the empty string.
pub fn empty_root() -> LedgerHash {
    LedgerHash(Sha256::digest([]).into())
}

/// The size of the left subtree when a tree of `size` leaves is split: the largest power of two
/// strictly smaller than `size` (RFC 6962 §2.1). `size` must be at least 2.
pub(crate) fn split_point(size: u64) -> u64 {
    debug_assert!(size >= 2, "only trees of two or more leaves are split");
    1 << (63 - (size - 1).leading_zeros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_point_is_the_largest_power_of_two_below_the_size() {
        let cases = [(2, 1), (3, 2), (4, 2), (5, 4), (8, 4), (9, 8), (1000, 512)];
        for (size, expected) in cases {
            assert_eq!(split_point(size), expected, "size {size}");
        }
        assert_eq!(split_point(u64::MAX), 1 << 63);
        assert_eq!(split_point((1 << 63) + 1), 1 << 63);
        assert_eq!(split_point(1 << 63), 1 << 62);
    }

    #[test]
    fn hashes_serialise_as_lowercase_hex_only() {
        let hash = leaf_hash(b"");
        let json = serde_json::to_string(&hash).unwrap();
        assert_eq!(
            json,
            "\"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d\""
        );
        assert_eq!(serde_json::from_str::<LedgerHash>(&json).unwrap(), hash);
        let error = serde_json::from_str::<LedgerHash>(&json.to_uppercase()).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("ledger hash must be lowercase hex; found 'E' at index 1"),
            "{error}"
        );
    }
}
