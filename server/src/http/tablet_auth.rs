//! The extractor for requests signed by an enrolled tablet (see `baton_core::request`).
//!
//! A handler that takes `SignedByTablet` runs only for a request whose signature verifies with
//! an enrolled, not decommissioned tablet's key, whose timestamp is within the window, and whose
//! nonce was never seen before within that window: a captured request cannot be replayed. Each
//! tablet's requests are rate limited (`rate_limit`) once it is known to be enrolled.
//!
//! A push's nonce is remembered in the transaction that stores the push (`push_batch.rs`), so
//! that ingest writes once per group of pushes rather than once more per push; a replayed push
//! is refused then, with the same answer, and stores nothing its original would not have
//! stored (the same signed events, which storage keeps once).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode};
use baton_core::ids::SignerKey;
use baton_core::request::{
    HEADER_KEY, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP, RequestToSign, verify_request,
};

use super::AppState;
use super::error::ApiError;
use crate::storage::{NewNonce, TabletRecord};
use crate::sync::now_ms;

/// How far a request's timestamp may be from the server's clock, either way.
pub const REQUEST_WINDOW_MS: u64 = 5 * 60_000;

/// The largest body a tablet may send in one request (a push of 500 events fits easily).
pub const MAX_SIGNED_BODY_BYTES: usize = 4 * 1024 * 1024;

/// The push route, the one admission control applies to.
const PUSH_PATH: &str = "/api/v1/sync/push";

pub struct SignedByTablet {
    pub tablet: TabletRecord,
    pub signer: SignerKey,
    pub body: Bytes,
    pub now_ms: u64,
    /// A push's place in its site's queue (`admission.rs`), held until the answer is built;
    /// `None` for the other tablet routes.
    pub push_ticket: Option<super::admission::PushTicket>,
    /// A push's nonce, not yet remembered: the push handler has it remembered with the push's
    /// events. `None` for the other routes, whose nonce was remembered before the handler ran.
    pub push_nonce: Option<NewNonce>,
}

/// The answer to a request whose nonce was already used.
pub fn replayed_request() -> ApiError {
    unauthorized(
        "replayed_request",
        "This request's nonce was already used.".to_owned(),
    )
}

fn header<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<&'a str, ApiError> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .ok_or_else(|| {
            unauthorized(
                "missing_signature",
                format!("The {name} header is missing."),
            )
        })
}

fn unauthorized(code: &'static str, message: String) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, code, message)
}

impl FromRequest<AppState> for SignedByTablet {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (parts, body) = request.into_parts();
        let key_hex = header(&parts.headers, HEADER_KEY)?.to_owned();
        let timestamp = header(&parts.headers, HEADER_TIMESTAMP)?.to_owned();
        let nonce = header(&parts.headers, HEADER_NONCE)?.to_owned();
        let signature = header(&parts.headers, HEADER_SIGNATURE)?.to_owned();
        let timestamp_ms: u64 = timestamp.parse().map_err(|_| {
            unauthorized(
                "bad_timestamp",
                format!("{HEADER_TIMESTAMP} must be milliseconds since the epoch."),
            )
        })?;
        let signer = SignerKey::from_hex(&key_hex)
            .map_err(|error| unauthorized("unknown_tablet", format!("{HEADER_KEY}: {error}")))?;
        let body = axum::body::to_bytes(body, MAX_SIGNED_BODY_BYTES).await.map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("The request body exceeds {MAX_SIGNED_BODY_BYTES} bytes; send fewer events per push."),
            )
        })?;
        let path_and_query = parts
            .uri
            .path_and_query()
            .map_or(parts.uri.path(), |pq| pq.as_str());
        let now_ms = now_ms();
        let to_sign = RequestToSign {
            method: parts.method.as_str(),
            path_and_query,
            body: &body,
            timestamp_ms,
            nonce: &nonce,
        };
        verify_request(&signer, &to_sign, &signature, now_ms, REQUEST_WINDOW_MS)
            .map_err(|error| unauthorized("bad_request_signature", error.to_string()))?;

        let key_hex = key_hex.to_ascii_lowercase();
        let found = state
            .storage
            .find_tablet_by_key(&key_hex)
            .await
            .map_err(ApiError::storage)?;
        let Some(tablet) = found else {
            // Only on the refusal path: say why a key that used to work no longer does.
            let retired = state
                .storage
                .find_retired_tablet_key(&key_hex)
                .await
                .map_err(ApiError::storage)?;
            return Err(match retired {
                Some(tablet_id) => unauthorized(
                    "key_rotated",
                    format!(
                        "Tablet {tablet_id} rotated to a new key: sign with that key. This key is retired."
                    ),
                ),
                None => unauthorized(
                    "unknown_tablet",
                    "This key is not an enrolled tablet.".to_owned(),
                ),
            });
        };
        if tablet
            .revoked_from_ms
            .is_some_and(|revoked_from| revoked_from as u64 <= now_ms)
        {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "tablet_decommissioned",
                "This tablet was decommissioned; a manager must enroll it again.",
            ));
        }
        // Counted after authentication, so that nobody can spend an enrolled tablet's budget,
        // and before the nonce, so that a refused request writes nothing.
        if let Err(refused) = state
            .rate_limits
            .per_tablet
            .check(&tablet.tablet_id, now_ms)
        {
            tracing::info!(tablet_id = tablet.tablet_id, "rate limited by tablet");
            return Err(super::rate_limit::too_many_requests(
                refused,
                "requests from this tablet",
            ));
        }
        // A push beyond its site's queue is deferred here, after authentication and before the
        // nonce: in a reconnect storm a deferred push then costs no database write, and since
        // nothing of it was stored, the same request sent again is not a replay.
        let push_ticket = if parts.uri.path() == PUSH_PATH {
            Some(
                state
                    .rate_limits
                    .pushes
                    .admit(&tablet.site_id)
                    .inspect_err(|_| state.metrics.count_deferred_push())?,
            )
        } else {
            None
        };
        // Checked last, so that only authentic requests can fill the nonce table.
        let nonce = NewNonce {
            tablet_id: tablet.tablet_id.clone(),
            nonce,
            expires_at_ms: (now_ms + REQUEST_WINDOW_MS) as i64,
        };
        let push_nonce = if push_ticket.is_some() {
            Some(nonce)
        } else {
            let fresh = state
                .storage
                .remember_nonce(
                    &nonce.tablet_id,
                    &nonce.nonce,
                    nonce.expires_at_ms,
                    now_ms as i64,
                )
                .await
                .map_err(ApiError::storage)?;
            if !fresh {
                return Err(replayed_request());
            }
            None
        };
        Ok(SignedByTablet {
            tablet,
            signer,
            body,
            now_ms,
            push_ticket,
            push_nonce,
        })
    }
}
