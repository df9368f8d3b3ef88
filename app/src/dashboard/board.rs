//! The dashboard's custody board: the filter a manager sets, as the board API's query, and the
//! flags each row carries beyond its status.

use super::api::{DeviceRow, paths};

/// The status filter's choices, as the board API names them: every device, a device status,
/// or one of the two flags a manager hunts for (access still open after return, away from its
/// home ward).
pub const STATUS_CHOICES: [&str; 8] = [
    "all",
    "access_open",
    "overdue",
    "missing",
    "quarantined",
    "away",
    "in_use",
    "available",
];

/// What the manager typed and chose above the board. The server filters, orders (what needs a
/// manager first) and pages: a site's whole board is too large to send at every change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BoardFilter {
    /// A home ward, or every ward when empty.
    pub ward: String,
    pub status: String,
    /// Matched by the server, ignoring case, against the asset tag, the device id, and each
    /// custodian's staff number and name.
    pub query: String,
    /// The first row of the page.
    pub offset: usize,
}

/// Rows per page of the board.
pub const PAGE_ROWS: usize = 100;

impl BoardFilter {
    /// The board's API path for this filter.
    pub fn path(&self) -> String {
        let mut path = format!("{}?limit={PAGE_ROWS}", paths::DEVICES);
        if self.offset > 0 {
            path.push_str(&format!("&offset={}", self.offset));
        }
        if !self.ward.is_empty() {
            path.push_str(&format!("&ward={}", encode_query_value(&self.ward)));
        }
        if !self.status.is_empty() && self.status != "all" {
            path.push_str(&format!("&status={}", encode_query_value(&self.status)));
        }
        let query = self.query.trim();
        if !query.is_empty() {
            path.push_str(&format!("&q={}", encode_query_value(query)));
        }
        path
    }
}

/// Percent-encodes a query-string value (RFC 3986: every byte but the unreserved ones).
pub fn encode_query_value(value: &str) -> String {
    let mut encoded = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// A device last seen away from its home ward (so someone should bring it back).
pub fn away_from_home(row: &DeviceRow) -> bool {
    row.last_ward
        .as_ref()
        .is_some_and(|ward| *ward != row.home_ward)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_filter_asks_for_the_first_page_of_everything() {
        assert_eq!(
            BoardFilter::default().path(),
            "/api/v1/dashboard/devices?limit=100"
        );
    }

    #[test]
    fn each_choice_goes_into_the_path_encoded() {
        let filter = BoardFilter {
            ward: "W-4N".to_owned(),
            status: "access_open".to_owned(),
            query: "  Ada Ex&mple  ".to_owned(),
            offset: 200,
        };
        assert_eq!(
            filter.path(),
            "/api/v1/dashboard/devices?limit=100&offset=200&ward=W-4N&status=access_open&q=Ada%20Ex%26mple"
        );
        assert_eq!(encode_query_value("é/?"), "%C3%A9%2F%3F");
    }

    #[test]
    fn every_status_choice_is_one_the_server_knows() {
        // The server's `StatusFilter` (server/src/http/board.rs) refuses any other value.
        assert_eq!(
            STATUS_CHOICES,
            [
                "all",
                "access_open",
                "overdue",
                "missing",
                "quarantined",
                "away",
                "in_use",
                "available"
            ]
        );
    }
}
