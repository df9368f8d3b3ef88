//! The dashboard's custody board: which rows a filter keeps, the flags each row carries beyond
//! its status, and the order that puts what needs a manager first.

use std::collections::BTreeMap;

use baton_core::state::DeviceStatus;

use super::api::DeviceRow;

/// The status filter's choices: a device status, or one of the two flags a manager hunts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StatusFilter {
    #[default]
    All,
    Status(DeviceStatus),
    /// Custody ended but some connector has not confirmed the revocation.
    AccessOpen,
    /// Last seen on a ward other than its home ward.
    AwayFromHome,
}

impl StatusFilter {
    /// Every choice with the value its `<option>` carries.
    pub const CHOICES: [(&'static str, StatusFilter); 8] = [
        ("all", StatusFilter::All),
        ("access_open", StatusFilter::AccessOpen),
        ("overdue", StatusFilter::Status(DeviceStatus::Overdue)),
        ("missing", StatusFilter::Status(DeviceStatus::Missing)),
        (
            "quarantined",
            StatusFilter::Status(DeviceStatus::Quarantined),
        ),
        ("away", StatusFilter::AwayFromHome),
        ("in_use", StatusFilter::Status(DeviceStatus::InUse)),
        ("available", StatusFilter::Status(DeviceStatus::Available)),
    ];

    pub fn from_value(value: &str) -> StatusFilter {
        StatusFilter::CHOICES
            .iter()
            .find(|(name, _)| *name == value)
            .map_or(StatusFilter::All, |(_, filter)| *filter)
    }
}

/// What the manager typed and chose above the board.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BoardFilter {
    /// A home ward, or every ward when empty.
    pub ward: String,
    pub status: StatusFilter,
    /// Matched, ignoring case, against the asset tag, the device id, and each custodian's staff
    /// number and name.
    pub query: String,
}

/// A device last seen away from its home ward (so someone should bring it back).
pub fn away_from_home(row: &DeviceRow) -> bool {
    row.last_ward
        .as_ref()
        .is_some_and(|ward| *ward != row.home_ward)
}

fn matches(row: &DeviceRow, filter: &BoardFilter, names: &BTreeMap<String, String>) -> bool {
    if !filter.ward.is_empty() && row.home_ward != filter.ward {
        return false;
    }
    let status_ok = match filter.status {
        StatusFilter::All => true,
        StatusFilter::Status(status) => row.status == status,
        StatusFilter::AccessOpen => row.access_open_after_return,
        StatusFilter::AwayFromHome => away_from_home(row),
    };
    if !status_ok {
        return false;
    }
    let query = filter.query.trim().to_lowercase();
    if query.is_empty() {
        return true;
    }
    let hit = |text: &str| text.to_lowercase().contains(&query);
    hit(&row.asset_tag)
        || hit(&row.device_id)
        || row
            .custodians
            .iter()
            .any(|staff| hit(staff) || names.get(staff).is_some_and(|name| hit(name)))
}

/// How urgently a row needs a manager: lower first.
fn urgency(row: &DeviceRow) -> u8 {
    if row.access_open_after_return {
        return 0;
    }
    match row.status {
        DeviceStatus::Missing => 1,
        DeviceStatus::Overdue => 2,
        DeviceStatus::Quarantined => 3,
        DeviceStatus::InUse => 4,
        DeviceStatus::Available => 5,
    }
}

/// The rows the filter keeps, most urgent first, then by asset tag.
pub fn filtered<'a>(
    rows: &'a [DeviceRow],
    filter: &BoardFilter,
    names: &BTreeMap<String, String>,
) -> Vec<&'a DeviceRow> {
    let mut kept: Vec<&DeviceRow> = rows
        .iter()
        .filter(|row| matches(row, filter, names))
        .collect();
    kept.sort_by(|left, right| {
        urgency(left)
            .cmp(&urgency(right))
            .then_with(|| left.asset_tag.cmp(&right.asset_tag))
    });
    kept
}

/// The home wards of the devices, sorted, each once: the ward filter's choices.
pub fn wards(rows: &[DeviceRow]) -> Vec<String> {
    let mut wards: Vec<String> = rows.iter().map(|row| row.home_ward.clone()).collect();
    wards.sort();
    wards.dedup();
    wards
}

/// How many devices are in each status, and how many have access open: the board's summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub available: usize,
    pub in_use: usize,
    pub overdue: usize,
    pub missing: usize,
    pub quarantined: usize,
    pub access_open: usize,
    pub away: usize,
}

pub fn counts(rows: &[DeviceRow]) -> Counts {
    let mut counts = Counts::default();
    for row in rows {
        match row.status {
            DeviceStatus::Available => counts.available += 1,
            DeviceStatus::InUse => counts.in_use += 1,
            DeviceStatus::Overdue => counts.overdue += 1,
            DeviceStatus::Missing => counts.missing += 1,
            DeviceStatus::Quarantined => counts.quarantined += 1,
        }
        counts.access_open += usize::from(row.access_open_after_return);
        counts.away += usize::from(away_from_home(row));
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(tag: &str, ward: &str, status: DeviceStatus, custodians: &[&str]) -> DeviceRow {
        DeviceRow {
            device_id: format!("D-{tag}"),
            asset_tag: tag.to_owned(),
            kind: "tablet".to_owned(),
            model: "Tab".to_owned(),
            home_ward: ward.to_owned(),
            status,
            custodians: custodians.iter().map(|staff| (*staff).to_owned()).collect(),
            since_ms: None,
            expected_return_ms: None,
            opened_by: None,
            access_open_after_return: false,
            last_ward: Some(ward.to_owned()),
            recorded_by: None,
        }
    }

    fn board() -> Vec<DeviceRow> {
        let mut open = row("BT-3", "W-4N", DeviceStatus::Available, &[]);
        open.access_open_after_return = true;
        let mut away = row("BT-5", "W-5W", DeviceStatus::Available, &[]);
        away.last_ward = Some("W-4N".to_owned());
        vec![
            row("BT-1", "W-4N", DeviceStatus::InUse, &["S-0001"]),
            row("BT-2", "W-5W", DeviceStatus::Overdue, &["S-0002"]),
            open,
            row("BT-4", "W-4N", DeviceStatus::Missing, &[]),
            away,
        ]
    }

    fn tags(rows: Vec<&DeviceRow>) -> Vec<&str> {
        rows.into_iter().map(|row| row.asset_tag.as_str()).collect()
    }

    #[test]
    fn with_no_filter_what_needs_a_manager_comes_first() {
        let rows = board();
        let all = filtered(&rows, &BoardFilter::default(), &BTreeMap::new());
        assert_eq!(tags(all), ["BT-3", "BT-4", "BT-2", "BT-1", "BT-5"]);
    }

    #[test]
    fn ward_status_and_flags_narrow_the_board() {
        let rows = board();
        let names = BTreeMap::new();
        let by_ward = BoardFilter {
            ward: "W-5W".to_owned(),
            ..BoardFilter::default()
        };
        assert_eq!(tags(filtered(&rows, &by_ward, &names)), ["BT-2", "BT-5"]);
        let open = BoardFilter {
            status: StatusFilter::from_value("access_open"),
            ..BoardFilter::default()
        };
        assert_eq!(tags(filtered(&rows, &open, &names)), ["BT-3"]);
        let away = BoardFilter {
            status: StatusFilter::from_value("away"),
            ..BoardFilter::default()
        };
        assert_eq!(tags(filtered(&rows, &away, &names)), ["BT-5"]);
        let overdue = BoardFilter {
            status: StatusFilter::from_value("overdue"),
            ..BoardFilter::default()
        };
        assert_eq!(tags(filtered(&rows, &overdue, &names)), ["BT-2"]);
        assert_eq!(StatusFilter::from_value("nonsense"), StatusFilter::All);
    }

    #[test]
    fn search_finds_a_tag_or_a_custodian_by_number_or_name() {
        let rows = board();
        let names = BTreeMap::from([("S-0002".to_owned(), "Ada Example".to_owned())]);
        let search = |query: &str| {
            let filter = BoardFilter {
                query: query.to_owned(),
                ..BoardFilter::default()
            };
            tags(filtered(&rows, &filter, &names))
        };
        assert_eq!(search("bt-4"), ["BT-4"]);
        assert_eq!(search("ada"), ["BT-2"]);
        assert_eq!(search("s-0001"), ["BT-1"]);
        assert!(search("nobody").is_empty());
        assert_eq!(search("  ").len(), 5);
    }

    #[test]
    fn counts_add_up_statuses_and_flags() {
        let counts = counts(&board());
        assert_eq!(
            counts,
            Counts {
                available: 2,
                in_use: 1,
                overdue: 1,
                missing: 1,
                quarantined: 0,
                access_open: 1,
                away: 1,
            }
        );
        assert_eq!(wards(&board()), ["W-4N", "W-5W"]);
    }
}
