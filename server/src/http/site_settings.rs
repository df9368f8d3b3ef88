//! A site's configuration (`SiteConfig`: shifts, grace, clock tolerances and the tablet's
//! inactivity lockout), read and replaced by an admin (docs/PROTOCOL.md §2.6a).
//!
//! A replacement is checked field by field (`SiteConfig::from_admin_json`): a body with any
//! field out of bounds is refused whole, each problem named by its field, and nothing changes.
//! A change is stored with its ledger entry (the previous and the new configuration) in one
//! transaction, and only if the stored configuration is still the one it was made from, so two
//! admins never silently overwrite each other. Tablets take it up at their next pull: the
//! roster's version is a hash of its content, configuration included (`roster.rs`); every
//! server process re-folds the site with the new rules at its next use of the site
//! (`sync::SiteReplicas::lock`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiError;
use super::manager_auth::ManagerSession;
use super::site_admin::admin_of_site;
use crate::site_config::{self, SiteConfig};

fn bounds(range: &std::ops::RangeInclusive<i64>) -> Value {
    json!({ "min": range.start(), "max": range.end() })
}

/// The bounds each field is checked against, for a form's `min` and `max`.
fn all_bounds() -> Value {
    json!({
        "rules.utc_offset_minutes": bounds(&site_config::UTC_OFFSET_MINUTES),
        "rules.shifts": {
            "min": site_config::N_SHIFTS.start(),
            "max": site_config::N_SHIFTS.end(),
        },
        "rules.shifts[].start_minute_of_day": bounds(&site_config::SHIFT_START_MINUTE),
        "rules.shifts[].duration_minutes": bounds(&site_config::SHIFT_DURATION_MINUTES),
        "rules.grace_minutes": bounds(&site_config::GRACE_MINUTES),
        "rules.max_clock_skew_ms": bounds(&site_config::MAX_CLOCK_SKEW_MS),
        "rules.persistent_gap_after_ms": bounds(&site_config::PERSISTENT_GAP_AFTER_MS),
        "inactivity_lockout_minutes": bounds(&site_config::INACTIVITY_LOCKOUT_MINUTES),
    })
}

/// The stored configuration as JSON text and as a value.
async fn stored(state: &AppState, site_id: &str) -> Result<(String, Value), ApiError> {
    let json_text = state
        .storage
        .site_config(site_id)
        .await
        .map_err(ApiError::storage)?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "unknown_site", "No such site."))?;
    let value = serde_json::from_str(&json_text).map_err(ApiError::internal)?;
    Ok((json_text, value))
}

/// `GET /api/v1/admin/sites/{site_id}/config`: the configuration and the bounds of its fields.
pub async fn get(
    State(state): State<AppState>,
    session: ManagerSession,
    Path(site_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    admin_of_site(&state, &session, &site_id).await?;
    let (_, config) = stored(&state, &site_id).await?;
    Ok(Json(json!({
        "site_id": site_id,
        "config": config,
        "bounds": all_bounds(),
    })))
}

/// `PUT /api/v1/admin/sites/{site_id}/config`: the whole configuration again.
pub async fn replace(
    State(state): State<AppState>,
    session: ManagerSession,
    Path(site_id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    admin_of_site(&state, &session, &site_id).await?;
    let config = SiteConfig::from_admin_json(body).map_err(|problems| {
        let summary: Vec<String> = problems
            .iter()
            .map(|problem| {
                if problem.field.is_empty() {
                    problem.message.clone()
                } else {
                    format!("{}: {}", problem.field, problem.message)
                }
            })
            .collect();
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_site_config",
            format!("{}. Nothing was changed.", summary.join("; ")),
        )
        .with_fields(json!(problems))
    })?;
    let (previous_json, previous) = stored(&state, &site_id).await?;
    let config_json = config.to_json();
    let new_value: Value = serde_json::from_str(&config_json).map_err(ApiError::internal)?;
    if new_value == previous {
        return Ok(Json(
            json!({ "site_id": site_id, "config": new_value, "changed": false }),
        ));
    }
    let now_ms = crate::sync::now_ms();
    let entry = crate::ledger::governance_entry(
        json!({
            "type": "site_config_changed",
            "previous": previous,
            "config": new_value,
        }),
        &session.account.username,
        now_ms,
    );
    let stored_change = state
        .storage
        .update_site_config(
            &site_id,
            &previous_json,
            &config_json,
            &entry,
            now_ms as i64,
        )
        .await
        .map_err(ApiError::storage)?;
    if !stored_change {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "config_changed",
            "The site's configuration changed while this one was being saved; reload it and \
             make the change again.",
        ));
    }
    tracing::info!(
        site_id,
        by = session.account.username,
        "site configuration changed"
    );
    Ok(Json(
        json!({ "site_id": site_id, "config": new_value, "changed": true }),
    ))
}
