//! Proof generation on the server at 10^6 stored ledger entries (issue [ledger]): how long the
//! server takes to answer an inclusion proof, a consistency proof and a fresh signed head when
//! every hash is read from the database, on SQLite and on PostgreSQL.
//!
//! The ledger is seeded directly with SQL (multi-row inserts of entries and of the nodes the
//! core's `MemoryHashStore` completes), because appending 10^6 entries through the sync API
//! would measure ingest, which `cargo xtask bench` reports on its own. What is timed is exactly
//! what the HTTP handlers call: `baton_server::ledger::{inclusion, consistency, current_head}`.
//!
//! `cargo bench -p baton-server --bench ledger_proofs -- [--entries N] [--samples N]
//! [--postgres URL] [--json FILE]`; `cargo xtask bench` runs it and writes the table into
//! BENCHMARKS.md.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use baton_core::ledger::{LedgerEntry, MemoryHashStore};
use baton_server::server_key::ServerKey;
use baton_server::storage::{self, Storage};
use rand::{Rng, SeedableRng};

/// Rows per multi-row INSERT: under SQLite's 32,766 bound variables at five columns a row.
const ROWS_PER_INSERT: usize = 5_000;

struct Options {
    entries: u64,
    samples: usize,
    postgres: Option<String>,
    json: Option<std::path::PathBuf>,
}

fn options() -> anyhow::Result<Options> {
    let mut options = Options {
        entries: 1_000_000,
        samples: 2_000,
        postgres: None,
        json: None,
    };
    let mut arguments = std::env::args().skip(1);
    while let Some(argument) = arguments.next() {
        let mut value = || arguments.next().context("a flag needs a value");
        match argument.as_str() {
            "--entries" => options.entries = value()?.parse()?,
            "--samples" => options.samples = value()?.parse()?,
            "--postgres" => options.postgres = Some(value()?),
            "--json" => options.json = Some(value()?.into()),
            // `cargo bench` passes --bench to every bench target.
            "--bench" => {}
            other => anyhow::bail!("unknown argument {other:?}"),
        }
    }
    Ok(options)
}

/// A governance entry of realistic size: an exception resolution with a note.
fn entry(index: u64) -> LedgerEntry {
    LedgerEntry::Governance {
        action: serde_json::json!({
            "type": "exception_resolved",
            "key": format!("{index:064x}"),
            "device": format!("D-{:05}", index % 10_000),
            "kind": "overdue",
            "note": "returned to the charging cart at the end of the shift",
        }),
        by: "manager".to_owned(),
        at_ms: 1_764_000_000_000 + index,
        corrects: None,
    }
}

macro_rules! seed_with {
    ($pool:expr, $site:expr, $entries:expr) => {{
        let pool = $pool;
        let site: &str = $site;
        let mut tree = MemoryHashStore::new();
        let mut batch_entries: Vec<(i64, String, String)> = Vec::with_capacity(ROWS_PER_INSERT);
        let mut batch_nodes: Vec<(i32, i64, String)> = Vec::with_capacity(2 * ROWS_PER_INSERT);
        let started = Instant::now();
        for index in 0..$entries {
            let entry = entry(index);
            let bytes = entry.canonical_bytes()?;
            let leaf = baton_core::ledger::leaf_hash(&bytes);
            for node in tree.append(leaf) {
                batch_nodes.push((node.level as i32, node.index as i64, node.hash.to_hex()));
            }
            batch_entries.push((index as i64, String::from_utf8(bytes)?, leaf.to_hex()));
            if batch_entries.len() == ROWS_PER_INSERT || index + 1 == $entries {
                let mut insert = sqlx::QueryBuilder::new(
                    "INSERT INTO ledger_entries (site_id, leaf_index, entry_json, leaf_hash, appended_at_ms) ",
                );
                insert.push_values(batch_entries.drain(..), |mut row, (leaf_index, json, hash)| {
                    row.push_bind(site)
                        .push_bind(leaf_index)
                        .push_bind(json)
                        .push_bind(hash)
                        .push_bind(0_i64);
                });
                insert.build().execute(pool).await?;
                for chunk in batch_nodes.chunks(ROWS_PER_INSERT) {
                    let mut insert = sqlx::QueryBuilder::new(
                        "INSERT INTO ledger_nodes (site_id, level, node_index, hash) ",
                    );
                    insert.push_values(chunk, |mut row, (level, node_index, hash)| {
                        row.push_bind(site)
                            .push_bind(*level)
                            .push_bind(*node_index)
                            .push_bind(hash.clone());
                    });
                    insert.build().execute(pool).await?;
                }
                batch_nodes.clear();
                if (index + 1) % 100_000 == 0 {
                    eprintln!("    seeded {} entries ({:.0} s)", index + 1, started.elapsed().as_secs_f64());
                }
            }
        }
        tree.root()
    }};
}

/// Percentile `p` (0..=100) of sorted microseconds.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank]
}

struct Timing {
    what: &'static str,
    p50_us: f64,
    p99_us: f64,
    per_second: f64,
}

fn summarise(what: &'static str, mut micros: Vec<f64>) -> Timing {
    let total_s: f64 = micros.iter().sum::<f64>() / 1e6;
    micros.sort_by(f64::total_cmp);
    Timing {
        what,
        p50_us: percentile(&micros, 50.0),
        p99_us: percentile(&micros, 99.0),
        per_second: micros.len() as f64 / total_s,
    }
}

async fn measure(
    backend: &str,
    storage: Arc<dyn Storage>,
    site: &str,
    entries: u64,
    samples: usize,
) -> anyhow::Result<Vec<Timing>> {
    let mut random = rand::rngs::StdRng::seed_from_u64(7);
    let size = storage.ledger_size(site).await? as u64;
    anyhow::ensure!(
        size == entries,
        "{backend}: the ledger holds {size} entries, not {entries}"
    );
    let server_key = ServerKey::from_seed([7; 32])?;

    let mut inclusion = Vec::with_capacity(samples);
    for _ in 0..samples {
        let leaf_index = random.gen_range(0..size);
        let started = Instant::now();
        let proof =
            baton_server::ledger::inclusion(storage.as_ref(), site, leaf_index, size).await?;
        inclusion.push(started.elapsed().as_secs_f64() * 1e6);
        std::hint::black_box(proof);
    }
    let mut consistency = Vec::with_capacity(samples);
    for _ in 0..samples {
        let old_size = random.gen_range(1..size);
        let started = Instant::now();
        let proof =
            baton_server::ledger::consistency(storage.as_ref(), site, old_size, size).await?;
        consistency.push(started.elapsed().as_secs_f64() * 1e6);
        std::hint::black_box(proof);
    }
    // A fresh head each time (max age 0): the root from the stored nodes, the consistency
    // check against the previous head, the signature and the stored head.
    let mut heads = Vec::with_capacity(samples / 10);
    for sample in 0..(samples / 10).max(1) {
        let started = Instant::now();
        let head = baton_server::ledger::current_head(
            storage.as_ref(),
            &server_key,
            site,
            1_800_000_000_000 + sample as u64,
            0,
        )
        .await?;
        heads.push(started.elapsed().as_secs_f64() * 1e6);
        std::hint::black_box(head);
    }
    Ok(vec![
        summarise("inclusion proof", inclusion),
        summarise("consistency proof", consistency),
        summarise("signed tree head (fresh)", heads),
    ])
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = options()?;
    let (site, _) = baton_server::seed::demo_site()?;
    let mut results = Vec::new();
    let directory = tempfile::tempdir()?;
    let sqlite_url = format!(
        "sqlite://{}",
        directory.path().join("proofs.sqlite3").display()
    );
    let mut backends = vec![("sqlite", sqlite_url)];
    if let Some(url) = &options.postgres {
        backends.push(("postgres", url.clone()));
    }
    for (backend, url) in backends {
        eprintln!("==> {backend}: seeding {} ledger entries", options.entries);
        let storage = storage::connect(&url).await?;
        storage.import_site(&site).await?;
        let started = Instant::now();
        let root = match backend {
            "sqlite" => {
                let pool = sqlx::SqlitePool::connect(&url).await?;
                let root = seed_with!(&pool, &site.site_id, options.entries);
                pool.close().await;
                root
            }
            _ => {
                let pool = sqlx::PgPool::connect(&url).await?;
                let root = seed_with!(&pool, &site.site_id, options.entries);
                pool.close().await;
                root
            }
        };
        eprintln!("    seeded in {:.0} s", started.elapsed().as_secs_f64());
        let stored_root =
            baton_server::ledger::root(storage.as_ref(), &site.site_id, options.entries).await?;
        anyhow::ensure!(
            stored_root == root,
            "{backend}: the stored tree's root is not the seeded one"
        );
        for timing in measure(
            backend,
            storage,
            &site.site_id,
            options.entries,
            options.samples,
        )
        .await?
        {
            eprintln!(
                "    {:<26} p50 {:>8.0} µs  p99 {:>8.0} µs  {:>8.0}/s",
                timing.what, timing.p50_us, timing.p99_us, timing.per_second
            );
            results.push(serde_json::json!({
                "backend": backend,
                "entries": options.entries,
                "what": timing.what,
                "p50_us": timing.p50_us,
                "p99_us": timing.p99_us,
                "per_second": timing.per_second,
            }));
        }
    }
    if let Some(path) = &options.json {
        let lines: Vec<String> = results.iter().map(ToString::to_string).collect();
        std::fs::write(path, lines.join("\n") + "\n")?;
    }
    Ok(())
}
