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
use crate::state::{CorrectionRecord, DeviceCustody};

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

/// One device's events in fold order and what they add up to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DeviceHistory {
    pub(crate) events: Vec<FoldEvent>,
    pub(crate) custody: DeviceCustody,
    /// Exceptions found while replaying; the time-dependent ones are added at query time.
    pub(crate) exceptions: Vec<Exception>,
    pub(crate) corrections: Corrections,
}

impl DeviceHistory {
    pub(crate) fn new(device: DeviceId) -> DeviceHistory {
        DeviceHistory {
            events: Vec::new(),
            custody: DeviceCustody::new(device),
            exceptions: Vec::new(),
            corrections: Corrections::default(),
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

    /// Adds one admitted event. When it sorts last and neither corrects nor is corrected, one
    /// step suffices; otherwise the device is replayed, which gives the same result by
    /// construction.
    pub(crate) fn insert(&mut self, event: FoldEvent, context: FoldContext<'_>) {
        let position = match self
            .events
            .binary_search_by(|held| held.order_key().cmp(&event.order_key()))
        {
            Ok(_) => return,
            Err(position) => position,
        };
        let sorts_last = position == self.events.len();
        let touches_corrections = matches!(event.body, Body::Correction { .. })
            || self.corrections.targets.contains(&event.id);
        self.events.insert(position, event);
        if sorts_last && !touches_corrections {
            self.step(position, context);
        } else {
            self.replay(context);
        }
    }

    /// Inserts several events at once: the ones that sort after everything held are stepped in
    /// order; if any lands in the middle of the history (a tablet that was offline) or touches
    /// a correction, the device is replayed once for the whole batch instead of once per event.
    pub(crate) fn insert_many(&mut self, mut events: Vec<FoldEvent>, context: FoldContext<'_>) {
        events.sort_by(|left, right| left.order_key().cmp(&right.order_key()));
        let mut needs_replay = false;
        let mut first_appended: Option<usize> = None;
        for event in events {
            let position = match self
                .events
                .binary_search_by(|held| held.order_key().cmp(&event.order_key()))
            {
                Ok(_) => continue,
                Err(position) => position,
            };
            let sorts_last = position == self.events.len();
            let touches_corrections = matches!(event.body, Body::Correction { .. })
                || self.corrections.targets.contains(&event.id);
            self.events.insert(position, event);
            if !sorts_last || touches_corrections {
                needs_replay = true;
            } else if first_appended.is_none() {
                first_appended = Some(position);
            }
        }
        if needs_replay {
            self.replay(context);
        } else if let Some(first) = first_appended {
            for event_idx in first..self.events.len() {
                self.step(event_idx, context);
            }
        }
    }

    /// Recomputes everything derived from `events`.
    pub(crate) fn replay(&mut self, context: FoldContext<'_>) {
        self.custody = DeviceCustody::new(self.custody.device.clone());
        self.exceptions.clear();
        self.corrections = Corrections::resolve(&self.events, context.keys);
        for event_idx in 0..self.events.len() {
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
