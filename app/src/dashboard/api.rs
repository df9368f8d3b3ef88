//! The answers of the dashboard API (docs/PROTOCOL.md §2.5, §2.6), as the dashboard reads them.
//! Fields the dashboard does not show are not declared; serde ignores them.

use std::collections::BTreeMap;

use baton_core::body::Body;
use baton_core::exceptions::{ExceptionKind, Severity};
use baton_core::state::{CustodyInterval, DeviceStatus};
use serde::{Deserialize, Serialize};

/// A signed-in account (`GET /api/v1/auth/session`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Session {
    pub username: String,
    pub role: String,
    pub site_id: Option<String>,
    pub csrf_token: String,
}

impl Session {
    /// Auditors read; only managers and admins change the record.
    pub fn may_act(&self) -> bool {
        self.role != "auditor"
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SignIn<'a> {
    pub username: &'a str,
    pub password: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DeviceRow {
    pub device_id: String,
    pub asset_tag: String,
    pub kind: String,
    pub model: String,
    pub home_ward: String,
    pub status: DeviceStatus,
    pub custodians: Vec<String>,
    pub since_ms: Option<u64>,
    pub expected_return_ms: Option<u64>,
    /// The event that opened the custody.
    pub opened_by: Option<String>,
    pub access_open_after_return: bool,
    /// The ward named by the device's latest event.
    #[serde(default)]
    pub last_ward: Option<String>,
    /// The tablet that signed the opening event.
    #[serde(default)]
    pub recorded_by: Option<RecordedBy>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RecordedBy {
    pub tablet_id: String,
    pub label: String,
    pub last_sync_ms: Option<i64>,
}

/// One page of the board (`GET /api/v1/dashboard/devices`), with the whole site's counts.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DevicesPage {
    pub now_ms: u64,
    /// Devices the filter keeps, over every page.
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
    pub counts: BoardCounts,
    /// The site's home wards: the ward filter's choices.
    pub wards: Vec<String>,
    pub devices: Vec<DeviceRow>,
}

/// How many of the site's devices are in each status or carry each flag, whatever the filter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct BoardCounts {
    pub available: usize,
    pub in_use: usize,
    pub overdue: usize,
    pub missing: usize,
    pub quarantined: usize,
    pub access_open: usize,
    pub away: usize,
}

/// A ward's shift change (`GET /api/v1/dashboard/shift-change`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ShiftChangePage {
    pub ward: String,
    pub from_ms: u64,
    pub to_ms: u64,
    pub recent_shift_starts: Vec<ShiftStart>,
    pub devices: Vec<ShiftChangeRow>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ShiftStart {
    pub shift: String,
    pub at_ms: u64,
}

/// One device over the window: who held it at each end, the handoffs between, the outcome
/// (`not_handed_over`, `handed_over`, `returned`, `checked_out`, `used_and_returned`, `idle`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ShiftChangeRow {
    pub device: String,
    pub asset_tag: Option<String>,
    pub held_at_start: Vec<String>,
    pub held_at_end: Vec<String>,
    pub handoffs: Vec<WindowHandoff>,
    pub outcome: String,
}

/// A custody opened (`ended` null) or ended (`ended`: the reason) inside the window.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct WindowHandoff {
    pub at_ms: u64,
    pub staff: String,
    pub ended: Option<String>,
}

/// A manager's acknowledgement or resolution of an exception.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Review {
    pub state: String,
    pub by: String,
    pub at_ms: u64,
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ExceptionItem {
    pub key: String,
    pub device: String,
    pub at_ms: u64,
    pub kind: ExceptionKind,
    pub evidence: Vec<String>,
    pub severity: Severity,
    pub people: Vec<String>,
    pub signer: Option<String>,
    pub detail: String,
    pub review: Option<Review>,
    #[serde(default)]
    pub history: Vec<Review>,
}

impl ExceptionItem {
    pub fn is_resolved(&self) -> bool {
        self.review
            .as_ref()
            .is_some_and(|review| review.state == "resolved")
    }

    pub fn is_acknowledged(&self) -> bool {
        self.review
            .as_ref()
            .is_some_and(|review| review.state == "acknowledged")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ExceptionsPage {
    pub now_ms: u64,
    /// Exceptions listed over every page.
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
    pub exceptions: Vec<ExceptionItem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TabletRow {
    pub tablet_id: String,
    pub ward_id: String,
    pub public_key: String,
    pub label: String,
    pub enrolled_at_ms: i64,
    pub revoked_from_ms: Option<i64>,
    pub last_sync_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TabletsPage {
    pub tablets: Vec<TabletRow>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StaffRow {
    pub staff_id: String,
    pub display_name: String,
    pub role: String,
    pub home_ward: String,
    pub active: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StaffPage {
    pub staff: Vec<StaffRow>,
}

/// One event of a device's history (`GET /api/v1/dashboard/devices/{id}/timeline`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TimelineRow {
    pub event_id: String,
    pub hlc_ms: u64,
    pub wall_ms: Option<u64>,
    pub signer: String,
    pub tablet_id: Option<String>,
    pub tablet_label: Option<String>,
    pub body_type: String,
    pub body: Option<Body>,
    pub voided_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TimelinePage {
    pub device_id: String,
    pub entries: Vec<TimelineRow>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PersonCustody {
    pub device_id: String,
    pub interval: CustodyInterval,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PersonPage {
    pub staff_id: String,
    pub display_name: String,
    pub role: String,
    pub active: bool,
    pub holds: Vec<String>,
    pub custodies: Vec<PersonCustody>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Delivery {
    pub connector: String,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub updated_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RevocationRow {
    pub revocation_id: i64,
    pub device_id: String,
    pub staff_id: String,
    pub reason: String,
    pub created_at_ms: i64,
    pub deliveries: Vec<Delivery>,
}

impl RevocationRow {
    /// Every connector confirmed: the person's access is closed. A delivery cancelled because
    /// an admin disabled its connector no longer counts.
    pub fn confirmed(&self) -> bool {
        self.deliveries
            .iter()
            .all(|delivery| delivery.status == "confirmed" || delivery.status == "cancelled")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RevocationsPage {
    pub revocations: Vec<RevocationRow>,
}

/// A manager's action on a device, answered with the authority event it produced.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ActionOutcome {
    pub event_id: String,
    pub device_id: String,
    pub body_type: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Percentiles {
    pub median: Option<u64>,
    pub p95: Option<u64>,
    #[serde(default)]
    pub samples: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ShiftCount {
    pub start_ms: u64,
    pub label: String,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Handoffs {
    pub total: u64,
    pub by_type: BTreeMap<String, u64>,
    pub per_shift: Vec<ShiftCount>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RevocationFigures {
    pub custody_ends: u64,
    pub confirmed: u64,
    pub confirmed_share: Option<f64>,
    pub failed: u64,
    pub pending: u64,
    pub confirm_ms: Percentiles,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OverduePoint {
    pub at_ms: u64,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Overdue {
    pub now: u64,
    pub series: Vec<OverduePoint>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ExceptionFigures {
    pub by_kind: BTreeMap<String, u64>,
    pub opened: u64,
    pub resolved: u64,
    pub age_ms: Percentiles,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Control {
    pub id: String,
    pub framework: String,
    pub title: String,
    pub evidence: String,
}

/// The figures of a period (`GET /api/v1/dashboard/report`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Report {
    pub site_id: String,
    pub from_ms: u64,
    pub to_ms: u64,
    pub generated_at_ms: u64,
    pub handoffs: Handoffs,
    pub revocation: RevocationFigures,
    pub overdue: Overdue,
    pub missing: u64,
    pub break_glass: u64,
    pub exceptions: ExceptionFigures,
    pub controls: Vec<Control>,
}

/// A new enrollment code (`POST /api/v1/enrollment-codes`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct EnrollmentCode {
    pub code: String,
    pub ward_id: String,
    pub expires_at_ms: u64,
    /// The code as an SVG QR code, generated by the server.
    pub qr_svg: String,
}

/// What a CSV import changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct ImportCounts {
    pub created: u64,
    pub updated: u64,
}

/// The sites an admin administers (`GET /api/v1/admin/sites`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AdminSites {
    pub site_ids: Vec<String>,
}

/// A dashboard account of a site, as an admin sees it (never a password or its hash).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AccountRow {
    pub username: String,
    pub role: String,
    pub disabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AccountsPage {
    pub site_id: String,
    pub accounts: Vec<AccountRow>,
}

/// A new account (`POST …/accounts`), for the request.
#[derive(Debug, Clone, Serialize)]
pub struct NewAccount<'a> {
    pub username: &'a str,
    pub role: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<&'a str>,
}

/// The answer to a new account or a password reset: the generated password, shown once.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PasswordAnswer {
    #[serde(default)]
    pub password: Option<String>,
}

/// A site's configuration as an admin reads it (`GET …/config`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SiteConfigPage {
    pub site_id: String,
    pub config: crate::tablet::roster::SiteConfig,
}

/// A revocation connector as the admin API lists it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ConnectorRow {
    pub name: String,
    pub kind: String,
    #[serde(default)]
    pub url: Option<String>,
    /// `file` (the server's connectors file, read-only) or `api`.
    pub source: String,
    pub enabled: bool,
    #[serde(default)]
    pub secret_set: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ConnectorsPage {
    pub connectors: Vec<ConnectorRow>,
    pub max_connectors: u32,
}

/// The kinds of connector an admin may add (PROTOCOL.md §5.3 to §5.5).
pub const CONNECTOR_KINDS: [&str; 4] =
    ["webhook", "backchannel_logout", "caep", "oauth_revocation"];

/// The connector form as typed; `body` makes the JSON of the connectors file (§5.6) with only
/// the kind's own fields, so that the server never refuses a field the form did not show.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectorForm {
    pub kind: String,
    pub name: String,
    pub url: String,
    pub secret: String,
    pub audience: String,
    pub client_id: String,
    pub client_secret: String,
    pub auth_method: String,
}

impl ConnectorForm {
    pub fn body(&self) -> serde_json::Value {
        let mut body = serde_json::json!({
            "kind": self.kind,
            "name": self.name.trim(),
            "url": self.url.trim(),
        });
        match self.kind.as_str() {
            "webhook" => body["secret"] = self.secret.clone().into(),
            "backchannel_logout" | "caep" => body["audience"] = self.audience.trim().into(),
            "oauth_revocation" => {
                body["client_id"] = self.client_id.trim().into();
                body["client_secret"] = self.client_secret.clone().into();
                body["auth_method"] = self.auth_method.clone().into();
            }
            _ => {}
        }
        body
    }
}

/// The note sent with an acknowledgement, a resolution or a device action.
#[derive(Debug, Clone, Serialize)]
pub struct NoteRequest<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ward: Option<&'a str>,
}

/// Paths of the dashboard API, built in one place so every page encodes them alike.
pub mod paths {
    pub const SESSION: &str = "/api/v1/auth/session";
    pub const SIGN_IN: &str = "/api/v1/auth/sign-in";
    pub const SIGN_OUT: &str = "/api/v1/auth/sign-out";
    pub const DEVICES: &str = "/api/v1/dashboard/devices";
    pub const TABLETS: &str = "/api/v1/dashboard/tablets";
    pub const STAFF: &str = "/api/v1/dashboard/staff";
    pub const REVOCATIONS: &str = "/api/v1/dashboard/revocations";
    pub const STREAM: &str = "/api/v1/dashboard/stream";
    pub const LEDGER_EXPORT: &str = "/api/v1/ledger/export";

    /// Rows per page of the exceptions queue.
    pub const EXCEPTIONS_PAGE: usize = 50;

    pub fn exceptions(include_resolved: bool, offset: usize) -> String {
        format!(
            "/api/v1/dashboard/exceptions?include_resolved={include_resolved}&offset={offset}&limit={EXCEPTIONS_PAGE}"
        )
    }

    pub fn exception_action(key: &str, action: &str) -> String {
        format!("/api/v1/dashboard/exceptions/{key}/{action}")
    }

    /// The board's row of one device.
    pub fn board_device(device_id: &str) -> String {
        format!(
            "{DEVICES}?device={}",
            crate::dashboard::board::encode_query_value(device_id)
        )
    }

    /// The site's home wards (and counts), with no rows to speak of.
    pub const BOARD_WARDS: &str = "/api/v1/dashboard/devices?limit=1";

    /// A ward's shift change: the latest one, or the hour each side of `at_ms`.
    pub fn shift_change(ward: &str, around_ms: Option<u64>) -> String {
        let ward = crate::dashboard::board::encode_query_value(ward);
        match around_ms {
            Some(at_ms) => format!(
                "/api/v1/dashboard/shift-change?ward={ward}&from_ms={}&to_ms={}",
                at_ms.saturating_sub(3_600_000),
                at_ms + 3_600_000
            ),
            None => format!("/api/v1/dashboard/shift-change?ward={ward}"),
        }
    }

    pub fn timeline(device_id: &str) -> String {
        format!("/api/v1/dashboard/devices/{device_id}/timeline")
    }

    pub fn device_action(device_id: &str, action: &str) -> String {
        format!("/api/v1/dashboard/devices/{device_id}/{action}")
    }

    pub fn person(staff_id: &str) -> String {
        format!("/api/v1/dashboard/staff/{staff_id}")
    }

    pub fn decommission(tablet_id: &str) -> String {
        format!("/api/v1/tablets/{tablet_id}/decommission")
    }

    pub fn report(from_ms: u64, to_ms: u64) -> String {
        format!("/api/v1/dashboard/report?from_ms={from_ms}&to_ms={to_ms}")
    }

    pub const ENROLLMENT_CODES: &str = "/api/v1/enrollment-codes";
    pub const STAFF_CSV: &str = "/api/v1/admin/staff.csv";
    pub const DEVICES_CSV: &str = "/api/v1/admin/devices.csv";

    pub const ADMIN_SITES: &str = "/api/v1/admin/sites";

    /// A site's accounts; site ids and usernames are identifiers that need no escaping.
    pub fn site_accounts(site_id: &str) -> String {
        format!("/api/v1/admin/sites/{site_id}/accounts")
    }

    /// `disable`, `enable` or `password` of one account.
    pub fn site_account_action(site_id: &str, username: &str, action: &str) -> String {
        format!("/api/v1/admin/sites/{site_id}/accounts/{username}/{action}")
    }

    pub fn site_config(site_id: &str) -> String {
        format!("/api/v1/admin/sites/{site_id}/config")
    }

    pub fn site_connectors(site_id: &str) -> String {
        format!("/api/v1/admin/sites/{site_id}/connectors")
    }

    /// One connector (`PUT` replaces it), or `…/disable`, `…/enable` with `action`.
    pub fn site_connector(site_id: &str, name: &str, action: Option<&str>) -> String {
        match action {
            Some(action) => format!("/api/v1/admin/sites/{site_id}/connectors/{name}/{action}"),
            None => format!("/api/v1/admin/sites/{site_id}/connectors/{name}"),
        }
    }

    pub fn staff_activation(staff_id: &str, active: bool) -> String {
        let action = if active { "activate" } else { "deactivate" };
        format!("/api/v1/admin/staff/{staff_id}/{action}")
    }

    /// The audit bundle of what the server recorded in a period (PROTOCOL.md §4.2a).
    pub fn ledger_export_range(from_ms: u64, to_ms: u64) -> String {
        format!("{LEDGER_EXPORT}?from_ms={from_ms}&to_ms={to_ms}")
    }

    /// The audit bundle of one device's events (a selection, PROTOCOL.md §4.2a).
    pub fn ledger_export_device(device_id: &str) -> String {
        // Device ids are identifiers (PROTOCOL.md §1.2): nothing in them needs escaping.
        format!("{LEDGER_EXPORT}?device_id={device_id}")
    }

    pub fn custodies_csv(from_ms: u64, to_ms: u64) -> String {
        format!("/api/v1/dashboard/custodies.csv?from_ms={from_ms}&to_ms={to_ms}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_board_answer_reads_into_typed_rows() {
        let text = r#"{"site_id":"SITE-DEMO","now_ms":5,"total":1,"offset":0,"limit":100,
            "counts":{"available":0,"in_use":1,"overdue":0,"missing":0,"quarantined":0,
            "access_open":0,"away":0},"wards":["W-4N"],"devices":[{"device_id":"D-0001",
            "asset_tag":"BT-10001","kind":"tablet","model":"Tab 10","home_ward":"W-4N",
            "status":"in_use","custodians":["S-0001"],"since_ms":1,"expected_return_ms":9,
            "opened_by":"ab","access_open_after_return":false}]}"#;
        let page: DevicesPage = serde_json::from_str(text).unwrap();
        assert_eq!(page.devices[0].status, DeviceStatus::InUse);
        assert_eq!(page.devices[0].custodians, ["S-0001"]);
        assert_eq!(page.counts.in_use, 1);
        assert_eq!(page.wards, ["W-4N"]);
    }

    #[test]
    fn an_exception_with_its_review_reads_and_says_its_state() {
        let text = r#"{"key":"00ff","device":"D-0001","at_ms":3,"kind":"overlapping_custody",
            "evidence":["aa","bb"],"severity":"critical","people":["S-0001","S-0002"],
            "signer":null,"detail":"two custodians","review":{"state":"acknowledged",
            "by":"manager","at_ms":4,"note":null},"history":[]}"#;
        let item: ExceptionItem = serde_json::from_str(text).unwrap();
        assert_eq!(item.kind, ExceptionKind::OverlappingCustody);
        assert!(item.is_acknowledged());
        assert!(!item.is_resolved());
    }

    #[test]
    fn a_connector_form_sends_only_its_kinds_fields() {
        let mut form = ConnectorForm {
            kind: "caep".to_owned(),
            name: " idp ".to_owned(),
            url: "https://idp.example/caep".to_owned(),
            secret: "left over from another kind".to_owned(),
            audience: "baton".to_owned(),
            ..ConnectorForm::default()
        };
        assert_eq!(
            form.body(),
            serde_json::json!({ "kind": "caep", "name": "idp", "url": "https://idp.example/caep", "audience": "baton" })
        );
        form.kind = "oauth_revocation".to_owned();
        form.client_id = "baton".to_owned();
        form.client_secret = "s3cret".to_owned();
        form.auth_method = "client_secret_basic".to_owned();
        let body = form.body();
        assert_eq!(body["client_secret"], "s3cret");
        assert!(body.get("audience").is_none() && body.get("secret").is_none());
    }

    #[test]
    fn an_account_list_reads_without_any_password() {
        let page: AccountsPage = serde_json::from_str(
            r#"{"site_id": "SITE-DEMO", "accounts": [{"username": "nadia", "role": "manager",
                "site_id": "SITE-DEMO", "disabled": true, "disabled_at_ms": 5}]}"#,
        )
        .unwrap();
        assert!(page.accounts[0].disabled);
        let created: PasswordAnswer =
            serde_json::from_str(r#"{"account": {}, "password": "abcd-efgh-jkmn-pqrs"}"#).unwrap();
        assert_eq!(created.password.as_deref(), Some("abcd-efgh-jkmn-pqrs"));
    }

    #[test]
    fn only_auditors_are_read_only() {
        let session = |role: &str| Session {
            username: "u".into(),
            role: role.into(),
            site_id: Some("SITE-DEMO".into()),
            csrf_token: "t".into(),
        };
        assert!(session("manager").may_act());
        assert!(session("admin").may_act());
        assert!(!session("auditor").may_act());
    }

    #[test]
    fn a_revocation_is_confirmed_only_when_every_connector_confirmed() {
        let delivery = |status: &str| Delivery {
            connector: "webhook".into(),
            status: status.into(),
            attempts: 1,
            last_error: None,
            updated_at_ms: 0,
        };
        let mut row = RevocationRow {
            revocation_id: 1,
            device_id: "D-0001".into(),
            staff_id: "S-0001".into(),
            reason: "checked_in".into(),
            created_at_ms: 0,
            deliveries: vec![delivery("confirmed"), delivery("failed")],
        };
        assert!(!row.confirmed());
        row.deliveries.pop();
        assert!(row.confirmed());
    }
}
