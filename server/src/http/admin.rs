//! Registry administration for a site's managers: CSV imports of staff and devices, and
//! deactivating a departing person (the change reaches every tablet at its next pull, through
//! the roster version).

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::AppState;
use super::error::ApiError;
use super::manager_auth::ManagerSession;
use crate::registry_import::{self, ImportError};
use crate::storage::{AccountRole, StorageError};

/// The largest CSV accepted: 1,000 rows of staff fit in well under this.
pub const MAX_CSV_BYTES: usize = 512 * 1024;

/// The site a manager (or a site-bound admin) may change. Auditors read only.
fn writable_site(session: &ManagerSession) -> Result<String, ApiError> {
    if session.account.role == AccountRole::Auditor {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Auditors read; they do not change the registry.",
        ));
    }
    session.account.site_id.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "site_required",
            "Registry changes belong to a site; use a site account.",
        )
    })
}

fn import_error(error: ImportError) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "bad_csv",
        format!("{error}; nothing was imported."),
    )
}

fn storage_error(error: StorageError) -> ApiError {
    match error {
        StorageError::Conflict(message) => ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!("{message}; nothing was imported."),
        ),
        other => ApiError::storage(other),
    }
}

async fn site_wards(state: &AppState, site_id: &str) -> Result<BTreeSet<String>, ApiError> {
    Ok(state
        .storage
        .list_wards(site_id)
        .await
        .map_err(storage_error)?
        .into_iter()
        .map(|ward| ward.ward_id)
        .collect())
}

fn csv_text(body: &axum::body::Bytes) -> Result<&str, ApiError> {
    std::str::from_utf8(body).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_csv",
            "The CSV must be UTF-8; nothing was imported.",
        )
    })
}

pub async fn import_staff(
    State(state): State<AppState>,
    session: ManagerSession,
    body: axum::body::Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let site_id = writable_site(&session)?;
    let wards = site_wards(&state, &site_id).await?;
    let text = csv_text(&body)?.to_owned();
    // Hashing PINs is slow on purpose: keep it off the async workers.
    let staff = tokio::task::spawn_blocking(move || {
        registry_import::parse_staff(&text, &wards, |pin| {
            crate::seed::hash_secret(pin).expect("argon2id with a fresh salt always hashes")
        })
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(import_error)?;
    let staff_ids: Vec<&str> = staff
        .iter()
        .map(|member| member.staff_id.as_str())
        .collect();
    let action = serde_json::json!({ "type": "staff_imported", "staff_ids": staff_ids });
    let (created, updated) = state
        .storage
        .upsert_staff(&site_id, &staff)
        .await
        .map_err(storage_error)?;
    finish_import(&state, &session, &site_id, action, created, updated).await
}

pub async fn import_devices(
    State(state): State<AppState>,
    session: ManagerSession,
    body: axum::body::Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let site_id = writable_site(&session)?;
    let wards = site_wards(&state, &site_id).await?;
    let devices =
        registry_import::parse_devices(csv_text(&body)?, &site_id, &wards).map_err(import_error)?;
    let device_ids: Vec<&str> = devices
        .iter()
        .map(|device| device.device_id.as_str())
        .collect();
    let action = serde_json::json!({ "type": "devices_imported", "device_ids": device_ids });
    let (created, updated) = state
        .storage
        .upsert_devices(&site_id, &devices)
        .await
        .map_err(storage_error)?;
    finish_import(&state, &session, &site_id, action, created, updated).await
}

/// Ledgers an import as one governance entry, logs it, and answers with the counts.
async fn finish_import(
    state: &AppState,
    session: &ManagerSession,
    site_id: &str,
    action: serde_json::Value,
    created: usize,
    updated: usize,
) -> Result<Json<serde_json::Value>, ApiError> {
    let action_type = action["type"].as_str().unwrap_or_default().to_owned();
    crate::ledger::record_governance(
        state.storage.as_ref(),
        site_id,
        action,
        &session.account.username,
        crate::sync::now_ms(),
    )
    .await?;
    tracing::info!(
        site_id,
        created,
        updated,
        by = session.account.username,
        action = action_type,
        "registry imported"
    );
    Ok(Json(
        serde_json::json!({ "created": created, "updated": updated }),
    ))
}

pub async fn deactivate_staff(
    state: State<AppState>,
    session: ManagerSession,
    staff_id: Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    set_active(state, session, staff_id, false).await
}

pub async fn activate_staff(
    state: State<AppState>,
    session: ManagerSession,
    staff_id: Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    set_active(state, session, staff_id, true).await
}

async fn set_active(
    State(state): State<AppState>,
    session: ManagerSession,
    Path(staff_id): Path<String>,
    active: bool,
) -> Result<Json<serde_json::Value>, ApiError> {
    let site_id = writable_site(&session)?;
    let changed = state
        .storage
        .set_staff_active(&site_id, &staff_id, active)
        .await
        .map_err(storage_error)?;
    if !changed {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_staff",
            "No such person at this site.",
        ));
    }
    let action_type = if active {
        "staff_activated"
    } else {
        "staff_deactivated"
    };
    crate::ledger::record_governance(
        state.storage.as_ref(),
        &site_id,
        serde_json::json!({ "type": action_type, "staff_id": staff_id }),
        &session.account.username,
        crate::sync::now_ms(),
    )
    .await?;
    tracing::info!(
        site_id,
        staff_id,
        active,
        by = session.account.username,
        "staff activation changed"
    );
    Ok(Json(
        serde_json::json!({ "staff_id": staff_id, "active": active }),
    ))
}

/// Body limit for the CSV routes.
pub fn csv_body_limit() -> axum::extract::DefaultBodyLimit {
    axum::extract::DefaultBodyLimit::max(MAX_CSV_BYTES)
}
