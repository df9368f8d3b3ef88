//! Brotli twins of the PWA's content-hashed assets (`dist/**/*.wasm`, `*.js`, `*.css`), written
//! after each Trunk build. The server sends `FILE.br` to a browser that accepts `br`
//! (`server/src/http/static_files.rs`); quality 11 takes seconds, so it is done once here and
//! never per request. The service worker and `index.html` keep their names across versions and
//! are left to the server's on-the-fly gzip, so a stale twin can never shadow them.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

/// Brotli's densest setting, and its largest window (16 MiB): the wasm is over a megabyte.
const QUALITY: u32 = 11;
const WINDOW_BITS: u32 = 24;

/// What was written, per file: (path, bytes, compressed bytes).
pub fn run(dist: &Path) -> anyhow::Result<Vec<(PathBuf, u64, u64)>> {
    let mut written = Vec::new();
    for path in assets(dist)? {
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let mut compressed = Vec::with_capacity(bytes.len() / 3);
        {
            let mut writer =
                brotli::CompressorWriter::new(&mut compressed, 64 * 1024, QUALITY, WINDOW_BITS);
            writer.write_all(&bytes)?;
        }
        let twin = twin_path(&path);
        std::fs::write(&twin, &compressed)
            .with_context(|| format!("writing {}", twin.display()))?;
        println!(
            "    {}: {} bytes, brotli {} bytes",
            path.strip_prefix(dist).unwrap_or(&path).display(),
            bytes.len(),
            compressed.len()
        );
        written.push((path, bytes.len() as u64, compressed.len() as u64));
    }
    Ok(written)
}

fn twin_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".br");
    PathBuf::from(name)
}

/// Where the dashboard's build sits under `dist/` (the server's `static_files::DASHBOARD_DIR`).
pub const DASHBOARD_DIR: &str = "dashboard";

/// The content-hashed assets under `dist`, sorted: Trunk names them `NAME-HASH.EXT`.
pub fn assets(dist: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut folders = vec![dist.to_owned()];
    while let Some(folder) = folders.pop() {
        for entry in
            std::fs::read_dir(&folder).with_context(|| format!("listing {}", folder.display()))?
        {
            let path = entry?.path();
            if path.is_dir() {
                folders.push(path);
            } else if is_hashed_asset(&path) {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

fn is_hashed_asset(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|name| name.to_str()) else {
        return false;
    };
    let Some((stem, extension)) = name.rsplit_once('.') else {
        return false;
    };
    // `baton-app-4f64b01176c09716_bg.wasm`, `baton-app-4f64b01176c09716.js`, `main-a3be3bec2265a1b.css`
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    let hashed = stem
        .rsplit_once('-')
        .is_some_and(|(_, hash)| hash.len() >= 8 && hash.bytes().all(|b| b.is_ascii_hexdigit()));
    matches!(extension, "wasm" | "js" | "css") && hashed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_trunks_hashed_assets_get_a_twin() {
        for name in [
            "baton-app-4f64b01176c09716_bg.wasm",
            "baton-app-4f64b01176c09716.js",
            "main-a3be3bec2265a1b.css",
        ] {
            assert!(is_hashed_asset(Path::new(name)), "{name}");
        }
        for name in [
            "sw.js",
            "index.html",
            "manifest.webmanifest",
            "baton-app.js",
            "main-notahash.css",
            "baton-app-4f64b01176c09716.js.br",
            "icon-192.png",
        ] {
            assert!(!is_hashed_asset(Path::new(name)), "{name}");
        }
    }

    #[test]
    fn a_twin_decompresses_to_its_file() {
        let dist = tempdir();
        let asset = dist.join("app-0123456789abcdef.js");
        let content = "console.log('baton');\n".repeat(500);
        std::fs::write(&asset, &content).unwrap();
        std::fs::write(dist.join("sw.js"), "self.skipWaiting();").unwrap();
        let written = run(&dist).unwrap();
        assert_eq!(written.len(), 1);
        assert!(!dist.join("sw.js.br").exists());
        let twin = std::fs::read(dist.join("app-0123456789abcdef.js.br")).unwrap();
        assert!(twin.len() < content.len() / 10);
        let mut decoded = Vec::new();
        brotli::BrotliDecompress(&mut twin.as_slice(), &mut decoded).unwrap();
        assert_eq!(decoded, content.as_bytes());
        std::fs::remove_dir_all(dist).unwrap();
    }

    fn tempdir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-precompress-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
