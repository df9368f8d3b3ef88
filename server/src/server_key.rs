//! The server's own ed25519 key: it signs governance events (quarantine, release) and, later,
//! the ledger's tree heads. It lives in a file with owner-only permissions, never in the database
//! or the logs; replicas on one PostgreSQL share the file through the operator's secret store.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};
use baton_core::ids::SignerKey;
use ed25519_dalek::SigningKey;
use rand::RngCore;
use rand::rngs::OsRng;

pub struct ServerKey {
    signing_key: SigningKey,
    public_key: SignerKey,
}

impl std::fmt::Debug for ServerKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret half.
        formatter
            .debug_struct("ServerKey")
            .field("public_key", &self.public_key.to_hex())
            .finish()
    }
}

/// Creates `path` owner-only (never overwriting a file) holding `key` as one line of hex, synced
/// to disk: how every key Baton generates is kept (the server key, the token-sealing key).
pub fn write_new_key_file(path: &Path, key: &[u8], what: &str) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {what} {}", path.display()))?;
    writeln!(file, "{}", hex::encode(key))?;
    file.sync_all()?;
    Ok(())
}

impl ServerKey {
    /// Reads the key at `path`, or creates one there (mode 0600) when the file does not exist.
    pub fn load_or_create(path: &Path) -> anyhow::Result<ServerKey> {
        if path.exists() {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the server key {}", path.display()))?;
            let seed: [u8; 32] = hex::decode(text.trim())
                .ok()
                .and_then(|bytes| bytes.try_into().ok())
                .with_context(|| {
                    format!(
                        "{} does not hold a 32-byte hex ed25519 seed",
                        path.display()
                    )
                })?;
            return ServerKey::from_seed(seed);
        }
        let mut seed = [0_u8; 32];
        OsRng.fill_bytes(&mut seed);
        let key = ServerKey::from_seed(seed)?;
        write_new_key_file(path, &seed, "the server key")?;
        tracing::info!(public_key = %key.public_key.to_hex(), path = %path.display(), "created the server key");
        Ok(key)
    }

    pub fn from_seed(seed: [u8; 32]) -> anyhow::Result<ServerKey> {
        let signing_key = SigningKey::from_bytes(&seed);
        let public_key = SignerKey::from_signing_key(&signing_key);
        if public_key.verifying_key().is_weak() {
            bail!("the server key is a weak ed25519 key; delete it to have a new one made");
        }
        Ok(ServerKey {
            signing_key,
            public_key,
        })
    }

    pub fn public_key(&self) -> &SignerKey {
        &self.public_key
    }

    pub fn signing_key(&self) -> &SigningKey {
        &self.signing_key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_created_owner_only_and_read_back_identical() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("server-ed25519.key");
        let created = ServerKey::load_or_create(&path).unwrap();
        let loaded = ServerKey::load_or_create(&path).unwrap();
        assert_eq!(created.public_key(), loaded.public_key());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        assert!(!format!("{created:?}").contains(&hex::encode(created.signing_key().to_bytes())));
    }

    #[test]
    fn a_damaged_key_file_is_refused_with_its_path() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("server-ed25519.key");
        std::fs::write(&path, "not hex").unwrap();
        let error = ServerKey::load_or_create(&path).unwrap_err();
        assert!(error.to_string().contains("server-ed25519.key"), "{error}");
    }
}
