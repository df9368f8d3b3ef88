//! The IndexedDB implementation of `EventStore`, plus the enrollment record and the sealed
//! signing key, which only a browser can hold (the key is a `CryptoKey` object).
//!
//! One database, `baton-tablet`, with six object stores, all with out-of-line keys:
//! - `meta`: the enrollment, the roster, the sealed key, the pull cursor, the last sync time,
//!   what the tablet witnessed of the ledger (its kept signed head, proven receipts, alarms),
//!   which registry device the tablet itself is (`this_device`), and, during a key rotation,
//!   the sealed new key (`pending_signing_key`);
//! - `own_chains` (version 2): this tablet's events by `[signer hex, seq]`, as canonical wire
//!   JSON, written once with `add` so that a key's `seq` can never be stored twice. A tablet
//!   that rotated its key keeps one chain per key;
//! - `own_events` (version 1, emptied): the events by `seq` alone, from before a tablet could
//!   hold two keys; `IdbStore::open` moves them into `own_chains` in one transaction;
//! - `receipts`: the server's receipt for each pushed event, by event id;
//! - `pulled_events`: the site's events by `server_seq`, as wire JSON;
//! - `pin_attempts`: wrong-PIN counts by staff number (never a PIN).
//!
//! Every handoff is committed in its own readwrite transaction opened with `durability:
//! "strict"`, which makes the browser flush it to disk before reporting success (Chrome's default
//! is relaxed). indexed_db_futures rolls a transaction back unless `commit` is awaited.

use baton_core::event::SignedEvent;
use baton_core::key_rotation::SignedKeyRotation;
use indexed_db_futures::database::Database;
use indexed_db_futures::internals::SystemRepr;
use indexed_db_futures::prelude::*;
use indexed_db_futures::transaction::{TransactionDurability, TransactionMode, TransactionOptions};
use js_sys::{Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::CryptoKey;

use super::crypto::SealedKey;
use super::store::{EventStore, PulledRecord, StoreError, decode_event};
use crate::sync::protocol::Receipt;
use crate::tablet::clock_check::LastServerTime;
use crate::tablet::enrollment::Enrollment;
use crate::tablet::pin::PinAttempts;
use crate::tablet::roster::Roster;
use crate::tablet::wipe::ThisDevice;
use crate::tablet::witness::WitnessState;

const DB_NAME: &str = "baton-tablet";
const DB_VERSION: u32 = 2;

const META: &str = "meta";
/// Version 1's events, keyed by `seq` alone; empty once `open` has moved them.
const LEGACY_OWN_EVENTS: &str = "own_events";
const OWN_CHAINS: &str = "own_chains";
const RECEIPTS: &str = "receipts";
const PULLED_EVENTS: &str = "pulled_events";
const PIN_ATTEMPTS: &str = "pin_attempts";

const ENROLLMENT_KEY: &str = "enrollment";
const ROSTER_KEY: &str = "roster";
const SEALED_KEY_KEY: &str = "signing_key";
const PULL_CURSOR_KEY: &str = "pull_cursor";
const LAST_SYNC_KEY: &str = "last_sync_ms";
const LAST_SERVER_TIME_KEY: &str = "last_server_time";
const WITNESS_KEY: &str = "witness";
const THIS_DEVICE_KEY: &str = "this_device";
const PENDING_KEY_KEY: &str = "pending_signing_key";

fn unavailable(error: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(error.to_string())
}

fn write_failed(error: impl std::fmt::Display) -> StoreError {
    StoreError::WriteFailed(error.to_string())
}

fn corrupt(error: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(error.to_string())
}

/// Why a write transaction failed. When the browser refuses it for lack of space, it aborts the
/// transaction with a `QuotaExceededError` in the transaction's `error` (indexed_db_futures then
/// reports only "aborted"), or fails the request with one: either way the write is `Full`, so
/// that the nurse is told the storage is full rather than a driver's message.
fn write_error(
    raw_transaction: &JsValue,
    error: impl std::fmt::Display + std::fmt::Debug,
) -> StoreError {
    let transaction_error = Reflect::get(raw_transaction, &"error".into())
        .ok()
        .filter(|value| !value.is_null() && !value.is_undefined());
    let transaction_error_name = transaction_error
        .as_ref()
        .and_then(|value| Reflect::get(value, &"name".into()).ok())
        .and_then(|name| name.as_string());
    const QUOTA_EXCEEDED: &str = "QuotaExceededError";
    if transaction_error_name.as_deref() == Some(QUOTA_EXCEEDED)
        || format!("{error:?}").contains(QUOTA_EXCEEDED)
    {
        return StoreError::Full(error.to_string());
    }
    match transaction_error_name {
        Some(name) => StoreError::WriteFailed(format!("{error} ({name})")),
        None => write_failed(error),
    }
}

/// The tablet's IndexedDB database.
#[derive(Clone)]
pub struct IdbStore {
    db: Database,
}

impl IdbStore {
    pub async fn open() -> Result<IdbStore, StoreError> {
        let db = Database::open(DB_NAME)
            .with_version(DB_VERSION)
            .with_on_upgrade_needed(|event, db| {
                // Each version adds its stores; moving records happens after the open
                // (`move_legacy_own_events`), where transactions can read.
                if event.old_version() < 1.0 {
                    for store in [
                        META,
                        LEGACY_OWN_EVENTS,
                        RECEIPTS,
                        PULLED_EVENTS,
                        PIN_ATTEMPTS,
                    ] {
                        db.create_object_store(store).build()?;
                    }
                }
                if event.old_version() < 2.0 {
                    db.create_object_store(OWN_CHAINS).build()?;
                }
                Ok(())
            })
            .await
            .map_err(unavailable)?;
        let store = IdbStore { db };
        store.move_legacy_own_events().await?;
        Ok(store)
    }

    /// The key of an own event in `own_chains`: its signer, then its seq, so that each key's
    /// events sort in chain order and two keys' seq 1 do not collide.
    fn own_event_key(event: &SignedEvent) -> JsValue {
        js_sys::Array::of2(
            &event.signer().to_hex().into(),
            &(event.seq() as f64).into(),
        )
        .into()
    }

    /// Moves version 1's events (keyed by seq, one key only) into `own_chains`, in one strict
    /// transaction over both stores: a crash leaves them either all moved or all where they
    /// were. Does nothing once the old store is empty.
    async fn move_legacy_own_events(&self) -> Result<(), StoreError> {
        if self.all_strings(LEGACY_OWN_EVENTS).await?.is_empty() {
            return Ok(());
        }
        let transaction = self
            .db
            .transaction([LEGACY_OWN_EVENTS, OWN_CHAINS])
            .with_mode(TransactionMode::Readwrite)
            .with_options(Self::strict())
            .build()
            .map_err(write_failed)?;
        let legacy = transaction
            .object_store(LEGACY_OWN_EVENTS)
            .map_err(write_failed)?;
        let chains = transaction.object_store(OWN_CHAINS).map_err(write_failed)?;
        let records = legacy
            .get_all::<String>()
            .primitive()
            .map_err(write_failed)?
            .await
            .map_err(write_failed)?;
        for record in records {
            let event = decode_event(&record.map_err(corrupt)?)?;
            chains
                .add(String::from_utf8(event.to_json_bytes()).expect("wire JSON is UTF-8"))
                .with_key(Self::own_event_key(&event))
                .primitive()
                .map_err(write_failed)?;
        }
        legacy.clear().map_err(write_failed)?;
        transaction.commit().await.map_err(write_failed)
    }

    fn strict() -> TransactionOptions {
        TransactionOptions::new().with_durability(TransactionDurability::Strict)
    }

    async fn get(&self, store: &str, key: JsValue) -> Result<Option<JsValue>, StoreError> {
        let transaction = self.db.transaction(store).build().map_err(unavailable)?;
        let object_store = transaction.object_store(store).map_err(unavailable)?;
        let value: Option<JsValue> = object_store
            .get(key)
            .primitive()
            .map_err(unavailable)?
            .await
            .map_err(unavailable)?;
        Ok(value.filter(|value| !value.is_undefined()))
    }

    async fn get_string(&self, store: &str, key: JsValue) -> Result<Option<String>, StoreError> {
        match self.get(store, key).await? {
            None => Ok(None),
            Some(value) => value
                .as_string()
                .map(Some)
                .ok_or_else(|| corrupt(format!("{store}: a record is not text"))),
        }
    }

    /// Writes one value in its own strict transaction.
    async fn put(&self, store: &str, key: JsValue, value: JsValue) -> Result<(), StoreError> {
        let transaction = self
            .db
            .transaction(store)
            .with_mode(TransactionMode::Readwrite)
            .with_options(Self::strict())
            .build()
            .map_err(write_failed)?;
        let raw_transaction: JsValue = JsValue::from(transaction.as_sys().clone());
        let object_store = transaction.object_store(store).map_err(write_failed)?;
        object_store
            .put(value)
            .with_key(key)
            .primitive()
            .map_err(write_failed)?;
        transaction
            .commit()
            .await
            .map_err(|error| write_error(&raw_transaction, error))
    }

    async fn all_strings(&self, store: &str) -> Result<Vec<String>, StoreError> {
        let transaction = self.db.transaction(store).build().map_err(unavailable)?;
        let object_store = transaction.object_store(store).map_err(unavailable)?;
        let values = object_store
            .get_all::<String>()
            .primitive()
            .map_err(unavailable)?
            .await
            .map_err(unavailable)?;
        values.map(|value| value.map_err(corrupt)).collect()
    }

    /// The enrollment and the sealed key, or `None` on a tablet never enrolled.
    pub async fn enrollment(&self) -> Result<Option<(Enrollment, SealedKey)>, StoreError> {
        let Some(json) = self.get_string(META, ENROLLMENT_KEY.into()).await? else {
            return Ok(None);
        };
        let enrollment: Enrollment = serde_json::from_str(&json).map_err(corrupt)?;
        let record = self
            .get(META, SEALED_KEY_KEY.into())
            .await?
            .ok_or_else(|| corrupt("the tablet is enrolled but its signing key is missing"))?;
        Ok(Some((enrollment, sealed_from_record(&record)?)))
    }

    /// The new key of a rotation whose outcome is not settled yet, with the rotation.
    pub async fn pending_key(&self) -> Result<Option<(SealedKey, SignedKeyRotation)>, StoreError> {
        let Some(record) = self.get(META, PENDING_KEY_KEY.into()).await? else {
            return Ok(None);
        };
        let rotation_json = Reflect::get(&record, &"rotation".into())
            .ok()
            .and_then(|value| value.as_string())
            .ok_or_else(|| corrupt("the pending key's rotation is missing"))?;
        let value: serde_json::Value = serde_json::from_str(&rotation_json).map_err(corrupt)?;
        let rotation = SignedKeyRotation::from_json_value(&value).map_err(corrupt)?;
        Ok(Some((sealed_from_record(&record)?, rotation)))
    }

    /// Keeps the sealed new key and its rotation durably before the server is asked, so that a
    /// crash after the server's answer cannot lose the only key it then accepts.
    pub async fn save_pending_key(
        &self,
        sealed: &SealedKey,
        rotation: &SignedKeyRotation,
    ) -> Result<(), StoreError> {
        let record = sealed_record(sealed, &rotation.rotation.next.to_hex())?;
        Reflect::set(
            &record,
            &"rotation".into(),
            &rotation.to_json_value().to_string().into(),
        )
        .map_err(|_| write_failed("rotation"))?;
        self.put(META, PENDING_KEY_KEY.into(), record.into()).await
    }

    /// Forgets a pending key the server never took.
    pub async fn discard_pending_key(&self) -> Result<(), StoreError> {
        let transaction = self
            .db
            .transaction(META)
            .with_mode(TransactionMode::Readwrite)
            .with_options(Self::strict())
            .build()
            .map_err(write_failed)?;
        let meta = transaction.object_store(META).map_err(write_failed)?;
        meta.delete(PENDING_KEY_KEY)
            .primitive()
            .map_err(write_failed)?;
        transaction.commit().await.map_err(write_failed)
    }

    /// Makes the pending key the tablet's key, in one strict transaction: the enrollment (with
    /// the new public key and the rotation) and the sealed key are replaced and the pending key
    /// deleted together, so the tablet never holds an enrollment and a key that do not match.
    pub async fn promote_pending_key(
        &self,
        enrollment: &Enrollment,
        sealed: &SealedKey,
    ) -> Result<(), StoreError> {
        let record = sealed_record(sealed, &enrollment.public_key)?;
        let enrollment_json = serde_json::to_string(enrollment).map_err(write_failed)?;
        let transaction = self
            .db
            .transaction(META)
            .with_mode(TransactionMode::Readwrite)
            .with_options(Self::strict())
            .build()
            .map_err(write_failed)?;
        let meta = transaction.object_store(META).map_err(write_failed)?;
        meta.put(JsValue::from(record))
            .with_key(SEALED_KEY_KEY)
            .primitive()
            .map_err(write_failed)?;
        meta.put(enrollment_json)
            .with_key(ENROLLMENT_KEY)
            .primitive()
            .map_err(write_failed)?;
        meta.delete(PENDING_KEY_KEY)
            .primitive()
            .map_err(write_failed)?;
        transaction.commit().await.map_err(write_failed)
    }

    /// The registry device this tablet is, if it was told.
    pub async fn this_device(&self) -> Result<Option<ThisDevice>, StoreError> {
        self.get_string(META, THIS_DEVICE_KEY.into())
            .await?
            .map(|json| serde_json::from_str(&json).map_err(corrupt))
            .transpose()
    }

    pub async fn save_this_device(&self, this_device: &ThisDevice) -> Result<(), StoreError> {
        let json = serde_json::to_string(this_device).map_err(write_failed)?;
        self.put(META, THIS_DEVICE_KEY.into(), json.into()).await
    }

    /// Stores the enrollment, the sealed key and the first roster in one strict transaction: a
    /// tablet is either fully enrolled or not at all.
    pub async fn save_enrollment(
        &self,
        enrollment: &Enrollment,
        sealed: &SealedKey,
        roster: &Roster,
    ) -> Result<(), StoreError> {
        let record = sealed_record(sealed, &enrollment.public_key)?;
        let enrollment_json = serde_json::to_string(enrollment).map_err(write_failed)?;
        let roster_json = serde_json::to_string(roster).map_err(write_failed)?;

        let transaction = self
            .db
            .transaction(META)
            .with_mode(TransactionMode::Readwrite)
            .with_options(Self::strict())
            .build()
            .map_err(write_failed)?;
        let meta = transaction.object_store(META).map_err(write_failed)?;
        meta.put(JsValue::from(record))
            .with_key(SEALED_KEY_KEY)
            .primitive()
            .map_err(write_failed)?;
        meta.put(roster_json)
            .with_key(ROSTER_KEY)
            .primitive()
            .map_err(write_failed)?;
        meta.put(enrollment_json)
            .with_key(ENROLLMENT_KEY)
            .primitive()
            .map_err(write_failed)?;
        transaction.commit().await.map_err(write_failed)
    }
}

/// A sealed key as an IndexedDB record: the `CryptoKey` object is stored by structured clone.
fn sealed_record(sealed: &SealedKey, public_key_hex: &str) -> Result<Object, StoreError> {
    let record = Object::new();
    let set = |name: &str, value: &JsValue| {
        Reflect::set(&record, &name.into(), value).map_err(|_| write_failed(name))
    };
    set("wrapping_key", &sealed.wrapping_key)?;
    set("iv", &Uint8Array::from(sealed.iv.as_slice()))?;
    set(
        "ciphertext",
        &Uint8Array::from(sealed.ciphertext.as_slice()),
    )?;
    set("public_key", &public_key_hex.into())?;
    Ok(record)
}

fn sealed_from_record(record: &JsValue) -> Result<SealedKey, StoreError> {
    let field = |name: &str| Reflect::get(record, &name.into()).map_err(|_| corrupt(name));
    let wrapping_key: CryptoKey = field("wrapping_key")?
        .dyn_into()
        .map_err(|_| corrupt("wrapping_key is not a CryptoKey"))?;
    Ok(SealedKey {
        wrapping_key,
        iv: Uint8Array::new(&field("iv")?).to_vec(),
        ciphertext: Uint8Array::new(&field("ciphertext")?).to_vec(),
    })
}

impl EventStore for IdbStore {
    async fn append_own_event(&self, event: &SignedEvent) -> Result<(), StoreError> {
        let json = String::from_utf8(event.to_json_bytes()).expect("wire JSON is UTF-8");
        let transaction = self
            .db
            .transaction(OWN_CHAINS)
            .with_mode(TransactionMode::Readwrite)
            .with_options(Self::strict())
            .build()
            .map_err(write_failed)?;
        let raw_transaction: JsValue = JsValue::from(transaction.as_sys().clone());
        let own_events = transaction.object_store(OWN_CHAINS).map_err(write_failed)?;
        // `add`, not `put`: a second event with the same key and seq fails with
        // ConstraintError.
        own_events
            .add(json)
            .with_key(Self::own_event_key(event))
            .primitive()
            .map_err(write_failed)?;
        transaction
            .commit()
            .await
            .map_err(|error| write_error(&raw_transaction, error))
    }

    async fn own_events(&self) -> Result<Vec<SignedEvent>, StoreError> {
        // `[signer, seq]` keys come back grouped by key, each key's in chain order.
        self.all_strings(OWN_CHAINS)
            .await?
            .iter()
            .map(|json| decode_event(json))
            .collect()
    }

    async fn receipts(&self) -> Result<Vec<Receipt>, StoreError> {
        self.all_strings(RECEIPTS)
            .await?
            .iter()
            .map(|json| serde_json::from_str(json).map_err(corrupt))
            .collect()
    }

    async fn save_receipts(&self, receipts: &[Receipt]) -> Result<(), StoreError> {
        if receipts.is_empty() {
            return Ok(());
        }
        // One transaction for the batch: receipts are a bulk import, not a handoff.
        let transaction = self
            .db
            .transaction(RECEIPTS)
            .with_mode(TransactionMode::Readwrite)
            .with_options(Self::strict())
            .build()
            .map_err(write_failed)?;
        let store = transaction.object_store(RECEIPTS).map_err(write_failed)?;
        for receipt in receipts {
            let Some(event_id) = &receipt.event_id else {
                continue;
            };
            let json = serde_json::to_string(receipt).map_err(write_failed)?;
            store
                .put(json)
                .with_key(event_id.as_str())
                .primitive()
                .map_err(write_failed)?;
        }
        transaction.commit().await.map_err(write_failed)
    }

    async fn save_pulled_page(&self, page: &[PulledRecord], cursor: i64) -> Result<(), StoreError> {
        let transaction = self
            .db
            .transaction([PULLED_EVENTS, META])
            .with_mode(TransactionMode::Readwrite)
            .with_options(Self::strict())
            .build()
            .map_err(write_failed)?;
        let pulled = transaction
            .object_store(PULLED_EVENTS)
            .map_err(write_failed)?;
        for record in page {
            pulled
                .put(record.event_json.as_str())
                .with_key(record.server_seq as f64)
                .primitive()
                .map_err(write_failed)?;
        }
        let meta = transaction.object_store(META).map_err(write_failed)?;
        meta.put(cursor as f64)
            .with_key(PULL_CURSOR_KEY)
            .primitive()
            .map_err(write_failed)?;
        transaction.commit().await.map_err(write_failed)
    }

    async fn reset_pulled(&self) -> Result<(), StoreError> {
        let transaction = self
            .db
            .transaction([PULLED_EVENTS, META])
            .with_mode(TransactionMode::Readwrite)
            .with_options(Self::strict())
            .build()
            .map_err(write_failed)?;
        transaction
            .object_store(PULLED_EVENTS)
            .map_err(write_failed)?
            .clear()
            .map_err(write_failed)?;
        let meta = transaction.object_store(META).map_err(write_failed)?;
        meta.put(0_f64)
            .with_key(PULL_CURSOR_KEY)
            .primitive()
            .map_err(write_failed)?;
        transaction.commit().await.map_err(write_failed)
    }

    async fn pulled_events(&self) -> Result<Vec<String>, StoreError> {
        // Numeric keys come back in ascending order: `server_seq` order.
        self.all_strings(PULLED_EVENTS).await
    }

    async fn pull_cursor(&self) -> Result<i64, StoreError> {
        Ok(self
            .get(META, PULL_CURSOR_KEY.into())
            .await?
            .and_then(|value| value.as_f64())
            .map_or(0, |cursor| cursor as i64))
    }

    async fn roster(&self) -> Result<Option<Roster>, StoreError> {
        self.get_string(META, ROSTER_KEY.into())
            .await?
            .map(|json| serde_json::from_str(&json).map_err(corrupt))
            .transpose()
    }

    async fn save_roster(&self, roster: &Roster) -> Result<(), StoreError> {
        let json = serde_json::to_string(roster).map_err(write_failed)?;
        self.put(META, ROSTER_KEY.into(), json.into()).await
    }

    async fn pin_attempts(&self, staff_id: &str) -> Result<PinAttempts, StoreError> {
        Ok(self
            .get_string(PIN_ATTEMPTS, staff_id.into())
            .await?
            .and_then(|json| serde_json::from_str(&json).ok())
            .unwrap_or_default())
    }

    async fn save_pin_attempts(
        &self,
        staff_id: &str,
        attempts: PinAttempts,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_string(&attempts).map_err(write_failed)?;
        self.put(PIN_ATTEMPTS, staff_id.into(), json.into()).await
    }

    async fn last_sync_ms(&self) -> Result<Option<u64>, StoreError> {
        Ok(self
            .get(META, LAST_SYNC_KEY.into())
            .await?
            .and_then(|value| value.as_f64())
            .map(|at_ms| at_ms as u64))
    }

    async fn save_last_sync_ms(&self, at_ms: u64) -> Result<(), StoreError> {
        self.put(META, LAST_SYNC_KEY.into(), (at_ms as f64).into())
            .await
    }

    async fn last_server_time(&self) -> Result<Option<LastServerTime>, StoreError> {
        self.get_string(META, LAST_SERVER_TIME_KEY.into())
            .await?
            .map(|json| serde_json::from_str(&json).map_err(corrupt))
            .transpose()
    }

    async fn save_last_server_time(&self, last: LastServerTime) -> Result<(), StoreError> {
        let json = serde_json::to_string(&last).map_err(write_failed)?;
        self.put(META, LAST_SERVER_TIME_KEY.into(), json.into())
            .await
    }

    async fn witness_state(&self) -> Result<WitnessState, StoreError> {
        self.get_string(META, WITNESS_KEY.into())
            .await?
            .map(|json| serde_json::from_str(&json).map_err(corrupt))
            .transpose()
            .map(Option::unwrap_or_default)
    }

    async fn save_witness_state(&self, state: &WitnessState) -> Result<(), StoreError> {
        let json = serde_json::to_string(state).map_err(write_failed)?;
        self.put(META, WITNESS_KEY.into(), json.into()).await
    }
}
