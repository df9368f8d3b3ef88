//! The event log: set-based admission, gaps, forks and the held limit.

use baton_core::{EventLog, ExceptionKind, InsertOutcome, LogError, SignedEvent, UnsignedEvent};

use crate::common::*;
use crate::verify::chain;

#[test]
fn held_events_are_admitted_with_their_predecessor_in_chain_order() {
    let mut tablet = Tablet::new(1);
    let events = chain(&mut tablet, 4);
    let mut log = EventLog::new();
    for event in [&events[3], &events[2]] {
        assert!(matches!(
            log.insert(event.clone()),
            Ok(InsertOutcome::Held { .. })
        ));
    }
    assert_eq!(log.held_count(), 2);
    assert_eq!(
        log.insert(events[0].clone()),
        Ok(InsertOutcome::Admitted {
            newly_admitted: vec![events[0].id()],
            forks_with: vec![]
        })
    );
    let outcome = log.insert(events[1].clone()).unwrap();
    let expected: Vec<_> = events[1..].iter().map(SignedEvent::id).collect();
    assert_eq!(
        outcome,
        InsertOutcome::Admitted {
            newly_admitted: expected,
            forks_with: vec![]
        }
    );
    assert_eq!(log.held_count(), 0);
    assert_eq!(log.chain_head(&tablet.signer), Some(events[3].chain_head()));
    assert_eq!(log.insert(events[1].clone()), Ok(InsertOutcome::Duplicate));
}

#[test]
fn a_truncated_chain_leaves_a_gap_that_becomes_persistent() {
    let mut tablet = Tablet::new(1);
    let events = chain(&mut tablet, 4);
    let mut log = EventLog::new();
    for event in [&events[0], &events[1], &events[3]] {
        log.insert(event.clone()).unwrap();
    }
    let held: Vec<_> = log.held().map(SignedEvent::id).collect();
    assert_eq!(held, [events[3].id()]);
    assert_eq!(log.admitted().count(), 2);
    let threshold = HOUR;
    let held_at = events[3].hlc().ms;
    assert!(log.exceptions(held_at + threshold, threshold).is_empty());
    let exceptions = log.exceptions(held_at + threshold + 1, threshold);
    assert_eq!(exceptions.len(), 1);
    assert_eq!(
        (exceptions[0].kind, &exceptions[0].evidence),
        (ExceptionKind::PersistentGap, &vec![events[3].id()])
    );
    assert_eq!(
        exceptions[0].detail,
        format!("waiting for seq 3 (event {})", events[2].id())
    );
}

#[test]
fn both_sides_of_a_fork_are_admitted_and_reported() {
    let mut tablet = Tablet::new(1);
    let first = tablet.sign(T0, check_out("TAB-1", "N-1", None));
    let honest = tablet.sign(T0 + MINUTE, check_in("TAB-1", "N-1"));
    let unsigned = UnsignedEvent::next(
        tablet.signer,
        Some(first.chain_head()),
        first.hlc(),
        T0 + MINUTE,
        check_out("TAB-1", "N-2", None),
    )
    .unwrap();
    let other_branch = unsigned.sign(&tablet.key).unwrap();
    let continuation = tablet.sign(T0 + 2 * MINUTE, check_out("TAB-1", "N-3", None));
    let mut log = EventLog::new();
    log.insert(first).unwrap();
    log.insert(continuation.clone()).unwrap();
    log.insert(honest.clone()).unwrap();
    let outcome = log.insert(other_branch.clone()).unwrap();
    assert_eq!(
        outcome,
        InsertOutcome::Admitted {
            newly_admitted: vec![other_branch.id()],
            forks_with: vec![honest.id()]
        }
    );
    assert!(log.is_admitted(&continuation.id()));
    assert_eq!(
        log.forked_signers().into_iter().collect::<Vec<_>>(),
        [tablet.signer]
    );
    let exceptions = log.exceptions(T0, HOUR);
    assert_eq!(exceptions.len(), 1);
    assert_eq!(exceptions[0].kind, ExceptionKind::ForkDetected);
    let mut expected = vec![honest.id(), other_branch.id()];
    expected.sort();
    assert_eq!(exceptions[0].evidence, expected);
}

#[test]
fn the_held_limit_refuses_further_orphans_but_not_admissible_events() {
    let mut tablet = Tablet::new(1);
    let events = chain(&mut tablet, 5);
    let mut log = EventLog::with_max_held(2);
    log.insert(events[2].clone()).unwrap();
    log.insert(events[3].clone()).unwrap();
    assert_eq!(
        log.insert(events[4].clone()),
        Err(LogError::HeldLimitReached {
            id: events[4].id(),
            max_held: 2
        })
    );
    assert!(!log.contains(&events[4].id()));
    log.insert(events[0].clone()).unwrap();
    log.insert(events[1].clone()).unwrap();
    assert_eq!(log.held_count(), 0);
    assert!(log.insert(events[4].clone()).is_ok());
}

#[test]
fn the_smallest_signature_wins_whatever_the_arrival_order() {
    let mut tablet = Tablet::new(1);
    let event = tablet.sign(T0, check_out("TAB-1", "N-1", None));
    let mut larger_signature = *event.signature_bytes();
    larger_signature[63] = 0xff;
    let mut smaller_signature = larger_signature;
    smaller_signature[0] = 0;
    let larger = SignedEvent::from_parts(event.unsigned().clone(), larger_signature).unwrap();
    let smaller = SignedEvent::from_parts(event.unsigned().clone(), smaller_signature).unwrap();
    let mut first_order = EventLog::new();
    first_order.insert(larger.clone()).unwrap();
    first_order.insert(smaller.clone()).unwrap();
    let mut second_order = EventLog::new();
    second_order.insert(smaller.clone()).unwrap();
    second_order.insert(larger).unwrap();
    assert_eq!(first_order, second_order);
    assert_eq!(
        first_order.get(&event.id()).unwrap().signature_bytes(),
        smaller.signature_bytes()
    );
}

#[test]
fn merge_reports_what_it_admitted_and_held() {
    let mut tablet = Tablet::new(1);
    let events = chain(&mut tablet, 4);
    let mut source = EventLog::new();
    for event in &events[1..] {
        source.insert(event.clone()).unwrap();
    }
    let mut target = EventLog::new();
    let outcome = target.merge(&source);
    assert!(outcome.newly_admitted.is_empty());
    assert_eq!(outcome.newly_held.len(), 3);
    let mut first = EventLog::new();
    first.insert(events[0].clone()).unwrap();
    let outcome = target.merge(&first);
    assert_eq!(
        outcome.newly_admitted,
        events.iter().map(SignedEvent::id).collect::<Vec<_>>()
    );
    assert_eq!(
        target.merge(&source),
        Default::default(),
        "merging again changes nothing"
    );
}
