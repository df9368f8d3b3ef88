//! `cargo xtask test`: every check, in the order CI runs them, each with its runner's summary.
//!
//! Under `CI=true` a missing piece (PostgreSQL, Chromium) fails the run. Elsewhere the run goes on
//! without it, says exactly what is missing and how to install it, and ends as INCOMPLETE.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};

use crate::postgres::{self, PrivatePostgres};
use crate::process::{self, cargo, header};
use crate::{fuzz, toolchain, under_ci, workspace_root};

const CHROMIUM: &str = "/usr/bin/chromium";

/// Crates that must never appear in `baton-core`'s dependency tree: core does no I/O.
const FORBIDDEN_IN_CORE: [&str; 12] = [
    "tokio",
    "axum",
    "hyper",
    "sqlx",
    "leptos",
    "web-sys",
    "js-sys",
    "wasm-bindgen",
    "indexed_db_futures",
    "reqwest",
    "mio",
    "getrandom",
];

pub fn run(arguments: &[String]) -> anyhow::Result<()> {
    if let Some(unknown) = arguments.first() {
        bail!("`cargo xtask test` takes no arguments (got {unknown:?})");
    }
    let started = Instant::now();
    let root = workspace_root();
    let mut missing: Vec<String> = Vec::new();
    let toolchain = toolchain::ensure(&root)?;

    header("Formatting (cargo fmt --all --check)");
    process::run(cargo(&root).args(["fmt", "--all", "--check"]))
        .context("formatting differs: run `cargo fmt --all`")?;

    header("Lints (cargo clippy --workspace --all-targets -- -D warnings)");
    process::run(cargo(&root).args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;

    header("Architecture invariant: baton-core does no I/O");
    check_core_dependencies(&root)?;

    header("baton-core builds for wasm32");
    process::run(cargo(&root).args([
        "build",
        "-p",
        "baton-core",
        "--target",
        toolchain::WASM_TARGET,
    ]))?;

    header("Private PostgreSQL for the server's tests");
    let database = match postgres::find_binaries() {
        Some(bin_dir) => Some(PrivatePostgres::start(&bin_dir)?),
        None if under_ci() => return Err(postgres::missing_message()),
        None => {
            let message = postgres::missing_message();
            eprintln!("    MISSING: {message}; the PostgreSQL half of the server tests is skipped");
            missing.push(message.to_string());
            None
        }
    };

    // A second cluster for the fault-injection test, which stops and restarts it under load
    // (server/tests/it/faults.rs); the other tests must not lose their database meanwhile.
    let fault_database = match postgres::find_binaries() {
        Some(bin_dir) => Some(PrivatePostgres::start(&bin_dir)?),
        None => None,
    };

    header("Rust tests, native (cargo test --workspace)");
    let mut rust_tests = cargo(&root);
    rust_tests.args(["test", "--workspace"]);
    if let Some(database) = &database {
        rust_tests.env("BATON_TEST_POSTGRES_URL", &database.url);
    }
    if let Some(fault_database) = &fault_database {
        let (stop, start) = fault_database.stop_and_start_commands();
        rust_tests
            .env("BATON_FAULT_POSTGRES_URL", &fault_database.url)
            .env("BATON_FAULT_POSTGRES_STOP", stop)
            .env("BATON_FAULT_POSTGRES_START", start);
    }
    process::run(&mut rust_tests)?;
    drop(database);
    drop(fault_database);

    if let fuzz::Outcome::Skipped(message) = fuzz::run(&root, fuzz::TEST_SECONDS_PER_TARGET)? {
        missing.push(message);
    }

    header("Browser tests (Playwright in Chromium against the real server and the built PWA)");
    if Path::new(CHROMIUM).exists() {
        run_browser_tests(&root, &toolchain)?;
    } else if under_ci() {
        bail!(
            "{CHROMIUM} not found: install it with `apt-get install -y chromium chromium-driver`"
        );
    } else {
        let message = format!(
            "{CHROMIUM} not found: install it with `apt-get install -y chromium chromium-driver`"
        );
        eprintln!("    MISSING: {message}; the browser tests are skipped");
        missing.push(message);
    }

    let minutes = started.elapsed().as_secs_f64() / 60.0;
    if missing.is_empty() {
        println!("\nAll checks passed in {minutes:.1} min.");
    } else {
        println!(
            "\nINCOMPLETE after {minutes:.1} min: every check that ran passed, but these were skipped:"
        );
        for message in &missing {
            println!("  - {message}");
        }
    }
    Ok(())
}

fn check_core_dependencies(root: &Path) -> anyhow::Result<()> {
    let tree = process::output(cargo(root).args([
        "tree",
        "-p",
        "baton-core",
        "--edges",
        "normal",
        "--prefix",
        "none",
        "--format",
        "{p}",
    ]))
    .context("`cargo tree -p baton-core` failed")?;
    let names: Vec<&str> = tree
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    let found: Vec<&str> = FORBIDDEN_IN_CORE
        .iter()
        .copied()
        .filter(|forbidden| names.contains(forbidden))
        .collect();
    if !found.is_empty() {
        bail!(
            "baton-core must do no I/O, but its dependencies include {found:?} (see ARCHITECTURE.md)"
        );
    }
    println!(
        "    {} crates in baton-core's tree, none of {FORBIDDEN_IN_CORE:?}",
        names.len()
    );
    Ok(())
}

fn run_browser_tests(root: &Path, toolchain: &toolchain::Toolchain) -> anyhow::Result<()> {
    process::run(cargo(root).args(["fetch", "--quiet"]))?;
    toolchain::build_pwa(root, toolchain)?;
    // The debug server binary was built by `cargo test`; this is a no-op check that it is current.
    process::run(cargo(root).args(["build", "-p", "baton-server"]))?;

    let data_dir = std::env::temp_dir().join(format!("baton-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data_dir);
    let port = postgres::free_port()?;
    let result = process::run(
        Command::new(toolchain.node_bin.join("playwright"))
            .arg("test")
            .current_dir(root.join("end2end"))
            .env("BATON_BIN", root.join("target").join("debug").join("baton"))
            .env("BATON_DIST", root.join("dist"))
            .env("BATON_E2E_DATA_DIR", &data_dir)
            .env("BATON_E2E_PORT", port.to_string())
            .env("CHROMIUM_PATH", CHROMIUM),
    );
    let _ = std::fs::remove_dir_all(&data_dir);
    result
}
