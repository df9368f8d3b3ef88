//! The tablet's storage seam: the `EventStore` trait, which the capture screens and the sync
//! engine use, with one implementation per backend: IndexedDB in the browser (`idb.rs`) and
//! memory for tests (`MemoryStore`, here).
//!
//! Events are kept in their canonical wire form and decoded again on load, so that what is
//! stored is exactly what was signed. A captured event is written once and never changed;
//! receipts, the pull cursor and PIN attempts live beside the events, not in them.

#[cfg(test)]
use std::cell::RefCell;
#[cfg(test)]
use std::collections::BTreeMap;

use baton_core::event::SignedEvent;
use thiserror::Error;

use crate::sync::protocol::Receipt;
use crate::tablet::clock_check::LastServerTime;
use crate::tablet::pin::PinAttempts;
use crate::tablet::roster::Roster;
use crate::tablet::witness::WitnessState;

/// Why storage failed. The message is for the screen and for support; it never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StoreError {
    #[error("the tablet's storage is unavailable: {0}")]
    Unavailable(String),
    #[error("the tablet's storage refused the write: {0}")]
    WriteFailed(String),
    #[error("the tablet's storage holds something unreadable: {0}")]
    Corrupt(String),
    /// The browser refused the write for lack of space (`QuotaExceededError`): the origin's
    /// quota is used up, or the device's disk is full.
    #[error("the tablet's storage is full: {0}")]
    Full(String),
}

/// An event pulled from the server, in its wire form, with its place in the site's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PulledRecord {
    pub server_seq: i64,
    pub event_json: String,
}

/// Storage for the tablet's events and what comes with them.
///
/// `async fn` in a trait is fine here: the app is one crate on one thread, so no caller needs
/// the futures to be `Send`.
#[allow(async_fn_in_trait)]
pub trait EventStore {
    /// Commits one captured event durably, in its own transaction, before the tablet claims
    /// anything. Refuses a second event with the same signer and `seq`: a chain never forks on
    /// one tablet.
    async fn append_own_event(&self, event: &SignedEvent) -> Result<(), StoreError>;
    /// This tablet's events of every key it signed with, grouped by key, each key's in chain
    /// order.
    async fn own_events(&self) -> Result<Vec<SignedEvent>, StoreError>;
    /// The latest receipt of each pushed event.
    async fn receipts(&self) -> Result<Vec<Receipt>, StoreError>;
    async fn save_receipts(&self, receipts: &[Receipt]) -> Result<(), StoreError>;
    /// One pull page and the cursor after it, together: a page is never half-kept.
    async fn save_pulled_page(&self, page: &[PulledRecord], cursor: i64) -> Result<(), StoreError>;
    /// Forgets every pulled event and the cursor, together: the server was restored from a
    /// backup and numbers its log afresh, so the site's events are pulled again from the start.
    async fn reset_pulled(&self) -> Result<(), StoreError>;
    /// The pulled events' wire JSON, in `server_seq` order.
    async fn pulled_events(&self) -> Result<Vec<String>, StoreError>;
    async fn pull_cursor(&self) -> Result<i64, StoreError>;
    async fn roster(&self) -> Result<Option<Roster>, StoreError>;
    async fn save_roster(&self, roster: &Roster) -> Result<(), StoreError>;
    async fn pin_attempts(&self, staff_id: &str) -> Result<PinAttempts, StoreError>;
    async fn save_pin_attempts(
        &self,
        staff_id: &str,
        attempts: PinAttempts,
    ) -> Result<(), StoreError>;
    async fn last_sync_ms(&self) -> Result<Option<u64>, StoreError>;
    async fn save_last_sync_ms(&self, at_ms: u64) -> Result<(), StoreError>;
    /// What the tablet knew of the server's clock at its last contact (`tablet::clock_check`).
    async fn last_server_time(&self) -> Result<Option<LastServerTime>, StoreError>;
    async fn save_last_server_time(&self, last: LastServerTime) -> Result<(), StoreError>;
    /// What this tablet witnessed of the ledger: the kept head, the proven receipts, alarms.
    async fn witness_state(&self) -> Result<WitnessState, StoreError>;
    async fn save_witness_state(&self, state: &WitnessState) -> Result<(), StoreError>;
}

/// Decodes stored wire JSON; a record that no longer decodes is reported, not skipped, because
/// a captured handoff must never silently disappear.
pub fn decode_event(json: &str) -> Result<SignedEvent, StoreError> {
    SignedEvent::from_json_bytes(json.as_bytes())
        .map_err(|error| StoreError::Corrupt(error.to_string()))
}

#[cfg(test)]
#[derive(Default)]
struct MemoryData {
    own_events: BTreeMap<(String, u64), String>,
    receipts: BTreeMap<String, Receipt>,
    pulled: BTreeMap<i64, String>,
    cursor: i64,
    roster: Option<Roster>,
    pin_attempts: BTreeMap<String, PinAttempts>,
    last_sync_ms: Option<u64>,
    last_server_time: Option<LastServerTime>,
    witness: WitnessState,
}

/// An in-memory store for tests, which can be told to fail its writes.
#[cfg(test)]
#[derive(Default)]
pub struct MemoryStore {
    data: RefCell<MemoryData>,
    fail_writes: std::cell::Cell<bool>,
}

#[cfg(test)]
impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// From now on every write fails, as a full or broken disk would.
    pub fn fail_writes(&self, fail: bool) {
        self.fail_writes.set(fail);
    }

    fn write<T>(&self, change: impl FnOnce(&mut MemoryData) -> T) -> Result<T, StoreError> {
        if self.fail_writes.get() {
            return Err(StoreError::WriteFailed(
                "QuotaExceededError (simulated)".to_owned(),
            ));
        }
        Ok(change(&mut self.data.borrow_mut()))
    }
}

#[cfg(test)]
impl EventStore for MemoryStore {
    async fn append_own_event(&self, event: &SignedEvent) -> Result<(), StoreError> {
        let json = String::from_utf8(event.to_json_bytes()).expect("wire JSON is UTF-8");
        let key = (event.signer().to_hex(), event.seq());
        self.write(|data| {
            if data.own_events.contains_key(&key) {
                return Err(StoreError::WriteFailed(format!(
                    "an event with seq {} is already stored",
                    event.seq()
                )));
            }
            data.own_events.insert(key, json);
            Ok(())
        })?
    }

    async fn own_events(&self) -> Result<Vec<SignedEvent>, StoreError> {
        let data = self.data.borrow();
        data.own_events
            .values()
            .map(|json| decode_event(json))
            .collect()
    }

    async fn receipts(&self) -> Result<Vec<Receipt>, StoreError> {
        Ok(self.data.borrow().receipts.values().cloned().collect())
    }

    async fn save_receipts(&self, receipts: &[Receipt]) -> Result<(), StoreError> {
        self.write(|data| {
            for receipt in receipts {
                if let Some(event_id) = &receipt.event_id {
                    data.receipts.insert(event_id.clone(), receipt.clone());
                }
            }
        })
    }

    async fn save_pulled_page(&self, page: &[PulledRecord], cursor: i64) -> Result<(), StoreError> {
        self.write(|data| {
            for record in page {
                data.pulled
                    .insert(record.server_seq, record.event_json.clone());
            }
            data.cursor = cursor;
        })
    }

    async fn reset_pulled(&self) -> Result<(), StoreError> {
        self.write(|data| {
            data.pulled.clear();
            data.cursor = 0;
        })
    }

    async fn pulled_events(&self) -> Result<Vec<String>, StoreError> {
        Ok(self.data.borrow().pulled.values().cloned().collect())
    }

    async fn pull_cursor(&self) -> Result<i64, StoreError> {
        Ok(self.data.borrow().cursor)
    }

    async fn roster(&self) -> Result<Option<Roster>, StoreError> {
        Ok(self.data.borrow().roster.clone())
    }

    async fn save_roster(&self, roster: &Roster) -> Result<(), StoreError> {
        self.write(|data| data.roster = Some(roster.clone()))
    }

    async fn pin_attempts(&self, staff_id: &str) -> Result<PinAttempts, StoreError> {
        Ok(self
            .data
            .borrow()
            .pin_attempts
            .get(staff_id)
            .copied()
            .unwrap_or_default())
    }

    async fn save_pin_attempts(
        &self,
        staff_id: &str,
        attempts: PinAttempts,
    ) -> Result<(), StoreError> {
        self.write(|data| {
            data.pin_attempts.insert(staff_id.to_owned(), attempts);
        })
    }

    async fn last_sync_ms(&self) -> Result<Option<u64>, StoreError> {
        Ok(self.data.borrow().last_sync_ms)
    }

    async fn save_last_sync_ms(&self, at_ms: u64) -> Result<(), StoreError> {
        self.write(|data| data.last_sync_ms = Some(at_ms))
    }

    async fn last_server_time(&self) -> Result<Option<LastServerTime>, StoreError> {
        Ok(self.data.borrow().last_server_time)
    }

    async fn save_last_server_time(&self, last: LastServerTime) -> Result<(), StoreError> {
        self.write(|data| data.last_server_time = Some(last))
    }

    async fn witness_state(&self) -> Result<WitnessState, StoreError> {
        Ok(self.data.borrow().witness.clone())
    }

    async fn save_witness_state(&self, state: &WitnessState) -> Result<(), StoreError> {
        self.write(|data| data.witness = state.clone())
    }
}

/// Runs a future that never waits on anything outside itself, as the memory store's do, to
/// completion on the current thread: enough for native tests without an async runtime.
#[cfg(test)]
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tablet::tests::signed_events;

    #[test]
    fn own_events_come_back_in_chain_order_and_a_seq_is_never_stored_twice() {
        let store = MemoryStore::new();
        let events = signed_events(3);
        for event in events.iter().rev() {
            block_on(store.append_own_event(event)).unwrap();
        }
        assert_eq!(block_on(store.own_events()).unwrap(), events);
        assert!(matches!(
            block_on(store.append_own_event(&events[1])),
            Err(StoreError::WriteFailed(_))
        ));
        assert_eq!(block_on(store.own_events()).unwrap().len(), 3);
    }

    #[test]
    fn a_failed_write_stores_nothing() {
        let store = MemoryStore::new();
        store.fail_writes(true);
        let events = signed_events(1);
        assert!(block_on(store.append_own_event(&events[0])).is_err());
        store.fail_writes(false);
        assert!(block_on(store.own_events()).unwrap().is_empty());
    }
}
