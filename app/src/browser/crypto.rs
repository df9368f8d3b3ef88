//! The tablet's signing key at rest: encrypted with AES-GCM under a WebCrypto key that is
//! generated non-extractable and stored as a `CryptoKey` object in IndexedDB. Structured clone
//! keeps it non-extractable, so neither the ed25519 seed nor the key that wraps it ever sits
//! readable in storage; script running in this origin can use it, which signing needs anyway.

use ed25519_dalek::SigningKey;
use js_sys::{Array, Uint8Array};
use thiserror::Error;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AesGcmParams, AesKeyGenParams, CryptoKey, SubtleCrypto};

/// Bound into every ciphertext as additional data, with the public key: a sealed key cannot be
/// swapped for another tablet's without the decryption failing.
const KEY_SEAL_CONTEXT: &str = "baton.tablet-key.v1\n";

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CryptoError {
    #[error("this browser offers no WebCrypto (it needs a secure context: HTTPS or localhost)")]
    Unavailable,
    #[error("WebCrypto failed: {0}")]
    Failed(String),
    #[error("the stored signing key could not be decrypted")]
    CannotUnseal,
}

/// The signing key as stored: the wrapping key object, the nonce and the ciphertext.
#[derive(Clone)]
pub struct SealedKey {
    pub wrapping_key: CryptoKey,
    pub iv: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

fn failed(error: JsValue) -> CryptoError {
    CryptoError::Failed(error.dyn_ref::<js_sys::Error>().map_or_else(
        || format!("{error:?}"),
        |error| String::from(error.message()),
    ))
}

fn subtle() -> Result<SubtleCrypto, CryptoError> {
    let crypto = web_sys::window()
        .ok_or(CryptoError::Unavailable)?
        .crypto()
        .map_err(|_| CryptoError::Unavailable)?;
    Ok(crypto.subtle())
}

fn gcm_params(iv: &[u8], public_key_hex: &str) -> AesGcmParams {
    let params = AesGcmParams::new("AES-GCM", &Uint8Array::from(iv));
    let context = format!("{KEY_SEAL_CONTEXT}{public_key_hex}");
    params.set_additional_data(&Uint8Array::from(context.as_bytes()));
    params
}

/// Encrypts the key's seed under a fresh non-extractable AES-256-GCM key.
pub async fn seal_signing_key(
    signing_key: &SigningKey,
    public_key_hex: &str,
) -> Result<SealedKey, CryptoError> {
    let subtle = subtle()?;
    let usages = Array::of2(&"encrypt".into(), &"decrypt".into());
    let generate = subtle
        .generate_key_with_object(&AesKeyGenParams::new("AES-GCM", 256), false, &usages)
        .map_err(failed)?;
    let wrapping_key: CryptoKey = JsFuture::from(generate)
        .await
        .map_err(failed)?
        .unchecked_into();
    let mut iv = vec![0_u8; 12];
    getrandom::getrandom(&mut iv).map_err(|error| CryptoError::Failed(error.to_string()))?;
    let encrypt = subtle
        .encrypt_with_object_and_u8_array(
            &gcm_params(&iv, public_key_hex),
            &wrapping_key,
            signing_key.as_bytes(),
        )
        .map_err(failed)?;
    let ciphertext = Uint8Array::new(&JsFuture::from(encrypt).await.map_err(failed)?).to_vec();
    Ok(SealedKey {
        wrapping_key,
        iv,
        ciphertext,
    })
}

/// Decrypts a sealed key. The seed passes through a buffer that is zeroed as soon as the key
/// is built.
pub async fn unseal_signing_key(
    sealed: &SealedKey,
    public_key_hex: &str,
) -> Result<SigningKey, CryptoError> {
    let decrypt = subtle()?
        .decrypt_with_object_and_u8_array(
            &gcm_params(&sealed.iv, public_key_hex),
            &sealed.wrapping_key,
            &sealed.ciphertext,
        )
        .map_err(failed)?;
    let plaintext = JsFuture::from(decrypt)
        .await
        .map_err(|_| CryptoError::CannotUnseal)?;
    let mut seed = Uint8Array::new(&plaintext).to_vec();
    let key = <[u8; 32]>::try_from(seed.as_slice())
        .map(|bytes| SigningKey::from_bytes(&bytes))
        .map_err(|_| CryptoError::CannotUnseal);
    seed.fill(0);
    Uint8Array::new(&plaintext).fill(0, 0, 32);
    key
}
