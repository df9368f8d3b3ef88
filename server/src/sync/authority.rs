//! Custody events the server signs itself, as the site's authority: what a manager does on the
//! dashboard to a device (quarantine, release, missing, found).
//!
//! They take the path of a pushed event: verified against the site's key set, stored by the
//! same storage code (ledger leaf and revocation outbox in the same transaction), then folded.
//! The authority keeps one hash chain per site. Its next `seq`, `prev` and clock come from the
//! caught-up replica, and storage refuses the event (`StorageError::Stale`) when the site's log
//! grew between the catch-up and the append lock: another server process appended, so the
//! chain head or the fold the revocations were computed from may be out of date. The event is
//! then built again on the newer state. Two server processes on one PostgreSQL therefore never
//! sign two events with one `seq`.

use baton_core::body::Body;
use baton_core::event::{SignError, SignedEvent, UnsignedEvent};
use baton_core::fold::CustodyState;
use baton_core::hlc::{Hlc, HlcError};
use baton_core::ids::DeviceId;
use baton_core::state::DeviceCustody;
use baton_core::verify::{Rejection, VerifyOptions};

use super::{SiteReplicas, SyncError, now_ms};
use crate::server_key::ServerKey;
use crate::storage::{AppendedEvent, AuthorityPrecondition, NewEvent, Storage, StorageError};

/// How often an event is rebuilt when other processes keep appending in between.
const MAX_ATTEMPTS: u64 = 10;
/// The longest pause before the first retry; the n-th retry waits up to n times this, at
/// random, so that processes that collided do not collide again in step.
const RETRY_PAUSE_MS: u64 = 10;

/// Why an authority event was not stored. `R` is the caller's own refusal.
#[derive(Debug, thiserror::Error)]
pub enum AuthorityError<R> {
    /// The caller refused the action on the device's current state.
    #[error("the action was refused")]
    Refused(R),
    #[error(transparent)]
    Sync(#[from] SyncError),
    #[error(transparent)]
    Storage(StorageError),
    #[error("the authority's clock cannot advance: {0}")]
    Clock(#[from] HlcError),
    #[error("the authority's event cannot be signed: {0}")]
    Sign(#[from] SignError),
    /// A bug: the site's own key set refuses the authority's event.
    #[error("the site refuses the authority's own event: {0}")]
    Rejected(Rejection),
    #[error("site {0:?}: the log changed under every attempt to append the authority's event")]
    Contended(String),
}

/// A stored authority event and where it landed.
#[derive(Debug)]
pub struct AuthorityEvent {
    pub event: SignedEvent,
    pub appended: AppendedEvent,
}

/// What the authority needs besides the site: storage, the site replicas, its key and the
/// revocation connectors.
pub struct Authority<'a> {
    pub storage: &'a dyn Storage,
    pub replicas: &'a SiteReplicas,
    pub server_key: &'a ServerKey,
    pub connectors: &'a [String],
}

impl Authority<'_> {
    /// Signs and stores the event `decide` builds from the device's current custody (`None`
    /// when the device has no history) and the time. `decide` runs again on every attempt, so
    /// that it always judges the state the event is appended to.
    pub async fn sign_and_store<R>(
        &self,
        site_id: &str,
        device: &DeviceId,
        decide: impl Fn(Option<&DeviceCustody>, u64) -> Result<Body, R>,
    ) -> Result<AuthorityEvent, AuthorityError<R>> {
        for attempt in 1..=MAX_ATTEMPTS {
            let mut guard = self.replicas.lock(self.storage, site_id).await?;
            let site = &mut *guard;
            let now_ms = now_ms();
            let custody = site.replica.custody();
            let body = decide(custody.device(device), now_ms).map_err(AuthorityError::Refused)?;

            let signer = *self.server_key.public_key();
            let log = site.replica.log();
            let chain_head = log.chain_head(&signer);
            // The clock has seen the authority's own chain and every event of the device, so
            // the new event sorts after all of them in the device's fold.
            let device_events: Vec<&SignedEvent> = custody
                .timeline(device)
                .iter()
                .filter_map(|entry| log.get(&entry.event))
                .collect();
            let clock = device_events
                .iter()
                .map(|event| event.hlc())
                .chain(
                    chain_head
                        .and_then(|head| log.get(&head.id))
                        .map(SignedEvent::hlc),
                )
                .max()
                .unwrap_or(Hlc::ZERO);
            let event = UnsignedEvent::next(signer, chain_head, clock, now_ms, body)?
                .sign(self.server_key.signing_key())?;
            let options = VerifyOptions {
                now_ms,
                max_clock_skew_ms: site.config.rules.max_clock_skew_ms,
            };
            custody
                .keys()
                .verify(&event, options)
                .map_err(AuthorityError::Rejected)?;

            // The revocations follow from the device's history with the new event. A device's
            // fold depends only on its own events, so folding those alone is enough, and the
            // replica is left untouched until storage has committed.
            let device_after = CustodyState::fold(
                custody.rules().clone(),
                custody.keys().clone(),
                custody.registry().clone(),
                device_events.into_iter().chain([&event]),
            );
            let changed = crate::revocation::changed_since([&event]);
            let revocations = crate::revocation::revocations_for(&device_after, &changed, now_ms);
            let new_event = NewEvent::new(&event, None, now_ms);
            let precondition = AuthorityPrecondition {
                latest_server_seq: site.cursor,
                chain_head: chain_head.map(|head| head.id.to_hex()),
            };
            match self
                .storage
                .append_authority_event(
                    site_id,
                    &new_event,
                    &precondition,
                    &revocations,
                    self.connectors,
                )
                .await
            {
                Ok(appended) => {
                    if let Err(error) = site.replica.insert_verified(event.clone()) {
                        // Stored but not folded here: the site is reloaded from storage at
                        // its next use, which folds it.
                        tracing::error!(site_id, %error, "authority event stored but not folded");
                        site.discard();
                    }
                    return Ok(AuthorityEvent { event, appended });
                }
                Err(StorageError::Stale { .. }) => {
                    tracing::info!(
                        site_id,
                        attempt,
                        "the site's log grew meanwhile; building the authority event again"
                    );
                    drop(guard);
                    let pause_ms =
                        rand::Rng::gen_range(&mut rand::thread_rng(), 0..=RETRY_PAUSE_MS * attempt);
                    tokio::time::sleep(std::time::Duration::from_millis(pause_ms)).await;
                }
                Err(error) => return Err(AuthorityError::Storage(error)),
            }
        }
        Err(AuthorityError::Contended(site_id.to_owned()))
    }
}
