//! The dashboard's read API and its first governance action. Every route needs a signed-in
//! account and shows only that account's site; a state change also needs the CSRF token.
//! Exception reviews, device actions and reports have their own modules
//! (`exception_review`, `device_actions`, `reports`); the helpers they share live here.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use baton_core::body::MAX_NOTE_CHARS;
use baton_core::ids::DeviceId;
use serde::Deserialize;

use super::AppState;
use super::error::ApiError;
use super::manager_auth::ManagerSession;
use crate::storage::{AccountRole, StorageError};
use crate::sync::now_ms;

/// The site an account may see. An admin account is not bound to a site and uses a site
/// manager's account for site views.
pub(super) fn site_of(session: &ManagerSession) -> Result<String, ApiError> {
    session.account.site_id.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "site_required",
            "This view belongs to a site; sign in with a site account.",
        )
    })
}

pub(super) fn unavailable(error: StorageError) -> ApiError {
    ApiError::storage(error)
}

/// Auditors read; only managers and admins change the record.
pub(super) fn refuse_auditors(session: &ManagerSession) -> Result<(), ApiError> {
    if session.account.role == AccountRole::Auditor {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Auditors read; they do not change the record.",
        ));
    }
    Ok(())
}

/// A note a person must give: trimmed, not empty, at most `MAX_NOTE_CHARS` characters.
pub(super) fn required_note(note: Option<String>) -> Result<String, ApiError> {
    optional_note(note)?.ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "note_required",
            "Write a note saying why; it stays in the record.",
        )
    })
}

/// An optional note: trimmed, at most `MAX_NOTE_CHARS` characters; a blank note is no note.
pub(super) fn optional_note(note: Option<String>) -> Result<Option<String>, ApiError> {
    let Some(note) = note else { return Ok(None) };
    let note = note.trim();
    let chars = note.chars().count();
    if chars > MAX_NOTE_CHARS {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "note_too_long",
            format!("A note has at most {MAX_NOTE_CHARS} characters; this one has {chars}."),
        ));
    }
    Ok((!note.is_empty()).then(|| note.to_owned()))
}

/// The site's tablets with their last successful sync.
pub async fn tablets(
    State(state): State<AppState>,
    session: ManagerSession,
) -> Result<Json<serde_json::Value>, ApiError> {
    let site_id = site_of(&session)?;
    let tablets = state
        .storage
        .list_tablets(&site_id)
        .await
        .map_err(unavailable)?;
    Ok(Json(
        serde_json::json!({ "site_id": site_id, "tablets": tablets }),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decommission {
    /// From when the tablet's events are refused; default now. Earlier events stay, and events
    /// signed before this time that arrive later are still accepted.
    revoked_from_ms: Option<u64>,
}

/// Decommissions a lost or stolen tablet: its key is refused from the given time on.
pub async fn decommission_tablet(
    State(state): State<AppState>,
    session: ManagerSession,
    Path(tablet_id): Path<String>,
    Json(request): Json<Decommission>,
) -> Result<Json<serde_json::Value>, ApiError> {
    refuse_auditors(&session)?;
    let site_id = site_of(&session)?;
    let revoked_from_ms = request.revoked_from_ms.unwrap_or_else(now_ms);
    let changed = state
        .storage
        .decommission_tablet(&site_id, &tablet_id, revoked_from_ms as i64)
        .await
        .map_err(unavailable)?;
    if !changed {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_tablet",
            "No such tablet at this site.",
        ));
    }
    crate::ledger::record_governance(
        state.storage.as_ref(),
        &site_id,
        serde_json::json!({ "type": "tablet_decommissioned", "tablet_id": tablet_id, "revoked_from_ms": revoked_from_ms }),
        &session.account.username,
        now_ms(),
    )
    .await?;
    tracing::warn!(
        tablet_id,
        site_id,
        revoked_from_ms,
        by = session.account.username,
        "tablet decommissioned"
    );
    Ok(Json(
        serde_json::json!({ "tablet_id": tablet_id, "revoked_from_ms": revoked_from_ms }),
    ))
}

/// A device's history: every event about it in fold order with who signed it, what it said and
/// whether a correction voided it, plus its custody intervals.
pub async fn device_timeline(
    State(state): State<AppState>,
    session: ManagerSession,
    Path(device_id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let site_id = site_of(&session)?;
    let device = DeviceId::new(&device_id).map_err(|error| {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_device_id", error.to_string())
    })?;
    let known = state
        .storage
        .list_devices(&site_id)
        .await
        .map_err(unavailable)?;
    if !known.iter().any(|record| record.device_id == device_id) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_device",
            "No such device at this site.",
        ));
    }
    let tablets = state
        .storage
        .list_tablets(&site_id)
        .await
        .map_err(unavailable)?;
    let guard = state
        .replicas
        .lock(state.storage.as_ref(), &site_id)
        .await?;
    let replica = &guard.replica;
    let entries: Vec<serde_json::Value> = replica
        .custody()
        .timeline(&device)
        .into_iter()
        .map(|entry| {
            let event = replica.log().get(&entry.event);
            let signer = entry.signer.to_hex();
            let tablet = tablets.iter().find(|tablet| tablet.public_key == signer);
            serde_json::json!({
                "event_id": entry.event.to_hex(),
                "hlc_ms": entry.hlc.ms,
                "wall_ms": event.map(|event| event.wall_ms()),
                "signer": signer,
                "tablet_id": tablet.map(|tablet| tablet.tablet_id.clone()),
                "tablet_label": tablet.map(|tablet| tablet.label.clone()),
                "body_type": entry.body_type,
                "body": event.map(|event| serde_json::to_value(event.body()).unwrap_or_default()),
                "voided_by": entry.voided_by.map(|id| id.to_hex()),
            })
        })
        .collect();
    Ok(Json(serde_json::json!({
        "device_id": device_id,
        "custody": replica.custody().device(&device),
        "entries": entries,
    })))
}

/// The site's people as the dashboard names them: no badge, no PIN verifier.
pub async fn staff(
    State(state): State<AppState>,
    session: ManagerSession,
) -> Result<Json<serde_json::Value>, ApiError> {
    let site_id = site_of(&session)?;
    let roster = state
        .storage
        .list_staff(&site_id)
        .await
        .map_err(unavailable)?;
    let people: Vec<serde_json::Value> = roster
        .iter()
        .map(|member| {
            serde_json::json!({
                "staff_id": member.staff_id,
                "display_name": member.display_name,
                "role": member.role,
                "home_ward": member.home_ward,
                "active": member.active,
            })
        })
        .collect();
    Ok(Json(
        serde_json::json!({ "site_id": site_id, "staff": people }),
    ))
}

/// What a person holds now and every custody they had.
pub async fn person(
    State(state): State<AppState>,
    session: ManagerSession,
    Path(staff_id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let site_id = site_of(&session)?;
    let staff = baton_core::ids::StaffId::new(&staff_id).map_err(|error| {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_staff_id", error.to_string())
    })?;
    let roster = state
        .storage
        .list_staff(&site_id)
        .await
        .map_err(unavailable)?;
    let Some(member) = roster.iter().find(|member| member.staff_id == staff_id) else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_staff",
            "No such person at this site.",
        ));
    };
    let guard = state
        .replicas
        .lock(state.storage.as_ref(), &site_id)
        .await?;
    let custody = guard.replica.custody();
    let holds: Vec<&DeviceId> = custody.holdings(&staff).collect();
    let intervals: Vec<serde_json::Value> = custody
        .devices()
        .flat_map(|device| {
            device
                .intervals
                .iter()
                .filter(|interval| interval.staff == staff)
                .map(move |interval| serde_json::json!({ "device_id": device.device, "interval": interval }))
        })
        .collect();
    Ok(Json(serde_json::json!({
        "staff_id": staff_id,
        "display_name": member.display_name,
        "role": member.role,
        "active": member.active,
        "holds": holds,
        "custodies": intervals,
    })))
}

/// Revocations of the site, newest first, with each connector's delivery state: what the board
/// shows as "access still open after return" until every delivery is confirmed.
pub async fn revocations(
    State(state): State<AppState>,
    session: ManagerSession,
) -> Result<Json<serde_json::Value>, ApiError> {
    let site_id = site_of(&session)?;
    let revocations = state
        .storage
        .list_revocations(&site_id, 500)
        .await
        .map_err(unavailable)?;
    Ok(Json(
        serde_json::json!({ "site_id": site_id, "revocations": revocations }),
    ))
}
