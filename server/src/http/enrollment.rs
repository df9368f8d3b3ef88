//! Enrollment over HTTP: a manager creates a code; a tablet redeems it with its public key and
//! receives what it needs to work offline.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use baton_core::ids::SignerKey;
use baton_core::keys::{KeySet, SignerInfo};
use serde::Deserialize;

use super::AppState;
use super::error::ApiError;
use super::manager_auth::ManagerSession;
use super::roster::load_roster;
use crate::enrollment::{self, DEFAULT_CODE_MINUTES, MAX_CODE_MINUTES};
use crate::storage::{AccountRole, StorageError, TabletRecord};
use crate::sync::now_ms;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCode {
    ward_id: String,
    minutes: Option<u32>,
}

pub async fn create_code(
    State(state): State<AppState>,
    session: ManagerSession,
    Json(request): Json<NewCode>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let account = &session.account;
    let forbidden = || {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Only a manager of this site may enroll tablets.",
        )
    };
    if account.role == AccountRole::Auditor {
        return Err(forbidden());
    }
    let minutes = request.minutes.unwrap_or(DEFAULT_CODE_MINUTES);
    if minutes == 0 || minutes > MAX_CODE_MINUTES {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_minutes",
            format!("`minutes` must be 1 to {MAX_CODE_MINUTES}."),
        ));
    }
    // The ward decides the site; a manager may only enroll into their own site.
    let site_id = match &account.site_id {
        Some(site_id) => site_id.clone(),
        None => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "site_required",
                "An admin enrolls through a site manager account.",
            ));
        }
    };
    let wards = state
        .storage
        .list_wards(&site_id)
        .await
        .map_err(ApiError::storage)?;
    if !wards.iter().any(|ward| ward.ward_id == request.ward_id) {
        return Err(forbidden());
    }
    let (code, expires_at_ms) = enrollment::create_code(
        state.storage.as_ref(),
        &site_id,
        &request.ward_id,
        &account.username,
        minutes,
        now_ms(),
    )
    .await
    .map_err(ApiError::storage)?;
    crate::ledger::record_governance(
        state.storage.as_ref(),
        &site_id,
        serde_json::json!({ "type": "enrollment_code_created", "ward_id": request.ward_id, "expires_at_ms": expires_at_ms }),
        &account.username,
        now_ms(),
    )
    .await?;
    tracing::info!(
        site_id,
        ward_id = request.ward_id,
        by = account.username,
        "enrollment code created"
    );
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({
            "code": code,
            "site_id": site_id,
            "ward_id": request.ward_id,
            "expires_at_ms": expires_at_ms,
            "qr_svg": enrollment::code_qr_svg(&code),
        })),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Enroll {
    code: String,
    /// The tablet's new ed25519 public key, hex.
    public_key: String,
    /// A human name for the tablet, e.g. "4E nurses' station".
    label: String,
}

pub async fn enroll(
    State(state): State<AppState>,
    Json(request): Json<Enroll>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let bad =
        |code: &'static str, message: String| ApiError::new(StatusCode::BAD_REQUEST, code, message);
    if request.code.len() > 32 {
        return Err(bad(
            "bad_code",
            "The enrollment code is too long.".to_owned(),
        ));
    }
    let label = request.label.trim();
    if label.is_empty() || label.chars().count() > 64 || label.chars().any(char::is_control) {
        return Err(bad(
            "bad_label",
            "The label must be 1 to 64 printable characters.".to_owned(),
        ));
    }
    let signer = SignerKey::from_hex(&request.public_key)
        .map_err(|error| bad("bad_public_key", format!("public_key: {error}")))?;
    // The key set applies the full enrollment checks (canonical encoding, no torsion).
    KeySet::new()
        .enroll(signer, SignerInfo::tablet())
        .map_err(|error| bad("bad_public_key", format!("public_key: {error}")))?;

    let now_ms = now_ms();
    let tablet_id = format!(
        "T-{}",
        &hex::encode(signer.as_bytes())[..12].to_ascii_uppercase()
    );
    let candidate = TabletRecord {
        tablet_id,
        site_id: String::new(),
        ward_id: String::new(),
        public_key: signer.to_hex(),
        label: label.to_owned(),
        enrolled_at_ms: now_ms as i64,
        revoked_from_ms: None,
        last_sync_ms: None,
    };
    let tablet = match state
        .storage
        .redeem_enrollment_code(
            &enrollment::code_hash(&request.code),
            now_ms as i64,
            &candidate,
        )
        .await
    {
        Ok(tablet) => tablet,
        Err(StorageError::EnrollmentCodeInvalid) => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "enrollment_code_invalid",
                "This enrollment code is unknown, expired or already used; ask a manager for a new one.",
            ));
        }
        Err(StorageError::KeyAlreadyEnrolled(tablet_id)) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "key_already_enrolled",
                format!("This key is already enrolled as tablet {tablet_id}."),
            ));
        }
        Err(error) => return Err(ApiError::storage(error)),
    };
    // Enrollment is the tablet's own act, with a manager's code: the ledger names both.
    crate::ledger::record_governance(
        state.storage.as_ref(),
        &tablet.site_id,
        serde_json::json!({
            "type": "tablet_enrolled",
            "tablet_id": tablet.tablet_id,
            "ward_id": tablet.ward_id,
            "public_key": tablet.public_key,
            "label": tablet.label,
        }),
        "enrollment-code",
        now_ms,
    )
    .await?;
    tracing::info!(
        tablet_id = tablet.tablet_id,
        site_id = tablet.site_id,
        ward_id = tablet.ward_id,
        "tablet enrolled"
    );
    let roster = load_roster(state.storage.as_ref(), &tablet.site_id).await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({
            "tablet_id": tablet.tablet_id,
            "site_id": tablet.site_id,
            "ward_id": tablet.ward_id,
            "server_public_key": state.server_key.current().public_key().to_hex(),
            "roster": roster,
        })),
    ))
}
