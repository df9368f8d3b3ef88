//! The PouchDB peer of the ingest section (issue #9, "A peer"): `pouchdb-server`, the classic
//! offline-first sync server, from the npm project in `loadgen/pouchdb/` (pinned, with its
//! package-lock.json), installed on first use and started on a loopback port, once with LevelDB
//! on disk and once in memory. `baton-load --scenario pouchdb` pushes it the same handoffs as
//! Baton's `ingest`, unsigned; this module starts and stops it and renders its table, with the
//! ratio of Baton's rate on SQLite to the peer's, measured in the same run.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;

use crate::postgres;
use crate::process;

/// The npm project of the peer, from the workspace root.
pub const PEER_DIR: &str = "loadgen/pouchdb";
/// The `pouchdb-server` version that `loadgen/pouchdb/package.json` pins.
pub const POUCHDB_SERVER_VERSION: &str = "4.2.0";

/// Where the peer keeps its documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    /// PouchDB's LevelDB adapter (leveldown, LevelDB's own C++ through its prebuilt binary),
    /// pouchdb-server's default.
    LevelDb,
    /// `pouchdb-server --in-memory`: PouchDB's memory adapter (memdown), nothing on disk.
    Memory,
}

impl Storage {
    pub const ALL: [Storage; 2] = [Storage::LevelDb, Storage::Memory];

    /// The label of its results (`--label` of `baton-load`).
    pub fn label(self) -> &'static str {
        match self {
            Storage::LevelDb => "pouchdb-leveldb",
            Storage::Memory => "pouchdb-memory",
        }
    }

    /// What a reader of BENCHMARKS.md needs to know about its durability.
    pub fn describe(self) -> &'static str {
        match self {
            Storage::LevelDb => {
                "LevelDB on disk (leveldown 5.6.0): each write is in LevelDB's log through the OS, \
                 never fsynced, so it survives a crash of the process but not of the machine"
            }
            Storage::Memory => {
                "in memory (`--in-memory`, memdown 1.4.1): nothing on disk, gone when the \
                 process ends"
            }
        }
    }
}

/// The installed peer: `node`'s version and the server's script.
pub struct PeerTool {
    pub node_version: String,
    script: PathBuf,
}

/// Checks for Node.js and npm, and installs `loadgen/pouchdb/` with `npm ci --ignore-scripts`
/// when its pinned `pouchdb-server` is missing. No install script runs: leveldown's LevelDB
/// binary ships prebuilt inside its npm package, and the optional SQLite binding, which would
/// download a binary from outside the registry, is never used.
pub fn ensure_installed(root: &Path) -> anyhow::Result<PeerTool> {
    let node_version = process::output(Command::new("node").arg("--version")).context(
        "the PouchDB peer of the ingest benchmark needs Node.js 20 and npm: install them \
         (apt-get install nodejs npm) and run `cargo xtask bench` again",
    )?;
    let dir = root.join(PEER_DIR);
    let script = dir.join("node_modules/pouchdb-server/bin/pouchdb-server");
    if installed_version(&dir).as_deref() == Some(POUCHDB_SERVER_VERSION) {
        println!("    pouchdb-server {POUCHDB_SERVER_VERSION} (node {node_version}): installed");
        return Ok(PeerTool {
            node_version,
            script,
        });
    }
    println!(
        "    pouchdb-server {POUCHDB_SERVER_VERSION}: installing {PEER_DIR}/ from the npm registry \
         with `npm ci --ignore-scripts` (about 30 s, once)"
    );
    process::run(
        Command::new("npm")
            .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund"])
            .current_dir(&dir),
    )
    .with_context(|| {
        format!(
            "installing the PouchDB peer in {PEER_DIR}/ failed: `npm` must be installed \
             (apt-get install nodejs npm) and reach the npm registry"
        )
    })?;
    match installed_version(&dir) {
        Some(version) if version == POUCHDB_SERVER_VERSION => Ok(PeerTool {
            node_version,
            script,
        }),
        other => bail!(
            "after `npm ci` in {PEER_DIR}/, pouchdb-server is {other:?}, not \
             {POUCHDB_SERVER_VERSION}: package.json and package-lock.json disagree with xtask's \
             POUCHDB_SERVER_VERSION"
        ),
    }
}

fn installed_version(dir: &Path) -> Option<String> {
    let manifest =
        std::fs::read_to_string(dir.join("node_modules/pouchdb-server/package.json")).ok()?;
    let manifest: Value = serde_json::from_str(&manifest).ok()?;
    manifest["version"].as_str().map(str::to_owned)
}

/// A running `pouchdb-server` on a loopback port with its own data directory, both removed when
/// dropped.
pub struct PouchServer {
    child: Child,
    pub base_url: String,
    data_dir: PathBuf,
}

impl PouchServer {
    pub fn start(tool: &PeerTool, storage: Storage) -> anyhow::Result<PouchServer> {
        let port = postgres::free_port()?;
        let data_dir = std::env::temp_dir().join(format!("baton-bench-{}-{port}", storage.label()));
        let _ = std::fs::remove_dir_all(&data_dir);
        std::fs::create_dir_all(&data_dir)?;
        // Requests are logged at warning and above only, as Baton's benchmark server runs with
        // `--log-level warn`; the log file stays in the data directory.
        let config = data_dir.join("config.json");
        std::fs::write(
            &config,
            serde_json::json!({
                "log": {
                    "level": "warning",
                    "file": data_dir.join("log.txt"),
                },
            })
            .to_string(),
        )?;
        let mut command = Command::new("node");
        command
            .arg(&tool.script)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .arg("--dir")
            .arg(&data_dir)
            .arg("--config")
            .arg(&config)
            .arg("--no-stdout-logs")
            .current_dir(&data_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        if storage == Storage::Memory {
            command.arg("--in-memory");
        }
        let child = command
            .spawn()
            .context("starting pouchdb-server with node")?;
        let mut server = PouchServer {
            child,
            base_url: format!("http://127.0.0.1:{port}"),
            data_dir,
        };
        server.wait_ready(port)?;
        Ok(server)
    }

    fn wait_ready(&mut self, port: u16) -> anyhow::Result<()> {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            if let Some(status) = self.child.try_wait()? {
                bail!("pouchdb-server exited during start-up ({status}); its output is above");
            }
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        bail!("pouchdb-server at {} did not listen in 30 s", self.base_url)
    }

    /// The peer's peak resident memory so far (VmHWM), in MiB.
    pub fn peak_rss_mib(&self) -> Option<f64> {
        super::peak_rss_mib(self.child.id())
    }
}

impl Drop for PouchServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// The peer's table: one row per storage, each with the ratio of Baton's SQLite ingest rate
/// (`baton_rate`, events/s, same run) to the peer's documents per second.
pub fn render(
    lines: &[Value],
    peaks: &[(Storage, Option<f64>)],
    baton_ingest: Option<&Value>,
    node_version: &str,
) -> String {
    if peaks.is_empty() {
        return String::new();
    }
    let baton_rate = baton_ingest.and_then(|line| line["events_per_second"].as_f64());
    let mut out = format!(
        "The peer, in the same run (issue #9): `pouchdb-server` {POUCHDB_SERVER_VERSION} \
         (express-pouchdb on PouchDB 7.3.1, node {node_version}, `{PEER_DIR}/` with its \
         package-lock.json) on a loopback port, logging at warning; `baton-load --scenario \
         pouchdb` pushes it the same handoffs as the SQLite ingest row above (same generator, \
         registry, tablets, batches and requests in flight), each event as one document: its \
         envelope without the signature, the event id as `_id`, with `POST /{{db}}/_bulk_docs`. \
         Every document must come back `ok` and be counted in the database's `doc_count`, or \
         the run fails. The peer checks no signature, chain or custody rule; Baton's SQLite \
         fsyncs every commit (synchronous=FULL), the peer's storage as said in each row. Load \
         average (1 / 5 / 15 min) at the end of Baton's SQLite ingest: {}.\n\n\
         | peer storage | documents stored | docs/s | request p50 / p99 | peer peak RSS | load average at its end | Baton on SQLite ÷ peer (events/s ÷ docs/s) |\n\
         | --- | --- | --- | --- | --- | --- | --- |\n",
        baton_ingest
            .and_then(|line| line["load_average"].as_str())
            .unwrap_or("?")
    );
    for (storage, peak) in peaks {
        let Some(line) = lines
            .iter()
            .find(|line| line["scenario"] == "pouchdb" && line["label"] == storage.label())
        else {
            continue;
        };
        let rate = line["docs_per_second"].as_f64().unwrap_or(f64::NAN);
        out.push_str(&format!(
            "| {}: {} | {} | {rate:.0} | {:.0} / {:.0} ms | {} | {} | {} |\n",
            storage.label(),
            storage.describe(),
            line["accepted"],
            line["push_ms_p50"].as_f64().unwrap_or(f64::NAN),
            line["push_ms_p99"].as_f64().unwrap_or(f64::NAN),
            peak.map_or("–".to_owned(), |mib| format!("{mib:.0} MiB")),
            line["load_average"].as_str().unwrap_or("?"),
            baton_rate.map_or("–".to_owned(), |baton| format!("**{:.2}**", baton / rate)),
        ));
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_pinned_version_is_the_one_package_json_and_its_lock_name() {
        let dir = crate::workspace_root().join(PEER_DIR);
        let manifest: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("package.json")).unwrap())
                .unwrap();
        assert_eq!(
            manifest["dependencies"]["pouchdb-server"],
            POUCHDB_SERVER_VERSION
        );
        let lock: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("package-lock.json")).unwrap())
                .unwrap();
        assert_eq!(
            lock["packages"]["node_modules/pouchdb-server"]["version"],
            POUCHDB_SERVER_VERSION
        );
        // The versions the rows describe.
        assert_eq!(
            lock["packages"]["node_modules/leveldown"]["version"],
            "5.6.0"
        );
        assert_eq!(lock["packages"]["node_modules/memdown"]["version"], "1.4.1");
        assert_eq!(
            lock["packages"]["node_modules/pouchdb-core"]["version"],
            "7.3.1"
        );
    }

    #[test]
    fn each_storage_gets_a_row_with_batons_rate_over_its_own() {
        let baton = json!({"scenario": "ingest", "label": "sqlite", "events_per_second": 4000.0,
                           "load_average": "2.10 / 3.00 / 3.50"});
        let lines = vec![
            json!({"scenario": "pouchdb", "label": "pouchdb-leveldb", "accepted": 10000,
                   "docs_per_second": 8000.0, "push_ms_p50": 300.0, "push_ms_p99": 420.0,
                   "load_average": "1.50 / 2.00 / 2.50"}),
            json!({"scenario": "pouchdb", "label": "pouchdb-memory", "accepted": 10000,
                   "docs_per_second": 16000.0, "push_ms_p50": 150.0, "push_ms_p99": 200.0}),
        ];
        let peaks = [(Storage::LevelDb, Some(180.4)), (Storage::Memory, None)];
        let table = render(&lines, &peaks, Some(&baton), "v20.20.2");
        let rows: Vec<&str> = table
            .lines()
            .filter(|line| line.starts_with("| pouchdb-"))
            .collect();
        assert_eq!(rows.len(), 2, "{table}");
        assert!(
            rows[0].contains("| 8000 | 300 / 420 ms | 180 MiB | 1.50 / 2.00 / 2.50 | **0.50** |"),
            "{table}"
        );
        assert!(
            rows[1].contains("| 16000 | 150 / 200 ms | – | ? | **0.25** |"),
            "{table}"
        );
        assert!(rows[0].contains("never fsynced"));
        assert!(rows[1].contains("nothing on disk"));
        assert!(table.contains("end of Baton's SQLite ingest: 2.10 / 3.00 / 3.50."));
        // Without Baton's SQLite rate there is no ratio to show, and none is invented.
        let without = render(&lines, &peaks, None, "v20.20.2");
        assert!(!without.contains("**"), "{without}");
        assert_eq!(render(&lines, &[], Some(&baton), "v20.20.2"), "");
    }
}
