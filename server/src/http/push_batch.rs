//! Group commit of a site's pushes. A site's pushes are applied one at a time, behind its
//! replica's lock, and each one's transaction ends in a synchronous commit (an fsync on
//! SQLite). While one push holds the lock, the others of the site wait; whoever takes the lock
//! next now applies every push waiting at that moment, in arrival order, and stores them in one
//! transaction. Each push still gets its own receipts, exactly as if it had been applied alone:
//! its events are verified against its own request time and folded after the pushes queued
//! before it. What the commit costs (its fsync, the site's lock, catching up with storage) is
//! paid once per group instead of once per push.
//!
//! Every push is applied by a task of its own (`drive`), not by its request handler, so a
//! client that hangs up cannot cancel a half-applied group: its events are stored or not with
//! the others, and the tablet learns which when it pushes them again.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use baton_core::event::SignedEvent;
use baton_core::log::{InsertOutcome, LogError};
use baton_core::replica::ReceiveOutcome;
use baton_core::verify::{Rejection, VerifyOptions};
use tokio::sync::oneshot;

use super::AppState;
use super::admission::PushTicket;
use super::error::ApiError;
use super::sync::{Reason, Receipt, ReceiptStatus, rejection_code};
use crate::storage::{EventText, NewEvent, NewNonce, NewRevocation};
use crate::sync::SiteReplica;

/// The most events one group commits. A push waiting behind a full group is applied by the
/// next one; this bounds a transaction's size and the time the site's lock is held.
pub const MAX_EVENTS_PER_GROUP: usize = 5_000;

/// One push, decoded and waiting to be applied.
pub struct PushRequest {
    pub tablet_id: String,
    /// The request's time: what its events are verified against and their `received_at_ms`.
    pub now_ms: u64,
    /// One slot per event of the request; those refused while decoding are already filled.
    pub receipts: Vec<Option<Receipt>>,
    /// The events that decoded, with their index in the request.
    pub decoded: Vec<(usize, SignedEvent)>,
    /// What storage writes of each of `decoded`, in the same order, written before the lock.
    pub texts: Vec<EventText>,
    /// The verdict of each decoded event, checked before the lock against the site's key set
    /// at this registry version (`SiteReplicas::verifier`); used only if the replica is still
    /// at that version, otherwise the events are verified again under the lock.
    pub verdicts: Option<(i64, Vec<Result<(), Rejection>>)>,
    /// The push's place in admission control, given back once it is applied.
    pub ticket: Option<PushTicket>,
    /// The request's nonce, remembered in the group's transaction (`tablet_auth.rs`).
    pub nonce: Option<NewNonce>,
}

struct PushJob {
    request: PushRequest,
    reply: oneshot::Sender<Result<Vec<Receipt>, ApiError>>,
}

/// The pushes waiting for their site's lock, per site.
#[derive(Default)]
pub struct PushQueues {
    /// One queue per site that ever pushed: sites are created by admins, so this stays small.
    /// Each queue is bounded by admission control (`admission.rs`), which counts a push until
    /// its answer is built.
    sites: Mutex<HashMap<String, Arc<Mutex<VecDeque<PushJob>>>>>,
}

impl PushQueues {
    /// Pushes of the site decoded and waiting for its lock.
    pub fn waiting(&self, site_id: &str) -> usize {
        self.queue(site_id)
            .lock()
            .expect("a push queue lock is never poisoned")
            .len()
    }

    fn queue(&self, site_id: &str) -> Arc<Mutex<VecDeque<PushJob>>> {
        self.sites
            .lock()
            .expect("the push queue map lock is never poisoned")
            .entry(site_id.to_owned())
            .or_default()
            .clone()
    }
}

/// Queues the push and starts the task that applies it (and whatever else waits); answers the
/// push's receipts once its group is stored.
pub async fn apply(
    state: &AppState,
    site_id: &str,
    request: PushRequest,
) -> Result<Vec<Receipt>, ApiError> {
    let (reply, answer) = oneshot::channel();
    let queue = state.push_queues.queue(site_id);
    queue
        .lock()
        .expect("a push queue lock is never poisoned")
        .push_back(PushJob { request, reply });
    tokio::spawn(drive(state.clone(), site_id.to_owned(), queue));
    answer
        .await
        .unwrap_or_else(|_| Err(ApiError::internal("a push's group ended without an answer")))
}

/// Takes the site's lock and applies every push queued at that moment, up to
/// `MAX_EVENTS_PER_GROUP` events. Each queued push starts one of these, so none is left
/// behind: a later task finds the queue empty and does nothing.
async fn drive(state: AppState, site_id: String, queue: Arc<Mutex<VecDeque<PushJob>>>) {
    // This task's push was queued before it started: if the queue is empty, an earlier
    // task's group took it.
    if queue
        .lock()
        .expect("a push queue lock is never poisoned")
        .is_empty()
    {
        return;
    }
    let locked = state.replicas.lock(state.storage.as_ref(), &site_id).await;
    let jobs = take_group(&queue);
    if jobs.is_empty() {
        return;
    }
    let mut guard = match locked {
        Ok(guard) => guard,
        Err(error) => {
            let error = ApiError::from(error);
            for job in jobs {
                let _ = job.reply.send(Err(error.clone()));
            }
            return;
        }
    };
    let fold_started = std::time::Instant::now();
    let mut folded: Vec<FoldedPush> = jobs
        .into_iter()
        .map(|job| fold_push(&mut guard, job))
        .collect();
    let to_store: Vec<NewEvent> = folded
        .iter_mut()
        .flat_map(|push| std::mem::take(&mut push.to_store))
        .collect();
    let revocations: Vec<NewRevocation> = folded
        .iter_mut()
        .flat_map(|push| std::mem::take(&mut push.revocations))
        .collect();
    let contacts: Vec<(String, i64)> = folded
        .iter()
        .map(|push| (push.tablet_id.clone(), push.now_ms as i64))
        .collect();
    let nonces: Vec<NewNonce> = folded
        .iter_mut()
        .filter_map(|push| push.nonce.take())
        .collect();
    let store_started = std::time::Instant::now();
    match state
        .storage
        .append_events(
            &site_id,
            &to_store,
            &revocations,
            &state.connectors,
            &contacts,
            &nonces,
        )
        .await
    {
        Ok(appended) => {
            state.metrics.count_push_group(
                folded.len(),
                store_started - fold_started,
                store_started.elapsed(),
            );
            // The replica folded these events before they were stored. If it had also folded
            // every event of the site stored before them, nothing it has not folded lies
            // below them now, and its next catch-up need not read them back.
            if appended.site_latest_before == guard.cursor {
                let newest = appended.events.iter().map(|event| event.server_seq).max();
                guard.cursor = guard.cursor.max(newest.unwrap_or(guard.cursor));
            }
            let appended_nonces = appended.fresh_nonces;
            let mut appended = appended.events.into_iter();
            let mut fresh_nonces = appended_nonces.into_iter();
            for push in folded {
                // A replayed request is refused as `SignedByTablet` refuses the other routes'
                // (its events, the same signed events as its original's, are stored once).
                let replayed = push.had_nonce && fresh_nonces.next() == Some(false);
                let mut receipts = push.receipts;
                for index in push.stored_indices {
                    let stored = appended.next().expect("one appended row per stored event");
                    if let Some(receipt) = receipts[index].as_mut() {
                        receipt.server_seq = Some(stored.server_seq);
                        receipt.leaf_index = stored.leaf_index;
                    }
                }
                if replayed {
                    let _ = push.reply.send(Err(super::tablet_auth::replayed_request()));
                    continue;
                }
                let receipts = receipts
                    .into_iter()
                    .map(|receipt| receipt.expect("every event has a receipt"))
                    .collect();
                let _ = push.reply.send(Ok(receipts));
            }
        }
        Err(error) => {
            // The replica took in events that are not stored: the next use reloads it.
            guard.discard();
            let error = ApiError::storage(error);
            for push in folded {
                let _ = push.reply.send(Err(error.clone()));
            }
        }
    }
    // The answers go out before the lock is released (when `guard` drops here).
    drop(guard);
}

/// The queued pushes of the next group, oldest first.
fn take_group(queue: &Mutex<VecDeque<PushJob>>) -> Vec<PushJob> {
    let mut queue = queue.lock().expect("a push queue lock is never poisoned");
    let mut group = Vec::new();
    let mut n_events = 0;
    while let Some(job) = queue.front() {
        let job_events = job.request.decoded.len();
        if !group.is_empty() && n_events + job_events > MAX_EVENTS_PER_GROUP {
            break;
        }
        n_events += job_events;
        group.push(queue.pop_front().expect("the front was just seen"));
    }
    group
}

/// A push folded into the replica, waiting for its group's commit.
struct FoldedPush {
    tablet_id: String,
    now_ms: u64,
    receipts: Vec<Option<Receipt>>,
    to_store: Vec<NewEvent>,
    /// The request index of each event of `to_store`, in order.
    stored_indices: Vec<usize>,
    revocations: Vec<NewRevocation>,
    /// Taken for the group's transaction; `had_nonce` remembers that there was one.
    nonce: Option<NewNonce>,
    had_nonce: bool,
    reply: oneshot::Sender<Result<Vec<Receipt>, ApiError>>,
    /// Held until the push is answered.
    _ticket: Option<PushTicket>,
}

/// Verifies and folds one push's events into the replica, and says what to store.
fn fold_push(site: &mut SiteReplica, job: PushJob) -> FoldedPush {
    let PushJob {
        request:
            PushRequest {
                tablet_id,
                now_ms,
                mut receipts,
                decoded,
                texts,
                verdicts,
                ticket,
                nonce,
            },
        reply,
    } = job;
    let options = VerifyOptions {
        now_ms,
        max_clock_skew_ms: site.config.rules.max_clock_skew_ms,
    };
    let (indices, events): (Vec<usize>, Vec<SignedEvent>) = decoded.into_iter().unzip();
    // What the pushed devices' state already called for was recorded by earlier pushes.
    let pushed = crate::revocation::changed_since(&events);
    let before = crate::revocation::revocations_for(site.replica.custody(), &pushed, now_ms);
    let outcomes = match verdicts {
        Some((version, verdicts)) if version == site.registry_version() => {
            site.replica.receive_verified_batch(events, verdicts)
        }
        _ => site.replica.receive_batch(events, options),
    };
    let newly_folded: Vec<&SignedEvent> = outcomes
        .iter()
        .filter_map(|outcome| match outcome {
            ReceiveOutcome::Inserted(InsertOutcome::Admitted { newly_admitted, .. }) => {
                Some(newly_admitted)
            }
            _ => None,
        })
        .flatten()
        .filter_map(|id| site.replica.log().get(id))
        .collect();
    let changed = crate::revocation::changed_since(newly_folded);
    let revocations = crate::revocation::not_yet_recorded(
        &before,
        crate::revocation::revocations_for(site.replica.custody(), &changed, now_ms),
    );
    let reject = |index: usize, event_id: String, code: &'static str, message: String| Receipt {
        index,
        event_id: Some(event_id),
        status: ReceiptStatus::Rejected,
        server_seq: None,
        leaf_index: None,
        received_at_ms: now_ms,
        fork: false,
        reason: Some(Reason { code, message }),
    };
    let mut to_store = Vec::new();
    let mut stored_indices = Vec::new();
    for ((index, text), outcome) in indices.into_iter().zip(texts).zip(outcomes) {
        let event_id = text.event_id.clone();
        let (status, fork) = match outcome {
            ReceiveOutcome::Inserted(InsertOutcome::Duplicate) => (ReceiptStatus::Duplicate, false),
            ReceiveOutcome::Inserted(InsertOutcome::Admitted { forks_with, .. }) => {
                (ReceiptStatus::Accepted, !forks_with.is_empty())
            }
            ReceiveOutcome::Inserted(InsertOutcome::Held { forks_with, .. }) => {
                (ReceiptStatus::Held, !forks_with.is_empty())
            }
            ReceiveOutcome::Rejected(rejection) => {
                receipts[index] = Some(reject(
                    index,
                    event_id,
                    rejection_code(&rejection),
                    rejection.to_string(),
                ));
                continue;
            }
            ReceiveOutcome::Refused(error @ LogError::HeldLimitReached { .. }) => {
                receipts[index] = Some(reject(index, event_id, "held_limit", error.to_string()));
                continue;
            }
        };
        // Duplicates are stored again too: the database ignores them and gives back the
        // server_seq the receipt carries.
        to_store.push(NewEvent::with_text(text, Some(tablet_id.clone()), now_ms));
        stored_indices.push(index);
        receipts[index] = Some(Receipt {
            index,
            event_id: Some(event_id),
            status,
            server_seq: None,
            leaf_index: None,
            received_at_ms: now_ms,
            fork,
            reason: None,
        });
    }
    FoldedPush {
        tablet_id,
        now_ms,
        receipts,
        to_store,
        stored_indices,
        revocations,
        had_nonce: nonce.is_some(),
        nonce,
        reply,
        _ticket: ticket,
    }
}
