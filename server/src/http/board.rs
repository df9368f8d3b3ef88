//! The custody board (`GET /api/v1/dashboard/devices`): the site's devices with their derived
//! custody state, filtered by ward, status and a search, most urgent first, one page at a time,
//! with the whole site's counts beside the page.
//!
//! The filter and the order are computed here rather than in the browser: a site of 10,000
//! devices sent whole was 600 KB to 800 KB gzip and most of a second of server time per change
//! (BENCHMARKS.md, the board section), while a manager reads one screen of it at a time.

use std::collections::{HashMap, HashSet};

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use baton_core::ids::{DeviceId, EventId, SignerKey, StaffId, WardId};
use baton_core::state::{DeviceCustody, DeviceStatus};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::dashboard::{site_of, unavailable};
use super::error::ApiError;
use super::manager_auth::ManagerSession;
use crate::storage::{DeviceRecord, TabletRecord};
use crate::sync::now_ms;

/// Rows per page when the client does not say.
pub const DEFAULT_PAGE: usize = 100;
/// The most rows one answer holds.
pub const MAX_PAGE: usize = 1_000;
/// The longest search, in characters: longer than any asset tag, staff number or name.
pub const MAX_QUERY_CHARS: usize = 100;

/// The status filter's choices: a device status, or one of the two flags a manager hunts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusFilter {
    #[default]
    All,
    /// Custody ended but some connector has not confirmed the revocation.
    AccessOpen,
    /// Last seen on a ward other than its home ward.
    Away,
    Overdue,
    Missing,
    Quarantined,
    InUse,
    Available,
}

/// The board's query string; every member is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoardQuery {
    /// A home ward; every ward when absent or empty.
    #[serde(default)]
    ward: Option<String>,
    #[serde(default)]
    status: StatusFilter,
    /// Matched, ignoring case, against the asset tag, the device id, and each custodian's staff
    /// number and name.
    #[serde(default)]
    q: Option<String>,
    /// One device by its id (a device's own page).
    #[serde(default)]
    device: Option<String>,
    #[serde(default)]
    offset: usize,
    #[serde(default)]
    limit: Option<usize>,
}

/// One row of the board, serialised straight from the registry and the fold: at 10,000
/// devices, building a `serde_json::Value` tree first cost more than everything else together
/// (BENCHMARKS.md, the board section).
#[derive(Serialize)]
struct BoardRow<'a> {
    device_id: &'a str,
    asset_tag: &'a str,
    kind: &'a str,
    model: &'a str,
    home_ward: &'a str,
    status: DeviceStatus,
    custodians: Vec<&'a StaffId>,
    since_ms: Option<u64>,
    expected_return_ms: Option<u64>,
    opened_by: Option<String>,
    last_ward: Option<&'a WardId>,
    recorded_by: Option<RecordedBy<'a>>,
    access_open_after_return: bool,
}

/// The tablet that recorded a custody: the signer of its opening event.
#[derive(Serialize)]
struct RecordedBy<'a> {
    tablet_id: &'a str,
    label: &'a str,
    last_sync_ms: Option<i64>,
}

/// How many of the site's devices are in each status or carry each flag, whatever the filter.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub available: usize,
    pub in_use: usize,
    pub overdue: usize,
    pub missing: usize,
    pub quarantined: usize,
    pub access_open: usize,
    pub away: usize,
}

#[derive(Serialize)]
struct BoardPage<'a> {
    site_id: &'a str,
    now_ms: u64,
    /// Devices the filter keeps, over every page.
    total: usize,
    offset: usize,
    limit: usize,
    counts: Counts,
    /// The home wards of the site's devices, sorted: the ward filter's choices.
    wards: Vec<&'a str>,
    devices: Vec<BoardRow<'a>>,
}

/// What the filter and the order need of one device.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    pub status: DeviceStatus,
    pub access_open: bool,
    pub away: bool,
}

impl Summary {
    fn of(
        device: &DeviceRecord,
        derived: Option<&DeviceCustody>,
        access_open: bool,
        now: u64,
    ) -> Summary {
        Summary {
            status: derived.map_or(DeviceStatus::Available, |d| d.status(now)),
            access_open,
            away: derived
                .and_then(|d| d.last_ward.as_ref())
                .is_some_and(|ward| ward.as_str() != device.home_ward),
        }
    }

    /// How urgently the device needs a manager: lower first.
    pub fn urgency(&self) -> u8 {
        if self.access_open {
            return 0;
        }
        match self.status {
            DeviceStatus::Missing => 1,
            DeviceStatus::Overdue => 2,
            DeviceStatus::Quarantined => 3,
            DeviceStatus::InUse => 4,
            DeviceStatus::Available => 5,
        }
    }

    pub fn passes(&self, filter: StatusFilter) -> bool {
        match filter {
            StatusFilter::All => true,
            StatusFilter::AccessOpen => self.access_open,
            StatusFilter::Away => self.away,
            StatusFilter::Overdue => self.status == DeviceStatus::Overdue,
            StatusFilter::Missing => self.status == DeviceStatus::Missing,
            StatusFilter::Quarantined => self.status == DeviceStatus::Quarantined,
            StatusFilter::InUse => self.status == DeviceStatus::InUse,
            StatusFilter::Available => self.status == DeviceStatus::Available,
        }
    }
}

impl Counts {
    pub fn add(&mut self, summary: &Summary) {
        match summary.status {
            DeviceStatus::Available => self.available += 1,
            DeviceStatus::InUse => self.in_use += 1,
            DeviceStatus::Overdue => self.overdue += 1,
            DeviceStatus::Missing => self.missing += 1,
            DeviceStatus::Quarantined => self.quarantined += 1,
        }
        self.access_open += usize::from(summary.access_open);
        self.away += usize::from(summary.away);
    }
}

/// The query checked: a page size in bounds, a search of sensible length, lower-cased.
struct Filter {
    device: Option<String>,
    ward: Option<String>,
    status: StatusFilter,
    search: Option<String>,
    offset: usize,
    limit: usize,
}

impl Filter {
    fn from_query(query: BoardQuery) -> Result<Filter, ApiError> {
        let limit = query.limit.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_limit",
                format!("limit is a number of rows from 1 to {MAX_PAGE}; {limit} was asked."),
            ));
        }
        let search = query
            .q
            .map(|q| q.trim().to_lowercase())
            .filter(|q| !q.is_empty());
        if let Some(search) = &search {
            let chars = search.chars().count();
            if chars > MAX_QUERY_CHARS {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "query_too_long",
                    format!(
                        "A search has at most {MAX_QUERY_CHARS} characters; this one has {chars}."
                    ),
                ));
            }
        }
        Ok(Filter {
            device: query.device.filter(|device| !device.is_empty()),
            ward: query.ward.filter(|ward| !ward.is_empty()),
            status: query.status,
            search,
            offset: query.offset,
            limit,
        })
    }
}

/// One page of the board at this moment.
pub async fn devices(
    State(state): State<AppState>,
    session: ManagerSession,
    Query(query): Query<BoardQuery>,
) -> Result<Response, ApiError> {
    let site_id = site_of(&session)?;
    let filter = Filter::from_query(query)?;
    // A device whose revocation some connector has not confirmed still has access open. A
    // delivery cancelled because an admin disabled its connector is closed, not open: the
    // ledger records who disabled it.
    let access_open: HashSet<String> = state
        .storage
        .devices_with_open_access(&site_id)
        .await
        .map_err(unavailable)?
        .into_iter()
        .collect();
    let tablets = state
        .storage
        .list_tablets(&site_id)
        .await
        .map_err(unavailable)?;
    let tablets_by_key: HashMap<SignerKey, &TabletRecord> = tablets
        .iter()
        .filter_map(|tablet| Some((SignerKey::from_hex(&tablet.public_key).ok()?, tablet)))
        .collect();
    // Names are read only for a search, which may name a custodian.
    let names: HashMap<String, String> = if filter.search.is_some() {
        state
            .storage
            .list_staff(&site_id)
            .await
            .map_err(unavailable)?
            .into_iter()
            .map(|staff| (staff.staff_id, staff.display_name.to_lowercase()))
            .collect()
    } else {
        HashMap::new()
    };
    let guard = state
        .replicas
        .lock(state.storage.as_ref(), &site_id)
        .await?;
    let custody = guard.replica.custody();
    let now = now_ms();
    // The device records come from the replica, which re-reads them only when the site's
    // registry version moved: a second read of 10,000 rows per request was 40% of its cost.
    let devices: &[DeviceRecord] = &guard.devices;
    let derived: Vec<Option<&DeviceCustody>> = devices
        .iter()
        .map(|device| {
            DeviceId::new(&device.device_id)
                .ok()
                .and_then(|id| custody.device(&id))
        })
        .collect();
    let mut counts = Counts::default();
    // Each kept device with its summary, so the page's rows reuse its status.
    let mut kept: Vec<(Summary, usize)> = Vec::new();
    for (index, device) in devices.iter().enumerate() {
        let summary = Summary::of(
            device,
            derived[index],
            access_open.contains(&device.device_id),
            now,
        );
        counts.add(&summary);
        let wanted = summary.passes(filter.status)
            && filter
                .device
                .as_ref()
                .is_none_or(|id| *id == device.device_id)
            && filter
                .ward
                .as_ref()
                .is_none_or(|ward| *ward == device.home_ward)
            && filter.search.as_ref().is_none_or(|search| {
                let hit = |text: &str| text.to_lowercase().contains(search.as_str());
                hit(&device.asset_tag)
                    || hit(&device.device_id)
                    || derived[index].is_some_and(|d| {
                        d.custodians().iter().any(|staff| {
                            hit(staff.as_str())
                                || names
                                    .get(staff.as_str())
                                    .is_some_and(|name| name.contains(search.as_str()))
                        })
                    })
            });
        if wanted {
            kept.push((summary, index));
        }
    }
    kept.sort_by(|(left_summary, left), (right_summary, right)| {
        left_summary
            .urgency()
            .cmp(&right_summary.urgency())
            .then_with(|| devices[*left].asset_tag.cmp(&devices[*right].asset_tag))
    });
    let recorded_by = |event: EventId| {
        let signer = guard.replica.log().get(&event)?.signer();
        let tablet = tablets_by_key.get(signer)?;
        Some(RecordedBy {
            tablet_id: &tablet.tablet_id,
            label: &tablet.label,
            last_sync_ms: tablet.last_sync_ms,
        })
    };
    let rows: Vec<BoardRow> = kept
        .iter()
        .skip(filter.offset)
        .take(filter.limit)
        .map(|&(summary, index)| {
            let device = &devices[index];
            let derived = derived[index];
            let opened_by = derived.and_then(|d| d.opened_by());
            BoardRow {
                device_id: &device.device_id,
                asset_tag: &device.asset_tag,
                kind: &device.kind,
                model: &device.model,
                home_ward: &device.home_ward,
                status: summary.status,
                custodians: derived.map(|d| d.custodians()).unwrap_or_default(),
                since_ms: derived.and_then(|d| d.since_ms()),
                expected_return_ms: derived.and_then(|d| d.expected_return_ms()),
                opened_by: opened_by.map(|id| id.to_hex()),
                last_ward: derived.and_then(|d| d.last_ward.as_ref()),
                recorded_by: opened_by.and_then(recorded_by),
                access_open_after_return: summary.access_open,
            }
        })
        .collect();
    let mut wards: Vec<&str> = devices
        .iter()
        .map(|device| device.home_ward.as_str())
        .collect();
    wards.sort_unstable();
    wards.dedup();
    let body = serde_json::to_vec(&BoardPage {
        site_id: &site_id,
        now_ms: now,
        total: kept.len(),
        offset: filter.offset,
        limit: filter.limit,
        counts,
        wards,
        devices: rows,
    })
    .map_err(ApiError::internal)?;
    drop(guard);
    Ok(([(CONTENT_TYPE, "application/json")], body).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(status: DeviceStatus, access_open: bool, away: bool) -> Summary {
        Summary {
            status,
            access_open,
            away,
        }
    }

    #[test]
    fn access_open_comes_first_then_missing_overdue_quarantined_in_use_available() {
        let mut order = [
            summary(DeviceStatus::Available, false, false),
            summary(DeviceStatus::InUse, false, false),
            summary(DeviceStatus::Quarantined, false, false),
            summary(DeviceStatus::Overdue, false, false),
            summary(DeviceStatus::Missing, false, false),
            summary(DeviceStatus::Available, true, false),
        ];
        order.sort_by_key(Summary::urgency);
        let statuses: Vec<_> = order.iter().map(|s| (s.status, s.access_open)).collect();
        assert_eq!(
            statuses,
            [
                (DeviceStatus::Available, true),
                (DeviceStatus::Missing, false),
                (DeviceStatus::Overdue, false),
                (DeviceStatus::Quarantined, false),
                (DeviceStatus::InUse, false),
                (DeviceStatus::Available, false),
            ]
        );
    }

    #[test]
    fn each_status_filter_keeps_its_own_and_counts_see_everything() {
        let board = [
            summary(DeviceStatus::InUse, false, true),
            summary(DeviceStatus::Overdue, false, false),
            summary(DeviceStatus::Available, true, false),
            summary(DeviceStatus::Missing, false, false),
        ];
        let kept = |filter| board.iter().filter(|s| s.passes(filter)).count();
        assert_eq!(kept(StatusFilter::All), 4);
        assert_eq!(kept(StatusFilter::Away), 1);
        assert_eq!(kept(StatusFilter::AccessOpen), 1);
        assert_eq!(kept(StatusFilter::Overdue), 1);
        assert_eq!(kept(StatusFilter::Quarantined), 0);
        let mut counts = Counts::default();
        board.iter().for_each(|s| counts.add(s));
        assert_eq!(
            counts,
            Counts {
                available: 1,
                in_use: 1,
                overdue: 1,
                missing: 1,
                quarantined: 0,
                access_open: 1,
                away: 1,
            }
        );
    }

    #[test]
    fn a_page_size_out_of_bounds_or_an_overlong_search_is_refused() {
        let query = |limit: Option<usize>, q: Option<&str>| BoardQuery {
            limit,
            q: q.map(str::to_owned),
            ..BoardQuery::default()
        };
        assert!(Filter::from_query(query(Some(0), None)).is_err());
        assert!(Filter::from_query(query(Some(MAX_PAGE + 1), None)).is_err());
        assert_eq!(
            Filter::from_query(query(None, None)).unwrap().limit,
            DEFAULT_PAGE
        );
        assert!(Filter::from_query(query(None, Some(&"x".repeat(MAX_QUERY_CHARS + 1)))).is_err());
        let blank = Filter::from_query(query(None, Some("  "))).unwrap();
        assert!(blank.search.is_none());
        let cased = Filter::from_query(query(None, Some(" BT-12 "))).unwrap();
        assert_eq!(cased.search.as_deref(), Some("bt-12"));
    }
}
