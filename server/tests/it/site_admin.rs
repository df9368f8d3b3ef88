//! A site's accounts and configuration administered through the admin API (docs/PROTOCOL.md
//! §2.6a), on SQLite and PostgreSQL: an admin creates a manager who signs in; disabling an
//! account ends its sessions at once and refuses its sign-in; a password reset ends the
//! account's sessions; a configuration out of bounds is refused field by field and changes
//! nothing, and a valid one is ledgered with the old and new values and reaches the tablets'
//! roster and the server's fold; nobody but an admin of the site reaches any of it.

use baton_server::storage::{AccountRecord, AccountRole, SiteSetup, WardRecord};
use reqwest::Method;
use serde_json::{Value, json};

use crate::support;
use crate::tablet::{self, Manager, SimTablet, TestServer, check_out};

const SITE: &str = "SITE-DEMO";
const OTHER_SITE: &str = "SITE-NORTH";
const ACCOUNTS: &str = "/api/v1/admin/sites/SITE-DEMO/accounts";
const CONFIG: &str = "/api/v1/admin/sites/SITE-DEMO/config";

/// An admin of every site, as `baton create-account --role admin` makes one.
async fn global_admin(server: &TestServer) -> Manager {
    let password = baton_server::seed::random_password();
    server
        .state
        .storage
        .create_account(&AccountRecord {
            username: "root".to_owned(),
            password_hash: baton_server::seed::hash_secret(&password).unwrap(),
            role: AccountRole::Admin,
            site_id: None,
        })
        .await
        .unwrap();
    tablet::sign_in_at(&server.base_url, "root", &password).await
}

/// Sends a JSON request with the session's CSRF token; the status and the body as JSON.
async fn send(manager: &Manager, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = manager
        .client
        .request(
            method.parse().unwrap(),
            format!("{}{path}", manager.base_url),
        )
        .header("x-csrf-token", &manager.csrf_token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|_| json!({ "text": text }));
    (status, body)
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

/// Whether the session still answers.
async fn session_is_live(manager: &Manager) -> bool {
    let (status, _) = send(manager, "GET", "/api/v1/auth/session", None).await;
    status == 200
}

/// The status and error code of a sign-in.
async fn try_sign_in(server: &TestServer, username: &str, password: &str) -> (u16, String) {
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/auth/sign-in", server.base_url))
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    (status, code(&body).to_owned())
}

/// The site's governance actions in the ledger, oldest first.
async fn governance_actions(server: &TestServer, site_id: &str) -> Vec<Value> {
    server
        .state
        .storage
        .ledger_entries(site_id, 0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|row| {
            let entry: Value = serde_json::from_str(&row.entry_json).unwrap();
            (entry["kind"] == "governance").then(|| {
                let mut action = entry["action"].clone();
                action["by"] = entry["by"].clone();
                action
            })
        })
        .collect()
}

async fn ledger_text(server: &TestServer, site_id: &str) -> String {
    server
        .state
        .storage
        .ledger_entries(site_id, 0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.entry_json)
        .collect::<Vec<_>>()
        .join("\n")
}

fn usernames(list: &Value) -> Vec<String> {
    list["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|account| account["username"].as_str().unwrap().to_owned())
        .collect()
}

/// A second site with one ward, for the admin of another site.
fn other_site() -> SiteSetup {
    SiteSetup {
        site_id: OTHER_SITE.to_owned(),
        name: "North hospital".to_owned(),
        config_json: baton_server::site_config::SiteConfig::typical_ward().to_json(),
        wards: vec![WardRecord {
            ward_id: "W-N1".to_owned(),
            site_id: OTHER_SITE.to_owned(),
            name: "North 1".to_owned(),
        }],
        staff: Vec::new(),
        devices: Vec::new(),
        accounts: Vec::new(),
    }
}

#[tokio::test]
async fn an_admin_creates_a_manager_who_signs_in_and_bad_accounts_are_refused_whole() {
    for backend in support::every_backend().await {
        let server = tablet::serve(backend.storage.clone()).await;
        let admin = global_admin(&server).await;
        let (status, before) = send(&admin, "GET", ACCOUNTS, None).await;
        assert_eq!(status, 200, "{before}");
        assert_eq!(usernames(&before), ["manager"]);
        let ledger_before = governance_actions(&server, SITE).await.len();

        // Refusals, each with its code; nothing is created by any of them.
        for (body, expected_status, expected_code) in [
            (
                json!({ "username": "two words", "role": "manager", "password": "long enough pw" }),
                422,
                "bad_username",
            ),
            (
                json!({ "username": "", "role": "manager" }),
                422,
                "bad_username",
            ),
            (
                json!({ "username": "nadia", "role": "manager", "password": "short" }),
                422,
                "password_too_short",
            ),
            (
                json!({ "username": "nadia", "role": "manager", "password": "x".repeat(1025) }),
                422,
                "password_too_long",
            ),
            (
                json!({ "username": "nadia", "role": "superuser" }),
                422,
                "bad_role",
            ),
            (
                json!({ "username": "manager", "role": "manager" }),
                409,
                "username_taken",
            ),
            (
                json!({ "username": "nadia", "role": "manager", "site_id": "SITE-NORTH" }),
                422,
                "unprocessable_body",
            ),
        ] {
            let (status, answer) = send(&admin, "POST", ACCOUNTS, Some(body.clone())).await;
            assert_eq!(
                (status, code(&answer)),
                (expected_status, expected_code),
                "{body}: {answer}"
            );
            assert!(!answer.to_string().contains("long enough pw"), "{answer}");
        }
        let (_, unchanged) = send(&admin, "GET", ACCOUNTS, None).await;
        assert_eq!(usernames(&unchanged), ["manager"]);
        assert_eq!(governance_actions(&server, SITE).await.len(), ledger_before);

        // A manager with a password the admin chose: they sign in with it.
        let chosen = "ward four east 2026";
        let (status, created) = send(
            &admin,
            "POST",
            ACCOUNTS,
            Some(json!({ "username": " nadia.w ", "role": "manager", "password": chosen })),
        )
        .await;
        assert_eq!(status, 201, "{created}");
        assert_eq!(created["account"]["username"], "nadia.w");
        assert_eq!(created["account"]["role"], "manager");
        assert_eq!(created["account"]["site_id"], SITE);
        assert!(created.get("password").is_none(), "{created}");
        let nadia = tablet::sign_in_at(&server.base_url, "nadia.w", chosen).await;
        let (status, session) = send(&nadia, "GET", "/api/v1/auth/session", None).await;
        assert_eq!(status, 200);
        assert_eq!(session["role"], "manager");
        assert_eq!(session["site_id"], SITE);
        // The new manager works the site's board like any manager.
        let (status, board) = send(&nadia, "GET", "/api/v1/dashboard/devices", None).await;
        assert_eq!(status, 200, "{board}");

        // An auditor with a generated password, shown once: it signs in, read only.
        let (status, created) = send(
            &admin,
            "POST",
            ACCOUNTS,
            Some(json!({ "username": "audit-1", "role": "auditor" })),
        )
        .await;
        assert_eq!(status, 201, "{created}");
        let generated = created["password"].as_str().unwrap().to_owned();
        assert!(generated.chars().count() >= baton_server::accounts::MIN_PASSWORD_CHARS);
        let auditor = tablet::sign_in_at(&server.base_url, "audit-1", &generated).await;
        let (status, refused) = send(
            &auditor,
            "POST",
            "/api/v1/dashboard/devices/D-0001/quarantine",
            Some(json!({ "note": "auditor trying" })),
        )
        .await;
        assert_eq!((status, code(&refused)), (403, "forbidden"));

        // The list never shows a password or its hash; the ledger names the accounts and who
        // made them, never a password.
        let (_, listed) = send(&admin, "GET", ACCOUNTS, None).await;
        assert_eq!(usernames(&listed), ["audit-1", "manager", "nadia.w"]);
        let listed_text = listed.to_string();
        assert!(!listed_text.contains("argon2"), "{listed_text}");
        assert!(!listed_text.contains("password"), "{listed_text}");
        assert!(
            listed["accounts"]
                .as_array()
                .unwrap()
                .iter()
                .all(|account| account["disabled"] == false)
        );
        let actions = governance_actions(&server, SITE).await;
        let created_actions: Vec<&Value> = actions
            .iter()
            .filter(|action| action["type"] == "account_created")
            .collect();
        assert_eq!(created_actions.len(), 2, "{actions:?}");
        assert_eq!(created_actions[0]["username"], "nadia.w");
        assert_eq!(created_actions[0]["role"], "manager");
        assert_eq!(created_actions[0]["by"], "root");
        assert_eq!(created_actions[1]["password_generated"], true);
        let ledger = ledger_text(&server, SITE).await;
        assert!(
            !ledger.contains(chosen) && !ledger.contains(&generated) && !ledger.contains("argon2")
        );
    }
}

#[tokio::test]
async fn disabling_an_account_ends_its_sessions_at_once_and_refuses_its_sign_in() {
    for backend in support::every_backend().await {
        let server = tablet::serve(backend.storage.clone()).await;
        let admin = global_admin(&server).await;
        let password = "night shift lead 7";
        let (status, _) = send(
            &admin,
            "POST",
            ACCOUNTS,
            Some(json!({ "username": "omar", "role": "manager", "password": password })),
        )
        .await;
        assert_eq!(status, 201);
        let omar_desk = tablet::sign_in_at(&server.base_url, "omar", password).await;
        let omar_phone = tablet::sign_in_at(&server.base_url, "omar", password).await;
        assert!(session_is_live(&omar_desk).await && session_is_live(&omar_phone).await);

        let (status, disabled) =
            send(&admin, "POST", &format!("{ACCOUNTS}/omar/disable"), None).await;
        assert_eq!(status, 200, "{disabled}");
        assert_eq!(disabled["disabled"], true);
        assert_eq!(disabled["changed"], true);
        assert_eq!(disabled["sessions_ended"], 2);
        // Both sessions are refused from the next request on, and so is the sign-in, exactly as
        // for an unknown account.
        assert!(!session_is_live(&omar_desk).await);
        let (status, refused) = send(
            &omar_phone,
            "POST",
            "/api/v1/enrollment-codes",
            Some(json!({ "ward_id": "W-4E" })),
        )
        .await;
        assert_eq!((status, code(&refused)), (401, "not_signed_in"));
        assert_eq!(
            try_sign_in(&server, "omar", password).await,
            (401, "bad_credentials".to_owned())
        );
        // Disabling again changes nothing and ledgers nothing.
        let ledger_size = governance_actions(&server, SITE).await.len();
        let (status, again) = send(&admin, "POST", &format!("{ACCOUNTS}/omar/disable"), None).await;
        assert_eq!((status, &again["changed"]), (200, &json!(false)));
        assert_eq!(governance_actions(&server, SITE).await.len(), ledger_size);
        // Its username stays taken.
        let (status, taken) = send(
            &admin,
            "POST",
            ACCOUNTS,
            Some(json!({ "username": "omar", "role": "auditor" })),
        )
        .await;
        assert_eq!((status, code(&taken)), (409, "username_taken"));

        // Enabled again, the same password signs in.
        let (status, enabled) =
            send(&admin, "POST", &format!("{ACCOUNTS}/omar/enable"), None).await;
        assert_eq!((status, &enabled["disabled"]), (200, &json!(false)));
        assert_eq!(try_sign_in(&server, "omar", password).await.0, 200);

        // An admin cannot disable their own account, nor an account the site lacks.
        let (_, created) = send(
            &admin,
            "POST",
            ACCOUNTS,
            Some(json!({ "username": "site-admin", "role": "admin" })),
        )
        .await;
        let site_admin = tablet::sign_in_at(
            &server.base_url,
            "site-admin",
            created["password"].as_str().unwrap(),
        )
        .await;
        let (status, own) = send(
            &site_admin,
            "POST",
            &format!("{ACCOUNTS}/site-admin/disable"),
            None,
        )
        .await;
        assert_eq!((status, code(&own)), (409, "own_account"));
        assert!(session_is_live(&site_admin).await);
        let (status, unknown) =
            send(&admin, "POST", &format!("{ACCOUNTS}/nobody/disable"), None).await;
        assert_eq!((status, code(&unknown)), (404, "unknown_account"));
        // The admin of every site is no account of the site's: a site admin cannot reach it.
        let (status, root) = send(
            &site_admin,
            "POST",
            &format!("{ACCOUNTS}/root/disable"),
            None,
        )
        .await;
        assert_eq!((status, code(&root)), (404, "unknown_account"));
        assert!(session_is_live(&admin).await);

        let actions = governance_actions(&server, SITE).await;
        let switched: Vec<(String, Value)> = actions
            .iter()
            .filter(|action| {
                action["type"] == "account_disabled" || action["type"] == "account_enabled"
            })
            .map(|action| {
                (
                    action["type"].as_str().unwrap().to_owned(),
                    action["sessions_ended"].clone(),
                )
            })
            .collect();
        assert_eq!(
            switched,
            [
                ("account_disabled".to_owned(), json!(2)),
                ("account_enabled".to_owned(), Value::Null),
            ]
        );
    }
}

#[tokio::test]
async fn a_password_reset_ends_the_accounts_sessions_and_only_the_new_password_signs_in() {
    for backend in support::every_backend().await {
        let server = tablet::serve(backend.storage.clone()).await;
        let admin = global_admin(&server).await;
        let old_password = server.credentials.manager_password.clone();
        let manager = tablet::sign_in_manager(&server).await;
        assert!(session_is_live(&manager).await);

        // A password too short is refused and changes nothing.
        let path = format!("{ACCOUNTS}/manager/password");
        let (status, refused) =
            send(&admin, "POST", &path, Some(json!({ "password": "short" }))).await;
        assert_eq!((status, code(&refused)), (422, "password_too_short"));
        assert!(session_is_live(&manager).await);

        let (status, reset) = send(&admin, "POST", &path, Some(json!({}))).await;
        assert_eq!(status, 200, "{reset}");
        assert_eq!(reset["sessions_ended"], 1);
        let new_password = reset["password"].as_str().unwrap().to_owned();
        assert!(!session_is_live(&manager).await);
        assert_eq!(
            try_sign_in(&server, "manager", &old_password).await,
            (401, "bad_credentials".to_owned())
        );
        assert_eq!(try_sign_in(&server, "manager", &new_password).await.0, 200);
        let (status, unknown) = send(
            &admin,
            "POST",
            &format!("{ACCOUNTS}/nobody/password"),
            Some(json!({})),
        )
        .await;
        assert_eq!((status, code(&unknown)), (404, "unknown_account"));

        // An admin resetting their own password keeps the session they do it from, and ends
        // their others.
        let (_, created) = send(
            &admin,
            "POST",
            ACCOUNTS,
            Some(json!({ "username": "site-admin", "role": "admin" })),
        )
        .await;
        let first_password = created["password"].as_str().unwrap().to_owned();
        let here = tablet::sign_in_at(&server.base_url, "site-admin", &first_password).await;
        let elsewhere = tablet::sign_in_at(&server.base_url, "site-admin", &first_password).await;
        let chosen = "a long chosen passphrase";
        let (status, own) = send(
            &here,
            "POST",
            &format!("{ACCOUNTS}/site-admin/password"),
            Some(json!({ "password": chosen })),
        )
        .await;
        assert_eq!((status, &own["sessions_ended"]), (200, &json!(1)), "{own}");
        assert!(own.get("password").is_none());
        assert!(session_is_live(&here).await);
        assert!(!session_is_live(&elsewhere).await);
        assert_eq!(try_sign_in(&server, "site-admin", chosen).await.0, 200);

        let actions = governance_actions(&server, SITE).await;
        let resets: Vec<&Value> = actions
            .iter()
            .filter(|action| action["type"] == "account_password_reset")
            .collect();
        assert_eq!(resets.len(), 2);
        assert_eq!(resets[0]["username"], "manager");
        assert_eq!(resets[0]["password_generated"], true);
        let ledger = ledger_text(&server, SITE).await;
        assert!(!ledger.contains(&new_password) && !ledger.contains(chosen));
    }
}

/// The demo site's configuration as the admin API answers it.
async fn config_of(admin: &Manager) -> Value {
    let (status, body) = send(admin, "GET", CONFIG, None).await;
    assert_eq!(status, 200, "{body}");
    body["config"].clone()
}

async fn roster(tablet: &SimTablet) -> Value {
    let response = tablet
        .request(Method::GET, "/api/v1/sync/roster", Vec::new())
        .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_configuration_out_of_bounds_is_refused_field_by_field_and_changes_nothing() {
    for backend in support::every_backend().await {
        let server = tablet::serve(backend.storage.clone()).await;
        let admin = global_admin(&server).await;
        let manager = tablet::sign_in_manager(&server).await;
        let tablet = SimTablet::enroll(&server, &manager, 81).await;
        let config_before = config_of(&admin).await;
        let roster_before = roster(&tablet).await;
        let ledger_before = server.state.storage.ledger_size(SITE).await.unwrap();

        let mut bad = config_before.clone();
        bad["inactivity_lockout_minutes"] = json!(0);
        bad["rules"]["grace_minutes"] = json!(-5);
        bad["rules"]["shifts"][1]["duration_minutes"] = json!(2_000);
        let (status, refused) = send(&admin, "PUT", CONFIG, Some(bad)).await;
        assert_eq!(
            (status, code(&refused)),
            (422, "bad_site_config"),
            "{refused}"
        );
        let fields: Vec<&str> = refused["error"]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|problem| problem["field"].as_str().unwrap())
            .collect();
        assert_eq!(
            fields,
            [
                "rules.shifts[1].duration_minutes",
                "rules.grace_minutes",
                "inactivity_lockout_minutes"
            ]
        );
        let message = refused["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("inactivity_lockout_minutes: must be between 1 and 60 minutes"),
            "{message}"
        );

        // A lockout of more than an hour, a field the configuration lacks, a missing field, a
        // string for a number: each refused.
        for (change, expected_field) in [
            (
                json!({ "inactivity_lockout_minutes": 61 }),
                "inactivity_lockout_minutes",
            ),
            (json!({ "rules.max_clock_skew_ms": 100 }), ""),
            (json!({ "inactivity_lockout_minutes": "5" }), ""),
        ] {
            let mut body = config_before.clone();
            for (key, value) in change.as_object().unwrap() {
                body[key] = value.clone();
            }
            let (status, refused) = send(&admin, "PUT", CONFIG, Some(body)).await;
            assert_eq!(
                (status, code(&refused)),
                (422, "bad_site_config"),
                "{refused}"
            );
            assert_eq!(
                refused["error"]["fields"][0]["field"], expected_field,
                "{refused}"
            );
        }
        let mut missing = config_before.clone();
        missing["rules"]
            .as_object_mut()
            .unwrap()
            .remove("grace_minutes");
        let (status, refused) = send(&admin, "PUT", CONFIG, Some(missing)).await;
        assert_eq!((status, code(&refused)), (422, "bad_site_config"));
        assert!(
            refused["error"]["message"]
                .as_str()
                .unwrap()
                .contains("grace_minutes")
        );

        // Nothing changed: the stored configuration, the ledger, the tablet's roster.
        assert_eq!(config_of(&admin).await, config_before);
        assert_eq!(
            server.state.storage.ledger_size(SITE).await.unwrap(),
            ledger_before
        );
        assert_eq!(roster(&tablet).await["version"], roster_before["version"]);
    }
}

/// The expected return of a device on the board.
async fn expected_return_ms(manager: &Manager, device_id: &str) -> u64 {
    let (status, board) = send(manager, "GET", "/api/v1/dashboard/devices", None).await;
    assert_eq!(status, 200);
    board["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|device| device["device_id"] == device_id)
        .unwrap()["expected_return_ms"]
        .as_u64()
        .unwrap()
}

#[tokio::test]
async fn a_valid_configuration_is_ledgered_and_reaches_the_tablets_roster_and_the_board() {
    for backend in support::every_backend().await {
        let server = tablet::serve(backend.storage.clone()).await;
        let admin = global_admin(&server).await;
        let manager = tablet::sign_in_manager(&server).await;
        let mut tablet = SimTablet::enroll(&server, &manager, 82).await;
        let start = baton_server::sync::now_ms() - 60_000;
        let events = [tablet.sign(check_out("D-0001", "S-0005"), start)];
        let receipts = tablet.push(&events).await;
        assert_eq!(receipts[0]["status"], "accepted", "{receipts:?}");
        let due_before = expected_return_ms(&manager, "D-0001").await;
        let roster_before = roster(&tablet).await;
        assert_eq!(
            roster_before["site_config"]["inactivity_lockout_minutes"],
            5
        );

        let before = config_of(&admin).await;
        let mut changed = before.clone();
        changed["inactivity_lockout_minutes"] = json!(15);
        let grace = before["rules"]["grace_minutes"].as_u64().unwrap();
        changed["rules"]["grace_minutes"] = json!(grace + 30);
        let (status, answer) = send(&admin, "PUT", CONFIG, Some(changed.clone())).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["changed"], true);
        assert_eq!(config_of(&admin).await, changed);

        // Ledgered once, with the old and the new configuration and who changed it.
        let actions = governance_actions(&server, SITE).await;
        let config_changes: Vec<&Value> = actions
            .iter()
            .filter(|action| action["type"] == "site_config_changed")
            .collect();
        assert_eq!(config_changes.len(), 1);
        assert_eq!(config_changes[0]["previous"], before);
        assert_eq!(config_changes[0]["config"], changed);
        assert_eq!(config_changes[0]["by"], "root");

        // The tablet's next pull names a new roster version, and the roster carries the change.
        let roster_after = roster(&tablet).await;
        assert_ne!(roster_after["version"], roster_before["version"]);
        assert_eq!(roster_after["site_config"], changed);
        let pull = tablet
            .request(
                Method::GET,
                "/api/v1/sync/pull?after=0&limit=10",
                Vec::new(),
            )
            .await;
        assert_eq!(pull.status(), 200);
        let pull: Value = pull.json().await.unwrap();
        assert_eq!(pull["roster_version"], roster_after["version"]);
        // The server folds with the new rules: the custody is due 30 minutes later.
        assert_eq!(
            expected_return_ms(&manager, "D-0001").await,
            due_before + 30 * 60_000
        );

        // The same configuration again changes nothing and ledgers nothing.
        let (status, again) = send(&admin, "PUT", CONFIG, Some(changed)).await;
        assert_eq!((status, &again["changed"]), (200, &json!(false)));
        let after_again = governance_actions(&server, SITE).await;
        assert_eq!(after_again.len(), actions.len());
    }
}

#[tokio::test]
async fn nobody_but_an_admin_of_the_site_reaches_its_accounts_and_configuration() {
    for backend in support::every_backend().await {
        let server = tablet::serve(backend.storage.clone()).await;
        server
            .state
            .storage
            .import_site(&other_site())
            .await
            .unwrap();
        let admin = global_admin(&server).await;
        let manager = tablet::sign_in_manager(&server).await;
        let auditor = tablet::sign_in_new_account(&server, "auditor", AccountRole::Auditor).await;
        let tablet = SimTablet::enroll(&server, &manager, 83).await;
        // An admin of the other site, made by the admin of every site from the API.
        let (status, created) = send(
            &admin,
            "POST",
            "/api/v1/admin/sites/SITE-NORTH/accounts",
            Some(json!({ "username": "north-admin", "role": "admin" })),
        )
        .await;
        assert_eq!(status, 201, "{created}");
        assert_eq!(created["account"]["site_id"], OTHER_SITE);
        let north_admin = tablet::sign_in_at(
            &server.base_url,
            "north-admin",
            created["password"].as_str().unwrap(),
        )
        .await;
        let (_, sites) = send(&north_admin, "GET", "/api/v1/admin/sites", None).await;
        assert_eq!(sites["site_ids"], json!([OTHER_SITE]));
        let (_, sites) = send(&admin, "GET", "/api/v1/admin/sites", None).await;
        assert_eq!(sites["site_ids"], json!([SITE, OTHER_SITE]));

        let config_before = config_of(&admin).await;
        let mut config_change = config_before.clone();
        config_change["inactivity_lockout_minutes"] = json!(30);
        let new_account =
            json!({ "username": "intruder", "role": "admin", "password": "a long password!" });
        let requests: Vec<(&str, String, Option<Value>)> = vec![
            ("GET", "/api/v1/admin/sites".to_owned(), None),
            ("GET", ACCOUNTS.to_owned(), None),
            ("POST", ACCOUNTS.to_owned(), Some(new_account)),
            ("POST", format!("{ACCOUNTS}/manager/disable"), None),
            ("POST", format!("{ACCOUNTS}/manager/enable"), None),
            (
                "POST",
                format!("{ACCOUNTS}/manager/password"),
                Some(json!({})),
            ),
            ("GET", CONFIG.to_owned(), None),
            ("PUT", CONFIG.to_owned(), Some(config_change)),
            (
                "GET",
                "/api/v1/admin/sites/SITE-DEMO/connectors".to_owned(),
                None,
            ),
        ];
        let ledger_before = server.state.storage.ledger_size(SITE).await.unwrap();
        let anonymous = reqwest::Client::new();
        for (method, path, body) in &requests {
            let context = format!("{method} {path}");
            for (who, caller) in [("manager", &manager), ("auditor", &auditor)] {
                let (status, refused) = send(caller, method, path, body.clone()).await;
                assert_eq!(
                    (status, code(&refused)),
                    (403, "forbidden"),
                    "{context} as {who}: {refused}"
                );
            }
            if path != "/api/v1/admin/sites" {
                let (status, refused) = send(&north_admin, method, path, body.clone()).await;
                assert_eq!(
                    (status, code(&refused)),
                    (403, "other_site"),
                    "{context}: {refused}"
                );
            }
            let mut request = anonymous.request(
                method.parse().unwrap(),
                format!("{}{path}", server.base_url),
            );
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 401, "{context} anonymous");
            let body_bytes = body
                .as_ref()
                .map(|body| serde_json::to_vec(body).unwrap())
                .unwrap_or_default();
            let response = tablet
                .request(method.parse().unwrap(), path, body_bytes)
                .await;
            assert_eq!(response.status(), 401, "{context} as the tablet");
            let refused: Value = response.json().await.unwrap();
            assert_eq!(code(&refused), "not_signed_in");
        }
        // Nothing changed: the accounts, the configuration, the ledger; the manager still works.
        assert_eq!(
            server.state.storage.ledger_size(SITE).await.unwrap(),
            ledger_before
        );
        assert_eq!(config_of(&admin).await, config_before);
        let (_, listed) = send(&admin, "GET", ACCOUNTS, None).await;
        assert_eq!(usernames(&listed), ["auditor", "manager"]);
        assert!(session_is_live(&manager).await);
        // The other site's admin does administer their own site.
        let (status, own) = send(
            &north_admin,
            "GET",
            "/api/v1/admin/sites/SITE-NORTH/config",
            None,
        )
        .await;
        assert_eq!(status, 200, "{own}");
        // An unknown site is not found for the admin of every site.
        let (status, unknown) = send(
            &admin,
            "GET",
            "/api/v1/admin/sites/SITE-NOWHERE/accounts",
            None,
        )
        .await;
        assert_eq!((status, code(&unknown)), (404, "unknown_site"));
    }
}
