//! Running the commands of a step, visibly: each prints what it runs and how long it took.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};

/// Prints a step's header, so long work always says what it is doing.
pub fn header(title: &str) {
    println!("\n==> {title}");
}

/// Runs `command` with inherited output; fails with the command line when it exits non-zero.
pub fn run(command: &mut Command) -> anyhow::Result<()> {
    let shown = describe(command);
    println!("    $ {shown}");
    let started = Instant::now();
    let status = command.status().with_context(|| {
        format!("could not run `{shown}`: is the program installed and on PATH?")
    })?;
    println!("    ({:.1} s)", started.elapsed().as_secs_f64());
    if !status.success() {
        bail!("`{shown}` failed ({status})");
    }
    Ok(())
}

/// Runs `command` and returns its trimmed standard output, or `None` if it cannot run or fails.
pub fn output(command: &mut Command) -> Option<String> {
    let output = command.output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// `cargo` as the one running this xtask (respects rustup's choice of toolchain).
pub fn cargo(root: &Path) -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
    command.current_dir(root);
    command
}

fn describe(command: &Command) -> String {
    let mut parts = vec![command.get_program().to_string_lossy().into_owned()];
    parts.extend(
        command
            .get_args()
            .map(|argument| argument.to_string_lossy().into_owned()),
    );
    parts.join(" ")
}
