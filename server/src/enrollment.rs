//! Enrollment codes: single-use, short-lived, bound to a site and a ward. A manager creates one
//! (dashboard or `baton enrollment-code`); a tablet redeems it once with its new public key.
//! Only the code's SHA-256 is stored.

use rand::Rng;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};

use crate::storage::{EnrollmentCode, Storage, StorageError};

/// Letters and digits that cannot be misread from a screen (no 0/O, 1/I/L, U).
const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTVWXYZ23456789";
/// Ten characters from 30: about 49 bits, far beyond guessing within a code's lifetime.
const CODE_CHARS: usize = 10;
pub const DEFAULT_CODE_MINUTES: u32 = 15;
pub const MAX_CODE_MINUTES: u32 = 24 * 60;

/// A new code as shown to the manager, `ABCDE-FGHJK`.
pub fn new_code() -> String {
    let characters: String = (0..CODE_CHARS)
        .map(|_| ALPHABET[OsRng.gen_range(0..ALPHABET.len())] as char)
        .collect();
    format!("{}-{}", &characters[..5], &characters[5..])
}

/// The stored form: SHA-256 of the code without separators or case.
pub fn code_hash(code: &str) -> String {
    let normalized: String = code
        .chars()
        .filter(|character| character.is_ascii_alphanumeric())
        .map(|character| character.to_ascii_uppercase())
        .collect();
    hex::encode(Sha256::digest(normalized.as_bytes()))
}

/// Creates and stores a code; returns it with its expiry (ms since the epoch).
pub async fn create_code(
    storage: &dyn Storage,
    site_id: &str,
    ward_id: &str,
    created_by: &str,
    minutes: u32,
    now_ms: u64,
) -> Result<(String, u64), StorageError> {
    let code = new_code();
    let expires_at_ms = now_ms + u64::from(minutes) * 60_000;
    storage
        .create_enrollment_code(&EnrollmentCode {
            code_hash: code_hash(&code),
            site_id: site_id.to_owned(),
            ward_id: ward_id.to_owned(),
            created_by: created_by.to_owned(),
            created_at_ms: now_ms as i64,
            expires_at_ms: expires_at_ms as i64,
        })
        .await?;
    Ok((code, expires_at_ms))
}

/// The code as an SVG QR code for the dashboard: a tablet's camera reads it into the code field.
pub fn code_qr_svg(code: &str) -> String {
    match qrcode::QrCode::new(code.as_bytes()) {
        Ok(qr) => qr
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .build(),
        // An 11-character code always fits; should encoding fail, the text code still works.
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_readable_and_their_hash_ignores_case_and_separators() {
        let code = new_code();
        assert_eq!(code.len(), 11);
        assert!(
            code.chars()
                .all(|c| c == '-' || ALPHABET.contains(&(c as u8))),
            "{code}"
        );
        assert_eq!(
            code_hash(&code),
            code_hash(&code.to_lowercase().replace('-', " "))
        );
        assert_ne!(code_hash("ABCDE-FGHJK"), code_hash("ABCDE-FGHJM"));
    }

    #[test]
    fn the_qr_code_is_an_svg_that_differs_per_code() {
        let svg = code_qr_svg("ABCDE-FGHJK");
        assert!(
            svg.starts_with("<?xml") && svg.contains("<svg"),
            "{}",
            &svg[..60.min(svg.len())]
        );
        assert_ne!(svg, code_qr_svg("ABCDE-FGHJM"));
    }
}
