//! The rotation of the tablet's own signing key, as the app runs it: sync, make and seal the
//! new key, keep it as a pending key, ask the server, then replace the stored key and switch
//! the running tablet. The decisions are `tablet::key_rotation`'s; the I/O is
//! `browser::http`'s, `browser::crypto`'s and `browser::idb`'s.
//!
//! While a rotation runs, and while a pending key is not settled, the tablet signs nothing: an
//! event the old key signed after the server retired it could never be delivered.

use ed25519_dalek::SigningKey;
use leptos::prelude::*;

use crate::browser::clock::{now_ms, pause};
use crate::browser::crypto::{self, SealedKey};
use crate::browser::http;
use crate::browser::idb::IdbStore;
use crate::browser::keys::generate_signing_key;
use crate::state::AppState;
use crate::strings;
use crate::sync::scheduler;
use crate::tablet::key_rotation::{
    PendingVerdict, Probe, RotationFailure, build_rotation, classify_failure, decide_pending,
    enrollment_after, fingerprint, may_start,
};
use baton_core::key_rotation::SignedKeyRotation;

/// Where the tablet's key stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum KeyChange {
    #[default]
    Settled,
    /// A rotation is under way on this page.
    Rotating,
    /// A new key is stored as pending and the server's word on it is not known yet.
    Unsettled,
}

/// The two fingerprints a person compares after a rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationDone {
    pub previous: String,
    pub next: String,
}

impl AppState {
    /// Rotates the tablet's signing key; the error is the sentence for the screen. Nothing
    /// changes locally unless the server took the new key.
    pub async fn rotate_signing_key(self) -> Result<RotationDone, String> {
        if self.key_change.get_untracked() != KeyChange::Settled {
            return Err(strings::KEY_ROTATION_UNSETTLED.to_owned());
        }
        let store = self
            .store()
            .ok_or_else(|| strings::STORAGE_FAILED.to_owned())?;
        // Everything the old key signed goes to the server first: afterwards it signs no push.
        let synced = scheduler::sync_now(self).await;
        self.key_change.set(KeyChange::Rotating);
        let result = self.rotate_after_sync(&store, synced).await;
        if self.key_change.get_untracked() == KeyChange::Rotating {
            self.key_change.set(KeyChange::Settled);
        }
        result
    }

    async fn rotate_after_sync(
        self,
        store: &IdbStore,
        synced: bool,
    ) -> Result<RotationDone, String> {
        // A handoff signed just before the rotation began must be recorded (and then counted as
        // unsent) before the chain end is read: nothing the old key signs may follow it.
        while self.n_commits_in_flight() > 0 {
            pause(50).await;
        }
        let online = web_sys::window().is_some_and(|window| window.navigator().on_line());
        let pending_key = store
            .pending_key()
            .await
            .map_err(|error| error.to_string())?
            .is_some();
        let n_pending = self
            .tablet
            .with_untracked(|tablet| tablet.as_ref().map(|tablet| tablet.pending_count()))
            .ok_or_else(|| strings::NOT_ENROLLED.to_owned())?;
        may_start(online, n_pending, pending_key).map_err(strings::key_rotation_not_now)?;
        if !synced {
            return Err(strings::KEY_ROTATION_SYNC_FAILED.to_owned());
        }

        let next = generate_signing_key()?;
        let (current, rotation) = self
            .tablet
            .with_untracked(|tablet| {
                let tablet = tablet.as_ref()?;
                Some((
                    tablet.signing_key().clone(),
                    build_rotation(tablet, &next, now_ms()),
                ))
            })
            .ok_or_else(|| strings::NOT_ENROLLED.to_owned())?;
        let rotation = rotation.map_err(|error| error.to_string())?;
        let next_hex = rotation.rotation.next.to_hex();
        let sealed = crypto::seal_signing_key(&next, &next_hex)
            .await
            .map_err(|error| error.to_string())?;
        // Stored before the server hears of it: if the page dies after the server's 200, the
        // only key the server then accepts is still here (`settle_pending_key`).
        store
            .save_pending_key(&sealed, &rotation)
            .await
            .map_err(|error| format!("{} {error}", strings::STORAGE_WRITE_FAILED))?;

        let failure = match http::rotate_key(&current, &rotation).await {
            Ok(answer) if answer.confirms(&rotation) => None,
            Ok(_) => Some(RotationFailure::Unknown(
                "the server's answer names other keys".to_owned(),
            )),
            Err(error) => Some(classify_failure(&error)),
        };
        let verdict = match &failure {
            None => PendingVerdict::Promote,
            Some(RotationFailure::NotSynced | RotationFailure::Refused(_)) => {
                PendingVerdict::Discard
            }
            Some(RotationFailure::Unknown(_)) => probe(&next, &current).await,
        };
        match verdict {
            PendingVerdict::Promote => {
                self.promote(store, next, &sealed, rotation.clone()).await?;
                Ok(RotationDone {
                    previous: fingerprint(&rotation.rotation.previous.to_hex()).to_owned(),
                    next: fingerprint(&next_hex).to_owned(),
                })
            }
            PendingVerdict::Discard => {
                store
                    .discard_pending_key()
                    .await
                    .map_err(|error| error.to_string())?;
                Err(match failure {
                    Some(RotationFailure::NotSynced) => {
                        scheduler::wake();
                        strings::KEY_ROTATION_NOT_SYNCED.to_owned()
                    }
                    Some(RotationFailure::Refused(message)) => {
                        format!("{} {message}", strings::KEY_ROTATION_REFUSED)
                    }
                    _ => strings::KEY_ROTATION_NOT_TAKEN.to_owned(),
                })
            }
            PendingVerdict::Undecided => {
                self.key_change.set(KeyChange::Unsettled);
                scheduler::wake();
                Err(strings::KEY_ROTATION_UNSETTLED.to_owned())
            }
        }
    }

    /// Settles a pending key left by a rotation whose answer never arrived; true once it is
    /// settled either way.
    pub async fn settle_pending_key(self) -> bool {
        let Some(store) = self.store() else {
            return false;
        };
        let Ok(pending) = store.pending_key().await else {
            return false;
        };
        let Some((sealed, rotation)) = pending else {
            self.key_change.set(KeyChange::Settled);
            return true;
        };
        let next_hex = rotation.rotation.next.to_hex();
        let Ok(next) = crypto::unseal_signing_key(&sealed, &next_hex).await else {
            return false;
        };
        let Some(current) = self
            .tablet
            .with_untracked(|tablet| tablet.as_ref().map(|tablet| tablet.signing_key().clone()))
        else {
            return false;
        };
        let settled = match probe(&next, &current).await {
            PendingVerdict::Promote => self.promote(&store, next, &sealed, rotation).await.is_ok(),
            PendingVerdict::Discard => store.discard_pending_key().await.is_ok(),
            PendingVerdict::Undecided => false,
        };
        if settled {
            self.key_change.set(KeyChange::Settled);
        }
        settled
    }

    /// The server took the new key: replace the stored key and enrollment in one transaction,
    /// then switch the running tablet.
    async fn promote(
        self,
        store: &IdbStore,
        next: SigningKey,
        sealed: &SealedKey,
        rotation: SignedKeyRotation,
    ) -> Result<(), String> {
        let enrollment = self
            .tablet
            .with_untracked(|tablet| {
                tablet
                    .as_ref()
                    .map(|tablet| enrollment_after(&tablet.enrollment, &rotation))
            })
            .ok_or_else(|| strings::NOT_ENROLLED.to_owned())?;
        store
            .promote_pending_key(&enrollment, sealed)
            .await
            .map_err(|error| format!("{} {error}", strings::STORAGE_WRITE_FAILED))?;
        let mut switched = Ok(());
        self.tablet.update(|tablet| {
            if let Some(tablet) = tablet {
                switched = tablet.rotate(next, rotation);
            }
        });
        switched.map_err(|error| error.to_string())
    }
}

/// Asks the server which key it accepts: the pending one first, the current one if that did
/// not decide.
async fn probe(pending: &SigningKey, current: &SigningKey) -> PendingVerdict {
    let with_pending = Probe::from_result(&http::probe_key(pending).await);
    match decide_pending(&with_pending, None) {
        PendingVerdict::Undecided => {
            let with_current = Probe::from_result(&http::probe_key(current).await);
            decide_pending(&with_pending, Some(&with_current))
        }
        verdict => verdict,
    }
}
