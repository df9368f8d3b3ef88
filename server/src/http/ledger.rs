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
use crate::storage::LedgerRow;
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
/// What `GET /api/v1/ledger/export` may narrow the bundle to (docs/PROTOCOL.md §3.8): entries
/// the server recorded from `from_ms` (inclusive) to `to_ms` (exclusive), and/or the events
/// about one device. Without any, the whole ledger.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    from_ms: Option<u64>,
    to_ms: Option<u64>,
    device_id: Option<String>,
}

/// Rows read per query while a scoped export scans the ledger.
const EXPORT_SCAN_PAGE: i64 = 10_000;

/// The audit bundle `baton verify` checks offline: the whole ledger, or a scope of it with the
/// entries just outside a time range and the enrollments of the tablets it names.
pub async fn export(
    State(state): State<AppState>,
    Query(query): Query<ExportQuery>,
    reader: LedgerReader,
) -> Result<Json<serde_json::Value>, ApiError> {
    let site_id = &reader.site_id;
    let scope = Scope::from_query(query)?;
    let head = ledger::current_head(
        state.storage.as_ref(),
        &state.server_key.current(),
        site_id,
        now_ms(),
        FRESH_HEAD_MS,
    )
    .await?;
    let size = head.head.tree_size as i64;
    if scope.is_none() && size > MAX_BUNDLE_ENTRIES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "bundle_too_large",
            format!(
                "The ledger has {size} entries; a whole bundle holds at most {MAX_BUNDLE_ENTRIES}. Export a time range (from_ms, to_ms), or use the entries feed."
            ),
        ));
    }
    // The proofs come from a tree rebuilt in memory from the stored leaf hashes (one scan, not
    // one query per proof); a scoped export also finds its leaves in that scan. Entries are not
    // re-hashed here: `baton verify` does that, so an entry edited in the database fails its
    // inclusion check there.
    let mut tree = MemoryHashStore::new();
    let mut found = Found::default();
    scan_ledger(&state, site_id, 0, size, |row| {
        let leaf = LedgerHash::from_hex(&row.leaf_hash).map_err(ApiError::internal)?;
        tree.append(leaf);
        found.consider(scope.as_ref(), row)
    })
    .await?;
    let bundle = found.select(&state, site_id, scope.as_ref(), size).await?;
    let with_proofs = |rows: &[LedgerRow]| -> Result<Vec<serde_json::Value>, ApiError> {
        rows.iter()
            .map(|row| {
                let proof = inclusion_proof(&tree, row.leaf_index as u64, size as u64)
                    .map_err(ApiError::internal)?;
                let entry: serde_json::Value =
                    serde_json::from_str(&row.entry_json).unwrap_or_default();
                Ok(serde_json::json!({
                    "leaf_index": row.leaf_index,
                    "entry": entry,
                    "inclusion_proof": hex_list(&proof),
                }))
            })
            .collect()
    };
    let entries = with_proofs(&bundle.entries)?;
    let signers = bundle.signers();

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
    // A scoped bundle lists the tablets whose keys signed its events, each with all its keys.
    let listed: std::collections::BTreeSet<&str> = tablets
        .iter()
        .map(|tablet| (tablet.tablet_id.as_str(), tablet.public_key.as_str()))
        .chain(
            retired_keys
                .iter()
                .map(|retired| (retired.tablet_id.as_str(), retired.public_key.as_str())),
        )
        .filter(|(_, key)| scope.is_none() || signers.contains(*key))
        .map(|(tablet_id, _)| tablet_id)
        .collect();
    let mut tablet_keys: Vec<serde_json::Value> = tablets
        .iter()
        .filter(|tablet| listed.contains(tablet.tablet_id.as_str()))
        .map(|tablet| {
            serde_json::json!({
                "tablet_id": tablet.tablet_id,
                "public_key": tablet.public_key,
                "revoked_from_ms": tablet.revoked_from_ms,
            })
        })
        .collect();
    // Keys tablets rotated away from: their events stay verifiable, up to their last one.
    tablet_keys.extend(
        retired_keys
            .iter()
            .filter(|retired| listed.contains(retired.tablet_id.as_str()))
            .map(|retired| {
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
            }),
    );
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
    let mut bundle_json = serde_json::json!({
        "format": crate::verify::BUNDLE_FORMAT,
        "site_id": site_id,
        "server_public_key": state.server_key.current().public_key().to_hex(),
        "server_key_rotations": rotations,
        "tablet_keys": tablet_keys,
        "tree_head": head,
        "entries": entries,
    });
    if let Some(scope) = &scope {
        // The enrollments (and key rotations) of the tablets listed, wherever they are.
        let carried: std::collections::BTreeSet<i64> =
            bundle.entries.iter().map(|row| row.leaf_index).collect();
        let context: Vec<LedgerRow> = bundle
            .enrollments
            .into_iter()
            .filter(|row| {
                !carried.contains(&row.leaf_index)
                    && enrolled_tablet(row)
                        .is_some_and(|tablet_id| listed.contains(tablet_id.as_str()))
            })
            .collect();
        bundle_json["scope"] = serde_json::json!({
            "from_ms": scope.from_ms,
            "to_ms": scope.to_ms,
            "device_id": scope.device_id,
            "first_leaf": bundle.first_leaf,
            "last_leaf": bundle.last_leaf,
        });
        bundle_json["boundary"] = serde_json::Value::Array(with_proofs(&bundle.boundary)?);
        bundle_json["context"] = serde_json::Value::Array(with_proofs(&context)?);
    }
    Ok(Json(bundle_json))
}

/// A checked `ExportQuery`; `None` is the whole ledger.
#[derive(Debug, Clone)]
struct Scope {
    from_ms: u64,
    to_ms: u64,
    device_id: Option<String>,
}

impl Scope {
    fn from_query(query: ExportQuery) -> Result<Option<Scope>, ApiError> {
        if query.from_ms.is_none() && query.to_ms.is_none() && query.device_id.is_none() {
            return Ok(None);
        }
        let from_ms = query.from_ms.unwrap_or(0);
        let to_ms = query.to_ms.unwrap_or(crate::verify::OPEN_RANGE_END_MS);
        if from_ms >= to_ms || to_ms > crate::verify::OPEN_RANGE_END_MS {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_range",
                "from_ms must be before to_ms, both milliseconds since the epoch.",
            ));
        }
        if let Some(device_id) = &query.device_id {
            baton_core::ids::DeviceId::new(device_id).map_err(|error| {
                ApiError::new(StatusCode::BAD_REQUEST, "bad_device_id", error.to_string())
            })?;
        }
        Ok(Some(Scope {
            from_ms,
            to_ms,
            device_id: query.device_id,
        }))
    }

    fn has_range(&self) -> bool {
        self.from_ms > 0 || self.to_ms < crate::verify::OPEN_RANGE_END_MS
    }
}

/// Calls `each` on the ledger's rows from leaf `start` to `end` (exclusive), a page at a time.
async fn scan_ledger(
    state: &AppState,
    site_id: &str,
    start: i64,
    end: i64,
    mut each: impl FnMut(LedgerRow) -> Result<(), ApiError>,
) -> Result<(), ApiError> {
    let mut next = start;
    while next < end {
        let rows = state
            .storage
            .ledger_entries(site_id, next, EXPORT_SCAN_PAGE.min(end - next))
            .await
            .map_err(LedgerError::from)?;
        let Some(last) = rows.last().map(|row| row.leaf_index) else {
            break;
        };
        for row in rows {
            each(row)?;
        }
        next = last + 1;
    }
    Ok(())
}

/// What the first scan learns: the whole ledger's rows for a whole bundle; for a scope, the
/// first and last leaf recorded within its time range, and the enrollments.
#[derive(Default)]
struct Found {
    rows: Vec<LedgerRow>,
    first_leaf: Option<i64>,
    last_leaf: Option<i64>,
    enrollments: Vec<LedgerRow>,
}

/// A selection, ready to prove.
struct Bundle {
    entries: Vec<LedgerRow>,
    boundary: Vec<LedgerRow>,
    enrollments: Vec<LedgerRow>,
    first_leaf: i64,
    last_leaf: i64,
}

impl Bundle {
    /// The keys that signed the bundle's events, lowercase hex.
    fn signers(&self) -> std::collections::BTreeSet<String> {
        self.entries
            .iter()
            .filter_map(|row| {
                let entry: serde_json::Value = serde_json::from_str(&row.entry_json).ok()?;
                entry["event"]["signer"]
                    .as_str()
                    .map(str::to_ascii_lowercase)
            })
            .collect()
    }
}

impl Found {
    fn consider(&mut self, scope: Option<&Scope>, row: LedgerRow) -> Result<(), ApiError> {
        let Some(scope) = scope else {
            self.rows.push(row);
            return Ok(());
        };
        let entry: serde_json::Value =
            serde_json::from_str(&row.entry_json).map_err(ApiError::internal)?;
        let recorded_ms = crate::verify::recorded_at_ms(&entry);
        if recorded_ms.is_some_and(|at| scope.from_ms <= at && at < scope.to_ms) {
            self.first_leaf.get_or_insert(row.leaf_index);
            self.last_leaf = Some(row.leaf_index);
        }
        if enrolled_tablet(&row).is_some() {
            self.enrollments.push(row);
        }
        Ok(())
    }

    /// The bundle's rows: the whole ledger, or every row from the scope's first to its last
    /// in-range leaf (those about the device, with one), and the rows just outside that range.
    async fn select(
        self,
        state: &AppState,
        site_id: &str,
        scope: Option<&Scope>,
        size: i64,
    ) -> Result<Bundle, ApiError> {
        let Some(scope) = scope else {
            return Ok(Bundle {
                entries: self.rows,
                boundary: Vec::new(),
                enrollments: Vec::new(),
                first_leaf: 0,
                last_leaf: size - 1,
            });
        };
        let (Some(first_leaf), Some(last_leaf)) = (self.first_leaf, self.last_leaf) else {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "nothing_recorded",
                "The ledger has no entry recorded in this range. A bundle cannot prove an absence by itself: export the whole ledger, or a wider range, to show it.",
            ));
        };
        let mut entries = Vec::new();
        let mut boundary = Vec::new();
        let mut too_many = false;
        // The rows just outside the range show where it ends; a device's selection claims no
        // completeness (docs/PROTOCOL.md §3.8), so it has none.
        let bounded = scope.has_range() && scope.device_id.is_none();
        let start = if bounded { first_leaf - 1 } else { first_leaf };
        let end = if bounded {
            last_leaf + 2
        } else {
            last_leaf + 1
        };
        scan_ledger(state, site_id, start.max(0), end.min(size), |row| {
            if row.leaf_index < first_leaf || row.leaf_index > last_leaf {
                boundary.push(row);
                return Ok(());
            }
            let about_device = match &scope.device_id {
                None => true,
                Some(device) => {
                    let entry: serde_json::Value =
                        serde_json::from_str(&row.entry_json).map_err(ApiError::internal)?;
                    entry["event"]["body"]["device"].as_str() == Some(device)
                }
            };
            if about_device {
                if entries.len() as i64 >= MAX_BUNDLE_ENTRIES {
                    too_many = true;
                } else {
                    entries.push(row);
                }
            }
            Ok(())
        })
        .await?;
        if too_many {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "bundle_too_large",
                format!(
                    "The scope holds more than {MAX_BUNDLE_ENTRIES} entries, the most a bundle holds. Export a shorter time range."
                ),
            ));
        }
        Ok(Bundle {
            entries,
            boundary,
            enrollments: self.enrollments,
            first_leaf,
            last_leaf,
        })
    }
}

/// The tablet a `tablet_enrolled` or `tablet_key_rotated` governance entry is about.
fn enrolled_tablet(row: &LedgerRow) -> Option<String> {
    if !row.entry_json.contains("\"tablet_enrolled\"")
        && !row.entry_json.contains("\"tablet_key_rotated\"")
    {
        return None;
    }
    let entry: serde_json::Value = serde_json::from_str(&row.entry_json).ok()?;
    let action = &entry["action"];
    matches!(
        action["type"].as_str(),
        Some("tablet_enrolled" | "tablet_key_rotated")
    )
    .then(|| action["tablet_id"].as_str().map(str::to_owned))
    .flatten()
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
