//! Admission control for pushes. A site's pushes are applied one at a time (its replica is
//! behind one lock), so when hundreds of tablets come back from an outage at once their pushes
//! queue in memory, and the last of them waits longer than its own timeout and pushes again:
//! work done twice (BENCHMARKS.md, 500 tablets reconnecting). Beyond `limit` pushes queued or
//! running for one site, a new push is told to come back: `503 sync_busy` with a `Retry-After`
//! of 1 to 5 seconds, spread at random so the tablets do not return together. Nothing is lost:
//! a push refused here was not looked at, and the tablet keeps its events until it gets
//! receipts.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use rand::Rng;

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
}
