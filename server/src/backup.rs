//! `baton backup --to FILE`: a consistent copy of the SQLite database taken while the server
//! runs, or, for PostgreSQL, the `pg_dump` command that does the same job there.
//!
//! SQLite's `VACUUM INTO` writes a transactionally consistent snapshot of the whole database
//! into a new file while other connections keep reading and writing: every event in the copy
//! has its ledger leaf, since storage writes both in one transaction. The copy is checked
//! (`PRAGMA quick_check`) and counted before the command says it succeeded.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};

use crate::config::BackupArgs;
use crate::storage::redact_url;

/// What a backup holds, counted in the copy itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteCounts {
    pub site_id: String,
    pub n_events: i64,
    pub ledger_size: i64,
    /// The size of the newest signed tree head stored in the copy, if any.
    pub signed_head_size: Option<i64>,
}

pub async fn run(args: BackupArgs) -> anyhow::Result<()> {
    let database_url = args.database.effective_database_url();
    if database_url.starts_with("postgres:") || database_url.starts_with("postgresql:") {
        println!("{}", pg_dump_advice(&database_url, &args.to));
        anyhow::bail!(
            "nothing was written: baton backup copies SQLite databases; run the pg_dump command above"
        );
    }
    if !database_url.starts_with("sqlite:") {
        anyhow::bail!(
            "cannot back up {}: use sqlite://PATH or postgres://USER@HOST:PORT/DB",
            redact_url(&database_url)
        );
    }
    let source = SqliteConnectOptions::from_str(&database_url)
        .with_context(|| format!("invalid database URL {database_url}"))?
        .get_filename()
        .to_owned();
    let (n_bytes, counts) = backup_sqlite(&source, &args.to).await?;
    println!(
        "Backed up {} to {}: {} ({n_bytes} bytes), integrity check ok.",
        source.display(),
        args.to.display(),
        human_size(n_bytes)
    );
    if counts.is_empty() {
        println!("  No site has been created yet.");
    }
    for site in &counts {
        let head = match site.signed_head_size {
            Some(size) => format!("newest signed tree head covers {size}"),
            None => "no signed tree head yet".to_owned(),
        };
        println!(
            "  site {}: {} events, ledger of {} entries, {head}.",
            site.site_id, site.n_events, site.ledger_size
        );
    }
    println!(
        "The server key is not in the backup: keep a copy of server-ed25519.key (in the data \
         directory, or --server-key-file) with it; it never changes."
    );
    Ok(())
}

/// Copies the SQLite database at `source` into the new file `target` and checks the copy;
/// returns its size in bytes and what it holds. Refuses to overwrite anything.
pub async fn backup_sqlite(source: &Path, target: &Path) -> anyhow::Result<(u64, Vec<SiteCounts>)> {
    if !source.is_file() {
        anyhow::bail!(
            "there is no database at {}: check --data-dir or --database-url",
            source.display()
        );
    }
    // Created here, empty and owner-only (it holds password hashes), with create_new so that
    // an existing file is never overwritten, even one that appears after a check. VACUUM INTO
    // accepts an empty file.
    create_owner_only(target).with_context(|| match target.try_exists() {
        Ok(true) => format!(
            "refusing to overwrite {}: choose a new file name (a backup never replaces one)",
            target.display()
        ),
        _ => format!(
            "cannot create {}: does its directory exist and is it writable?",
            target.display()
        ),
    })?;
    let result = copy_and_check(source, target).await;
    if result.is_err() {
        // Half a backup must not be mistaken for one.
        let _ = std::fs::remove_file(target);
    }
    result
}

async fn copy_and_check(source: &Path, target: &Path) -> anyhow::Result<(u64, Vec<SiteCounts>)> {
    let mut connection = SqliteConnectOptions::new()
        .filename(source)
        .create_if_missing(false)
        .busy_timeout(Duration::from_secs(30))
        .connect()
        .await
        .with_context(|| format!("cannot open the database {}", source.display()))?;
    let target_name = target
        .to_str()
        .with_context(|| format!("the path {} is not valid UTF-8", target.display()))?;
    sqlx::query("VACUUM INTO $1")
        .bind(target_name)
        .execute(&mut connection)
        .await
        .with_context(|| format!("copying {} failed", source.display()))?;
    connection.close().await?;

    // VACUUM INTO does not sync what it wrote; a backup must survive a power cut.
    std::fs::File::open(target)
        .and_then(|file| file.sync_all())
        .with_context(|| format!("cannot sync {}", target.display()))?;
    if let Some(directory) = target
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        std::fs::File::open(directory)
            .and_then(|file| file.sync_all())
            .with_context(|| format!("cannot sync the directory {}", directory.display()))?;
    }

    let counts = inspect(target).await?;
    let n_bytes = std::fs::metadata(target)?.len();
    Ok((n_bytes, counts))
}

/// Opens a backup read-only, checks its integrity and counts what each site holds.
pub async fn inspect(backup: &Path) -> anyhow::Result<Vec<SiteCounts>> {
    let mut connection = SqliteConnectOptions::new()
        .filename(backup)
        .read_only(true)
        .connect()
        .await
        .with_context(|| format!("cannot open the backup {}", backup.display()))?;
    let (check,): (String,) = sqlx::query_as("PRAGMA quick_check")
        .fetch_one(&mut connection)
        .await?;
    if check != "ok" {
        anyhow::bail!(
            "the backup {} fails SQLite's integrity check ({check}); do not rely on it, take another",
            backup.display()
        );
    }
    let rows: Vec<(String, i64, i64, Option<i64>)> = sqlx::query_as(
        "SELECT site_id, \
         (SELECT COUNT(*) FROM events WHERE events.site_id = sites.site_id), \
         (SELECT COUNT(*) FROM ledger_entries WHERE ledger_entries.site_id = sites.site_id), \
         (SELECT MAX(tree_size) FROM tree_heads WHERE tree_heads.site_id = sites.site_id) \
         FROM sites ORDER BY site_id",
    )
    .fetch_all(&mut connection)
    .await
    .with_context(|| format!("{} does not look like a Baton database", backup.display()))?;
    connection.close().await?;
    Ok(rows
        .into_iter()
        .map(
            |(site_id, n_events, ledger_size, signed_head_size)| SiteCounts {
                site_id,
                n_events,
                ledger_size,
                signed_head_size,
            },
        )
        .collect())
}

fn create_owner_only(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.flush()
}

/// What to run instead for PostgreSQL: the exact `pg_dump` command for the configured database,
/// without its password (pg_dump reads it from PGPASSWORD or ~/.pgpass).
pub fn pg_dump_advice(database_url: &str, target: &Path) -> String {
    let mut target = PathBuf::from(target);
    if target.extension().is_none() {
        target.set_extension("dump");
    }
    format!(
        "baton backup copies the embedded SQLite database. For PostgreSQL, pg_dump is the tool: \
         it takes a consistent snapshot while Baton serves. Run:\n\n  \
         pg_dump --format=custom --file={} --dbname={}\n\n\
         with the password in PGPASSWORD or ~/.pgpass, never on the command line. \
         docs/OPERATIONS.md has a script that also checks the dump and keeps the server key.",
        shell_quote(&target.display().to_string()),
        shell_quote(&url_without_password(database_url)),
    )
}

/// The URL with its password removed (not masked), so the printed command runs as it is.
fn url_without_password(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.find(':') {
                Some(colon) => format!(
                    "{}{}{}",
                    &url[..scheme_end + 3],
                    &credentials[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Single-quotes `text` for a POSIX shell.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

fn human_size(n_bytes: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut size = n_bytes as f64;
    let mut unit = 0;
    while size >= 1024.0 && unit + 1 < UNITS.len() {
        size /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n_bytes} bytes")
    } else {
        format!("{size:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pg_dump_command_runs_as_printed_and_never_shows_the_password() {
        let advice = pg_dump_advice(
            "postgres://baton:s3cret@db.example:5432/baton?sslmode=require",
            Path::new("/backups/baton-2026-01-01"),
        );
        assert!(
            advice.contains(
                "pg_dump --format=custom --file='/backups/baton-2026-01-01.dump' \
                 --dbname='postgres://baton@db.example:5432/baton?sslmode=require'"
            ),
            "{advice}"
        );
        assert!(!advice.contains("s3cret"), "{advice}");
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human_size(512), "512 bytes");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(3 * 1024 * 1024 * 1024), "3.0 GiB");
    }

    #[test]
    fn quotes_survive_the_shell() {
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
