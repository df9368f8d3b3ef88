//! "No one in": every route of the router (`server/src/http/mod.rs`) called by every kind of
//! caller, with the exact answer each gets; the CSRF check on every state-changing session
//! route; and the security headers on every one of those answers.
//!
//! `ROUTES` is the one list both are checked against: `the_table_lists_every_route_of_the_router`
//! reads the routes out of `mod.rs` and fails when the router has a route the table lacks, or
//! the table names one the router no longer has.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU8, Ordering};

use baton_core::ledger::{LedgerHash, TreeHead};
use baton_core::request::{
    HEADER_KEY, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP, RequestToSign,
};
use baton_server::http::static_files::StaticFiles;
use baton_server::seed;
use baton_server::storage::{AccountRecord, AccountRole, DeviceRecord, SiteSetup, WardRecord};
use baton_server::sync::now_ms;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::support;
use crate::tablet::{self, SimTablet, TestServer, check_out};

/// The router's source, read at compile time: the guard test compares its routes with `ROUTES`.
const ROUTER_SOURCE: &str = include_str!("../../src/http/mod.rs");

/// The metrics scraper's bearer token in these tests.
const METRICS_TOKEN: &str = "scrape-token";

/// Who calls. The columns of `Case::expect`, in this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Caller {
    Anonymous,
    /// The demo site's enrolled tablet, every request signed.
    Tablet,
    /// An auditor account of the demo site.
    Auditor,
    /// The manager of another site, signed in with a valid session.
    OtherSiteManager,
    /// The demo site's manager.
    Manager,
    /// An admin account: not bound to any site.
    Admin,
}

const CALLERS: [Caller; 6] = [
    Caller::Anonymous,
    Caller::Tablet,
    Caller::Auditor,
    Caller::OtherSiteManager,
    Caller::Manager,
    Caller::Admin,
];

/// The order the callers are sent each case: the site's manager last, so that its success also
/// shows that the refusals before it changed nothing (a quarantine that had already happened
/// would be refused as `already_quarantined`).
const SEND_ORDER: [Caller; 6] = [
    Caller::Anonymous,
    Caller::Tablet,
    Caller::Auditor,
    Caller::OtherSiteManager,
    Caller::Admin,
    Caller::Manager,
];

fn column(caller: Caller) -> usize {
    CALLERS.iter().position(|known| *known == caller).unwrap()
}

/// What guards a route, as the server implements it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Guard {
    /// Anyone: health, metadata, public keys, enrollment, sign-in, the app's files.
    Public,
    /// A dashboard session (`ManagerSession`); state changes also need the CSRF token.
    Session,
    /// A request signed by an enrolled tablet (`SignedByTablet`).
    Tablet,
    /// Either of the two (`LedgerReader`).
    TabletOrSession,
    /// The operator's metrics bearer token.
    MetricsToken,
    /// A resource server's HTTP Basic secret.
    IntrospectionSecret,
    /// An app's custody-bound Baton token (`Authorization: Bearer`), which none of the callers
    /// here presents: every one is refused alike.
    CustodyToken,
}

#[derive(Clone, Copy, Debug)]
enum Expect {
    /// This success status.
    Answer(u16),
    /// This error status with this stable code, in the `{"error": {"code", "message"}}` shape.
    Refusal(u16, &'static str),
}

const fn ok(status: u16) -> Expect {
    Expect::Answer(status)
}

const fn no(status: u16, code: &'static str) -> Expect {
    Expect::Refusal(status, code)
}

const NOT_SIGNED_IN: Expect = no(401, "not_signed_in");
const UNSIGNED: Expect = no(401, "missing_signature");
const SITE_REQUIRED: Expect = no(400, "site_required");
const FORBIDDEN: Expect = no(403, "forbidden");

const fn public(status: u16) -> [Expect; 6] {
    [ok(status); 6]
}

/// A session read: every account of the site, the other site's manager sees `other` (its own
/// site, or not found), the site-less admin is told to use a site account.
const fn session_read(other: Expect) -> [Expect; 6] {
    [
        NOT_SIGNED_IN,
        NOT_SIGNED_IN,
        ok(200),
        other,
        ok(200),
        SITE_REQUIRED,
    ]
}

/// A session write: only the site's manager; the auditor reads only.
const fn session_write(status: u16, other: Expect) -> [Expect; 6] {
    [
        NOT_SIGNED_IN,
        NOT_SIGNED_IN,
        FORBIDDEN,
        other,
        ok(status),
        SITE_REQUIRED,
    ]
}

/// An admin's route: every other account is refused, whatever its site.
const fn admin_only(status: u16) -> [Expect; 6] {
    [
        NOT_SIGNED_IN,
        NOT_SIGNED_IN,
        FORBIDDEN,
        FORBIDDEN,
        FORBIDDEN,
        ok(status),
    ]
}

const fn tablet_only(status: u16) -> [Expect; 6] {
    [UNSIGNED, ok(status), UNSIGNED, UNSIGNED, UNSIGNED, UNSIGNED]
}

const fn ledger_read(other: Expect) -> [Expect; 6] {
    [
        NOT_SIGNED_IN,
        ok(200),
        ok(200),
        other,
        ok(200),
        SITE_REQUIRED,
    ]
}

#[derive(Clone, Copy, Debug)]
enum Body {
    Empty,
    Json(&'static str),
    Csv(&'static str),
    Form(&'static str),
}

/// One request of the table. `path` and the body may hold placeholders the fixture fills in:
/// `$TABLET` (a second tablet of the site, to decommission), `$KEY` (a current exception's key),
/// `$ENROLL` (a fresh enrollment code with a fresh key), `$SIGN_IN` (the auditor's credentials),
/// `$WITNESS` (a witness report that is evidence).
struct Case {
    method: &'static str,
    /// The route exactly as `mod.rs` declares it; `FALLBACK` for the app's static files.
    route: &'static str,
    path: &'static str,
    guard: Guard,
    body: Body,
    /// Per caller, in the order of `CALLERS`.
    expect: [Expect; 6],
}

const FALLBACK: &str = "FALLBACK";

const STAFF_CSV: &str = "staff_id,display_name,role,badge_id,home_ward,pin,active\n\
                         S-0031,Robin Test,nurse,B-30031,W-4E,4321,true\n";
/// Another site's manager tries to take over the demo site's S-0005 into their own ward.
const STAFF_CSV_HIJACK: &str = "staff_id,display_name,role,badge_id,home_ward,pin,active\n\
                                S-0005,Hijacked,nurse,B-39999,W-9X,4321,true\n";
const DEVICES_CSV: &str = "device_id,asset_tag,kind,model,home_ward,active\n\
                           D-0021,BT-20021,tablet,Synthetic Tab 10,W-4E,true\n";
const DEVICES_CSV_HIJACK: &str = "device_id,asset_tag,kind,model,home_ward,active\n\
                                  D-0002,BT-99999,tablet,Hijacked,W-9X,true\n";

/// A site connector the admin creates and replaces (CAEP: no secret to keep out of answers).
const CONNECTOR_JSON: &str =
    r#"{"kind": "caep", "name": "idp", "url": "https://idp.example/caep", "audience": "baton"}"#;

/// An account the admin creates, then disables, enables and gives a new password.
const ACCOUNT_JSON: &str = r#"{"username": "access-manager", "role": "manager"}"#;

/// The demo site's configuration with a 10-minute lockout instead of 5: a real change.
const SITE_CONFIG_JSON: &str = r#"{"rules": {"utc_offset_minutes": 0,
    "shifts": [{"name": "day", "start_minute_of_day": 420, "duration_minutes": 720},
               {"name": "night", "start_minute_of_day": 1140, "duration_minutes": 720}],
    "grace_minutes": 60, "max_clock_skew_ms": 300000, "persistent_gap_after_ms": 3600000},
    "inactivity_lockout_minutes": 10}"#;

/// Every route, in the order of `mod.rs`, except sign-out, which ends the sessions and so comes
/// last. Cases run in this order: later cases build on earlier ones (release after quarantine).
const ROUTES: &[Case] = &[
    Case {
        method: "GET",
        route: "/healthz",
        path: "/healthz",
        guard: Guard::Public,
        body: Body::Empty,
        expect: public(200),
    },
    Case {
        method: "GET",
        route: "/readyz",
        path: "/readyz",
        guard: Guard::Public,
        body: Body::Empty,
        expect: public(200),
    },
    Case {
        method: "GET",
        route: "/api/v1/meta",
        path: "/api/v1/meta",
        guard: Guard::Public,
        body: Body::Empty,
        expect: public(200),
    },
    Case {
        method: "GET",
        route: "/metrics",
        path: "/metrics",
        guard: Guard::MetricsToken,
        body: Body::Empty,
        expect: [no(401, "bad_metrics_token"); 6],
    },
    Case {
        method: "POST",
        route: "/api/v1/enroll",
        path: "/api/v1/enroll",
        guard: Guard::Public,
        body: Body::Json("$ENROLL"),
        expect: public(201),
    },
    Case {
        method: "POST",
        route: "/api/v1/enrollment-codes",
        path: "/api/v1/enrollment-codes",
        guard: Guard::Session,
        body: Body::Json(r#"{"ward_id": "W-4E"}"#),
        // The ward decides the site: another site's manager may not enroll into W-4E.
        expect: session_write(201, FORBIDDEN),
    },
    Case {
        method: "POST",
        route: "/api/v1/sync/push",
        path: "/api/v1/sync/push",
        guard: Guard::Tablet,
        body: Body::Json(r#"{"events": []}"#),
        expect: tablet_only(200),
    },
    Case {
        method: "GET",
        route: "/api/v1/sync/pull",
        path: "/api/v1/sync/pull?after=0",
        guard: Guard::Tablet,
        body: Body::Empty,
        expect: tablet_only(200),
    },
    Case {
        method: "GET",
        route: "/api/v1/sync/roster",
        path: "/api/v1/sync/roster",
        guard: Guard::Tablet,
        body: Body::Empty,
        expect: tablet_only(200),
    },
    Case {
        method: "GET",
        route: "/api/v1/sync/revocations",
        path: "/api/v1/sync/revocations",
        guard: Guard::Tablet,
        body: Body::Empty,
        expect: tablet_only(200),
    },
    Case {
        method: "POST",
        route: "/api/v1/tablet/session/logout",
        path: "/api/v1/tablet/session/logout",
        guard: Guard::Tablet,
        body: Body::Empty,
        expect: tablet_only(200),
    },
    Case {
        method: "POST",
        route: "/api/v1/tablet/key-rotation",
        path: "/api/v1/tablet/key-rotation",
        guard: Guard::Tablet,
        body: Body::Empty,
        // The tablet gets in; an empty body is no rotation (a real one would retire the
        // fixture tablet's key: server/tests/it/key_rotation.rs rotates).
        expect: [
            UNSIGNED,
            no(400, "bad_key_rotation"),
            UNSIGNED,
            UNSIGNED,
            UNSIGNED,
            UNSIGNED,
        ],
    },
    Case {
        method: "POST",
        route: "/api/v1/auth/sign-in",
        path: "/api/v1/auth/sign-in",
        guard: Guard::Public,
        body: Body::Json("$SIGN_IN"),
        expect: public(200),
    },
    Case {
        method: "GET",
        route: "/api/v1/auth/session",
        path: "/api/v1/auth/session",
        guard: Guard::Session,
        body: Body::Empty,
        expect: [
            NOT_SIGNED_IN,
            NOT_SIGNED_IN,
            ok(200),
            ok(200),
            ok(200),
            ok(200),
        ],
    },
    Case {
        method: "GET",
        route: "/api/v1/dashboard/devices",
        path: "/api/v1/dashboard/devices",
        guard: Guard::Session,
        body: Body::Empty,
        expect: session_read(ok(200)),
    },
    Case {
        method: "GET",
        route: "/api/v1/dashboard/exceptions",
        path: "/api/v1/dashboard/exceptions?include_resolved=true",
        guard: Guard::Session,
        body: Body::Empty,
        expect: session_read(ok(200)),
    },
    Case {
        method: "POST",
        route: "/api/v1/dashboard/exceptions/{key}/acknowledge",
        path: "/api/v1/dashboard/exceptions/$KEY/acknowledge",
        guard: Guard::Session,
        body: Body::Json(r#"{"note": "Seen; calling the ward."}"#),
        expect: session_write(200, no(404, "unknown_exception")),
    },
    Case {
        method: "POST",
        route: "/api/v1/dashboard/exceptions/{key}/resolve",
        path: "/api/v1/dashboard/exceptions/$KEY/resolve",
        guard: Guard::Session,
        body: Body::Json(r#"{"note": "Both nurses confirmed the handoff."}"#),
        expect: session_write(200, no(404, "unknown_exception")),
    },
    Case {
        method: "GET",
        route: "/api/v1/dashboard/tablets",
        path: "/api/v1/dashboard/tablets",
        guard: Guard::Session,
        body: Body::Empty,
        expect: session_read(ok(200)),
    },
    Case {
        method: "POST",
        route: "/api/v1/tablets/{tablet_id}/decommission",
        path: "/api/v1/tablets/$TABLET/decommission",
        guard: Guard::Session,
        body: Body::Json("{}"),
        expect: session_write(200, no(404, "unknown_tablet")),
    },
    Case {
        method: "GET",
        route: "/api/v1/dashboard/devices/{device_id}/timeline",
        path: "/api/v1/dashboard/devices/D-0001/timeline",
        guard: Guard::Session,
        body: Body::Empty,
        expect: session_read(no(404, "unknown_device")),
    },
    Case {
        method: "GET",
        route: "/api/v1/dashboard/staff",
        path: "/api/v1/dashboard/staff",
        guard: Guard::Session,
        body: Body::Empty,
        expect: session_read(ok(200)),
    },
    Case {
        method: "POST",
        route: "/api/v1/dashboard/devices/{device_id}/quarantine",
        path: "/api/v1/dashboard/devices/D-0003/quarantine",
        guard: Guard::Session,
        body: Body::Json(r#"{"note": "Cracked screen."}"#),
        expect: session_write(200, no(404, "unknown_device")),
    },
    Case {
        method: "POST",
        route: "/api/v1/dashboard/devices/{device_id}/release",
        path: "/api/v1/dashboard/devices/D-0003/release",
        guard: Guard::Session,
        body: Body::Json(r#"{"note": "Screen replaced."}"#),
        expect: session_write(200, no(404, "unknown_device")),
    },
    Case {
        method: "POST",
        route: "/api/v1/dashboard/devices/{device_id}/missing",
        path: "/api/v1/dashboard/devices/D-0004/missing",
        guard: Guard::Session,
        body: Body::Json("{}"),
        expect: session_write(200, no(404, "unknown_device")),
    },
    Case {
        method: "POST",
        route: "/api/v1/dashboard/devices/{device_id}/found",
        path: "/api/v1/dashboard/devices/D-0004/found",
        guard: Guard::Session,
        body: Body::Json(r#"{"ward": "W-4E"}"#),
        // The ward is checked against the caller's own site before the device is.
        expect: session_write(200, no(400, "unknown_ward")),
    },
    Case {
        method: "GET",
        route: "/api/v1/dashboard/staff/{staff_id}",
        path: "/api/v1/dashboard/staff/S-0005",
        guard: Guard::Session,
        body: Body::Empty,
        expect: session_read(no(404, "unknown_staff")),
    },
    Case {
        method: "GET",
        route: "/api/v1/dashboard/stream",
        path: "/api/v1/dashboard/stream",
        guard: Guard::Session,
        body: Body::Empty,
        expect: session_read(ok(200)),
    },
    Case {
        method: "GET",
        route: "/api/v1/dashboard/report",
        path: "/api/v1/dashboard/report",
        guard: Guard::Session,
        body: Body::Empty,
        expect: session_read(ok(200)),
    },
    Case {
        method: "GET",
        route: "/api/v1/dashboard/shift-change",
        path: "/api/v1/dashboard/shift-change?ward=W-4E",
        guard: Guard::Session,
        body: Body::Empty,
        // Another site's manager asks about a ward that is not theirs.
        expect: session_read(no(404, "unknown_ward")),
    },
    Case {
        method: "GET",
        route: "/api/v1/dashboard/custodies.csv",
        path: "/api/v1/dashboard/custodies.csv",
        guard: Guard::Session,
        body: Body::Empty,
        expect: session_read(ok(200)),
    },
    Case {
        method: "POST",
        route: "/api/v1/admin/staff.csv",
        path: "/api/v1/admin/staff.csv",
        guard: Guard::Session,
        body: Body::Csv(STAFF_CSV),
        // W-4E is no ward of the other site.
        expect: session_write(200, no(400, "bad_csv")),
    },
    Case {
        method: "POST",
        route: "/api/v1/admin/staff.csv",
        path: "/api/v1/admin/staff.csv",
        guard: Guard::Session,
        body: Body::Csv(STAFF_CSV_HIJACK),
        // The other site's manager cannot move the demo site's person into their site; for the
        // demo site's manager W-9X is no ward.
        expect: [
            NOT_SIGNED_IN,
            NOT_SIGNED_IN,
            FORBIDDEN,
            no(409, "conflict"),
            no(400, "bad_csv"),
            SITE_REQUIRED,
        ],
    },
    Case {
        method: "POST",
        route: "/api/v1/admin/devices.csv",
        path: "/api/v1/admin/devices.csv",
        guard: Guard::Session,
        body: Body::Csv(DEVICES_CSV),
        expect: session_write(200, no(400, "bad_csv")),
    },
    Case {
        method: "POST",
        route: "/api/v1/admin/devices.csv",
        path: "/api/v1/admin/devices.csv",
        guard: Guard::Session,
        body: Body::Csv(DEVICES_CSV_HIJACK),
        expect: [
            NOT_SIGNED_IN,
            NOT_SIGNED_IN,
            FORBIDDEN,
            no(409, "conflict"),
            no(400, "bad_csv"),
            SITE_REQUIRED,
        ],
    },
    Case {
        method: "POST",
        route: "/api/v1/admin/staff/{staff_id}/deactivate",
        path: "/api/v1/admin/staff/S-0030/deactivate",
        guard: Guard::Session,
        body: Body::Empty,
        expect: session_write(200, no(404, "unknown_staff")),
    },
    Case {
        method: "POST",
        route: "/api/v1/admin/staff/{staff_id}/activate",
        path: "/api/v1/admin/staff/S-0030/activate",
        guard: Guard::Session,
        body: Body::Empty,
        expect: session_write(200, no(404, "unknown_staff")),
    },
    Case {
        method: "GET",
        route: "/api/v1/admin/sites",
        path: "/api/v1/admin/sites",
        guard: Guard::Session,
        body: Body::Empty,
        expect: admin_only(200),
    },
    Case {
        method: "GET",
        route: "/api/v1/admin/sites/{site_id}/accounts",
        path: "/api/v1/admin/sites/SITE-DEMO/accounts",
        guard: Guard::Session,
        body: Body::Empty,
        expect: admin_only(200),
    },
    Case {
        method: "POST",
        route: "/api/v1/admin/sites/{site_id}/accounts",
        path: "/api/v1/admin/sites/SITE-DEMO/accounts",
        guard: Guard::Session,
        body: Body::Json(ACCOUNT_JSON),
        expect: admin_only(201),
    },
    Case {
        method: "POST",
        route: "/api/v1/admin/sites/{site_id}/accounts/{username}/disable",
        path: "/api/v1/admin/sites/SITE-DEMO/accounts/access-manager/disable",
        guard: Guard::Session,
        body: Body::Empty,
        expect: admin_only(200),
    },
    Case {
        method: "POST",
        route: "/api/v1/admin/sites/{site_id}/accounts/{username}/enable",
        path: "/api/v1/admin/sites/SITE-DEMO/accounts/access-manager/enable",
        guard: Guard::Session,
        body: Body::Empty,
        expect: admin_only(200),
    },
    Case {
        method: "POST",
        route: "/api/v1/admin/sites/{site_id}/accounts/{username}/password",
        path: "/api/v1/admin/sites/SITE-DEMO/accounts/access-manager/password",
        guard: Guard::Session,
        body: Body::Json("{}"),
        expect: admin_only(200),
    },
    Case {
        method: "GET",
        route: "/api/v1/admin/sites/{site_id}/config",
        path: "/api/v1/admin/sites/SITE-DEMO/config",
        guard: Guard::Session,
        body: Body::Empty,
        expect: admin_only(200),
    },
    Case {
        method: "PUT",
        route: "/api/v1/admin/sites/{site_id}/config",
        path: "/api/v1/admin/sites/SITE-DEMO/config",
        guard: Guard::Session,
        body: Body::Json(SITE_CONFIG_JSON),
        expect: admin_only(200),
    },
    Case {
        method: "GET",
        route: "/api/v1/admin/sites/{site_id}/connectors",
        path: "/api/v1/admin/sites/SITE-DEMO/connectors",
        guard: Guard::Session,
        body: Body::Empty,
        expect: admin_only(200),
    },
    Case {
        method: "POST",
        route: "/api/v1/admin/sites/{site_id}/connectors",
        path: "/api/v1/admin/sites/SITE-DEMO/connectors",
        guard: Guard::Session,
        body: Body::Json(CONNECTOR_JSON),
        expect: admin_only(201),
    },
    Case {
        method: "PUT",
        route: "/api/v1/admin/sites/{site_id}/connectors/{name}",
        path: "/api/v1/admin/sites/SITE-DEMO/connectors/idp",
        guard: Guard::Session,
        body: Body::Json(CONNECTOR_JSON),
        expect: admin_only(200),
    },
    Case {
        method: "POST",
        route: "/api/v1/admin/sites/{site_id}/connectors/{name}/disable",
        path: "/api/v1/admin/sites/SITE-DEMO/connectors/idp/disable",
        guard: Guard::Session,
        body: Body::Empty,
        expect: admin_only(200),
    },
    Case {
        method: "POST",
        route: "/api/v1/admin/sites/{site_id}/connectors/{name}/enable",
        path: "/api/v1/admin/sites/SITE-DEMO/connectors/idp/enable",
        guard: Guard::Session,
        body: Body::Empty,
        expect: admin_only(200),
    },
    Case {
        method: "GET",
        route: "/api/v1/ledger/head",
        path: "/api/v1/ledger/head",
        guard: Guard::TabletOrSession,
        body: Body::Empty,
        expect: ledger_read(ok(200)),
    },
    Case {
        method: "GET",
        route: "/api/v1/ledger/inclusion",
        path: "/api/v1/ledger/inclusion?index=0&size=1",
        guard: Guard::TabletOrSession,
        body: Body::Empty,
        // The other site's own ledger is empty: no proof about the demo site's first leaf.
        expect: ledger_read(no(400, "bad_proof_request")),
    },
    Case {
        method: "GET",
        route: "/api/v1/ledger/consistency",
        path: "/api/v1/ledger/consistency?from=1&to=2",
        guard: Guard::TabletOrSession,
        body: Body::Empty,
        expect: ledger_read(no(400, "bad_proof_request")),
    },
    Case {
        method: "GET",
        route: "/api/v1/ledger/entries",
        path: "/api/v1/ledger/entries?from=0",
        guard: Guard::TabletOrSession,
        body: Body::Empty,
        expect: ledger_read(ok(200)),
    },
    Case {
        method: "GET",
        route: "/api/v1/ledger/export",
        path: "/api/v1/ledger/export",
        guard: Guard::TabletOrSession,
        body: Body::Empty,
        expect: ledger_read(ok(200)),
    },
    Case {
        method: "POST",
        route: "/api/v1/ledger/witness-reports",
        path: "/api/v1/ledger/witness-reports",
        guard: Guard::Tablet,
        body: Body::Json("$WITNESS"),
        expect: tablet_only(202),
    },
    Case {
        method: "POST",
        route: "/api/v1/tokens",
        path: "/api/v1/tokens",
        guard: Guard::Tablet,
        body: Body::Json(r#"{"device_id": "D-0001", "staff_id": "S-0006"}"#),
        expect: tablet_only(200),
    },
    Case {
        method: "POST",
        route: "/api/v1/tokens/external",
        path: "/api/v1/tokens/external",
        guard: Guard::CustodyToken,
        body: Body::Json(
            r#"{"connector": "idp", "token": "refresh-token", "token_type_hint": "refresh_token"}"#,
        ),
        expect: [no(401, "invalid_token"); 6],
    },
    Case {
        method: "POST",
        route: "/oauth/introspect",
        path: "/oauth/introspect",
        guard: Guard::IntrospectionSecret,
        body: Body::Form("token=not-a-token"),
        expect: [no(401, "invalid_client"); 6],
    },
    Case {
        method: "GET",
        route: "/.well-known/jwks.json",
        path: "/.well-known/jwks.json",
        guard: Guard::Public,
        body: Body::Empty,
        expect: public(200),
    },
    Case {
        method: "GET",
        route: "/api/v1/server-keys",
        path: "/api/v1/server-keys",
        guard: Guard::Public,
        body: Body::Empty,
        expect: public(200),
    },
    Case {
        method: "GET",
        route: "/api/v1/dashboard/revocations",
        path: "/api/v1/dashboard/revocations",
        guard: Guard::Session,
        body: Body::Empty,
        expect: session_read(ok(200)),
    },
    Case {
        method: "ANY",
        route: "/api/{*rest}",
        path: "/api/v1/no-such-route",
        guard: Guard::Public,
        body: Body::Empty,
        expect: [no(404, "not_found"); 6],
    },
    Case {
        method: "GET",
        route: FALLBACK,
        path: "/",
        guard: Guard::Public,
        body: Body::Empty,
        expect: public(200),
    },
    Case {
        method: "GET",
        route: FALLBACK,
        path: "/baton-app-0123456789abcdef.js",
        guard: Guard::Public,
        body: Body::Empty,
        expect: public(200),
    },
    Case {
        method: "GET",
        route: FALLBACK,
        path: "/dashboard/devices/D-0001",
        guard: Guard::Public,
        body: Body::Empty,
        expect: public(200),
    },
    Case {
        method: "POST",
        route: "/api/v1/auth/sign-out",
        path: "/api/v1/auth/sign-out",
        guard: Guard::Session,
        body: Body::Empty,
        expect: [
            NOT_SIGNED_IN,
            NOT_SIGNED_IN,
            ok(204),
            ok(204),
            ok(204),
            ok(204),
        ],
    },
];

const INDEX_HTML: &str = "<!DOCTYPE html><html><head>\
    <script type=\"module\">import init from '/baton-app-0123456789abcdef.js';</script>\
    </head><body></body></html>";

/// How a session request treats its CSRF token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Csrf {
    Valid,
    Missing,
    /// Another live session's token: the right shape, the wrong session.
    Wrong,
}

struct Session {
    cookie: String,
    csrf_token: String,
}

struct Answer {
    status: u16,
    headers: HeaderMap,
    body: String,
}

/// The demo site with a tablet, an exception, a second tablet to decommission, an auditor, an
/// admin, another site with its manager, and the app's files; plus a session for each account.
pub(crate) struct Fixture {
    server: TestServer,
    _dist: tempfile::TempDir,
    tablet: SimTablet,
    other_tablet_id: String,
    exception_key: String,
    setup_manager: tablet::Manager,
    auditor_password: String,
    sessions: Vec<(Caller, Session)>,
    witness_report: String,
    client: reqwest::Client,
    next_enroll_seed: AtomicU8,
}

const OTHER_SITE_ID: &str = "SITE-OTHER";

fn other_site(manager_password: &str) -> SiteSetup {
    SiteSetup {
        site_id: OTHER_SITE_ID.to_owned(),
        name: "Another hospital".to_owned(),
        config_json: baton_server::site_config::SiteConfig::typical_ward().to_json(),
        wards: vec![WardRecord {
            ward_id: "W-9X".to_owned(),
            site_id: OTHER_SITE_ID.to_owned(),
            name: "Ward 9 X".to_owned(),
        }],
        staff: Vec::new(),
        devices: vec![DeviceRecord {
            device_id: "X-0001".to_owned(),
            site_id: OTHER_SITE_ID.to_owned(),
            asset_tag: "XT-1".to_owned(),
            kind: "tablet".to_owned(),
            model: "Other Tab".to_owned(),
            home_ward: "W-9X".to_owned(),
            active: true,
        }],
        accounts: vec![AccountRecord {
            username: "other-manager".to_owned(),
            password_hash: seed::hash_secret(manager_password).unwrap(),
            role: AccountRole::Manager,
            site_id: Some(OTHER_SITE_ID.to_owned()),
        }],
    }
}

impl Fixture {
    pub(crate) async fn new(backend: &support::TestStorage) -> Fixture {
        let dist = tempfile::tempdir().unwrap();
        std::fs::write(dist.path().join("index.html"), INDEX_HTML).unwrap();
        std::fs::write(
            dist.path().join("baton-app-0123456789abcdef.js"),
            "export default 1;",
        )
        .unwrap();
        let dist_path = dist.path().to_owned();
        let server = tablet::serve_custom(backend.storage.clone(), move |state| {
            state.static_files = std::sync::Arc::new(StaticFiles::load(&dist_path));
            state.metrics_token = Some(METRICS_TOKEN.into());
        })
        .await;
        let storage = &server.state.storage;
        let other_password = seed::random_password();
        storage
            .import_site(&other_site(&other_password))
            .await
            .unwrap();
        let auditor_password = seed::random_password();
        let admin_password = seed::random_password();
        for (username, password, role, site_id) in [
            (
                "auditor",
                &auditor_password,
                AccountRole::Auditor,
                Some(seed::DEMO_SITE_ID),
            ),
            ("admin", &admin_password, AccountRole::Admin, None),
        ] {
            storage
                .create_account(&AccountRecord {
                    username: username.to_owned(),
                    password_hash: seed::hash_secret(password).unwrap(),
                    role,
                    site_id: site_id.map(str::to_owned),
                })
                .await
                .unwrap();
        }

        let setup_manager = tablet::sign_in_manager(&server).await;
        let mut tablet = SimTablet::enroll(&server, &setup_manager, 71).await;
        let other_tablet = SimTablet::enroll(&server, &setup_manager, 72).await;
        // Two people hold D-0001 at once: an exception to review, and S-0006 may get a token.
        let start = now_ms() - 60_000;
        let events = [
            tablet.sign(check_out("D-0001", "S-0005"), start),
            tablet.sign(check_out("D-0001", "S-0006"), start + 1_000),
        ];
        let receipts = tablet.push(&events).await;
        assert!(
            receipts
                .iter()
                .all(|receipt| receipt["status"] == "accepted")
        );
        let exceptions: Value = setup_manager
            .client
            .get(format!("{}/api/v1/dashboard/exceptions", server.base_url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let exception_key = exceptions["exceptions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|exception| exception["kind"] == "overlapping_custody")
            .expect("an overlapping custody")["key"]
            .as_str()
            .unwrap()
            .to_owned();

        let client = reqwest::Client::new();
        let mut sessions = Vec::new();
        for (caller, username, password) in [
            (Caller::Auditor, "auditor", auditor_password.as_str()),
            (
                Caller::OtherSiteManager,
                "other-manager",
                other_password.as_str(),
            ),
            (
                Caller::Manager,
                "manager",
                server.credentials.manager_password.as_str(),
            ),
            (Caller::Admin, "admin", admin_password.as_str()),
        ] {
            sessions.push((
                caller,
                sign_in(&client, &server.base_url, username, password).await,
            ));
        }
        let witness_report = witness_report_json();
        Fixture {
            server,
            _dist: dist,
            tablet,
            other_tablet_id: other_tablet.tablet_id,
            exception_key,
            setup_manager,
            auditor_password,
            sessions,
            witness_report,
            client,
            next_enroll_seed: AtomicU8::new(100),
        }
    }

    fn session(&self, caller: Caller) -> Option<&Session> {
        self.sessions
            .iter()
            .find(|(known, _)| *known == caller)
            .map(|(_, session)| session)
    }

    /// The text with its placeholders filled in; `$ENROLL` mints a new code each time.
    async fn fill(&self, text: &str) -> String {
        let mut text = text
            .replace("$TABLET", &self.other_tablet_id)
            .replace("$KEY", &self.exception_key)
            .replace("$WITNESS", &self.witness_report);
        if text.contains("$SIGN_IN") {
            let credentials =
                json!({ "username": "auditor", "password": self.auditor_password }).to_string();
            text = text.replace("$SIGN_IN", &credentials);
        }
        if text.contains("$ENROLL") {
            let code = self.setup_manager.enrollment_code("W-4E").await;
            let seed_byte = self.next_enroll_seed.fetch_add(1, Ordering::Relaxed);
            let key = baton_core::ids::SignerKey::from_signing_key(
                &ed25519_dalek::SigningKey::from_bytes(&[seed_byte; 32]),
            );
            let enroll =
                json!({ "code": code, "public_key": key.to_hex(), "label": "access test" })
                    .to_string();
            text = text.replace("$ENROLL", &enroll);
        }
        text
    }

    /// Sends one case as `caller`, with the placeholders filled in.
    async fn send_case(&self, case: &Case, caller: Caller, csrf: Csrf) -> (String, Answer) {
        let path = self.fill(case.path).await;
        let (content_type, body) = match case.body {
            Body::Empty => (None, String::new()),
            Body::Json(text) => (Some("application/json"), self.fill(text).await),
            Body::Csv(text) => (Some("text/csv"), text.to_owned()),
            Body::Form(text) => (Some("application/x-www-form-urlencoded"), text.to_owned()),
        };
        let answer = self
            .send(
                caller,
                case.method,
                &path,
                content_type,
                body.clone().into_bytes(),
                csrf,
            )
            .await;
        (format!("{path} {body}"), answer)
    }

    /// Sends a request as `caller`: signed for the tablet, with the cookie (and the CSRF token as
    /// `csrf` says) for an account, with nothing for the anonymous caller.
    async fn send(
        &self,
        caller: Caller,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
        csrf: Csrf,
    ) -> Answer {
        // `ANY` routes are probed with GET.
        let method = if method == "ANY" { "GET" } else { method };
        let mut request = self.client.request(
            method.parse().unwrap(),
            format!("{}{path}", self.server.base_url),
        );
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        match caller {
            Caller::Anonymous => {}
            Caller::Tablet => {
                let nonce = hex::encode(tablet::rand_bytes());
                let timestamp_ms = now_ms();
                let signature = RequestToSign {
                    method,
                    path_and_query: path,
                    body: &body,
                    timestamp_ms,
                    nonce: &nonce,
                }
                .sign(&self.tablet.signing_key);
                request = request
                    .header(HEADER_KEY, self.tablet.signer.to_hex())
                    .header(HEADER_TIMESTAMP, timestamp_ms.to_string())
                    .header(HEADER_NONCE, nonce)
                    .header(HEADER_SIGNATURE, hex::encode(signature));
            }
            account => {
                let session = self.session(account).unwrap();
                request = request.header("cookie", &session.cookie);
                match csrf {
                    Csrf::Valid => request = request.header("x-csrf-token", &session.csrf_token),
                    Csrf::Missing => {}
                    Csrf::Wrong => {
                        let (_, other) = self
                            .sessions
                            .iter()
                            .find(|(known, _)| *known != account)
                            .unwrap();
                        request = request.header("x-csrf-token", &other.csrf_token);
                    }
                }
            }
        }
        let response = request.body(body).send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let is_stream = headers
            .get("content-type")
            .is_some_and(|value| value.to_str().unwrap().starts_with("text/event-stream"));
        // A live stream never ends: its headers are the answer.
        let body = if is_stream {
            String::new()
        } else {
            response.text().await.unwrap()
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    async fn ledger_size(&self) -> i64 {
        self.server
            .state
            .storage
            .ledger_size(seed::DEMO_SITE_ID)
            .await
            .unwrap()
    }

    async fn manager_session_is_live(&self) -> bool {
        let answer = self
            .send(
                Caller::Manager,
                "GET",
                "/api/v1/auth/session",
                None,
                Vec::new(),
                Csrf::Valid,
            )
            .await;
        answer.status == 200
    }

    fn demo_markers(&self) -> Vec<String> {
        let mut markers: Vec<String> = ["SITE-DEMO", "W-4E", "W-5W", "D-0001", "S-0005", "BT-1"]
            .map(str::to_owned)
            .to_vec();
        markers.push(self.tablet.tablet_id.clone());
        markers.push(self.other_tablet_id.clone());
        markers
    }
}

async fn sign_in(
    client: &reqwest::Client,
    base_url: &str,
    username: &str,
    password: &str,
) -> Session {
    let response = client
        .post(format!("{base_url}/api/v1/auth/sign-in"))
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "sign-in of {username}");
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let body: Value = response.json().await.unwrap();
    Session {
        cookie,
        csrf_token: body["csrf_token"].as_str().unwrap().to_owned(),
    }
}

/// A witness report that is evidence: two heads of one size with different roots, both signed
/// with the test server's key (seed `[9; 32]`, see `tablet::serve`).
fn witness_report_json() -> String {
    let signing_key = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let head = |root_byte: u8| {
        TreeHead {
            log_id: baton_core::ids::SiteId::new(seed::DEMO_SITE_ID).unwrap(),
            tree_size: 5,
            root_hash: LedgerHash([root_byte; 32]),
            timestamp_ms: now_ms(),
            key_id: baton_core::ids::SignerKey::from_signing_key(&signing_key),
        }
        .sign(&signing_key)
        .unwrap()
    };
    json!({
        "kind": "fork", "kept": head(1), "offered": head(2), "proof": [],
        "detail": "two roots for one size", "raised_at_ms": 1
    })
    .to_string()
}

/// Every answer carries the security headers: a CSP that allows no inline script but the
/// loader's hash and forbids framing, nosniff, and no referrer.
pub(crate) fn assert_security_headers(headers: &HeaderMap, context: &str) {
    let header = |name: &str| {
        headers
            .get(name)
            .unwrap_or_else(|| panic!("{context}: no {name} header"))
            .to_str()
            .unwrap()
            .to_owned()
    };
    let policy = header("content-security-policy");
    let script_src = policy
        .split(';')
        .map(str::trim)
        .find(|directive| directive.starts_with("script-src "))
        .unwrap_or_else(|| panic!("{context}: no script-src in {policy}"));
    assert!(
        !script_src.contains("unsafe-inline") && !script_src.contains("'unsafe-eval'"),
        "{context}: {script_src}"
    );
    assert!(
        script_src.contains("'wasm-unsafe-eval'"),
        "{context}: {script_src}"
    );
    assert!(
        policy.contains("frame-ancestors 'none'"),
        "{context}: {policy}"
    );
    assert!(policy.contains("object-src 'none'"), "{context}: {policy}");
    assert_eq!(header("x-content-type-options"), "nosniff", "{context}");
    assert_eq!(header("referrer-policy"), "no-referrer", "{context}");
    assert_eq!(header("x-frame-options"), "DENY", "{context}");
}

/// A refusal is exactly `{"error": {"code", "message"}}` with the expected code: no detail,
/// no data.
pub(crate) fn assert_refusal(body: &str, code: &str, context: &str) {
    let value: Value = serde_json::from_str(body)
        .unwrap_or_else(|error| panic!("{context}: not JSON ({error}): {body}"));
    let outer = value.as_object().unwrap();
    assert_eq!(
        outer.keys().collect::<Vec<_>>(),
        ["error"],
        "{context}: {body}"
    );
    let error = outer["error"].as_object().unwrap();
    assert_eq!(
        error.keys().collect::<Vec<_>>(),
        ["code", "message"],
        "{context}: {body}"
    );
    assert_eq!(error["code"], code, "{context}: {body}");
    assert!(
        !error["message"].as_str().unwrap().is_empty(),
        "{context}: {body}"
    );
}

/// The routes `mod.rs` declares, as (method, path): every `.route("path", method(...))` call.
fn routes_in_router_source() -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    for call in ROUTER_SOURCE.split(".route(").skip(1) {
        let path = call
            .trim_start()
            .strip_prefix('"')
            .and_then(|rest| rest.split_once('"'))
            .map(|(path, _)| path)
            .unwrap_or_else(|| panic!("a route whose path is not a literal: {call:.80}"));
        // The handler part of the call: up to the end of the statement's route call.
        let handler = call.split(".route(").next().unwrap();
        let mut methods = Vec::new();
        for method in ["get", "post", "put", "patch", "delete", "head", "any"] {
            for (position, _) in handler.match_indices(&format!("{method}(")) {
                let before = handler[..position].chars().last();
                // `get(` itself, not `forget(` or `.get(`.
                if before.is_none_or(|c| !c.is_alphanumeric() && c != '_' && c != '.') {
                    methods.push(method.to_ascii_uppercase());
                }
            }
        }
        assert!(!methods.is_empty(), "no method for route {path}");
        for method in methods {
            routes.insert((method, path.to_owned()));
        }
    }
    routes
}

#[test]
fn the_table_lists_every_route_of_the_router() {
    // Routes can only enter the router through `.route(...)` with a literal path; anything else
    // (nesting, merging, services) would escape this check, so it fails the test instead.
    for escape in [".nest(", ".merge(", ".route_service(", ".nest_service("] {
        assert!(
            !ROUTER_SOURCE.contains(escape),
            "mod.rs uses {escape}: extend this guard and the table"
        );
    }
    assert!(
        ROUTER_SOURCE.contains("static_files::add_fallback("),
        "the static fallback moved: update the FALLBACK cases"
    );
    let in_router = routes_in_router_source();
    let in_table: BTreeSet<(String, String)> = ROUTES
        .iter()
        .filter(|case| case.route != FALLBACK)
        .map(|case| (case.method.to_owned(), case.route.to_owned()))
        .collect();
    let missing: Vec<_> = in_router.difference(&in_table).collect();
    let stale: Vec<_> = in_table.difference(&in_router).collect();
    assert!(
        missing.is_empty(),
        "routes with no access case in access.rs: {missing:?}"
    );
    assert!(
        stale.is_empty(),
        "cases for routes the router does not have: {stale:?}"
    );
    // The parser itself finds what it should: a known multi-line route and the total.
    assert!(in_router.contains(&(
        "POST".to_owned(),
        "/api/v1/dashboard/exceptions/{key}/acknowledge".to_owned()
    )));
    assert_eq!(in_router.len(), ROUTER_SOURCE.matches(".route(").count());
    // Each case's path is the route with its parameters filled in.
    for case in ROUTES.iter().filter(|case| case.route != FALLBACK) {
        let pattern: Vec<&str> = case.route.split('/').collect();
        let path = case.path.split('?').next().unwrap();
        let concrete: Vec<&str> = path.split('/').collect();
        if case.route.ends_with("{*rest}") {
            assert!(path.starts_with("/api/"), "{}", case.path);
            continue;
        }
        assert_eq!(pattern.len(), concrete.len(), "{}", case.path);
        for (expected, actual) in pattern.iter().zip(&concrete) {
            assert!(
                expected.starts_with('{') || expected == actual,
                "{} does not match {}",
                case.path,
                case.route
            );
        }
    }
}

#[tokio::test]
async fn every_route_answers_every_caller_exactly_as_the_table_says() {
    for backend in support::every_backend().await {
        let fixture = Fixture::new(&backend).await;
        let markers = fixture.demo_markers();
        for case in ROUTES {
            for caller in SEND_ORDER {
                let expected = case.expect[column(caller)];
                let (sent, answer) = fixture.send_case(case, caller, Csrf::Valid).await;
                let context = format!("{} {sent} as {caller:?}", case.method);
                match expected {
                    Expect::Answer(status) => {
                        assert_eq!(answer.status, status, "{context}: {}", answer.body);
                    }
                    Expect::Refusal(status, code) => {
                        assert_eq!(answer.status, status, "{context}: {}", answer.body);
                        assert_refusal(&answer.body, code, &context);
                    }
                }
                assert_security_headers(&answer.headers, &context);
                // Another site's manager learns nothing of the demo site beyond what they sent.
                if caller == Caller::OtherSiteManager && case.guard != Guard::Public {
                    for marker in &markers {
                        assert!(
                            sent.contains(marker.as_str())
                                || !answer.body.contains(marker.as_str()),
                            "{context}: the answer names {marker}: {}",
                            answer.body
                        );
                    }
                }
            }
        }
        // Sign-out, the last case, ended every session.
        for (caller, _) in &fixture.sessions {
            let answer = fixture
                .send(
                    *caller,
                    "GET",
                    "/api/v1/auth/session",
                    None,
                    Vec::new(),
                    Csrf::Valid,
                )
                .await;
            assert_eq!(answer.status, 401, "{caller:?} after sign-out");
        }
    }
}

#[tokio::test]
async fn every_state_changing_session_route_needs_the_sessions_csrf_token_and_changes_nothing_without()
 {
    for backend in support::every_backend().await {
        let fixture = Fixture::new(&backend).await;
        let cases: Vec<&Case> = ROUTES
            .iter()
            .filter(|case| case.guard == Guard::Session && case.method != "GET")
            .collect();
        // Codes, reviews (2), decommission, device actions (4), imports (4), activation (2),
        // site accounts (4), site configuration, site connectors (4), sign-out.
        assert_eq!(cases.len(), 24);
        for case in cases {
            // Each change is sent by the account the table lets make it: the site's manager,
            // or the admin for an admin's route.
            let caller = if matches!(case.expect[column(Caller::Manager)], Expect::Answer(_)) {
                Caller::Manager
            } else {
                Caller::Admin
            };
            let ledger_before = fixture.ledger_size().await;
            for csrf in [Csrf::Missing, Csrf::Wrong] {
                let (sent, answer) = fixture.send_case(case, caller, csrf).await;
                let context = format!("{} {sent} with CSRF {csrf:?}", case.method);
                assert_eq!(answer.status, 403, "{context}: {}", answer.body);
                assert_refusal(&answer.body, "csrf_token_invalid", &context);
                assert_security_headers(&answer.headers, &context);
            }
            // Every change a manager makes is ledgered (sign-out ends the session instead): the
            // refused requests left no trace, and the same request with the token does.
            assert_eq!(
                fixture.ledger_size().await,
                ledger_before,
                "{} {}",
                case.method,
                case.path
            );
            let signing_out = case.route == "/api/v1/auth/sign-out";
            if signing_out {
                assert!(fixture.manager_session_is_live().await);
            }
            let (sent, answer) = fixture.send_case(case, caller, Csrf::Valid).await;
            match case.expect[column(caller)] {
                Expect::Answer(status) => {
                    assert_eq!(answer.status, status, "{sent}: {}", answer.body);
                    if signing_out {
                        assert!(!fixture.manager_session_is_live().await);
                    } else {
                        assert!(fixture.ledger_size().await > ledger_before, "{sent}");
                    }
                }
                Expect::Refusal(status, code) => {
                    assert_eq!(answer.status, status, "{sent}: {}", answer.body);
                    assert_refusal(&answer.body, code, &sent);
                }
            }
        }
    }
}

/// Caller, method, path, content type, body; the expected status and code.
type FrameworkProbe = (
    Caller,
    &'static str,
    &'static str,
    Option<&'static str>,
    Vec<u8>,
    u16,
    &'static str,
);

/// The answers no case of the table produces: the framework's own refusals (a method the route
/// lacks, a wrong content type, a body over the limit, JSON or a query that does not fit) and a
/// HEAD request. They carry the security headers and the one error shape too.
#[tokio::test]
async fn framework_refusals_carry_the_headers_and_the_error_shape() {
    let backend = support::sqlite().await;
    let fixture = Fixture::new(&backend).await;
    let json = Some("application/json");
    let cases: Vec<FrameworkProbe> = vec![
        (
            Caller::Anonymous,
            "GET",
            "/api/v1/auth/sign-in",
            None,
            Vec::new(),
            405,
            "method_not_allowed",
        ),
        (
            Caller::Anonymous,
            "POST",
            "/api/v1/auth/sign-in",
            Some("text/plain"),
            br#"{"username": "a", "password": "b"}"#.to_vec(),
            415,
            "unsupported_media_type",
        ),
        (
            Caller::Anonymous,
            "POST",
            "/api/v1/auth/sign-in",
            json,
            br#"{"username": "#.to_vec(),
            400,
            "bad_request",
        ),
        (
            Caller::Anonymous,
            "POST",
            "/api/v1/auth/sign-in",
            json,
            br#"{"username": "a"}"#.to_vec(),
            422,
            "unprocessable_body",
        ),
        (
            Caller::Anonymous,
            "POST",
            "/api/v1/enroll",
            json,
            vec![b' '; 65 * 1024],
            413,
            "body_too_large",
        ),
        (
            Caller::Manager,
            "GET",
            "/api/v1/dashboard/report?from_ms=yesterday",
            None,
            Vec::new(),
            400,
            "bad_request",
        ),
        (
            Caller::Tablet,
            "GET",
            "/api/v1/sync/pull?after=0&unknown=1",
            None,
            Vec::new(),
            400,
            "bad_request",
        ),
    ];
    for (caller, method, path, content_type, body, status, code) in cases {
        let answer = fixture
            .send(caller, method, path, content_type, body, Csrf::Valid)
            .await;
        let context = format!("{method} {path} as {caller:?}");
        assert_eq!(answer.status, status, "{context}: {}", answer.body);
        assert_refusal(&answer.body, code, &context);
        assert_security_headers(&answer.headers, &context);
    }
    let head = fixture
        .client
        .head(format!("{}/", fixture.server.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert_security_headers(head.headers(), "HEAD /");
}
