//! Convergence properties: replicas that receive the same events, in any order, grouping and
//! multiplicity, end with the same log, the same custody state and the same exceptions; and the
//! incremental fold equals the full fold.

use baton_core::{
    Body, DeviceRegistry, EventLog, KeySet, Replica, SignedEvent, SiteRules, UnsignedEvent,
};
use proptest::prelude::*;

use crate::common::*;

const N_TABLETS: usize = 3;
const DEVICES: [&str; 3] = ["TAB-1", "TAB-2", "TAB-3"];
const PEOPLE: [&str; 4] = ["N-1", "N-2", "N-3", "N-4"];

/// One step of a generated history.
#[derive(Debug, Clone)]
struct Step {
    /// Which tablet signs; `N_TABLETS` means the authority.
    signer_idx: usize,
    device_idx: usize,
    person_idx: usize,
    other_person_idx: usize,
    kind: u8,
    advance_minutes: u64,
    /// Before signing, the signer syncs with this many of the latest events.
    sync_latest: usize,
    /// Sign from the previous chain head too, creating a fork.
    fork: bool,
    /// Pick for the corrected event, as an index modulo the events so far.
    target_pick: usize,
}

fn step_strategy() -> impl Strategy<Value = Step> {
    (
        0..=N_TABLETS,
        0..DEVICES.len(),
        0..PEOPLE.len(),
        0..PEOPLE.len(),
        0u8..12,
        0u64..60,
        0usize..4,
        prop::bool::weighted(0.05),
        any::<usize>(),
    )
        .prop_map(
            |(
                signer_idx,
                device_idx,
                person_idx,
                other_person_idx,
                kind,
                advance_minutes,
                sync_latest,
                fork,
                target_pick,
            )| Step {
                signer_idx,
                device_idx,
                person_idx,
                other_person_idx,
                kind,
                advance_minutes,
                sync_latest,
                fork,
                target_pick,
            },
        )
}

fn body_for(step: &Step, events: &[SignedEvent]) -> Body {
    let device_id = DEVICES[step.device_idx];
    let person = PEOPLE[step.person_idx];
    let other = PEOPLE[step.other_person_idx];
    let the_device = device(device_id);
    match step.kind {
        0 | 1 => check_out(
            device_id,
            person,
            if step.kind == 0 { Some("day") } else { None },
        ),
        2 | 3 => check_in(device_id, person),
        4 => transfer(device_id, person, other),
        5 => Body::ReportMissing {
            device: the_device,
            reported_by: badge(person),
            note: None,
        },
        6 => Body::ReportFound {
            device: the_device,
            found_by: badge(person),
            ward: ward("ED"),
            note: None,
        },
        7 => break_glass(device_id, person),
        8 => Body::Lockout {
            device: the_device,
            custodian: step.person_idx.is_multiple_of(2).then(|| staff(person)),
            idle_minutes: 10,
        },
        9 if !events.is_empty() => {
            // Mostly corrections of an event of the same device; when there is none, of another
            // device's event, which has no effect.
            let same_device: Vec<&SignedEvent> = events
                .iter()
                .filter(|event| event.body().device() == &the_device)
                .collect();
            let target = match same_device.len() {
                0 => &events[step.target_pick % events.len()],
                n_candidates => same_device[step.target_pick % n_candidates],
            };
            correction(device_id, target.id(), person)
        }
        10 => Body::Quarantine {
            device: the_device,
            by: staff(person),
            note: "check".to_owned(),
        },
        _ => Body::Release {
            device: the_device,
            by: staff(person),
            note: "ok".to_owned(),
        },
    }
}

/// How far behind the shared wall time each signer's clock runs, in minutes. Lagging clocks
/// make events sort before events they know of, such as a correction before its target.
fn clock_lags_strategy() -> impl Strategy<Value = [u64; N_TABLETS + 1]> {
    prop::array::uniform4(prop_oneof![Just(0u64), 1u64..90])
}

/// Signs the history a script describes. Returns the events and the key set.
fn build_history(
    steps: &[Step],
    clock_lags_minutes: [u64; N_TABLETS + 1],
) -> (Vec<SignedEvent>, KeySet) {
    let mut signers: Vec<Tablet> = (1..=N_TABLETS as u8 + 1).map(Tablet::new).collect();
    let tablet_refs: Vec<&Tablet> = signers[..N_TABLETS].iter().collect();
    let keys = key_set(&tablet_refs, &[&signers[N_TABLETS]]);
    let mut events: Vec<SignedEvent> = Vec::new();
    let mut wall_ms = T0;
    for step in steps {
        wall_ms += step.advance_minutes * MINUTE;
        let signer = &mut signers[step.signer_idx];
        let wall_ms = wall_ms + 90 * MINUTE - clock_lags_minutes[step.signer_idx] * MINUTE;
        for event in events.iter().rev().take(step.sync_latest) {
            signer.receive(event, wall_ms);
        }
        let body = body_for(step, &events);
        if let (true, Some(head)) = (step.fork, signer.head) {
            let previous = events
                .iter()
                .find(|event| event.signer() == &signer.signer && event.seq() + 1 == head.seq);
            let fork_head = previous.map(SignedEvent::chain_head);
            let unsigned = UnsignedEvent::next(
                signer.signer,
                fork_head,
                signer.clock,
                wall_ms,
                body.clone(),
            )
            .unwrap();
            let forked = unsigned.sign(&signer.key).unwrap();
            signer.clock = forked.hlc();
            events.push(forked);
        }
        events.push(signer.sign(wall_ms, body));
    }
    (events, keys)
}

/// A small deterministic generator for shuffles, seeded by proptest.
struct Shuffler(u64);

impl Shuffler {
    fn next(&mut self, bound: usize) -> usize {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % bound as u64) as usize
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for item_idx in (1..items.len()).rev() {
            items.swap(item_idx, self.next(item_idx + 1));
        }
    }
}

fn new_replica(keys: &KeySet) -> Replica {
    Replica::new(
        SiteRules::default(),
        keys.clone(),
        DeviceRegistry::default(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn replicas_converge_whatever_the_order_grouping_and_duplication(
        steps in prop::collection::vec(step_strategy(), 1..40),
        clock_lags_minutes in clock_lags_strategy(),
        shuffle_seed in 1u64..,
        n_replicas in 1usize..5,
        drop_pick in prop::option::of(any::<usize>()),
    ) {
        let (mut events, keys) = build_history(&steps, clock_lags_minutes);
        // Sometimes one event never arrives anywhere, leaving a gap in its chain.
        if let Some(drop_pick) = drop_pick {
            events.remove(drop_pick % events.len());
        }
        let mut shuffler = Shuffler(shuffle_seed);

        // Reference: one replica folding the whole set at once.
        let mut reference_log = EventLog::new();
        for event in &events {
            reference_log.insert(event.clone()).unwrap();
        }
        let reference = Replica::from_log(reference_log.clone(), SiteRules::default(), keys.clone(), DeviceRegistry::default());

        // Deal each event to one or more replicas, shuffled, some twice.
        let mut replicas: Vec<Replica> = (0..n_replicas).map(|_| new_replica(&keys)).collect();
        let mut deliveries: Vec<(usize, SignedEvent)> = Vec::new();
        for event in &events {
            deliveries.push((shuffler.next(n_replicas), event.clone()));
            if shuffler.next(4) == 0 {
                deliveries.push((shuffler.next(n_replicas), event.clone()));
            }
        }
        shuffler.shuffle(&mut deliveries);
        for (replica_idx, event) in deliveries {
            replicas[replica_idx].insert_verified(event).unwrap();
        }

        // Merge the replicas in a random binary grouping.
        while replicas.len() > 1 {
            let left = replicas.swap_remove(shuffler.next(replicas.len()));
            let right_idx = shuffler.next(replicas.len());
            replicas[right_idx].merge(left.log());
        }
        let merged = replicas.pop().unwrap();
        prop_assert_eq!(merged.log(), reference.log());
        prop_assert_eq!(merged.custody(), reference.custody());
        for now_ms in [T0, T0 + 12 * HOUR, T0 + 72 * HOUR] {
            prop_assert_eq!(merged.exceptions(now_ms), reference.exceptions(now_ms));
        }
        prop_assert_eq!(merged.custody().ended_custodies(), reference.custody().ended_custodies());
    }

    #[test]
    fn merge_is_commutative_associative_and_idempotent(
        steps in prop::collection::vec(step_strategy(), 1..30),
        clock_lags_minutes in clock_lags_strategy(),
        shuffle_seed in 1u64..,
    ) {
        let (events, keys) = build_history(&steps, clock_lags_minutes);
        let mut shuffler = Shuffler(shuffle_seed);
        let mut parts: Vec<Replica> = (0..3).map(|_| new_replica(&keys)).collect();
        for event in &events {
            // An event may reach any subset of the three replicas, including none of them.
            for part in parts.iter_mut() {
                if shuffler.next(2) == 0 {
                    part.insert_verified(event.clone()).unwrap();
                }
            }
        }
        let merged = |first: &Replica, second: &Replica| {
            let mut result = first.clone();
            result.merge(second.log());
            result
        };
        let (a, b, c) = (&parts[0], &parts[1], &parts[2]);
        prop_assert_eq!(merged(a, b), merged(b, a));
        prop_assert_eq!(merged(&merged(a, b), c), merged(a, &merged(b, c)));
        prop_assert_eq!(&merged(a, a), a);
        let ab = merged(a, b);
        prop_assert_eq!(merged(&ab, b), ab);
    }

    #[test]
    fn incremental_apply_equals_the_full_fold(
        steps in prop::collection::vec(step_strategy(), 1..40),
        clock_lags_minutes in clock_lags_strategy(),
        shuffle_seed in 1u64..,
    ) {
        let (mut events, keys) = build_history(&steps, clock_lags_minutes);
        let folded = baton_core::CustodyState::fold(SiteRules::default(), keys.clone(), DeviceRegistry::default(), &events);
        Shuffler(shuffle_seed).shuffle(&mut events);
        let mut incremental = baton_core::CustodyState::new(SiteRules::default(), keys, DeviceRegistry::default());
        for event in &events {
            incremental.apply(event);
        }
        prop_assert_eq!(&incremental, &folded);
        prop_assert_eq!(incremental.exceptions(T0 + 24 * HOUR), folded.exceptions(T0 + 24 * HOUR));
    }

    /// What a server does with pushes: the shuffled history arrives in batches of any size,
    /// each folded at once (one re-fold per device per batch). The result is the full fold.
    #[test]
    fn batched_apply_equals_the_full_fold(
        steps in prop::collection::vec(step_strategy(), 1..40),
        clock_lags_minutes in clock_lags_strategy(),
        shuffle_seed in 1u64..,
        batch_size in 1usize..12,
    ) {
        let (mut events, keys) = build_history(&steps, clock_lags_minutes);
        let folded = baton_core::CustodyState::fold(SiteRules::default(), keys.clone(), DeviceRegistry::default(), &events);
        Shuffler(shuffle_seed).shuffle(&mut events);
        let mut batched = baton_core::CustodyState::new(SiteRules::default(), keys, DeviceRegistry::default());
        for batch in events.chunks(batch_size) {
            batched.apply_many(batch);
        }
        prop_assert_eq!(&batched, &folded);
        prop_assert_eq!(batched.exceptions(T0 + 24 * HOUR), folded.exceptions(T0 + 24 * HOUR));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Long histories, so that each device passes many fold checkpoints: events that land in
    /// the middle rewind to the checkpoint before them, and the result is still the full fold,
    /// whether they arrive in batches or one at a time.
    #[test]
    fn rewinding_to_a_checkpoint_equals_the_full_fold(
        steps in prop::collection::vec(step_strategy(), 60..160),
        clock_lags_minutes in clock_lags_strategy(),
        shuffle_seed in 1u64..,
        batch_size in 1usize..24,
    ) {
        let (mut events, keys) = build_history(&steps, clock_lags_minutes);
        let folded = baton_core::CustodyState::fold(SiteRules::default(), keys.clone(), DeviceRegistry::default(), &events);
        // Mostly in order with some shuffled: as pushes from tablets that were briefly apart.
        let tail = events.split_off(events.len() / 2);
        let mut late = tail;
        Shuffler(shuffle_seed).shuffle(&mut late);
        let mut batched = baton_core::CustodyState::new(SiteRules::default(), keys.clone(), DeviceRegistry::default());
        let mut one_by_one = baton_core::CustodyState::new(SiteRules::default(), keys, DeviceRegistry::default());
        for batch in events.chunks(batch_size).chain(late.chunks(batch_size)) {
            batched.apply_many(batch);
            for event in batch {
                one_by_one.apply(event);
            }
        }
        prop_assert_eq!(&batched, &folded);
        prop_assert_eq!(&one_by_one, &folded);
        prop_assert_eq!(batched.exceptions(T0 + 24 * HOUR), folded.exceptions(T0 + 24 * HOUR));
        prop_assert_eq!(one_by_one.exceptions(T0 + 24 * HOUR), folded.exceptions(T0 + 24 * HOUR));
    }
}
