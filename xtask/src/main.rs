//! Baton's task runner: the two commands of README.md.
//!
//! - `cargo xtask start [SERVER FLAGS...]`: installs or verifies the toolchain, builds the PWA
//!   (release) and the server, and starts Baton on its embedded SQLite with demo data.
//! - `cargo xtask test`: every check CI runs, in order, with a summary at the end.
//! - `cargo xtask fuzz [SECONDS]`: only the fuzzing step of `test`, each target for SECONDS.
//!
//! # Layout
//! - `toolchain`: installs or verifies the wasm target, Trunk, wasm-bindgen-cli, and the npm
//!   packages (binaryen's wasm-opt, Playwright), never downloading outside the package registries.
//! - `postgres`: a private PostgreSQL server in a temporary directory for the tests.
//! - `process`: running a step with a visible header, its duration and a clear failure.
//! - `fuzz`: cargo-fuzz installed if missing, each target of `fuzz/` run for a bounded time.
//! - `start`, `test`: the two commands.
//! - `bench`: the benchmarks (`cargo xtask bench`), which rewrite parts of BENCHMARKS.md;
//!   `bench/board.rs` is the board API at 10^6 events (`--board-only` runs it alone),
//!   `bench/peer.rs` the PouchDB peer of the ingest section (`pouchdb-server` from npm).
//! - `faults`: fault injection (`cargo xtask faults`), which rewrites part of docs/RELIABILITY.md.
//! - `soak`: 200 tablets syncing for 10 minutes against the release server, its memory sampled
//!   (`cargo xtask soak`), which rewrites another part of docs/RELIABILITY.md.

mod bench;
mod faults;
mod fuzz;
mod postgres;
mod precompress;
mod process;
mod soak;
mod start;
mod test;
mod toolchain;

use std::path::PathBuf;

fn main() -> std::process::ExitCode {
    let mut arguments = std::env::args().skip(1);
    let command = arguments.next();
    let rest: Vec<String> = arguments.collect();
    let result = match command.as_deref() {
        Some("start") => start::run(&rest),
        Some("test") => test::run(&rest),
        Some("bench") => bench::run(&rest),
        Some("faults") => faults::run(&rest),
        Some("soak") => soak::run(&rest),
        Some("fuzz") => run_fuzz(&rest),
        Some("toolchain") => toolchain::ensure(&workspace_root()).map(|_| ()),
        _ => {
            eprintln!(
                "usage:\n  cargo xtask start [SERVER FLAGS...]   build and start Baton (SQLite, demo data)\n  \
                 cargo xtask test                      run every test (what CI runs)\n  \
                 cargo xtask toolchain                 install or verify the build tools only\n  \
                 cargo xtask fuzz [SECONDS]            only the fuzzing step, SECONDS per target\n  \
                 cargo xtask bench [--quick] [--bundle|--board-only|--board-render]\n  \
                                                       benchmarks into BENCHMARKS.md\n  \
                 cargo xtask faults [--kills N]        fault injection into docs/RELIABILITY.md\n  \
                 cargo xtask soak [--minutes M] [--tablets N] [--backend sqlite|postgres|both]\n  \
                                                       the soak into docs/RELIABILITY.md"
            );
            return std::process::ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("\nerror: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// `cargo xtask fuzz [SECONDS]`: the fuzzing step of `cargo xtask test` alone.
fn run_fuzz(arguments: &[String]) -> anyhow::Result<()> {
    let seconds = match arguments {
        [] => fuzz::TEST_SECONDS_PER_TARGET,
        [seconds] => seconds
            .parse()
            .map_err(|_| anyhow::anyhow!("SECONDS must be a whole number, got {seconds:?}"))?,
        _ => anyhow::bail!("usage: cargo xtask fuzz [SECONDS]"),
    };
    // A skip (no nightly) was already announced loudly, and is not a failure.
    fuzz::run(&workspace_root(), seconds).map(|_| ())
}

/// The workspace root: the parent of this crate's directory.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_owned()
}

/// Whether this run is CI's, where a missing piece fails instead of being skipped.
pub fn under_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}
