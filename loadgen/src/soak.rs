//! `--scenario soak`: many tablets syncing as the PWA does, for minutes (issue #10).
//!
//! Each simulated tablet behaves like `app/src/sync/scheduler.rs` on a busy ward: a nurse hands a
//! device over every `--capture-seconds` on average (drawn uniformly between 0 and twice that,
//! so the tablets drift apart), one handoff at a time or a return and a new check-out together,
//! and the tablet pushes its outbox right after each capture; every `--sync-seconds` (30 s, the
//! PWA's period) it pushes whatever is left and pulls the site's new events page by page. The
//! tablets start at random moments within the first sync period, as real ones do.
//!
//! Every failure counts as an error: a transport error or a timeout (30 s), an answer other than
//! 200, a receipt other than `accepted`. An event whose push failed stays in the outbox and is
//! pushed again at the next round, as on the tablet. The figures: requests, events accepted and
//! pulled, errors with the first few messages, and push and pull latencies (p50, p95, p99, max)
//! per request. The server's memory is sampled by whoever started it (`cargo xtask soak`).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use baton_core::event::SignedEvent;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::tablet::{Manager, SimTablet, now_ms};

/// Events per pull page: the server's default.
const PULL_PAGE: u32 = 500;
/// Error messages kept for the report; the rest are only counted.
const KEPT_ERROR_MESSAGES: usize = 10;

pub struct SoakConfig {
    pub tablets: usize,
    pub duration: Duration,
    pub sync_period: Duration,
    pub mean_capture_interval: Duration,
}

#[derive(Default)]
struct TabletFigures {
    pushes: usize,
    pulls: usize,
    events_accepted: usize,
    events_pulled: usize,
    errors: usize,
    error_messages: Vec<String>,
    push_latencies: Vec<Duration>,
    pull_latencies: Vec<Duration>,
}

impl TabletFigures {
    fn error(&mut self, message: String) {
        self.errors += 1;
        if self.error_messages.len() < KEPT_ERROR_MESSAGES {
            self.error_messages.push(message);
        }
    }
}

/// One simulated tablet's life for the soak: its outbox, its devices, its pull cursor.
struct SoakTablet {
    tablet: SimTablet,
    index: usize,
    devices: Vec<String>,
    staff: Vec<String>,
    outbox: Vec<SignedEvent>,
    /// Which of its devices is checked out now, and to whom.
    checked_out: Option<(String, String)>,
    n_handoffs: usize,
    cursor: i64,
}

impl SoakTablet {
    /// One handoff, or a return followed by the next check-out (a transfer at the desk).
    fn capture(&mut self, rng: &mut impl Rng) -> anyhow::Result<()> {
        let n_events = if self.checked_out.is_some() && rng.gen_bool(0.3) {
            2
        } else {
            1
        };
        for _ in 0..n_events {
            let body = match self.checked_out.take() {
                Some((device, person)) => self.tablet.handoff(&device, &person, true)?,
                None => {
                    let device =
                        self.devices[(self.index + self.n_handoffs) % self.devices.len()].clone();
                    let person =
                        self.staff[(self.index * 7 + self.n_handoffs) % self.staff.len()].clone();
                    let body = self.tablet.handoff(&device, &person, false)?;
                    self.checked_out = Some((device, person));
                    body
                }
            };
            self.n_handoffs += 1;
            let event = self.tablet.sign_next(now_ms(), body)?;
            self.outbox.push(event);
        }
        Ok(())
    }

    /// Pushes the whole outbox in one request; keeps it on any failure.
    async fn push_outbox(&mut self, figures: &mut TabletFigures) {
        if self.outbox.is_empty() {
            return;
        }
        let body = match SimTablet::push_body(&self.outbox) {
            Ok(body) => body,
            Err(error) => return figures.error(format!("encoding a push: {error:#}")),
        };
        figures.pushes += 1;
        let sent = Instant::now();
        let result = self.tablet.push_receipts(body).await;
        figures.push_latencies.push(sent.elapsed());
        match result {
            Ok(receipts) if receipts.len() == self.outbox.len() => {
                let accepted = receipts
                    .iter()
                    .filter(|receipt| receipt["status"] == "accepted")
                    .count();
                figures.events_accepted += accepted;
                if accepted < receipts.len() {
                    let other = receipts
                        .iter()
                        .find(|receipt| receipt["status"] != "accepted")
                        .cloned()
                        .unwrap_or(Value::Null);
                    figures.error(format!("a receipt other than accepted: {other}"));
                }
                self.outbox.clear();
            }
            Ok(receipts) => figures.error(format!(
                "{} receipts for {} events",
                receipts.len(),
                self.outbox.len()
            )),
            Err(error) => figures.error(format!("{error:#}")),
        }
    }

    /// Pulls every new event of the site, page by page.
    async fn pull_all(&mut self, figures: &mut TabletFigures) {
        loop {
            figures.pulls += 1;
            let sent = Instant::now();
            let result = self.tablet.pull(self.cursor, PULL_PAGE).await;
            figures.pull_latencies.push(sent.elapsed());
            match result {
                Ok((n_events, next_after, more)) => {
                    figures.events_pulled += n_events;
                    self.cursor = next_after;
                    if !more {
                        return;
                    }
                }
                Err(error) => return figures.error(format!("{error:#}")),
            }
        }
    }
}

/// A random wait in `[0, 2 × mean)`: uniform, so its mean is `mean`.
fn around(rng: &mut impl Rng, mean: Duration) -> Duration {
    mean.mul_f64(rng.gen_range(0.0..2.0))
}

async fn run_tablet(
    mut soak: SoakTablet,
    end: Instant,
    sync_period: Duration,
    mean_capture_interval: Duration,
    progress: Arc<Mutex<usize>>,
) -> anyhow::Result<TabletFigures> {
    let mut figures = TabletFigures::default();
    let mut rng = rand::rngs::StdRng::from_entropy();
    let start = Instant::now();
    let mut next_sync = start + sync_period.mul_f64(rng.gen_range(0.0..1.0));
    let mut next_capture = start + around(&mut rng, mean_capture_interval);
    loop {
        let next = next_sync.min(next_capture);
        if next >= end {
            break;
        }
        tokio::time::sleep_until(next.into()).await;
        if next == next_capture {
            soak.capture(&mut rng)?;
            soak.push_outbox(&mut figures).await;
            next_capture = Instant::now() + around(&mut rng, mean_capture_interval);
        } else {
            soak.push_outbox(&mut figures).await;
            soak.pull_all(&mut figures).await;
            // The PWA's timer starts again when a round ends.
            next_sync = Instant::now() + sync_period;
            *progress.lock().expect("not poisoned") += 1;
        }
    }
    Ok(figures)
}

pub async fn run(manager: &Manager, config: &SoakConfig, label: &str) -> anyhow::Result<Value> {
    let (devices, staff) = manager.registry().await?;
    eprintln!("enrolling {} tablets…", config.tablets);
    let mut tablets = Vec::with_capacity(config.tablets);
    for index in 0..config.tablets {
        tablets.push(SoakTablet {
            tablet: SimTablet::enroll(manager, index).await?,
            index,
            devices: devices.clone(),
            staff: staff.clone(),
            outbox: Vec::new(),
            checked_out: None,
            n_handoffs: 0,
            cursor: 0,
        });
    }
    eprintln!(
        "soaking for {} s: {} tablets, a handoff every {} s on average each, a sync round every \
         {} s…",
        config.duration.as_secs(),
        config.tablets,
        config.mean_capture_interval.as_secs_f64(),
        config.sync_period.as_secs_f64(),
    );
    let started = Instant::now();
    let end = started + config.duration;
    let rounds = Arc::new(Mutex::new(0_usize));
    let mut tasks = Vec::with_capacity(tablets.len());
    for tablet in tablets {
        tasks.push(tokio::spawn(run_tablet(
            tablet,
            end,
            config.sync_period,
            config.mean_capture_interval,
            rounds.clone(),
        )));
    }
    let reporter = {
        let rounds = rounds.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(60)).await;
                eprintln!(
                    "  {:>4} s: {} sync rounds",
                    started.elapsed().as_secs(),
                    rounds.lock().expect("not poisoned")
                );
            }
        })
    };
    let mut total = TabletFigures::default();
    for task in tasks {
        let figures = task.await.context("a soak tablet panicked")??;
        total.pushes += figures.pushes;
        total.pulls += figures.pulls;
        total.events_accepted += figures.events_accepted;
        total.events_pulled += figures.events_pulled;
        total.errors += figures.errors;
        for message in figures.error_messages {
            if total.error_messages.len() < KEPT_ERROR_MESSAGES {
                total.error_messages.push(message);
            }
        }
        total.push_latencies.extend(figures.push_latencies);
        total.pull_latencies.extend(figures.pull_latencies);
    }
    reporter.abort();
    let elapsed = started.elapsed();
    let push = latency_figures(&mut total.push_latencies);
    let pull = latency_figures(&mut total.pull_latencies);
    eprintln!(
        "{} requests, {} events accepted, {} errors; push p99 {:.1} ms, pull p99 {:.1} ms",
        total.pushes + total.pulls,
        total.events_accepted,
        total.errors,
        push["p99"].as_f64().unwrap_or(f64::NAN),
        pull["p99"].as_f64().unwrap_or(f64::NAN),
    );
    Ok(json!({
        "scenario": "soak",
        "label": label,
        "tablets": config.tablets,
        "seconds": elapsed.as_secs_f64(),
        "sync_seconds": config.sync_period.as_secs_f64(),
        "capture_seconds": config.mean_capture_interval.as_secs_f64(),
        "requests": total.pushes + total.pulls,
        "pushes": total.pushes,
        "pulls": total.pulls,
        "events_accepted": total.events_accepted,
        "events_pulled": total.events_pulled,
        "errors": total.errors,
        "error_messages": total.error_messages,
        "push_ms": push,
        "pull_ms": pull,
    }))
}

/// Nearest-rank percentiles of request latencies, in milliseconds.
fn latency_figures(latencies: &mut [Duration]) -> Value {
    if latencies.is_empty() {
        return json!({ "p50": null, "p95": null, "p99": null, "max": null });
    }
    latencies.sort();
    let percentile = |share: f64| -> f64 {
        let index = ((latencies.len() as f64 * share).ceil() as usize).clamp(1, latencies.len());
        latencies[index - 1].as_secs_f64() * 1_000.0
    };
    json!({
        "p50": percentile(0.50),
        "p95": percentile(0.95),
        "p99": percentile(0.99),
        "max": percentile(1.0),
    })
}
