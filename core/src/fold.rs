//! The custody fold: from the admitted events to each device's custody and the exceptions.
//!
//! The state is a function of the set of admitted events and the fold's inputs (site rules,
//! key set, device registry). `CustodyState::apply` adds one event and gives exactly what
//! `CustodyState::fold` would give for the enlarged set: when the event sorts last among its
//! device's events one step is applied, otherwise only that device is replayed.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::device_fold::{DeviceHistory, FoldContext, FoldEvent};
use crate::event::SignedEvent;
use crate::exceptions::{Exception, ExceptionKind, Severity};
use crate::ids::{DeviceId, StaffId};
use crate::keys::KeySet;
use crate::rules::{DeviceRegistry, SiteRules};
use crate::state::{DeviceCustody, EndedCustody, TimelineEntry};

/// Every device's custody, derived from admitted events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustodyState {
    rules: SiteRules,
    keys: KeySet,
    registry: DeviceRegistry,
    devices: BTreeMap<DeviceId, DeviceHistory>,
    /// Who holds what now, kept in step with the devices so that "what do I hold" is a lookup.
    holdings: BTreeMap<StaffId, BTreeSet<DeviceId>>,
}

impl CustodyState {
    /// An empty state: no device has any history yet.
    pub fn new(rules: SiteRules, keys: KeySet, registry: DeviceRegistry) -> CustodyState {
        CustodyState {
            rules,
            keys,
            registry,
            devices: BTreeMap::new(),
            holdings: BTreeMap::new(),
        }
    }

    /// Folds admitted events given in any order; duplicates are ignored.
    pub fn fold<'a>(
        rules: SiteRules,
        keys: KeySet,
        registry: DeviceRegistry,
        events: impl IntoIterator<Item = &'a SignedEvent>,
    ) -> CustodyState {
        let mut state = CustodyState::new(rules, keys, registry);
        let mut events_by_device: HashMap<&DeviceId, Vec<FoldEvent>> = HashMap::new();
        for event in events {
            events_by_device
                .entry(event.body().device())
                .or_default()
                .push(FoldEvent::from_signed(event));
        }
        let context = FoldContext {
            rules: &state.rules,
            keys: &state.keys,
            registry: &state.registry,
        };
        for (device, device_events) in events_by_device {
            let history = DeviceHistory::from_events(device.clone(), device_events, context);
            state.devices.insert(device.clone(), history);
        }
        state.rebuild_holdings();
        state
    }

    /// Adds one admitted event; applying an event already folded does nothing.
    pub fn apply(&mut self, event: &SignedEvent) {
        let device = event.body().device();
        let context = FoldContext {
            rules: &self.rules,
            keys: &self.keys,
            registry: &self.registry,
        };
        let history = self
            .devices
            .entry(device.clone())
            .or_insert_with(|| DeviceHistory::new(device.clone()));
        let custodians_before: Vec<StaffId> =
            history.custody.custodians().into_iter().cloned().collect();
        history.insert(FoldEvent::from_signed(event), context);
        for staff in custodians_before {
            if let Some(devices) = self.holdings.get_mut(&staff) {
                devices.remove(device);
                if devices.is_empty() {
                    self.holdings.remove(&staff);
                }
            }
        }
        for staff in history.custody.custodians() {
            self.holdings
                .entry(staff.clone())
                .or_default()
                .insert(device.clone());
        }
    }

    /// Adds many admitted events at once, with the result of applying each in turn: each
    /// device's history is re-folded at most once for the whole batch.
    pub fn apply_many<'a>(&mut self, events: impl IntoIterator<Item = &'a SignedEvent>) {
        let mut by_device: HashMap<DeviceId, Vec<FoldEvent>> = HashMap::new();
        for event in events {
            by_device
                .entry(event.body().device().clone())
                .or_default()
                .push(FoldEvent::from_signed(event));
        }
        let context = FoldContext {
            rules: &self.rules,
            keys: &self.keys,
            registry: &self.registry,
        };
        for (device, device_events) in by_device {
            let history = self
                .devices
                .entry(device.clone())
                .or_insert_with(|| DeviceHistory::new(device.clone()));
            let custodians_before: Vec<StaffId> =
                history.custody.custodians().into_iter().cloned().collect();
            history.insert_many(device_events, context);
            for staff in custodians_before {
                if let Some(devices) = self.holdings.get_mut(&staff) {
                    devices.remove(&device);
                    if devices.is_empty() {
                        self.holdings.remove(&staff);
                    }
                }
            }
            for staff in history.custody.custodians() {
                self.holdings
                    .entry(staff.clone())
                    .or_default()
                    .insert(device.clone());
            }
        }
    }

    /// Replaces the key set, for example after a revocation, and re-folds: roles and revocations
    /// change which corrections take effect and which events are flagged.
    pub fn set_keys(&mut self, keys: KeySet) {
        self.keys = keys;
        self.replay_all();
    }

    /// Replaces the site rules and re-folds, since expected returns depend on them.
    pub fn set_rules(&mut self, rules: SiteRules) {
        self.rules = rules;
        self.replay_all();
    }

    /// Replaces the device registry and re-folds.
    pub fn set_registry(&mut self, registry: DeviceRegistry) {
        self.registry = registry;
        self.replay_all();
    }

    fn replay_all(&mut self) {
        let context = FoldContext {
            rules: &self.rules,
            keys: &self.keys,
            registry: &self.registry,
        };
        for history in self.devices.values_mut() {
            history.replay(context);
        }
        self.rebuild_holdings();
    }

    fn rebuild_holdings(&mut self) {
        self.holdings.clear();
        for (device, history) in &self.devices {
            for staff in history.custody.custodians() {
                self.holdings
                    .entry(staff.clone())
                    .or_default()
                    .insert(device.clone());
            }
        }
    }

    pub fn rules(&self) -> &SiteRules {
        &self.rules
    }

    pub fn keys(&self) -> &KeySet {
        &self.keys
    }

    pub fn registry(&self) -> &DeviceRegistry {
        &self.registry
    }

    pub fn device(&self, device: &DeviceId) -> Option<&DeviceCustody> {
        self.devices.get(device).map(|history| &history.custody)
    }

    /// Every device with at least one event, by id.
    pub fn devices(&self) -> impl Iterator<Item = &DeviceCustody> {
        self.devices.values().map(|history| &history.custody)
    }

    /// The devices `staff` holds now.
    pub fn holdings(&self, staff: &StaffId) -> impl Iterator<Item = &DeviceId> {
        self.holdings.get(staff).into_iter().flatten()
    }

    /// A device's events in fold order, with the corrections that voided them.
    pub fn timeline(&self, device: &DeviceId) -> Vec<TimelineEntry> {
        let Some(history) = self.devices.get(device) else {
            return Vec::new();
        };
        history
            .events
            .iter()
            .map(|event| TimelineEntry {
                event: event.id,
                hlc: event.hlc,
                signer: event.signer,
                body_type: event.body.type_name().to_owned(),
                voided_by: history.corrections.voided_by.get(&event.id).copied(),
            })
            .collect()
    }

    /// Every ended custody on every device: each one's access must be revoked.
    pub fn ended_custodies(&self) -> Vec<EndedCustody> {
        let mut ended: Vec<EndedCustody> = self
            .devices()
            .flat_map(DeviceCustody::ended_custodies)
            .collect();
        ended.sort();
        ended
    }

    /// The exceptions found in the custody history, plus those that depend on the time of the
    /// query: overdue custodies and devices still missing at `now_ms`. Sorted by device, kind and
    /// evidence.
    pub fn exceptions(&self, now_ms: u64) -> Vec<Exception> {
        let mut exceptions = Vec::new();
        for history in self.devices.values() {
            exceptions.extend(history.exceptions.iter().cloned());
            let custody = &history.custody;
            for interval in custody
                .open_intervals()
                .filter(|interval| interval.is_overdue(now_ms))
            {
                let overdue_minutes = (now_ms - interval.expected_return_ms) / 60_000;
                exceptions.push(
                    Exception::about_device(
                        &custody.device,
                        interval.expected_return_ms,
                        ExceptionKind::Overdue,
                        Severity::Warning,
                    )
                    .with_evidence([interval.opened_by])
                    .with_people([&interval.staff])
                    .with_detail(format!(
                        "{overdue_minutes} minutes past the expected return"
                    )),
                );
            }
            if let Some(missing_report) = custody.missing_report {
                let report = history
                    .events
                    .iter()
                    .find(|event| event.id == missing_report)
                    .expect("reports are events");
                exceptions.push(
                    Exception::about_device(
                        &custody.device,
                        report.hlc.ms,
                        ExceptionKind::Missing,
                        Severity::Critical,
                    )
                    .with_evidence([missing_report])
                    .with_people(report.body.people().into_iter().chain(custody.custodians()))
                    .with_detail("reported missing and not found since"),
                );
            }
        }
        exceptions.sort();
        exceptions
    }
}
