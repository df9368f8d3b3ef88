//! The site report and the custody CSV for a small scenario whose every figure is known, on
//! every backend.

use baton_core::body::{Body, BreakGlassReason, PersonAuth};
use baton_core::ids::{DeviceId, StaffId, WardId};
use baton_server::report::civil_time::{local_date, utc_text};
use baton_server::storage::{AccountRole, StaffUpsert};
use baton_server::sync::now_ms;
use serde_json::{Value, json};

use crate::dashboard_actions::{get_json, post_json};
use crate::support;
use crate::tablet::{self, Manager, SimTablet, TestServer, check_in, nurse};

const HOUR: u64 = 3_600_000;
const DAY: u64 = 24 * HOUR;

fn check_out_for(device: &str, staff: &str, shift: &str) -> Body {
    Body::CheckOut {
        device: DeviceId::new(device).unwrap(),
        custodian: nurse(staff),
        ward: WardId::new("W-4E").unwrap(),
        shift: Some(shift.to_owned()),
        expected_return_ms: None,
        purpose: None,
        issued_by: None,
    }
}

/// One day of a ward, `base` being the UTC midnight two days ago (the demo site runs day shifts
/// 07:00 to 19:00 UTC and night shifts 19:00 to 07:00, with one hour of grace):
///
/// - base-1h: S-0006 takes D-0008 for the night shift and never returns it (due base+8h);
/// - base+8h: S-0001 takes D-0003 for the day, returns it at base+10h;
/// - base+9h: S-0002 takes D-0004 for the day and hands it to S-0003 at base+20h for the night
///   (due base+32h);
/// - base+21h: S-0004 breaks the glass on D-0005 (due base+34h);
/// - base+22h: S-0001 reports D-0006 missing;
/// - base+23h: S-0005 takes D-0007 for the night (due base+32h).
async fn one_day_of_a_ward(server: &TestServer, manager: &Manager) -> u64 {
    let base = now_ms() / DAY * DAY - 2 * DAY;
    let mut tablet_a = SimTablet::enroll(server, manager, 61).await;
    let events = [
        tablet_a.sign(check_out_for("D-0008", "S-0006", "night"), base - HOUR),
        tablet_a.sign(check_out_for("D-0003", "S-0001", "day"), base + 8 * HOUR),
        tablet_a.sign(check_out_for("D-0004", "S-0002", "day"), base + 9 * HOUR),
        tablet_a.sign(check_in("D-0003", "S-0001"), base + 10 * HOUR),
        tablet_a.sign(
            Body::Transfer {
                device: DeviceId::new("D-0004").unwrap(),
                from: nurse("S-0002"),
                to: nurse("S-0003"),
                ward: WardId::new("W-4E").unwrap(),
                shift: Some("night".to_owned()),
                expected_return_ms: None,
            },
            base + 20 * HOUR,
        ),
        tablet_a.sign(
            Body::BreakGlass {
                device: DeviceId::new("D-0005").unwrap(),
                custodian: nurse("S-0004"),
                ward: WardId::new("W-4E").unwrap(),
                reason: BreakGlassReason::Emergency,
                note: "Crash call, no second nurse".to_owned(),
            },
            base + 21 * HOUR,
        ),
        tablet_a.sign(
            Body::ReportMissing {
                device: DeviceId::new("D-0006").unwrap(),
                reported_by: PersonAuth {
                    staff: StaffId::new("S-0001").unwrap(),
                    method: baton_core::body::AuthMethod::BadgePin,
                },
                note: None,
            },
            base + 22 * HOUR,
        ),
        tablet_a.sign(check_out_for("D-0007", "S-0005", "night"), base + 23 * HOUR),
    ];
    let receipts = tablet_a.push(&events).await;
    assert!(
        receipts
            .iter()
            .all(|receipt| receipt["status"] == "accepted"),
        "{receipts:?}"
    );
    base
}

#[tokio::test]
async fn the_report_counts_a_known_day_exactly() {
    for backend in support::every_backend().await {
        let server = tablet::serve(backend.storage.clone()).await;
        let manager = tablet::sign_in_manager(&server).await;
        let base = one_day_of_a_ward(&server, &manager).await;
        // The missing report is resolved; the overdue and break-glass exceptions stay open.
        let exceptions = get_json(&manager, "/api/v1/dashboard/exceptions").await;
        let missing_key = exceptions["exceptions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|exception| exception["kind"] == "missing")
            .unwrap()["key"]
            .as_str()
            .unwrap()
            .to_owned();
        let (status, _) = post_json(
            &manager,
            &format!("/api/v1/dashboard/exceptions/{missing_key}/resolve"),
            json!({ "note": "Found in the drawer, reported by phone" }),
        )
        .await;
        assert_eq!(status, 200);

        let path = format!(
            "/api/v1/dashboard/report?from_ms={base}&to_ms={}",
            base + DAY
        );
        let report = get_json(&manager, &path).await;
        assert_eq!(report["site_id"], "SITE-DEMO");
        assert_eq!(
            (report["from_ms"].as_u64(), report["to_ms"].as_u64()),
            (Some(base), Some(base + DAY))
        );
        let generated_at = report["generated_at_ms"].as_u64().unwrap();
        assert_eq!(report["handoffs"]["total"], 6);
        assert_eq!(
            report["handoffs"]["by_type"],
            json!({ "check_out": 3, "check_in": 1, "transfer": 1, "break_glass": 1 })
        );
        let day_before = local_date((base - DAY) as i64, 0);
        let day = local_date(base as i64, 0);
        assert_eq!(
            report["handoffs"]["per_shift"],
            json!([
                { "start_ms": base - 5 * HOUR, "label": format!("{day_before} night"), "count": 0 },
                { "start_ms": base + 7 * HOUR, "label": format!("{day} day"), "count": 3 },
                { "start_ms": base + 19 * HOUR, "label": format!("{day} night"), "count": 3 },
            ])
        );
        assert_eq!(report["missing"], 1);
        assert_eq!(report["break_glass"], 1);
        // D-0008, D-0004 (S-0003), D-0005 and D-0007 are overdue now.
        assert_eq!(report["overdue"]["now"], 4);
        let series = report["overdue"]["series"].as_array().unwrap();
        assert_eq!(series.len(), 60);
        for point in series {
            // Only D-0008 is overdue within the day, from base+8h on.
            let expected = u64::from(point["at_ms"].as_u64().unwrap() > base + 8 * HOUR);
            assert_eq!(point["count"].as_u64(), Some(expected), "{point}");
        }
        assert_eq!(series[19]["at_ms"].as_u64(), Some(base + 8 * HOUR));
        let exceptions = &report["exceptions"];
        assert_eq!(exceptions["opened"], 3);
        assert_eq!(exceptions["resolved"], 1);
        let by_kind = exceptions["by_kind"].as_object().unwrap();
        assert_eq!(
            by_kind.len(),
            baton_core::exceptions::ExceptionKind::ALL.len(),
            "every kind is listed"
        );
        let found: Vec<(&str, u64)> = by_kind
            .iter()
            .filter(|(_, count)| count.as_u64() != Some(0))
            .map(|(kind, count)| (kind.as_str(), count.as_u64().unwrap()))
            .collect();
        assert_eq!(
            found,
            [("break_glass_used", 1), ("missing", 1), ("overdue", 1)]
        );
        assert_eq!(
            exceptions["age_ms"],
            json!({ "median": generated_at - (base + 21 * HOUR), "p95": generated_at - (base + 8 * HOUR) })
        );
        // Revocations are created when the events arrive, today: none in that day.
        assert_eq!(report["revocation"]["custody_ends"], 0);
        assert_eq!(report["revocation"]["confirmed_share"], Value::Null);
        let controls: Vec<&str> = report["controls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|control| control["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            controls,
            [
                "PR.AA-01", "PR.AA-05", "PR.AA-06", "PR.PS-04", "DE.CM-03", "NHI1", "NHI7"
            ]
        );
        assert!(
            report["controls"]
                .as_array()
                .unwrap()
                .iter()
                .all(|control| {
                    ["framework", "title", "evidence"]
                        .iter()
                        .all(|field| !control[field].as_str().unwrap().is_empty())
                })
        );

        // The last hour: the check-in and the transfer revoked two custodies, both confirmed
        // at once by the built-in connector; no handoff happened in it.
        let now = now_ms();
        let recent = get_json(
            &manager,
            &format!(
                "/api/v1/dashboard/report?from_ms={}&to_ms={}",
                now - HOUR,
                now + 60_000
            ),
        )
        .await;
        assert_eq!(recent["handoffs"]["total"], 0);
        assert_eq!(
            recent["revocation"],
            json!({
                "custody_ends": 2, "confirmed": 2, "confirmed_share": 1.0, "failed": 0, "pending": 0,
                "confirm_ms": { "median": 0, "p95": 0, "samples": 2 }
            })
        );
    }
}

#[tokio::test]
async fn the_report_refuses_bad_ranges_and_strangers_and_defaults_to_the_last_week() {
    let backend = support::sqlite().await;
    let server = tablet::serve(backend.storage.clone()).await;
    let manager = tablet::sign_in_manager(&server).await;
    let auditor = tablet::sign_in_new_account(&server, "auditor-r", AccountRole::Auditor).await;
    let report = get_json(&auditor, "/api/v1/dashboard/report").await;
    let (from_ms, to_ms) = (
        report["from_ms"].as_u64().unwrap(),
        report["to_ms"].as_u64().unwrap(),
    );
    assert_eq!(to_ms - from_ms, 7 * DAY);
    assert_eq!(report["handoffs"]["total"], 0);
    assert_eq!(
        report["exceptions"]["age_ms"],
        json!({ "median": null, "p95": null })
    );
    for query in [
        "from_ms=2000&to_ms=1000",
        "from_ms=1000&to_ms=1000",
        &format!("from_ms=0&to_ms={}", 366 * DAY + 1),
    ] {
        for route in ["report", "custodies.csv"] {
            let response = manager
                .client
                .get(format!(
                    "{}/api/v1/dashboard/{route}?{query}",
                    server.base_url
                ))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 400, "{route}?{query}");
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"]["code"], "bad_range");
        }
    }
    for route in ["report", "custodies.csv"] {
        let anonymous = reqwest::get(format!("{}/api/v1/dashboard/{route}", server.base_url))
            .await
            .unwrap();
        assert_eq!(anonymous.status(), 401, "{route}");
    }
}

#[tokio::test]
async fn auditors_download_the_custodies_of_a_range_as_injection_safe_csv() {
    for backend in support::every_backend().await {
        let server = tablet::serve(backend.storage.clone()).await;
        let manager = tablet::sign_in_manager(&server).await;
        // A display name imported from a staff file that a spreadsheet would run as a formula.
        let staff = backend.storage.list_staff("SITE-DEMO").await.unwrap();
        let s5 = staff
            .iter()
            .find(|member| member.staff_id == "S-0005")
            .unwrap();
        backend
            .storage
            .upsert_staff(
                "SITE-DEMO",
                &[StaffUpsert {
                    staff_id: s5.staff_id.clone(),
                    display_name: "=HYPERLINK(\"http://evil\")".to_owned(),
                    role: s5.role.clone(),
                    badge_id: s5.badge_id.clone(),
                    home_ward: s5.home_ward.clone(),
                    pin_verifier: None,
                    active: true,
                }],
            )
            .await
            .unwrap();
        let base = one_day_of_a_ward(&server, &manager).await;
        let auditor = tablet::sign_in_new_account(&server, "auditor-c", AccountRole::Auditor).await;
        let range = format!("from_ms={base}&to_ms={}", base + DAY);
        let response = auditor
            .client
            .get(format!(
                "{}/api/v1/dashboard/custodies.csv?{range}",
                server.base_url
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"],
            "text/csv; charset=utf-8"
        );
        let disposition = response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            disposition.starts_with("attachment; filename=\"custodies-SITE-DEMO-"),
            "{disposition}"
        );
        let text = response.text().await.unwrap();

        let name = |staff_id: &str| {
            staff
                .iter()
                .find(|member| member.staff_id == staff_id)
                .unwrap()
                .display_name
                .clone()
        };
        let line = |device: &str,
                    tag: &str,
                    staff_id: &str,
                    display: &str,
                    start: u64,
                    end: Option<u64>,
                    ended: &str| {
            format!(
                "{device},{tag},{staff_id},{display},{start},{},{},{},{ended}",
                end.map(|end| end.to_string()).unwrap_or_default(),
                utc_text(start),
                end.map(utc_text).unwrap_or_default(),
            )
        };
        let expected = [
            "device_id,asset_tag,staff_id,display_name,start_ms,end_ms,start_utc,end_utc,ended_by"
                .to_owned(),
            line(
                "D-0003",
                "BT-10003",
                "S-0001",
                &name("S-0001"),
                base + 8 * HOUR,
                Some(base + 10 * HOUR),
                "checked_in",
            ),
            line(
                "D-0004",
                "BT-10004",
                "S-0002",
                &name("S-0002"),
                base + 9 * HOUR,
                Some(base + 20 * HOUR),
                "transferred",
            ),
            line(
                "D-0004",
                "BT-10004",
                "S-0003",
                &name("S-0003"),
                base + 20 * HOUR,
                None,
                "",
            ),
            line(
                "D-0005",
                "BT-10005",
                "S-0004",
                &name("S-0004"),
                base + 21 * HOUR,
                None,
                "",
            ),
            line(
                "D-0007",
                "BT-10007",
                "S-0005",
                "\"'=HYPERLINK(\"\"http://evil\"\")\"",
                base + 23 * HOUR,
                None,
                "",
            ),
            line(
                "D-0008",
                "BT-10008",
                "S-0006",
                &name("S-0006"),
                base - HOUR,
                None,
                "",
            ),
        ];
        let lines: Vec<&str> = text.split("\r\n").filter(|line| !line.is_empty()).collect();
        assert_eq!(lines, expected);

        let one_device = auditor
            .client
            .get(format!(
                "{}/api/v1/dashboard/custodies.csv?{range}&device_id=D-0004",
                server.base_url
            ))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(
            one_device
                .split("\r\n")
                .filter(|line| !line.is_empty())
                .count(),
            3
        );
        // A range ending before the day began holds only the custody open across midnight.
        let before = auditor
            .client
            .get(format!(
                "{}/api/v1/dashboard/custodies.csv?from_ms={}&to_ms={base}",
                server.base_url,
                base - DAY
            ))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let lines: Vec<&str> = before
            .split("\r\n")
            .filter(|line| !line.is_empty())
            .collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[1].starts_with("D-0008,"), "{before}");
        let unknown = auditor
            .client
            .get(format!(
                "{}/api/v1/dashboard/custodies.csv?device_id=D-9999",
                server.base_url
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(unknown.status(), 404);
        let body: Value = unknown.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unknown_device");
    }
}
