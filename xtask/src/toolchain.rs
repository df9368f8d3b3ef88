//! The build tools, installed from the package registries only and verified at exact versions.
//!
//! When everything is present this takes well under two seconds: it only asks each tool for its
//! version. Nothing here downloads from GitHub; Trunk itself runs offline with pinned tools
//! (Trunk.toml), so a wrong or missing tool fails the build loudly instead.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::process::{self, cargo, header};

pub const TRUNK_VERSION: &str = "0.21.14";
pub const WASM_OPT_VERSION: &str = "132";
pub const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// What later steps need to know about the tools.
pub struct Toolchain {
    /// Prepended to PATH for Trunk, so it finds the npm wasm-opt before Debian's.
    pub node_bin: PathBuf,
}

impl Toolchain {
    /// PATH with the npm tools first.
    pub fn path_variable(&self) -> String {
        let current = std::env::var("PATH").unwrap_or_default();
        format!("{}:{current}", self.node_bin.display())
    }
}

pub fn ensure(root: &Path) -> anyhow::Result<Toolchain> {
    header("Toolchain: wasm target, Trunk, wasm-bindgen-cli, npm packages");
    ensure_wasm_target()?;
    ensure_trunk(root)?;
    ensure_wasm_bindgen(root)?;
    let node_bin = ensure_npm_packages(root)?;
    println!("    toolchain ready");
    Ok(Toolchain { node_bin })
}

fn ensure_wasm_target() -> anyhow::Result<()> {
    let installed = process::output(Command::new("rustup").args(["target", "list", "--installed"]))
        .context("`rustup` is needed to add the wasm32 target: install Rust with rustup")?;
    if installed.lines().any(|line| line.trim() == WASM_TARGET) {
        println!("    {WASM_TARGET}: installed");
        return Ok(());
    }
    println!("    {WASM_TARGET}: adding it with rustup");
    process::run(Command::new("rustup").args(["target", "add", WASM_TARGET]))
}

fn ensure_trunk(root: &Path) -> anyhow::Result<()> {
    let found = process::output(Command::new("trunk").arg("--version"));
    if found.as_deref() == Some(&format!("trunk {TRUNK_VERSION}")) {
        println!("    trunk {TRUNK_VERSION}: installed");
        return Ok(());
    }
    println!(
        "    trunk {TRUNK_VERSION}: {} — installing from crates.io (about 9 minutes on 2 cores, once)",
        found.unwrap_or_else(|| "not found".to_owned())
    );
    // Trunk 0.22 needs a newer rustc than 1.95; --locked keeps its tested dependency versions.
    process::run(cargo(root).args(["install", "trunk", "--version", TRUNK_VERSION, "--locked"]))
}

fn ensure_wasm_bindgen(root: &Path) -> anyhow::Result<()> {
    let wanted = locked_version(root, "wasm-bindgen")?;
    let pinned = pinned_wasm_bindgen(root)?;
    if pinned != wanted {
        bail!(
            "Trunk.toml pins wasm_bindgen = \"{pinned}\" but Cargo.lock has wasm-bindgen {wanted}: \
             set [tools] wasm_bindgen = \"{wanted}\" in Trunk.toml"
        );
    }
    let found = process::output(Command::new("wasm-bindgen").arg("--version"));
    if found.as_deref() == Some(&format!("wasm-bindgen {wanted}")) {
        println!("    wasm-bindgen {wanted}: installed");
        return Ok(());
    }
    println!(
        "    wasm-bindgen-cli {wanted}: {} — installing from crates.io (about 2 minutes, once)",
        found.unwrap_or_else(|| "not found".to_owned())
    );
    // Without --locked: its lock file pins a crate version the registry mirror lacks.
    process::run(cargo(root).args(["install", "wasm-bindgen-cli", "--version", &wanted]))
}

fn ensure_npm_packages(root: &Path) -> anyhow::Result<PathBuf> {
    let end2end = root.join("end2end");
    let node_bin = end2end.join("node_modules").join(".bin");
    let wasm_opt = process::output(Command::new(node_bin.join("wasm-opt")).arg("--version"));
    let playwright = process::output(Command::new(node_bin.join("playwright")).arg("--version"));
    let wasm_opt_ok = wasm_opt
        .as_deref()
        .is_some_and(|version| version.contains(&format!("version {WASM_OPT_VERSION}")));
    if wasm_opt_ok && playwright.is_some() {
        println!("    npm packages (binaryen {WASM_OPT_VERSION}, Playwright): installed");
        return Ok(node_bin);
    }
    println!("    npm packages: installing from the npm registry with `npm ci` (a few seconds)");
    // Playwright's browser download is never used: the tests launch Debian's /usr/bin/chromium.
    process::run(
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
            .current_dir(&end2end),
    )
    .context("`npm` is needed for wasm-opt and Playwright: install Node.js 20 and npm (apt-get install nodejs npm)")?;
    Ok(node_bin)
}

/// The version of `package` in Cargo.lock.
pub fn locked_version(root: &Path, package: &str) -> anyhow::Result<String> {
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).context("reading Cargo.lock")?;
    let mut lines = lock.lines();
    let name_line = format!("name = \"{package}\"");
    while let Some(line) = lines.next() {
        if line == name_line
            && let Some(version) = lines
                .next()
                .and_then(|next| next.strip_prefix("version = "))
        {
            return Ok(version.trim_matches('"').to_owned());
        }
    }
    bail!("{package} is not in Cargo.lock")
}

fn pinned_wasm_bindgen(root: &Path) -> anyhow::Result<String> {
    let trunk_toml =
        std::fs::read_to_string(root.join("Trunk.toml")).context("reading Trunk.toml")?;
    trunk_toml
        .lines()
        .find_map(|line| line.trim().strip_prefix("wasm_bindgen = "))
        .map(|value| value.trim_matches('"').to_owned())
        .context("Trunk.toml has no [tools] wasm_bindgen pin")
}

/// Builds the PWA in release mode with Trunk, offline: the tablet app into `dist/`, then the
/// manager dashboard into `dist/dashboard/` (served at `/dashboard/`), then the brotli twins the
/// server sends to browsers. The tablet's build comes first because Trunk empties its own
/// `dist/` before writing it.
pub fn build_pwa(root: &std::path::Path, toolchain: &Toolchain) -> anyhow::Result<()> {
    crate::process::run(
        std::process::Command::new("trunk")
            .args(["build", "--release"])
            .env("PATH", toolchain.path_variable())
            .current_dir(root),
    )?;
    crate::process::run(
        std::process::Command::new("trunk")
            .args([
                "build",
                "app/dashboard.html",
                "--release",
                "--dist",
                "dist/dashboard",
                "--public-url",
                "/dashboard/",
            ])
            .env("PATH", toolchain.path_variable())
            .current_dir(root),
    )?;
    crate::process::header("Writing brotli twins of the hashed assets (dist/**/*.br)");
    crate::precompress::run(&root.join("dist"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trunk_pin_matches_the_locked_wasm_bindgen() {
        let root = crate::workspace_root();
        assert_eq!(
            pinned_wasm_bindgen(&root).unwrap(),
            locked_version(&root, "wasm-bindgen").unwrap()
        );
    }
}
