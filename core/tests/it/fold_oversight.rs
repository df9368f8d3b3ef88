//! The fold's oversight rules, as snapshots: corrections, the authority's prerogatives, revoked
//! signers, clock skew and home wards.

use baton_core::{Body, CustodyState, DeviceRegistry, KeySet, SignerInfo, SiteRules};
use expect_test::expect;

use crate::common::*;
use crate::fold::{check, check_with};

#[test]
fn correction_voids_a_mis_scanned_check_out_and_can_itself_be_corrected() {
    let mut tablet = Tablet::new(1);
    let mut events = vec![tablet.sign(T0 + 8 * HOUR, check_out("TAB-1", "N-1", None))];
    events.push(tablet.sign(
        T0 + 8 * HOUR + MINUTE,
        correction("TAB-1", events[0].id(), "N-1"),
    ));
    check(
        &events,
        T0 + 9 * HOUR,
        expect![[r#"
        TAB-1 Available
          e2 voids e1
        exceptions:
    "#]],
    );
    events.push(tablet.sign(
        T0 + 8 * HOUR + 2 * MINUTE,
        correction("TAB-1", events[1].id(), "N-1"),
    ));
    check(
        &events,
        T0 + 9 * HOUR,
        expect![[r#"
        TAB-1 InUse since +08:00 due +21:30 held by N-1
          N-1 BadgePin e1 +08:00 -> open
          e2 ineffective on e1
          e3 voids e2
        exceptions:
    "#]],
    );
    let state = CustodyState::fold(
        SiteRules::default(),
        KeySet::new(),
        DeviceRegistry::default(),
        &events,
    );
    let timeline = state.timeline(&device("TAB-1"));
    let voided: Vec<Option<_>> = timeline.iter().map(|entry| entry.voided_by).collect();
    assert_eq!(voided, [None, Some(events[2].id()), None]);
}

#[test]
fn only_the_authority_quarantines_releases_or_corrects_the_authority() {
    let mut tablet = Tablet::new(1);
    let mut server = Tablet::new(9);
    let keys = key_set(&[&tablet], &[&server]);
    let quarantine = || Body::Quarantine {
        device: device("TAB-1"),
        by: staff("IT-1"),
        note: "lost for a night".to_owned(),
    };
    let release = Body::Release {
        device: device("TAB-1"),
        by: staff("IT-1"),
        note: "reimaged".to_owned(),
    };
    let mut events = vec![
        tablet.sign(T0 + 8 * HOUR, check_out("TAB-1", "N-1", None)),
        tablet.sign(T0 + 9 * HOUR, quarantine()),
        server.sign(T0 + 10 * HOUR, quarantine()),
        tablet.sign(T0 + 11 * HOUR, check_out("TAB-1", "N-2", None)),
    ];
    events.push(tablet.sign(T0 + 12 * HOUR, correction("TAB-1", events[2].id(), "N-2")));
    events.push(server.sign(T0 + 13 * HOUR, release));
    check_with(
        &events,
        keys,
        DeviceRegistry::default(),
        T0 + 14 * HOUR,
        expect![[r#"
        TAB-1 InUse since +11:00 due +24:30 held by N-2
          N-1 BadgePin e1 +08:00 -> e3 +10:00 Quarantined
          N-2 BadgePin e4 +11:00 -> open
          e5 ineffective on e3
        exceptions:
          TAB-1 +09:00 authority_required critical [e2] IT-1: quarantine signed by a tablet has no effect
          TAB-1 +11:00 used_while_quarantined critical [e3,e4] N-2: taken into use while quarantined
          TAB-1 +12:00 authority_required critical [e5,e3] N-2: a tablet cannot correct an event signed by the authority
    "#]],
    );
}

#[test]
fn only_the_authority_signs_for_a_person_authenticated_by_a_dashboard_session() {
    let mut tablet = Tablet::new(1);
    let mut server = Tablet::new(9);
    let keys = key_set(&[&tablet], &[&server]);
    let from_the_dashboard = baton_core::PersonAuth {
        staff: staff("manager"),
        method: baton_core::AuthMethod::Dashboard,
    };
    let missing = Body::ReportMissing {
        device: device("TAB-1"),
        reported_by: from_the_dashboard.clone(),
        note: None,
    };
    let mut events = vec![
        tablet.sign(T0 + 8 * HOUR, check_out("TAB-1", "N-1", None)),
        tablet.sign(T0 + 9 * HOUR, missing.clone()),
    ];
    events.push(tablet.sign(
        T0 + 9 * HOUR + MINUTE,
        Body::Correction {
            corrects: events[0].id(),
            device: device("TAB-1"),
            by: from_the_dashboard.clone(),
            note: "not taken".to_owned(),
        },
    ));
    // The tablet's claims change nothing: the device is in use, not missing, not voided.
    check_with(
        &events,
        keys.clone(),
        DeviceRegistry::default(),
        T0 + 9 * HOUR + 2 * MINUTE,
        expect![[r#"
            TAB-1 InUse since +08:00 due +21:30 held by N-1
              N-1 BadgePin e1 +08:00 -> open
              e3 ineffective on e1
            exceptions:
              TAB-1 +09:00 authority_required critical [e2] manager: report_missing naming a person authenticated by a dashboard session, signed by a tablet, has no effect
              TAB-1 +09:01 authority_required critical [e3] manager: correction naming a person authenticated by a dashboard session, signed by a tablet, has no effect
        "#]],
    );
    events.push(server.sign(T0 + 10 * HOUR, missing));
    events.push(server.sign(
        T0 + 11 * HOUR,
        Body::ReportFound {
            device: device("TAB-1"),
            found_by: from_the_dashboard,
            ward: ward("4B"),
            note: None,
        },
    ));
    check_with(
        &events,
        keys,
        DeviceRegistry::default(),
        T0 + 12 * HOUR,
        expect![[r#"
            TAB-1 Available
              N-1 BadgePin e1 +08:00 -> e5 +11:00 Found
              e3 ineffective on e1
            exceptions:
              TAB-1 +09:00 authority_required critical [e2] manager: report_missing naming a person authenticated by a dashboard session, signed by a tablet, has no effect
              TAB-1 +09:01 authority_required critical [e3] manager: correction naming a person authenticated by a dashboard session, signed by a tablet, has no effect
        "#]],
    );
}

#[test]
fn check_in_away_from_the_home_ward() {
    let mut tablet = Tablet::new(1);
    let registry = DeviceRegistry {
        home_wards: [(device("TAB-1"), ward("4B"))].into(),
    };
    let events = [
        tablet.sign(T0 + 8 * HOUR, check_out("TAB-1", "N-1", None)),
        tablet.sign(
            T0 + 9 * HOUR,
            check_in_with("TAB-1", "N-1", "ICU", complete_checklist()),
        ),
    ];
    check_with(
        &events,
        KeySet::new(),
        registry,
        T0 + 10 * HOUR,
        expect![[r#"
        TAB-1 Available
          N-1 BadgePin e1 +08:00 -> e2 +09:00 CheckedIn
        exceptions:
          TAB-1 +09:00 away_from_home_ward info [e2] N-1: checked in on ICU, home ward is 4B
    "#]],
    );
}

#[test]
fn clock_skew_and_events_of_a_later_revoked_signer_are_flagged() {
    let mut tablet = Tablet::new(1);
    // The tablet's hybrid clock was dragged an hour ahead by a peer whose clock ran fast.
    tablet.clock = baton_core::Hlc::new(T0 + 9 * HOUR, 0);
    let events = [
        tablet.sign(T0 + 8 * HOUR, check_out("TAB-1", "N-1", None)),
        tablet.sign(T0 + 9 * HOUR + 30 * MINUTE, check_in("TAB-1", "N-1")),
    ];
    let revoked = SignerInfo {
        revoked_from_ms: Some(T0 + 9 * HOUR + 15 * MINUTE),
        ..SignerInfo::tablet()
    };
    let keys = KeySet::from_signers([(tablet.signer, revoked)]).unwrap();
    check_with(
        &events,
        keys,
        DeviceRegistry::default(),
        T0 + 10 * HOUR,
        expect![[r#"
        TAB-1 Available
          N-1 BadgePin e1 +09:00 -> e2 +09:30 CheckedIn
        exceptions:
          TAB-1 +09:00 clock_skew warning [e1] : wall clock and hybrid clock differ by 3600000 ms
          TAB-1 +09:30 revoked_signer_event critical [e2] N-1: signed at 1741599000000 ms, signer revoked from 1741598100000 ms
    "#]],
    );
}

#[test]
fn a_correction_that_sorts_before_its_target_still_voids_it() {
    // The correcting tablet's clock lags and it never merged the target's timestamp, so its
    // correction sorts first; the fold must not depend on that.
    let mut fast = Tablet::new(1);
    let mut lagging = Tablet::new(2);
    let mut events = vec![fast.sign(T0 + 9 * HOUR, check_out("TAB-1", "N-1", None))];
    events.push(lagging.sign(T0 + 8 * HOUR, correction("TAB-1", events[0].id(), "N-1")));
    check(
        &events,
        T0 + 10 * HOUR,
        expect![[r#"
        TAB-1 Available
          e2 voids e1
        exceptions:
    "#]],
    );
}
