//! The replay of one device's history, in full or one event at a time.
//!
//! A device's events are replayed in fold order, `(hlc, signer, seq, id)`, a total order that
//! every replica computes identically from the event set alone.

use crate::body::Body;
use crate::corrections::Corrections;
use crate::custody_step::{CustodyStep, signer_exceptions};
use crate::event::SignedEvent;
use crate::exceptions::{Exception, ExceptionKind, Severity};
use crate::hlc::Hlc;
use crate::ids::{DeviceId, EventId, SignerKey};
use crate::keys::KeySet;
use crate::rules::{DeviceRegistry, SiteRules};
use crate::state::{CorrectionRecord, CustodyMark, DeviceCustody};

/// The part of a signed event the fold needs: everything but the signature and the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FoldEvent {
    pub(crate) id: EventId,
    pub(crate) signer: SignerKey,
    pub(crate) seq: u64,
    pub(crate) hlc: Hlc,
    pub(crate) wall_ms: u64,
    pub(crate) body: Body,
}

impl FoldEvent {
    pub(crate) fn from_signed(event: &SignedEvent) -> FoldEvent {
        FoldEvent {
            id: event.id(),
            signer: *event.signer(),
            seq: event.seq(),
            hlc: event.hlc(),
            wall_ms: event.wall_ms(),
            body: event.body().clone(),
        }
    }

    pub(crate) fn order_key(&self) -> (Hlc, &SignerKey, u64, &EventId) {
        (self.hlc, &self.signer, self.seq, &self.id)
    }
}

/// The inputs of the fold besides the events.
#[derive(Clone, Copy)]
pub(crate) struct FoldContext<'a> {
    pub(crate) rules: &'a SiteRules,
    pub(crate) keys: &'a KeySet,
    pub(crate) registry: &'a DeviceRegistry,
}

/// How many events apart a device's fold keeps a checkpoint. An event that lands in the middle
/// of a history (a tablet that was offline, or two tablets pushing at once) is folded by
/// rewinding to the checkpoint before it and replaying at most this many events more than
/// those after it. Each checkpoint costs a few dozen bytes, since it copies no interval.
pub(crate) const CHECKPOINT_EVERY: usize = 8;

/// One device's events in fold order and what they add up to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DeviceHistory {
    pub(crate) events: Vec<FoldEvent>,
    pub(crate) custody: DeviceCustody,
    /// Exceptions found while replaying; the time-dependent ones are added at query time.
    pub(crate) exceptions: Vec<Exception>,
    pub(crate) corrections: Corrections,
    checkpoints: Checkpoints,
}

/// The state before `events[next_event]` was stepped.
#[derive(Debug, Clone)]
struct Checkpoint {
    next_event: usize,
    custody: CustodyMark,
    exceptions_len: usize,
}

/// The checkpoints of a history, in event order. They are derived from the events, so two
/// histories of the same events are equal whatever checkpoints they happen to hold.
#[derive(Debug, Clone, Default)]
struct Checkpoints(Vec<Checkpoint>);

impl PartialEq for Checkpoints {
    fn eq(&self, _other: &Checkpoints) -> bool {
        true
    }
}

impl Eq for Checkpoints {}

impl DeviceHistory {
    pub(crate) fn new(device: DeviceId) -> DeviceHistory {
        DeviceHistory {
            events: Vec::new(),
            custody: DeviceCustody::new(device),
            exceptions: Vec::new(),
            corrections: Corrections::default(),
            checkpoints: Checkpoints::default(),
        }
    }

    /// Builds a history from events in any order; duplicates are dropped.
    pub(crate) fn from_events(
        device: DeviceId,
        mut events: Vec<FoldEvent>,
        context: FoldContext<'_>,
    ) -> DeviceHistory {
        events.sort_unstable_by(|left, right| left.order_key().cmp(&right.order_key()));
        events.dedup_by(|right, left| left.id == right.id);
        let mut history = DeviceHistory::new(device);
        history.events = events;
        history.replay(context);
        history
    }

    /// Adds one admitted event.
    pub(crate) fn insert(&mut self, event: FoldEvent, context: FoldContext<'_>) {
        self.insert_many(vec![event], context);
    }

    /// Inserts several events at once. Events that sort after everything held are stepped in
    /// order. If one lands in the middle of the history, the fold rewinds to the checkpoint
    /// before the earliest such event and replays from there, once for the whole batch. A
    /// correction, or an event a held correction names, changes which events take effect
    /// anywhere in the history, so it replays the whole device. Each path gives the result of
    /// a full replay by construction: a step depends only on the steps before it.
    pub(crate) fn insert_many(&mut self, mut events: Vec<FoldEvent>, context: FoldContext<'_>) {
        events.sort_by(|left, right| left.order_key().cmp(&right.order_key()));
        let folded_len = self.events.len();
        let mut touches_corrections = false;
        // The smallest position an event was inserted at: every event before it is unchanged.
        let mut first_changed: Option<usize> = None;
        for event in events {
            let position = match self
                .events
                .binary_search_by(|held| held.order_key().cmp(&event.order_key()))
            {
                Ok(_) => continue,
                Err(position) => position,
            };
            touches_corrections |= matches!(event.body, Body::Correction { .. })
                || self.corrections.targets.contains(&event.id);
            self.events.insert(position, event);
            first_changed = Some(first_changed.map_or(position, |first| first.min(position)));
        }
        let Some(first_changed) = first_changed else {
            return;
        };
        if touches_corrections {
            self.replay(context);
        } else if first_changed >= folded_len {
            // Everything new sorts last: the current state is the fold of what precedes it.
            self.step_from(folded_len, context);
        } else {
            self.replay_from(first_changed, context);
        }
    }

    /// Recomputes everything derived from `events`.
    pub(crate) fn replay(&mut self, context: FoldContext<'_>) {
        self.custody = DeviceCustody::new(self.custody.device.clone());
        self.exceptions.clear();
        self.checkpoints.0.clear();
        self.corrections = Corrections::resolve(&self.events, context.keys);
        self.step_from(0, context);
    }

    /// Recomputes the state from `events[first_changed]` on, rewinding to the last checkpoint
    /// at or before it; without one, replays the whole device.
    fn replay_from(&mut self, first_changed: usize, context: FoldContext<'_>) {
        let checkpoints = &mut self.checkpoints.0;
        let kept = checkpoints.partition_point(|checkpoint| checkpoint.next_event <= first_changed);
        checkpoints.truncate(kept);
        let Some(checkpoint) = checkpoints.last() else {
            self.replay(context);
            return;
        };
        self.custody.rewind(&checkpoint.custody);
        self.exceptions.truncate(checkpoint.exceptions_len);
        let next_event = checkpoint.next_event;
        // The checkpoint itself is taken again when its event is stepped.
        checkpoints.pop();
        self.step_from(next_event, context);
    }

    /// Steps `events[first..]`, keeping a checkpoint every `CHECKPOINT_EVERY` events.
    fn step_from(&mut self, first: usize, context: FoldContext<'_>) {
        for event_idx in first..self.events.len() {
            if event_idx > 0 && event_idx.is_multiple_of(CHECKPOINT_EVERY) {
                self.checkpoints.0.push(Checkpoint {
                    next_event: event_idx,
                    custody: self.custody.mark(),
                    exceptions_len: self.exceptions.len(),
                });
            }
            self.step(event_idx, context);
        }
    }

    /// Applies `events[event_idx]` to the custody state.
    fn step(&mut self, event_idx: usize, context: FoldContext<'_>) {
        let event = &self.events[event_idx];
        self.exceptions.extend(signer_exceptions(event, context));
        if let Body::Correction { corrects, .. } = &event.body {
            let effective = self.corrections.effective.contains(&event.id);
            let record = CorrectionRecord {
                correction: event.id,
                corrects: *corrects,
                effective,
            };
            self.custody.corrections.push(record);
            if self.corrections.overreaching.contains(&event.id) {
                self.exceptions.push(
                    Exception::about_device(
                        &self.custody.device,
                        event.hlc.ms,
                        ExceptionKind::AuthorityRequired,
                        Severity::Critical,
                    )
                    .with_evidence([event.id, *corrects])
                    .with_people(event.body.people())
                    .with_signer(event.signer)
                    .with_detail("a tablet cannot correct an event signed by the authority"),
                );
            }
        }
        if self.corrections.voided_by.contains_key(&event.id) {
            return;
        }
        let mut custody_step = CustodyStep {
            custody: &mut self.custody,
            exceptions: &mut self.exceptions,
            event,
            context,
        };
        custody_step.apply();
    }
}
