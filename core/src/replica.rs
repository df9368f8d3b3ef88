//! A replica: an event log and the custody state folded from it, kept in step.
//!
//! The server and each tablet hold one. Every admitted event reaches the fold exactly once, so
//! the custody state always equals a full fold of the log's admitted events.

use crate::event::SignedEvent;
use crate::exceptions::Exception;
use crate::fold::CustodyState;
use crate::keys::KeySet;
use crate::log::{EventLog, InsertOutcome, LogError, MergeOutcome};
use crate::rules::{DeviceRegistry, SiteRules};
use crate::verify::{Rejection, VerifyOptions};

/// An event log with its custody fold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replica {
    log: EventLog,
    custody: CustodyState,
}

/// An event of a received batch with its position in the batch and its verification result.
struct VerifiedEvent {
    event_idx: usize,
    event: SignedEvent,
    verdict: Result<(), Rejection>,
}

/// What happened to one event offered to a replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceiveOutcome {
    Inserted(InsertOutcome),
    Rejected(Rejection),
    /// Verified, but the log's limit of held events is reached.
    Refused(LogError),
}

impl Replica {
    pub fn new(rules: SiteRules, keys: KeySet, registry: DeviceRegistry) -> Replica {
        Replica {
            log: EventLog::new(),
            custody: CustodyState::new(rules, keys, registry),
        }
    }

    /// A replica over an existing log, such as one loaded from storage, folded in one pass.
    pub fn from_log(
        log: EventLog,
        rules: SiteRules,
        keys: KeySet,
        registry: DeviceRegistry,
    ) -> Replica {
        let custody = CustodyState::fold(rules, keys, registry, log.admitted());
        Replica { log, custody }
    }

    pub fn log(&self) -> &EventLog {
        &self.log
    }

    pub fn custody(&self) -> &CustodyState {
        &self.custody
    }

    /// Inserts an event that has already been verified against this replica's key set.
    pub fn insert_verified(&mut self, event: SignedEvent) -> Result<InsertOutcome, LogError> {
        let outcome = self.log.insert(event)?;
        if let InsertOutcome::Admitted { newly_admitted, .. } = &outcome {
            for id in newly_admitted {
                let admitted = self.log.get(id).expect("admitted events are in the log");
                self.custody.apply(admitted);
            }
        }
        Ok(outcome)
    }

    /// Inserts many events that were already verified (for example read back from storage),
    /// folding them once at the end: one re-fold per device however many events land in the
    /// middle of its history. Returns one result per event, in input order.
    pub fn insert_verified_batch(
        &mut self,
        events: Vec<SignedEvent>,
    ) -> Vec<Result<InsertOutcome, LogError>> {
        let mut admitted_ids = Vec::new();
        let results: Vec<Result<InsertOutcome, LogError>> = events
            .into_iter()
            .map(|event| {
                let outcome = self.log.insert(event)?;
                if let InsertOutcome::Admitted { newly_admitted, .. } = &outcome {
                    admitted_ids.extend(newly_admitted.iter().copied());
                }
                Ok(outcome)
            })
            .collect();
        let log = &self.log;
        self.custody.apply_many(
            admitted_ids
                .iter()
                .map(|id| log.get(id).expect("admitted events are in the log")),
        );
        results
    }

    /// Verifies a batch (for example the events a tablet pushed) and inserts those that pass.
    /// Returns one outcome per event, in input order.
    pub fn receive_batch(
        &mut self,
        events: Vec<SignedEvent>,
        options: VerifyOptions,
    ) -> Vec<ReceiveOutcome> {
        let mut outcomes: Vec<Option<ReceiveOutcome>> = vec![None; events.len()];
        let mut new_event_indices = Vec::with_capacity(events.len());
        let mut new_events = Vec::with_capacity(events.len());
        for (event_idx, event) in events.into_iter().enumerate() {
            // Events already held skip the cryptography, so re-sending a chain is cheap.
            if self.log.contains(&event.id()) {
                outcomes[event_idx] = Some(ReceiveOutcome::Inserted(InsertOutcome::Duplicate));
            } else {
                new_event_indices.push(event_idx);
                new_events.push(event);
            }
        }
        let verdicts = self.custody.keys().verify_batch(&new_events, options);
        let verified = new_event_indices
            .into_iter()
            .zip(new_events)
            .zip(verdicts)
            .map(|((event_idx, event), verdict)| VerifiedEvent {
                event_idx,
                event,
                verdict,
            })
            .collect();
        self.insert_verdicts(outcomes, verified)
    }

    /// `receive_batch` with the verdicts already computed, for example by
    /// `KeySet::verify_batch` on another thread, before taking the lock this replica is behind.
    /// The caller vouches that each verdict came from this replica's key set and the options
    /// the events must meet; `verdicts[i]` is the verdict of `events[i]`.
    pub fn receive_verified_batch(
        &mut self,
        events: Vec<SignedEvent>,
        verdicts: Vec<Result<(), Rejection>>,
    ) -> Vec<ReceiveOutcome> {
        assert_eq!(events.len(), verdicts.len(), "one verdict per event");
        let mut outcomes: Vec<Option<ReceiveOutcome>> = vec![None; events.len()];
        let mut verified = Vec::with_capacity(events.len());
        for (event_idx, (event, verdict)) in events.into_iter().zip(verdicts).enumerate() {
            if self.log.contains(&event.id()) {
                outcomes[event_idx] = Some(ReceiveOutcome::Inserted(InsertOutcome::Duplicate));
            } else {
                verified.push(VerifiedEvent {
                    event_idx,
                    event,
                    verdict,
                });
            }
        }
        self.insert_verdicts(outcomes, verified)
    }

    /// Inserts the events that passed, in chain order, and fills in every outcome.
    fn insert_verdicts(
        &mut self,
        mut outcomes: Vec<Option<ReceiveOutcome>>,
        mut verified: Vec<VerifiedEvent>,
    ) -> Vec<ReceiveOutcome> {
        // A chain's events go in seq order, so that a pushed chain is admitted link by link.
        verified.sort_by(|left, right| {
            let left_key = (left.event.signer(), left.event.seq());
            left_key.cmp(&(right.event.signer(), right.event.seq()))
        });
        let mut passed_indices = Vec::with_capacity(verified.len());
        let mut passed = Vec::with_capacity(verified.len());
        for VerifiedEvent {
            event_idx,
            event,
            verdict,
        } in verified
        {
            match verdict {
                Err(rejection) => outcomes[event_idx] = Some(ReceiveOutcome::Rejected(rejection)),
                Ok(()) => {
                    passed_indices.push(event_idx);
                    passed.push(event);
                }
            }
        }
        for (event_idx, result) in passed_indices
            .into_iter()
            .zip(self.insert_verified_batch(passed))
        {
            outcomes[event_idx] = Some(match result {
                Ok(outcome) => ReceiveOutcome::Inserted(outcome),
                Err(error) => ReceiveOutcome::Refused(error),
            });
        }
        outcomes
            .into_iter()
            .map(|outcome| outcome.expect("every event has an outcome"))
            .collect()
    }

    /// Adds every event of another replica's log. The other log's events are trusted as
    /// verified, which holds for logs built through `insert_verified` and `receive_batch`.
    pub fn merge(&mut self, other: &EventLog) -> MergeOutcome {
        let outcome = self.log.merge(other);
        for id in &outcome.newly_admitted {
            let admitted = self.log.get(id).expect("admitted events are in the log");
            self.custody.apply(admitted);
        }
        outcome
    }

    /// Replaces the key set (for example after a revocation) and re-folds.
    pub fn set_keys(&mut self, keys: KeySet) {
        self.custody.set_keys(keys);
    }

    /// Replaces the device registry (home wards) and re-folds.
    pub fn set_registry(&mut self, registry: DeviceRegistry) {
        self.custody.set_registry(registry);
    }

    /// Replaces the site rules (shifts, grace, tolerances) and re-folds: expected returns and
    /// the exceptions they raise depend on them.
    pub fn set_rules(&mut self, rules: SiteRules) {
        self.custody.set_rules(rules);
    }

    /// Every exception at `now_ms`: the custody history's and the log's (forks and persistent
    /// gaps), sorted by device, kind and evidence.
    pub fn exceptions(&self, now_ms: u64) -> Vec<Exception> {
        let mut exceptions = self.custody.exceptions(now_ms);
        exceptions.extend(
            self.log
                .exceptions(now_ms, self.custody.rules().persistent_gap_after_ms),
        );
        exceptions.sort();
        exceptions
    }
}
