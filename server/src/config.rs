//! Configuration: every flag has an environment variable and a default, and `--help` documents
//! them all.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::http::rate_limit;

/// The password of `baton create-account`: read from the environment only, never from a flag,
/// so that it stays out of the process list and the shell history.
pub const NEW_PASSWORD_VARIABLE: &str = "BATON_NEW_PASSWORD";

#[derive(Debug, Parser)]
#[command(
    name = "baton",
    version,
    about = "Baton: signed, offline-first custody handoffs for shared clinical devices."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the PWA, the sync API and the dashboard API.
    // Boxed: the serve flags outweigh every other subcommand's.
    Serve(Box<ServeArgs>),
    /// Create a single-use enrollment code for a tablet of a ward (printed once).
    EnrollmentCode(EnrollmentCodeArgs),
    /// Create a dashboard account (the first admin, a manager, an auditor). The password is read
    /// from BATON_NEW_PASSWORD, or generated and printed once.
    CreateAccount(CreateAccountArgs),
    /// Check an exported audit bundle offline (no database, no network) and report every entry;
    /// exits non-zero if anything fails.
    Verify(VerifyArgs),
    /// Apply pending database migrations (forward-only) and print which ran. `serve` also
    /// migrates at start; both refuse a database migrated by a newer Baton.
    Migrate(MigrateArgs),
    /// Copy the SQLite database consistently while the server runs (VACUUM INTO). For
    /// PostgreSQL, print the pg_dump command to use instead.
    Backup(BackupArgs),
    /// Put a backup back in place of the SQLite database (the server must be stopped; the
    /// replaced file is kept beside it), or, with --record-only, record a restore done with
    /// pg_restore. Either way each site's ledger gets an entry saying so, and tablets re-push
    /// what the backup lacks at their next sync.
    Restore(RestoreArgs),
    /// Replace the server's signing key without downtime: a new key, a rotation signed by the
    /// old and the new key recorded in the database and in every site's ledger, the new key
    /// written over the key file. Running servers switch within seconds (or at SIGHUP); copy the
    /// new file to every other replica.
    RotateServerKey(RotateServerKeyArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct RotateServerKeyArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// The server's key file (as `serve --server-key-file`). Default: `server-ed25519.key` in the
    /// data directory.
    #[arg(long, env = "BATON_SERVER_KEY_FILE")]
    pub server_key_file: Option<PathBuf>,
    /// Why the key is rotated (at most 500 characters), kept in each site's ledger entry.
    #[arg(long, default_value = "scheduled rotation")]
    pub reason: String,
}

#[derive(Debug, Clone, clap::Args)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// The backup file `baton backup` wrote (SQLite).
    #[arg(
        long,
        required_unless_present = "record_only",
        conflicts_with = "record_only"
    )]
    pub from: Option<PathBuf>,
    /// Only record in the ledger that the database was restored by other means (PostgreSQL:
    /// after pg_restore into the database --database-url names).
    #[arg(long)]
    pub record_only: bool,
    /// Why the restore was done (at most 500 characters), kept in the ledger entry.
    #[arg(long)]
    pub note: String,
}

#[derive(Debug, Clone, clap::Args)]
pub struct BackupArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// The backup file to write. It must not exist: a backup never overwrites anything.
    #[arg(long)]
    pub to: PathBuf,
}

#[derive(Debug, Clone, clap::Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Debug, Clone, clap::Args)]
pub struct VerifyArgs {
    /// The bundle file (from GET /api/v1/ledger/export).
    pub bundle: PathBuf,
    /// The server's public key (hex) as you hold it; without it the bundle's own key is used.
    #[arg(long)]
    pub server_key: Option<String>,
    /// Print only problems and the summary.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct CreateAccountArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// The account's sign-in name: 1 to 64 letters, digits and . _ - @.
    #[arg(long)]
    pub username: String,
    /// admin (every site), manager or auditor (one site, given by --site).
    #[arg(long, value_parser = ["admin", "manager", "auditor"])]
    pub role: String,
    /// The site a manager or auditor belongs to.
    #[arg(long)]
    pub site: Option<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct EnrollmentCodeArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// The site the tablet will belong to.
    #[arg(long)]
    pub site: String,
    /// The ward the tablet will belong to.
    #[arg(long)]
    pub ward: String,
    /// Minutes until the code expires.
    #[arg(long, default_value_t = crate::enrollment::DEFAULT_CODE_MINUTES)]
    pub minutes: u32,
}

/// Where the data lives; shared by every subcommand that opens the database.
#[derive(Debug, Clone, clap::Args)]
pub struct DatabaseArgs {
    /// Directory for Baton's own files: the embedded SQLite database, the server key and, with
    /// --demo, the demo credentials. Created if missing.
    #[arg(long, env = "BATON_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,

    /// Database URL: `sqlite://PATH` (embedded default) or `postgres://USER@HOST:PORT/DB`
    /// (several server processes may share one PostgreSQL). Default: `sqlite://` in the data
    /// directory.
    #[arg(long, env = "BATON_DATABASE_URL")]
    pub database_url: Option<String>,
}

impl DatabaseArgs {
    /// The database URL to use: the explicit one, or the embedded SQLite file in the data
    /// directory.
    pub fn effective_database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("baton.sqlite3").display()),
        }
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address and port to listen on. Port 0 picks a free port (the chosen one is printed).
    #[arg(long, env = "BATON_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    #[command(flatten)]
    pub database: DatabaseArgs,

    /// The server's ed25519 key file (hex seed, owner-only). Created on first start. Replicas
    /// sharing one PostgreSQL must share this file. Default: `server-ed25519.key` in the data
    /// directory.
    #[arg(long, env = "BATON_SERVER_KEY_FILE")]
    pub server_key_file: Option<PathBuf>,

    /// The AES-256 key file (hex, owner-only) that seals the external OAuth tokens apps register
    /// for RFC 7009 revocation and the secrets of connectors made through the admin API. Created
    /// on first start. Replicas sharing one PostgreSQL must share this file. Default:
    /// `external-tokens-aes256.key` in the data directory.
    #[arg(long, env = "BATON_TOKEN_KEY_FILE")]
    pub token_key_file: Option<PathBuf>,

    /// Mark session cookies `Secure`. Turn on whenever clients reach Baton over HTTPS through a
    /// TLS-terminating proxy; built-in TLS (--tls-cert) turns it on by itself.
    #[arg(long, env = "BATON_SECURE_COOKIES", default_value_t = false)]
    pub secure_cookies: bool,

    /// Serve HTTPS without a proxy: the certificate chain in PEM, the server's certificate
    /// first; needs --tls-key. Then every answer carries HSTS and session cookies are `Secure`.
    /// Both files are re-read when they change (looked at every 5 seconds, and at SIGHUP), so a
    /// renewal needs no restart; a pair that does not work is logged and the previous one keeps
    /// serving.
    #[arg(long, env = "BATON_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,

    /// The private key of --tls-cert's certificate, in PEM, unencrypted; readable only by the
    /// user Baton runs as.
    #[arg(long, env = "BATON_TLS_KEY")]
    pub tls_key: Option<PathBuf>,

    /// Directory holding the built PWA (`trunk build --release` writes it).
    #[arg(long, env = "BATON_DIST", default_value = "dist")]
    pub dist: PathBuf,

    /// Seed synthetic demo data (one site, two wards, devices, staff, a manager account) when the
    /// database is empty. Never use it for a real deployment.
    #[arg(long, env = "BATON_DEMO", default_value_t = false)]
    pub demo: bool,

    /// Serve Prometheus metrics at /metrics to scrapers sending this bearer token. Off when
    /// unset.
    #[arg(long, env = "BATON_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,

    /// Enable OAuth 2.0 Token Introspection (RFC 7662) at /oauth/introspect for resource servers
    /// authenticating with HTTP Basic and this secret as the password. Off when unset.
    #[arg(long, env = "BATON_INTROSPECTION_SECRET", hide_env_values = true)]
    pub introspection_secret: Option<String>,

    /// A JSON file listing the revocation connectors of every site (webhooks to MDM or EHR
    /// adapters, OIDC back-channel logout, CAEP, OAuth 2.0 token revocation); see
    /// docs/PROTOCOL.md section 5. Admins can also add connectors per site through the API.
    /// Without either, only Baton's own tokens are revoked.
    #[arg(long, env = "BATON_CONNECTORS_FILE")]
    pub connectors_file: Option<PathBuf>,

    /// The issuer (`iss`) of the logout tokens and security event tokens Baton signs: usually
    /// the server's public URL, as the receivers registered it.
    #[arg(long, env = "BATON_ISSUER", default_value = "urn:baton")]
    pub issuer: String,

    /// Forward every ledger entry to a syslog collector (RFC 5424): `udp://HOST:PORT` or
    /// `tcp://HOST:PORT`. Enable it on one server process only.
    #[arg(long, env = "BATON_SYSLOG_TARGET")]
    pub syslog_target: Option<crate::syslog::SyslogTarget>,

    /// Signed requests each enrolled tablet may make per minute, sustained (0 turns the limit
    /// off). Beyond it the tablet gets 429 with Retry-After and its sync retries later.
    #[arg(long, env = "BATON_TABLET_RATE_PER_MINUTE", default_value_t = rate_limit::DEFAULT_TABLET_PER_MINUTE)]
    pub tablet_rate_per_minute: u32,

    /// Signed requests a tablet may make in a burst above its per-minute rate: a catch-up after
    /// a long time offline (10,000 events are 20 pushes of 500) stays well within it.
    #[arg(long, env = "BATON_TABLET_RATE_BURST", default_value_t = rate_limit::DEFAULT_TABLET_BURST)]
    pub tablet_rate_burst: u32,

    /// Pushes of one site queued or running at once before a new one gets 503 with a
    /// Retry-After of 1 to 5 s (0 turns the limit off): after an outage, tablets come back
    /// spread out instead of waiting past their timeouts and pushing again.
    #[arg(long, env = "BATON_MAX_QUEUED_PUSHES_PER_SITE", default_value_t = crate::http::admission::DEFAULT_MAX_QUEUED_PUSHES)]
    pub max_queued_pushes_per_site: usize,

    /// Enrollment and sign-in requests per client address per minute, sustained (0 turns the
    /// limit off). Behind a proxy, set --trusted-proxies or every client shares the proxy's
    /// address.
    #[arg(long, env = "BATON_ADDRESS_RATE_PER_MINUTE", default_value_t = rate_limit::DEFAULT_ADDRESS_PER_MINUTE)]
    pub address_rate_per_minute: u32,

    /// Enrollment and sign-in requests a client address may make in a burst above its rate.
    #[arg(long, env = "BATON_ADDRESS_RATE_BURST", default_value_t = rate_limit::DEFAULT_ADDRESS_BURST)]
    pub address_rate_burst: u32,

    /// Reverse proxies (IP addresses or CIDR networks, comma-separated, e.g. `127.0.0.1`)
    /// whose `X-Forwarded-For` names the client address for the rate limits. The header of any
    /// other peer is ignored.
    #[arg(long, env = "BATON_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<rate_limit::IpNetwork>,

    /// Password hashes (argon2id) sign-in computes at once; a sign-in that waits more than 2 s
    /// for one gets 503 with Retry-After. Default: one per core.
    #[arg(long, env = "BATON_SIGN_IN_CONCURRENCY", value_parser = clap::value_parser!(u16).range(1..))]
    pub sign_in_concurrency: Option<u16>,

    /// Log filter in `tracing` syntax, e.g. `info` or `baton_server=debug,tower_http=info`.
    #[arg(long, env = "BATON_LOG", default_value = "info")]
    pub log_level: String,

    /// Log format: human-readable text or JSON lines for a log collector.
    #[arg(long, env = "BATON_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl ServeArgs {
    /// The certificate and key files of built-in TLS: both or neither.
    pub fn tls_files(&self) -> Result<Option<crate::tls::TlsFiles>, String> {
        crate::tls::files_from(self.tls_cert.as_deref(), self.tls_key.as_deref())
    }

    pub fn effective_token_key_file(&self) -> PathBuf {
        self.token_key_file
            .clone()
            .unwrap_or_else(|| self.database.data_dir.join("external-tokens-aes256.key"))
    }

    /// The rate limits these flags describe.
    pub fn rate_limits(&self) -> rate_limit::RateLimitConfig {
        rate_limit::RateLimitConfig {
            per_tablet: rate_limit::Rate {
                per_minute: self.tablet_rate_per_minute,
                burst: self.tablet_rate_burst,
            },
            per_address: rate_limit::Rate {
                per_minute: self.address_rate_per_minute,
                burst: self.address_rate_burst,
            },
            trusted_proxies: self.trusted_proxies.clone(),
            sign_in_concurrency: self
                .sign_in_concurrency
                .map_or_else(rate_limit::default_sign_in_concurrency, usize::from),
            max_queued_pushes_per_site: self.max_queued_pushes_per_site,
            ..rate_limit::RateLimitConfig::default()
        }
    }

    pub fn effective_server_key_file(&self) -> PathBuf {
        self.server_key_file
            .clone()
            .unwrap_or_else(|| self.database.data_dir.join("server-ed25519.key"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn the_default_database_is_sqlite_in_the_data_directory() {
        let cli = Cli::parse_from(["baton", "serve", "--data-dir", "/var/lib/baton"]);
        let Command::Serve(args) = cli.command else {
            panic!("serve was asked for")
        };
        assert_eq!(
            args.database.effective_database_url(),
            "sqlite:///var/lib/baton/baton.sqlite3"
        );
        assert_eq!(args.listen.to_string(), "127.0.0.1:8080");
        assert!(!args.demo);
        let limits = args.rate_limits();
        assert_eq!(
            limits.per_tablet,
            rate_limit::RateLimitConfig::default().per_tablet
        );
        assert!(limits.trusted_proxies.is_empty());
    }

    #[test]
    fn rate_limits_and_trusted_proxies_come_from_the_flags() {
        let cli = Cli::parse_from([
            "baton",
            "serve",
            "--tablet-rate-per-minute",
            "0",
            "--address-rate-burst",
            "5",
            "--trusted-proxies",
            "127.0.0.1,10.0.0.0/8",
            "--sign-in-concurrency",
            "3",
        ]);
        let Command::Serve(args) = cli.command else {
            panic!("serve was asked for")
        };
        let limits = args.rate_limits();
        assert_eq!(limits.per_tablet.per_minute, 0);
        assert_eq!(limits.per_address.burst, 5);
        assert_eq!(limits.sign_in_concurrency, 3);
        assert_eq!(limits.trusted_proxies.len(), 2);
        assert!(limits.trusted_proxies[1].contains("10.9.8.7".parse().unwrap()));
        assert!(
            Cli::try_parse_from(["baton", "serve", "--trusted-proxies", "nginx"]).is_err(),
            "a name is not an address"
        );
        assert!(Cli::try_parse_from(["baton", "serve", "--sign-in-concurrency", "0"]).is_err());
    }
}
