//! Signed sync requests: how a tablet proves that a request comes from its enrolled key.
//!
//! The tablet signs, with the same ed25519 key that signs its events, a message binding the HTTP
//! method, the path with its query, the SHA-256 of the body, a timestamp and a random nonce. The
//! server checks the signature with `verify_strict`, refuses timestamps outside a window and
//! nonces it has seen within that window, so a captured request cannot be replayed and a stolen
//! enrollment code is of no use once redeemed. The format is specified in docs/PROTOCOL.md.

use ed25519_dalek::{Signature, Signer, SigningKey};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::ids::SignerKey;

/// Domain separation: a request signature can never be mistaken for an event signature.
pub const REQUEST_SIGNING_PREFIX: &str = "baton.request.v1\n";

/// Header names, as sent by tablets.
pub const HEADER_KEY: &str = "baton-key";
pub const HEADER_TIMESTAMP: &str = "baton-timestamp";
pub const HEADER_NONCE: &str = "baton-nonce";
pub const HEADER_SIGNATURE: &str = "baton-signature";
/// The API version a client speaks, sent on every API request; the server answers with the
/// version it used, or refuses one it does not speak (docs/PROTOCOL.md §2.9). A request without
/// it is taken as version 1, which is what every app before the header spoke.
pub const HEADER_API_VERSION: &str = "baton-api-version";
/// The version of the HTTP API this build speaks: the tablet sends it, the server accepts it.
pub const API_VERSION: u32 = 1;

/// Nonces are 16 to 64 lowercase hex characters.
pub const MIN_NONCE_CHARS: usize = 16;
pub const MAX_NONCE_CHARS: usize = 64;

/// The parts of a request that are signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestToSign<'a> {
    pub method: &'a str,
    /// Path and query exactly as sent, e.g. `/api/v1/sync/pull?after=10`.
    pub path_and_query: &'a str,
    pub body: &'a [u8],
    pub timestamp_ms: u64,
    pub nonce: &'a str,
}

impl RequestToSign<'_> {
    /// `baton.request.v1\n` METHOD `\n` PATH `\n` hex(SHA-256(body)) `\n` TIMESTAMP `\n` NONCE.
    pub fn message(&self) -> Vec<u8> {
        let body_hash = hex::encode(Sha256::digest(self.body));
        format!(
            "{REQUEST_SIGNING_PREFIX}{}\n{}\n{body_hash}\n{}\n{}",
            self.method.to_ascii_uppercase(),
            self.path_and_query,
            self.timestamp_ms,
            self.nonce
        )
        .into_bytes()
    }

    pub fn sign(&self, signing_key: &SigningKey) -> [u8; 64] {
        signing_key.sign(&self.message()).to_bytes()
    }
}

/// Why a signed request is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RequestAuthError {
    #[error(
        "{HEADER_NONCE}: must be {MIN_NONCE_CHARS} to {MAX_NONCE_CHARS} lowercase hex characters"
    )]
    BadNonce,
    #[error("{HEADER_SIGNATURE}: must be 128 hex characters (64 bytes)")]
    MalformedSignature,
    #[error(
        "{HEADER_TIMESTAMP}: {timestamp_ms} is more than {window_ms} ms away from the server's clock ({now_ms})"
    )]
    StaleTimestamp {
        timestamp_ms: u64,
        now_ms: u64,
        window_ms: u64,
    },
    #[error("{HEADER_SIGNATURE}: does not verify for the key {signer}")]
    BadSignature { signer: SignerKey },
}

/// Checks the nonce's shape, the timestamp's window and the signature. The caller still has to
/// check that the nonce is new and that the key is enrolled and not revoked.
pub fn verify_request(
    signer: &SignerKey,
    request: &RequestToSign<'_>,
    signature_hex: &str,
    now_ms: u64,
    window_ms: u64,
) -> Result<(), RequestAuthError> {
    let nonce_ok = (MIN_NONCE_CHARS..=MAX_NONCE_CHARS).contains(&request.nonce.len())
        && request
            .nonce
            .bytes()
            .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte));
    if !nonce_ok {
        return Err(RequestAuthError::BadNonce);
    }
    if request.timestamp_ms.abs_diff(now_ms) > window_ms {
        return Err(RequestAuthError::StaleTimestamp {
            timestamp_ms: request.timestamp_ms,
            now_ms,
            window_ms,
        });
    }
    let signature_bytes: [u8; 64] = hex::decode(signature_hex)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or(RequestAuthError::MalformedSignature)?;
    let signature = Signature::from_bytes(&signature_bytes);
    signer
        .verifying_key()
        .verify_strict(&request.message(), &signature)
        .map_err(|_| RequestAuthError::BadSignature { signer: *signer })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW_MS: u64 = 1_764_000_000_000;
    const WINDOW_MS: u64 = 300_000;

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7; 32])
    }

    fn request(body: &[u8]) -> RequestToSign<'_> {
        RequestToSign {
            method: "POST",
            path_and_query: "/api/v1/sync/push",
            body,
            timestamp_ms: NOW_MS,
            nonce: "00112233445566778899aabbccddeeff",
        }
    }

    fn check(request: &RequestToSign<'_>, signature: &[u8; 64]) -> Result<(), RequestAuthError> {
        let signer = SignerKey::from_signing_key(&key());
        verify_request(&signer, request, &hex::encode(signature), NOW_MS, WINDOW_MS)
    }

    #[test]
    fn the_message_binds_every_part_in_a_fixed_layout() {
        let message = String::from_utf8(request(b"{}").message()).unwrap();
        assert_eq!(
            message,
            "baton.request.v1\nPOST\n/api/v1/sync/push\n\
             44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\n\
             1764000000000\n00112233445566778899aabbccddeeff"
        );
    }

    #[test]
    fn a_signed_request_verifies_and_any_change_to_it_does_not() {
        let original = request(b"{\"events\":[]}");
        let signature = original.sign(&key());
        assert_eq!(check(&original, &signature), Ok(()));

        let other_body = request(b"{\"events\":[1]}");
        let other_path = RequestToSign {
            path_and_query: "/api/v1/sync/pull",
            ..original
        };
        let other_method = RequestToSign {
            method: "PUT",
            ..original
        };
        let other_nonce = RequestToSign {
            nonce: "ffffffffffffffffffffffffffffffff",
            ..original
        };
        let other_time = RequestToSign {
            timestamp_ms: NOW_MS + 1,
            ..original
        };
        for changed in [
            other_body,
            other_path,
            other_method,
            other_nonce,
            other_time,
        ] {
            assert!(
                matches!(
                    check(&changed, &signature),
                    Err(RequestAuthError::BadSignature { .. })
                ),
                "{changed:?}"
            );
        }
        let mut flipped = signature;
        flipped[10] ^= 1;
        assert!(matches!(
            check(&original, &flipped),
            Err(RequestAuthError::BadSignature { .. })
        ));
    }

    #[test]
    fn timestamps_outside_the_window_and_odd_nonces_are_refused_before_any_cryptography() {
        let late = RequestToSign {
            timestamp_ms: NOW_MS - WINDOW_MS - 1,
            ..request(b"")
        };
        let signature = late.sign(&key());
        assert!(matches!(
            check(&late, &signature),
            Err(RequestAuthError::StaleTimestamp { .. })
        ));

        for nonce in [
            "short",
            "00112233445566778899AABBCCDDEEFF",
            "0011223344556677889g",
        ] {
            let odd = RequestToSign {
                nonce,
                ..request(b"")
            };
            assert_eq!(
                check(&odd, &odd.sign(&key())),
                Err(RequestAuthError::BadNonce),
                "{nonce}"
            );
        }
        let signer = SignerKey::from_signing_key(&key());
        assert_eq!(
            verify_request(&signer, &request(b""), "abcd", NOW_MS, WINDOW_MS),
            Err(RequestAuthError::MalformedSignature)
        );
    }
}
