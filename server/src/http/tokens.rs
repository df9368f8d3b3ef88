//! Custody-bound access tokens: how "physical custody never implies logical access" becomes
//! code. A tablet asks for a token for (device, person) only while that person holds the
//! device; resource servers ask the OAuth 2.0 Token Introspection endpoint (RFC 7662), which
//! answers `active: false` from the moment the custody ends, whatever the token's expiry.
//! A token is issued only for a device of the site's registry and a person of its roster, both
//! active: the custody a tablet signed is evidence, not an authorisation to invent people.

use axum::extract::State;
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::{Form, Json};
use base64::Engine;
use baton_core::ids::DeviceId;
use rand::RngCore;
use rand::rngs::OsRng;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::AppState;
use super::error::ApiError;
use super::tablet_auth::SignedByTablet;
use crate::revocation::custody_is_open;
use crate::storage::AccessTokenRecord;
use crate::sync::now_ms;

/// Tokens are short-lived: a stolen one is worth minutes, and custody is re-checked at every
/// introspection anyway.
pub const TOKEN_LIFETIME_MS: u64 = 15 * 60 * 1000;

pub(crate) fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenRequest {
    device_id: String,
    staff_id: String,
}

pub async fn issue(
    State(state): State<AppState>,
    request: SignedByTablet,
) -> Result<Json<serde_json::Value>, ApiError> {
    let token_request: TokenRequest = serde_json::from_slice(&request.body).map_err(|error| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_token_request",
            error.to_string(),
        )
    })?;
    let device = DeviceId::new(&token_request.device_id).map_err(|error| {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_device_id", error.to_string())
    })?;
    let site_id = request.tablet.site_id.clone();
    // A custody in the log is what a tablet signed; the registry is what the site knows. A
    // token opens clinical apps, so both must agree: a compromised tablet cannot mint one for
    // an invented or deactivated person, or for a device the site does not have.
    check_registry(
        &state,
        &site_id,
        &token_request.device_id,
        &token_request.staff_id,
    )
    .await?;
    let now = now_ms();
    let opened_by = {
        let guard = state
            .replicas
            .lock(state.storage.as_ref(), &site_id)
            .await?;
        let custody = guard.replica.custody();
        let current = custody
            .device(&device)
            .and_then(|device_state| device_state.open_intervals().last().cloned());
        match current {
            Some(interval)
                if custody_is_open(
                    custody,
                    &device,
                    &token_request.staff_id,
                    &interval.opened_by.to_hex(),
                    now,
                ) =>
            {
                interval.opened_by.to_hex()
            }
            _ => {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "no_custody",
                    "This person does not hold this device now; check it out to them first.",
                ));
            }
        }
    };
    let mut token_bytes = [0_u8; 32];
    OsRng.fill_bytes(&mut token_bytes);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token_bytes);
    state
        .storage
        .insert_access_token(&AccessTokenRecord {
            token_hash: sha256_hex(&token),
            site_id,
            device_id: token_request.device_id.clone(),
            staff_id: token_request.staff_id.clone(),
            opened_by,
            issued_at_ms: now as i64,
            expires_at_ms: (now + TOKEN_LIFETIME_MS) as i64,
            revoked_at_ms: None,
        })
        .await
        .map_err(ApiError::storage)?;
    Ok(Json(serde_json::json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": TOKEN_LIFETIME_MS / 1000,
        "device_id": token_request.device_id,
        "staff_id": token_request.staff_id,
    })))
}

/// Refuses a token unless the device is an active device of the site's registry and the person
/// an active member of its roster.
async fn check_registry(
    state: &AppState,
    site_id: &str,
    device_id: &str,
    staff_id: &str,
) -> Result<(), ApiError> {
    let unavailable = ApiError::storage;
    let refuse = |code: &'static str, message: &str| {
        tracing::warn!(
            code,
            device_id,
            staff_id,
            "token refused: not in the registry"
        );
        Err(ApiError::new(StatusCode::FORBIDDEN, code, message))
    };
    let devices = state
        .storage
        .list_devices(site_id)
        .await
        .map_err(unavailable)?;
    match devices.iter().find(|device| device.device_id == device_id) {
        None => {
            return refuse(
                "unknown_device",
                "This device is not in the site's registry; a manager must import it first.",
            );
        }
        Some(device) if !device.active => {
            return refuse(
                "device_inactive",
                "This device is retired in the site's registry; no access is issued for it.",
            );
        }
        Some(_) => {}
    }
    let staff = state
        .storage
        .list_staff(site_id)
        .await
        .map_err(unavailable)?;
    match staff.iter().find(|person| person.staff_id == staff_id) {
        None => refuse(
            "unknown_staff",
            "This person is not on the site's roster; a manager must import them first.",
        ),
        Some(person) if !person.active => refuse(
            "staff_inactive",
            "This person is deactivated on the site's roster; no access is issued to them.",
        ),
        Some(_) => Ok(()),
    }
}

#[derive(Debug, Deserialize)]
pub struct IntrospectionRequest {
    token: String,
    #[allow(
        dead_code,
        reason = "RFC 7662 allows the hint; Baton has one kind of token"
    )]
    token_type_hint: Option<String>,
}

/// RFC 7662 §2. Resource servers authenticate with HTTP Basic (any client id, the configured
/// secret as password). Every inactive case answers exactly `{"active": false}`.
pub async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(request): Form<IntrospectionRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Some(secret) = state.introspection_secret.as_deref() else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "Introspection is off; start the server with --introspection-secret.",
        ));
    };
    let presented = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Basic "))
        .and_then(|encoded| {
            base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .ok()
        })
        .and_then(|decoded| String::from_utf8(decoded).ok())
        .and_then(|credentials| {
            credentials
                .split_once(':')
                .map(|(_, password)| password.to_owned())
        });
    let authorised = presented.is_some_and(|password| {
        Sha256::digest(password.as_bytes()) == Sha256::digest(secret.as_bytes())
    });
    if !authorised {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Authenticate with HTTP Basic and the introspection secret.",
        ));
    }
    let inactive = Json(serde_json::json!({ "active": false }));
    if request.token.len() > 256 {
        return Ok(inactive);
    }
    let Some(token) = state
        .storage
        .find_access_token(&sha256_hex(&request.token))
        .await
        .map_err(ApiError::storage)?
    else {
        return Ok(inactive);
    };
    let now = now_ms();
    if token.revoked_at_ms.is_some() || token.expires_at_ms <= now as i64 {
        return Ok(inactive);
    }
    let Ok(device) = DeviceId::new(&token.device_id) else {
        return Ok(inactive);
    };
    let guard = state
        .replicas
        .lock(state.storage.as_ref(), &token.site_id)
        .await?;
    let custody = guard.replica.custody();
    if !custody_is_open(custody, &device, &token.staff_id, &token.opened_by, now) {
        return Ok(inactive);
    }
    Ok(Json(serde_json::json!({
        "active": true,
        "token_type": "Bearer",
        "sub": token.staff_id,
        "device_id": token.device_id,
        "site_id": token.site_id,
        "iat": token.issued_at_ms / 1000,
        "exp": token.expires_at_ms / 1000,
    })))
}
