//! `POST /api/v1/tablet/session/logout`: the server's part of the session wipe a tablet runs when
//! the custody of the device it runs on ends (`app/src/browser/site_data.rs`).
//!
//! A page cannot clear an HttpOnly cookie; only the server that set it can, by answering with a
//! `Set-Cookie` that expires it. The only cookie Baton sets is the dashboard's session cookie
//! (`baton_session`), which a manager who signed in to the dashboard on the device leaves
//! behind. This route ends that session in storage, so a copy of the cookie is worthless too,
//! and expires the cookie. Cookies of other origins are out of any web page's reach and are not
//! claimed.
//!
//! Authenticated like every tablet route (`SignedByTablet`): only an enrolled tablet can ask, and
//! the request carries its signature headers, which a cross-site form cannot send.

use axum::Json;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::AppState;
use super::error::ApiError;
use super::manager_auth::{SESSION_COOKIE, hash_session_token, session_token};
use super::tablet_auth::SignedByTablet;

/// What the logout did, for the tablet's wipe report.
#[derive(Debug, Serialize)]
pub struct LogoutAnswer {
    /// The cookies the answer expires.
    pub expired_cookies: Vec<&'static str>,
    /// Whether the request carried a live dashboard session, now ended.
    pub session_ended: bool,
}

pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    signed: SignedByTablet,
) -> Result<Response, ApiError> {
    let mut session_ended = false;
    if let Some(token) = session_token(&headers) {
        let session_hash = hash_session_token(&token);
        session_ended = state
            .storage
            .find_session(&session_hash, signed.now_ms as i64)
            .await
            .map_err(ApiError::storage)?
            .is_some();
        state
            .storage
            .delete_session(&session_hash)
            .await
            .map_err(ApiError::storage)?;
    }
    tracing::info!(
        tablet_id = signed.tablet.tablet_id,
        session_ended,
        "tablet session wipe: cookies expired"
    );
    let secure = if state.secure_cookies { "; Secure" } else { "" };
    let expired =
        format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}");
    let mut response = Json(LogoutAnswer {
        expired_cookies: vec![SESSION_COOKIE],
        session_ended,
    })
    .into_response();
    response.headers_mut().insert(
        SET_COOKIE,
        HeaderValue::from_str(&expired).map_err(ApiError::internal)?,
    );
    Ok(response)
}
