//! The event log: a grow-only set of verified events with per-signer hash chains.
//!
//! Replicas exchange events in any order and any grouping, so admission is defined on the set,
//! not on arrival: an event is admitted (visible to the custody fold) when it is the first of its
//! signer's chain (`seq` 1, `prev` null) or when the admitted event its `prev` names is the same
//! signer's event at `seq - 1`. Everything else is held until its predecessor arrives. Two logs
//! holding the same events therefore admit the same events, whatever the order of arrival, which
//! makes `merge` commutative, associative and idempotent.

use std::collections::{BTreeMap, BTreeSet};

use thiserror::Error;

use crate::event::{ChainHead, SignedEvent};
use crate::exceptions::{Exception, ExceptionKind, Severity};
use crate::ids::{EventId, SignerKey};

/// How many held (not yet admitted) events a log keeps by default. A tablet syncs its chain in
/// order, so gaps are short-lived; a large backlog means something is wrong upstream.
pub const DEFAULT_MAX_HELD_EVENTS: usize = 10_000;

/// Why the log refused an event.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LogError {
    #[error(
        "event {id}: {max_held} events are already held waiting for predecessors; the limit is reached"
    )]
    HeldLimitReached { id: EventId, max_held: usize },
}

/// What inserting one event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InsertOutcome {
    /// The log already held the event.
    Duplicate,
    /// The event was admitted, and with it the held events it completed, in chain order.
    Admitted {
        newly_admitted: Vec<EventId>,
        forks_with: Vec<EventId>,
    },
    /// The event is held until `missing_prev` is admitted.
    Held {
        missing_prev: EventId,
        forks_with: Vec<EventId>,
    },
}

/// What merging another log did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MergeOutcome {
    pub newly_admitted: Vec<EventId>,
    pub newly_held: Vec<EventId>,
    /// Events refused because the held limit was reached. Merges stay order-independent as long
    /// as this is empty.
    pub refused: Vec<LogError>,
}

/// Two or more events signed by the same signer with the same seq.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fork {
    pub signer: SignerKey,
    pub seq: u64,
    pub ids: Vec<EventId>,
}

/// A grow-only set of verified events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventLog {
    events: BTreeMap<EventId, SignedEvent>,
    /// For each signer, the ids at each seq: more than one id at a seq is a fork.
    chains: BTreeMap<SignerKey, BTreeMap<u64, Vec<EventId>>>,
    admitted: BTreeSet<EventId>,
    max_held: usize,
}

impl Default for EventLog {
    fn default() -> EventLog {
        EventLog::with_max_held(DEFAULT_MAX_HELD_EVENTS)
    }
}

impl EventLog {
    pub fn new() -> EventLog {
        EventLog::default()
    }

    pub fn with_max_held(max_held: usize) -> EventLog {
        EventLog {
            events: BTreeMap::new(),
            chains: BTreeMap::new(),
            admitted: BTreeSet::new(),
            max_held,
        }
    }

    /// Adds a verified event. Only events that passed `KeySet::verify` or `verify_batch` belong
    /// here; the log checks chain structure, not signatures.
    pub fn insert(&mut self, event: SignedEvent) -> Result<InsertOutcome, LogError> {
        let id = event.id();
        if let Some(held) = self.events.get_mut(&id) {
            // The signer can produce several valid signatures over the same content. Keeping the
            // smallest makes the stored bytes independent of arrival order.
            if event.signature_bytes() < held.signature_bytes() {
                *held = event;
            }
            return Ok(InsertOutcome::Duplicate);
        }
        let signer = *event.signer();
        let seq = event.seq();
        let admissible = match event.prev() {
            None => true,
            Some(prev) => self.is_admitted_predecessor(&signer, seq, &prev),
        };
        if !admissible && self.held_count() >= self.max_held {
            return Err(LogError::HeldLimitReached {
                id,
                max_held: self.max_held,
            });
        }
        let prev = event.prev();
        self.events.insert(id, event);
        let ids_at_seq = self
            .chains
            .entry(signer)
            .or_default()
            .entry(seq)
            .or_default();
        let forks_with: Vec<EventId> = ids_at_seq.clone();
        let position = ids_at_seq.binary_search(&id).unwrap_err();
        ids_at_seq.insert(position, id);
        if !admissible {
            let missing_prev = prev.expect("an event without prev is always admissible");
            return Ok(InsertOutcome::Held {
                missing_prev,
                forks_with,
            });
        }
        Ok(InsertOutcome::Admitted {
            newly_admitted: self.admit_with_successors(id),
            forks_with,
        })
    }

    /// Admits `id` and every held event that it completes, in chain order.
    fn admit_with_successors(&mut self, id: EventId) -> Vec<EventId> {
        let mut newly_admitted = Vec::new();
        let mut pending = vec![id];
        while let Some(admitted_id) = pending.pop() {
            self.admitted.insert(admitted_id);
            newly_admitted.push(admitted_id);
            let event = &self.events[&admitted_id];
            let successors = self.chains[event.signer()].get(&(event.seq() + 1));
            for successor_id in successors.into_iter().flatten() {
                if !self.admitted.contains(successor_id)
                    && self.events[successor_id].prev() == Some(admitted_id)
                {
                    pending.push(*successor_id);
                }
            }
        }
        newly_admitted
    }

    /// Adds every event of `other`.
    ///
    /// Events go in chain order (by signer, then seq), so a complete chain is admitted link by
    /// link and never counts against the held limit.
    pub fn merge(&mut self, other: &EventLog) -> MergeOutcome {
        let mut outcome = MergeOutcome::default();
        for ids_by_seq in other.chains.values() {
            for id in ids_by_seq.values().flatten() {
                match self.insert(other.events[id].clone()) {
                    Ok(InsertOutcome::Duplicate) => {}
                    Ok(InsertOutcome::Admitted { newly_admitted, .. }) => {
                        outcome.newly_admitted.extend(newly_admitted)
                    }
                    Ok(InsertOutcome::Held { .. }) => outcome.newly_held.push(*id),
                    Err(error) => outcome.refused.push(error),
                }
            }
        }
        // Events held earlier in this merge may have been admitted by later ones.
        outcome.newly_held.retain(|id| !self.admitted.contains(id));
        outcome
    }

    /// Whether `prev` is the admitted event of `signer` at `seq - 1`.
    pub fn is_admitted_predecessor(&self, signer: &SignerKey, seq: u64, prev: &EventId) -> bool {
        self.admitted.contains(prev)
            && self
                .events
                .get(prev)
                .is_some_and(|event| event.signer() == signer && event.seq() + 1 == seq)
    }

    pub fn contains(&self, id: &EventId) -> bool {
        self.events.contains_key(id)
    }

    pub fn get(&self, id: &EventId) -> Option<&SignedEvent> {
        self.events.get(id)
    }

    pub fn is_admitted(&self, id: &EventId) -> bool {
        self.admitted.contains(id)
    }

    /// The ids the log holds for `signer` at `seq`, sorted.
    pub fn ids_at(&self, signer: &SignerKey, seq: u64) -> &[EventId] {
        self.chains
            .get(signer)
            .and_then(|ids_by_seq| ids_by_seq.get(&seq))
            .map_or(&[], Vec::as_slice)
    }

    /// All events, admitted or held, by id.
    pub fn events(&self) -> impl Iterator<Item = &SignedEvent> {
        self.events.values()
    }

    /// The admitted events: those the custody fold sees.
    pub fn admitted(&self) -> impl Iterator<Item = &SignedEvent> {
        self.admitted.iter().map(|id| &self.events[id])
    }

    /// The events held waiting for a predecessor.
    pub fn held(&self) -> impl Iterator<Item = &SignedEvent> {
        self.events
            .iter()
            .filter(|(id, _)| !self.admitted.contains(id))
            .map(|(_, event)| event)
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    pub fn held_count(&self) -> usize {
        self.events.len() - self.admitted.len()
    }

    /// A signer's events in chain order, for sending a peer what it lacks.
    pub fn chain(&self, signer: &SignerKey) -> impl Iterator<Item = &SignedEvent> {
        self.chains
            .get(signer)
            .into_iter()
            .flat_map(|ids_by_seq| ids_by_seq.values().flatten())
            .map(|id| &self.events[id])
    }

    /// The admitted event with the highest seq of `signer`: where a tablet restored from the
    /// server continues its chain. On a fork the smallest id is chosen.
    pub fn chain_head(&self, signer: &SignerKey) -> Option<ChainHead> {
        let ids_by_seq = self.chains.get(signer)?;
        ids_by_seq
            .values()
            .rev()
            .flatten()
            .find(|id| self.admitted.contains(id))
            .map(|id| self.events[id].chain_head())
    }

    /// Every seq at which a signer signed more than one event.
    pub fn forks(&self) -> Vec<Fork> {
        let mut forks = Vec::new();
        for (signer, ids_by_seq) in &self.chains {
            for (seq, ids) in ids_by_seq.iter().filter(|(_, ids)| ids.len() > 1) {
                forks.push(Fork {
                    signer: *signer,
                    seq: *seq,
                    ids: ids.clone(),
                });
            }
        }
        forks
    }

    pub fn forked_signers(&self) -> BTreeSet<SignerKey> {
        self.forks().into_iter().map(|fork| fork.signer).collect()
    }

    /// Exceptions that belong to the log rather than to a device's history: forks, and held
    /// events whose hybrid clock is more than `persistent_gap_after_ms` behind `now_ms`.
    pub fn exceptions(&self, now_ms: u64, persistent_gap_after_ms: u64) -> Vec<Exception> {
        let mut exceptions = Vec::new();
        for fork in self.forks() {
            let device = self.events[&fork.ids[0]].body().device();
            let at_ms = fork
                .ids
                .iter()
                .map(|id| self.events[id].hlc().ms)
                .min()
                .expect("a fork has events");
            exceptions.push(
                Exception::about_device(
                    device,
                    at_ms,
                    ExceptionKind::ForkDetected,
                    Severity::Critical,
                )
                .with_evidence(fork.ids.iter().copied())
                .with_signer(fork.signer)
                .with_detail(format!(
                    "signer signed {} different events with seq {}",
                    fork.ids.len(),
                    fork.seq
                )),
            );
        }
        for event in self.held() {
            if now_ms.saturating_sub(event.hlc().ms) > persistent_gap_after_ms {
                let missing = event.prev().expect("held events always have a predecessor");
                exceptions.push(
                    Exception::about_device(
                        event.body().device(),
                        event.hlc().ms,
                        ExceptionKind::PersistentGap,
                        Severity::Warning,
                    )
                    .with_evidence([event.id()])
                    .with_people(event.body().people())
                    .with_signer(*event.signer())
                    .with_detail(format!(
                        "waiting for seq {} (event {missing})",
                        event.seq() - 1
                    )),
                );
            }
        }
        exceptions.sort();
        exceptions
    }
}
