//! The site report (charts and the printable evidence report) and the custody CSV for auditors.
//! Both read only; the figures are computed by `crate::report` from what is read here.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use baton_core::ids::DeviceId;
use serde::Deserialize;

use super::AppState;
use super::dashboard::{site_of, unavailable};
use super::error::ApiError;
use super::manager_auth::ManagerSession;
use crate::report::custody_csv::{CustodyRow, to_csv};
use crate::report::{ReportInput, requested_range};
use crate::storage::ExceptionReviewRecord;
use crate::sync::now_ms;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    from_ms: Option<u64>,
    to_ms: Option<u64>,
}

fn range(from_ms: Option<u64>, to_ms: Option<u64>, now: u64) -> Result<(u64, u64), ApiError> {
    requested_range(from_ms, to_ms, now)
        .map_err(|message| ApiError::new(StatusCode::BAD_REQUEST, "bad_range", message))
}

pub async fn report(
    State(state): State<AppState>,
    session: ManagerSession,
    Query(query): Query<ReportQuery>,
) -> Result<Json<crate::report::Report>, ApiError> {
    let site_id = site_of(&session)?;
    let now = now_ms();
    let (from_ms, to_ms) = range(query.from_ms, query.to_ms, now)?;
    let revocations = state
        .storage
        .revocations_created_between(&site_id, from_ms as i64, to_ms as i64)
        .await
        .map_err(unavailable)?;
    let mut reviews: BTreeMap<String, Vec<ExceptionReviewRecord>> = BTreeMap::new();
    for review in state
        .storage
        .list_exception_reviews(&site_id)
        .await
        .map_err(unavailable)?
    {
        reviews
            .entry(review.exception_key.clone())
            .or_default()
            .push(review);
    }
    let exceptions = super::exception_review::site_exceptions(&state, &site_id, now).await?;
    let guard = state
        .replicas
        .lock(state.storage.as_ref(), &site_id)
        .await?;
    let report = crate::report::build(&ReportInput {
        site_id: &site_id,
        from_ms,
        to_ms,
        now_ms: now,
        custody: guard.replica.custody(),
        exceptions: &exceptions,
        reviews: &reviews,
        revocations: &revocations,
    });
    Ok(Json(report))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustodiesQuery {
    from_ms: Option<u64>,
    to_ms: Option<u64>,
    device_id: Option<String>,
}

/// Every custody interval that overlaps the range, one CSV line each, by device then start.
pub async fn custodies_csv(
    State(state): State<AppState>,
    session: ManagerSession,
    Query(query): Query<CustodiesQuery>,
) -> Result<Response, ApiError> {
    let site_id = site_of(&session)?;
    let now = now_ms();
    let (from_ms, to_ms) = range(query.from_ms, query.to_ms, now)?;
    let devices = state
        .storage
        .list_devices(&site_id)
        .await
        .map_err(unavailable)?;
    if let Some(device_id) = &query.device_id
        && !devices.iter().any(|device| &device.device_id == device_id)
    {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_device",
            "No such device at this site.",
        ));
    }
    let asset_tags: BTreeMap<&str, &str> = devices
        .iter()
        .map(|device| (device.device_id.as_str(), device.asset_tag.as_str()))
        .collect();
    let staff = state
        .storage
        .list_staff(&site_id)
        .await
        .map_err(unavailable)?;
    let names: BTreeMap<&str, &str> = staff
        .iter()
        .map(|member| (member.staff_id.as_str(), member.display_name.as_str()))
        .collect();
    let wanted = query
        .device_id
        .as_deref()
        .map(DeviceId::new)
        .transpose()
        .map_err(|error| {
            ApiError::new(StatusCode::NOT_FOUND, "unknown_device", error.to_string())
        })?;
    let mut rows = Vec::new();
    {
        let guard = state
            .replicas
            .lock(state.storage.as_ref(), &site_id)
            .await?;
        for device in guard.replica.custody().devices() {
            if wanted
                .as_ref()
                .is_some_and(|wanted| *wanted != device.device)
            {
                continue;
            }
            for interval in &device.intervals {
                let end_ms = interval.end.as_ref().map(|end| end.end_ms);
                let overlaps =
                    interval.start_ms < to_ms && end_ms.is_none_or(|end_ms| end_ms > from_ms);
                if !overlaps {
                    continue;
                }
                let device_id = device.device.as_str();
                let staff_id = interval.staff.as_str();
                rows.push(CustodyRow {
                    device_id: device_id.to_owned(),
                    asset_tag: asset_tags
                        .get(device_id)
                        .copied()
                        .unwrap_or_default()
                        .to_owned(),
                    staff_id: staff_id.to_owned(),
                    display_name: names.get(staff_id).copied().unwrap_or_default().to_owned(),
                    start_ms: interval.start_ms,
                    end_ms,
                    ended_by: interval
                        .end
                        .as_ref()
                        .map(|end| end.reason.name().to_owned()),
                });
            }
        }
    }
    rows.sort_by(|left, right| {
        (&left.device_id, left.start_ms, &left.staff_id).cmp(&(
            &right.device_id,
            right.start_ms,
            &right.staff_id,
        ))
    });
    let filename = format!("custodies-{site_id}-{from_ms}-{to_ms}.csv");
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        to_csv(&rows),
    )
        .into_response())
}
