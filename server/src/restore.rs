//! `baton restore`: puts a backup back and says so in the ledger.
//!
//! A restored server is behind the tablets: everything accepted after the backup is missing.
//! Nothing here pretends otherwise. The command records a `ledger_restored` governance entry in
//! each site's ledger (who, when, why, how large the ledger was in the backup and, when known,
//! before the restore), so that the gap is explained in the record itself. Tablets then notice
//! at their next sync that the server holds less of their chain than they were told (the pull
//! answer's `chain_seq`, docs/PROTOCOL.md §2.3) and push those events again; their witness
//! step sees a head smaller than the one it kept ("server behind"), and once the ledger grows
//! past it with a different history, an inconsistency alarm with its evidence: a restore is a
//! rewrite of the log's tail, and witnesses must say so.
//!
//! SQLite: the server must be stopped (a `-wal` file beside the database means it is running,
//! or crashed and was never restarted). The current file is kept, renamed, never deleted.
//! PostgreSQL: restore with `pg_restore` (docs/OPERATIONS.md §4), then run this command with
//! `--record-only`.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Context, bail};
use sqlx::sqlite::SqliteConnectOptions;

use crate::backup::{SiteCounts, inspect};
use crate::config::RestoreArgs;
use crate::storage::{self, redact_url};

/// Who the ledger says restored: an operator at the command line, not a dashboard account.
pub const RESTORED_BY: &str = "operator:baton-restore";
const MAX_NOTE_CHARS: usize = 500;

pub async fn run(args: RestoreArgs) -> anyhow::Result<()> {
    let note = args.note.trim();
    if note.is_empty() || note.chars().count() > MAX_NOTE_CHARS {
        bail!("--note must say why the restore was done, in 1 to {MAX_NOTE_CHARS} characters");
    }
    let database_url = args.database.effective_database_url();
    let (backup_counts, replaced_counts, backup_name) = match &args.from {
        Some(backup) => {
            if !database_url.starts_with("sqlite:") {
                bail!(
                    "--from restores SQLite databases; for {} restore with pg_restore \
                     (docs/OPERATIONS.md §4), then run `baton restore --record-only`",
                    redact_url(&database_url)
                );
            }
            let target = SqliteConnectOptions::from_str(&database_url)
                .with_context(|| format!("invalid database URL {database_url}"))?
                .get_filename()
                .to_owned();
            let (backup_counts, replaced_counts) = put_back(backup, &target).await?;
            let name = backup
                .file_name()
                .map(|name| name.to_string_lossy().into_owned());
            (Some(backup_counts), replaced_counts, name)
        }
        None => (None, None, None),
    };

    let storage = storage::connect(&database_url)
        .await
        .with_context(|| format!("cannot open {}", redact_url(&database_url)))?;
    let now_ms = crate::sync::now_ms();
    let sites = storage.list_site_ids().await?;
    for site_id in &sites {
        let ledger_size = storage.ledger_size(site_id).await?;
        let replaced = replaced_counts
            .as_ref()
            .and_then(|counts: &Vec<SiteCounts>| counts.iter().find(|c| &c.site_id == site_id));
        let action = serde_json::json!({
            "type": "ledger_restored",
            "backup_file": backup_name,
            "restored_ledger_size": ledger_size,
            "replaced_ledger_size": replaced.map(|counts| counts.ledger_size),
            "replaced_events": replaced.map(|counts| counts.n_events),
            "note": note,
        });
        let leaf = crate::ledger::record_governance(
            storage.as_ref(),
            site_id,
            action,
            RESTORED_BY,
            now_ms,
        )
        .await
        .with_context(|| format!("recording the restore in site {site_id}'s ledger"))?;
        match replaced {
            Some(replaced) => println!(
                "  site {site_id}: ledger of {ledger_size} entries restored (it had {} before), \
                 {} events fewer; recorded as ledger entry {leaf}.",
                replaced.ledger_size,
                replaced.n_events
                    - backup_counts
                        .as_ref()
                        .and_then(|counts| counts.iter().find(|c| &c.site_id == site_id))
                        .map_or(0, |counts| counts.n_events),
            ),
            None => println!(
                "  site {site_id}: ledger of {ledger_size} entries; the restore is recorded as \
                 ledger entry {leaf}."
            ),
        }
    }
    if sites.is_empty() {
        println!("  The restored database holds no site yet; nothing to record.");
    }
    println!(
        "Restore recorded. Start the server: tablets push again what the backup lacks at their \
         next sync, and their witness step reports the rewritten tail of the ledger (expected \
         after a restore; acknowledge it on the dashboard with a reference to this restore)."
    );
    Ok(())
}

/// Replaces the SQLite database at `target` with a checked copy of `backup`; the old file (and
/// nothing else) is renamed beside it. Returns what the backup and the replaced file held.
async fn put_back(
    backup: &Path,
    target: &Path,
) -> anyhow::Result<(Vec<SiteCounts>, Option<Vec<SiteCounts>>)> {
    let wal = sidecar(target, "-wal");
    if wal.exists() {
        bail!(
            "{} exists: the server is running on {} (or crashed and was not restarted). Stop it \
             first; after a crash, start and stop it once so that SQLite folds the WAL in",
            wal.display(),
            target.display()
        );
    }
    let backup_counts = inspect(backup).await.with_context(|| {
        format!(
            "{} is not a usable backup; nothing was changed",
            backup.display()
        )
    })?;
    let mut replaced_counts = None;
    if target.exists() {
        // What the server held, for the ledger entry; a damaged file is still kept, uncounted.
        replaced_counts = inspect(target).await.ok();
        let kept = target.with_file_name(format!(
            "{}.replaced-{}",
            target
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default(),
            crate::sync::now_ms()
        ));
        std::fs::rename(target, &kept).with_context(|| {
            format!(
                "cannot move {} aside to {}",
                target.display(),
                kept.display()
            )
        })?;
        let shm = sidecar(target, "-shm");
        if shm.exists() {
            let _ = std::fs::remove_file(&shm);
        }
        println!(
            "Kept the replaced database as {} (delete it once the restore is verified).",
            kept.display()
        );
    }
    // Copied under a temporary name and renamed, so a crash never leaves half a database.
    let partial = sidecar(target, ".restoring");
    std::fs::copy(backup, &partial)
        .with_context(|| format!("cannot copy {} to {}", backup.display(), partial.display()))?;
    std::fs::File::open(&partial).and_then(|file| file.sync_all())?;
    std::fs::rename(&partial, target)?;
    if let Some(directory) = target
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        std::fs::File::open(directory).and_then(|file| file.sync_all())?;
    }
    println!("Restored {} to {}.", backup.display(), target.display());
    Ok((backup_counts, replaced_counts))
}

fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}
