//! Corrections: which events of a device are voided, decided before the device is replayed.
//!
//! A correction voids the event it names when it is effective: not voided itself, naming an
//! event of the same device, not a tablet's attempt to correct the authority, and not signed by
//! a tablet in the name of a dashboard session. Corrections name their target by hash, so they
//! cannot form a cycle and the resolution is well defined.

use std::collections::{BTreeMap, BTreeSet};

use crate::body::Body;
use crate::device_fold::FoldEvent;
use crate::ids::EventId;
use crate::keys::{KeySet, Role};

/// The outcome of the corrections in one device's history.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Corrections {
    /// Voided event id to the first effective correction, in fold order, that voids it.
    pub(crate) voided_by: BTreeMap<EventId, EventId>,
    /// Every id some correction names, whether the event is known yet or not.
    pub(crate) targets: BTreeSet<EventId>,
    /// The corrections that take effect.
    pub(crate) effective: BTreeSet<EventId>,
    /// Corrections signed by a tablet that name an event signed by the authority.
    pub(crate) overreaching: BTreeSet<EventId>,
    /// Corrections signed by a tablet that only the authority may sign (a person authenticated
    /// by a dashboard session).
    pub(crate) unauthorized: BTreeSet<EventId>,
}

impl Corrections {
    /// Resolves the corrections among `events`, which are one device's events in fold order.
    pub(crate) fn resolve(events: &[FoldEvent], keys: &KeySet) -> Corrections {
        let mut corrections = Corrections::default();
        let role_by_id: BTreeMap<EventId, Role> = events
            .iter()
            .map(|event| (event.id, keys.role(&event.signer)))
            .collect();
        let mut correctors: BTreeMap<EventId, Vec<&FoldEvent>> = BTreeMap::new();
        for event in events {
            if let Body::Correction { corrects, .. } = &event.body {
                corrections.targets.insert(*corrects);
                correctors.entry(*corrects).or_default().push(event);
                let target_is_authority = role_by_id.get(corrects) == Some(&Role::Authority);
                let by_authority = role_by_id[&event.id] == Role::Authority;
                if target_is_authority && !by_authority {
                    corrections.overreaching.insert(event.id);
                }
                // A tablet's correction in the name of a dashboard session has no effect at
                // all; the custody step reports it.
                if event.body.requires_authority() && !by_authority {
                    corrections.unauthorized.insert(event.id);
                }
            }
        }
        // Depth-first over "is corrected by" with an explicit stack, so that a long chain of
        // corrections of corrections cannot overflow the call stack.
        let mut resolved: BTreeMap<EventId, Option<EventId>> = BTreeMap::new();
        for target in correctors.keys() {
            let mut stack = vec![*target];
            let mut in_progress = BTreeSet::new();
            while let Some(&current) = stack.last() {
                if resolved.contains_key(&current) {
                    stack.pop();
                    continue;
                }
                in_progress.insert(current);
                let unresolved = correctors[&current]
                    .iter()
                    .map(|corrector| corrector.id)
                    .find(|id| {
                        correctors.contains_key(id)
                            && !resolved.contains_key(id)
                            && !in_progress.contains(id)
                    });
                if let Some(corrector) = unresolved {
                    stack.push(corrector);
                    continue;
                }
                let target_known = role_by_id.contains_key(&current);
                let mut voided_by = None;
                for corrector in &correctors[&current] {
                    let corrector_voided = resolved.get(&corrector.id).copied().flatten().is_some();
                    if target_known
                        && !corrector_voided
                        && !corrections.overreaching.contains(&corrector.id)
                        && !corrections.unauthorized.contains(&corrector.id)
                    {
                        corrections.effective.insert(corrector.id);
                        voided_by = voided_by.or(Some(corrector.id));
                    }
                }
                resolved.insert(current, voided_by);
                stack.pop();
            }
        }
        corrections.voided_by = resolved
            .into_iter()
            .filter_map(|(id, voided_by)| Some((id, voided_by?)))
            .collect();
        corrections
    }
}
