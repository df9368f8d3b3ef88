//! `POST /api/v1/tablet/key-rotation` (docs/PROTOCOL.md §2.10): a tablet replaces its own
//! signing key.
//!
//! The request is signed by the key being retired, and its body is a rotation signed by that
//! key and by the new one (core's `SignedKeyRotation`, signer `tablet`). It names the last event
//! the old key signed; the server accepts it only if that is the end of the old key's chain as
//! the server holds it, so every event of the old key is in before the key is retired and no
//! event can be slipped in after. The new key is accepted through this statement and nothing
//! else: the tablet's row takes the new key, the old one is kept as retired after that event,
//! and the rotation goes into the site's ledger in the same transaction.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use baton_core::key_rotation::{ChainEnd, RotatingSigner, SignedKeyRotation};
use baton_core::keys::{KeySet, SignerInfo};

use super::AppState;
use super::error::ApiError;
use super::tablet_auth::SignedByTablet;
use crate::storage::{StorageError, TabletKeyRotation};

fn bad_rotation(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "bad_key_rotation", message)
}

pub async fn rotate(
    State(state): State<AppState>,
    request: SignedByTablet,
) -> Result<Json<serde_json::Value>, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(&request.body)
        .map_err(|error| bad_rotation(format!("The body is not JSON: {error}")))?;
    let signed = SignedKeyRotation::from_json_value(&value)
        .map_err(|error| bad_rotation(error.to_string()))?;
    let rotation = &signed.rotation;
    if rotation.signer != RotatingSigner::Tablet {
        return Err(bad_rotation("signer: a tablet rotates a \"tablet\" key."));
    }
    if rotation.previous != request.signer {
        return Err(bad_rotation(
            "previous: the rotation must retire the key that signs this request.",
        ));
    }
    signed
        .verify()
        .map_err(|error| bad_rotation(error.to_string()))?;
    // The same checks enrollment makes: a key batch verification could disagree on is refused.
    KeySet::new()
        .enroll(rotation.next, SignerInfo::tablet())
        .map_err(|error| bad_rotation(format!("next: {error}")))?;

    let site_id = request.tablet.site_id.clone();
    // Holding the site's replica lock keeps pushes of the old key out until the rotation is
    // stored; a push that came first is in the chain the rotation is checked against.
    let guard = state
        .replicas
        .lock(state.storage.as_ref(), &site_id)
        .await?;
    let held = guard
        .replica
        .log()
        .chain_head(&request.signer)
        .map(|head| ChainEnd {
            seq: head.seq,
            id: head.id,
        });
    if held != rotation.last_event {
        let held_seq = held.map_or(0, |end| end.seq);
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "chain_not_synced",
            format!(
                "The server holds this key's events up to seq {held_seq}, and the rotation names \
                 another last event: push every event first, then rotate."
            ),
        ));
    }
    let last_seq = held.map_or(0, |end| end.seq);
    let (previous_hex, next_hex) = (rotation.previous.to_hex(), rotation.next.to_hex());
    let now_ms = request.now_ms;
    let action = serde_json::json!({
        "type": "tablet_key_rotated",
        "tablet_id": request.tablet.tablet_id,
        "previous_key": previous_hex,
        "next_key": next_hex,
        "last_seq": last_seq,
        "rotation": value,
    });
    let by = format!("tablet:{}", request.tablet.tablet_id);
    let entry = crate::ledger::governance_entry(action, &by, now_ms);
    let rotation_json = signed.to_json_value().to_string();
    let stored = state
        .storage
        .rotate_tablet_key(
            &TabletKeyRotation {
                site_id: &site_id,
                tablet_id: &request.tablet.tablet_id,
                previous_key: &previous_hex,
                next_key: &next_hex,
                last_seq: last_seq as i64,
                rotation_json: &rotation_json,
            },
            &entry,
            now_ms as i64,
        )
        .await;
    drop(guard);
    let ledger_leaf = match stored {
        Ok(leaf) => leaf,
        Err(StorageError::KeyAlreadyEnrolled(tablet_id)) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "key_already_enrolled",
                format!("The new key is, or was, the key of tablet {tablet_id}: make another."),
            ));
        }
        Err(StorageError::Conflict(message)) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "tablet_key_changed",
                message,
            ));
        }
        Err(error) if error.is_unavailable() || error.disk_fault().is_some() => {
            return Err(ApiError::storage(error));
        }
        Err(error) => return Err(ApiError::internal(error)),
    };
    tracing::info!(
        tablet_id = request.tablet.tablet_id,
        retired = %previous_hex,
        public_key = %next_hex,
        last_seq,
        "tablet rotated its key"
    );
    Ok(Json(serde_json::json!({
        "tablet_id": request.tablet.tablet_id,
        "public_key": next_hex,
        "retired_key": previous_hex,
        "last_seq": last_seq,
        "ledger_leaf": ledger_leaf,
    })))
}
