//! Registry administration and the dashboard's views, over real HTTP on every backend.

use reqwest::Method;
use serde_json::Value;

use crate::support;
use crate::tablet::{self, Manager, SimTablet, check_in, check_out};

async fn post_csv(manager: &Manager, path: &str, csv: &str) -> reqwest::Response {
    manager
        .client
        .post(format!("{}{path}", manager.base_url))
        .header("x-csrf-token", &manager.csrf_token)
        .header("content-type", "text/csv")
        .body(csv.to_owned())
        .send()
        .await
        .unwrap()
}

async fn get_json(manager: &Manager, path: &str) -> Value {
    let response = manager
        .client
        .get(format!("{}{path}", manager.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

async fn roster(tablet: &SimTablet) -> Value {
    tablet
        .request(Method::GET, "/api/v1/sync/roster", Vec::new())
        .await
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn imported_and_deactivated_staff_reach_the_tablets_roster() {
    for backend in support::every_backend().await {
        let server = tablet::serve(backend.storage.clone()).await;
        let manager = tablet::sign_in_manager(&server).await;
        let tablet_a = SimTablet::enroll(&server, &manager, 40).await;
        let before = roster(&tablet_a).await;

        let csv = "staff_id,display_name,role,badge_id,home_ward,pin,active\n\
                   S-0100,Robin Vale,nurse,B-9100,W-4E,482193,true\n\
                   S-0001,Avery Alder,charge_nurse,B-20001,W-4E,,true\n";
        let response = post_csv(&manager, "/api/v1/admin/staff.csv", csv).await;
        assert_eq!(response.status(), 200);
        let counts: Value = response.json().await.unwrap();
        assert_eq!(
            (counts["created"].as_u64(), counts["updated"].as_u64()),
            (Some(1), Some(1))
        );

        let response = manager
            .client
            .post(format!(
                "{}/api/v1/admin/staff/S-0002/deactivate",
                server.base_url
            ))
            .header("x-csrf-token", &manager.csrf_token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);

        let after = roster(&tablet_a).await;
        assert_ne!(
            before["version"], after["version"],
            "the roster version must change"
        );
        let staff = after["staff"].as_array().unwrap();
        assert_eq!(staff.len(), 31);
        let new_person = staff
            .iter()
            .find(|member| member["staff_id"] == "S-0100")
            .unwrap();
        assert!(
            new_person["pin_verifier"]
                .as_str()
                .unwrap()
                .starts_with("$argon2id$")
        );
        assert!(
            !new_person.to_string().contains("482193"),
            "the PIN must never be sent"
        );
        let departed = staff
            .iter()
            .find(|member| member["staff_id"] == "S-0002")
            .unwrap();
        assert_eq!(departed["active"], false);
        // An updated person without a PIN in the file keeps the old verifier.
        let kept = staff
            .iter()
            .find(|member| member["staff_id"] == "S-0001")
            .unwrap();
        let old = before["staff"]
            .as_array()
            .unwrap()
            .iter()
            .find(|member| member["staff_id"] == "S-0001")
            .unwrap();
        assert_eq!(kept["pin_verifier"], old["pin_verifier"]);
        // A pull announces the new version, so the tablet knows to fetch it.
        let pull: Value = tablet_a
            .request(Method::GET, "/api/v1/sync/pull", Vec::new())
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(pull["roster_version"], after["version"]);
    }
}

#[tokio::test]
async fn a_bad_or_conflicting_file_is_refused_whole_with_the_line_that_broke_it() {
    for backend in support::every_backend().await {
        let server = tablet::serve(backend.storage.clone()).await;
        let manager = tablet::sign_in_manager(&server).await;
        let before = backend.storage.summary().await.unwrap();

        let bad = "staff_id,display_name,role,badge_id,home_ward,pin,active\n\
                   S-0200,Ok Person,nurse,B-9200,W-4E,1234,true\n\
                   S-0201,Bad Ward,nurse,B-9201,W-NOPE,1234,true\n";
        let response = post_csv(&manager, "/api/v1/admin/staff.csv", bad).await;
        assert_eq!(response.status(), 400);
        let error: Value = response.json().await.unwrap();
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("line 3: home_ward"),
            "{error}"
        );

        // Badge B-20003 already belongs to S-0003: the whole file is refused.
        let clash = "staff_id,display_name,role,badge_id,home_ward,pin,active\n\
                     S-0202,New Person,nurse,B-9202,W-4E,1234,true\n\
                     S-0203,Clash,nurse,B-20003,W-4E,1234,true\n";
        let response = post_csv(&manager, "/api/v1/admin/staff.csv", clash).await;
        assert_eq!(response.status(), 409);
        assert_eq!(
            backend.storage.summary().await.unwrap(),
            before,
            "nothing half-imported"
        );

        let devices = "device_id,asset_tag,kind,model,home_ward,active\nD-0100,BT-20100,scanner,Scan 2D,W-5W,true\n";
        let response = post_csv(&manager, "/api/v1/admin/devices.csv", devices).await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            backend.storage.summary().await.unwrap().devices,
            before.devices + 1
        );

        // Without the CSRF token nothing happens.
        let response = manager
            .client
            .post(format!("{}/api/v1/admin/devices.csv", server.base_url))
            .body(devices)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403);
    }
}

#[tokio::test]
async fn the_timeline_and_person_views_show_who_signed_what() {
    for backend in support::every_backend().await {
        let server = tablet::serve(backend.storage.clone()).await;
        let manager = tablet::sign_in_manager(&server).await;
        let mut tablet_a = SimTablet::enroll(&server, &manager, 41).await;
        let start = baton_server::sync::now_ms() - 60_000;
        let events = [
            tablet_a.sign(check_out("D-0012", "S-0007"), start),
            tablet_a.sign(check_in("D-0012", "S-0007"), start + 1_000),
            tablet_a.sign(check_out("D-0012", "S-0008"), start + 2_000),
        ];
        tablet_a.push(&events).await;

        let timeline = get_json(&manager, "/api/v1/dashboard/devices/D-0012/timeline").await;
        let entries = timeline["entries"].as_array().unwrap();
        let types: Vec<&str> = entries
            .iter()
            .map(|entry| entry["body_type"].as_str().unwrap())
            .collect();
        assert_eq!(types, ["check_out", "check_in", "check_out"]);
        assert_eq!(entries[0]["tablet_id"], tablet_a.tablet_id.as_str());
        assert_eq!(entries[0]["tablet_label"], "tablet 41");
        assert_eq!(entries[0]["body"]["custodian"]["staff"], "S-0007");
        assert_eq!(
            timeline["custody"]["intervals"].as_array().unwrap().len(),
            2
        );

        let person = get_json(&manager, "/api/v1/dashboard/staff/S-0008").await;
        assert_eq!(person["holds"], serde_json::json!(["D-0012"]));
        let previous = get_json(&manager, "/api/v1/dashboard/staff/S-0007").await;
        assert_eq!(previous["holds"], serde_json::json!([]));
        assert_eq!(previous["custodies"].as_array().unwrap().len(), 1);

        // The people list names everyone and never carries a badge or a PIN verifier.
        let people = get_json(&manager, "/api/v1/dashboard/staff").await;
        let people = people["staff"].as_array().unwrap();
        let s0007 = people
            .iter()
            .find(|person| person["staff_id"] == "S-0007")
            .unwrap();
        assert_eq!(s0007["display_name"], previous["display_name"]);
        assert!(s0007.get("badge_id").is_none());
        assert!(s0007.get("pin_verifier").is_none());

        let missing = manager
            .client
            .get(format!(
                "{}/api/v1/dashboard/devices/D-9999/timeline",
                server.base_url
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(missing.status(), 404);
    }
}

#[tokio::test]
async fn the_live_stream_announces_an_ingested_event_within_a_second_or_two() {
    for backend in support::every_backend().await {
        let server = tablet::serve(backend.storage.clone()).await;
        let manager = tablet::sign_in_manager(&server).await;
        let mut tablet_a = SimTablet::enroll(&server, &manager, 42).await;
        let mut stream = manager
            .client
            .get(format!("{}/api/v1/dashboard/stream", server.base_url))
            .send()
            .await
            .unwrap();
        assert_eq!(stream.status(), 200);
        assert!(
            stream.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );

        let event = tablet_a.sign(
            check_out("D-0013", "S-0009"),
            baton_server::sync::now_ms() - 1_000,
        );
        tablet_a.push(std::slice::from_ref(&event)).await;

        let mut received = String::new();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        while !received.contains(&event.id().to_hex()) {
            let chunk = tokio::time::timeout_at(deadline, stream.chunk())
                .await
                .expect("no event within 10 s")
                .unwrap();
            received.push_str(&String::from_utf8_lossy(
                &chunk.expect("the stream stays open"),
            ));
        }
        assert!(received.contains("event: custody"), "{received}");
        assert!(received.contains("\"device\":\"D-0013\""), "{received}");
    }
}
