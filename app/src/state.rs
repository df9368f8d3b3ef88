//! The app's shared state: whether the tablet is enrolled, the `Tablet` itself, the sync state
//! and the storage handle, provided as a context to every page. Start-up (`boot`), enrollment and
//! the commit of a handoff live here because each touches several of them, as do the two duties
//! of the device Baton runs on when it is a registry device itself: the session wipe when its
//! custody ends and the inactivity lockout while someone holds it (`tablet::wipe`,
//! `tablet::lock`).

use baton_core::body::Body;
use baton_core::event::SignedEvent;
use baton_core::ids::SignerKey;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::browser::activity;
use crate::browser::clock::{self, now_ms};
use crate::browser::crypto::{self, SealedKey};
use crate::browser::idb::IdbStore;
use crate::browser::site_data;
use crate::browser::store::{EventStore, StoreError, decode_event};
use crate::key_rotation::KeyChange;
use crate::strings;
use crate::sync::scheduler;
use crate::tablet::Tablet;
use crate::tablet::enrollment::Enrollment;
use crate::tablet::lock::{self, Lock};
use crate::tablet::roster::Roster;
use crate::tablet::wipe::{self, ThisDevice, WipeReport};

/// Where the app is in its start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Opening storage and decrypting the key.
    Starting,
    Unenrolled,
    Ready,
    /// Storage or the key could not be read; the message says what to tell support.
    Failed(String),
}

/// The visible state of sync beyond what the tablet's events say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncView {
    pub syncing: bool,
    /// Why the last round failed, if it did.
    pub last_error: Option<String>,
    /// Pulled events that did not decode or verify and were skipped.
    pub n_skipped: usize,
    /// Evidence that the server showed this tablet two histories of the audit ledger
    /// (docs/PROTOCOL.md §3.7): kept on the tablet, reported to the server, shown until cleared
    /// by re-enrollment.
    pub ledger_alarms: usize,
    /// The server's ledger is smaller than one this tablet saw: it was restored from a backup.
    pub server_behind: bool,
    /// Own events the server had lost (a restore) and this tablet pushed again, since start.
    pub n_resent: usize,
    /// How far this tablet's clock is ahead of the server's (negative: behind), as last
    /// measured, or estimated from the last contact; `None` until then (`tablet::clock_check`).
    pub clock_skew_ms: Option<i64>,
    /// The last contact with the server's clock, when this page has not heard from it and the
    /// tablet's own clock says an implausible time has passed since (`Reference::Unchecked`).
    pub clock_unchecked_since_ms: Option<u64>,
}

#[derive(Clone, Copy)]
pub struct AppState {
    pub phase: RwSignal<Phase>,
    pub tablet: RwSignal<Option<Tablet>>,
    pub sync: RwSignal<SyncView>,
    /// The current time, refreshed every half minute, for views that depend on it (overdue).
    pub now_ms: RwSignal<u64>,
    /// The inactivity lockout of this device (`tablet::lock`).
    pub lock: RwSignal<Lock>,
    /// The latest session wipe of this device, for the notice that says what it did.
    pub last_wipe: RwSignal<Option<WipeReport>>,
    /// Whether the tablet's signing key is changing (`key_rotation`): it signs nothing until
    /// the change is settled.
    pub key_change: RwSignal<KeyChange>,
    /// Handoffs between their signature and their record in the tablet: a key rotation waits
    /// for none to be left, so that its chain end is the last event the old key signs.
    commits_in_flight: StoredValue<usize>,
    /// When someone last touched the tablet.
    last_input_ms: StoredValue<u64>,
    /// Who held this device at the last look, to notice the end of a custody.
    holders: StoredValue<Vec<String>>,
    store: StoredValue<Option<IdbStore>, LocalStorage>,
}

impl AppState {
    pub fn new() -> AppState {
        AppState {
            phase: RwSignal::new(Phase::Starting),
            tablet: RwSignal::new(None),
            sync: RwSignal::new(SyncView::default()),
            now_ms: RwSignal::new(clock::reference_now_ms()),
            lock: RwSignal::new(Lock::Unlocked),
            last_wipe: RwSignal::new(None),
            key_change: RwSignal::new(KeyChange::Settled),
            commits_in_flight: StoredValue::new(0),
            last_input_ms: StoredValue::new(now_ms()),
            holders: StoredValue::new(Vec::new()),
            store: StoredValue::new_local(None),
        }
    }

    pub fn store(&self) -> Option<IdbStore> {
        self.store.get_value()
    }

    /// Opens storage and brings the tablet up, then starts syncing.
    pub fn boot(self) {
        // The clock runs for the life of the page.
        set_interval(
            move || {
                self.now_ms.set(clock::reference_now_ms());
                self.check_clock();
            },
            std::time::Duration::from_secs(30),
        );
        self.watch_this_device();
        spawn_local(async move {
            let store = match IdbStore::open().await {
                Ok(store) => store,
                Err(error) => {
                    self.phase.set(Phase::Failed(format!(
                        "{} {error}",
                        strings::STORAGE_FAILED
                    )));
                    return;
                }
            };
            self.store.set_value(Some(store.clone()));
            // What it last knew of the server's clock, before anything is signed: a page
            // started offline goes by it. Unreadable, it is as if never kept: the tablet then
            // trusts its own clock, as it did before it was kept.
            clock::remember_last_server_time(store.last_server_time().await.ok().flatten());
            self.now_ms.set(clock::reference_now_ms());
            self.check_clock();
            // Ledger alarms stay on screen across reloads until someone investigates.
            if let Ok(witness) = store.witness_state().await {
                self.sync
                    .update(|sync| sync.ledger_alarms = witness.alarms.len());
            }
            // A rotation's new key left pending: the first sync round settles it.
            if let Ok(Some(_)) = store.pending_key().await {
                self.key_change.set(KeyChange::Unsettled);
            }
            match load(&store).await {
                Ok(None) => self.phase.set(Phase::Unenrolled),
                Ok(Some(tablet)) => self.become_ready(tablet),
                Err(message) => self.phase.set(Phase::Failed(message)),
            }
        });
    }

    fn become_ready(self, tablet: Tablet) {
        let holders = tablet.this_device_holders();
        let lockout_minutes = tablet.roster.site_config.inactivity_lockout_minutes;
        self.holders.set_value(holders.clone());
        self.lock
            .set(lock::lock_at_start(lockout_minutes, &holders));
        self.tablet.set(Some(tablet));
        self.phase.set(Phase::Ready);
        // Cold start: from navigation to an enrolled tablet ready to capture.
        clock::mark("baton:ready");
        scheduler::start(self);
    }

    /// Finishes an enrollment: everything is stored in one transaction before the tablet is
    /// considered enrolled.
    pub async fn complete_enrollment(
        self,
        enrollment: Enrollment,
        signing_key: ed25519_dalek::SigningKey,
        roster: Roster,
    ) -> Result<(), String> {
        let store = self
            .store()
            .ok_or_else(|| strings::STORAGE_FAILED.to_owned())?;
        let sealed: SealedKey = crypto::seal_signing_key(&signing_key, &enrollment.public_key)
            .await
            .map_err(|error| error.to_string())?;
        store
            .save_enrollment(&enrollment, &sealed, &roster)
            .await
            .map_err(|error| error.to_string())?;
        let tablet = Tablet::new(
            enrollment,
            roster,
            signing_key,
            Vec::new(),
            Vec::new(),
            Vec::new(),
            clock::reference_now_ms(),
        )
        .map_err(|error| error.to_string())?;
        self.become_ready(tablet);
        Ok(())
    }

    /// The inactivity lockout and the end-of-custody wipe of the device Baton runs on. Every
    /// input restarts the idle time; a check every few seconds locks a held device once the
    /// site's minutes have passed. Whenever the tablet's records change (a handoff here, a pull),
    /// the device's holders are compared with the last look: a custody that ended wipes the
    /// session, unless it ended with this tablet's own check-in of itself, which wiped before
    /// signing so that the record could say how the wipe went.
    fn watch_this_device(self) {
        activity::watch_input(move || self.last_input_ms.set_value(now_ms()));
        set_interval(
            move || {
                if self.lock.get_untracked() != Lock::Unlocked {
                    return;
                }
                let due = self.tablet.with_untracked(|tablet| {
                    tablet.as_ref().is_some_and(|tablet| {
                        lock::should_lock(
                            now_ms(),
                            self.last_input_ms.get_value(),
                            tablet.roster.site_config.inactivity_lockout_minutes,
                            &tablet.this_device_holders(),
                        )
                    })
                });
                if due {
                    self.lock.set(Lock::Locked);
                }
            },
            std::time::Duration::from_secs(5),
        );
        Effect::new(move |_| {
            let Some((holders, wiped_before_signing)) = self.tablet.with(|tablet| {
                tablet.as_ref().map(|tablet| {
                    (
                        tablet.this_device_holders(),
                        tablet.last_own_is_check_in_of_this_device(),
                    )
                })
            }) else {
                return;
            };
            let before = self.holders.get_value();
            if before == holders {
                return;
            }
            self.holders.set_value(holders.clone());
            self.lock
                .update(|lock| *lock = lock::lock_after_custody_change(*lock, &holders));
            if wipe::custody_ended(&before, &holders) && !wiped_before_signing {
                spawn_local(async move {
                    self.wipe_session().await;
                });
            }
        });
    }

    /// Whether `device_id` is the device this tablet runs on.
    pub fn is_this_device(self, device_id: &str) -> bool {
        self.tablet.with_untracked(|tablet| {
            tablet
                .as_ref()
                .is_some_and(|tablet| tablet.is_this_device(device_id))
        })
    }

    /// Wipes the previous custodian's session from this origin (`browser/site_data.rs`) and
    /// keeps the report for the notice. `None` when the tablet is not ready.
    pub async fn wipe_session(self) -> Option<WipeReport> {
        let signing_key = self
            .tablet
            .with_untracked(|tablet| tablet.as_ref().map(|tablet| tablet.signing_key().clone()))?;
        let report = site_data::wipe_session(&signing_key).await;
        self.last_wipe.set(Some(report.clone()));
        Some(report)
    }

    /// The custodian gave badge and PIN on the lock screen.
    pub fn unlock(self) {
        self.last_input_ms.set_value(now_ms());
        self.lock.set(Lock::Unlocked);
    }

    /// Records which registry device this tablet is, in IndexedDB, then in the running tablet.
    pub async fn set_this_device(self, this_device: ThisDevice) -> Result<(), String> {
        let store = self
            .store()
            .ok_or_else(|| strings::STORAGE_FAILED.to_owned())?;
        store
            .save_this_device(&this_device)
            .await
            .map_err(|error| error.to_string())?;
        self.tablet.update(|tablet| {
            if let Some(tablet) = tablet {
                tablet.this_device = Some(this_device);
            }
        });
        Ok(())
    }

    /// Compares the tablet's clock with the server's as last measured or estimated, for the
    /// warning.
    pub fn check_clock(self) {
        let skew_ms = clock::skew_ms();
        let unchecked_since_ms = clock::unchecked_since_ms();
        let shown = self
            .sync
            .with_untracked(|sync| (sync.clock_skew_ms, sync.clock_unchecked_since_ms));
        if shown != (skew_ms, unchecked_since_ms) {
            self.sync.update(|sync| {
                sync.clock_skew_ms = skew_ms;
                sync.clock_unchecked_since_ms = unchecked_since_ms;
            });
        }
    }

    /// How many handoffs are signed but not yet recorded in the tablet (or failed).
    pub fn n_commits_in_flight(self) -> usize {
        self.commits_in_flight.get_value()
    }

    /// Builds a handoff's body from the enrolled tablet (its ward, roster and rules) and
    /// commits it as `commit_handoff` does; a body that cannot be built is refused with its
    /// reason, and nothing is signed.
    pub async fn commit_built<E: std::fmt::Display>(
        self,
        build: impl FnOnce(&Tablet) -> Result<Body, E>,
    ) -> Result<SignedEvent, String> {
        let body = self
            .tablet
            .with_untracked(|tablet| tablet.as_ref().map(build))
            .ok_or_else(|| strings::NOT_ENROLLED.to_owned())?
            .map_err(|error| error.to_string())?;
        self.commit_handoff(body).await
    }

    /// Signs a handoff and commits it to IndexedDB in its own strict transaction. Only once the
    /// commit succeeded is the event part of the tablet's chain and the board; if it fails,
    /// nothing is claimed and the error is returned for the screen.
    pub async fn commit_handoff(self, body: Body) -> Result<SignedEvent, String> {
        let store = self
            .store()
            .ok_or_else(|| strings::STORAGE_FAILED.to_owned())?;
        if self.key_change.get_untracked() != KeyChange::Settled {
            return Err(strings::KEY_CHANGING.to_owned());
        }
        let _in_flight = CommitInFlight::start(self.commits_in_flight);
        // Tap to commit: signing and the strict IndexedDB write, what the nurse waits for once
        // the PIN is checked (measured by `cargo xtask bench`).
        clock::mark("baton:commit:start");
        // The tablet's own clock goes into the record as `wall_ms`; the hybrid clock ticks from
        // the server's time when this page measured it (`tablet::clock_check`).
        let signed_at_ms = now_ms();
        let reference_ms = clock::reference_now_ms();
        self.check_clock();
        let event = self
            .tablet
            .with_untracked(|tablet| {
                tablet
                    .as_ref()
                    .map(|tablet| tablet.sign_with_reference(body, signed_at_ms, reference_ms))
            })
            .ok_or_else(|| strings::NOT_ENROLLED.to_owned())?
            .map_err(|error| error.to_string())?;
        // Nothing else is written with the event: the chain's head and seq are derived from the
        // stored events at start, so a crash before this commit leaves no trace of the event
        // and the next signature reuses its seq.
        store
            .append_own_event(&event)
            .await
            .map_err(|error| match error {
                StoreError::Full(_) => strings::STORAGE_FULL.to_owned(),
                error => format!("{error}. {}", strings::STORAGE_WRITE_RETRY),
            })?;
        self.tablet.update(|tablet| {
            if let Some(tablet) = tablet {
                tablet.record_own(event.clone());
            }
        });
        clock::measure_since("baton:commit", "baton:commit:start");
        scheduler::wake();
        Ok(event)
    }
}

/// Counts one handoff in flight for as long as it lives, whichever way `commit_handoff` ends.
struct CommitInFlight(StoredValue<usize>);

impl CommitInFlight {
    fn start(counter: StoredValue<usize>) -> CommitInFlight {
        counter.update_value(|n_in_flight| *n_in_flight += 1);
        CommitInFlight(counter)
    }
}

impl Drop for CommitInFlight {
    fn drop(&mut self) {
        self.0
            .update_value(|n_in_flight| *n_in_flight = n_in_flight.saturating_sub(1));
    }
}

/// Reads the tablet back from storage: `None` if it was never enrolled.
async fn load(store: &IdbStore) -> Result<Option<Tablet>, String> {
    let failed = |error: &dyn std::fmt::Display| format!("{} {error}", strings::STORAGE_FAILED);
    let Some((enrollment, sealed)) = store.enrollment().await.map_err(|error| failed(&error))?
    else {
        return Ok(None);
    };
    let signing_key = crypto::unseal_signing_key(&sealed, &enrollment.public_key)
        .await
        .map_err(|error| failed(&error))?;
    let roster = store
        .roster()
        .await
        .map_err(|error| failed(&error))?
        .ok_or_else(|| failed(&"the roster is missing"))?;
    let own_events = store.own_events().await.map_err(|error| failed(&error))?;
    let receipts = store.receipts().await.map_err(|error| failed(&error))?;
    // A pulled event that no longer decodes is skipped: the server still holds it.
    let pulled = store
        .pulled_events()
        .await
        .map_err(|error| failed(&error))?
        .iter()
        .filter_map(|event_json| decode_event(event_json).ok())
        .collect();
    let mut tablet = Tablet::new(
        enrollment,
        roster,
        signing_key,
        own_events,
        receipts,
        pulled,
        // The time the hybrid clock moves to past the pulled events: the reference, never the
        // tablet's own clock, which may be a year ahead and would carry that year into every
        // event it signs (`tablet::clock_check`).
        clock::reference_now_ms(),
    )
    .map_err(|error| failed(&error))?;
    tablet.last_sync_ms = store.last_sync_ms().await.map_err(|error| failed(&error))?;
    tablet.this_device = store.this_device().await.map_err(|error| failed(&error))?;
    // The server keys learned from rotations, so that the authority's events fold as such.
    if let (Ok(witness), Ok(enrolled)) = (
        store.witness_state().await,
        SignerKey::from_hex(&tablet.enrollment.server_public_key),
    ) {
        tablet.set_server_keys(
            crate::tablet::witness::trusted_server_keys(&enrolled, &witness)
                .keys()
                .to_vec(),
        );
    }
    Ok(Some(tablet))
}
