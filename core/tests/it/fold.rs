//! The custody rules, one scenario per rule, as snapshots of the folded state.

use baton_core::{
    AuthMethod, Body, Checklist, CustodyEndReason, CustodyState, DeviceCondition, DeviceRegistry,
    KeySet, PersonAuth, SignedEvent, SiteRules,
};
use expect_test::{Expect, expect};

use crate::common::*;
use crate::render::render_state;

/// Folds `events`, checks that applying them one by one (forwards and backwards) gives the same
/// state, and compares the rendering at `now_ms` with `expected`.
pub fn check_with(
    events: &[SignedEvent],
    keys: KeySet,
    registry: DeviceRegistry,
    now_ms: u64,
    expected: Expect,
) {
    let folded = CustodyState::fold(SiteRules::default(), keys.clone(), registry.clone(), events);
    for order in [events.to_vec(), events.iter().rev().cloned().collect()] {
        let mut incremental =
            CustodyState::new(SiteRules::default(), keys.clone(), registry.clone());
        for event in &order {
            incremental.apply(event);
        }
        assert_eq!(
            incremental, folded,
            "incremental apply must equal the full fold"
        );
    }
    expected.assert_eq(&render_state(&folded, events, now_ms));
}

pub fn check(events: &[SignedEvent], now_ms: u64, expected: Expect) {
    check_with(
        events,
        KeySet::new(),
        DeviceRegistry::default(),
        now_ms,
        expected,
    );
}

#[test]
fn check_out_then_check_in() {
    let mut tablet = Tablet::new(1);
    let events = [
        tablet.sign(T0 + 8 * HOUR, check_out("TAB-1", "N-1", Some("day"))),
        tablet.sign(T0 + 12 * HOUR, check_in("TAB-1", "N-1")),
    ];
    check(
        &events,
        T0 + 13 * HOUR,
        expect![[r#"
        TAB-1 Available
          N-1 BadgePin e1 +08:00 -> e2 +12:00 CheckedIn
        exceptions:
    "#]],
    );
    let state = CustodyState::fold(
        SiteRules::default(),
        KeySet::new(),
        DeviceRegistry::default(),
        &events,
    );
    let ended = state.ended_custodies();
    assert_eq!(ended.len(), 1);
    assert_eq!(
        (ended[0].staff.as_str(), ended[0].reason),
        ("N-1", CustodyEndReason::CheckedIn)
    );
    assert_eq!(ended[0].ended_by, events[1].id());
}

#[test]
fn open_custody_is_in_use_until_the_shift_ends_then_overdue() {
    let mut tablet = Tablet::new(1);
    let events = [tablet.sign(T0 + 8 * HOUR, check_out("TAB-1", "N-1", Some("day")))];
    // Day shift ends 19:30, plus 30 minutes of grace.
    check(
        &events,
        T0 + 20 * HOUR,
        expect![[r#"
        TAB-1 InUse since +08:00 due +20:00 held by N-1
          N-1 BadgePin e1 +08:00 -> open
        exceptions:
    "#]],
    );
    check(
        &events,
        T0 + 20 * HOUR + 45 * MINUTE,
        expect![[r#"
        TAB-1 Overdue since +08:00 due +20:00 held by N-1
          N-1 BadgePin e1 +08:00 -> open
        exceptions:
          TAB-1 +20:00 overdue warning [e1] N-1: 45 minutes past the expected return
    "#]],
    );
}

#[test]
fn check_out_over_an_open_custody_keeps_both_open_and_check_in_closes_all() {
    let mut first = Tablet::new(1);
    let mut second = Tablet::new(2);
    let events = [
        first.sign(T0 + 8 * HOUR, check_out("TAB-1", "N-1", None)),
        second.sign(T0 + 9 * HOUR, check_out("TAB-1", "N-2", None)),
    ];
    check(
        &events,
        T0 + 10 * HOUR,
        expect![[r#"
        TAB-1 InUse since +08:00 due +21:30 held by N-1,N-2
          N-1 BadgePin e1 +08:00 -> open
          N-2 BadgePin e2 +09:00 -> open
        exceptions:
          TAB-1 +09:00 overlapping_custody warning [e1,e2] N-1,N-2: taken while another custody was still open
    "#]],
    );
    let mut events = events.to_vec();
    events.push(first.sign(T0 + 11 * HOUR, check_in("TAB-1", "N-2")));
    check(
        &events,
        T0 + 12 * HOUR,
        expect![[r#"
        TAB-1 Available
          N-1 BadgePin e1 +08:00 -> e3 +11:00 CheckedIn
          N-2 BadgePin e2 +09:00 -> e3 +11:00 CheckedIn
        exceptions:
          TAB-1 +09:00 overlapping_custody warning [e1,e2] N-1,N-2: taken while another custody was still open
    "#]],
    );
}

#[test]
fn same_person_checking_out_again_renews_the_custody() {
    let mut tablet = Tablet::new(1);
    let events = [
        tablet.sign(T0 + 8 * HOUR, check_out("TAB-1", "N-1", Some("day"))),
        tablet.sign(
            T0 + 19 * HOUR + 10 * MINUTE,
            check_out("TAB-1", "N-1", Some("night")),
        ),
    ];
    check(
        &events,
        T0 + 20 * HOUR,
        expect![[r#"
        TAB-1 InUse since +19:10 due +32:00 held by N-1
          N-1 BadgePin e1 +08:00 -> e2 +19:10 Renewed
          N-1 BadgePin e2 +19:10 -> open
        exceptions:
    "#]],
    );
}

#[test]
fn check_in_without_custody_and_incomplete_checklists() {
    let mut tablet = Tablet::new(1);
    let not_wiped = Checklist {
        apps_signed_out: false,
        local_data_wiped: false,
        condition: DeviceCondition::Damaged,
    };
    let flat = Checklist {
        apps_signed_out: true,
        local_data_wiped: true,
        condition: DeviceCondition::NeedsCharging,
    };
    let events = [
        tablet.sign(T0 + 8 * HOUR, check_in("TAB-1", "N-1")),
        tablet.sign(T0 + 9 * HOUR, check_out("TAB-1", "N-1", None)),
        tablet.sign(
            T0 + 10 * HOUR,
            check_in_with("TAB-1", "N-1", "4B", not_wiped),
        ),
        tablet.sign(T0 + 11 * HOUR, check_out("TAB-1", "N-2", None)),
        tablet.sign(T0 + 12 * HOUR, check_in_with("TAB-1", "N-2", "4B", flat)),
    ];
    check(
        &events,
        T0 + 13 * HOUR,
        expect![[r#"
        TAB-1 Available
          N-1 BadgePin e2 +09:00 -> e3 +10:00 CheckedIn
          N-2 BadgePin e4 +11:00 -> e5 +12:00 CheckedIn
        exceptions:
          TAB-1 +08:00 check_in_without_custody warning [e1] N-1: checked in while nobody held the device
          TAB-1 +10:00 incomplete_checklist critical [e3] N-1: local data not wiped, apps not signed out, returned damaged
          TAB-1 +12:00 incomplete_checklist info [e5] N-2: returned needing charge
    "#]],
    );
}

#[test]
fn transfer_moves_custody_and_flags_a_giver_who_did_not_hold_it() {
    let mut tablet = Tablet::new(1);
    let events = [
        tablet.sign(T0 + 8 * HOUR, check_out("TAB-1", "N-1", None)),
        tablet.sign(T0 + 9 * HOUR, transfer("TAB-1", "N-1", "N-2")),
        tablet.sign(T0 + 10 * HOUR, transfer("TAB-1", "N-3", "N-4")),
    ];
    check(
        &events,
        T0 + 11 * HOUR,
        expect![[r#"
        TAB-1 InUse since +10:00 due +23:30 held by N-4
          N-1 BadgePin e1 +08:00 -> e2 +09:00 Transferred
          N-2 BadgePin e2 +09:00 -> e3 +10:00 Transferred
          N-4 BadgePin e3 +10:00 -> open
        exceptions:
          TAB-1 +10:00 transfer_from_non_custodian warning [e2,e3] N-3,N-2: transferred by someone who did not hold the device
    "#]],
    );
}

#[test]
fn missing_until_found_and_found_ends_the_custody() {
    let mut tablet = Tablet::new(1);
    let missing = Body::ReportMissing {
        device: device("TAB-1"),
        reported_by: badge("N-9"),
        note: None,
    };
    let found = Body::ReportFound {
        device: device("TAB-1"),
        found_by: badge("P-2"),
        ward: ward("ED"),
        note: None,
    };
    let mut events = vec![
        tablet.sign(T0 + 8 * HOUR, check_out("TAB-1", "N-1", None)),
        tablet.sign(T0 + 9 * HOUR, missing),
    ];
    check(
        &events,
        T0 + 10 * HOUR,
        expect![[r#"
        TAB-1 Missing since +08:00 due +21:30 held by N-1
          N-1 BadgePin e1 +08:00 -> open
        exceptions:
          TAB-1 +09:00 missing critical [e2] N-9,N-1: reported missing and not found since
    "#]],
    );
    events.push(tablet.sign(T0 + 11 * HOUR, found));
    check(
        &events,
        T0 + 12 * HOUR,
        expect![[r#"
        TAB-1 Available
          N-1 BadgePin e1 +08:00 -> e3 +11:00 Found
        exceptions:
    "#]],
    );
}

#[test]
fn break_glass_opens_a_custody_and_is_reported() {
    let mut tablet = Tablet::new(1);
    let events = [tablet.sign(T0 + 3 * HOUR, break_glass("TAB-1", "N-7"))];
    check(
        &events,
        T0 + 4 * HOUR,
        expect![[r#"
        TAB-1 InUse since +03:00 due +16:30 held by N-7
          N-7 BreakGlass e1 +03:00 -> open
        exceptions:
          TAB-1 +03:00 break_glass_used warning [e1] N-7: break-glass access: emergency
    "#]],
    );
}

#[test]
fn lockout_ends_only_the_named_custodian_session() {
    let mut tablet = Tablet::new(1);
    let lockout = |custodian: Option<&str>| Body::Lockout {
        device: device("TAB-1"),
        custodian: custodian.map(staff),
        idle_minutes: 15,
    };
    let events = [
        tablet.sign(T0 + 8 * HOUR, check_out("TAB-1", "N-1", None)),
        tablet.sign(T0 + 8 * HOUR, check_out("TAB-1", "N-2", None)),
        tablet.sign(T0 + 9 * HOUR, lockout(Some("N-1"))),
        tablet.sign(T0 + 10 * HOUR, lockout(None)),
    ];
    check(
        &events,
        T0 + 11 * HOUR,
        expect![[r#"
        TAB-1 Available
          N-1 BadgePin e1 +08:00 -> e3 +09:00 Lockout
          N-2 BadgePin e2 +08:00 -> e4 +10:00 Lockout
        exceptions:
          TAB-1 +08:00 overlapping_custody warning [e1,e2] N-1,N-2: taken while another custody was still open
    "#]],
    );
}

#[test]
fn holdings_list_what_each_person_holds_now() {
    let mut tablet = Tablet::new(1);
    let events = [
        tablet.sign(T0 + 8 * HOUR, check_out("TAB-1", "N-1", None)),
        tablet.sign(T0 + 8 * HOUR, check_out("TAB-2", "N-1", None)),
        tablet.sign(T0 + 9 * HOUR, transfer("TAB-1", "N-1", "N-2")),
    ];
    let state = CustodyState::fold(
        SiteRules::default(),
        KeySet::new(),
        DeviceRegistry::default(),
        &events,
    );
    let holdings = |person: &str| {
        state
            .holdings(&staff(person))
            .map(|device| device.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(holdings("N-1"), ["TAB-2"]);
    assert_eq!(holdings("N-2"), ["TAB-1"]);
    assert!(holdings("N-3").is_empty());
    let mut incremental = CustodyState::new(
        SiteRules::default(),
        KeySet::new(),
        DeviceRegistry::default(),
    );
    for event in events.iter().rev() {
        incremental.apply(event);
    }
    assert_eq!(incremental, state);
}

#[test]
fn break_glass_authentication_on_a_check_out_is_reported() {
    let mut tablet = Tablet::new(1);
    let body = Body::CheckOut {
        device: device("TAB-1"),
        custodian: PersonAuth {
            staff: staff("N-1"),
            method: AuthMethod::BreakGlass,
        },
        ward: ward("4B"),
        shift: None,
        expected_return_ms: Some(T0 + 9 * HOUR),
        purpose: Some("drug round".to_owned()),
        issued_by: None,
    };
    let events = [tablet.sign(T0 + 8 * HOUR, body)];
    check(
        &events,
        T0 + 8 * HOUR,
        expect![[r#"
        TAB-1 InUse since +08:00 due +09:00 held by N-1
          N-1 BreakGlass e1 +08:00 -> open
        exceptions:
          TAB-1 +08:00 break_glass_used warning [e1] N-1: authenticated by break-glass
    "#]],
    );
}

#[test]
fn a_bulk_hand_out_opens_each_recipients_custody_authenticated_by_badge_only() {
    let mut tablet = Tablet::new(1);
    let hand_out = |device_id: &str, custodian: &str| {
        let mut body = check_out(device_id, custodian, Some("day"));
        if let Body::CheckOut {
            custodian,
            issued_by,
            ..
        } = &mut body
        {
            custodian.method = AuthMethod::Badge;
            *issued_by = Some(badge("C-1"));
        }
        body
    };
    let events = [
        tablet.sign(T0 + 7 * HOUR, hand_out("TAB-1", "N-1")),
        tablet.sign(T0 + 7 * HOUR + 1_000, hand_out("TAB-2", "N-2")),
    ];
    check(
        &events,
        T0 + 8 * HOUR,
        expect![[r#"
            TAB-1 InUse since +07:00 due +20:00 held by N-1
              N-1 Badge e1 +07:00 -> open
            TAB-2 InUse since +07:00 due +20:00 held by N-2
              N-2 Badge e2 +07:00 -> open
            exceptions:
        "#]],
    );
}

/// A late event in a long history is folded by rewinding to the checkpoint before it. Here a
/// missing report that sorts before the one already folded must win, as in a full fold: the
/// rewind restores the state of the checkpoint rather than keeping what the fold had reached.
#[test]
fn a_late_event_in_a_long_history_folds_as_if_it_had_come_in_order() {
    let mut tablet = Tablet::new(1);
    let mut other_tablet = Tablet::new(2);
    let report_missing = |person: &str| Body::ReportMissing {
        device: device("TAB-1"),
        reported_by: badge(person),
        note: None,
    };
    let mut events = Vec::new();
    for shift in 0..4 {
        events.push(tablet.sign(
            T0 + 2 * shift * HOUR,
            check_out("TAB-1", "N-1", Some("day")),
        ));
        events.push(tablet.sign(T0 + (2 * shift + 1) * HOUR, check_in("TAB-1", "N-1")));
    }
    events.push(tablet.sign(T0 + 9 * HOUR, report_missing("N-1")));
    events.push(tablet.sign(T0 + 10 * HOUR, report_missing("N-2")));
    let late = other_tablet.sign(T0 + 8 * HOUR + 30 * MINUTE, report_missing("N-3"));

    let mut incremental = CustodyState::new(
        SiteRules::default(),
        KeySet::new(),
        DeviceRegistry::default(),
    );
    incremental.apply_many(&events);
    incremental.apply(&late);
    events.push(late.clone());
    let folded = CustodyState::fold(
        SiteRules::default(),
        KeySet::new(),
        DeviceRegistry::default(),
        &events,
    );
    assert_eq!(incremental, folded);
    assert_eq!(
        folded
            .device(&device("TAB-1"))
            .and_then(|custody| custody.missing_report),
        Some(late.id()),
        "the earliest unanswered missing report is the device's"
    );
}
