//! Fault injection against real `baton` processes (issue #10, docs/RELIABILITY.md):
//!
//! - `kill -9` of the server, again and again, while simulated tablets keep pushing and the
//!   outbox keeps delivering revocations to a webhook receiver;
//! - the PostgreSQL server stopped (`pg_ctl -m immediate`, a crash) and restarted under load.
//!
//! Afterwards, every event that got an `accepted` or `duplicate` receipt is stored exactly
//! once, every custody that ended has its revocation delivered (the receiver applies each
//! idempotency key once; a repeat delivery is counted, not applied), and the exported ledger
//! verifies offline.
//!
//! `BATON_FAULT_KILLS` sets how many kills (5 by default, what `cargo xtask test` runs;
//! `cargo xtask faults` runs 50). `BATON_FAULT_REPORT` names a file that gets one JSON line of
//! figures per run. The PostgreSQL restart needs a cluster of its own, which `cargo xtask test`
//! starts: `BATON_FAULT_POSTGRES_URL`, `BATON_FAULT_POSTGRES_STOP` and `..._START` (shell
//! commands that stop and start it). `BATON_FAULT_SERVER_LOG` (any value) shows the servers' logs.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use baton_core::event::SignedEvent;
use baton_core::request::{
    HEADER_KEY, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP, RequestToSign,
};
use baton_server::connectors::webhook_signature;
use baton_server::sync::now_ms;
use rand::Rng;
use serde_json::{Value, json};

use crate::support::{self, TestStorage};
use crate::tablet::{self, SimTablet, check_in, check_out};

const SECRET: &str = "fault-injection-webhook-secret-0123456789";
const SITE: &str = "SITE-DEMO";
/// Tablets pushing at once; each works its own four devices of the demo site's twenty.
const TABLETS: usize = 5;
const BATCH: usize = 10;
const KILLS_VARIABLE: &str = "BATON_FAULT_KILLS";
const REPORT_VARIABLE: &str = "BATON_FAULT_REPORT";
const PG_URL_VARIABLE: &str = "BATON_FAULT_POSTGRES_URL";
const PG_STOP_VARIABLE: &str = "BATON_FAULT_POSTGRES_STOP";
const PG_START_VARIABLE: &str = "BATON_FAULT_POSTGRES_START";
/// Set to show the server processes' logs on the test's stderr, when a run needs explaining.
const SERVER_LOG_VARIABLE: &str = "BATON_FAULT_SERVER_LOG";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_in_a_loop_under_load_loses_nothing_and_duplicates_nothing() {
    let kills: usize = std::env::var(KILLS_VARIABLE)
        .ok()
        .map(|value| value.parse().expect("BATON_FAULT_KILLS is a number"))
        .unwrap_or(5);
    for backend in support::every_backend().await {
        let label = backend_label(&backend);
        let mut run = Run::start(backend).await;
        let mut kills_with_deliveries_pending = 0;
        for _ in 0..kills {
            run.wait_for_progress().await;
            if run.deliveries_pending().await {
                kills_with_deliveries_pending += 1;
            }
            run.server.kill_9();
            run.server.restart();
        }
        let figures = run.finish().await;
        report(json!({
            "fault": "kill -9 of the server",
            "backend": label,
            "kills": kills,
            "kills_with_deliveries_pending": kills_with_deliveries_pending,
            "figures": figures,
        }));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_stopped_and_restarted_under_load_answers_503_and_loses_nothing() {
    let (Ok(admin_url), Ok(stop), Ok(start)) = (
        std::env::var(PG_URL_VARIABLE),
        std::env::var(PG_STOP_VARIABLE),
        std::env::var(PG_START_VARIABLE),
    ) else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{PG_URL_VARIABLE}, {PG_STOP_VARIABLE} and {PG_START_VARIABLE} are not set under \
             CI=true: the PostgreSQL restart test must run"
        );
        eprintln!(
            "skipping the PostgreSQL restart test: {PG_URL_VARIABLE} is not set (run `cargo \
             xtask test`, which starts a PostgreSQL of its own for it)"
        );
        return;
    };
    let restarts = 3;
    let run = Run::start(support::postgres_database_on(&admin_url).await).await;
    for _ in 0..restarts {
        run.wait_for_progress().await;
        shell(&stop);
        // Long enough for every pusher to meet the outage.
        tokio::time::sleep(Duration::from_secs(2)).await;
        shell(&start);
    }
    let figures = run.finish().await;
    assert!(
        figures["answers_503"].as_u64().unwrap() > 0,
        "the server answered 503 while PostgreSQL was down: {figures}"
    );
    report(json!({
        "fault": "PostgreSQL stopped (immediate) and restarted",
        "backend": "postgres",
        "restarts": restarts,
        "figures": figures,
    }));
}

/// One fault run: a server process, a webhook receiver, and tablets pushing until `finish`.
struct Run {
    backend: TestStorage,
    server: ServerProcess,
    receiver: Receiver,
    manager: tablet::Manager,
    stop: Arc<AtomicBool>,
    counters: Arc<Counters>,
    pushers: Vec<tokio::task::JoinHandle<Vec<Acked>>>,
}

#[derive(Default)]
struct Counters {
    batches_acked: AtomicU64,
    /// Connection refused or reset, timeouts: the server was down.
    transport_errors: AtomicU64,
    answers_503: AtomicU64,
    other_5xx: AtomicU64,
}

/// An event the server acknowledged, with the receipt's status.
struct Acked {
    event_id: String,
    check_in: bool,
    status: String,
}

impl Run {
    async fn start(backend: TestStorage) -> Run {
        let (site, credentials) = baton_server::seed::demo_site().unwrap();
        backend.storage.import_site(&site).await.unwrap();
        let receiver = Receiver::start().await;
        let server = ServerProcess::start(&backend.url, &receiver.url);
        let manager = tablet::sign_in_manager_at(&server.base_url, &credentials).await;
        let stop = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(Counters::default());
        let mut pushers = Vec::new();
        for index in 0..TABLETS {
            let tablet = SimTablet::enroll_at(&server.base_url, &manager, 100 + index as u8).await;
            pushers.push(tokio::spawn(push_until_stopped(
                tablet,
                index,
                stop.clone(),
                counters.clone(),
            )));
        }
        Run {
            backend,
            server,
            receiver,
            manager,
            stop,
            counters,
            pushers,
        }
    }

    /// Waits until the tablets got a few more batches through, so that each fault lands
    /// while ingest is under way.
    async fn wait_for_progress(&self) {
        let target = self.counters.batches_acked.load(Ordering::SeqCst)
            + rand::thread_rng().gen_range(2..=2 * TABLETS as u64);
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.counters.batches_acked.load(Ordering::SeqCst) < target {
            assert!(
                Instant::now() < deadline,
                "no push succeeded for 60 s after a fault"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn deliveries_pending(&self) -> bool {
        self.backend
            .storage
            .list_revocations(SITE, 50)
            .await
            .map(|revocations| {
                revocations.iter().any(|revocation| {
                    revocation
                        .deliveries
                        .iter()
                        .any(|delivery| delivery.status != "confirmed")
                })
            })
            .unwrap_or(false)
    }

    /// Stops the tablets, waits for the outbox to drain, and checks what must hold.
    async fn finish(self) -> Value {
        self.stop.store(true, Ordering::SeqCst);
        let mut acked = Vec::new();
        for pusher in self.pushers {
            acked.extend(pusher.await.expect("a pusher panicked"));
        }
        let storage = &self.backend.storage;

        // Every acknowledged event is stored, exactly once.
        let mut stored: BTreeMap<String, usize> = BTreeMap::new();
        let mut after = 0;
        loop {
            let page = storage.events_since(SITE, after, 1_000).await.unwrap();
            let Some(last) = page.last() else { break };
            after = last.server_seq;
            for event in &page {
                *stored.entry(event.event_id.clone()).or_default() += 1;
            }
        }
        let acked_ids: BTreeSet<&str> = acked.iter().map(|ack| ack.event_id.as_str()).collect();
        assert_eq!(
            acked_ids.len(),
            acked.len(),
            "an event was acknowledged twice"
        );
        let lost: Vec<&&str> = acked_ids
            .iter()
            .filter(|id| !stored.contains_key(**id))
            .collect();
        assert!(lost.is_empty(), "acknowledged but not stored: {lost:?}");
        let twice: Vec<(&String, &usize)> = stored.iter().filter(|(_, n)| **n != 1).collect();
        assert!(twice.is_empty(), "stored more than once: {twice:?}");
        assert_eq!(
            stored.len(),
            acked.len(),
            "the site stores events no tablet was told about"
        );
        let duplicate_receipts = acked.iter().filter(|ack| ack.status == "duplicate").count();

        // Every custody that ended has its revocation delivered; the receiver applies each once.
        let check_ins = acked.iter().filter(|ack| ack.check_in).count();
        let deadline = Instant::now() + Duration::from_secs(120);
        let revocations = loop {
            let revocations = storage.list_revocations(SITE, 1_000_000).await.unwrap();
            let delivered = revocations.iter().all(|revocation| {
                revocation
                    .deliveries
                    .iter()
                    .all(|delivery| delivery.status == "confirmed")
            });
            if delivered && revocations.len() == check_ins {
                break revocations;
            }
            assert!(
                Instant::now() < deadline,
                "after 120 s, {} revocations for {check_ins} check-ins, delivered: {delivered}",
                revocations.len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let expected_keys: BTreeSet<String> = revocations
            .iter()
            .map(|revocation| format!("{SITE}:{}:mdm", revocation.revocation_id))
            .collect();
        let (applied, deliveries_received, bad_signatures) = self.receiver.tally();
        assert_eq!(bad_signatures, 0, "a delivery had a bad signature");
        assert_eq!(
            applied, expected_keys,
            "the receiver applied exactly the revocations the server recorded"
        );

        // The ledger verifies offline and holds every event once.
        let meta: Value = self
            .manager
            .client
            .get(format!("{}/api/v1/meta", self.server.base_url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let bundle = self
            .manager
            .client
            .get(format!("{}/api/v1/ledger/export", self.server.base_url))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let verdict =
            baton_server::verify::verify_bundle(&bundle, meta["server_public_key"].as_str());
        let problems: Vec<_> = verdict.problems().collect();
        assert!(
            problems.is_empty(),
            "the ledger does not verify: {problems:?}"
        );
        let bundle: Value = serde_json::from_slice(&bundle).unwrap();
        let ledgered_events: BTreeMap<String, usize> = bundle["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|entry| entry["entry"]["kind"] == "event")
            .map(|entry| {
                let bytes = serde_json::to_vec(&entry["entry"]["event"]).unwrap();
                SignedEvent::from_json_bytes(&bytes)
                    .unwrap()
                    .id()
                    .to_string()
            })
            .fold(BTreeMap::new(), |mut counts, id| {
                *counts.entry(id).or_default() += 1;
                counts
            });
        let ledgered_tablet_events = ledgered_events
            .keys()
            .filter(|id| acked_ids.contains(id.as_str()))
            .count();
        assert_eq!(
            ledgered_tablet_events,
            acked.len(),
            "every acknowledged event is in the ledger"
        );
        assert!(
            ledgered_events.values().all(|n| *n == 1),
            "an event is in the ledger twice"
        );

        json!({
            "events_acknowledged": acked.len(),
            "duplicate_receipts": duplicate_receipts,
            "transport_errors": self.counters.transport_errors.load(Ordering::SeqCst),
            "answers_503": self.counters.answers_503.load(Ordering::SeqCst),
            "other_5xx": self.counters.other_5xx.load(Ordering::SeqCst),
            "revocations": revocations.len(),
            "deliveries_received": deliveries_received,
            "redeliveries": deliveries_received - applied.len(),
            "ledger_entries": verdict.n_entries,
            "events_lost": 0,
            "events_stored_twice": 0,
        })
    }
}

fn backend_label(backend: &TestStorage) -> &'static str {
    if backend.url.starts_with("sqlite:") {
        "sqlite"
    } else {
        "postgres"
    }
}

/// One tablet: signs the next batch (its four devices checked out and in, in turn), pushes it
/// until the server acknowledges it, as the PWA's outbox does, and starts the next, until told
/// to stop. Returns what was acknowledged.
async fn push_until_stopped(
    mut tablet: SimTablet,
    index: usize,
    stop: Arc<AtomicBool>,
    counters: Arc<Counters>,
) -> Vec<Acked> {
    let devices: Vec<String> = (0..4)
        .map(|offset| format!("D-{:04}", index * 4 + offset + 1))
        .collect();
    let staff = format!("S-{:04}", index + 5);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    // Stamped in the recent past, one second apart, so that no clock rule refuses them.
    let mut wall_ms = now_ms() - 3_600_000;
    let mut acked = Vec::new();
    let mut round = 0;
    while !stop.load(Ordering::SeqCst) {
        let mut events = Vec::with_capacity(BATCH);
        for _ in 0..BATCH {
            let device = &devices[(round / 2) % devices.len()];
            let body = if round % 2 == 0 {
                check_out(device, &staff)
            } else {
                check_in(device, &staff)
            };
            events.push((tablet.sign(body, wall_ms), round % 2 == 1));
            wall_ms += 1_000;
            round += 1;
        }
        let wire: Vec<Value> = events
            .iter()
            .map(|(event, _)| serde_json::from_slice(&event.to_json_bytes()).unwrap())
            .collect();
        let body = serde_json::to_vec(&json!({ "events": wire })).unwrap();
        let receipts = loop {
            match push_once(&client, &tablet, &body).await {
                Ok(receipts) => break receipts,
                Err(Failure::Transport) => counters.transport_errors.fetch_add(1, Ordering::SeqCst),
                Err(Failure::Unavailable) => counters.answers_503.fetch_add(1, Ordering::SeqCst),
                Err(Failure::Server(answer)) => {
                    // Counted and retried like the PWA does; the test fails below if any
                    // 5xx other than 503 was seen.
                    eprintln!("push answered {answer}");
                    counters.other_5xx.fetch_add(1, Ordering::SeqCst)
                }
            };
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(receipts.len(), events.len());
        for (receipt, (event, is_check_in)) in receipts.iter().zip(&events) {
            let status = receipt["status"].as_str().unwrap_or_default().to_owned();
            assert!(
                status == "accepted" || status == "duplicate",
                "event {} got {receipt}",
                event.id()
            );
            assert_eq!(receipt["event_id"], event.id().to_string());
            acked.push(Acked {
                event_id: event.id().to_string(),
                check_in: *is_check_in,
                status,
            });
        }
        counters.batches_acked.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        counters.other_5xx.load(Ordering::SeqCst),
        0,
        "the server answered a 5xx other than 503"
    );
    acked
}

enum Failure {
    Transport,
    Unavailable,
    Server(String),
}

async fn push_once(
    client: &reqwest::Client,
    tablet: &SimTablet,
    body: &[u8],
) -> Result<Vec<Value>, Failure> {
    let path = "/api/v1/sync/push";
    let timestamp_ms = now_ms();
    let nonce = hex::encode(tablet::rand_bytes());
    let signature = RequestToSign {
        method: "POST",
        path_and_query: path,
        body,
        timestamp_ms,
        nonce: &nonce,
    }
    .sign(&tablet.signing_key);
    let response = client
        .post(format!("{}{path}", tablet.base_url()))
        .header(HEADER_KEY, tablet.signer.to_hex())
        .header(HEADER_TIMESTAMP, timestamp_ms.to_string())
        .header(HEADER_NONCE, nonce)
        .header(HEADER_SIGNATURE, hex::encode(signature))
        .header("content-type", "application/json")
        .body(body.to_vec())
        .send()
        .await
        .map_err(|_| Failure::Transport)?;
    let status = response.status();
    let text = response.text().await.map_err(|_| Failure::Transport)?;
    match status.as_u16() {
        200 => {
            let answer: Value = serde_json::from_str(&text).map_err(|_| Failure::Transport)?;
            Ok(answer["receipts"].as_array().cloned().unwrap_or_default())
        }
        503 => Err(Failure::Unavailable),
        500..=599 => Err(Failure::Server(format!("{status}: {text}"))),
        _ => panic!("push answered {status}: {text}"),
    }
}

/// A `baton serve` process on a fixed port, so that tablets find it again after a restart.
/// `disk_faults.rs` runs one too.
pub(crate) struct ServerProcess {
    child: Option<Child>,
    command: Vec<String>,
    pub(crate) base_url: String,
    _data_dir: tempfile::TempDir,
}

impl ServerProcess {
    pub(crate) fn start(database_url: &str, receiver_url: &str) -> ServerProcess {
        let data_dir = tempfile::tempdir().unwrap();
        let connectors_file = data_dir.path().join("connectors.json");
        std::fs::write(
            &connectors_file,
            serde_json::to_vec(&json!([{
                "kind": "webhook", "name": "mdm", "url": receiver_url, "secret": SECRET,
            }]))
            .unwrap(),
        )
        .unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let command = vec![
            "serve".to_owned(),
            "--listen".to_owned(),
            format!("127.0.0.1:{port}"),
            "--database-url".to_owned(),
            database_url.to_owned(),
            "--dist".to_owned(),
            "/nonexistent".to_owned(),
            "--data-dir".to_owned(),
            data_dir.path().display().to_string(),
            "--connectors-file".to_owned(),
            connectors_file.display().to_string(),
            // Five tablets pushing as fast as they can exceed a real tablet's budget; this test
            // is about durability, and tests/it/rate_limits.rs about the limits.
            "--tablet-rate-per-minute".to_owned(),
            "0".to_owned(),
        ];
        let mut server = ServerProcess {
            child: None,
            command,
            base_url: format!("http://127.0.0.1:{port}"),
            _data_dir: data_dir,
        };
        server.restart();
        server
    }

    /// Starts the process and waits until it listens.
    fn restart(&mut self) {
        assert!(self.child.is_none(), "the server is already running");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mut child = Command::new(env!("CARGO_BIN_EXE_baton"))
                .args(&self.command)
                .stdout(Stdio::piped())
                .stderr(if std::env::var_os(SERVER_LOG_VARIABLE).is_some() {
                    Stdio::inherit()
                } else {
                    Stdio::null()
                })
                .spawn()
                .unwrap();
            let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
            let listening = loop {
                let mut line = String::new();
                if std::io::BufRead::read_line(&mut reader, &mut line).unwrap_or(0) == 0 {
                    break false;
                }
                if line.starts_with("Baton is listening on ") {
                    break true;
                }
            };
            if listening {
                std::thread::spawn(move || for _ in std::io::BufRead::lines(reader) {});
                self.child = Some(child);
                return;
            }
            // It exited during start-up (the database is restarting, say): try again.
            let _ = child.wait();
            assert!(
                Instant::now() < deadline,
                "the server did not start within 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGKILL: no graceful shutdown, no chance to finish anything.
    fn kill_9(&mut self) {
        let mut child = self.child.take().expect("the server is running");
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A webhook receiver that checks the HMAC and applies each idempotency key once.
#[derive(Clone)]
pub(crate) struct Receiver {
    pub(crate) url: String,
    state: Arc<Mutex<ReceiverState>>,
}

#[derive(Default)]
struct ReceiverState {
    applied: BTreeSet<String>,
    received: usize,
    bad_signatures: usize,
}

impl Receiver {
    pub(crate) async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let receiver = Receiver {
            url: format!("http://{}/revocations", listener.local_addr().unwrap()),
            state: Arc::default(),
        };
        let router = axum::Router::new()
            .route("/revocations", axum::routing::post(receive))
            .with_state(receiver.clone());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        receiver
    }

    fn tally(&self) -> (BTreeSet<String>, usize, usize) {
        let state = self.state.lock().unwrap();
        (state.applied.clone(), state.received, state.bad_signatures)
    }
}

async fn receive(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let timestamp: u64 = header("baton-timestamp").parse().unwrap_or(0);
    let mut state = receiver.state.lock().unwrap();
    if header("baton-signature") != webhook_signature(SECRET, timestamp, &body) {
        state.bad_signatures += 1;
        return StatusCode::UNAUTHORIZED;
    }
    state.received += 1;
    state.applied.insert(header("baton-idempotency-key"));
    StatusCode::OK
}

fn shell(command: &str) {
    let status = Command::new("sh")
        .args(["-c", command])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "`{command}` failed: {status}");
}

/// Prints the figures and appends them to `BATON_FAULT_REPORT` when set.
fn report(figures: Value) {
    println!("fault injection: {figures}");
    if let Ok(path) = std::env::var(REPORT_VARIABLE) {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap_or_else(|error| panic!("opening {path}: {error}"));
        writeln!(file, "{figures}").unwrap();
    }
}
