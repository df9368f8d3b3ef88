//! Signing keys drawn from the browser's secure random source (WebCrypto `getRandomValues`,
//! reached through getrandom's `js` backend).

use ed25519_dalek::{SigningKey, VerifyingKey};

pub fn generate_signing_key() -> Result<SigningKey, String> {
    let mut seed = [0_u8; 32];
    getrandom::getrandom(&mut seed).map_err(|error| error.to_string())?;
    Ok(SigningKey::from_bytes(&seed))
}

/// The public key in hex: what a manager compares at enrollment.
pub fn fingerprint(verifying_key: &VerifyingKey) -> String {
    hex::encode(verifying_key.as_bytes())
}
