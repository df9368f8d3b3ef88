//! `--scenario revocation-latency`: how long after a check-in is stored its revocation reaches
//! an external system. A webhook receiver runs here (it checks each delivery's HMAC, as an MDM
//! adapter would); the server under test must have it as a connector (`cargo xtask bench`
//! writes the connectors file). One tablet checks devices out and in, one handoff at a time at
//! a ward's pace; for each check-in the time from its push being acknowledged (the event is
//! durable, the revocation is in the outbox) to the delivery arriving is recorded.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::tablet::{Manager, SimTablet};

/// The path the connectors file must name on the receiver.
pub const RECEIVER_PATH: &str = "/revocations";
/// Time between handoffs: a busy ward, not a flood (ingest is measured elsewhere).
const PACE: Duration = Duration::from_millis(25);
/// How long to wait for the last deliveries.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Clone)]
struct Receiver {
    secret: Arc<String>,
    /// Arrival time of each delivery, by the event that ended the custody.
    arrived: Arc<Mutex<HashMap<String, Instant>>>,
    bad_signatures: Arc<Mutex<usize>>,
}

async fn receive(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let now = Instant::now();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(receiver.secret.as_bytes()) else {
        return StatusCode::INTERNAL_SERVER_ERROR;
    };
    mac.update(header("baton-timestamp").as_bytes());
    mac.update(b".");
    mac.update(&body);
    let expected = format!("v1={}", hex::encode(mac.finalize().into_bytes()));
    if header("baton-signature") != expected {
        *receiver.bad_signatures.lock().expect("not poisoned") += 1;
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(payload) = serde_json::from_slice::<Value>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    if let Some(ended_by) = payload["ended_by"].as_str() {
        receiver
            .arrived
            .lock()
            .expect("not poisoned")
            .entry(ended_by.to_owned())
            .or_insert(now);
    }
    StatusCode::OK
}

pub async fn measure(
    base_url: &str,
    credentials: &std::path::Path,
    listen: SocketAddr,
    secret: &str,
    check_ins: usize,
    label: &str,
) -> anyhow::Result<Value> {
    let receiver = Receiver {
        secret: Arc::new(secret.to_owned()),
        arrived: Arc::default(),
        bad_signatures: Arc::default(),
    };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("the webhook receiver cannot listen on {listen}"))?;
    let router = axum::Router::new()
        .route(RECEIVER_PATH, axum::routing::post(receive))
        .with_state(receiver.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });

    let manager = Manager::sign_in(base_url, credentials).await?;
    let (devices, staff) = manager.registry().await?;
    let mut tablet = SimTablet::enroll(&manager, 0).await?;
    eprintln!("{check_ins} check-ins, one every {} ms…", PACE.as_millis());
    let mut acknowledged: Vec<(String, Instant)> = Vec::with_capacity(check_ins);
    for index in 0..check_ins {
        let device = &devices[index % devices.len()];
        let person = &staff[index % staff.len()];
        for check_in in [false, true] {
            let body = tablet.handoff(device, person, check_in)?;
            let event = tablet.sign_next(crate::tablet::now_ms(), body)?;
            let accepted = tablet
                .push(SimTablet::push_body(std::slice::from_ref(&event))?)
                .await?;
            if accepted != 1 {
                bail!("the server did not accept event {}", event.id().to_hex());
            }
            if check_in {
                acknowledged.push((event.id().to_hex(), Instant::now()));
            }
        }
        tokio::time::sleep(PACE).await;
    }

    let started_drain = Instant::now();
    loop {
        let arrived = receiver.arrived.lock().expect("not poisoned").len();
        if arrived >= acknowledged.len() {
            break;
        }
        if started_drain.elapsed() > DRAIN_TIMEOUT {
            bail!(
                "only {arrived} of {} revocations reached the receiver within {} s",
                acknowledged.len(),
                DRAIN_TIMEOUT.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let bad_signatures = *receiver.bad_signatures.lock().expect("not poisoned");
    if bad_signatures > 0 {
        bail!("{bad_signatures} deliveries had a bad HMAC signature");
    }
    let arrived = receiver.arrived.lock().expect("not poisoned").clone();
    let mut latencies_ms: Vec<f64> = acknowledged
        .iter()
        .map(|(event_id, acked)| {
            arrived
                .get(event_id)
                .map(|at| at.saturating_duration_since(*acked).as_secs_f64() * 1_000.0)
                .with_context(|| format!("no delivery for check-in {event_id}"))
        })
        .collect::<anyhow::Result<_>>()?;
    latencies_ms.sort_by(f64::total_cmp);
    let percentile = |share: f64| -> f64 {
        let index =
            ((latencies_ms.len() as f64 * share).ceil() as usize).clamp(1, latencies_ms.len());
        latencies_ms[index - 1]
    };
    eprintln!(
        "check-in stored → delivered: p50 {:.1} ms, p99 {:.1} ms",
        percentile(0.5),
        percentile(0.99)
    );
    Ok(json!({
        "scenario": "revocation-latency",
        "label": label,
        "check_ins": latencies_ms.len(),
        "delivery_ms_p50": percentile(0.50),
        "delivery_ms_p99": percentile(0.99),
        "delivery_ms_max": percentile(1.0),
    }))
}
