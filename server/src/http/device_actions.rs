//! What a manager does to a device from the dashboard: quarantine and release it, report it
//! missing and found. Each action is a custody event signed by the server as the authority
//! (`sync::authority`), so it is in the signed record, the ledger, the fold, the timeline and
//! the live stream like a handoff captured on a tablet, and the custodies it ends are revoked.
//!
//! The manager is named by their account's username as a staff identifier; missing and found
//! name them with the auth method `dashboard` (docs/PROTOCOL.md §1.3), which only the authority
//! may sign.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use baton_core::body::{AuthMethod, Body, PersonAuth};
use baton_core::ids::{DeviceId, StaffId, WardId};
use baton_core::state::DeviceCustody;
use serde::Deserialize;

use super::AppState;
use super::dashboard::{optional_note, refuse_auditors, required_note, site_of, unavailable};
use super::error::ApiError;
use super::manager_auth::ManagerSession;
use crate::sync::authority::{Authority, AuthorityError};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteRequest {
    note: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FoundRequest {
    note: Option<String>,
    /// Where the device was found: a ward of the site.
    ward: Option<String>,
}

fn conflict(code: &'static str, message: &str) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, code, message)
}

pub async fn quarantine(
    State(state): State<AppState>,
    session: ManagerSession,
    Path(device_id): Path<String>,
    Json(request): Json<NoteRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    refuse_auditors(&session)?;
    let note = required_note(request.note)?;
    act(&state, &session, &device_id, |device, by, custody, _| {
        if custody.is_some_and(|custody| custody.quarantine.is_some()) {
            return Err(conflict(
                "already_quarantined",
                "This device is already quarantined.",
            ));
        }
        Ok(Body::Quarantine {
            device,
            by,
            note: note.clone(),
        })
    })
    .await
}

pub async fn release(
    State(state): State<AppState>,
    session: ManagerSession,
    Path(device_id): Path<String>,
    Json(request): Json<NoteRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    refuse_auditors(&session)?;
    let note = required_note(request.note)?;
    act(&state, &session, &device_id, |device, by, custody, _| {
        if custody.is_none_or(|custody| custody.quarantine.is_none()) {
            return Err(conflict(
                "not_quarantined",
                "This device is not quarantined; there is nothing to release.",
            ));
        }
        Ok(Body::Release {
            device,
            by,
            note: note.clone(),
        })
    })
    .await
}

pub async fn missing(
    State(state): State<AppState>,
    session: ManagerSession,
    Path(device_id): Path<String>,
    Json(request): Json<NoteRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    refuse_auditors(&session)?;
    let note = optional_note(request.note)?;
    act(&state, &session, &device_id, |device, by, custody, _| {
        if custody.is_some_and(|custody| custody.missing_report.is_some()) {
            return Err(conflict(
                "already_missing",
                "This device is already reported missing.",
            ));
        }
        Ok(Body::ReportMissing {
            device,
            reported_by: PersonAuth {
                staff: by,
                method: AuthMethod::Dashboard,
            },
            note: note.clone(),
        })
    })
    .await
}

pub async fn found(
    State(state): State<AppState>,
    session: ManagerSession,
    Path(device_id): Path<String>,
    Json(request): Json<FoundRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    refuse_auditors(&session)?;
    let note = optional_note(request.note)?;
    let site_id = site_of(&session)?;
    let wards = state
        .storage
        .list_wards(&site_id)
        .await
        .map_err(unavailable)?;
    let ward = request
        .ward
        .as_deref()
        .and_then(|ward| WardId::new(ward).ok())
        .filter(|ward| wards.iter().any(|known| known.ward_id == ward.as_str()))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "unknown_ward",
                "Say on which ward of this site the device was found.",
            )
        })?;
    act(&state, &session, &device_id, |device, by, custody, _| {
        if custody.is_none_or(|custody| custody.missing_report.is_none()) {
            return Err(conflict(
                "not_missing",
                "This device is not reported missing.",
            ));
        }
        Ok(Body::ReportFound {
            device,
            found_by: PersonAuth {
                staff: by,
                method: AuthMethod::Dashboard,
            },
            ward: ward.clone(),
            note: note.clone(),
        })
    })
    .await
}

/// Checks who acts on which device, then has the authority sign and store the event `build`
/// makes from the device, the manager, the device's custody and the time.
async fn act(
    state: &AppState,
    session: &ManagerSession,
    device_id: &str,
    build: impl Fn(DeviceId, StaffId, Option<&DeviceCustody>, u64) -> Result<Body, ApiError>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let site_id = site_of(session)?;
    let username = &session.account.username;
    let by = StaffId::new(username).map_err(|error| {
        ApiError::new(
            StatusCode::CONFLICT,
            "account_not_a_staff_id",
            format!(
                "The account name {username:?} cannot name a person in a signed event ({error}); \
                 ask an admin for an account named with letters, digits and . _ : - only."
            ),
        )
    })?;
    let unknown_device = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_device",
            "No such device at this site.",
        )
    };
    let device = DeviceId::new(device_id).map_err(|_| unknown_device())?;
    let devices = state
        .storage
        .list_devices(&site_id)
        .await
        .map_err(unavailable)?;
    if !devices.iter().any(|record| record.device_id == device_id) {
        return Err(unknown_device());
    }
    let server_key = state.server_key.current();
    let authority = Authority {
        storage: state.storage.as_ref(),
        replicas: &state.replicas,
        server_key: &server_key,
        connectors: &state.connectors,
    };
    let stored = authority
        .sign_and_store(&site_id, &device, |custody, now_ms| {
            build(device.clone(), by.clone(), custody, now_ms)
        })
        .await
        .map_err(|error| match error {
            AuthorityError::Refused(refusal) => refusal,
            AuthorityError::Storage(error) => unavailable(error),
            AuthorityError::Sync(error) => ApiError::from(error),
            AuthorityError::Contended(_) => {
                tracing::warn!(%error, "authority event not stored");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "site_busy",
                    "Other changes to this site kept arriving; try again.",
                )
            }
            other => ApiError::internal(other),
        })?;
    let body_type = stored.event.body().type_name();
    tracing::info!(
        site_id,
        device_id,
        body_type,
        by = username,
        event_id = stored.event.id().to_hex(),
        server_seq = stored.appended.server_seq,
        "authority event signed for a manager"
    );
    Ok(Json(serde_json::json!({
        "event_id": stored.event.id().to_hex(),
        "device_id": device_id,
        "body_type": body_type,
    })))
}
