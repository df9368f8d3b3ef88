//! The tablet sync API: push signed events, pull the site's events, fetch the roster.
//! Every route takes a request signed by an enrolled tablet (`SignedByTablet`).

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use baton_core::event::SignedEvent;
use baton_core::verify::{Rejection, VerifyOptions};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::ApiError;
pub use super::push_body::MAX_PUSH_EVENTS;
use super::push_body::{PushBodyError, parse_push};
use super::roster::{Roster, load_roster};
use super::tablet_auth::SignedByTablet;
use crate::storage::EventText;

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

/// `POST /api/v1/sync/push`: decodes the pushed events, has them applied with the site's other
/// waiting pushes (`push_batch.rs`), and answers one receipt per event.
pub async fn push(
    State(state): State<AppState>,
    mut request: SignedByTablet,
) -> Result<Json<serde_json::Value>, ApiError> {
    let parsed = parse_push(&request.body, &request.signer)?;
    let started = std::time::Instant::now();
    let now_ms = request.now_ms;
    let mut receipts: Vec<Option<Receipt>> = (0..parsed.n_events).map(|_| None).collect();
    for refused in parsed.refused {
        receipts[refused.index] = Some(Receipt {
            index: refused.index,
            event_id: refused.event_id.map(|id| id.to_hex()),
            status: ReceiptStatus::Rejected,
            server_seq: None,
            leaf_index: None,
            received_at_ms: now_ms,
            fork: false,
            reason: Some(Reason {
                code: refused.code,
                message: refused.message,
            }),
        });
    }
    // Signatures are checked here, on this request's own thread, against the site's key set
    // as of its last lock, so that the push holding the lock does not check them for it.
    let verdicts = state
        .replicas
        .verifier(&request.tablet.site_id)
        .map(|verifier| {
            let events: Vec<&SignedEvent> = parsed.events.iter().map(|(_, event)| event).collect();
            let options = VerifyOptions {
                now_ms,
                max_clock_skew_ms: verifier.max_clock_skew_ms,
            };
            (
                verifier.registry_version,
                verifier.keys.verify_batch(&events, options),
            )
        });
    let receipts = super::push_batch::apply(
        &state,
        &request.tablet.site_id,
        super::push_batch::PushRequest {
            tablet_id: request.tablet.tablet_id.clone(),
            now_ms,
            receipts,
            texts: parsed
                .events
                .iter()
                .map(|(_, event)| EventText::of(event))
                .collect(),
            decoded: parsed.events,
            verdicts,
            ticket: request.push_ticket.take(),
            nonce: request.push_nonce.take(),
        },
    )
    .await?;
    // The tablet's last contact was stamped in the transaction that stored the events.
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

/// A pull's answer, written around each event's stored wire text as it is: no tree per event
/// (a `serde_json::Value` of an event takes several times its text in memory, and a page holds
/// up to `MAX_PULL_EVENTS` of them), and no re-encoding of what the server stored.
fn pull_answer_json(
    page: &[crate::storage::StoredEvent],
    next_after: i64,
    more: bool,
    roster_version: &str,
    chain_seq: u64,
    latest_server_seq: i64,
) -> Vec<u8> {
    use std::io::Write;
    let mut out = Vec::with_capacity(
        page.iter()
            .map(|event| event.event_json.len() + 64)
            .sum::<usize>()
            + 256,
    );
    out.extend_from_slice(b"{\"events\":[");
    for (index, event) in page.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        let _ = write!(
            out,
            "{{\"server_seq\":{},\"received_at_ms\":{},\"event\":",
            event.server_seq, event.received_at_ms
        );
        // The stored text is the server's own canonical wire form; one that is not a single
        // JSON value (never written by this server) is answered as null.
        if serde_json::from_str::<serde::de::IgnoredAny>(&event.event_json).is_ok() {
            out.extend_from_slice(event.event_json.as_bytes());
        } else {
            out.extend_from_slice(b"null");
        }
        out.push(b'}');
    }
    let _ = write!(
        out,
        "],\"next_after\":{next_after},\"more\":{more},\"roster_version\":{},\"chain_seq\":{chain_seq},\"latest_server_seq\":{latest_server_seq}}}",
        serde_json::Value::from(roster_version)
    );
    out
}

pub async fn pull(
    State(state): State<AppState>,
    Query(query): Query<PullQuery>,
    request: SignedByTablet,
) -> Result<Response, ApiError> {
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
    // Held from before the page is read until the answer is serialised: the pulls beyond the
    // site's bound wait here holding nothing, rather than each holding its page while it waits
    // for the replica lock below (`admission.rs`).
    let _place = state.rate_limits.pulls.enter(site_id).await;
    let mut stored = state
        .storage
        .events_since(site_id, query.after, limit + 1)
        .await
        .map_err(ApiError::storage)?;
    let more = stored.len() as i64 > limit;
    stored.truncate(limit as usize);
    let next_after = stored.last().map_or(query.after, |event| event.server_seq);
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
    let body = pull_answer_json(
        &stored,
        next_after,
        more,
        &roster.version,
        chain_seq,
        latest_server_seq,
    );
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response())
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

#[cfg(test)]
mod pull_answer_tests {
    use super::pull_answer_json;
    use crate::storage::StoredEvent;

    #[test]
    fn the_hand_written_answer_is_the_json_it_says_with_each_stored_event_as_stored() {
        let stored = |server_seq: i64, event_json: &str| StoredEvent {
            server_seq,
            event_id: format!("{server_seq:064x}"),
            tablet_id: None,
            event_json: event_json.to_owned(),
            received_at_ms: 1_000 + server_seq,
        };
        let page = [
            stored(7, r#"{"b":[1,2],"a":"x\"y"}"#),
            stored(8, r#"{"a":1} trailing"#),
        ];
        let body = pull_answer_json(&page, 8, true, "ro\"ster", 3, 9);
        let answer: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            answer,
            serde_json::json!({
                "events": [
                    { "server_seq": 7, "received_at_ms": 1007, "event": { "b": [1, 2], "a": "x\"y" } },
                    { "server_seq": 8, "received_at_ms": 1008, "event": null },
                ],
                "next_after": 8,
                "more": true,
                "roster_version": "ro\"ster",
                "chain_seq": 3,
                "latest_server_seq": 9,
            })
        );
        let empty: serde_json::Value =
            serde_json::from_slice(&pull_answer_json(&[], 0, false, "v", 0, 0)).unwrap();
        assert_eq!(empty["events"], serde_json::json!([]));
    }
}
