//! The audit ledger over HTTP: the signed head, inclusion and consistency proofs, the entries as
//! a resumable JSON-lines feed for a SIEM, and the audit bundle that `baton verify` checks
//! offline. Tablets (signed requests) and signed-in accounts both read them, for their own site.

use axum::Json;
use axum::extract::{FromRequest, FromRequestParts, Query, Request, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use baton_core::ledger::{LedgerHash, MemoryHashStore, SignedTreeHead, inclusion_proof};
use baton_core::request::HEADER_KEY;
use serde::Deserialize;

use super::AppState;
use super::error::ApiError;
use super::manager_auth::ManagerSession;
use super::tablet_auth::SignedByTablet;
use crate::ledger::{self, LedgerError};
use crate::sync::now_ms;

/// Entries per feed page and per audit bundle.
pub const MAX_FEED_ENTRIES: i64 = 1_000;
pub const MAX_BUNDLE_ENTRIES: i64 = 100_000;
/// A head at most this old is served as is; a grown ledger gets a fresh head sooner.
const FRESH_HEAD_MS: u64 = 5_000;

/// Whoever may read a site's ledger: an enrolled tablet or a signed-in account of the site.
pub struct LedgerReader {
    pub site_id: String,
}

impl FromRequest<AppState> for LedgerReader {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        if request.headers().contains_key(HEADER_KEY) {
            let signed = SignedByTablet::from_request(request, state).await?;
            return Ok(LedgerReader {
                site_id: signed.tablet.site_id,
            });
        }
        let (mut parts, _body) = request.into_parts();
        let session = ManagerSession::from_request_parts(&mut parts, state).await?;
        let site_id = session.account.site_id.clone().ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "site_required",
                "The ledger belongs to a site; use a site account.",
            )
        })?;
        Ok(LedgerReader { site_id })
    }
}

impl From<LedgerError> for ApiError {
    fn from(error: LedgerError) -> ApiError {
        match error {
            LedgerError::BadRequest(message) => {
                ApiError::new(StatusCode::BAD_REQUEST, "bad_proof_request", message)
            }
            LedgerError::HistoryRewritten { .. } => {
                tracing::error!(%error, "ALARM: ledger history rewritten");
                ApiError::new(
                    StatusCode::CONFLICT,
                    "ledger_inconsistent",
                    "The stored ledger does not extend the last signed head; an operator must investigate.",
                )
            }
            other => ApiError::internal(other),
        }
    }
}

fn hex_list(hashes: &[LedgerHash]) -> Vec<String> {
    hashes.iter().map(LedgerHash::to_hex).collect()
}

/// Refuses a proof about a tree larger than the ledger holds.
async fn ensure_within_ledger(
    state: &AppState,
    site_id: &str,
    tree_size: u64,
) -> Result<(), ApiError> {
    let size = state
        .storage
        .ledger_size(site_id)
        .await
        .map_err(LedgerError::from)? as u64;
    if tree_size > size {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_proof_request",
            format!("The ledger has {size} entries."),
        ));
    }
    Ok(())
}

pub async fn head(
    State(state): State<AppState>,
    reader: LedgerReader,
) -> Result<Json<serde_json::Value>, ApiError> {
    let head = ledger::current_head(
        state.storage.as_ref(),
        &state.server_key.current(),
        &reader.site_id,
        now_ms(),
        FRESH_HEAD_MS,
    )
    .await?;
    Ok(Json(
        serde_json::to_value(&head).map_err(ApiError::internal)?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionQuery {
    index: u64,
    size: u64,
}

pub async fn inclusion(
    State(state): State<AppState>,
    Query(query): Query<InclusionQuery>,
    reader: LedgerReader,
) -> Result<Json<serde_json::Value>, ApiError> {
    ensure_within_ledger(&state, &reader.site_id, query.size).await?;
    let proof = ledger::inclusion(
        state.storage.as_ref(),
        &reader.site_id,
        query.index,
        query.size,
    )
    .await?;
    let leaf = state
        .storage
        .ledger_entries(&reader.site_id, query.index as i64, 1)
        .await
        .map_err(LedgerError::from)?;
    Ok(Json(serde_json::json!({
        "leaf_index": query.index,
        "tree_size": query.size,
        "leaf_hash": leaf.first().map(|row| row.leaf_hash.clone()),
        "proof": hex_list(&proof),
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyQuery {
    from: u64,
    to: u64,
}

pub async fn consistency(
    State(state): State<AppState>,
    Query(query): Query<ConsistencyQuery>,
    reader: LedgerReader,
) -> Result<Json<serde_json::Value>, ApiError> {
    ensure_within_ledger(&state, &reader.site_id, query.to).await?;
    let proof = ledger::consistency(
        state.storage.as_ref(),
        &reader.site_id,
        query.from,
        query.to,
    )
    .await?;
    Ok(Json(
        serde_json::json!({ "from": query.from, "to": query.to, "proof": hex_list(&proof) }),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedQuery {
    #[serde(default)]
    from: i64,
    limit: Option<i64>,
}

/// JSON lines, one ledger entry per line, from leaf `from` on; the `Baton-Next-From` header is
/// the cursor of the next page (equal to `from` when there is nothing new).
pub async fn entries(
    State(state): State<AppState>,
    Query(query): Query<FeedQuery>,
    reader: LedgerReader,
) -> Result<Response, ApiError> {
    let limit = query
        .limit
        .unwrap_or(MAX_FEED_ENTRIES)
        .clamp(1, MAX_FEED_ENTRIES);
    let rows = state
        .storage
        .ledger_entries(&reader.site_id, query.from.max(0), limit)
        .await
        .map_err(LedgerError::from)?;
    let next_from = rows
        .last()
        .map_or(query.from.max(0), |row| row.leaf_index + 1);
    let mut body = String::new();
    for row in rows {
        let entry: serde_json::Value = serde_json::from_str(&row.entry_json).unwrap_or_default();
        let line = serde_json::json!({
            "leaf_index": row.leaf_index,
            "leaf_hash": row.leaf_hash,
            "appended_at_ms": row.appended_at_ms,
            "entry": entry,
        });
        body.push_str(&line.to_string());
        body.push('\n');
    }
    Ok((
        [
            (CONTENT_TYPE, "application/x-ndjson".to_owned()),
            (
                "baton-next-from".parse().expect("a valid header name"),
                next_from.to_string(),
            ),
        ],
        body,
    )
        .into_response())
}

/// The audit bundle: every entry up to a freshly signed head, each with its inclusion proof,
/// and the public keys needed to check them. `baton verify FILE` checks it with no database
/// and no network; docs/PROTOCOL.md §4 specifies it.
pub async fn export(
    State(state): State<AppState>,
    reader: LedgerReader,
) -> Result<Json<serde_json::Value>, ApiError> {
    let site_id = &reader.site_id;
    let head = ledger::current_head(
        state.storage.as_ref(),
        &state.server_key.current(),
        site_id,
        now_ms(),
        FRESH_HEAD_MS,
    )
    .await?;
    let size = head.head.tree_size as i64;
    if size > MAX_BUNDLE_ENTRIES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "bundle_too_large",
            format!(
                "The ledger has {size} entries; bundles hold at most {MAX_BUNDLE_ENTRIES}. Use the entries feed."
            ),
        ));
    }
    let rows = state
        .storage
        .ledger_entries(site_id, 0, size)
        .await
        .map_err(LedgerError::from)?;
    // The proofs come from a tree rebuilt in memory from the stored leaf hashes (one query, not
    // one per proof). Entries are not re-hashed here: `baton verify` does that, so an entry
    // edited in the database fails its inclusion check there.
    let mut tree = MemoryHashStore::new();
    for row in &rows {
        let leaf = LedgerHash::from_hex(&row.leaf_hash).map_err(ApiError::internal)?;
        tree.append(leaf);
    }
    let mut entries = Vec::with_capacity(rows.len());
    for row in rows {
        let proof = inclusion_proof(&tree, row.leaf_index as u64, size as u64)
            .map_err(ApiError::internal)?;
        let entry: serde_json::Value = serde_json::from_str(&row.entry_json).unwrap_or_default();
        entries.push(serde_json::json!({ "leaf_index": row.leaf_index, "entry": entry, "inclusion_proof": hex_list(&proof) }));
    }
    let tablets = state
        .storage
        .list_tablets(site_id)
        .await
        .map_err(LedgerError::from)?;
    let retired_keys = state
        .storage
        .retired_tablet_keys(site_id)
        .await
        .map_err(LedgerError::from)?;
    let mut tablet_keys: Vec<serde_json::Value> = tablets
        .iter()
        .map(|tablet| {
            serde_json::json!({
                "tablet_id": tablet.tablet_id,
                "public_key": tablet.public_key,
                "revoked_from_ms": tablet.revoked_from_ms,
            })
        })
        .collect();
    // Keys tablets rotated away from: their events stay verifiable, up to their last one.
    tablet_keys.extend(retired_keys.iter().map(|retired| {
        let revoked_from_ms = tablets
            .iter()
            .find(|tablet| tablet.tablet_id == retired.tablet_id)
            .and_then(|tablet| tablet.revoked_from_ms);
        serde_json::json!({
            "tablet_id": retired.tablet_id,
            "public_key": retired.public_key,
            "revoked_from_ms": revoked_from_ms,
            "retired_after_seq": retired.last_seq,
        })
    }));
    let key_history = state
        .server_key
        .refresh_history(state.storage.as_ref())
        .await
        .map_err(LedgerError::from)?;
    let rotations: Vec<serde_json::Value> = key_history
        .rotations
        .iter()
        .map(baton_core::key_rotation::SignedKeyRotation::to_json_value)
        .collect();
    Ok(Json(serde_json::json!({
        "format": crate::verify::BUNDLE_FORMAT,
        "site_id": site_id,
        "server_public_key": state.server_key.current().public_key().to_hex(),
        "server_key_rotations": rotations,
        "tablet_keys": tablet_keys,
        "tree_head": head,
        "entries": entries,
    })))
}

/// A tablet's witness alarm (docs/PROTOCOL.md §3.7, §4.3): two signed heads that contradict each
/// other, with the proof that failed.
#[derive(Debug, Deserialize)]
pub struct WitnessReport {
    kind: WitnessAlarmKind,
    kept: SignedTreeHead,
    offered: SignedTreeHead,
    #[serde(default)]
    proof: Vec<LedgerHash>,
    #[serde(default)]
    leaf_index: Option<u64>,
    detail: String,
    raised_at_ms: u64,
}

#[derive(Debug, Clone, Copy, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
enum WitnessAlarmKind {
    Fork,
    Inconsistent,
    MissingEntry,
}

/// The longest proof a report may carry: one hash per level of a tree of 2^64 leaves, twice.
const MAX_REPORT_PROOF: usize = 128;
/// The longest detail kept from a report.
const MAX_REPORT_DETAIL_CHARS: usize = 500;

fn not_evidence(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "not_evidence", message)
}

/// Records a tablet's witness alarm in the ledger after checking that it is evidence: both heads
/// carry this server's signature for the tablet's site, and they do contradict each other (or,
/// for a missing entry, the proof does not include the event). Forged or self-consistent heads
/// are refused, so a tablet cannot fill the ledger with noise.
pub async fn witness_report(
    State(state): State<AppState>,
    request: SignedByTablet,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let report: WitnessReport = serde_json::from_slice(&request.body).map_err(|error| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_witness_report",
            error.to_string(),
        )
    })?;
    if report.proof.len() > MAX_REPORT_PROOF {
        return Err(not_evidence(format!(
            "A proof has at most {MAX_REPORT_PROOF} hashes."
        )));
    }
    let site_id = &request.tablet.site_id;
    let key_history = state
        .server_key
        .refresh_history(state.storage.as_ref())
        .await
        .map_err(LedgerError::from)?;
    for (name, head) in [("kept", &report.kept), ("offered", &report.offered)] {
        if head.head.log_id.as_str() != site_id {
            return Err(not_evidence(format!(
                "The {name} head is not of this tablet's site."
            )));
        }
        head.verify_in(&key_history.keys).map_err(|error| {
            not_evidence(format!(
                "The {name} head is not signed by this server: {error}"
            ))
        })?;
    }
    let (kept, offered) = (&report.kept.head, &report.offered.head);
    let contradicts = match report.kind {
        WitnessAlarmKind::Fork => {
            kept.tree_size == offered.tree_size && kept.root_hash != offered.root_hash
        }
        WitnessAlarmKind::Inconsistent => {
            let (old, new) = if kept.tree_size <= offered.tree_size {
                (kept, offered)
            } else {
                (offered, kept)
            };
            old.tree_size != new.tree_size
                && baton_core::ledger::verify_consistency(
                    old.tree_size,
                    new.tree_size,
                    &old.root_hash,
                    &new.root_hash,
                    &report.proof,
                )
                .is_err()
        }
        // The server cannot recompute the tablet's leaf without the event; the signed head and
        // the leaf index are recorded for the investigation.
        WitnessAlarmKind::MissingEntry => {
            report.leaf_index.is_some_and(|leaf| leaf < kept.tree_size)
        }
    };
    if !contradicts {
        return Err(not_evidence(
            "These heads and this proof do not contradict each other.",
        ));
    }
    let detail: String = report
        .detail
        .chars()
        .take(MAX_REPORT_DETAIL_CHARS)
        .collect();
    let leaf_index = ledger::record_governance(
        state.storage.as_ref(),
        site_id,
        serde_json::json!({
            "type": "witness_alarm",
            "tablet_id": request.tablet.tablet_id,
            "kind": report.kind,
            "kept": report.kept,
            "offered": report.offered,
            "leaf_index": report.leaf_index,
            "detail": detail,
            "raised_at_ms": report.raised_at_ms,
        }),
        &format!("tablet:{}", request.tablet.tablet_id),
        now_ms(),
    )
    .await?;
    state.metrics.count_witness_alarm();
    tracing::error!(
        tablet_id = request.tablet.tablet_id,
        site_id,
        kind = ?report.kind,
        kept_size = kept.tree_size,
        offered_size = offered.tree_size,
        "ALARM: a tablet holds signed tree heads that contradict each other"
    );
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "recorded": true, "ledger_leaf": leaf_index })),
    ))
}
