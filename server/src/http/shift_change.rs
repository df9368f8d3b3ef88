//! A ward's shift change over a time window (`GET /api/v1/dashboard/shift-change`): for each
//! device of the ward, who held it when the window opened and when it closed, and the handoffs
//! in between (`baton_core::shift_change`), with the site's recent shift starts to choose from.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use baton_core::ids::WardId;
use baton_core::shift_change::{recent_shift_starts, shift_change};
use serde::Deserialize;

use super::AppState;
use super::dashboard::site_of;
use super::error::ApiError;
use super::manager_auth::ManagerSession;
use crate::sync::now_ms;

/// The longest window: a day, the longest shift and its handover.
pub const MAX_WINDOW_MS: u64 = 24 * 3_600_000;
/// Shift starts offered to choose from: a week of a two-shift site.
const RECENT_STARTS: usize = 14;
/// Without a window, the latest shift start with an hour each side of it.
const DEFAULT_HALF_WINDOW_MS: u64 = 3_600_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShiftChangeQuery {
    ward: String,
    #[serde(default)]
    from_ms: Option<u64>,
    #[serde(default)]
    to_ms: Option<u64>,
}

fn bad_request(code: &'static str, message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, code, message)
}

pub async fn shift_change_view(
    State(state): State<AppState>,
    session: ManagerSession,
    Query(query): Query<ShiftChangeQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let site_id = site_of(&session)?;
    let ward = WardId::new(&query.ward).map_err(|error| {
        bad_request(
            "bad_ward",
            format!("ward {:?} is not a ward id: {error}", query.ward),
        )
    })?;
    let now = now_ms();
    let guard = state
        .replicas
        .lock(state.storage.as_ref(), &site_id)
        .await?;
    let rules = guard.replica.custody().rules();
    let starts = recent_shift_starts(rules, now, RECENT_STARTS);
    let (from_ms, to_ms) = match (query.from_ms, query.to_ms) {
        (Some(from_ms), Some(to_ms)) => (from_ms, to_ms),
        (None, None) => {
            let boundary = starts.first().map_or(now, |start| start.at_ms);
            (
                boundary.saturating_sub(DEFAULT_HALF_WINDOW_MS),
                boundary.saturating_add(DEFAULT_HALF_WINDOW_MS),
            )
        }
        _ => {
            return Err(bad_request(
                "bad_range",
                "Give both from_ms and to_ms, or neither for the latest shift change.".to_owned(),
            ));
        }
    };
    if from_ms >= to_ms || to_ms - from_ms > MAX_WINDOW_MS {
        return Err(bad_request(
            "bad_range",
            format!(
                "The window must start before it ends and last at most 24 hours; \
                 {from_ms} to {to_ms} was asked."
            ),
        ));
    }
    let known_ward = guard
        .devices
        .iter()
        .any(|device| device.home_ward == ward.as_str());
    if !known_ward {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_ward",
            format!(
                "No device of this site has {} as its home ward.",
                ward.as_str()
            ),
        ));
    }
    let asset_tags: HashMap<&str, &str> = guard
        .devices
        .iter()
        .map(|device| (device.device_id.as_str(), device.asset_tag.as_str()))
        .collect();
    let rows: Vec<serde_json::Value> = shift_change(guard.replica.custody(), &ward, from_ms, to_ms)
        .into_iter()
        .map(|row| {
            let asset_tag = asset_tags.get(row.device.as_str()).copied();
            let mut value = serde_json::to_value(row).expect("a shift-change row serialises");
            value["asset_tag"] = serde_json::json!(asset_tag);
            value
        })
        .collect();
    Ok(Json(serde_json::json!({
        "site_id": site_id,
        "ward": ward,
        "from_ms": from_ms,
        "to_ms": to_ms,
        "now_ms": now,
        "recent_shift_starts": starts,
        "devices": rows,
    })))
}
