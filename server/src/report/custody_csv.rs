//! The custody intervals as CSV for auditors, safe to open in a spreadsheet.
//!
//! A cell that a spreadsheet would read as a formula (one starting with `=`, `+`, `-`, `@`, a
//! tab or a carriage return) gets a leading `'`, as OWASP's "CSV Injection" page advises, so
//! that a display name such as `=HYPERLINK(...)` imported from a staff file stays text. Quoting
//! follows RFC 4180.

use std::borrow::Cow;

use super::civil_time::utc_text;

pub const HEADER: [&str; 9] = [
    "device_id",
    "asset_tag",
    "staff_id",
    "display_name",
    "start_ms",
    "end_ms",
    "start_utc",
    "end_utc",
    "ended_by",
];

/// One custody interval with what the registry says of its device and person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustodyRow {
    pub device_id: String,
    pub asset_tag: String,
    pub staff_id: String,
    pub display_name: String,
    pub start_ms: u64,
    pub end_ms: Option<u64>,
    /// Why the custody ended (`checked_in`, `transferred`, ...); `None` while open.
    pub ended_by: Option<String>,
}

/// The cell as text a spreadsheet will not evaluate.
pub fn neutralize(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// The whole file: the header, then one line per row, CRLF line ends (RFC 4180).
pub fn to_csv(rows: &[CustodyRow]) -> String {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    writer
        .write_record(HEADER)
        .expect("writing to memory does not fail");
    for row in rows {
        let end_ms = row.end_ms.map(|ms| ms.to_string()).unwrap_or_default();
        let end_utc = row.end_ms.map(utc_text).unwrap_or_default();
        let cells = [
            row.device_id.as_str(),
            &row.asset_tag,
            &row.staff_id,
            &row.display_name,
            &row.start_ms.to_string(),
            &end_ms,
            &utc_text(row.start_ms),
            &end_utc,
            row.ended_by.as_deref().unwrap_or_default(),
        ];
        writer
            .write_record(cells.iter().map(|cell| neutralize(cell).into_owned()))
            .expect("writing to memory does not fail");
    }
    String::from_utf8(
        writer
            .into_inner()
            .expect("writing to memory does not fail"),
    )
    .expect("the cells are UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_become_text_and_plain_cells_stay_as_they_are() {
        for formula in ["=1+1", "+41", "-2", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(neutralize(formula), format!("'{formula}"));
        }
        for plain in ["Avery Alder", "S-0001", "", "1741564800000", "a=b"] {
            assert_eq!(neutralize(plain), plain);
        }
    }

    #[test]
    fn rows_are_quoted_per_rfc_4180_with_utc_times() {
        let rows = [
            CustodyRow {
                device_id: "D-0001".to_owned(),
                asset_tag: "BT-10001".to_owned(),
                staff_id: "S-0001".to_owned(),
                display_name: "=HYPERLINK(\"http://x\",\"Alder, Avery\")".to_owned(),
                start_ms: 1_741_593_600_000,
                end_ms: Some(1_741_611_600_000),
                ended_by: Some("checked_in".to_owned()),
            },
            CustodyRow {
                device_id: "D-0002".to_owned(),
                asset_tag: String::new(),
                staff_id: "S-0002".to_owned(),
                display_name: "Blake Birch".to_owned(),
                start_ms: 1_741_593_600_000,
                end_ms: None,
                ended_by: None,
            },
        ];
        assert_eq!(
            to_csv(&rows),
            "device_id,asset_tag,staff_id,display_name,start_ms,end_ms,start_utc,end_utc,ended_by\r\n\
             D-0001,BT-10001,S-0001,\"'=HYPERLINK(\"\"http://x\"\",\"\"Alder, Avery\"\")\",1741593600000,1741611600000,\
             2025-03-10T08:00:00.000Z,2025-03-10T13:00:00.000Z,checked_in\r\n\
             D-0002,,S-0002,Blake Birch,1741593600000,,2025-03-10T08:00:00.000Z,,\r\n"
        );
    }
}
