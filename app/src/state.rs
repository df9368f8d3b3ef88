//! The app's shared state: whether the tablet is enrolled, the `Tablet` itself, the sync state
//! and the storage handle, provided as a context to every page. Start-up (`boot`), enrollment and
//! the commit of a handoff live here because each touches several of them.

use baton_core::body::Body;
use baton_core::event::SignedEvent;
use baton_core::ids::SignerKey;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::browser::clock::{self, now_ms};
use crate::browser::crypto::{self, SealedKey};
use crate::browser::idb::IdbStore;
use crate::browser::store::{EventStore, decode_event};
use crate::strings;
use crate::sync::scheduler;
use crate::tablet::Tablet;
use crate::tablet::enrollment::Enrollment;
use crate::tablet::roster::Roster;

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
}

#[derive(Clone, Copy)]
pub struct AppState {
    pub phase: RwSignal<Phase>,
    pub tablet: RwSignal<Option<Tablet>>,
    pub sync: RwSignal<SyncView>,
    /// The current time, refreshed every half minute, for views that depend on it (overdue).
    pub now_ms: RwSignal<u64>,
    store: StoredValue<Option<IdbStore>, LocalStorage>,
}

impl AppState {
    pub fn new() -> AppState {
        AppState {
            phase: RwSignal::new(Phase::Starting),
            tablet: RwSignal::new(None),
            sync: RwSignal::new(SyncView::default()),
            now_ms: RwSignal::new(now_ms()),
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
            move || self.now_ms.set(now_ms()),
            std::time::Duration::from_secs(30),
        );
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
            // Ledger alarms stay on screen across reloads until someone investigates.
            if let Ok(witness) = store.witness_state().await {
                self.sync
                    .update(|sync| sync.ledger_alarms = witness.alarms.len());
            }
            match load(&store).await {
                Ok(None) => self.phase.set(Phase::Unenrolled),
                Ok(Some(tablet)) => self.become_ready(tablet),
                Err(message) => self.phase.set(Phase::Failed(message)),
            }
        });
    }

    fn become_ready(self, tablet: Tablet) {
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
            now_ms(),
        )
        .map_err(|error| error.to_string())?;
        self.become_ready(tablet);
        Ok(())
    }

    /// Signs a handoff and commits it to IndexedDB in its own strict transaction. Only once the
    /// commit succeeded is the event part of the tablet's chain and the board; if it fails,
    /// nothing is claimed and the error is returned for the screen.
    pub async fn commit_handoff(self, body: Body) -> Result<SignedEvent, String> {
        let store = self
            .store()
            .ok_or_else(|| strings::STORAGE_FAILED.to_owned())?;
        // Tap to commit: signing and the strict IndexedDB write, what the nurse waits for once
        // the PIN is checked (measured by `cargo xtask bench`).
        clock::mark("baton:commit:start");
        let signed_at_ms = now_ms();
        let event = self
            .tablet
            .with_untracked(|tablet| {
                tablet
                    .as_ref()
                    .map(|tablet| tablet.sign(body, signed_at_ms))
            })
            .ok_or_else(|| strings::NOT_ENROLLED.to_owned())?
            .map_err(|error| error.to_string())?;
        store
            .append_own_event(&event)
            .await
            .map_err(|error| error.to_string())?;
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
        now_ms(),
    )
    .map_err(|error| failed(&error))?;
    tablet.last_sync_ms = store.last_sync_ms().await.map_err(|error| failed(&error))?;
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
