//! `--scenario board`: the manager's board API over a large site (issues [dashboard] and
//! [performance]).
//!
//! The site is filled to `--devices` devices through the admin CSV import, then grown to each of
//! `--sizes` stored events by simulated tablets pushing real signed handoffs over the sync
//! protocol. Each device's handoffs follow a small state machine (check-out, check-in, transfer,
//! missing, found, some check-outs due back at once), so that at every size the board shows
//! devices available, in use, overdue and missing. After each step it measures, from this side
//! of the socket: that step's ingest rate; `GET /api/v1/dashboard/devices` (the board's first
//! page, the request the board page makes when it opens; the server filters and pages) one
//! request at a time and from several clients at once; a search for one person's devices; the
//! whole board read page after page; the first page of `GET /api/v1/dashboard/exceptions`, the
//! page beside it; and the server's resident memory, now and at its peak, from
//! `/proc/PID/status`.
//!
//! Events are stamped between the tablets' enrollment and the moment they are signed, so the
//! record stays one an auditor would accept (every key enrolled before it signs).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use baton_core::body::{AuthMethod, Body, Checklist, DeviceCondition, PersonAuth};
use baton_core::ids::{DeviceId, StaffId, WardId};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use crate::tablet::{Manager, SimTablet, now_ms};

/// Events signed and pushed in one go: bounds the load generator's memory (a signed event is
/// about 700 bytes of JSON) at large sizes. Only the pushes are timed.
const CHUNK_EVENTS: usize = 100_000;
/// Rows per CSV import request (the server's limit).
const IMPORT_ROWS: usize = 1_000;
/// Board requests before the timed ones, so the first one's cold caches are not measured.
const WARM_UP_REQUESTS: usize = 3;
/// Exception lists timed one at a time at each size: a few, because the list is derived anew
/// at every request and took 10 to 20 s at 10^6 events on the shared benchmark machine.
const EXCEPTION_REQUESTS: usize = 5;
/// Searches of the board timed one at a time at each size.
const SEARCH_REQUESTS: usize = 50;
/// Reads of the whole board, page after page, timed at each size.
const WHOLE_BOARD_READS: usize = 5;

/// What `cargo xtask bench` asks for.
pub struct BoardLoad {
    pub devices: usize,
    pub sizes: Vec<usize>,
    pub tablets: usize,
    pub batch: usize,
    pub concurrency: usize,
    /// Board requests timed one at a time at each size (the concurrent run makes as many).
    pub requests: usize,
    /// Clients requesting the board at once in the concurrent run.
    pub clients: usize,
    /// The server's process, for its memory.
    pub server_pid: Option<u32>,
    /// The database's directory (SQLite's data directory, PostgreSQL's cluster), for its size.
    pub data_dir: Option<PathBuf>,
    pub label: String,
}

/// Where a simulated device is in its life, as the generator tracks it.
#[derive(Debug, Clone, Copy)]
enum DeviceState {
    Available,
    Held { staff: usize },
    Missing { staff: usize },
}

/// A deterministic stream of choices (SplitMix64), so every run builds the same site.
fn mix(mut value: u64) -> u64 {
    value = value.wrapping_add(0x9e37_79b9_7f4a_7c15);
    value = (value ^ (value >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    value = (value ^ (value >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    value ^ (value >> 31)
}

/// The site's handoffs, one device at a time in turn, each following its own state machine.
struct Generator {
    devices: Vec<DeviceId>,
    staff: Vec<StaffId>,
    ward: WardId,
    states: Vec<DeviceState>,
    /// Events generated so far, across all devices.
    generated: u64,
}

impl Generator {
    fn person(&self, staff: usize) -> PersonAuth {
        PersonAuth {
            staff: self.staff[staff].clone(),
            method: AuthMethod::BadgePin,
        }
    }

    /// The next event's device index and body, stamped at `wall_ms`.
    fn next(&mut self, wall_ms: u64) -> (usize, Body) {
        let device_idx = (self.generated % self.devices.len() as u64) as usize;
        let choice = mix(self.generated) % 100;
        let other = (mix(self.generated ^ 0x5eed) % self.staff.len() as u64) as usize;
        self.generated += 1;
        let device = self.devices[device_idx].clone();
        let ward = self.ward.clone();
        let (state, body) = match self.states[device_idx] {
            DeviceState::Available => (
                DeviceState::Held { staff: other },
                Body::CheckOut {
                    device,
                    custodian: self.person(other),
                    ward,
                    shift: None,
                    // One check-out in eight is due back a second later: overdue on the board
                    // until it returns.
                    expected_return_ms: (choice < 12).then_some(wall_ms + 1_000),
                    purpose: None,
                    issued_by: None,
                },
            ),
            DeviceState::Held { staff } if choice < 25 && other != staff => (
                DeviceState::Held { staff: other },
                Body::Transfer {
                    device,
                    from: self.person(staff),
                    to: self.person(other),
                    ward,
                    shift: None,
                    expected_return_ms: None,
                },
            ),
            DeviceState::Held { staff } if choice >= 95 => (
                DeviceState::Missing { staff },
                Body::ReportMissing {
                    device,
                    reported_by: self.person(staff),
                    note: Some("Not on the charging shelf at the round".to_owned()),
                },
            ),
            DeviceState::Held { staff } => (
                DeviceState::Available,
                Body::CheckIn {
                    device,
                    returned_by: self.person(staff),
                    ward,
                    checklist: Checklist {
                        apps_signed_out: true,
                        local_data_wiped: true,
                        condition: DeviceCondition::Ok,
                    },
                    note: None,
                },
            ),
            DeviceState::Missing { staff } => (
                DeviceState::Available,
                Body::ReportFound {
                    device,
                    found_by: self.person(staff),
                    ward,
                    note: None,
                },
            ),
        };
        self.states[device_idx] = state;
        (device_idx, body)
    }
}

/// Latency figures of one series of requests, in milliseconds.
fn summary(mut latencies: Vec<Duration>) -> Value {
    latencies.sort();
    let percentile = |share: f64| -> f64 {
        if latencies.is_empty() {
            return f64::NAN;
        }
        let index = ((latencies.len() as f64 * share).ceil() as usize).clamp(1, latencies.len());
        latencies[index - 1].as_secs_f64() * 1_000.0
    };
    json!({
        "requests": latencies.len(),
        "p50_ms": percentile(0.50),
        "p95_ms": percentile(0.95),
        "p99_ms": percentile(0.99),
        "max_ms": percentile(1.0),
    })
}

/// `VmRSS` and `VmHWM` of a process, in MiB.
fn memory_mib(pid: u32) -> Option<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<f64> {
        let line = status.lines().find(|line| line.starts_with(name))?;
        let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib / 1024.0)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// The load average over 1, 5 and 15 minutes: how busy the shared machine was.
pub fn load_average() -> Option<String> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    Some(
        text.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" / "),
    )
}

/// The bytes under `path`, files only (a database and its journal, or a PostgreSQL cluster).
fn directory_bytes(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|entry| match entry.metadata() {
            Ok(metadata) if metadata.is_dir() => directory_bytes(&entry.path()),
            Ok(metadata) => metadata.len(),
            Err(_) => 0,
        })
        .sum()
}

/// Adds synthetic devices through the admin CSV import until the site has `n_devices`.
pub async fn fill_registry(manager: &Manager, n_devices: usize) -> anyhow::Result<()> {
    let board = manager.get("/api/v1/dashboard/devices?limit=1").await?;
    let existing = board["total"].as_u64().unwrap_or(0) as usize;
    let wards: Vec<String> = board["wards"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|ward| ward.as_str().map(str::to_owned))
        .collect();
    if wards.is_empty() {
        bail!("the site has no device to learn its wards from");
    }
    let missing: Vec<usize> = (existing + 1..=n_devices).collect();
    eprintln!("importing {} synthetic devices…", missing.len());
    for rows in missing.chunks(IMPORT_ROWS) {
        let mut csv = String::from("device_id,asset_tag,kind,model,home_ward,active\n");
        for &index in rows {
            let (kind, model) = match index % 10 {
                0..=5 => ("tablet", "Synthetic Tab 10"),
                6..=8 => ("phone", "Synthetic Phone 6"),
                _ => ("scanner", "Synthetic Scan 2D"),
            };
            csv.push_str(&format!(
                "D-{index:05},BB-{index:05},{kind},{model},{},true\n",
                wards[index % wards.len()]
            ));
        }
        manager.post_csv("/api/v1/admin/devices.csv", csv).await?;
    }
    Ok(())
}

/// Signs `n_events` more handoffs on the tablets and pushes them; returns the push seconds,
/// the events accepted and the push latencies.
async fn grow(
    tablets: &mut Vec<SimTablet>,
    generator: &mut Generator,
    n_events: usize,
    load: &BoardLoad,
    last_wall_ms: &mut u64,
) -> anyhow::Result<(f64, usize, Vec<Duration>)> {
    let mut push_seconds = 0.0;
    let mut accepted = 0;
    let mut latencies = Vec::new();
    let mut remaining = n_events;
    while remaining > 0 {
        let chunk = remaining.min(CHUNK_EVENTS);
        remaining -= chunk;
        // Stamp the chunk evenly between the last stamp and now: after the enrollments, in
        // the past, and in order on every tablet.
        let mut until_ms = now_ms().saturating_sub(1_000);
        while until_ms <= *last_wall_ms {
            tokio::time::sleep(Duration::from_millis(100)).await;
            until_ms = now_ms().saturating_sub(1_000);
        }
        let span = until_ms - *last_wall_ms;
        let mut bodies: Vec<Vec<(u64, Body)>> = vec![Vec::new(); tablets.len()];
        for event_idx in 0..chunk {
            let wall_ms = *last_wall_ms + 1 + span * event_idx as u64 / chunk as u64;
            let (device_idx, body) = generator.next(wall_ms);
            // A device's handoffs are always recorded by the same tablet, as on one ward.
            bodies[device_idx % tablets.len()].push((wall_ms, body));
        }
        *last_wall_ms = until_ms;

        // Signing is not timed; both cores share it.
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let per_thread = tablets.len().div_ceil(threads);
        let batches: Vec<Vec<Vec<u8>>> = std::thread::scope(|scope| {
            let workers: Vec<_> = tablets
                .chunks_mut(per_thread)
                .zip(bodies.chunks(per_thread))
                .map(|(tablets, bodies)| {
                    scope.spawn(move || -> anyhow::Result<Vec<Vec<Vec<u8>>>> {
                        tablets
                            .iter_mut()
                            .zip(bodies)
                            .map(|(tablet, bodies)| {
                                let events = bodies
                                    .iter()
                                    .map(|(wall_ms, body)| tablet.sign_next(*wall_ms, body.clone()))
                                    .collect::<anyhow::Result<Vec<_>>>()?;
                                events
                                    .chunks(load.batch)
                                    .map(SimTablet::push_body)
                                    .collect()
                            })
                            .collect()
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|worker| worker.join().expect("a signing thread panicked"))
                .collect::<anyhow::Result<Vec<_>>>()
                .map(|parts| parts.into_iter().flatten().collect())
        })?;

        let shared: Vec<Arc<SimTablet>> =
            std::mem::take(tablets).into_iter().map(Arc::new).collect();
        let permits = Arc::new(Semaphore::new(load.concurrency.max(1)));
        let started = Instant::now();
        let mut tasks = Vec::with_capacity(shared.len());
        for (tablet, tablet_batches) in shared.iter().zip(batches) {
            let tablet = tablet.clone();
            let permits = permits.clone();
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(tablet_batches.len());
                let mut accepted = 0_usize;
                for body in tablet_batches {
                    let _permit = permits
                        .acquire()
                        .await
                        .expect("the semaphore is never closed");
                    let sent = Instant::now();
                    accepted += tablet.push(body).await?;
                    latencies.push(sent.elapsed());
                }
                anyhow::Ok((accepted, latencies))
            }));
        }
        for task in tasks {
            let (tablet_accepted, tablet_latencies) =
                task.await.context("a push task panicked")??;
            accepted += tablet_accepted;
            latencies.extend(tablet_latencies);
        }
        push_seconds += started.elapsed().as_secs_f64();
        *tablets = shared
            .into_iter()
            .map(|tablet| {
                Arc::try_unwrap(tablet).map_err(|_| anyhow::anyhow!("a push task kept its tablet"))
            })
            .collect::<anyhow::Result<_>>()?;
    }
    Ok((push_seconds, accepted, latencies))
}

/// Times `requests` GETs of `path` one at a time after `warm_up` untimed ones, then (unless
/// `clients` is 0) the same number spread over `clients` clients at once. Returns both
/// summaries, the last answer and its size on the wire.
async fn time_requests(
    manager: &Manager,
    path: &str,
    warm_up: usize,
    requests: usize,
    clients: usize,
) -> anyhow::Result<(Value, Value, Value, usize)> {
    for _ in 0..warm_up {
        manager.get_as_browser(path).await?;
    }
    let mut sequential = Vec::with_capacity(requests);
    let mut wire_bytes = 0;
    for _ in 0..requests {
        let sent = Instant::now();
        wire_bytes = manager.get_as_browser(path).await?;
        sequential.push(sent.elapsed());
    }
    if clients == 0 {
        let answer = manager.get(path).await?;
        return Ok((summary(sequential), Value::Null, answer, wire_bytes));
    }
    let mut tasks = Vec::with_capacity(clients);
    for client_idx in 0..clients {
        let manager = manager.clone();
        let path = path.to_owned();
        let share = requests / clients + usize::from(client_idx < requests % clients);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(share);
            for _ in 0..share {
                let sent = Instant::now();
                manager.get_as_browser(&path).await?;
                latencies.push(sent.elapsed());
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut concurrent = Vec::with_capacity(requests);
    for task in tasks {
        concurrent.extend(task.await.context("a board client panicked")??);
    }
    let answer = manager.get(path).await?;
    Ok((summary(sequential), summary(concurrent), answer, wire_bytes))
}

/// Runs the scenario; `record` receives each size's figures as soon as they are measured, so an
/// interrupted run keeps the sizes it finished.
pub async fn measure(
    base_url: &str,
    credentials: &Path,
    load: &BoardLoad,
    record: &mut dyn FnMut(&Value) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    if load.sizes.windows(2).any(|pair| pair[0] >= pair[1]) || load.sizes.is_empty() {
        bail!("--sizes must grow, e.g. 10000,100000,1000000");
    }
    let manager = Manager::sign_in(base_url, credentials).await?;
    fill_registry(&manager, load.devices).await?;
    let (device_ids, staff_ids) = manager.registry().await?;
    if device_ids.len() < load.devices {
        bail!(
            "the site has {} active devices after the import, not {}",
            device_ids.len(),
            load.devices
        );
    }
    eprintln!("enrolling {} tablets…", load.tablets);
    let mut tablets = Vec::with_capacity(load.tablets);
    for index in 0..load.tablets {
        tablets.push(SimTablet::enroll(&manager, index).await?);
    }
    let mut generator = Generator {
        devices: device_ids
            .iter()
            .map(DeviceId::new)
            .collect::<Result<_, _>>()?,
        staff: staff_ids
            .iter()
            .map(StaffId::new)
            .collect::<Result<_, _>>()?,
        ward: WardId::new(tablets[0].ward_id())?,
        states: vec![DeviceState::Available; device_ids.len()],
        generated: 0,
    };
    let mut last_wall_ms = now_ms();
    let mut stored = 0;
    for &size in &load.sizes {
        let step = size - stored;
        eprintln!("growing the store from {stored} to {size} events…");
        let (seconds, accepted, push_latencies) =
            grow(&mut tablets, &mut generator, step, load, &mut last_wall_ms).await?;
        if accepted != step {
            bail!("the server accepted {accepted} of {step} events");
        }
        stored = size;
        let rate = step as f64 / seconds;
        eprintln!("{step} events in {seconds:.1} s: {rate:.0} events/s; timing the board…");
        let memory_after_ingest = load.server_pid.and_then(memory_mib);

        let (board_sequential, board_concurrent, board, board_bytes) = time_requests(
            &manager,
            "/api/v1/dashboard/devices",
            WARM_UP_REQUESTS,
            load.requests,
            load.clients,
        )
        .await?;
        let statuses = board["counts"].clone();
        // A search for one person's devices by staff number, which reads the site's names
        // and looks through every device's custodians.
        let search_path = format!(
            "/api/v1/dashboard/devices?q={}",
            generator.staff[generator.staff.len() / 2].as_str()
        );
        let (search_sequential, _, _, _) =
            time_requests(&manager, &search_path, 1, SEARCH_REQUESTS, 0).await?;
        // The whole board, as a client that wants every device reads it: page after page.
        let mut whole_board = Vec::with_capacity(WHOLE_BOARD_READS);
        for _ in 0..WHOLE_BOARD_READS {
            let sent = Instant::now();
            manager.board_pages().await?;
            whole_board.push(sent.elapsed());
        }
        let (exceptions_sequential, _, exceptions, exceptions_bytes) = time_requests(
            &manager,
            "/api/v1/dashboard/exceptions?include_resolved=false&limit=50",
            1,
            EXCEPTION_REQUESTS,
            0,
        )
        .await?;
        let memory = load.server_pid.and_then(memory_mib);
        eprintln!(
            "board p99 {} ms one at a time, {} ms with {} clients; RSS {:?} MiB",
            board_sequential["p99_ms"], board_concurrent["p99_ms"], load.clients, memory
        );
        let mut push_latencies = push_latencies;
        push_latencies.sort();
        record(&json!({
            "scenario": "board",
            "label": load.label,
            "devices": board["total"],
            "page_rows": board["devices"].as_array().map_or(0, Vec::len),
            "tablets": load.tablets,
            "batch": load.batch,
            "concurrency": load.concurrency,
            "events_stored": stored,
            "step_events": step,
            "step_seconds": seconds,
            "events_per_second": rate,
            "push": summary(push_latencies),
            "statuses": statuses,
            "board_sequential": board_sequential,
            "board_concurrent": board_concurrent,
            "board_wire_bytes": board_bytes,
            "search_path": search_path,
            "search_sequential": search_sequential,
            "whole_board": summary(whole_board),
            "exceptions": exceptions["total"],
            "exceptions_sequential": exceptions_sequential,
            "exceptions_wire_bytes": exceptions_bytes,
            "clients": load.clients,
            "rss_after_ingest_mib": memory_after_ingest.map(|(rss, _)| rss),
            "rss_mib": memory.map(|(rss, _)| rss),
            "peak_rss_mib": memory.map(|(_, peak)| peak),
            "data_bytes": load.data_dir.as_deref().map(directory_bytes),
            "load_average": load_average(),
        }))?;
    }
    Ok(())
}
