//! Admission control for pushes. A site's pushes are applied one at a time (its replica is
//! behind one lock), so when hundreds of tablets come back from an outage at once their pushes
//! queue in memory, and the last of them waits longer than its own timeout and pushes again:
//! work done twice (BENCHMARKS.md, 500 tablets reconnecting). Beyond `limit` pushes queued or
//! running for one site, a new push is told to come back: `503 sync_busy` with a `Retry-After`
//! of 1 to 5 seconds, spread at random so the tablets do not return together. Nothing is lost:
//! a push refused here was not looked at, and the tablet keeps its events until it gets
//! receipts.
//!
//! Pulls are bounded differently, by [`PullGate`]: a pull answer holds its page of events (up
//! to `MAX_PULL_EVENTS`) from the moment it is read until the answer is written, and a pull
//! waits for the site's replica lock behind the pushes. In the soak of docs/RELIABILITY.md, with
//! 200 tablets each pulling about 400 events every 30 s, some 70 pages were held at once while
//! the server was saturated (168 MiB of live heap, against 10 MiB between the waves), and the
//! allocator kept what they had touched. A pull beyond [`PULLS_AT_ONCE_PER_SITE`] of its site
//! now waits before it reads its page, holding nothing but its request: it is answered later,
//! never refused, so neither the tablet nor the protocol sees a difference but the wait.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use rand::Rng;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::error::ApiError;

/// The default bound on pushes queued or running per site: a few seconds of work at the
/// measured ingest rate (pushes of 100 to 500 events at about 2,500 events per second).
pub const DEFAULT_MAX_QUEUED_PUSHES: usize = 64;

/// The longest `Retry-After` given, in seconds; each refusal draws from 1 to this.
const MAX_RETRY_AFTER_SECS: u64 = 5;

/// Pushes queued or running, per site.
pub struct PushAdmission {
    /// 0: no limit.
    limit: usize,
    queued: Mutex<HashMap<String, Arc<AtomicUsize>>>,
}

/// A push's place in its site's queue, given back when it is dropped.
pub struct PushTicket(Arc<AtomicUsize>);

impl Drop for PushTicket {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl PushAdmission {
    pub fn new(limit: usize) -> PushAdmission {
        PushAdmission {
            limit,
            queued: Mutex::new(HashMap::new()),
        }
    }

    /// A place in the site's queue, or the `503` that tells the tablet when to come back. The
    /// map holds one counter per site that ever pushed: sites are created by admins, so it
    /// stays small.
    pub fn admit(&self, site_id: &str) -> Result<PushTicket, ApiError> {
        let counter = self
            .queued
            .lock()
            .expect("the admission map lock is never poisoned")
            .entry(site_id.to_owned())
            .or_default()
            .clone();
        let before = counter.fetch_add(1, Ordering::AcqRel);
        let ticket = PushTicket(counter);
        if self.limit > 0 && before >= self.limit {
            drop(ticket);
            let retry_after = rand::thread_rng().gen_range(1..=MAX_RETRY_AFTER_SECS);
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "sync_busy",
                format!(
                    "{before} pushes of this site are already waiting; come back in \
                     {retry_after} s (Retry-After). Nothing was taken from this push."
                ),
            )
            .with_retry_after(retry_after));
        }
        Ok(ticket)
    }

    /// Pushes queued or running for the site now.
    pub fn queued(&self, site_id: &str) -> usize {
        self.queued
            .lock()
            .expect("the admission map lock is never poisoned")
            .get(site_id)
            .map_or(0, |counter| counter.load(Ordering::Acquire))
    }
}

/// Pull answers of one site built at once by this process: reading the page, the roster and
/// the replica's view of the tablet's chain, and serialising the answer. Four is the SQLite
/// pool's size, so a site's pulls still keep every connection busy; the memory they hold is
/// bounded by this many pages (at most `MAX_PULL_EVENTS` events each).
pub const PULLS_AT_ONCE_PER_SITE: usize = 4;

/// Bounds the pull answers held in memory per site: a pull past the bound waits, in arrival
/// order, before it reads anything.
pub struct PullGate {
    per_site: usize,
    sites: Mutex<HashMap<String, Arc<Semaphore>>>,
    /// Pulls waiting for a place, all sites together.
    waiting: AtomicUsize,
}

/// A pull's place among those its site builds at once, given back when dropped.
pub struct PullPlace {
    _permit: OwnedSemaphorePermit,
}

impl PullGate {
    pub fn new(per_site: usize) -> PullGate {
        PullGate {
            per_site: per_site.max(1),
            sites: Mutex::new(HashMap::new()),
            waiting: AtomicUsize::new(0),
        }
    }

    fn semaphore(&self, site_id: &str) -> Arc<Semaphore> {
        self.sites
            .lock()
            .expect("the pull gate's lock is never poisoned")
            .entry(site_id.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_site)))
            .clone()
    }

    /// Waits for a place among the site's pulls being built. The map holds one semaphore per
    /// site that ever pulled: sites are created by admins, so it stays small.
    pub async fn enter(&self, site_id: &str) -> PullPlace {
        let semaphore = self.semaphore(site_id);
        /// Counts the pull as waiting until it has its place, or until its request is dropped.
        struct Waiting<'a>(&'a AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::AcqRel);
            }
        }
        self.waiting.fetch_add(1, Ordering::AcqRel);
        let _waiting = Waiting(&self.waiting);
        PullPlace {
            _permit: semaphore
                .acquire_owned()
                .await
                .expect("the pull gate's semaphores are never closed"),
        }
    }

    /// Pulls of the site holding a place now (reading or answering).
    pub fn building(&self, site_id: &str) -> usize {
        self.per_site - self.semaphore(site_id).available_permits()
    }

    /// Pulls waiting for a place now, all sites together.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beyond_the_limit_a_push_is_told_to_come_back_and_a_finished_push_frees_its_place() {
        let admission = PushAdmission::new(2);
        let first = admission.admit("SITE-A").unwrap();
        let second = admission.admit("SITE-A").unwrap();
        let refused = admission.admit("SITE-A").err().expect("the third waits");
        assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(refused.code, "sync_busy");
        let retry_after = refused.retry_after_secs.expect("a Retry-After");
        assert!((1..=MAX_RETRY_AFTER_SECS).contains(&retry_after));
        assert_eq!(admission.queued("SITE-A"), 2, "a refusal holds no place");
        // Another site has its own queue.
        let other = admission.admit("SITE-B").unwrap();
        drop(first);
        let third = admission.admit("SITE-A").unwrap();
        assert_eq!(admission.queued("SITE-A"), 2);
        drop((second, third, other));
        assert_eq!(admission.queued("SITE-A"), 0);
        assert_eq!(admission.queued("SITE-B"), 0);
    }

    #[test]
    fn a_limit_of_zero_admits_everything() {
        let admission = PushAdmission::new(0);
        let tickets: Vec<PushTicket> = (0..1_000).map(|_| admission.admit("S").unwrap()).collect();
        assert_eq!(admission.queued("S"), 1_000);
        drop(tickets);
        assert_eq!(admission.queued("S"), 0);
    }

    #[tokio::test]
    async fn a_pull_beyond_the_bound_waits_for_a_place_and_gets_the_next_one_freed() {
        let gate = Arc::new(PullGate::new(2));
        let first = gate.enter("SITE-A").await;
        let _second = gate.enter("SITE-A").await;
        assert_eq!(gate.building("SITE-A"), 2);
        let third = tokio::spawn({
            let gate = gate.clone();
            async move { gate.enter("SITE-A").await }
        });
        while gate.waiting() < 1 {
            tokio::task::yield_now().await;
        }
        assert!(!third.is_finished(), "the third pull waits");
        // Another site has its own places.
        let other = gate.enter("SITE-B").await;
        assert_eq!(gate.building("SITE-B"), 1);
        drop(first);
        let _third = third.await.unwrap();
        assert_eq!(gate.waiting(), 0);
        assert_eq!(gate.building("SITE-A"), 2);
        drop(other);
        assert_eq!(gate.building("SITE-B"), 0);
    }
}
