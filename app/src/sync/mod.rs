//! The tablet's sync client: push the outbox, pull everyone's events, refresh the roster
//! (docs/PROTOCOL.md §2.3, §2.4).
//!
//! # Layout
//! - `protocol`: the JSON of the sync routes.
//! - `scheduler`: when to sync in the browser (start, `online`, after a capture, periodically
//!   with backoff) and the visible sync state.
//! - `witness`: the ledger witness step of a round (docs/PROTOCOL.md §3.7).
//! - `sync_once` (here): one round, written against the `EventStore` and `SyncTransport` traits
//!   so that it runs in native tests with fakes.

pub mod protocol;
pub mod scheduler;
pub mod witness;

use baton_core::event::SignedEvent;
use baton_core::ids::SignerKey;
use baton_core::key_rotation::SignedKeyRotation;
use baton_core::ledger::{LedgerHash, SignedTreeHead};
use thiserror::Error;

use crate::browser::store::{EventStore, PulledRecord, StoreError};
use crate::tablet::roster::Roster;
use crate::tablet::signature_holds;
use crate::tablet::witness::WitnessAlarm;
use protocol::{MAX_PUSH_EVENTS, PULL_PAGE_SIZE, PullPage, Receipt};
use witness::{WitnessContext, WitnessView};

/// Why talking to the server failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TransportError {
    /// No answer at all: offline, DNS, the server down.
    #[error("the server could not be reached: {0}")]
    Unreachable(String),
    /// The server answered with an error (docs/PROTOCOL.md §2: a stable code and a message).
    #[error("the server answered {status} {code}: {message}")]
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    #[error("the server's answer could not be read: {0}")]
    BadAnswer(String),
}

/// The sync and ledger routes, signed by the tablet.
#[allow(async_fn_in_trait)]
pub trait SyncTransport {
    /// The key that signs the requests: the pull's `chain_seq` is about this key's chain.
    fn tablet_key(&self) -> SignerKey;
    async fn push(&self, events: &[SignedEvent]) -> Result<Vec<Receipt>, TransportError>;
    async fn pull(&self, after: i64, limit: u32) -> Result<PullPage, TransportError>;
    async fn roster(&self) -> Result<Roster, TransportError>;
    /// The site ledger's newest signed tree head.
    async fn ledger_head(&self) -> Result<SignedTreeHead, TransportError>;
    /// The consistency proof between two tree sizes.
    async fn consistency(&self, from: u64, to: u64) -> Result<Vec<LedgerHash>, TransportError>;
    /// The inclusion proof of a leaf in the tree of `size` leaves.
    async fn inclusion(&self, index: u64, size: u64) -> Result<Vec<LedgerHash>, TransportError>;
    /// Reports a witness alarm with its evidence.
    async fn report_witness(&self, alarm: &WitnessAlarm) -> Result<(), TransportError>;
    /// The server key's rotations, oldest first (docs/PROTOCOL.md §3.9).
    async fn server_key_rotations(&self) -> Result<Vec<SignedKeyRotation>, TransportError>;
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SyncError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the server sent {got} receipts for {sent} events")]
    ReceiptCount { sent: usize, got: usize },
    /// The server's signed tree head was refused (wrong site or key): not evidence, an error.
    #[error("{0}")]
    Witness(String),
}

/// What one round did. It is returned even when the round stopped early, so that whatever was
/// stored before the failure also reaches the screen.
#[derive(Debug)]
pub struct SyncOutcome {
    pub receipts: Vec<Receipt>,
    /// Decoded pulled events, stored; the caller folds them.
    pub pulled: Vec<SignedEvent>,
    /// Pulled entries that did not decode or whose signature does not verify: skipped (not
    /// stored) so that the cursor moves on.
    pub n_skipped: usize,
    /// A new roster, stored.
    pub roster: Option<Roster>,
    /// Own events pushed again because the server no longer held them (restored from a
    /// backup taken before they arrived).
    pub n_repushed: usize,
    /// The server's log ended before this tablet's pull cursor: it was restored, and the
    /// site's events were pulled again from the start.
    pub server_restored: bool,
    /// What the witness step found, when it ran.
    pub witness: Option<WitnessView>,
    pub result: Result<(), SyncError>,
}

/// One sync round: push `to_push` in batches, pull from the stored cursor until the server has
/// no more, and fetch the roster when its version differs from `roster_version`. Every step is
/// stored before the next one starts. Last, the tablet witnesses the ledger (§3.7).
pub async fn sync_once<S: EventStore, T: SyncTransport>(
    store: &S,
    transport: &T,
    to_push: &[SignedEvent],
    roster_version: &str,
    witness_context: &WitnessContext,
) -> SyncOutcome {
    let mut outcome = SyncOutcome {
        receipts: Vec::new(),
        pulled: Vec::new(),
        n_skipped: 0,
        roster: None,
        n_repushed: 0,
        server_restored: false,
        witness: None,
        result: Ok(()),
    };
    outcome.result = run(store, transport, to_push, roster_version, &mut outcome).await;
    if outcome.result.is_ok() {
        match witness::witness(store, transport, witness_context).await {
            Ok(view) => outcome.witness = Some(view),
            Err(error) => outcome.result = Err(error),
        }
    }
    outcome
}

async fn run<S: EventStore, T: SyncTransport>(
    store: &S,
    transport: &T,
    to_push: &[SignedEvent],
    roster_version: &str,
    outcome: &mut SyncOutcome,
) -> Result<(), SyncError> {
    push_all(store, transport, to_push, outcome).await?;

    let mut cursor = store.pull_cursor().await?;
    let mut chain_seq = None;
    let server_roster_version = loop {
        let page = transport.pull(cursor, PULL_PAGE_SIZE).await?;
        if page
            .latest_server_seq
            .is_some_and(|latest| latest < cursor && !outcome.server_restored)
        {
            // The server's log ends before what this tablet already pulled: it was restored
            // from a backup and numbers its log afresh. Pull everything again.
            store.reset_pulled().await?;
            outcome.server_restored = true;
            cursor = 0;
            continue;
        }
        chain_seq = chain_seq.or(page.chain_seq);
        let mut records = Vec::with_capacity(page.events.len());
        for entry in &page.events {
            let json = entry.event.to_string();
            match SignedEvent::from_json_bytes(json.as_bytes()) {
                Ok(event) if signature_holds(&event) => {
                    outcome.pulled.push(event);
                    records.push(PulledRecord {
                        server_seq: entry.server_seq,
                        event_json: json,
                    });
                }
                Ok(_) | Err(_) => outcome.n_skipped += 1,
            }
        }
        store.save_pulled_page(&records, page.next_after).await?;
        cursor = page.next_after;
        if !page.more {
            break page.roster_version;
        }
    };

    // Events the server acknowledged before but no longer holds go again, in chain order, so
    // that nothing this tablet captured is missing from a restored server. `chain_seq` is about
    // the requesting key's chain: a retired key's events are not compared with it.
    if let Some(chain_seq) = chain_seq {
        let tablet_key = transport.tablet_key();
        let receipted: std::collections::BTreeSet<String> = store
            .receipts()
            .await?
            .into_iter()
            .filter_map(|receipt| receipt.event_id)
            .collect();
        let mut lost: Vec<SignedEvent> = store
            .own_events()
            .await?
            .into_iter()
            .filter(|event| {
                *event.signer() == tablet_key
                    && event.seq() as i64 > chain_seq
                    && receipted.contains(&event.id().to_hex())
                    && !to_push.iter().any(|pushed| pushed.id() == event.id())
            })
            .collect();
        lost.sort_by_key(SignedEvent::seq);
        if !lost.is_empty() {
            outcome.n_repushed = lost.len();
            push_all(store, transport, &lost, outcome).await?;
        }
    }

    if server_roster_version != roster_version {
        let roster = transport.roster().await?;
        store.save_roster(&roster).await?;
        outcome.roster = Some(roster);
    }
    Ok(())
}

/// Pushes `events` in batches and stores each batch's receipts before the next.
async fn push_all<S: EventStore, T: SyncTransport>(
    store: &S,
    transport: &T,
    events: &[SignedEvent],
    outcome: &mut SyncOutcome,
) -> Result<(), SyncError> {
    for batch in events.chunks(MAX_PUSH_EVENTS) {
        let receipts = transport.push(batch).await?;
        if receipts.len() != batch.len() {
            return Err(SyncError::ReceiptCount {
                sent: batch.len(),
                got: receipts.len(),
            });
        }
        store.save_receipts(&receipts).await?;
        outcome.receipts.extend(receipts);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::cell::{Cell, RefCell};

    use baton_core::ids::SiteId;
    use baton_core::ledger::{
        HashStore, LedgerEntry, MemoryHashStore, TreeHead, consistency_proof, inclusion_proof,
        leaf_hash,
    };
    use ed25519_dalek::SigningKey;

    use super::*;
    use crate::browser::store::{MemoryStore, block_on};
    use crate::sync::protocol::{PulledEntry, ReceiptStatus};
    use crate::tablet::roster::tests::roster;
    use crate::tablet::tests::signed_events;
    use crate::tablet::witness::{AlarmKind, WitnessState};

    const SERVER_SEED: [u8; 32] = [9; 32];
    const SITE: &str = "SITE-DEMO";

    fn context() -> WitnessContext {
        WitnessContext {
            site_id: SITE.to_owned(),
            server_key: SignerKey::from_signing_key(&SigningKey::from_bytes(&SERVER_SEED)),
            now_ms: 1_764_000_000_000,
        }
    }

    fn sign_head(tree: &MemoryHashStore) -> SignedTreeHead {
        sign_head_with(tree, SERVER_SEED)
    }

    fn sign_head_with(tree: &MemoryHashStore, seed: [u8; 32]) -> SignedTreeHead {
        let signing_key = SigningKey::from_bytes(&seed);
        TreeHead {
            log_id: SiteId::new(SITE).unwrap(),
            tree_size: tree.size(),
            root_hash: tree.root(),
            timestamp_ms: 1_764_000_000_000,
            key_id: SignerKey::from_signing_key(&signing_key),
        }
        .sign(&signing_key)
        .unwrap()
    }

    /// A server in memory: it stores what is pushed, in order, pages it out again, and keeps
    /// the site's ledger of what it stored, as the real server does.
    struct FakeServer {
        events: RefCell<Vec<SignedEvent>>,
        ledger: RefCell<MemoryHashStore>,
        push_sizes: RefCell<Vec<usize>>,
        roster: Roster,
        roster_fetches: RefCell<usize>,
        offline: bool,
        /// Serve heads and proofs of a ledger whose first entry was rewritten.
        rewritten: Cell<bool>,
        reports: RefCell<Vec<WitnessAlarm>>,
        /// The key it signs heads with, and the rotations that led to it.
        key_seed: Cell<[u8; 32]>,
        rotations: RefCell<Vec<SignedKeyRotation>>,
        /// The tablet key that signs the requests.
        tablet_key: Cell<SignerKey>,
    }

    impl FakeServer {
        fn new() -> FakeServer {
            FakeServer {
                events: RefCell::new(Vec::new()),
                ledger: RefCell::new(MemoryHashStore::new()),
                push_sizes: RefCell::new(Vec::new()),
                roster: Roster {
                    version: "v2".to_owned(),
                    ..roster()
                },
                roster_fetches: RefCell::new(0),
                offline: false,
                rewritten: Cell::new(false),
                reports: RefCell::new(Vec::new()),
                key_seed: Cell::new(SERVER_SEED),
                rotations: RefCell::new(Vec::new()),
                tablet_key: Cell::new(SignerKey::from_signing_key(
                    &crate::tablet::tests::signing_key(),
                )),
            }
        }

        /// Rotates the server key as `baton rotate-server-key` does.
        fn rotate_key(&self, next_seed: [u8; 32]) {
            let previous = SigningKey::from_bytes(&self.key_seed.get());
            let next = SigningKey::from_bytes(&next_seed);
            let rotation = baton_core::key_rotation::KeyRotation {
                signer: baton_core::key_rotation::RotatingSigner::Server,
                previous: SignerKey::from_signing_key(&previous),
                next: SignerKey::from_signing_key(&next),
                at_ms: 1_764_000_000_000,
                last_event: None,
            }
            .sign(&previous, &next)
            .unwrap();
            self.rotations.borrow_mut().push(rotation);
            self.key_seed.set(next_seed);
        }

        /// Plays a server restored from a backup that held only the first `kept` events (and
        /// ledger leaves: here one leaf per event).
        fn restore_to(&self, kept: usize) {
            self.events.borrow_mut().truncate(kept);
            let mut ledger = MemoryHashStore::new();
            for index in 0..kept as u64 {
                ledger.append(self.ledger.borrow().node(0, index).unwrap());
            }
            *self.ledger.borrow_mut() = ledger;
        }

        /// The ledger as served: the true one, or one with its first leaf replaced.
        fn served_ledger(&self) -> MemoryHashStore {
            let ledger = self.ledger.borrow();
            if !self.rewritten.get() {
                return ledger.clone();
            }
            let mut rewritten = MemoryHashStore::new();
            rewritten.append(leaf_hash(b"a rewritten first entry"));
            for index in 1..ledger.size() {
                rewritten.append(ledger.node(0, index).unwrap());
            }
            rewritten
        }
    }

    impl SyncTransport for FakeServer {
        fn tablet_key(&self) -> SignerKey {
            self.tablet_key.get()
        }

        async fn push(&self, events: &[SignedEvent]) -> Result<Vec<Receipt>, TransportError> {
            if self.offline {
                return Err(TransportError::Unreachable("offline".to_owned()));
            }
            self.push_sizes.borrow_mut().push(events.len());
            let mut stored = self.events.borrow_mut();
            Ok(events
                .iter()
                .enumerate()
                .map(|(index, event)| {
                    let duplicate = stored.contains(event);
                    if !duplicate {
                        stored.push(event.clone());
                        let entry = LedgerEntry::Event {
                            event: Box::new(event.clone()),
                            server_seq: stored.len() as u64,
                            received_at_ms: 1,
                        };
                        self.ledger.borrow_mut().append(entry.leaf_hash().unwrap());
                    }
                    Receipt {
                        index,
                        event_id: Some(event.id().to_hex()),
                        status: if duplicate {
                            ReceiptStatus::Duplicate
                        } else {
                            ReceiptStatus::Accepted
                        },
                        server_seq: Some(stored.len() as i64),
                        leaf_index: Some(stored.len() as i64 - 1),
                        received_at_ms: 1,
                        fork: false,
                        reason: None,
                    }
                })
                .collect())
        }

        async fn pull(&self, after: i64, limit: u32) -> Result<PullPage, TransportError> {
            let stored = self.events.borrow();
            let start = after as usize;
            let end = (start + limit as usize).min(stored.len());
            let events = (start..end)
                .map(|event_idx| PulledEntry {
                    server_seq: event_idx as i64 + 1,
                    event: serde_json::from_slice(&stored[event_idx].to_json_bytes()).unwrap(),
                })
                .collect();
            let seqs: std::collections::BTreeSet<u64> = stored
                .iter()
                .filter(|event| *event.signer() == self.tablet_key.get())
                .map(SignedEvent::seq)
                .collect();
            let chain_seq = (1..).take_while(|seq| seqs.contains(seq)).count() as i64;
            Ok(PullPage {
                events,
                next_after: end as i64,
                more: end < stored.len(),
                roster_version: self.roster.version.clone(),
                chain_seq: Some(chain_seq),
                latest_server_seq: Some(stored.len() as i64),
            })
        }

        async fn roster(&self) -> Result<Roster, TransportError> {
            *self.roster_fetches.borrow_mut() += 1;
            Ok(self.roster.clone())
        }

        async fn ledger_head(&self) -> Result<SignedTreeHead, TransportError> {
            Ok(sign_head_with(&self.served_ledger(), self.key_seed.get()))
        }

        async fn consistency(&self, from: u64, to: u64) -> Result<Vec<LedgerHash>, TransportError> {
            Ok(consistency_proof(&self.served_ledger(), from, to).unwrap())
        }

        async fn inclusion(
            &self,
            index: u64,
            size: u64,
        ) -> Result<Vec<LedgerHash>, TransportError> {
            Ok(inclusion_proof(&self.served_ledger(), index, size).unwrap())
        }

        async fn report_witness(&self, alarm: &WitnessAlarm) -> Result<(), TransportError> {
            self.reports.borrow_mut().push(alarm.clone());
            Ok(())
        }

        async fn server_key_rotations(&self) -> Result<Vec<SignedKeyRotation>, TransportError> {
            Ok(self.rotations.borrow().clone())
        }
    }

    #[test]
    fn the_outbox_goes_in_batches_of_at_most_500_and_every_receipt_is_kept() {
        let store = MemoryStore::new();
        let server = FakeServer::new();
        let events = signed_events(1_001);
        let outcome = block_on(sync_once(&store, &server, &events, "v2", &context()));
        outcome.result.unwrap();
        assert_eq!(*server.push_sizes.borrow(), [500, 500, 1]);
        let receipts = block_on(store.receipts()).unwrap();
        assert_eq!(receipts.len(), 1_001);
        assert!(
            receipts
                .iter()
                .all(|receipt| receipt.status == ReceiptStatus::Accepted)
        );
        // The pull brought the same events back, over three pages, and the cursor is kept.
        assert_eq!(outcome.pulled, events);
        assert_eq!(block_on(store.pull_cursor()).unwrap(), 1_001);
        assert_eq!(block_on(store.pulled_events()).unwrap().len(), 1_001);
        // The roster version did not change: no roster fetch.
        assert_eq!(*server.roster_fetches.borrow(), 0);
        assert!(outcome.roster.is_none());
    }

    #[test]
    fn a_new_roster_version_fetches_and_stores_the_roster() {
        let store = MemoryStore::new();
        let server = FakeServer::new();
        let outcome = block_on(sync_once(&store, &server, &[], "v1", &context()));
        outcome.result.unwrap();
        assert_eq!(*server.roster_fetches.borrow(), 1);
        assert_eq!(
            outcome
                .roster
                .as_ref()
                .map(|roster| roster.version.as_str()),
            Some("v2")
        );
        assert_eq!(block_on(store.roster()).unwrap().unwrap().version, "v2");
    }

    #[test]
    fn pulls_resume_from_the_stored_cursor() {
        let store = MemoryStore::new();
        let server = FakeServer::new();
        let events = signed_events(3);
        block_on(sync_once(&store, &server, &events[..2], "v2", &context()))
            .result
            .unwrap();
        let outcome = block_on(sync_once(&store, &server, &events[2..], "v2", &context()));
        outcome.result.unwrap();
        assert_eq!(outcome.pulled, events[2..]);
    }

    /// A server that pages out a forged event and a malformed one before a good one.
    struct TamperedServer {
        good: SignedEvent,
    }

    impl SyncTransport for TamperedServer {
        fn tablet_key(&self) -> SignerKey {
            *self.good.signer()
        }

        async fn push(&self, _events: &[SignedEvent]) -> Result<Vec<Receipt>, TransportError> {
            Ok(Vec::new())
        }

        async fn pull(&self, _after: i64, _limit: u32) -> Result<PullPage, TransportError> {
            let mut forged: serde_json::Value =
                serde_json::from_slice(&self.good.to_json_bytes()).unwrap();
            forged["wall_ms"] = serde_json::json!(self.good.wall_ms() + 1);
            let entry = |server_seq, event| PulledEntry { server_seq, event };
            Ok(PullPage {
                events: vec![
                    entry(1, forged),
                    entry(2, serde_json::json!({"v": 1, "oops": true})),
                    entry(
                        3,
                        serde_json::from_slice(&self.good.to_json_bytes()).unwrap(),
                    ),
                ],
                next_after: 3,
                more: false,
                roster_version: "v2".to_owned(),
                chain_seq: None,
                latest_server_seq: None,
            })
        }

        async fn roster(&self) -> Result<Roster, TransportError> {
            Err(TransportError::Unreachable("not needed".to_owned()))
        }

        async fn ledger_head(&self) -> Result<SignedTreeHead, TransportError> {
            Ok(sign_head(&MemoryHashStore::new()))
        }

        async fn consistency(&self, _: u64, _: u64) -> Result<Vec<LedgerHash>, TransportError> {
            Ok(Vec::new())
        }

        async fn inclusion(&self, _: u64, _: u64) -> Result<Vec<LedgerHash>, TransportError> {
            Ok(Vec::new())
        }

        async fn report_witness(&self, _: &WitnessAlarm) -> Result<(), TransportError> {
            Ok(())
        }

        async fn server_key_rotations(&self) -> Result<Vec<SignedKeyRotation>, TransportError> {
            Ok(Vec::new())
        }
    }

    #[test]
    fn forged_or_malformed_pulled_events_are_skipped_and_the_cursor_moves_on() {
        let store = MemoryStore::new();
        let good = signed_events(1).remove(0);
        let server = TamperedServer { good: good.clone() };
        let outcome = block_on(sync_once(&store, &server, &[], "v2", &context()));
        outcome.result.unwrap();
        assert_eq!(outcome.pulled, [good]);
        assert_eq!(outcome.n_skipped, 2);
        assert_eq!(block_on(store.pulled_events()).unwrap().len(), 1);
        assert_eq!(block_on(store.pull_cursor()).unwrap(), 3);
    }

    #[test]
    fn offline_nothing_changes_and_the_error_says_so() {
        let store = MemoryStore::new();
        let server = FakeServer {
            offline: true,
            ..FakeServer::new()
        };
        let outcome = block_on(sync_once(
            &store,
            &server,
            &signed_events(2),
            "v2",
            &context(),
        ));
        assert!(matches!(
            outcome.result,
            Err(SyncError::Transport(TransportError::Unreachable(_)))
        ));
        assert!(block_on(store.receipts()).unwrap().is_empty());
        assert_eq!(block_on(store.pull_cursor()).unwrap(), 0);
    }

    #[test]
    fn the_tablet_keeps_a_verified_head_and_proves_its_own_events_included() {
        let store = MemoryStore::new();
        let server = FakeServer::new();
        let events = signed_events(30);
        let outcome = block_on(sync_once(&store, &server, &events[..10], "v2", &context()));
        outcome.result.unwrap();
        let view = outcome.witness.unwrap();
        assert_eq!(view.state.head.as_ref().unwrap().head.tree_size, 10);
        assert_eq!(view.state.proven_below_leaf, 10);
        assert!(view.state.alarms.is_empty());
        // The log grows: the new head is adopted through a consistency proof, and the proofs of
        // inclusion go on, at most 20 per round.
        let outcome = block_on(sync_once(&store, &server, &events[10..], "v2", &context()));
        let view = outcome.witness.unwrap();
        assert_eq!(view.state.head.as_ref().unwrap().head.tree_size, 30);
        assert_eq!(view.state.proven_below_leaf, 30);
        assert!(server.reports.borrow().is_empty());
        assert_eq!(block_on(store.witness_state()).unwrap(), view.state);
    }

    #[test]
    fn a_server_restored_from_a_backup_gets_back_what_it_lost_and_the_tablet_pulls_afresh() {
        let store = MemoryStore::new();
        let server = FakeServer::new();
        let events = signed_events(10);
        for event in &events {
            block_on(store.append_own_event(event)).unwrap();
        }
        block_on(sync_once(&store, &server, &events[..8], "v2", &context()))
            .result
            .unwrap();
        assert_eq!(block_on(store.pull_cursor()).unwrap(), 8);

        // The server is restored from a backup holding the first three events; meanwhile the
        // tablet captured two more.
        server.restore_to(3);
        let outcome = block_on(sync_once(&store, &server, &events[8..], "v2", &context()));
        outcome.result.unwrap();
        assert!(
            outcome.server_restored,
            "the cursor was past the server's log"
        );
        assert_eq!(
            outcome.n_repushed, 5,
            "seqs 4 to 8 were acknowledged, then lost"
        );
        let mut on_server: Vec<u64> = server
            .events
            .borrow()
            .iter()
            .map(SignedEvent::seq)
            .collect();
        on_server.sort();
        assert_eq!(
            on_server,
            (1..=10).collect::<Vec<u64>>(),
            "nothing lost, nothing twice"
        );

        // The next round pulls what was pushed again; every event is pulled once.
        block_on(sync_once(&store, &server, &[], "v2", &context()))
            .result
            .unwrap();
        let mut pulled: Vec<String> = block_on(store.pulled_events()).unwrap();
        pulled.sort();
        pulled.dedup();
        assert_eq!(pulled.len(), 10);

        // The ledger's tail was rewritten: the witness says so, with its evidence.
        let reports = server.reports.borrow();
        assert_eq!(reports.len(), 1);
        assert_eq!(reports[0].kind, AlarmKind::Inconsistent);
        assert_eq!(reports[0].kept.head.tree_size, 8);
    }

    #[test]
    fn a_rewritten_history_raises_one_alarm_keeps_both_heads_and_reports_it() {
        let store = MemoryStore::new();
        let server = FakeServer::new();
        let events = signed_events(6);
        block_on(sync_once(&store, &server, &events[..3], "v2", &context()))
            .result
            .unwrap();
        let kept = block_on(store.witness_state()).unwrap().head.unwrap();
        server.rewritten.set(true);
        let outcome = block_on(sync_once(&store, &server, &events[3..], "v2", &context()));
        outcome.result.unwrap();
        let state = outcome.witness.unwrap().state;
        assert_eq!(state.head.as_ref(), Some(&kept), "the old head is kept");
        assert_eq!(state.alarms.len(), 1);
        let alarm = &state.alarms[0];
        assert_eq!(alarm.kind, AlarmKind::Inconsistent);
        assert_eq!(alarm.kept, kept);
        assert_eq!(alarm.offered.head.tree_size, 6);
        assert!(alarm.reported);
        assert_eq!(server.reports.borrow().len(), 1);
        // The same lie again adds no second alarm and no second report.
        block_on(sync_once(&store, &server, &[], "v2", &context()))
            .result
            .unwrap();
        assert_eq!(block_on(store.witness_state()).unwrap().alarms.len(), 1);
        assert_eq!(server.reports.borrow().len(), 1);
    }

    #[test]
    fn a_head_signed_by_another_key_fails_the_round_and_changes_nothing() {
        let store = MemoryStore::new();
        let server = FakeServer::new();
        let stranger = WitnessContext {
            server_key: SignerKey::from_signing_key(&SigningKey::from_bytes(&[4; 32])),
            ..context()
        };
        let outcome = block_on(sync_once(
            &store,
            &server,
            &signed_events(1),
            "v2",
            &stranger,
        ));
        assert!(matches!(outcome.result, Err(SyncError::Witness(_))));
        assert_eq!(
            block_on(store.witness_state()).unwrap(),
            WitnessState::default()
        );
    }

    #[test]
    fn after_the_server_rotates_its_key_the_tablet_learns_the_rotation_and_keeps_witnessing() {
        let store = MemoryStore::new();
        let server = FakeServer::new();
        let events = signed_events(20);
        block_on(sync_once(&store, &server, &events[..10], "v2", &context()))
            .result
            .unwrap();
        server.rotate_key([10; 32]);
        let outcome = block_on(sync_once(&store, &server, &events[10..], "v2", &context()));
        outcome.result.unwrap();
        let view = outcome.witness.unwrap();
        // The new key's head extends the old key's: adopted through the consistency proof.
        let kept = view.state.head.as_ref().unwrap();
        assert_eq!(kept.head.tree_size, 20);
        assert_eq!(
            kept.head.key_id,
            SignerKey::from_signing_key(&SigningKey::from_bytes(&[10; 32]))
        );
        assert!(view.state.alarms.is_empty());
        assert_eq!(view.state.server_key_rotations.len(), 1);
        assert_eq!(block_on(store.witness_state()).unwrap(), view.state);
    }

    #[test]
    fn after_the_tablet_rotates_its_key_both_chains_are_proven_and_nothing_is_pushed_twice() {
        let store = MemoryStore::new();
        let server = FakeServer::new();
        let (tablet, events) = crate::tablet::tests::rotated_tablet();
        let (old_events, new_events) = events.split_at(2);
        for event in &events {
            block_on(store.append_own_event(event)).unwrap();
        }
        // The old key's events went before the rotation, with requests of the old key.
        block_on(sync_once(&store, &server, old_events, "v2", &context()))
            .result
            .unwrap();
        // From now on the new key signs the requests; its chain_seq is about its own chain.
        server.tablet_key.set(tablet.signer());
        let outcome = block_on(sync_once(&store, &server, new_events, "v2", &context()));
        outcome.result.unwrap();
        assert_eq!(
            outcome.n_repushed, 0,
            "the old key's events are not the new chain's"
        );
        assert_eq!(*server.push_sizes.borrow(), [2, 1]);
        let view = outcome.witness.unwrap();
        assert!(view.state.alarms.is_empty());
        assert_eq!(
            view.state.proven_below_leaf, 3,
            "the events of both keys are proven in the ledger"
        );
        assert!(server.reports.borrow().is_empty());
    }
}
