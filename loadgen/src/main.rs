//! `baton-load`: simulated tablets against a running Baton server, over the real sync protocol.
//!
//! Each simulated tablet is enrolled with a manager's enrollment code, signs a realistic stream
//! of handoffs (check-outs and check-ins of the site's devices by its staff) with `baton-core`
//! before the clock starts, then pushes it in batches of signed requests, concurrently with the
//! other tablets. What is measured is the server's end-to-end ingest: verified, merged, durable,
//! receipts returned. In the same run it measures this machine's own ed25519 verification
//! rates, so the report gives ingest as a ratio to the physical limit, not an absolute number
//! from another day.
//!
//! Scenarios (`--scenario`): `ingest` (many tablets at once), `catch-up` (one tablet with a long
//! outbox), `verify` (the machine's verification rates only), `revocation-latency` (check-in
//! stored to revocation delivered at a webhook receiver run here), `soak` (`--tablets` syncing
//! as the PWA does for `--minutes`: errors and latencies; `cargo xtask soak` adds the server's
//! memory), `board` (a site of `--devices` devices grown to each of `--sizes` stored events,
//! the board API timed at each), `pouchdb` (the peer: the `ingest` load's events as unsigned
//! documents pushed with `_bulk_docs` to a `pouchdb-server` at `--peer-url`, the registry read
//! from the Baton server at `--url`). `--json FILE` appends one JSON object per scenario (per
//! size, for `board`) for the report.
//!
//! # Layout
//! - `tablet`: the manager's session and the simulated tablets (signing, push, pull).
//! - `baseline`: this machine's ed25519 verification rates.
//! - `latency`: the revocation-latency scenario and its webhook receiver.
//! - `soak`: the soak scenario.
//! - `board`: the board scenario.
//! - `pouchdb`: the peer scenario, against `pouchdb-server` (`loadgen/pouchdb/`).

mod baseline;
mod board;
mod latency;
mod pouchdb;
mod soak;
mod tablet;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use tablet::{Manager, SimTablet, Stream};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    Ingest,
    CatchUp,
    Verify,
    RevocationLatency,
    Soak,
    Board,
    Pouchdb,
}

#[derive(Debug, Parser)]
#[command(
    name = "baton-load",
    about = "Load generator for a running Baton server"
)]
struct Args {
    #[arg(long, value_enum, default_value_t = Scenario::Ingest)]
    scenario: Scenario,
    /// The server, e.g. http://127.0.0.1:8080.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// The `demo-credentials.txt` a `baton serve --demo` wrote (for the manager's sign-in).
    #[arg(long, default_value = "data/demo-credentials.txt")]
    credentials: PathBuf,
    /// Simulated tablets pushing at once (`ingest`), or syncing side by side (`soak`).
    #[arg(long, default_value_t = 50)]
    tablets: usize,
    /// Events each tablet signs and pushes.
    #[arg(long, default_value_t = 200)]
    events: usize,
    /// Events per push request (the tablet's batch; the server accepts at most 500).
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// Push requests in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// `ingest`, `catch-up`, `pouchdb`: the devices each tablet hands over. With N > 0, N
    /// devices of its own, as a ward's tablet hands over that ward's devices (synthetic devices
    /// are imported if the site has too few). With 0, every tablet hands over every device of
    /// the site within the same minutes: the worst case for the fold, since every push then
    /// lands in the middle of every device's history.
    #[arg(long, default_value_t = 0)]
    devices_per_tablet: usize,
    /// A label for the report (the backend under test).
    #[arg(long, default_value = "")]
    label: String,
    /// `revocation-latency`: where the webhook receiver listens (the server's connectors file
    /// must name `http://ADDRESS/revocations`).
    #[arg(long, default_value = "127.0.0.1:9099")]
    receiver_listen: std::net::SocketAddr,
    /// `revocation-latency`: the webhook connector's HMAC secret.
    #[arg(long, env = "BATON_LOAD_WEBHOOK_SECRET", default_value = "")]
    webhook_secret: String,
    /// `soak`: how long the tablets keep syncing, in minutes.
    #[arg(long, default_value_t = 10.0)]
    minutes: f64,
    /// `soak`: each tablet's sync period in seconds (the PWA's is 30).
    #[arg(long, default_value_t = 30.0)]
    sync_seconds: f64,
    /// `soak`: the mean time between two handoffs on one tablet, in seconds.
    #[arg(long, default_value_t = 15.0)]
    capture_seconds: f64,
    /// `board`: the site's devices, the demo's and synthetic ones imported as CSV.
    #[arg(long, default_value_t = 10_000)]
    devices: usize,
    /// `board`: the stored events at which the board is timed, growing, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "10000,100000,1000000")]
    sizes: Vec<usize>,
    /// `board`: board requests timed one at a time at each size, and as many again from
    /// `--clients` clients at once.
    #[arg(long, default_value_t = 200)]
    requests: usize,
    /// `board`: clients requesting the board at once.
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// `board`: the server's process id, for its resident memory (same machine only).
    #[arg(long)]
    server_pid: Option<u32>,
    /// `board`: the database's directory, for its size on disk.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// `pouchdb`: the CouchDB-compatible peer, e.g. a `pouchdb-server`.
    #[arg(long, default_value = "http://127.0.0.1:5984")]
    peer_url: String,
    /// `pouchdb`: the peer's database, deleted and created afresh for the run.
    #[arg(long, default_value = "baton_ingest")]
    peer_db: String,
    /// Appends the scenario's result as one JSON line.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.batch == 0 || args.batch > 500 {
        bail!("--batch must be between 1 and 500 (the server's push limit)");
    }
    let mut record = |result: &Value| -> anyhow::Result<()> {
        println!("{}", serde_json::to_string_pretty(result)?);
        if let Some(path) = &args.json {
            use std::io::Write;
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("opening {}", path.display()))?;
            writeln!(file, "{}", serde_json::to_string(result)?)?;
        }
        Ok(())
    };
    match args.scenario {
        Scenario::Board => {
            let load = board::BoardLoad {
                devices: args.devices,
                sizes: args.sizes.clone(),
                tablets: args.tablets,
                batch: args.batch,
                concurrency: args.concurrency,
                requests: args.requests,
                clients: args.clients,
                server_pid: args.server_pid,
                data_dir: args.data_dir.clone(),
                label: args.label.clone(),
            };
            board::measure(&args.url, &args.credentials, &load, &mut record).await
        }
        Scenario::Verify => record(&baseline::measure()),
        Scenario::Pouchdb => {
            // The registry of the Baton site, so that the documents name the same devices and
            // staff as the events of `ingest`.
            let manager = Manager::sign_in(&args.url, &args.credentials).await?;
            let (devices, staff) =
                devices_for_tablets(&manager, args.tablets, args.devices_per_tablet).await?;
            let load = pouchdb::PeerLoad {
                tablets: args.tablets,
                events: args.events,
                batch: args.batch,
                concurrency: args.concurrency,
            };
            let result = pouchdb::measure(
                &args.peer_url,
                &args.peer_db,
                &devices,
                &staff,
                &load,
                &args.label,
            )
            .await?;
            record(&result)?;
            match result["errors"].as_u64() {
                Some(0) => Ok(()),
                errors => bail!(
                    "the peer refused or lost {} documents; the first: {}",
                    errors.unwrap_or_default(),
                    result["first_error"]
                ),
            }
        }
        Scenario::Ingest => record(&ingest(&args, args.tablets, args.events).await?),
        Scenario::CatchUp => record(&ingest(&args, 1, args.events).await?),
        Scenario::RevocationLatency => {
            if args.webhook_secret.len() < 32 {
                bail!("--webhook-secret must be the connector's secret (at least 32 characters)");
            }
            let result = latency::measure(
                &args.url,
                &args.credentials,
                args.receiver_listen,
                &args.webhook_secret,
                args.events,
                &args.label,
            )
            .await?;
            record(&result)
        }
        Scenario::Soak => {
            let seconds = [args.minutes * 60.0, args.sync_seconds, args.capture_seconds];
            if seconds
                .iter()
                .any(|value| !value.is_finite() || *value <= 0.0)
            {
                bail!("--minutes, --sync-seconds and --capture-seconds must be more than 0");
            }
            let manager = Manager::sign_in(&args.url, &args.credentials).await?;
            let config = soak::SoakConfig {
                tablets: args.tablets,
                duration: std::time::Duration::from_secs_f64(seconds[0]),
                sync_period: std::time::Duration::from_secs_f64(seconds[1]),
                mean_capture_interval: std::time::Duration::from_secs_f64(seconds[2]),
            };
            record(&soak::run(&manager, &config, &args.label).await?)
        }
    }
}

/// Enrolls `n_tablets`, signs `n_events` each, and pushes everything as fast as the server
/// takes it; returns the figures.
async fn ingest(args: &Args, n_tablets: usize, n_events: usize) -> anyhow::Result<Value> {
    let manager = Manager::sign_in(&args.url, &args.credentials).await?;
    let (devices, staff) =
        devices_for_tablets(&manager, n_tablets, args.devices_per_tablet).await?;
    eprintln!("enrolling {n_tablets} tablets…");
    let mut tablets = Vec::with_capacity(n_tablets);
    for index in 0..n_tablets {
        tablets.push(SimTablet::enroll(&manager, index).await?);
    }
    eprintln!("signing {} events…", n_tablets * n_events);
    let streams: Vec<Stream> = tablets
        .into_iter()
        .enumerate()
        .map(|(index, tablet)| {
            let devices = &devices[index % devices.len()];
            tablet.sign_stream(index, n_events, devices, &staff, args.batch)
        })
        .collect::<anyhow::Result<_>>()?;
    let n_requests: usize = streams.iter().map(|stream| stream.batches.len()).sum();
    let request_bytes: usize = streams
        .iter()
        .flat_map(|stream| &stream.batches)
        .map(Vec::len)
        .sum();

    eprintln!(
        "pushing in {n_requests} requests, {} at a time…",
        args.concurrency
    );
    let permits = Arc::new(Semaphore::new(args.concurrency.max(1)));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(streams.len());
    for stream in streams {
        let permits = permits.clone();
        // Each tablet pushes its batches in chain order; tablets run side by side.
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(stream.batches.len());
            let mut accepted = 0_usize;
            for body in &stream.batches {
                let _permit = permits
                    .acquire()
                    .await
                    .expect("the semaphore is never closed");
                let sent = Instant::now();
                accepted += stream.tablet.push(body.clone()).await?;
                latencies.push(sent.elapsed());
            }
            anyhow::Ok((accepted, latencies))
        }));
    }
    let mut accepted = 0;
    let mut latencies: Vec<Duration> = Vec::with_capacity(n_requests);
    for task in tasks {
        let (tablet_accepted, tablet_latencies) = task.await.context("a push task panicked")??;
        accepted += tablet_accepted;
        latencies.extend(tablet_latencies);
    }
    let elapsed = started.elapsed();
    let expected = n_tablets * n_events;
    if accepted != expected {
        bail!("the server accepted {accepted} of {expected} events");
    }
    latencies.sort();
    let rate = accepted as f64 / elapsed.as_secs_f64();
    eprintln!(
        "{accepted} events accepted in {:.2} s: {rate:.0} events/s",
        elapsed.as_secs_f64()
    );
    Ok(json!({
        "scenario": if n_tablets == 1 { "catch-up" } else { "ingest" },
        "label": args.label,
        "tablets": n_tablets,
        "events_per_tablet": n_events,
        "batch": args.batch,
        "concurrency": args.concurrency,
        "devices_per_tablet": args.devices_per_tablet,
        "accepted": accepted,
        "seconds": elapsed.as_secs_f64(),
        "events_per_second": rate,
        "push_ms_p50": percentile_ms(&latencies, 0.50),
        "push_ms_p99": percentile_ms(&latencies, 0.99),
        "request_bytes_mean": request_bytes as f64 / n_requests.max(1) as f64,
        "load_average": board::load_average(),
        // Pushes the server deferred (503 sync_busy) and that were sent again after their
        // Retry-After; their latency above counts from the first send.
        "deferred_pushes": tablet::DEFERRED_PUSHES.load(std::sync::atomic::Ordering::Relaxed),
    }))
}

/// The devices each of `n_tablets` tablets hands over (tablet i takes set `i % len`), and the
/// site's staff. With `per_tablet` 0, one set: the whole registry, shared by every tablet.
/// Otherwise `per_tablet` devices of each tablet's own, imported first if the site has too few.
async fn devices_for_tablets(
    manager: &Manager,
    n_tablets: usize,
    per_tablet: usize,
) -> anyhow::Result<(Vec<Vec<String>>, Vec<String>)> {
    let (mut devices, staff) = manager.registry().await?;
    if per_tablet == 0 {
        return Ok((vec![devices], staff));
    }
    let needed = n_tablets * per_tablet;
    if devices.len() < needed {
        board::fill_registry(manager, needed).await?;
        devices = manager.registry().await?.0;
    }
    if devices.len() < needed {
        bail!(
            "the site has {} devices after the import, {needed} needed",
            devices.len()
        );
    }
    Ok((
        devices[..needed]
            .chunks(per_tablet)
            .map(<[String]>::to_vec)
            .collect(),
        staff,
    ))
}

/// The `share` percentile of sorted `latencies`, in milliseconds (nearest rank); NaN if empty.
pub fn percentile_ms(latencies: &[Duration], share: f64) -> f64 {
    if latencies.is_empty() {
        return f64::NAN;
    }
    let index = ((latencies.len() as f64 * share).ceil() as usize).clamp(1, latencies.len());
    latencies[index - 1].as_secs_f64() * 1_000.0
}
