//! `POST /api/v1/tokens/external`: an app on a shared device registers the OAuth tokens it got
//! from the hospital's authorization server, so that Baton revokes them there (RFC 7009) when
//! the custody ends (docs/PROTOCOL.md §5.5).
//!
//! The app authenticates with its custody-bound Baton token (`Authorization: Bearer`, from
//! `POST /api/v1/tokens`), and the token it registers is bound to that token's custody: no
//! caller can name another custody. A registration that arrives after the custody ended is
//! answered `409 custody_ended`, and the token is revoked at once all the same: a late
//! registration never keeps a token alive.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use baton_core::ids::DeviceId;
use serde::Deserialize;

use super::AppState;
use super::error::ApiError;
use super::tokens::sha256_hex;
use crate::revocation::custody_is_open;
use crate::storage::{NewExternalToken, StorageError};
use crate::sync::now_ms;
use crate::token_revocation::{MAX_TOKENS_PER_CUSTODY, TokenTypeHint, check_token};
use crate::token_vault::Binding;

/// Baton's own tokens are 43 characters; anything much longer is not one.
const MAX_BEARER_CHARS: usize = 256;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistrationRequest {
    /// The `oauth_revocation` connector (authorization server) that issued the token.
    connector: String,
    token: String,
    token_type_hint: String,
}

fn invalid_token(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "invalid_token", message)
}

fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, code, message)
}

pub async fn register(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let presented = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|token| !token.is_empty() && token.len() <= MAX_BEARER_CHARS)
        .ok_or_else(|| {
            invalid_token(
                "Authenticate with `Authorization: Bearer` and this custody's Baton token \
                 (POST /api/v1/tokens).",
            )
        })?;
    let baton_token = state
        .storage
        .find_access_token(&sha256_hex(presented))
        .await
        .map_err(ApiError::storage)?
        .ok_or_else(|| invalid_token("The Baton token is unknown."))?;

    let request: RegistrationRequest = serde_json::from_slice(&body)
        .map_err(|error| bad_request("malformed_request", error.to_string()))?;
    let hint = TokenTypeHint::parse(&request.token_type_hint).ok_or_else(|| {
        bad_request(
            "bad_token_type_hint",
            "token_type_hint must be \"refresh_token\" or \"access_token\".",
        )
    })?;
    // The file's RFC 7009 connectors, or an enabled one the site's admin made.
    let known_connector = state
        .token_revocation_connectors
        .contains(&request.connector)
        || state
            .storage
            .find_site_connector(&baton_token.site_id, &request.connector)
            .await
            .map_err(ApiError::storage)?
            .is_some_and(|connector| connector.enabled && connector.kind == "oauth_revocation");
    if !known_connector {
        return Err(bad_request(
            "unknown_connector",
            format!(
                "{:?} is not an oauth_revocation connector of this server.",
                request.connector
            ),
        ));
    }
    check_token(&request.token).map_err(|reason| bad_request("bad_token", reason))?;

    let now = now_ms();
    let custody_open = baton_token.revoked_at_ms.is_none() && {
        let device = DeviceId::new(&baton_token.device_id).map_err(ApiError::internal)?;
        let guard = state
            .replicas
            .lock(state.storage.as_ref(), &baton_token.site_id)
            .await
            .map_err(ApiError::internal)?;
        custody_is_open(
            guard.replica.custody(),
            &device,
            &baton_token.staff_id,
            &baton_token.opened_by,
            now,
        )
    };
    // An expired token no longer opens anything; once its custody has ended, though, it still
    // names a custody whose tokens must go, so the registration is taken and revoked.
    if custody_open && baton_token.expires_at_ms <= now as i64 {
        return Err(invalid_token(
            "The Baton token has expired; ask for a new one.",
        ));
    }

    let binding = Binding {
        site_id: &baton_token.site_id,
        device_id: &baton_token.device_id,
        staff_id: &baton_token.staff_id,
        opened_by: &baton_token.opened_by,
        connector: &request.connector,
        token_type_hint: hint.as_str(),
    };
    let sealed = state.token_vault.seal(&request.token, binding);
    let registered = state
        .storage
        .register_external_token(
            &NewExternalToken {
                site_id: baton_token.site_id.clone(),
                device_id: baton_token.device_id.clone(),
                staff_id: baton_token.staff_id.clone(),
                opened_by: baton_token.opened_by.clone(),
                connector: request.connector.clone(),
                token_type_hint: hint.as_str().to_owned(),
                token_sha256: sha256_hex(&request.token),
                sealed,
                registered_at_ms: now as i64,
            },
            MAX_TOKENS_PER_CUSTODY,
        )
        .await
        .map_err(|error| match error {
            StorageError::TooManyExternalTokens { limit } => ApiError::new(
                StatusCode::CONFLICT,
                "too_many_tokens",
                format!(
                    "This custody already has {limit} registered tokens, the most it may hold."
                ),
            ),
            other => ApiError::storage(other),
        })?;
    tracing::info!(
        site_id = baton_token.site_id,
        device_id = baton_token.device_id,
        staff_id = baton_token.staff_id,
        connector = request.connector,
        token_type_hint = hint.as_str(),
        token_id = registered.token_id,
        custody_open,
        "external token registered"
    );
    if !custody_open || registered.revocation_id.is_some() {
        let message = if registered.revocation_id.is_some() {
            "This custody has ended: the token is not kept for it and is being revoked now."
        } else {
            "This custody has ended: the token is not kept for it and will be revoked with the \
             custody's revocation."
        };
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "custody_ended",
            message,
        ));
    }
    Ok((
        if registered.newly_stored {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        Json(serde_json::json!({
            "registered": true,
            "connector": request.connector,
            "token_type_hint": hint.as_str(),
            "device_id": baton_token.device_id,
            "staff_id": baton_token.staff_id,
        })),
    ))
}
