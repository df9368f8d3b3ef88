//! The fuzzing step: every cargo-fuzz target of `fuzz/` for a bounded time, with libFuzzer's
//! final figures, and a crash turned into a failure that names its reproducer.
//!
//! cargo-fuzz needs a nightly compiler (libFuzzer's instrumentation and the sanitizer flags).
//! Nightly cannot be downloaded on the project's machines, so a machine without one skips this
//! step loudly instead of failing; cargo-fuzz itself comes from crates.io and is installed here.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};

use crate::process::{self, cargo, header};

/// The cargo-fuzz release checked with the nightly of the project's machines
/// (nightly 2026-05-15); `--locked` keeps the dependency versions it was released with.
pub const CARGO_FUZZ_VERSION: &str = "0.13.2";
/// Each target's time in `cargo xtask test`: enough for the seeds and a few hundred thousand
/// mutations, short enough that the three targets add about 1.5 minutes to a run.
pub const TEST_SECONDS_PER_TARGET: u64 = 25;
/// The targets, in `fuzz/fuzz_targets/`.
pub const TARGETS: [&str; 3] = ["event_decode_verify", "sync_push_parse", "bundle_verify"];
/// libFuzzer's options besides the time: an input slower than `-timeout` seconds counts as a
/// crash (a hang is a bug for a verifier), and inputs may exceed the 8 KiB event limit so that
/// its refusal is exercised.
const LIBFUZZER_OPTIONS: [&str; 3] = ["-timeout=10", "-max_len=16384", "-print_final_stats=1"];

/// How much of each line of libFuzzer's report is shown after a crash.
const MAX_SHOWN_LINE_CHARS: usize = 200;

/// What the step did.
pub enum Outcome {
    Ran,
    /// Skipped for the reason given (no nightly toolchain).
    Skipped(String),
}

/// Runs each target for `seconds_per_target` seconds; fails on the first crash.
pub fn run(root: &Path, seconds_per_target: u64) -> anyhow::Result<Outcome> {
    header(&format!(
        "Fuzzing (cargo +nightly fuzz run <target> -- -max_total_time={seconds_per_target})"
    ));
    if !nightly_installed() {
        let message = "fuzzing skipped: no nightly Rust toolchain (`rustup toolchain list` shows \
                       none), and cargo-fuzz needs one; it cannot be downloaded on this machine. \
                       Where the network allows: `rustup toolchain install nightly`"
            .to_owned();
        eprintln!("\n    !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!");
        eprintln!("    !!! FUZZING SKIPPED: no nightly Rust toolchain on this machine.");
        eprintln!("    !!! {message}");
        eprintln!("    !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n");
        return Ok(Outcome::Skipped(message));
    }
    ensure_cargo_fuzz(root)?;
    // One build of every target, with its output shown: the first one takes minutes.
    process::run(nightly_cargo(root).args(["fuzz", "build"]))?;

    let scratch = std::env::temp_dir().join(format!("baton-fuzz-{}", std::process::id()));
    let result = TARGETS
        .iter()
        .try_for_each(|target| run_target(root, &scratch, target, seconds_per_target));
    let _ = std::fs::remove_dir_all(&scratch);
    result.map(|()| Outcome::Ran)
}

fn run_target(root: &Path, scratch: &Path, target: &str, seconds: u64) -> anyhow::Result<()> {
    // New inputs go to a scratch corpus, listed first; the checked-in seeds are only read.
    let new_corpus = scratch.join(target);
    std::fs::create_dir_all(&new_corpus)
        .with_context(|| format!("creating {}", new_corpus.display()))?;
    let seeds = root.join("fuzz").join("corpus").join(target);
    let log_dir = root.join("fuzz").join("target").join("logs");
    std::fs::create_dir_all(&log_dir).with_context(|| format!("creating {}", log_dir.display()))?;
    let log_path = log_dir.join(format!("{target}.log"));
    let log = std::fs::File::create(&log_path)
        .with_context(|| format!("creating {}", log_path.display()))?;

    let mut command = nightly_cargo(root);
    command
        .args(["fuzz", "run", target])
        .arg(&new_corpus)
        .arg(&seeds)
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .args(LIBFUZZER_OPTIONS)
        .stdout(log.try_clone().context("duplicating the log file")?)
        .stderr(log);
    println!(
        "    {target}: {seconds} s, libFuzzer's output in {}",
        log_path.display()
    );
    let started = Instant::now();
    let status = command
        .status()
        .context("could not run `cargo +nightly fuzz run`")?;
    let output = std::fs::read_to_string(&log_path).unwrap_or_default();
    for line in final_figures(&output) {
        println!("      {line}");
    }
    println!("      ({:.1} s)", started.elapsed().as_secs_f64());
    if status.success() {
        return Ok(());
    }
    // libFuzzer's report (the panic message, the stack, the reproducer) is at the end. Long
    // lines are cut: one of them is the whole input, printed as a list of byte values.
    let lines: Vec<&str> = output.lines().collect();
    eprintln!("    --- the end of {} ---", log_path.display());
    for line in &lines[lines.len().saturating_sub(40)..] {
        match line.char_indices().nth(MAX_SHOWN_LINE_CHARS) {
            Some((cut, _)) => eprintln!("    {} …", &line[..cut]),
            None => eprintln!("    {line}"),
        }
    }
    match reproducer(&output) {
        Some(artifact) => bail!(
            "fuzz target {target} crashed; reproducer: {}\n  \
             rerun it with `cargo +nightly fuzz run {target} {}`, \
             fix the code, and add a regression test in the crate",
            artifact.display(),
            artifact.display()
        ),
        None => bail!(
            "fuzz target {target} failed ({status}) without a reproducer; see {}",
            log_path.display()
        ),
    }
}

/// The lines of libFuzzer's output that sum up a run: the last status line (`#N DONE cov: …
/// exec/s: …`), `Done N runs in S second(s)`, and the `-print_final_stats` figures.
fn final_figures(output: &str) -> Vec<&str> {
    output
        .lines()
        .filter(|line| {
            (line.starts_with('#') && line.contains("DONE"))
                || (line.starts_with("Done ") && line.contains(" runs in "))
                || line.starts_with("stat::number_of_executed_units")
                || line.starts_with("stat::average_exec_per_sec")
                || line.starts_with("stat::peak_rss_mb")
        })
        .collect()
}

/// The input libFuzzer saved for a crash, leak or timeout, from its
/// `Test unit written to PATH` line.
fn reproducer(output: &str) -> Option<PathBuf> {
    output
        .lines()
        .rev()
        .find_map(|line| line.split("Test unit written to ").nth(1))
        .map(|path| PathBuf::from(path.trim()))
}

fn nightly_installed() -> bool {
    process::output(Command::new("rustup").args(["toolchain", "list"])).is_some_and(|list| {
        list.lines()
            .any(|line| line.trim_start().starts_with("nightly"))
    })
}

/// `cargo +nightly`, through rustup's proxy, run from the repository root (cargo-fuzz finds
/// `fuzz/` there), without the variables that `cargo run` set for the xtask itself: those that
/// pin the stable toolchain, and those that describe the xtask package. ring's build script
/// watches `CARGO_MANIFEST_DIR`, so leaving it set would rebuild ring and everything above it
/// (7 minutes) whenever a campaign started by hand and `cargo xtask` take turns.
fn nightly_cargo(root: &Path) -> Command {
    let mut command = Command::new("cargo");
    command.arg("+nightly").current_dir(root);
    for name in ["RUSTUP_TOOLCHAIN", "CARGO", "RUSTC", "RUSTDOC"] {
        command.env_remove(name);
    }
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_MANIFEST_")
            || [
                "CARGO_BIN_NAME",
                "CARGO_CRATE_NAME",
                "CARGO_PRIMARY_PACKAGE",
            ]
            .contains(&&*name)
        {
            command.env_remove(&*name);
        }
    }
    command
}

fn ensure_cargo_fuzz(root: &Path) -> anyhow::Result<()> {
    let found = process::output(nightly_cargo(root).args(["fuzz", "--version"]));
    if found.as_deref() == Some(&format!("cargo-fuzz {CARGO_FUZZ_VERSION}")) {
        println!("    cargo-fuzz {CARGO_FUZZ_VERSION}: installed");
        return Ok(());
    }
    println!(
        "    cargo-fuzz {CARGO_FUZZ_VERSION}: {} — installing from crates.io (about 4 minutes on 2 cores, once)",
        found.unwrap_or_else(|| "not found".to_owned())
    );
    process::run(cargo(root).args([
        "install",
        "cargo-fuzz",
        "--version",
        CARGO_FUZZ_VERSION,
        "--locked",
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_and_the_reproducer_are_found_in_libfuzzers_output() {
        let output = "\
INFO: Seed: 1234
#2\tINITED cov: 10 ft: 11 corp: 1/13b exec/s: 0 rss: 40Mb
#1048\tNEW    cov: 12 ft: 14 corp: 2/20b lim: 16384 exec/s: 0 rss: 41Mb
==42== ERROR: libFuzzer: deadly signal
artifact_prefix='/repo/fuzz/artifacts/bundle_verify/'; Test unit written to /repo/fuzz/artifacts/bundle_verify/crash-0a1b
Base64: e30=
";
        assert_eq!(
            reproducer(output),
            Some(PathBuf::from(
                "/repo/fuzz/artifacts/bundle_verify/crash-0a1b"
            ))
        );
        assert!(final_figures(output).is_empty());

        let finished = "\
#4096\tpulse  cov: 300 ft: 900 corp: 40/2Kb exec/s: 2048 rss: 60Mb
#51200\tDONE   cov: 310 ft: 950 corp: 42/2Kb exec/s: 2048 rss: 61Mb
Done 51200 runs in 25 second(s)
stat::number_of_executed_units: 51200
stat::average_exec_per_sec:     2048
stat::new_units_added:          41
stat::peak_rss_mb:              61
";
        assert_eq!(
            final_figures(finished),
            vec![
                "#51200\tDONE   cov: 310 ft: 950 corp: 42/2Kb exec/s: 2048 rss: 61Mb",
                "Done 51200 runs in 25 second(s)",
                "stat::number_of_executed_units: 51200",
                "stat::average_exec_per_sec:     2048",
                "stat::peak_rss_mb:              61",
            ]
        );
        assert_eq!(reproducer(finished), None);
    }

    #[test]
    fn every_target_of_the_fuzz_crate_runs_and_has_seeds() {
        let fuzz_dir = crate::workspace_root().join("fuzz");
        let mut on_disk: Vec<String> = std::fs::read_dir(fuzz_dir.join("fuzz_targets"))
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter_map(|path| Some(path.file_stem()?.to_str()?.to_owned()))
            .collect();
        on_disk.sort();
        let mut listed = TARGETS.to_vec();
        listed.sort();
        assert_eq!(on_disk, listed);
        for target in TARGETS {
            let n_seeds = std::fs::read_dir(fuzz_dir.join("corpus").join(target))
                .unwrap()
                .filter(|entry| {
                    let name = entry.as_ref().unwrap().file_name();
                    name.to_string_lossy().starts_with("seed-")
                })
                .count();
            assert!(
                n_seeds > 0,
                "{target} has no seed-* in fuzz/corpus/{target}"
            );
        }
    }
}
