//! The peer: Baton's ingest load, unsigned, against `pouchdb-server`, the classic offline-first
//! sync server (issue #9, "A peer").
//!
//! Each simulated tablet builds the same handoff stream as in the `ingest` scenario, with the
//! same generator (`HandoffChain::sign_handoffs`) and the same site registry, read from the
//! Baton server. Each event becomes one CouchDB document: the event's canonical envelope without
//! its signature (the fields a signature would cover), with the event id as `_id`. The
//! documents are pushed with `POST /{db}/_bulk_docs` in the same batches, tablet by tablet in
//! chain order, with the same number of requests in flight, each tablet with its own HTTP
//! client, as the tablets of `ingest` push to Baton. Every document's result must be
//! `ok: true` under its own id; the others are counted as errors. After the run the database's
//! `doc_count` is read back, so a document is counted only if the peer stored it.
//!
//! Everything is built before the clock starts, as in `ingest`: what is timed is the peer's
//! HTTP, JSON and storage work.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use baton_core::event::SignedEvent;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use crate::tablet::{HandoffChain, WARD_ID};

/// The most documents one run builds in memory before its clock starts.
pub const MAX_DOCUMENTS: usize = 1_000_000;

/// The shape of the load: the same flags as `ingest`.
pub struct PeerLoad {
    pub tablets: usize,
    pub events: usize,
    pub batch: usize,
    pub concurrency: usize,
}

/// One tablet's documents, as the `_bulk_docs` bodies it will send and the ids in each.
struct PeerStream {
    batches: Vec<(Vec<u8>, Vec<String>)>,
}

/// What the peer answered for one `_bulk_docs` request.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct BulkOutcome {
    pub stored: usize,
    pub errors: usize,
    /// The first refusal, to show.
    pub first_error: Option<String>,
}

/// The CouchDB document of `event`: its canonical envelope without `sig`, and `_id` its id.
pub fn document(event: &SignedEvent) -> anyhow::Result<Value> {
    let mut fields: serde_json::Map<String, Value> =
        serde_json::from_slice(event.canonical_bytes())
            .context("an event's canonical bytes are a JSON object")?;
    fields.insert("_id".to_owned(), Value::String(event.id().to_hex()));
    Ok(Value::Object(fields))
}

/// Checks a `_bulk_docs` answer against the ids sent: each must have exactly one result, and
/// that result must say `ok: true`. PouchDB does not answer in the order of the request (CouchDB
/// does), so results are matched by id. A missing, refused, repeated or unasked-for result is an
/// error.
pub fn check_bulk_answer(answer: &Value, ids: &[String]) -> BulkOutcome {
    let mut outcome = BulkOutcome::default();
    let refuse = |outcome: &mut BulkOutcome, reason: String| {
        outcome.errors += 1;
        outcome.first_error.get_or_insert(reason);
    };
    let sent: HashSet<&str> = ids.iter().map(String::as_str).collect();
    let mut results: HashMap<&str, &Value> = HashMap::with_capacity(ids.len());
    for result in answer.as_array().map(Vec::as_slice).unwrap_or_default() {
        let id = result["id"].as_str().unwrap_or_default();
        if !sent.contains(id) {
            refuse(
                &mut outcome,
                format!("a result for a document not sent: {result}"),
            );
        } else if results.insert(id, result).is_some() {
            refuse(&mut outcome, format!("two results for document {id}"));
        }
    }
    for id in ids {
        match results.get(id.as_str()) {
            Some(result) if result["ok"] == true => outcome.stored += 1,
            Some(result) => refuse(&mut outcome, format!("document {id}: {result}")),
            None => refuse(&mut outcome, format!("document {id}: no result")),
        }
    }
    outcome
}

/// Builds every tablet's documents, pushes them, and returns the figures as one JSON object.
pub async fn measure(
    peer_url: &str,
    db: &str,
    devices: &[Vec<String>],
    staff: &[String],
    load: &PeerLoad,
    label: &str,
) -> anyhow::Result<Value> {
    let n_documents = load.tablets * load.events;
    if n_documents == 0 || n_documents > MAX_DOCUMENTS {
        bail!(
            "--tablets × --events must be between 1 and {MAX_DOCUMENTS} (got {n_documents}): \
             every document is built in memory before the clock starts"
        );
    }
    let peer_url = peer_url.trim_end_matches('/');
    let client = peer_client()?;
    let welcome: Value = client
        .get(format!("{peer_url}/"))
        .send()
        .await
        .with_context(|| {
            format!(
                "cannot reach the PouchDB peer at {peer_url}: `cargo xtask bench` starts one, or \
                 run loadgen/pouchdb/node_modules/.bin/pouchdb-server (after `npm ci \
                 --ignore-scripts` there) and pass its address as --peer-url"
            )
        })?
        .json()
        .await
        .context("the peer's welcome (GET /) is not JSON: is --peer-url a CouchDB server?")?;
    fresh_database(&client, peer_url, db).await?;

    eprintln!("building {n_documents} documents…");
    let mut streams = Vec::with_capacity(load.tablets);
    let mut request_bytes = 0_usize;
    for tablet_index in 0..load.tablets {
        let events = HandoffChain::new(WARD_ID).sign_handoffs(
            tablet_index,
            load.events,
            &devices[tablet_index % devices.len()],
            staff,
        )?;
        let mut batches = Vec::new();
        for chunk in events.chunks(load.batch) {
            let docs: Vec<Value> = chunk.iter().map(document).collect::<anyhow::Result<_>>()?;
            let ids = chunk.iter().map(|event| event.id().to_hex()).collect();
            let body = serde_json::to_vec(&json!({ "docs": docs }))?;
            request_bytes += body.len();
            batches.push((body, ids));
        }
        streams.push(PeerStream { batches });
    }
    let n_requests: usize = streams.iter().map(|stream| stream.batches.len()).sum();

    eprintln!(
        "pushing to {peer_url}/{db}/_bulk_docs in {n_requests} requests, {} at a time…",
        load.concurrency
    );
    let permits = Arc::new(Semaphore::new(load.concurrency.max(1)));
    let bulk_url = format!("{peer_url}/{db}/_bulk_docs");
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(streams.len());
    for stream in streams {
        let permits = permits.clone();
        let bulk_url = bulk_url.clone();
        // One client per tablet, as in `ingest`, where each tablet has its own connections.
        let client = peer_client()?;
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(stream.batches.len());
            let mut outcome = BulkOutcome::default();
            for (body, ids) in stream.batches {
                let _permit = permits
                    .acquire()
                    .await
                    .expect("the semaphore is never closed");
                let sent = Instant::now();
                let response = client
                    .post(&bulk_url)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await?;
                let status = response.status();
                if !status.is_success() {
                    bail!("_bulk_docs refused ({status}): {}", response.text().await?);
                }
                let answer: Value = response.json().await?;
                latencies.push(sent.elapsed());
                let request = check_bulk_answer(&answer, &ids);
                outcome.stored += request.stored;
                outcome.errors += request.errors;
                if outcome.first_error.is_none() {
                    outcome.first_error = request.first_error;
                }
            }
            anyhow::Ok((outcome, latencies))
        }));
    }
    let mut outcome = BulkOutcome::default();
    let mut latencies: Vec<Duration> = Vec::with_capacity(n_requests);
    for task in tasks {
        let (tablet_outcome, tablet_latencies) = task.await.context("a push task panicked")??;
        outcome.stored += tablet_outcome.stored;
        outcome.errors += tablet_outcome.errors;
        if outcome.first_error.is_none() {
            outcome.first_error = tablet_outcome.first_error;
        }
        latencies.extend(tablet_latencies);
    }
    let elapsed = started.elapsed();
    latencies.sort();

    let info: Value = client
        .get(format!("{peer_url}/{db}"))
        .send()
        .await?
        .json()
        .await
        .context("reading the peer database's doc_count")?;
    let doc_count = info["doc_count"].as_u64().unwrap_or(0) as usize;
    if doc_count != outcome.stored {
        outcome.errors += outcome.stored.abs_diff(doc_count);
        outcome.first_error.get_or_insert(format!(
            "the peer answered ok for {} documents but holds {doc_count}",
            outcome.stored
        ));
    }
    let rate = doc_count as f64 / elapsed.as_secs_f64();
    eprintln!(
        "{doc_count} documents stored in {:.2} s: {rate:.0} docs/s, {} errors",
        elapsed.as_secs_f64(),
        outcome.errors
    );
    Ok(json!({
        "scenario": "pouchdb",
        "label": label,
        "peer_version": welcome["version"],
        "peer_adapters": welcome["pouchdb-adapters"],
        "tablets": load.tablets,
        "events_per_tablet": load.events,
        "batch": load.batch,
        "concurrency": load.concurrency,
        "documents": n_documents,
        "accepted": doc_count,
        "errors": outcome.errors,
        "first_error": outcome.first_error,
        "seconds": elapsed.as_secs_f64(),
        "docs_per_second": rate,
        "push_ms_p50": crate::percentile_ms(&latencies, 0.50),
        "push_ms_p99": crate::percentile_ms(&latencies, 0.99),
        "request_bytes_mean": request_bytes as f64 / n_requests as f64,
        "load_average": crate::board::load_average(),
    }))
}

fn peer_client() -> anyhow::Result<reqwest::Client> {
    // The same bound as a tablet's: a request that hangs this long is a failure.
    Ok(reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?)
}

/// Deletes `db` if a previous run left it, and creates it empty.
async fn fresh_database(client: &reqwest::Client, peer_url: &str, db: &str) -> anyhow::Result<()> {
    let url = format!("{peer_url}/{db}");
    let deleted = client.delete(&url).send().await?.status();
    if !deleted.is_success() && deleted != reqwest::StatusCode::NOT_FOUND {
        bail!("DELETE /{db} on the peer answered {deleted}");
    }
    let response = client.put(&url).send().await?;
    let status = response.status();
    if !status.is_success() {
        bail!(
            "PUT /{db} on the peer answered {status}: {}",
            response.text().await?
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(n_events: usize) -> Vec<SignedEvent> {
        let devices = vec!["D-0001".to_owned(), "D-0002".to_owned()];
        let staff = vec!["S-0001".to_owned(), "S-0002".to_owned()];
        HandoffChain::new(WARD_ID)
            .sign_handoffs(0, n_events, &devices, &staff)
            .unwrap()
    }

    #[test]
    fn a_document_is_the_signed_envelope_without_its_signature_under_the_event_id() {
        let events = stream(2);
        for event in &events {
            let document = document(event).unwrap();
            let mut wire: Value = serde_json::from_slice(&event.to_json_bytes()).unwrap();
            let wire = wire.as_object_mut().unwrap();
            assert!(
                wire.remove("sig").is_some(),
                "the wire form carries a signature"
            );
            let mut document = document.as_object().unwrap().clone();
            assert_eq!(
                document.remove("_id"),
                Some(Value::String(event.id().to_hex()))
            );
            // Every other field, the body included, is the event's own.
            assert_eq!(&document, wire);
        }
        // The second event is chained to the first, as in Baton's push.
        let second = document(&events[1]).unwrap();
        assert_eq!(second["prev"], events[0].id().to_hex());
        assert_eq!(second["body"]["type"], "check_in");
    }

    #[test]
    fn every_document_must_be_stored_under_its_own_id() {
        let ids = vec!["a".to_owned(), "b".to_owned(), "c".to_owned()];
        let all_stored = json!([
            {"ok": true, "id": "a", "rev": "1-x"},
            {"ok": true, "id": "b", "rev": "1-y"},
            {"ok": true, "id": "c", "rev": "1-z"},
        ]);
        assert_eq!(
            check_bulk_answer(&all_stored, &ids),
            BulkOutcome {
                stored: 3,
                errors: 0,
                first_error: None
            }
        );

        let conflict_and_missing = json!([
            {"ok": true, "id": "a", "rev": "1-x"},
            {"id": "b", "error": "conflict", "reason": "Document update conflict"},
        ]);
        let outcome = check_bulk_answer(&conflict_and_missing, &ids);
        assert_eq!((outcome.stored, outcome.errors), (1, 2));
        assert!(outcome.first_error.unwrap().contains("conflict"));

        // PouchDB answers in its own order: that is no error.
        let reordered = json!([
            {"ok": true, "id": "c"}, {"ok": true, "id": "a"}, {"ok": true, "id": "b"},
        ]);
        assert_eq!(check_bulk_answer(&reordered, &ids).stored, 3);
        assert_eq!(check_bulk_answer(&reordered, &ids).errors, 0);

        let repeated_and_unasked = json!([
            {"ok": true, "id": "a"}, {"ok": true, "id": "a"}, {"ok": true, "id": "b"},
            {"ok": true, "id": "c"}, {"ok": true, "id": "d"},
        ]);
        assert_eq!(check_bulk_answer(&repeated_and_unasked, &ids).errors, 2);
        assert_eq!(check_bulk_answer(&json!({"error": "x"}), &ids).errors, 3);
    }
}
