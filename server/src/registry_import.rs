//! CSV import of staff and devices, as a hospital exports them from its HR and asset systems.
//!
//! Every row is checked before anything is written; the first bad row stops the import with its
//! line number and the rule it broke, and nothing is stored. PINs in the file are hashed with
//! argon2id at once and never stored or logged.

use std::collections::BTreeSet;

use baton_core::ids::{DeviceId, StaffId, WardId};

use crate::storage::{DeviceRecord, StaffUpsert};

/// Rows per import request: hashing a PIN takes about 25 ms, so a full file is ~25 s.
pub const MAX_IMPORT_ROWS: usize = 1_000;
pub const STAFF_HEADER: [&str; 7] = [
    "staff_id",
    "display_name",
    "role",
    "badge_id",
    "home_ward",
    "pin",
    "active",
];
pub const DEVICE_HEADER: [&str; 6] = [
    "device_id",
    "asset_tag",
    "kind",
    "model",
    "home_ward",
    "active",
];
const ROLES: [&str; 3] = ["nurse", "charge_nurse", "manager"];
const DEVICE_KINDS: [&str; 3] = ["tablet", "phone", "scanner"];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ImportError {
    #[error("the CSV header must be exactly {expected}")]
    Header { expected: String },
    #[error("line {line}: {message}")]
    Row { line: usize, message: String },
    #[error("at most {MAX_IMPORT_ROWS} rows per import; split the file")]
    TooManyRows,
    #[error("the file has no rows")]
    Empty,
}

fn records(csv_text: &str, header: &[&str]) -> Result<Vec<(usize, Vec<String>)>, ImportError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(csv_text.as_bytes());
    let expected = header.join(",");
    let found = reader.headers().map_err(|_| ImportError::Header {
        expected: expected.clone(),
    })?;
    if found.iter().collect::<Vec<_>>() != header {
        return Err(ImportError::Header { expected });
    }
    let mut rows = Vec::new();
    for (row_idx, record) in reader.records().enumerate() {
        let line = row_idx + 2;
        let record = record.map_err(|error| ImportError::Row {
            line,
            message: error.to_string(),
        })?;
        if rows.len() == MAX_IMPORT_ROWS {
            return Err(ImportError::TooManyRows);
        }
        rows.push((line, record.iter().map(str::to_owned).collect()));
    }
    if rows.is_empty() {
        return Err(ImportError::Empty);
    }
    Ok(rows)
}

fn row_error(line: usize, message: impl Into<String>) -> ImportError {
    ImportError::Row {
        line,
        message: message.into(),
    }
}

fn parse_active(line: usize, text: &str) -> Result<bool, ImportError> {
    match text {
        "" | "true" | "yes" | "1" => Ok(true),
        "false" | "no" | "0" => Ok(false),
        other => Err(row_error(
            line,
            format!("active must be true or false, not {other:?}"),
        )),
    }
}

fn check_text(line: usize, field: &str, text: &str, max_chars: usize) -> Result<(), ImportError> {
    if text.is_empty() || text.chars().count() > max_chars || text.chars().any(char::is_control) {
        return Err(row_error(
            line,
            format!("{field} must be 1 to {max_chars} printable characters"),
        ));
    }
    Ok(())
}

/// Parses and checks a staff CSV. `wards` are the site's ward ids; `hash_pin` turns a PIN into
/// its verifier (argon2id in production).
pub fn parse_staff(
    csv_text: &str,
    wards: &BTreeSet<String>,
    hash_pin: impl Fn(&str) -> String,
) -> Result<Vec<StaffUpsert>, ImportError> {
    let mut seen_ids = BTreeSet::new();
    let mut seen_badges = BTreeSet::new();
    let mut staff = Vec::new();
    for (line, fields) in records(csv_text, &STAFF_HEADER)? {
        let [
            staff_id,
            display_name,
            role,
            badge_id,
            home_ward,
            pin,
            active,
        ] = <[String; 7]>::try_from(fields).map_err(|_| row_error(line, "expected 7 fields"))?;
        StaffId::new(&staff_id).map_err(|error| row_error(line, format!("staff_id: {error}")))?;
        WardId::new(&home_ward).map_err(|error| row_error(line, format!("home_ward: {error}")))?;
        check_text(line, "display_name", &display_name, 100)?;
        check_text(line, "badge_id", &badge_id, 64)?;
        if !ROLES.contains(&role.as_str()) {
            return Err(row_error(line, format!("role must be one of {ROLES:?}")));
        }
        if !wards.contains(&home_ward) {
            return Err(row_error(
                line,
                format!("home_ward {home_ward:?} is not a ward of this site"),
            ));
        }
        if !(pin.is_empty()
            || (4..=8).contains(&pin.len()) && pin.bytes().all(|byte| byte.is_ascii_digit()))
        {
            return Err(row_error(
                line,
                "pin must be 4 to 8 digits, or empty to keep the current one",
            ));
        }
        if !seen_ids.insert(staff_id.clone()) || !seen_badges.insert(badge_id.clone()) {
            return Err(row_error(
                line,
                "staff_id or badge_id repeats an earlier row",
            ));
        }
        let active = parse_active(line, &active)?;
        let pin_verifier = (!pin.is_empty()).then(|| hash_pin(&pin));
        staff.push(StaffUpsert {
            staff_id,
            display_name,
            role,
            badge_id,
            home_ward,
            pin_verifier,
            active,
        });
    }
    Ok(staff)
}

/// Parses and checks a device CSV for the site `site_id`.
pub fn parse_devices(
    csv_text: &str,
    site_id: &str,
    wards: &BTreeSet<String>,
) -> Result<Vec<DeviceRecord>, ImportError> {
    let mut seen_ids = BTreeSet::new();
    let mut seen_tags = BTreeSet::new();
    let mut devices = Vec::new();
    for (line, fields) in records(csv_text, &DEVICE_HEADER)? {
        let [device_id, asset_tag, kind, model, home_ward, active] =
            <[String; 6]>::try_from(fields).map_err(|_| row_error(line, "expected 6 fields"))?;
        DeviceId::new(&device_id)
            .map_err(|error| row_error(line, format!("device_id: {error}")))?;
        check_text(line, "asset_tag", &asset_tag, 64)?;
        check_text(line, "model", &model, 100)?;
        if !DEVICE_KINDS.contains(&kind.as_str()) {
            return Err(row_error(
                line,
                format!("kind must be one of {DEVICE_KINDS:?}"),
            ));
        }
        if !wards.contains(&home_ward) {
            return Err(row_error(
                line,
                format!("home_ward {home_ward:?} is not a ward of this site"),
            ));
        }
        if !seen_ids.insert(device_id.clone()) || !seen_tags.insert(asset_tag.clone()) {
            return Err(row_error(
                line,
                "device_id or asset_tag repeats an earlier row",
            ));
        }
        let active = parse_active(line, &active)?;
        devices.push(DeviceRecord {
            device_id,
            site_id: site_id.to_owned(),
            asset_tag,
            kind,
            model,
            home_ward,
            active,
        });
    }
    Ok(devices)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wards() -> BTreeSet<String> {
        ["W-4E".to_owned(), "W-5W".to_owned()].into()
    }

    fn fake_hash(pin: &str) -> String {
        format!("hashed({})", pin.len())
    }

    #[test]
    fn a_good_staff_file_parses_and_pins_are_only_kept_hashed() {
        let csv = "staff_id,display_name,role,badge_id,home_ward,pin,active\n\
                   S-0100, Robin Vale ,nurse,B-9100,W-4E,4821,true\n\
                   S-0101,\"Ash, Jr.\",charge_nurse,B-9101,W-5W,,false\n";
        let staff = parse_staff(csv, &wards(), fake_hash).unwrap();
        assert_eq!(staff.len(), 2);
        assert_eq!(staff[0].display_name, "Robin Vale");
        assert_eq!(staff[0].pin_verifier.as_deref(), Some("hashed(4)"));
        assert_eq!(staff[1].display_name, "Ash, Jr.");
        assert_eq!(staff[1].pin_verifier, None);
        assert!(!staff[1].active);
    }

    #[test]
    fn each_bad_row_is_named_by_its_line_and_rule() {
        let header = "staff_id,display_name,role,badge_id,home_ward,pin,active\n";
        let cases = [
            (
                "S-1,N,surgeon,B-1,W-4E,1234,true",
                "line 2: role must be one of",
            ),
            (
                "S-1,N,nurse,B-1,W-9X,1234,true",
                "line 2: home_ward \"W-9X\" is not a ward",
            ),
            (
                "S-1,N,nurse,B-1,W-4E,12,true",
                "line 2: pin must be 4 to 8 digits",
            ),
            ("S 1,N,nurse,B-1,W-4E,1234,true", "line 2: staff_id:"),
            (
                "S-1,N,nurse,B-1,W-4E,1234,maybe",
                "line 2: active must be true or false",
            ),
            (
                "S-1,N,nurse,B-1,W-4E,1234,true\nS-2,M,nurse,B-1,W-4E,1234,true",
                "line 3: staff_id or badge_id repeats",
            ),
        ];
        for (rows, expected) in cases {
            let error = parse_staff(&format!("{header}{rows}\n"), &wards(), fake_hash).unwrap_err();
            assert!(error.to_string().starts_with(expected), "{rows}: {error}");
        }
        assert!(matches!(
            parse_staff("id,name\n1,2\n", &wards(), fake_hash),
            Err(ImportError::Header { .. })
        ));
        assert_eq!(
            parse_staff(header, &wards(), fake_hash),
            Err(ImportError::Empty)
        );
    }

    #[test]
    fn devices_parse_with_their_site_and_refuse_unknown_kinds() {
        let csv = "device_id,asset_tag,kind,model,home_ward,active\nD-0100,BT-20100,scanner,Scan 2D,W-4E,true\n";
        let devices = parse_devices(csv, "SITE-A", &wards()).unwrap();
        assert_eq!(devices[0].site_id, "SITE-A");
        let bad =
            "device_id,asset_tag,kind,model,home_ward,active\nD-0100,BT-1,toaster,X,W-4E,true\n";
        assert!(
            parse_devices(bad, "SITE-A", &wards())
                .unwrap_err()
                .to_string()
                .contains("kind must be one of")
        );
    }
}
