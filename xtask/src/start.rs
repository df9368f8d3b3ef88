//! `cargo xtask start`: from a fresh clone to a running Baton on the embedded SQLite database.

use std::process::Command;

use anyhow::Context;

use crate::process::{self, cargo, header};
use crate::{toolchain, workspace_root};

pub fn run(server_flags: &[String]) -> anyhow::Result<()> {
    let root = workspace_root();
    let toolchain = toolchain::ensure(&root)?;

    header("Fetching crates (Trunk builds offline)");
    process::run(cargo(&root).args(["fetch", "--quiet"]))?;

    header(
        "Building the PWA in release mode: the tablet app and the dashboard (trunk build --release)",
    );
    toolchain::build_pwa(&root, &toolchain)?;

    header("Building the server (cargo build --release -p baton-server)");
    process::run(cargo(&root).args(["build", "--release", "-p", "baton-server"]))?;

    header("Starting Baton");
    let binary = root.join("target").join("release").join("baton");
    let mut server = Command::new(&binary);
    server.arg("serve").args(server_flags).current_dir(&root);
    // Defaults through the environment, so that flags given after `start` still win.
    for (variable, value) in [
        ("BATON_DEMO", "true".to_owned()),
        ("BATON_DIST", root.join("dist").display().to_string()),
        ("BATON_DATA_DIR", root.join("data").display().to_string()),
    ] {
        if std::env::var_os(variable).is_none() {
            server.env(variable, value);
        }
    }
    println!(
        "    $ {} serve {}",
        binary.display(),
        server_flags.join(" ")
    );
    println!("    (Ctrl-C stops it; the data stays in ./data and is reused at the next start)");
    exec(server)
}

#[cfg(unix)]
fn exec(mut command: Command) -> anyhow::Result<()> {
    use std::os::unix::process::CommandExt;
    // Replace this process, so Ctrl-C and SIGTERM reach the server directly.
    Err(command.exec()).context("could not start the server binary")
}

#[cfg(not(unix))]
fn exec(mut command: Command) -> anyhow::Result<()> {
    let status = command
        .status()
        .context("could not start the server binary")?;
    anyhow::ensure!(status.success(), "the server exited with {status}");
    Ok(())
}
