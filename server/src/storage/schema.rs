//! Forward-only schema migrations, and the refusal to run on a schema newer than this binary.
//!
//! sqlx records each applied migration in `_sqlx_migrations`. A version there that this binary
//! does not embed means a newer Baton migrated the database: running an older binary on it
//! could write rows the newer schema forbids, so both `baton serve` and `baton migrate` refuse
//! and name the two versions. There are no down migrations; the way back from an upgrade is the
//! backup taken before it.

use sqlx::migrate::{Migrate, Migrator};

use super::StorageError;

/// One migration this process applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedMigration {
    pub version: i64,
    pub description: String,
}

/// The newest migration version a migrator embeds (0 for none).
pub fn latest_known_version(migrator: &Migrator) -> i64 {
    migrator
        .iter()
        .filter(|migration| !migration.migration_type.is_down_migration())
        .map(|migration| migration.version)
        .max()
        .unwrap_or(0)
}

/// Refuses a database migrated by a newer binary, then applies the pending migrations and
/// returns them, oldest first.
pub async fn migrate<DB>(
    pool: &sqlx::Pool<DB>,
    migrator: &Migrator,
) -> Result<Vec<AppliedMigration>, StorageError>
where
    DB: sqlx::Database,
    DB::Connection: Migrate,
{
    let applied_before = applied_versions(pool).await?;
    let binary_version = latest_known_version(migrator);
    if let Some(&database_version) = applied_before
        .iter()
        .filter(|version| !migrator.version_exists(**version))
        .max()
    {
        return Err(StorageError::SchemaTooNew {
            database_version,
            binary_version,
        });
    }
    migrator.run(pool).await.map_err(|error| match error {
        // Another process migrated with a newer binary between the check and the run.
        sqlx::migrate::MigrateError::VersionMissing(database_version) => {
            StorageError::SchemaTooNew {
                database_version,
                binary_version,
            }
        }
        other => StorageError::Migration(other),
    })?;
    // A replica starting at the same moment may have applied some of these; either way they are
    // the ones that were pending when this process looked.
    Ok(migrator
        .iter()
        .filter(|migration| {
            !migration.migration_type.is_down_migration()
                && !applied_before.contains(&migration.version)
        })
        .map(|migration| AppliedMigration {
            version: migration.version,
            description: migration.description.to_string(),
        })
        .collect())
}

async fn applied_versions<DB>(pool: &sqlx::Pool<DB>) -> Result<Vec<i64>, StorageError>
where
    DB: sqlx::Database,
    DB::Connection: Migrate,
{
    let mut connection = pool.acquire().await?;
    connection.ensure_migrations_table().await?;
    Ok(connection
        .list_applied_migrations()
        .await?
        .into_iter()
        .map(|migration| migration.version)
        .collect())
}
