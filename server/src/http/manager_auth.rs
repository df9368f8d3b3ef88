//! Sign-in for managers, auditors and admins: argon2id passwords, a session cookie that is
//! HttpOnly, SameSite=Strict and Secure behind TLS, a CSRF token for every state-changing
//! request, and a throttle on failed sign-ins. Sign-in is also limited per client address
//! (`rate_limit::limit_by_address`) and its argon2id work by a global cap (`Argon2Gate`).
//!
//! Only SHA-256 hashes of the session token are stored. The CSRF token is derived from the
//! session token (SHA-256 under a domain prefix), so a page script from another origin, which
//! can neither read the cookie nor the response, cannot produce it.

use std::collections::HashMap;
use std::sync::Mutex;

use argon2::password_hash::{PasswordHash, PasswordVerifier};
use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use rand::RngCore;
use rand::rngs::OsRng;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::AppState;
use super::error::ApiError;
use crate::storage::{AccountRecord, SessionRecord};
use crate::sync::now_ms;

pub const SESSION_COOKIE: &str = "baton_session";
pub const CSRF_HEADER: &str = "x-csrf-token";
/// A dashboard session lasts one long shift.
pub const SESSION_LIFETIME_MS: u64 = 12 * 60 * 60 * 1000;
/// Failed sign-ins tolerated per username within `THROTTLE_WINDOW_MS`.
pub const MAX_FAILED_SIGN_INS: u32 = 5;
pub const THROTTLE_WINDOW_MS: u64 = 15 * 60 * 1000;
/// Usernames the throttle remembers at most: random usernames must not grow it without bound.
pub const MAX_THROTTLED_USERNAMES: usize = 10_000;

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// How a session token is stored: its SHA-256, never the token.
pub(crate) fn hash_session_token(token: &str) -> String {
    sha256_hex(token)
}

fn csrf_for(session_token: &str) -> String {
    sha256_hex(&format!("baton.csrf.v1\n{session_token}"))
}

/// Failed sign-ins per username, per process. With several server processes an attacker gets
/// this budget once per process; the window still bounds the rate to a few guesses a minute.
/// At most `MAX_THROTTLED_USERNAMES` are remembered: when full, expired windows are dropped,
/// then usernames below the lockout, so the locked-out ones are the last to go. (A flood can
/// thus reset a username's count below the lockout, but only once per that many sign-ins, which
/// the per-address limit makes slow.)
#[derive(Default)]
pub struct SignInThrottle {
    failures: Mutex<HashMap<String, (u32, u64)>>,
}

impl SignInThrottle {
    fn is_locked(&self, username: &str, now_ms: u64) -> bool {
        let failures = self.failures.lock().expect("never poisoned");
        failures.get(username).is_some_and(|&(count, since)| {
            count >= MAX_FAILED_SIGN_INS && now_ms - since < THROTTLE_WINDOW_MS
        })
    }

    fn record_failure(&self, username: &str, now_ms: u64) {
        let mut failures = self.failures.lock().expect("never poisoned");
        if failures.len() >= MAX_THROTTLED_USERNAMES && !failures.contains_key(username) {
            failures.retain(|_, &mut (_, since)| now_ms.saturating_sub(since) < THROTTLE_WINDOW_MS);
            if failures.len() >= MAX_THROTTLED_USERNAMES {
                failures.retain(|_, &mut (count, _)| count >= MAX_FAILED_SIGN_INS);
            }
            if failures.len() >= MAX_THROTTLED_USERNAMES {
                // Every remembered username is locked out: keep them locked, count no more.
                return;
            }
        }
        let entry = failures.entry(username.to_owned()).or_insert((0, now_ms));
        if now_ms - entry.1 >= THROTTLE_WINDOW_MS {
            *entry = (0, now_ms);
        }
        entry.0 += 1;
    }

    pub fn n_remembered(&self) -> usize {
        self.failures.lock().expect("never poisoned").len()
    }

    fn clear(&self, username: &str) {
        self.failures
            .lock()
            .expect("never poisoned")
            .remove(username);
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    username: String,
    password: String,
}

pub async fn sign_in(
    State(state): State<AppState>,
    Json(sign_in): Json<SignIn>,
) -> Result<Response, ApiError> {
    let now_ms = now_ms();
    if sign_in.username.len() > 128 || sign_in.password.len() > 1024 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "field_too_long",
            "Username or password is too long.",
        ));
    }
    if state.sign_in_throttle.is_locked(&sign_in.username, now_ms) {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_attempts",
            "Too many failed sign-ins for this account; wait 15 minutes or ask an admin.",
        ));
    }
    let account = state
        .storage
        .find_account(&sign_in.username)
        .await
        .map_err(ApiError::storage)?;
    let password = sign_in.password;
    // An unknown username costs the same argon2 work as a known one, so response times do not
    // tell which usernames exist.
    let stored_hash = account
        .as_ref()
        .map(|account| account.password_hash.clone());
    // At most a few hashes at once, whoever asks: random usernames cannot take every core.
    let argon2_slot = state.rate_limits.argon2.acquire().await?;
    let verified = tokio::task::spawn_blocking(move || {
        let _argon2_slot = argon2_slot;
        let hash_text = stored_hash.as_deref().unwrap_or_else(|| dummy_hash());
        let matches = PasswordHash::new(hash_text)
            .map(|hash| {
                argon2::Argon2::default()
                    .verify_password(password.as_bytes(), &hash)
                    .is_ok()
            })
            .unwrap_or(false);
        matches && stored_hash.is_some()
    })
    .await
    .map_err(ApiError::internal)?;
    let Some(account) = account.filter(|_| verified) else {
        state
            .sign_in_throttle
            .record_failure(&sign_in.username, now_ms);
        // Debug formatting escapes control characters: a username cannot forge log lines.
        tracing::info!(username = ?sign_in.username, "failed sign-in");
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "bad_credentials",
            "Wrong username or password.",
        ));
    };
    state.sign_in_throttle.clear(&account.username);

    let mut token_bytes = [0_u8; 32];
    OsRng.fill_bytes(&mut token_bytes);
    let token = hex::encode(token_bytes);
    let csrf_token = csrf_for(&token);
    state
        .storage
        .create_session(&SessionRecord {
            session_hash: sha256_hex(&token),
            username: account.username.clone(),
            csrf_hash: sha256_hex(&csrf_token),
            created_at_ms: now_ms as i64,
            expires_at_ms: (now_ms + SESSION_LIFETIME_MS) as i64,
        })
        .await
        .map_err(ApiError::storage)?;
    tracing::info!(username = %account.username, role = account.role.as_str(), "signed in");
    let secure = if state.secure_cookies { "; Secure" } else { "" };
    let cookie = format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        SESSION_LIFETIME_MS / 1000
    );
    let mut response = Json(session_json(&account, &csrf_token)).into_response();
    response.headers_mut().insert(
        SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(ApiError::internal)?,
    );
    Ok(response)
}

/// A hash of a random password nobody knows, made once per process.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        crate::seed::hash_secret(&crate::seed::random_password())
            .expect("argon2id with a fresh salt always hashes")
    })
}

fn session_json(account: &AccountRecord, csrf_token: &str) -> serde_json::Value {
    serde_json::json!({
        "username": account.username,
        "role": account.role.as_str(),
        "site_id": account.site_id,
        "csrf_token": csrf_token,
    })
}

pub async fn current_session(session: ManagerSession) -> Json<serde_json::Value> {
    Json(session_json(&session.account, &session.csrf_token))
}

pub async fn sign_out(
    State(state): State<AppState>,
    session: ManagerSession,
) -> Result<Response, ApiError> {
    state
        .storage
        .delete_session(&sha256_hex(&session.token))
        .await
        .map_err(ApiError::storage)?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        SET_COOKIE,
        HeaderValue::from_static("baton_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    Ok(response)
}

/// A signed-in account. For any method but GET and HEAD the request must also carry the
/// session's CSRF token in `X-CSRF-Token`.
pub struct ManagerSession {
    pub account: AccountRecord,
    token: String,
    csrf_token: String,
}

impl ManagerSession {
    /// The stored form of this session's token (its SHA-256), to tell it from the account's
    /// other sessions.
    pub(crate) fn session_hash(&self) -> String {
        sha256_hex(&self.token)
    }
}

/// The `baton_session` cookie's token, if the request carries one.
pub(crate) fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| {
            pair.trim()
                .strip_prefix(&format!("{SESSION_COOKIE}="))
                .map(str::to_owned)
        })
}

impl FromRequestParts<AppState> for ManagerSession {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let signed_out =
            || ApiError::new(StatusCode::UNAUTHORIZED, "not_signed_in", "Sign in first.");
        let token = session_token(&parts.headers).ok_or_else(signed_out)?;
        let session = state
            .storage
            .find_session(&sha256_hex(&token), now_ms() as i64)
            .await
            .map_err(ApiError::storage)?
            .ok_or_else(signed_out)?;
        let csrf_token = csrf_for(&token);
        if parts.method != Method::GET && parts.method != Method::HEAD {
            let sent = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|value| value.to_str().ok());
            if sent != Some(csrf_token.as_str()) {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "csrf_token_invalid",
                    "The request lacks this session's CSRF token; reload the page.",
                ));
            }
        }
        let account = state
            .storage
            .find_account(&session.username)
            .await
            .map_err(ApiError::storage)?
            .ok_or_else(signed_out)?;
        Ok(ManagerSession {
            account,
            token,
            csrf_token,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_usernames_never_grow_the_throttle_past_its_bound_and_a_locked_account_stays_locked() {
        let throttle = SignInThrottle::default();
        let start_ms = 1_000_000;
        for _ in 0..MAX_FAILED_SIGN_INS {
            throttle.record_failure("manager", start_ms);
        }
        assert!(throttle.is_locked("manager", start_ms));
        // A flood of random usernames, one failure each, within the window.
        for index in 0..(3 * MAX_THROTTLED_USERNAMES) {
            throttle.record_failure(&format!("random-{index}"), start_ms + 1);
        }
        assert!(throttle.n_remembered() <= MAX_THROTTLED_USERNAMES);
        assert!(
            throttle.is_locked("manager", start_ms + 2),
            "the flood must not unlock the account it hides"
        );
        // After the flood the throttle still counts: a new target is locked after five.
        for _ in 0..MAX_FAILED_SIGN_INS {
            throttle.record_failure("auditor", start_ms + 3);
        }
        assert!(throttle.is_locked("auditor", start_ms + 3));
        assert!(throttle.n_remembered() <= MAX_THROTTLED_USERNAMES);
    }
}
