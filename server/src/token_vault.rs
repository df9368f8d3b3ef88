//! The key that seals the external OAuth tokens apps register for RFC 7009 revocation, and the
//! secrets of the connectors made through the admin API.
//!
//! Baton must later send such a token back to the authorization server in the clear, so it
//! cannot keep only a hash as it does for its own tokens. Each token is sealed with AES-256-GCM
//! under a key kept in an owner-only file of the data directory (never in the database, so a
//! copy of the database or of a backup alone does not reveal a token), with a fresh random
//! nonce, and with the custody and connector as associated data: a sealed token moved to another
//! row by someone with database access no longer opens. Replicas on one PostgreSQL share the
//! file, like the server key.

use std::path::Path;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use anyhow::Context;

/// AES-GCM's standard 96-bit nonce.
const NONCE_BYTES: usize = 12;

pub struct TokenVault {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for TokenVault {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        formatter.write_str("TokenVault(..)")
    }
}

/// What a sealed token is bound to: the custody it was registered under and the connector that
/// will revoke it.
#[derive(Debug, Clone, Copy)]
pub struct Binding<'a> {
    pub site_id: &'a str,
    pub device_id: &'a str,
    pub staff_id: &'a str,
    pub opened_by: &'a str,
    pub connector: &'a str,
    pub token_type_hint: &'a str,
}

impl Binding<'_> {
    fn associated_data(&self) -> String {
        format!(
            "baton.external-token.v1\n{}\n{}\n{}\n{}\n{}\n{}",
            self.site_id,
            self.device_id,
            self.staff_id,
            self.opened_by,
            self.connector,
            self.token_type_hint
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("the sealed value is not hex of a nonce and a ciphertext")]
    Malformed,
    #[error(
        "the sealed value does not open with this key: another --token-key-file, or the row was \
         changed or moved"
    )]
    WrongKeyOrBinding,
}

impl TokenVault {
    pub fn from_key(key: [u8; 32]) -> TokenVault {
        TokenVault {
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&key)),
        }
    }

    /// A vault whose key lives only in memory: for a server with no RFC 7009 connector, which
    /// never seals anything.
    pub fn ephemeral() -> TokenVault {
        TokenVault {
            cipher: Aes256Gcm::new(&Aes256Gcm::generate_key(OsRng)),
        }
    }

    /// Reads the key at `path` (64 hex digits), or creates one there, owner-only (0600), when
    /// the file does not exist.
    pub fn load_or_create(path: &Path) -> anyhow::Result<TokenVault> {
        if path.exists() {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the token key {}", path.display()))?;
            let key: [u8; 32] = hex::decode(text.trim())
                .ok()
                .and_then(|bytes| bytes.try_into().ok())
                .with_context(|| {
                    format!("{} does not hold a 32-byte hex AES-256 key", path.display())
                })?;
            return Ok(TokenVault::from_key(key));
        }
        let key = Aes256Gcm::generate_key(OsRng);
        crate::server_key::write_new_key_file(path, key.as_slice(), "the token key")?;
        tracing::info!(path = %path.display(), "created the key that seals external tokens");
        Ok(TokenVault {
            cipher: Aes256Gcm::new(&key),
        })
    }

    /// Hex of nonce ‖ ciphertext (with its tag).
    pub fn seal(&self, token: &str, binding: Binding<'_>) -> String {
        self.seal_with(token, &binding.associated_data())
    }

    pub fn open(&self, sealed: &str, binding: Binding<'_>) -> Result<String, VaultError> {
        self.open_with(sealed, &binding.associated_data())
    }

    /// Seals a connector's secret (a webhook's HMAC secret, an RFC 7009 client secret) made
    /// through the admin API, bound to its site and to the rest of its configuration as stored
    /// (`public_json`): someone who can write the database cannot point the secret at another
    /// URL, or move it to another connector or site, without it failing to open.
    pub fn seal_connector_secret(&self, secret: &str, site_id: &str, public_json: &str) -> String {
        self.seal_with(secret, &connector_associated_data(site_id, public_json))
    }

    pub fn open_connector_secret(
        &self,
        sealed: &str,
        site_id: &str,
        public_json: &str,
    ) -> Result<String, VaultError> {
        self.open_with(sealed, &connector_associated_data(site_id, public_json))
    }

    fn seal_with(&self, plaintext: &str, associated_data: &str) -> String {
        let nonce = Aes256Gcm::generate_nonce(OsRng);
        let ciphertext = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: associated_data.as_bytes(),
                },
            )
            .expect("AES-GCM encrypts any message shorter than 64 GiB");
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&ciphertext);
        hex::encode(sealed)
    }

    fn open_with(&self, sealed: &str, associated_data: &str) -> Result<String, VaultError> {
        let bytes = hex::decode(sealed).map_err(|_| VaultError::Malformed)?;
        if bytes.len() <= NONCE_BYTES {
            return Err(VaultError::Malformed);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
        let plaintext = self
            .cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: associated_data.as_bytes(),
                },
            )
            .map_err(|_| VaultError::WrongKeyOrBinding)?;
        String::from_utf8(plaintext).map_err(|_| VaultError::Malformed)
    }
}

/// A distinct prefix from the tokens' (`baton.external-token.v1`), so a sealed token can never
/// pass for a sealed connector secret or the reverse.
fn connector_associated_data(site_id: &str, public_json: &str) -> String {
    format!("baton.connector-secret.v1\n{site_id}\n{public_json}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(device_id: &str) -> Binding<'_> {
        Binding {
            site_id: "SITE-DEMO",
            device_id,
            staff_id: "S-0001",
            opened_by: "ab",
            connector: "idp",
            token_type_hint: "refresh_token",
        }
    }

    #[test]
    fn a_sealed_token_opens_only_with_its_key_and_its_custody() {
        let vault = TokenVault::from_key([7; 32]);
        let sealed = vault.seal("rt-secret-value", binding("D-0001"));
        assert!(!sealed.contains(&hex::encode("rt-secret-value")));
        assert_eq!(
            vault.open(&sealed, binding("D-0001")).unwrap(),
            "rt-secret-value"
        );
        // Two seals of one token differ (fresh nonces).
        assert_ne!(sealed, vault.seal("rt-secret-value", binding("D-0001")));
        assert!(matches!(
            vault.open(&sealed, binding("D-0002")),
            Err(VaultError::WrongKeyOrBinding)
        ));
        assert!(matches!(
            TokenVault::from_key([8; 32]).open(&sealed, binding("D-0001")),
            Err(VaultError::WrongKeyOrBinding)
        ));
        assert!(matches!(
            vault.open("zz", binding("D-0001")),
            Err(VaultError::Malformed)
        ));
    }

    #[test]
    fn a_connector_secret_opens_only_with_its_site_and_its_configuration() {
        let vault = TokenVault::from_key([7; 32]);
        let public = r#"{"kind":"webhook","name":"mdm","url":"https://mdm.example/hook"}"#;
        let sealed = vault.seal_connector_secret("hmac-secret", "SITE-DEMO", public);
        assert_eq!(
            vault
                .open_connector_secret(&sealed, "SITE-DEMO", public)
                .unwrap(),
            "hmac-secret"
        );
        let redirected = r#"{"kind":"webhook","name":"mdm","url":"https://evil.example/hook"}"#;
        assert!(matches!(
            vault.open_connector_secret(&sealed, "SITE-DEMO", redirected),
            Err(VaultError::WrongKeyOrBinding)
        ));
        assert!(matches!(
            vault.open_connector_secret(&sealed, "SITE-OTHER", public),
            Err(VaultError::WrongKeyOrBinding)
        ));
        // A sealed token is not a sealed connector secret.
        let token = vault.seal("hmac-secret", binding("D-0001"));
        assert!(
            vault
                .open_connector_secret(&token, "SITE-DEMO", public)
                .is_err()
        );
    }

    #[test]
    fn the_key_file_is_created_owner_only_and_read_back_identical() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("external-tokens-aes256.key");
        let created = TokenVault::load_or_create(&path).unwrap();
        let loaded = TokenVault::load_or_create(&path).unwrap();
        let sealed = created.seal("token", binding("D-0001"));
        assert_eq!(loaded.open(&sealed, binding("D-0001")).unwrap(), "token");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        assert_eq!(format!("{created:?}"), "TokenVault(..)");
        std::fs::write(&path, "not hex").unwrap();
        let error = TokenVault::load_or_create(&path).unwrap_err();
        assert!(error.to_string().contains("external-tokens-aes256.key"));
    }
}
