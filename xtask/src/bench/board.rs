//! The board benchmark (`cargo xtask bench`, or alone with `--board-only`): a site of 10,000
//! devices grown to 10^4, 10^5 and 10^6 stored events by simulated tablets, with the board
//! API's latency, the ingest rate of each step and the server's memory at each size, on SQLite
//! and on a private PostgreSQL of its own (so its size on disk is the board's alone). The
//! work is `baton-load --scenario board`; this module starts the servers and renders the table
//! between the `bench:board` markers of BENCHMARKS.md.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::Context;
use serde_json::Value;

use super::Server;
use crate::postgres::{self, PrivatePostgres};
use crate::process::{self, header};

pub const START_MARKER: &str = "<!-- bench:board:start -->";
pub const END_MARKER: &str = "<!-- bench:board:end -->";

/// The shape of the run.
struct BoardLoad {
    devices: usize,
    sizes: &'static str,
    tablets: usize,
    batch: usize,
    concurrency: usize,
    requests: usize,
    clients: usize,
}

const FULL: BoardLoad = BoardLoad {
    devices: 10_000,
    sizes: "10000,100000,1000000",
    tablets: 100,
    batch: 500,
    concurrency: 8,
    requests: 200,
    clients: 4,
};

const QUICK: BoardLoad = BoardLoad {
    devices: 300,
    sizes: "1000,3000",
    tablets: 10,
    batch: 100,
    concurrency: 8,
    requests: 20,
    clients: 2,
};

/// Runs the board scenario on each backend and returns the section's text. The release
/// binaries must be built.
pub fn run(root: &Path, out_dir: &Path, quick: bool) -> anyhow::Result<String> {
    let load = if quick { &QUICK } else { &FULL };
    let results = out_dir.join("board.jsonl");
    let _ = std::fs::remove_file(&results);

    header(&format!(
        "Board API at {} stored events over {} devices, on sqlite",
        load.sizes, load.devices
    ));
    measure(root, None, "sqlite", load, &results, None)?;

    match postgres::find_binaries() {
        Some(bin_dir) => {
            header(&format!(
                "Board API at {} stored events over {} devices, on postgres",
                load.sizes, load.devices
            ));
            let database = PrivatePostgres::start(&bin_dir)?;
            let url = database.create_database("baton_board")?;
            measure(
                root,
                Some(&url),
                "postgres",
                load,
                &results,
                Some(&database.cluster_dir()),
            )?;
        }
        None => eprintln!(
            "    MISSING: {}; PostgreSQL is not measured",
            postgres::missing_message()
        ),
    }
    render(&results)
}

fn measure(
    root: &Path,
    database_url: Option<&str>,
    label: &str,
    load: &BoardLoad,
    results: &Path,
    database_dir: Option<&Path>,
) -> anyhow::Result<()> {
    // Enrolling a hundred tablets from one address is the harness, not the scenario.
    let server = Server::start(
        root,
        database_url,
        &format!("board-{label}"),
        None,
        &["--address-rate-per-minute", "0"],
    )?;
    let data_dir = database_dir.unwrap_or(&server.data_dir).to_owned();
    process::run(
        Command::new(root.join("target/release/baton-load"))
            .args([
                "--scenario",
                "board",
                "--url",
                &server.base_url,
                "--label",
                label,
            ])
            .arg("--credentials")
            .arg(server.data_dir.join("demo-credentials.txt"))
            .args(["--devices", &load.devices.to_string()])
            .args(["--sizes", load.sizes])
            .args(["--tablets", &load.tablets.to_string()])
            .args(["--batch", &load.batch.to_string()])
            .args(["--concurrency", &load.concurrency.to_string()])
            .args(["--requests", &load.requests.to_string()])
            .args(["--clients", &load.clients.to_string()])
            .args(["--server-pid", &server.child.id().to_string()])
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--json")
            .arg(results)
            .stdout(Stdio::null()),
    )
}

fn mib(value: &Value) -> String {
    value
        .as_f64()
        .map_or("–".to_owned(), |mib| format!("{mib:.0} MiB"))
}

fn ms(value: &Value) -> String {
    match value.as_f64() {
        Some(ms) if ms < 10.0 => format!("{ms:.1}"),
        Some(ms) => format!("{ms:.0}"),
        None => "–".to_owned(),
    }
}

fn latencies(series: &Value) -> String {
    format!(
        "{} / {} / {} ms",
        ms(&series["p50_ms"]),
        ms(&series["p95_ms"]),
        ms(&series["p99_ms"])
    )
}

/// The section from the figures `baton-load` wrote, one JSON line per backend and size; the
/// shape of the run is read from them too, so a re-render describes the run that was made.
pub fn render(results: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(results)
        .with_context(|| format!("cannot read {}", results.display()))?;
    let lines: Vec<Value> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    let date = process::output(Command::new("date").arg("-u").arg("+%Y-%m-%d %H:%M UTC"))
        .unwrap_or_default();
    let machine = process::output(Command::new("uname").args(["-srm"])).unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let first = lines.first().context("the board run recorded no size")?;
    let backends: Vec<&str> = lines.iter().filter_map(|line| line["label"].as_str()).fold(
        Vec::new(),
        |mut labels, label| {
            if !labels.contains(&label) {
                labels.push(label);
            }
            labels
        },
    );
    let mut out = format!(
        "Command: `cargo xtask bench --board-only` (also part of `cargo xtask bench`). A fresh \
         `baton serve --demo` (release) per backend; SQLite with WAL and synchronous=FULL, a \
         private PostgreSQL 15 with fsync off. `baton-load --scenario board` imports synthetic \
         devices through `POST /api/v1/admin/devices.csv` until the site has {devices}, enrolls \
         {tablets} simulated tablets and grows the store to each size with real signed \
         handoffs over the sync protocol (batches of {batch}, {concurrency} pushes in flight). \
         At each size, as the signed-in manager with gzip, as the browser asks: the board's \
         first page as the dashboard opens it (`GET /api/v1/dashboard/devices`: the 100 most \
         urgent devices and the whole site's counts; {requests} requests one at a time, then \
         {requests} from {clients} clients at once, after 3 untimed), a search for one \
         person's devices (`?q=` a staff number, 50 one at a time), the whole board read page \
         after page (`?limit=1000&offset=`, 5 times), and the exceptions queue's first page (50 \
         of the open exceptions, derived anew at each request; 5 one at a time); \
         the server's VmRSS and VmHWM from `/proc/PID/status`. Backends measured: {backends}. \
         Load generator and server share the machine's {cores} cores ({machine}), which other \
         builds were also using: the load average column says how busy it was. Generated \
         {date}.\n\n",
        devices = first["devices"],
        tablets = first["tablets"],
        batch = first["batch"],
        concurrency = first["concurrency"],
        requests = first["board_sequential"]["requests"],
        clients = first["clients"],
        backends = backends.join(", "),
    );
    out.push_str(
        "| backend | events stored | devices: available / in use / overdue / missing | board first page p50 / p95 / p99, one at a time | the same, clients at once | page answer (gzip) | p99 < 50 ms | search p50 / p99 | whole board, every page, p50 |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for line in &lines {
        let status = |name: &str| line["statuses"][name].as_u64().unwrap_or(0);
        let p99 = line["board_sequential"]["p99_ms"]
            .as_f64()
            .unwrap_or(f64::NAN);
        out.push_str(&format!(
            "| {} | {} | {} / {} / {} / {} | {} | {} | {} KB | {} | {} / {} ms | {} ms |\n",
            line["label"].as_str().unwrap_or("?"),
            line["events_stored"],
            status("available"),
            status("in_use"),
            status("overdue"),
            status("missing"),
            latencies(&line["board_sequential"]),
            latencies(&line["board_concurrent"]),
            line["board_wire_bytes"].as_u64().unwrap_or(0) / 1024,
            if p99 < 50.0 { "met" } else { "**not met**" },
            ms(&line["search_sequential"]["p50_ms"]),
            ms(&line["search_sequential"]["p99_ms"]),
            ms(&line["whole_board"]["p50_ms"]),
        ));
    }
    out.push_str(
        "\n| backend | events stored | this step: events, events/s | push p50 / p99 | open exceptions: first page of 50, requests, p50 / p99 | server RSS after ingest / after queries / peak | database on disk | load average (1 / 5 / 15 min) |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for line in &lines {
        let bytes = line["data_bytes"].as_f64().unwrap_or(f64::NAN);
        out.push_str(&format!(
            "| {} | {} | {}, {:.0} | {} / {} ms | {}: {}, {} / {} ms | {} / {} / {} | {:.0} MiB | {} |\n",
            line["label"].as_str().unwrap_or("?"),
            line["events_stored"],
            line["step_events"],
            line["events_per_second"].as_f64().unwrap_or(f64::NAN),
            ms(&line["push"]["p50_ms"]),
            ms(&line["push"]["p99_ms"]),
            line["exceptions"],
            line["exceptions_sequential"]["requests"],
            ms(&line["exceptions_sequential"]["p50_ms"]),
            ms(&line["exceptions_sequential"]["p99_ms"]),
            mib(&line["rss_after_ingest_mib"]),
            mib(&line["rss_mib"]),
            mib(&line["peak_rss_mib"]),
            bytes / (1024.0 * 1024.0),
            line["load_average"].as_str().unwrap_or("?"),
        ));
    }
    out.push('\n');
    Ok(out)
}
