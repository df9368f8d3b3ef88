//! A private PostgreSQL server for the tests: `initdb` into a temporary directory, started on a
//! free loopback port, stopped and removed when dropped. It never touches a system cluster.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;

use crate::process;

pub struct PrivatePostgres {
    bin_dir: PathBuf,
    data_dir: PathBuf,
    run_as_postgres: bool,
    /// The `postgres` options it was started with, to start it again.
    options: String,
    pub url: String,
}

/// The newest Debian PostgreSQL binaries, e.g. `/usr/lib/postgresql/15/bin`.
pub fn find_binaries() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

impl PrivatePostgres {
    pub fn start(bin_dir: &Path) -> anyhow::Result<PrivatePostgres> {
        let port = free_port()?;
        let data_dir =
            std::env::temp_dir().join(format!("baton-test-pg-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&data_dir).context("creating the PostgreSQL test directory")?;
        // initdb and postgres refuse to run as root: hand the directory to the postgres user.
        let run_as_postgres = is_root();
        if run_as_postgres {
            process::run(
                Command::new("chown")
                    .args(["-R", "postgres:postgres"])
                    .arg(&data_dir),
            )?;
        }
        // fsync off: this cluster lives for one test run; durability is tested on SQLite's file
        // and is PostgreSQL's own guarantee in production.
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            data_dir.display()
        );
        let server = PrivatePostgres {
            bin_dir: bin_dir.to_owned(),
            data_dir: data_dir.clone(),
            run_as_postgres,
            options,
            url: format!("postgres://baton@127.0.0.1:{port}/postgres"),
        };
        let cluster = data_dir.join("cluster");
        process::run(
            server
                .command("initdb")
                .args([
                    "--auth=trust",
                    "--username=baton",
                    "--encoding=UTF8",
                    "--no-sync",
                    "-D",
                ])
                .arg(&cluster)
                .stdout(std::process::Stdio::null()),
        )
        .context("initdb failed")?;
        process::run(
            server
                .command("pg_ctl")
                .arg("-D")
                .arg(&cluster)
                .args(["-o", &server.options, "-w", "-l"])
                .arg(data_dir.join("postgres.log"))
                .arg("start"),
        )
        .context("PostgreSQL did not start; see postgres.log in the test directory")?;
        println!("    private PostgreSQL ready at {}", server.url);
        Ok(server)
    }

    /// Shell commands that crash-stop (`-m immediate`) and start this server again: how the
    /// fault-injection test takes the database away under load.
    pub fn stop_and_start_commands(&self) -> (String, String) {
        let prefix = if self.run_as_postgres {
            "runuser -u postgres -- "
        } else {
            ""
        };
        let pg_ctl = self.bin_dir.join("pg_ctl");
        let cluster = self.data_dir.join("cluster");
        let log = self.data_dir.join("postgres.log");
        (
            format!(
                "{prefix}'{}' -D '{}' -m immediate -w stop",
                pg_ctl.display(),
                cluster.display()
            ),
            format!(
                "{prefix}'{}' -D '{}' -o '{}' -w -l '{}' start",
                pg_ctl.display(),
                cluster.display(),
                self.options,
                log.display()
            ),
        )
    }

    /// Creates another empty database on this server and returns its URL: each benchmark
    /// server starts on a fresh one, as a SQLite one starts on a fresh file.
    pub fn create_database(&self, name: &str) -> anyhow::Result<String> {
        let port = self
            .url
            .rsplit_once(':')
            .and_then(|(_, rest)| rest.split('/').next())
            .context("the private PostgreSQL URL has no port")?
            .to_owned();
        process::run(self.command("createdb").args([
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-U",
            "baton",
            name,
        ]))
        .with_context(|| format!("creating the database {name}"))?;
        Ok(self.url.replace("/postgres", &format!("/{name}")))
    }

    /// The cluster's directory: its databases and write-ahead log.
    pub fn cluster_dir(&self) -> PathBuf {
        self.data_dir.join("cluster")
    }

    fn command(&self, program: &str) -> Command {
        let program = self.bin_dir.join(program);
        if self.run_as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        }
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let status = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data_dir.join("cluster"))
            .args(["-m", "fast", "-w", "stop"])
            .stdout(std::process::Stdio::null())
            .status();
        if !matches!(status, Ok(status) if status.success()) {
            eprintln!("warning: the private PostgreSQL did not stop cleanly: {status:?}");
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
        println!("    private PostgreSQL stopped and removed");
    }
}

/// A port that was free a moment ago on the loopback interface.
pub fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

fn is_root() -> bool {
    process::output(Command::new("id").arg("-u")).as_deref() == Some("0")
}

/// What to tell a developer who lacks PostgreSQL.
pub fn missing_message() -> anyhow::Error {
    anyhow::anyhow!(
        "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: \
         install them with `apt-get install -y postgresql`"
    )
}
