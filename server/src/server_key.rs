//! The server's own ed25519 key: it signs authority events (quarantine, release), the ledger's
//! tree heads and the connectors' tokens. It lives in a file with owner-only permissions, never in the database
//! or the logs; replicas on one PostgreSQL share the file through the operator's secret store.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use anyhow::{Context, bail};
use baton_core::ids::SignerKey;
use baton_core::key_rotation::{KeyHistory, KeyRotation, RotatingSigner, SignedKeyRotation};
use ed25519_dalek::SigningKey;
use rand::RngCore;
use rand::rngs::OsRng;

use crate::storage::{Storage, StorageError};

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
            return ServerKey::read(path);
        }
        let mut seed = [0_u8; 32];
        OsRng.fill_bytes(&mut seed);
        let key = ServerKey::from_seed(seed)?;
        write_new_key_file(path, &seed, "the server key")?;
        tracing::info!(public_key = %key.public_key.to_hex(), path = %path.display(), "created the server key");
        Ok(key)
    }

    /// Reads an existing key file.
    pub fn read(path: &Path) -> anyhow::Result<ServerKey> {
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
        ServerKey::from_seed(seed)
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

/// The server key in use and the history it belongs to, shared by every part of the server
/// that signs (tree heads, authority events, tokens) or names the server's keys (JWKS, key
/// history, the authority role in every site's key set).
///
/// The key in use is replaced without a restart: `watch_for_rotation` re-reads the key file
/// every few seconds and at SIGHUP, and switches to a new key only once the database's history
/// shows it handed over from a key of this history (`baton rotate-server-key` writes both).
/// Several replicas on one PostgreSQL may sign with different keys of the history for a while,
/// until each has the new file: everything either signs verifies against the history.
pub struct ServerKeys {
    /// The key file, re-read for rotations; `None` for a key given in memory (tests).
    path: Option<PathBuf>,
    current: RwLock<Arc<ServerKey>>,
    history: RwLock<Arc<LoadedHistory>>,
}

/// The verified history and the rows it was read from.
#[derive(Debug)]
pub struct LoadedHistory {
    pub rotations: Vec<SignedKeyRotation>,
    pub keys: KeyHistory,
    rows: Vec<String>,
}

impl std::fmt::Debug for ServerKeys {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ServerKeys")
            .field("current", &self.current().public_key.to_hex())
            .finish_non_exhaustive()
    }
}

/// Checks the stored rotations as a chain that contains `trusted`.
pub fn history_from_rows(trusted: &SignerKey, rows: Vec<String>) -> anyhow::Result<LoadedHistory> {
    let rotations = rows
        .iter()
        .enumerate()
        .map(|(position, row)| {
            let value: serde_json::Value = serde_json::from_str(row)
                .with_context(|| format!("stored server key rotation {position} is not JSON"))?;
            SignedKeyRotation::from_json_value(&value)
                .with_context(|| format!("stored server key rotation {position}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let keys = KeyHistory::from_rotations(RotatingSigner::Server, trusted, &rotations)
        .context("the database's server key history does not verify")?;
    Ok(LoadedHistory {
        rotations,
        keys,
        rows,
    })
}

impl ServerKeys {
    /// A key with no file behind it and no rotation yet; `refresh_history` reads the database's.
    pub fn fixed(key: ServerKey) -> ServerKeys {
        let history = LoadedHistory {
            rotations: Vec::new(),
            keys: KeyHistory::single(key.public_key),
            rows: Vec::new(),
        };
        ServerKeys {
            path: None,
            current: RwLock::new(Arc::new(key)),
            history: RwLock::new(Arc::new(history)),
        }
    }

    /// Reads (or creates) the key file and the database's key history, finishing a rotation
    /// that was interrupted after the history was written, and refuses a key file that is not
    /// in the history: the wrong file for this database.
    pub async fn load(path: &Path, storage: &dyn Storage) -> anyhow::Result<ServerKeys> {
        finish_interrupted_rotation(path, storage).await?;
        let key = ServerKey::load_or_create(path)?;
        let rows = storage.server_key_rotations().await?;
        let history = history_from_rows(&key.public_key, rows).with_context(|| {
            format!(
                "the server key in {} (public key {}) does not belong to this database's key \
                 history; use the key file this database was signed with",
                path.display(),
                key.public_key.to_hex()
            )
        })?;
        if history.keys.current() != key.public_key {
            tracing::warn!(
                in_use = %key.public_key.to_hex(),
                newest = %history.keys.current().to_hex(),
                path = %path.display(),
                "this server signs with a retired key: install the newest key file (baton \
                 rotate-server-key wrote it on the node where it ran)"
            );
        }
        Ok(ServerKeys {
            path: Some(path.to_owned()),
            current: RwLock::new(Arc::new(key)),
            history: RwLock::new(Arc::new(history)),
        })
    }

    /// The key to sign with now.
    pub fn current(&self) -> Arc<ServerKey> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The history as last read from the database.
    pub fn history(&self) -> Arc<LoadedHistory> {
        self.history
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Re-reads the database's history when it changed, and returns it. Cheap when nothing
    /// changed: one small query and a comparison of the rows; the signatures are checked only
    /// for a new history. A history that does not verify is refused and the old one kept.
    pub async fn refresh_history(
        &self,
        storage: &dyn Storage,
    ) -> Result<Arc<LoadedHistory>, StorageError> {
        let rows = storage.server_key_rotations().await?;
        let held = self.history();
        if rows == held.rows {
            return Ok(held);
        }
        let trusted = self.current().public_key;
        match history_from_rows(&trusted, rows) {
            Ok(history) => {
                let history = Arc::new(history);
                *self.history.write().unwrap_or_else(PoisonError::into_inner) = history.clone();
                tracing::info!(
                    n_keys = history.keys.keys().len(),
                    newest = %history.keys.current().to_hex(),
                    "server key history changed"
                );
                Ok(history)
            }
            Err(error) => {
                tracing::error!(error = %format!("{error:#}"), "the database's server key history does not verify; keeping the one in use");
                Ok(held)
            }
        }
    }

    /// Re-reads the history and the key file; switches to the file's key when it changed and
    /// the history vouches for it. Returns the new public key when it switched.
    pub async fn reload(&self, storage: &dyn Storage) -> anyhow::Result<Option<SignerKey>> {
        let history = self.refresh_history(storage).await?;
        let Some(path) = &self.path else {
            return Ok(None);
        };
        let key = ServerKey::read(path)?;
        if key.public_key == self.current().public_key {
            return Ok(None);
        }
        if !history.keys.contains(&key.public_key) {
            anyhow::bail!(
                "the key file {} now holds key {}, which the database's key history does not \
                 contain; keeping key {} (rotate with `baton rotate-server-key`)",
                path.display(),
                key.public_key.to_hex(),
                self.current().public_key.to_hex()
            );
        }
        let public_key = key.public_key;
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(key);
        Ok(Some(public_key))
    }
}

/// Looks for a rotated key file every `interval` and at each SIGHUP, forever.
pub async fn watch_for_rotation(
    keys: Arc<ServerKeys>,
    storage: Arc<dyn Storage>,
    interval: std::time::Duration,
    mut hangups: crate::tls::Hangups,
) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        tokio::select! {
            _ = ticks.tick() => {},
            () = hangups.recv() => {},
        }
        match keys.reload(storage.as_ref()).await {
            Ok(Some(public_key)) => tracing::info!(
                public_key = %public_key.to_hex(),
                "now signing with the rotated server key"
            ),
            Ok(None) => {}
            Err(error) => tracing::error!(error = %format!("{error:#}"), "server key not reloaded"),
        }
    }
}

/// The file a rotation writes the new key to before it replaces the key file.
fn next_key_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".next");
    PathBuf::from(name)
}

/// A rotation writes the new key beside the key file, records the rotation, then renames the
/// new key over the old. Stopped between the record and the rename, the history names a key
/// that only the `.next` file holds: put it in place. Stopped before the record, the `.next`
/// file is a key nobody vouched for: remove it.
async fn finish_interrupted_rotation(path: &Path, storage: &dyn Storage) -> anyhow::Result<()> {
    let next_path = next_key_path(path);
    if !next_path.exists() {
        return Ok(());
    }
    let next = ServerKey::read(&next_path)?;
    let rotations = storage.server_key_rotations().await?;
    let next_hex = next.public_key.to_hex();
    let recorded = rotations.iter().any(|row| {
        serde_json::from_str::<serde_json::Value>(row)
            .is_ok_and(|value| value["rotation"]["next"] == next_hex.as_str())
    });
    if recorded {
        std::fs::rename(&next_path, path).with_context(|| {
            format!("cannot move {} to {}", next_path.display(), path.display())
        })?;
        sync_parent(path)?;
        tracing::warn!(public_key = %next.public_key.to_hex(), "finished an interrupted server key rotation");
    } else {
        std::fs::remove_file(&next_path)
            .with_context(|| format!("cannot remove {}", next_path.display()))?;
        tracing::warn!(path = %next_path.display(), "removed the key of a rotation that was never recorded");
    }
    Ok(())
}

fn sync_parent(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    if let Some(parent) = path.parent() {
        let parent = if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        };
        std::fs::File::open(parent)
            .and_then(|directory| directory.sync_all())
            .with_context(|| format!("cannot sync the directory {}", parent.display()))?;
    }
    Ok(())
}

/// What `baton rotate-server-key` did.
#[derive(Debug)]
pub struct Rotated {
    pub signed: SignedKeyRotation,
    pub position: usize,
}

/// Rotates the server key: a new key, a rotation signed by the old and the new key recorded in
/// the database, the new key moved over the key file (the old secret is gone after that: a
/// retired key can never sign again, and what it signed stays verifiable through the history).
pub async fn rotate(path: &Path, storage: &dyn Storage, now_ms: u64) -> anyhow::Result<Rotated> {
    finish_interrupted_rotation(path, storage).await?;
    if !path.exists() {
        anyhow::bail!(
            "{} does not exist: there is no server key to rotate (give --server-key-file, or \
             start the server once to create it)",
            path.display()
        );
    }
    let previous = ServerKey::read(path)?;
    let rows = storage.server_key_rotations().await?;
    let history = history_from_rows(&previous.public_key, rows)?;
    if history.keys.current() != previous.public_key {
        anyhow::bail!(
            "{} holds key {}, but the history has rotated to {} since: rotate on a node that \
             has the newest key file",
            path.display(),
            previous.public_key.to_hex(),
            history.keys.current().to_hex()
        );
    }
    let mut seed = [0_u8; 32];
    OsRng.fill_bytes(&mut seed);
    let next = ServerKey::from_seed(seed)?;
    let signed = KeyRotation {
        signer: RotatingSigner::Server,
        previous: previous.public_key,
        next: next.public_key,
        at_ms: now_ms,
        last_event: None,
    }
    .sign(&previous.signing_key, &next.signing_key)
    .context("signing the rotation")?;
    let next_path = next_key_path(path);
    write_new_key_file(&next_path, &seed, "the next server key")?;
    let position = history.rotations.len();
    let recorded = storage
        .record_server_key_rotation(
            position as i64,
            &previous.public_key.to_hex(),
            &next.public_key.to_hex(),
            now_ms as i64,
            &signed.to_json_value().to_string(),
        )
        .await;
    if let Err(error) = recorded {
        let _ = std::fs::remove_file(&next_path);
        return Err(error).context("recording the rotation (nothing changed)");
    }
    std::fs::rename(&next_path, path)
        .with_context(|| format!("cannot move {} to {}", next_path.display(), path.display()))?;
    sync_parent(path)?;
    Ok(Rotated { signed, position })
}

/// The longest `--reason` kept in the ledger, in characters.
const MAX_REASON_CHARS: usize = 500;

/// `baton rotate-server-key`: rotates, records the rotation in every site's ledger, and says
/// what the operator does next.
pub async fn run_rotate(args: crate::config::RotateServerKeyArgs) -> anyhow::Result<()> {
    let reason = args.reason.trim().to_owned();
    if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
        anyhow::bail!("--reason must say why, in 1 to {MAX_REASON_CHARS} characters");
    }
    let path = args
        .server_key_file
        .clone()
        .unwrap_or_else(|| args.database.data_dir.join("server-ed25519.key"));
    let database_url = args.database.effective_database_url();
    let storage = crate::storage::connect(&database_url)
        .await
        .with_context(|| format!("cannot open {}", crate::storage::redact_url(&database_url)))?;
    let now_ms = crate::sync::now_ms();
    let rotated = rotate(&path, storage.as_ref(), now_ms).await?;
    let (previous, next) = (
        rotated.signed.rotation.previous,
        rotated.signed.rotation.next,
    );
    println!(
        "Rotated the server key (rotation {} of the history):\n  retired: {}\n  in use:  {}",
        rotated.position + 1,
        previous.to_hex(),
        next.to_hex()
    );
    let rotation = rotated.signed.to_json_value();
    let mut failed = Vec::new();
    for site_id in storage.list_site_ids().await? {
        let action = serde_json::json!({
            "type": "server_key_rotated",
            "previous_key": previous.to_hex(),
            "next_key": next.to_hex(),
            "rotation": rotation,
            "reason": reason,
        });
        match crate::ledger::record_governance(
            storage.as_ref(),
            &site_id,
            action,
            "baton rotate-server-key",
            now_ms,
        )
        .await
        {
            Ok(leaf) => println!("  site {site_id}: recorded as ledger entry {leaf}"),
            Err(error) => {
                println!("  site {site_id}: NOT recorded in the ledger: {error}");
                failed.push(site_id);
            }
        }
    }
    println!(
        "The new key is in {} (owner-only). Servers using that file switch within {} s or at \
         SIGHUP; copy it to every other replica's key file. Heads and tokens signed with the \
         retired key stay verifiable through the key history (GET /api/v1/server-keys).",
        path.display(),
        crate::tls::RELOAD_INTERVAL.as_secs()
    );
    if !failed.is_empty() {
        anyhow::bail!(
            "the rotation is in effect, but the ledgers of {} do not record it; the bundles still \
             carry the key history, so their heads verify",
            failed.join(", ")
        );
    }
    Ok(())
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
