//! The tablet sync API: push signed events, pull the site's events, fetch the roster.
//! Every route takes a request signed by an enrolled tablet (`SignedByTablet`).

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use baton_core::event::SignedEvent;
use baton_core::log::{InsertOutcome, LogError};
use baton_core::replica::ReceiveOutcome;
use baton_core::verify::{Rejection, VerifyOptions};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::ApiError;
pub use super::push_body::MAX_PUSH_EVENTS;
use super::push_body::{PushBodyError, parse_push};
use super::roster::{Roster, load_roster};
use super::tablet_auth::SignedByTablet;
use crate::storage::NewEvent;

/// The most events one pull returns.
pub const MAX_PULL_EVENTS: i64 = 1_000;

#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptStatus {
    /// Verified, stored and admitted to the site's log.
    Accepted,
    /// Verified and stored, waiting for its predecessor to arrive.
    Held,
    /// Already stored: nothing changed.
    Duplicate,
    /// Refused; `reason` says why. Nothing was stored.
    Rejected,
}

#[derive(Debug, Serialize)]
pub struct Receipt {
    pub index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    pub status: ReceiptStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_seq: Option<i64>,
    /// The event's leaf in the site's audit ledger, for an inclusion proof (new events only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leaf_index: Option<i64>,
    pub received_at_ms: u64,
    /// Another event of the same signer has the same seq: both are kept as evidence.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub fork: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
}

#[derive(Debug, Serialize)]
pub struct Reason {
    pub code: &'static str,
    pub message: String,
}

/// The stable code of each rejection, documented in docs/PROTOCOL.md.
pub fn rejection_code(rejection: &Rejection) -> &'static str {
    match rejection {
        Rejection::BadSignature { .. } => "bad_signature",
        Rejection::UnknownSigner { .. } => "unknown_signer",
        Rejection::RevokedSigner { .. } => "revoked_signer",
        Rejection::RetiredKey { .. } => "retired_key",
        Rejection::FutureTimestamp { .. } => "future_timestamp",
        Rejection::Unauthorized { .. } => "authority_required",
        Rejection::Malformed(_) => "malformed",
    }
}

impl From<PushBodyError> for ApiError {
    fn from(error: PushBodyError) -> ApiError {
        let (status, code) = match error {
            PushBodyError::Malformed { .. } => (StatusCode::BAD_REQUEST, "malformed_push"),
            PushBodyError::TooManyEvents { .. } => {
                (StatusCode::PAYLOAD_TOO_LARGE, "batch_too_large")
            }
        };
        ApiError::new(status, code, error.to_string())
    }
}

pub async fn push(
    State(state): State<AppState>,
    request: SignedByTablet,
) -> Result<Json<serde_json::Value>, ApiError> {
    let parsed = parse_push(&request.body, &request.signer)?;
    let started = std::time::Instant::now();
    let now_ms = request.now_ms;
    let mut receipts: Vec<Option<Receipt>> = (0..parsed.n_events).map(|_| None).collect();
    let reject =
        |index: usize, event_id: Option<String>, code: &'static str, message: String| Receipt {
            index,
            event_id,
            status: ReceiptStatus::Rejected,
            server_seq: None,
            leaf_index: None,
            received_at_ms: now_ms,
            fork: false,
            reason: Some(Reason { code, message }),
        };
    // Malformed events and other signers' events get their receipts now; the pushing tablet's
    // own events go on to verification.
    for refused in parsed.refused {
        receipts[refused.index] = Some(reject(
            refused.index,
            refused.event_id.map(|id| id.to_hex()),
            refused.code,
            refused.message,
        ));
    }
    let decoded = parsed.events;

    let site_id = request.tablet.site_id.clone();
    let mut guard = state
        .replicas
        .lock(state.storage.as_ref(), &site_id)
        .await?;
    let site = &mut *guard;
    let options = VerifyOptions {
        now_ms,
        max_clock_skew_ms: site.config.rules.max_clock_skew_ms,
    };
    let (indices, events): (Vec<usize>, Vec<SignedEvent>) = decoded.into_iter().unzip();
    // What the pushed devices' state already called for was recorded by earlier pushes.
    let pushed = crate::revocation::changed_since(&events);
    let before = crate::revocation::revocations_for(site.replica.custody(), &pushed, now_ms);
    let outcomes = site.replica.receive_batch(events.clone(), options);
    // Revocations follow from the merged state of the devices whose history this batch changed
    // (its events, and held events it released), and are stored in the same transaction as the
    // events (a transactional outbox).
    let newly_folded: Vec<&SignedEvent> = outcomes
        .iter()
        .filter_map(|outcome| match outcome {
            ReceiveOutcome::Inserted(InsertOutcome::Admitted { newly_admitted, .. }) => {
                Some(newly_admitted)
            }
            _ => None,
        })
        .flatten()
        .filter_map(|id| site.replica.log().get(id))
        .collect();
    let changed = crate::revocation::changed_since(newly_folded);
    let revocations = crate::revocation::not_yet_recorded(
        &before,
        crate::revocation::revocations_for(site.replica.custody(), &changed, now_ms),
    );

    let mut to_store = Vec::new();
    let mut stored_indices = Vec::new();
    for ((index, event), outcome) in indices.into_iter().zip(events).zip(outcomes) {
        let event_id = event.id().to_hex();
        let (status, fork) = match outcome {
            ReceiveOutcome::Inserted(InsertOutcome::Duplicate) => (ReceiptStatus::Duplicate, false),
            ReceiveOutcome::Inserted(InsertOutcome::Admitted { forks_with, .. }) => {
                (ReceiptStatus::Accepted, !forks_with.is_empty())
            }
            ReceiveOutcome::Inserted(InsertOutcome::Held { forks_with, .. }) => {
                (ReceiptStatus::Held, !forks_with.is_empty())
            }
            ReceiveOutcome::Rejected(rejection) => {
                receipts[index] = Some(reject(
                    index,
                    Some(event_id),
                    rejection_code(&rejection),
                    rejection.to_string(),
                ));
                continue;
            }
            ReceiveOutcome::Refused(error @ LogError::HeldLimitReached { .. }) => {
                receipts[index] = Some(reject(
                    index,
                    Some(event_id),
                    "held_limit",
                    error.to_string(),
                ));
                continue;
            }
        };
        to_store.push(NewEvent {
            event_id: event_id.clone(),
            signer: event.signer().to_hex(),
            seq: event.seq() as i64,
            tablet_id: Some(request.tablet.tablet_id.clone()),
            event_json: String::from_utf8(event.to_json_bytes()).expect("wire JSON is UTF-8"),
            received_at_ms: now_ms as i64,
        });
        stored_indices.push(index);
        receipts[index] = Some(Receipt {
            index,
            event_id: Some(event_id),
            status,
            server_seq: None,
            leaf_index: None,
            received_at_ms: now_ms,
            fork,
            reason: None,
        });
    }

    // One transaction for the whole batch: an accepted receipt means the event is durable.
    let appended = match state
        .storage
        .append_events(&site_id, &to_store, &revocations, &state.connectors)
        .await
    {
        Ok(appended) => appended,
        Err(error) => {
            // The in-memory replica already holds events the database does not: rebuild it.
            drop(guard);
            state.replicas.forget(&site_id);
            return Err(ApiError::storage(error));
        }
    };
    for (index, appended) in stored_indices.into_iter().zip(appended) {
        if let Some(receipt) = receipts[index].as_mut() {
            receipt.server_seq = Some(appended.server_seq);
            receipt.leaf_index = appended.leaf_index;
        }
    }
    drop(guard);
    // The events are committed: their receipts must reach the tablet even if this stamp of
    // its last contact cannot be written (a disk that just filled), or it would push them
    // again for nothing.
    record_contact(&state, &request.tablet.tablet_id, now_ms).await;
    let receipts: Vec<Receipt> = receipts
        .into_iter()
        .map(|receipt| receipt.expect("every event has a receipt"))
        .collect();
    for receipt in &receipts {
        let status = match receipt.status {
            ReceiptStatus::Accepted => "accepted",
            ReceiptStatus::Held => "held",
            ReceiptStatus::Duplicate => "duplicate",
            ReceiptStatus::Rejected => "rejected",
        };
        let reason = receipt.reason.as_ref().map_or("", |reason| reason.code);
        state.metrics.count_receipt(status, reason);
    }
    state.metrics.observe_push(started.elapsed().as_secs_f64());
    Ok(Json(serde_json::json!({ "receipts": receipts })))
}

/// Stamps a tablet's last contact (the dashboard's silent-tablet alarm reads it). A failure is
/// logged, not answered: the request itself was served, and the next contact stamps again.
async fn record_contact(state: &AppState, tablet_id: &str, now_ms: u64) {
    if let Err(error) = state
        .storage
        .record_tablet_sync(tablet_id, now_ms as i64)
        .await
    {
        tracing::warn!(tablet_id, %error, "the tablet's last contact was not recorded");
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PullQuery {
    /// The `next_after` of the previous pull; 0 for the first.
    #[serde(default)]
    after: i64,
    limit: Option<i64>,
}

pub async fn pull(
    State(state): State<AppState>,
    Query(query): Query<PullQuery>,
    request: SignedByTablet,
) -> Result<Json<serde_json::Value>, ApiError> {
    if query.after < 0 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_cursor",
            "`after` must be 0 or more.",
        ));
    }
    state.metrics.count_pull();
    let limit = query.limit.unwrap_or(500).clamp(1, MAX_PULL_EVENTS);
    let site_id = &request.tablet.site_id;
    let stored = state
        .storage
        .events_since(site_id, query.after, limit + 1)
        .await
        .map_err(ApiError::storage)?;
    let more = stored.len() as i64 > limit;
    let page = &stored[..stored.len().min(limit as usize)];
    let next_after = page.last().map_or(query.after, |event| event.server_seq);
    let events: Vec<serde_json::Value> = page
        .iter()
        .map(|stored| {
            serde_json::json!({
                "server_seq": stored.server_seq,
                "received_at_ms": stored.received_at_ms,
                "event": serde_json::from_str::<serde_json::Value>(&stored.event_json)
                    .unwrap_or(serde_json::Value::Null),
            })
        })
        .collect();
    let roster = load_roster(state.storage.as_ref(), site_id).await?;
    // What a tablet needs to notice a server restored from a backup: how far its own chain is
    // admitted here (every event up to that seq stored; a held event after a gap does not
    // count), and the end of the site's log (docs/PROTOCOL.md §2.3).
    let chain_seq = {
        let guard = state.replicas.lock(state.storage.as_ref(), site_id).await?;
        guard
            .replica
            .log()
            .chain_head(&request.signer)
            .map_or(0, |head| head.seq)
    };
    let latest_server_seq = state
        .storage
        .latest_event_seq(site_id)
        .await
        .map_err(ApiError::storage)?;
    record_contact(&state, &request.tablet.tablet_id, request.now_ms).await;
    Ok(Json(serde_json::json!({
        "events": events,
        "next_after": next_after,
        "more": more,
        "roster_version": roster.version,
        "chain_seq": chain_seq,
        "latest_server_seq": latest_server_seq,
    })))
}

pub async fn roster(
    State(state): State<AppState>,
    request: SignedByTablet,
) -> Result<Json<Roster>, ApiError> {
    Ok(Json(
        load_roster(state.storage.as_ref(), &request.tablet.site_id).await?,
    ))
}

/// The site's recent revocations with their delivery state, so that a tablet shows whether the
/// previous custodian's access was actually closed (newest first, at most 200).
pub async fn revocations(
    State(state): State<AppState>,
    request: SignedByTablet,
) -> Result<Json<serde_json::Value>, ApiError> {
    let revocations = state
        .storage
        .list_revocations(&request.tablet.site_id, 200)
        .await
        .map_err(ApiError::storage)?;
    Ok(Json(serde_json::json!({ "revocations": revocations })))
}
