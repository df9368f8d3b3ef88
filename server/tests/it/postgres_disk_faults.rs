//! PostgreSQL on a full disk and turned read-only under a running server (issue #10,
//! docs/RELIABILITY.md): the scenario of `disk_faults.rs`, on a real PostgreSQL, with real
//! faults under it.
//!
//! - **Full.** The test's database lives in a tablespace of its own on a small tmpfs, mounted
//!   for it and owned by the PostgreSQL server's user; a filler file takes the rest of the space,
//!   so extending a table or an index fails with `ENOSPC` (SQLSTATE 53100 `disk_full`). The
//!   write-ahead log stays on the cluster's own disk, as on a server whose data volume filled.
//!   Deleting the filler frees the space.
//! - **Read-only.** The database is set `default_transaction_read_only` and its sessions are
//!   ended, as a failover to a read-only node does: the server's pool reconnects, and every
//!   write fails with SQLSTATE 25006 `read_only_sql_transaction`. Reset, without a restart of
//!   anything, the server must write again; its pool still holds sessions opened read-only.
//!
//! Both run on the PostgreSQL named by `BATON_TEST_POSTGRES_URL` (a superuser, as `cargo xtask
//! test`'s private cluster and the developer's one are), touching nothing of it but the
//! test's own database and tablespace. The full disk needs root (`mount`) and the cluster's
//! data directory on this machine. Without them the tests say so and skip, except under
//! `CI=true`, where they must run.

use std::os::unix::fs::MetadataExt;

use sqlx::Connection;

use crate::disk_faults::{
    DiskFault, FaultedDatabase, FillDisk, Tmpfs, missing, refused_then_recovered,
};
use crate::support;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_on_a_full_disk_refuses_pushes_clearly_and_recovers_without_loss_or_duplicates()
{
    let Some(admin_url) = admin_url() else {
        return;
    };
    let Some((uid, gid)) = data_directory_owner(&admin_url).await else {
        return;
    };
    let Some(tmpfs) = Tmpfs::mount_owned_by("48m", uid, gid) else {
        return;
    };
    let database = TestDatabase::create(&admin_url, Some(tmpfs.path())).await;
    let mut fault = FillDisk {
        filler: tmpfs.path().join("filler"),
    };
    refused_then_recovered(&database.faulted(), &mut fault, 507, "storage_full").await;
    database.drop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_turned_read_only_refuses_pushes_clearly_and_recovers_without_loss_or_duplicates()
 {
    let Some(admin_url) = admin_url() else {
        return;
    };
    let database = TestDatabase::create(&admin_url, None).await;
    let mut fault = ReadOnly {
        admin_url: admin_url.clone(),
        database: database.name.clone(),
    };
    refused_then_recovered(&database.faulted(), &mut fault, 503, "storage_not_writable").await;
    database.drop_all().await;
}

fn admin_url() -> Option<String> {
    match std::env::var(support::POSTGRES_URL_VARIABLE) {
        Ok(url) => Some(url),
        Err(_) => {
            missing(&format!(
                "a PostgreSQL server ({} is not set)",
                support::POSTGRES_URL_VARIABLE
            ));
            None
        }
    }
}

/// The owner of the cluster's data directory, who must own a tablespace's directory; `None`
/// when the cluster does not run on this machine.
async fn data_directory_owner(admin_url: &str) -> Option<(u32, u32)> {
    let mut admin = sqlx::PgConnection::connect(admin_url).await.unwrap();
    let data_directory: String = sqlx::query_scalar("SHOW data_directory")
        .fetch_one(&mut admin)
        .await
        .unwrap();
    match std::fs::metadata(&data_directory) {
        Ok(metadata) => Some((metadata.uid(), metadata.gid())),
        Err(_) => {
            missing("the PostgreSQL cluster's data directory on this machine");
            None
        }
    }
}

/// A database of the test's own, in a tablespace of its own when given a directory.
struct TestDatabase {
    admin_url: String,
    name: String,
    tablespace: Option<(String, std::path::PathBuf)>,
}

impl TestDatabase {
    async fn create(admin_url: &str, tablespace_directory: Option<&std::path::Path>) -> Self {
        let name = format!("baton_disk_fault_{}", support::random_suffix());
        let mut admin = sqlx::PgConnection::connect(admin_url).await.unwrap();
        let tablespace = tablespace_directory.map(|directory| (name.clone(), directory.to_owned()));
        let mut create = format!("CREATE DATABASE {name}");
        if let Some((tablespace, directory)) = &tablespace {
            sqlx::query(&format!(
                "CREATE TABLESPACE {tablespace} LOCATION '{}'",
                directory.display()
            ))
            .execute(&mut admin)
            .await
            .unwrap();
            create.push_str(&format!(" TABLESPACE {tablespace}"));
        }
        sqlx::query(&create).execute(&mut admin).await.unwrap();
        TestDatabase {
            admin_url: admin_url.to_owned(),
            name,
            tablespace,
        }
    }

    fn faulted(&self) -> FaultedDatabase {
        let mut internals = vec![
            self.name.clone(),
            "postgres".to_owned(),
            "SQLSTATE".to_owned(),
            "53100".to_owned(),
            "25006".to_owned(),
            "No space left".to_owned(),
            "could not extend".to_owned(),
            "read-only transaction".to_owned(),
            "error returned from database".to_owned(),
        ];
        if let Some((_, directory)) = &self.tablespace {
            internals.push(directory.display().to_string());
        }
        FaultedDatabase {
            url: support::replace_database(&self.admin_url, &self.name),
            internals,
        }
    }

    /// Drops the database and its tablespace, once the server that used them is gone.
    async fn drop_all(self) {
        let mut admin = sqlx::PgConnection::connect(&self.admin_url).await.unwrap();
        sqlx::query(&format!("DROP DATABASE {} WITH (FORCE)", self.name))
            .execute(&mut admin)
            .await
            .unwrap();
        if let Some((tablespace, _)) = &self.tablespace {
            sqlx::query(&format!("DROP TABLESPACE {tablespace}"))
                .execute(&mut admin)
                .await
                .unwrap();
        }
    }
}

/// The database set read-only and its sessions ended, as a failover to a read-only node does;
/// lifted by resetting the setting alone, so that sessions opened meanwhile stay read-only
/// until the server lets them go.
struct ReadOnly {
    admin_url: String,
    database: String,
}

impl ReadOnly {
    fn run(&self, statements: &[String]) {
        // The scenario's fault hooks are synchronous; the test runs on a multi-threaded runtime.
        tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(async {
                let mut admin = sqlx::PgConnection::connect(&self.admin_url).await.unwrap();
                for statement in statements {
                    sqlx::query(statement).execute(&mut admin).await.unwrap();
                }
            })
        });
    }
}

impl DiskFault for ReadOnly {
    fn inject(&mut self) {
        self.run(&[
            format!(
                "ALTER DATABASE {} SET default_transaction_read_only = on",
                self.database
            ),
            format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = '{}' AND pid <> pg_backend_pid()",
                self.database
            ),
        ]);
    }

    fn lift(&mut self) {
        self.run(&[format!(
            "ALTER DATABASE {} RESET default_transaction_read_only",
            self.database
        )]);
    }
}
