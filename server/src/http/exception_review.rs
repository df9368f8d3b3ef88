//! Exceptions and their review by managers.
//!
//! Exceptions are derived anew from the events at every query (core's fold), so a review cannot
//! be attached to a row: it names the exception by its stable key (`Exception::key`). Every
//! action is kept, in its own table and as a governance entry in the ledger, in one transaction;
//! the latest action is the exception's state. A resolved exception leaves the default list.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use baton_core::exceptions::Exception;
use serde::Deserialize;

use super::AppState;
use super::dashboard::{optional_note, refuse_auditors, required_note, site_of, unavailable};
use super::error::ApiError;
use super::manager_auth::ManagerSession;
use crate::storage::ExceptionReviewRecord;
use crate::sync::now_ms;

pub const ACKNOWLEDGED: &str = "acknowledged";
pub const RESOLVED: &str = "resolved";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExceptionsQuery {
    /// Also list exceptions whose latest review resolved them.
    #[serde(default)]
    include_resolved: bool,
    #[serde(default)]
    offset: usize,
    #[serde(default)]
    limit: Option<usize>,
}

/// Exceptions per page when the client does not say.
pub const DEFAULT_PAGE: usize = 50;
/// The most exceptions one answer holds: a site with a long unreviewed history can have
/// hundreds of thousands open (BENCHMARKS.md, the board section), which no one reads at once.
pub const MAX_PAGE: usize = 500;

fn review_json(review: &ExceptionReviewRecord) -> serde_json::Value {
    serde_json::json!({
        "state": review.state,
        "by": review.by,
        "at_ms": review.at_ms,
        "note": review.note,
    })
}

/// Every review of the site, grouped by exception key, oldest first within each.
async fn reviews_by_key(
    state: &AppState,
    site_id: &str,
) -> Result<BTreeMap<String, Vec<ExceptionReviewRecord>>, ApiError> {
    let mut by_key: BTreeMap<String, Vec<ExceptionReviewRecord>> = BTreeMap::new();
    for review in state
        .storage
        .list_exception_reviews(site_id)
        .await
        .map_err(unavailable)?
    {
        by_key
            .entry(review.exception_key.clone())
            .or_default()
            .push(review);
    }
    Ok(by_key)
}

/// How many failed revocations the dashboard lists: the dead letter is meant to stay short, and
/// a manager works it down.
const MAX_FAILED_REVOCATIONS: i64 = 1_000;

/// Every exception of the site at `now`: the fold's, and the revocation outbox's dead letter.
pub async fn site_exceptions(
    state: &AppState,
    site_id: &str,
    now: u64,
) -> Result<Vec<Exception>, ApiError> {
    let failed = state
        .storage
        .failed_revocations(site_id, MAX_FAILED_REVOCATIONS)
        .await
        .map_err(unavailable)?;
    let mut exceptions = {
        let guard = state.replicas.lock(state.storage.as_ref(), site_id).await?;
        guard.replica.exceptions(now)
    };
    exceptions.extend(crate::revocation::failed_revocation_exceptions(&failed));
    Ok(exceptions)
}

/// The site's exceptions at this moment, most severe first, then oldest first, each with its
/// key, its latest review and every review. Resolved ones only with `include_resolved=true`.
pub async fn list(
    State(state): State<AppState>,
    session: ManagerSession,
    Query(query): Query<ExceptionsQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let site_id = site_of(&session)?;
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_limit",
            format!("limit is a number of exceptions from 1 to {MAX_PAGE}; {limit} was asked."),
        ));
    }
    let reviews = reviews_by_key(&state, &site_id).await?;
    let now = now_ms();
    let mut exceptions: Vec<Exception> = site_exceptions(&state, &site_id, now).await?;
    exceptions.sort_by(|left, right| {
        right
            .severity
            .cmp(&left.severity)
            .then(left.at_ms.cmp(&right.at_ms))
    });
    // An exception's key is a hash of its identity: computed for every exception only when some
    // review could have resolved it, and otherwise for the page's rows alone.
    let listed: Vec<(&Exception, Option<String>)> = if reviews.is_empty() || query.include_resolved
    {
        exceptions
            .iter()
            .map(|exception| (exception, None))
            .collect()
    } else {
        exceptions
            .iter()
            .filter_map(|exception| {
                let key = exception.key();
                let resolved = reviews
                    .get(&key)
                    .and_then(|history| history.last())
                    .is_some_and(|review| review.state == RESOLVED);
                (!resolved).then_some((exception, Some(key)))
            })
            .collect()
    };
    let rows: Vec<serde_json::Value> = listed
        .iter()
        .skip(query.offset)
        .take(limit)
        .map(|(exception, key)| {
            let key = key.clone().unwrap_or_else(|| exception.key());
            let history = reviews.get(&key).map(Vec::as_slice).unwrap_or_default();
            let mut row = serde_json::to_value(exception).expect("an exception serialises");
            row["key"] = serde_json::json!(key);
            row["review"] = history.last().map_or(serde_json::Value::Null, review_json);
            row["history"] = history.iter().map(review_json).collect();
            row
        })
        .collect();
    Ok(Json(serde_json::json!({
        "site_id": site_id,
        "now_ms": now,
        "total": listed.len(),
        "offset": query.offset,
        "limit": limit,
        "exceptions": rows,
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewRequest {
    note: Option<String>,
}

pub async fn acknowledge(
    State(state): State<AppState>,
    session: ManagerSession,
    Path(key): Path<String>,
    Json(request): Json<ReviewRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    refuse_auditors(&session)?;
    let note = optional_note(request.note)?;
    review(state, session, key, ACKNOWLEDGED, note).await
}

/// Resolving needs a note: what was done about it stays in the record.
pub async fn resolve(
    State(state): State<AppState>,
    session: ManagerSession,
    Path(key): Path<String>,
    Json(request): Json<ReviewRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    refuse_auditors(&session)?;
    let note = required_note(request.note)?;
    review(state, session, key, RESOLVED, Some(note)).await
}

async fn review(
    state: AppState,
    session: ManagerSession,
    key: String,
    review_state: &'static str,
    note: Option<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let site_id = site_of(&session)?;
    let now = now_ms();
    let exception = site_exceptions(&state, &site_id, now)
        .await?
        .into_iter()
        .find(|exception| exception.key() == key);
    let Some(exception) = exception else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_exception",
            "No current exception of this site has this key; reload the list.",
        ));
    };
    let record = ExceptionReviewRecord {
        exception_key: key.clone(),
        device_id: exception.device.as_str().to_owned(),
        kind: exception.kind.name().to_owned(),
        state: review_state.to_owned(),
        by: session.account.username.clone(),
        at_ms: now as i64,
        note: note.clone(),
    };
    let entry = crate::ledger::governance_entry(
        serde_json::json!({
            "type": format!("exception_{review_state}"),
            "key": key,
            "device": record.device_id,
            "kind": record.kind,
            "note": note,
        }),
        &session.account.username,
        now,
    );
    let leaf_index = state
        .storage
        .add_exception_review(&site_id, &record, &entry)
        .await
        .map_err(unavailable)?;
    tracing::info!(
        site_id,
        key,
        kind = record.kind,
        device = record.device_id,
        state = review_state,
        by = session.account.username,
        leaf_index,
        "exception reviewed"
    );
    Ok(Json(
        serde_json::json!({ "key": key, "review": review_json(&record) }),
    ))
}
