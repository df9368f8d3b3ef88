//! Signed JSON Web Tokens for the revocation connectors: OpenID Connect Back-Channel Logout
//! tokens and Security Event Tokens (RFC 8417), signed with the server's ed25519 key as JWS
//! `EdDSA` (RFC 8037), and the JWKS that receivers verify them with.
//!
//! Hand-written rather than through a JWT library: Baton only ever produces compact JWS with one
//! algorithm and one key type, which takes a few lines, and its key stays an ed25519-dalek key.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::Signer;

use baton_core::ids::SignerKey;

use crate::server_key::ServerKey;

/// The key id receivers find in the JWKS: the first 16 hex digits of the public key.
pub fn key_id(public_key: &SignerKey) -> String {
    public_key.to_hex()[..16].to_owned()
}

/// A compact JWS: base64url(header) "." base64url(claims) "." base64url(signature).
pub fn sign(server_key: &ServerKey, token_type: &str, claims: &serde_json::Value) -> String {
    let header = serde_json::json!({ "alg": "EdDSA", "typ": token_type, "kid": key_id(server_key.public_key()) });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = server_key.signing_key().sign(signing_input.as_bytes());
    format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature.to_bytes())
    )
}

/// The JSON Web Key Set with the server's public keys (RFC 8037 OKP, Ed25519), newest first:
/// every key of the history, so that a token signed just before a rotation (or by a replica that
/// has not yet installed the new key file) still verifies at the receiver.
pub fn jwks<'a>(public_keys: impl DoubleEndedIterator<Item = &'a SignerKey>) -> serde_json::Value {
    let keys: Vec<serde_json::Value> = public_keys
        .rev()
        .map(|public_key| {
            serde_json::json!({
                "kty": "OKP",
                "crv": "Ed25519",
                "x": URL_SAFE_NO_PAD.encode(public_key.as_bytes()),
                "kid": key_id(public_key),
                "use": "sig",
                "alg": "EdDSA",
            })
        })
        .collect();
    serde_json::json!({ "keys": keys })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signature, VerifyingKey};

    #[test]
    fn a_token_verifies_with_the_key_published_in_the_jwks() {
        let server_key = ServerKey::from_seed([5; 32]).unwrap();
        let token = sign(
            &server_key,
            "logout+jwt",
            &serde_json::json!({ "sub": "S-0001" }),
        );
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header["alg"], "EdDSA");
        assert_eq!(header["typ"], "logout+jwt");
        let jwks = jwks([server_key.public_key()].into_iter());
        assert_eq!(jwks["keys"][0]["kid"], header["kid"]);
        let x: [u8; 32] = URL_SAFE_NO_PAD
            .decode(jwks["keys"][0]["x"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        let key = VerifyingKey::from_bytes(&x).unwrap();
        let signature = Signature::from_slice(&URL_SAFE_NO_PAD.decode(parts[2]).unwrap()).unwrap();
        let signing_input = format!("{}.{}", parts[0], parts[1]);
        key.verify_strict(signing_input.as_bytes(), &signature)
            .unwrap();
        let tampered = format!(
            "{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(r#"{"sub":"S-0002"}"#)
        );
        assert!(key.verify_strict(tampered.as_bytes(), &signature).is_err());
    }
}
