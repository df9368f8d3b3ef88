//! The JSON of the sync routes (docs/PROTOCOL.md §2.3), as the tablet reads and writes it.

use baton_core::event::SignedEvent;
use serde::{Deserialize, Serialize};

/// The most events one push may carry.
pub const MAX_PUSH_EVENTS: usize = 500;
/// The page size the tablet asks for when pulling.
pub const PULL_PAGE_SIZE: u32 = 500;

/// What the server did with one pushed event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptStatus {
    Accepted,
    Held,
    Duplicate,
    Rejected,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectionReason {
    pub code: String,
    pub message: String,
}

/// The server's receipt for one pushed event. Kept by the tablet as proof of delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub index: usize,
    #[serde(default)]
    pub event_id: Option<String>,
    pub status: ReceiptStatus,
    #[serde(default)]
    pub server_seq: Option<i64>,
    /// The event's leaf in the site's audit ledger.
    #[serde(default)]
    pub leaf_index: Option<i64>,
    pub received_at_ms: u64,
    #[serde(default)]
    pub fork: bool,
    #[serde(default)]
    pub reason: Option<RejectionReason>,
}

/// Where a pushed event stands, from its latest receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// No receipt yet: push it.
    Pending,
    /// The server holds it durably (accepted, held for its predecessor, or a duplicate).
    Stored,
    /// Refused for a reason that may pass later (the tablet's clock ran ahead, the server's
    /// waiting room was full): push it again.
    RetryLater,
    /// Refused for good; a person must look at it.
    Refused,
}

/// Rejection codes that may pass when the event is pushed again later.
const TRANSIENT_REJECTIONS: [&str; 2] = ["future_timestamp", "held_limit"];

impl Receipt {
    pub fn delivery(&self) -> Delivery {
        match self.status {
            ReceiptStatus::Accepted | ReceiptStatus::Held | ReceiptStatus::Duplicate => {
                Delivery::Stored
            }
            ReceiptStatus::Rejected => {
                let code = self
                    .reason
                    .as_ref()
                    .map_or("", |reason| reason.code.as_str());
                if TRANSIENT_REJECTIONS.contains(&code) {
                    Delivery::RetryLater
                } else {
                    Delivery::Refused
                }
            }
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct PushResponse {
    pub receipts: Vec<Receipt>,
}

/// One event of a pull page. The event stays raw JSON until it is decoded and checked.
#[derive(Debug, Clone, Deserialize)]
pub struct PulledEntry {
    pub server_seq: i64,
    pub event: serde_json::Value,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PullPage {
    pub events: Vec<PulledEntry>,
    pub next_after: i64,
    pub more: bool,
    pub roster_version: String,
    /// The highest seq of this tablet's own chain that the server stores (0: none).
    #[serde(default)]
    pub chain_seq: Option<i64>,
    /// The end of the site's log on the server: below the tablet's cursor after a restore.
    #[serde(default)]
    pub latest_server_seq: Option<i64>,
}

/// The body of a push: `{"events":[...]}` with each event in its canonical wire form, written
/// directly rather than through a JSON tree.
pub fn push_body<'a>(events: impl IntoIterator<Item = &'a SignedEvent>) -> Vec<u8> {
    let mut body = b"{\"events\":[".to_vec();
    for (event_idx, event) in events.into_iter().enumerate() {
        if event_idx > 0 {
            body.push(b',');
        }
        body.extend_from_slice(&event.to_json_bytes());
    }
    body.extend_from_slice(b"]}");
    body
}

/// `GET /api/v1/sync/pull` for the page after `after`.
pub fn pull_path(after: i64, limit: u32) -> String {
    format!("/api/v1/sync/pull?after={after}&limit={limit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receipt(json: serde_json::Value) -> Receipt {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn receipts_tell_stored_from_retry_from_refused() {
        let stored = receipt(serde_json::json!({
            "index": 0, "event_id": "ab", "status": "accepted", "server_seq": 7,
            "leaf_index": 6, "received_at_ms": 1
        }));
        assert_eq!(stored.delivery(), Delivery::Stored);
        assert_eq!(stored.leaf_index, Some(6));
        let held = receipt(serde_json::json!({"index": 1, "status": "held", "received_at_ms": 1}));
        assert_eq!(held.delivery(), Delivery::Stored);
        let ahead = receipt(serde_json::json!({
            "index": 2, "status": "rejected", "received_at_ms": 1,
            "reason": {"code": "future_timestamp", "message": "hlc.ms: ahead"}
        }));
        assert_eq!(ahead.delivery(), Delivery::RetryLater);
        let forged = receipt(serde_json::json!({
            "index": 3, "status": "rejected", "received_at_ms": 1,
            "reason": {"code": "bad_signature", "message": "sig"}
        }));
        assert_eq!(forged.delivery(), Delivery::Refused);
    }

    #[test]
    fn a_push_body_is_the_events_wire_forms_in_order() {
        assert_eq!(push_body([]), b"{\"events\":[]}");
        let events = crate::tablet::tests::signed_events(2);
        let body = push_body(&events);
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let decoded: Vec<SignedEvent> = value["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|event| SignedEvent::from_json_bytes(event.to_string().as_bytes()).unwrap())
            .collect();
        assert_eq!(decoded, events);
    }
}
