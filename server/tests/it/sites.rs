//! Site ↔ site over real HTTP: two sites on one server, each with an enrolled tablet that pushes
//! and pulls. Every pull, roster and revocation list a tablet gets holds its own site's data
//! and nothing of the other's.

use baton_core::body::{AuthMethod, Body, PersonAuth};
use baton_core::event::SignedEvent;
use baton_core::ids::{DeviceId, StaffId, WardId};
use baton_server::seed;
use baton_server::storage::{
    AccountRecord, AccountRole, DeviceRecord, SiteSetup, StaffRecord, WardRecord,
};
use baton_server::sync::now_ms;
use reqwest::Method;
use serde_json::Value;

use crate::support;
use crate::tablet::{self, SimTablet, check_out};

const NORTH_SITE_ID: &str = "SITE-NORTH";

fn north_site(manager_password: &str) -> SiteSetup {
    SiteSetup {
        site_id: NORTH_SITE_ID.to_owned(),
        name: "North hospital".to_owned(),
        config_json: baton_server::site_config::SiteConfig::typical_ward().to_json(),
        wards: vec![WardRecord {
            ward_id: "W-N1".to_owned(),
            site_id: NORTH_SITE_ID.to_owned(),
            name: "North ward 1".to_owned(),
        }],
        staff: vec![StaffRecord {
            staff_id: "N-0001".to_owned(),
            site_id: NORTH_SITE_ID.to_owned(),
            display_name: "North Nurse".to_owned(),
            role: "nurse".to_owned(),
            badge_id: "NB-0001".to_owned(),
            home_ward: "W-N1".to_owned(),
            pin_verifier: seed::hash_secret("482913").unwrap(),
            active: true,
        }],
        devices: vec![DeviceRecord {
            device_id: "N-D-0001".to_owned(),
            site_id: NORTH_SITE_ID.to_owned(),
            asset_tag: "NT-1".to_owned(),
            kind: "tablet".to_owned(),
            model: "North Tab".to_owned(),
            home_ward: "W-N1".to_owned(),
            active: true,
        }],
        accounts: vec![AccountRecord {
            username: "north-manager".to_owned(),
            password_hash: seed::hash_secret(manager_password).unwrap(),
            role: AccountRole::Manager,
            site_id: Some(NORTH_SITE_ID.to_owned()),
        }],
    }
}

fn north_check_out() -> Body {
    Body::CheckOut {
        device: DeviceId::new("N-D-0001").unwrap(),
        custodian: PersonAuth {
            staff: StaffId::new("N-0001").unwrap(),
            method: AuthMethod::BadgePin,
        },
        ward: WardId::new("W-N1").unwrap(),
        shift: None,
        expected_return_ms: None,
        purpose: None,
        issued_by: None,
    }
}

async fn get_json(tablet: &SimTablet, path: &str) -> Value {
    let response = tablet.request(Method::GET, path, Vec::new()).await;
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

fn ids(values: &Value, key: &str) -> Vec<String> {
    values
        .as_array()
        .unwrap()
        .iter()
        .map(|value| value[key].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn two_sites_tablets_each_pull_only_their_own_sites_events_roster_and_revocations() {
    for backend in support::every_backend().await {
        let server = tablet::serve(backend.storage.clone()).await;
        let north_password = seed::random_password();
        server
            .state
            .storage
            .import_site(&north_site(&north_password))
            .await
            .unwrap();
        let demo_manager = tablet::sign_in_manager(&server).await;
        let north_manager =
            tablet::sign_in_at(&server.base_url, "north-manager", &north_password).await;
        let mut demo_tablet = SimTablet::enroll(&server, &demo_manager, 71).await;
        let mut north_tablet =
            SimTablet::enroll_at_ward(&server.base_url, &north_manager, "W-N1", 72).await;
        assert_eq!(north_tablet.enrollment["site_id"], NORTH_SITE_ID);

        // Each site's tablet hands a device out and back, so there are events and a
        // revocation on both sides.
        let start = now_ms() - 10_000;
        let demo_events: Vec<SignedEvent> = vec![
            demo_tablet.sign(check_out("D-0001", "S-0005"), start),
            demo_tablet.sign(tablet::check_in("D-0001", "S-0005"), start + 1_000),
        ];
        let north_events: Vec<SignedEvent> = vec![north_tablet.sign(north_check_out(), start)];
        for receipt in demo_tablet.push(&demo_events).await {
            assert_eq!(receipt["status"], "accepted", "{receipt}");
        }
        for receipt in north_tablet.push(&north_events).await {
            assert_eq!(receipt["status"], "accepted", "{receipt}");
        }

        // Pulls: exactly the tablet's own site's events. `server_seq` counts across the
        // server, so a cursor moves past the other site's numbers without seeing their events.
        assert_eq!(demo_tablet.pull_all(1).await, demo_events);
        assert_eq!(north_tablet.pull_all(1).await, north_events);
        let north_page = get_json(&north_tablet, "/api/v1/sync/pull?after=0").await;
        assert_eq!(north_page["events"].as_array().unwrap().len(), 1);
        let north_seq = north_page["events"][0]["server_seq"].as_i64().unwrap();
        // The demo site goes on after the north event: the north cursor still finds nothing.
        let later = demo_tablet.sign(check_out("D-0002", "S-0006"), start + 2_000);
        assert_eq!(
            demo_tablet.push(std::slice::from_ref(&later)).await[0]["status"],
            "accepted"
        );
        let past = get_json(
            &north_tablet,
            &format!("/api/v1/sync/pull?after={north_seq}"),
        )
        .await;
        assert_eq!(past["events"], serde_json::json!([]), "{past}");
        assert_eq!(past["more"], false);
        let demo_all = demo_tablet.pull_all(500).await;
        assert_eq!(demo_all.len(), 3);
        assert!(!demo_all.contains(&north_events[0]));

        // Rosters: the own site's people, devices and wards only.
        let north_roster = get_json(&north_tablet, "/api/v1/sync/roster").await;
        assert_eq!(north_roster["site_id"], NORTH_SITE_ID);
        assert_eq!(ids(&north_roster["staff"], "staff_id"), ["N-0001"]);
        assert_eq!(ids(&north_roster["devices"], "device_id"), ["N-D-0001"]);
        assert_eq!(ids(&north_roster["wards"], "ward_id"), ["W-N1"]);
        let demo_roster = get_json(&demo_tablet, "/api/v1/sync/roster").await;
        assert_eq!(demo_roster["site_id"], seed::DEMO_SITE_ID);
        let demo_staff = ids(&demo_roster["staff"], "staff_id");
        assert!(!demo_staff.is_empty());
        assert!(!demo_staff.contains(&"N-0001".to_owned()), "{demo_staff:?}");
        assert!(!ids(&demo_roster["devices"], "device_id").contains(&"N-D-0001".to_owned()));

        // Revocations: the demo site's check-in revoked S-0005's access; the north tablet
        // does not see it.
        let demo_revocations = get_json(&demo_tablet, "/api/v1/sync/revocations").await;
        let north_revocations = get_json(&north_tablet, "/api/v1/sync/revocations").await;
        let demo_text = demo_revocations.to_string();
        assert!(demo_text.contains("S-0005"), "{demo_text}");
        let north_text = north_revocations.to_string();
        assert!(!north_text.contains("S-0005"), "{north_text}");
        assert!(!north_text.contains("D-0001"), "{north_text}");
    }
}
