//! The server's side of the audit ledger: signing tree heads, and computing proofs from the
//! stored perfect-subtree nodes. The tree itself, proof verification and the head format are
//! `baton_core::ledger`'s; entries are appended by storage in the same transaction that stores
//! what they record.
//!
//! Before signing a new head the server proves to itself that the new tree extends the last
//! head it signed. A database edited behind the server's back (a leaf or node changed, rows
//! deleted) fails that check: the server refuses to sign, logs an alarm, and keeps serving the
//! last good head, which tablets and auditors hold too.

use baton_core::ids::SiteId;
use baton_core::ledger::{
    LedgerHash, SignedTreeHead, TreeHead, consistency_proof, inclusion_proof,
    nodes_for_consistency_proof, nodes_for_inclusion_proof, nodes_for_root, root_at,
    verify_consistency,
};

use crate::server_key::ServerKey;
use crate::storage::{Storage, StorageError};

/// A head is re-signed when older than this even if nothing was appended, so witnesses see the
/// log is alive.
pub const MAX_HEAD_AGE_MS: u64 = 10 * 60 * 1000;
/// How often the background signer looks for grown ledgers.
pub const SIGNING_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("site {site_id:?}: the stored ledger does not extend the last signed head: {reason}")]
    HistoryRewritten { site_id: String, reason: String },
    #[error("site {site_id:?}: {reason}")]
    Unreadable { site_id: String, reason: String },
    #[error("{0}")]
    BadRequest(String),
}

fn unreadable(site_id: &str, reason: impl std::fmt::Display) -> LedgerError {
    LedgerError::Unreadable {
        site_id: site_id.to_owned(),
        reason: reason.to_string(),
    }
}

pub async fn latest_head(
    storage: &dyn Storage,
    site_id: &str,
) -> Result<Option<SignedTreeHead>, LedgerError> {
    match storage.latest_tree_head(site_id).await? {
        Some(json) => SignedTreeHead::from_json_bytes(json.as_bytes())
            .map(Some)
            .map_err(|error| unreadable(site_id, error)),
        None => Ok(None),
    }
}

/// The root of the first `size` leaves, from stored nodes.
pub async fn root(
    storage: &dyn Storage,
    site_id: &str,
    size: u64,
) -> Result<LedgerHash, LedgerError> {
    let nodes = storage.ledger_nodes(site_id, &nodes_for_root(size)).await?;
    root_at(&nodes, size).map_err(|error| unreadable(site_id, error))
}

/// Returns the newest head, signing a new one when the ledger grew or the newest is older than
/// `max_age_ms`.
pub async fn current_head(
    storage: &dyn Storage,
    server_key: &ServerKey,
    site_id: &str,
    now_ms: u64,
    max_age_ms: u64,
) -> Result<SignedTreeHead, LedgerError> {
    let size = storage.ledger_size(site_id).await? as u64;
    let previous = latest_head(storage, site_id).await?;
    if let Some(previous) = &previous
        && previous.head.tree_size == size
        && previous.head.key_id == *server_key.public_key()
        && now_ms.saturating_sub(previous.head.timestamp_ms) < max_age_ms
    {
        return Ok(previous.clone());
    }
    let rewritten = |reason: String| LedgerError::HistoryRewritten {
        site_id: site_id.to_owned(),
        reason,
    };
    // Nodes are never deleted or changed: one that cannot be read means the rows were edited.
    let unreadable_is_rewritten = |error: LedgerError| match error {
        LedgerError::Unreadable { reason, .. } => rewritten(reason),
        other => other,
    };
    if let Some(previous) = &previous
        && previous.head.tree_size > size
    {
        return Err(rewritten(format!(
            "the last signed head has {} entries, the database {size}",
            previous.head.tree_size
        )));
    }
    let root_hash = root(storage, site_id, size)
        .await
        .map_err(unreadable_is_rewritten)?;
    if let Some(previous) = &previous {
        let proof = consistency(storage, site_id, previous.head.tree_size, size)
            .await
            .map_err(unreadable_is_rewritten)?;
        verify_consistency(
            previous.head.tree_size,
            size,
            &previous.head.root_hash,
            &root_hash,
            &proof,
        )
        .map_err(|error| rewritten(error.to_string()))?;
    }
    let head = TreeHead {
        log_id: SiteId::new(site_id).map_err(|error| unreadable(site_id, error))?,
        tree_size: size,
        root_hash,
        timestamp_ms: now_ms,
        key_id: *server_key.public_key(),
    };
    let signed = head
        .sign(server_key.signing_key())
        .map_err(|error| unreadable(site_id, error))?;
    let json = signed
        .to_json_bytes()
        .map_err(|error| unreadable(site_id, error))?;
    storage
        .store_tree_head(
            site_id,
            size as i64,
            now_ms as i64,
            std::str::from_utf8(&json).expect("JSON is UTF-8"),
        )
        .await?;
    Ok(signed)
}

pub async fn inclusion(
    storage: &dyn Storage,
    site_id: &str,
    leaf_index: u64,
    tree_size: u64,
) -> Result<Vec<LedgerHash>, LedgerError> {
    let positions = nodes_for_inclusion_proof(leaf_index, tree_size)
        .map_err(|error| LedgerError::BadRequest(error.to_string()))?;
    let nodes = storage.ledger_nodes(site_id, &positions).await?;
    inclusion_proof(&nodes, leaf_index, tree_size).map_err(|error| unreadable(site_id, error))
}

pub async fn consistency(
    storage: &dyn Storage,
    site_id: &str,
    old_size: u64,
    new_size: u64,
) -> Result<Vec<LedgerHash>, LedgerError> {
    let positions = nodes_for_consistency_proof(old_size, new_size)
        .map_err(|error| LedgerError::BadRequest(error.to_string()))?;
    let nodes = storage.ledger_nodes(site_id, &positions).await?;
    consistency_proof(&nodes, old_size, new_size).map_err(|error| unreadable(site_id, error))
}

/// Signs a head for every site whose ledger grew, every `SIGNING_INTERVAL`, until the process
/// stops. A refusal (rewritten history) is logged at error level on every round: it is an alarm.
pub async fn run_head_signer(
    storage: std::sync::Arc<dyn Storage>,
    server_keys: std::sync::Arc<crate::server_key::ServerKeys>,
) {
    let mut interval = tokio::time::interval(SIGNING_INTERVAL);
    loop {
        interval.tick().await;
        let site_ids = match storage.list_site_ids().await {
            Ok(site_ids) => site_ids,
            Err(error) => {
                tracing::warn!(%error, "tree-head signer cannot list sites");
                continue;
            }
        };
        for site_id in site_ids {
            let now_ms = crate::sync::now_ms();
            if let Err(error) = current_head(
                storage.as_ref(),
                &server_keys.current(),
                &site_id,
                now_ms,
                MAX_HEAD_AGE_MS,
            )
            .await
            {
                tracing::error!(site_id, %error, "tree head not signed");
            }
        }
    }
}

/// Appends a governance action (who did what on the dashboard) to the site's ledger.
pub async fn record_governance(
    storage: &dyn Storage,
    site_id: &str,
    action: serde_json::Value,
    by: &str,
    now_ms: u64,
) -> Result<i64, LedgerError> {
    let entry = governance_entry(action, by, now_ms);
    Ok(storage
        .append_governance(site_id, &entry, now_ms as i64)
        .await?)
}

/// The ledger entry of a governance action, for storage methods that append it in the same
/// transaction as the change it records.
pub fn governance_entry(
    action: serde_json::Value,
    by: &str,
    now_ms: u64,
) -> baton_core::ledger::LedgerEntry {
    baton_core::ledger::LedgerEntry::Governance {
        action,
        by: by.to_owned(),
        at_ms: now_ms,
        corrects: None,
    }
}
