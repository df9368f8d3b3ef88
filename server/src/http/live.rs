//! The board's live feed: Server-Sent Events announcing each event stored for the manager's site.
//!
//! The stream reads storage from its cursor twice a second rather than listening to this
//! process's ingest, so it sees events that any server process stored (several replicas on one
//! PostgreSQL), within a second of their commit.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use serde::Deserialize;

use super::AppState;
use super::error::ApiError;
use super::manager_auth::ManagerSession;

const POLL_INTERVAL: Duration = Duration::from_millis(500);
const PAGE: i64 = 200;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamQuery {
    /// Resume after this `server_seq`; default: only what is stored from now on.
    after: Option<i64>,
}

struct Cursor {
    state: AppState,
    shutdown: tokio::sync::watch::Receiver<bool>,
    site_id: String,
    after: i64,
    pending: std::collections::VecDeque<Event>,
}

pub async fn stream(
    State(state): State<AppState>,
    session: ManagerSession,
    Query(query): Query<StreamQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let site_id = session.account.site_id.clone().ok_or_else(|| {
        ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "site_required",
            "The live board belongs to a site.",
        )
    })?;
    let after = match query.after {
        Some(after) => after.max(0),
        None => state
            .storage
            .latest_event_seq(&site_id)
            .await
            .map_err(ApiError::storage)?,
    };
    let cursor = Cursor {
        shutdown: state.shutdown.subscribe(),
        state,
        site_id,
        after,
        // A comment at once: a proxy that holds a response's headers until its first bytes
        // (nginx serving HTTP/2 does) then lets the browser's EventSource open now, not at the
        // first keep-alive 15 s later.
        pending: std::collections::VecDeque::from([Event::default().comment("open")]),
    };
    let events = stream::unfold(cursor, |mut cursor| async move {
        loop {
            if let Some(event) = cursor.pending.pop_front() {
                return Some((Ok(event), cursor));
            }
            // The stream ends when the server shuts down; the browser reconnects to another
            // replica (or to this one once it is back) with its last event id.
            if *cursor.shutdown.borrow() {
                return None;
            }
            tokio::select! {
                () = tokio::time::sleep(POLL_INTERVAL) => {}
                _ = cursor.shutdown.changed() => return None,
            }
            let page = match cursor
                .state
                .storage
                .events_since(&cursor.site_id, cursor.after, PAGE)
                .await
            {
                Ok(page) => page,
                Err(error) => {
                    // The stream stays open; the next poll tries again.
                    tracing::warn!(%error, "live stream could not read new events");
                    continue;
                }
            };
            for stored in page {
                cursor.after = stored.server_seq;
                let summary = summarize(&stored.event_json);
                let data = serde_json::json!({
                    "server_seq": stored.server_seq,
                    "event_id": stored.event_id,
                    "tablet_id": stored.tablet_id,
                    "received_at_ms": stored.received_at_ms,
                    "body_type": summary.0,
                    "device": summary.1,
                });
                cursor.pending.push_back(
                    Event::default()
                        .event("custody")
                        .id(stored.server_seq.to_string())
                        .data(data.to_string()),
                );
            }
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

/// The body type and device of a stored event, for the board to know what to refresh.
fn summarize(event_json: &str) -> (serde_json::Value, serde_json::Value) {
    let value: serde_json::Value = serde_json::from_str(event_json).unwrap_or_default();
    (
        value["body"]["type"].clone(),
        value["body"]["device"].clone(),
    )
}
