//! Start-up, logging, plain HTTP or built-in TLS (`tls`), and graceful shutdown.

use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

use crate::config::{
    Cli, Command, CreateAccountArgs, DatabaseArgs, EnrollmentCodeArgs, LogFormat, ServeArgs,
};
use crate::http::{self, AppState, static_files::StaticFiles};
use crate::server_key::ServerKeys;
use crate::{seed, storage};

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(*args).await,
        Command::EnrollmentCode(args) => enrollment_code(args).await,
        Command::CreateAccount(args) => create_account(args).await,
        Command::Verify(args) => verify(args),
        Command::Migrate(args) => migrate(args).await,
        Command::Backup(args) => crate::backup::run(args).await,
        Command::Restore(args) => crate::restore::run(args).await,
        Command::RotateServerKey(args) => crate::server_key::run_rotate(args).await,
    }
}

fn verify(args: crate::config::VerifyArgs) -> anyhow::Result<()> {
    let bytes = std::fs::read(&args.bundle)
        .with_context(|| format!("cannot read {}", args.bundle.display()))?;
    let report = crate::verify::verify_bundle(&bytes, args.server_key.as_deref());
    for finding in &report.findings {
        if !finding.ok {
            println!("FAIL  {}", finding.message);
        } else if !args.quiet {
            println!("ok    {}", finding.message);
        }
    }
    let n_problems = report.problems().count();
    if n_problems == 0 {
        println!(
            "VERIFIED: {} entries, every one included in the signed tree head and correctly signed.",
            report.n_entries
        );
        if let Some(scope) = &report.scope {
            println!("SCOPE: {scope}.");
        }
        Ok(())
    } else {
        anyhow::bail!(
            "{n_problems} problem(s) in {} entries: the bundle does not verify",
            report.n_entries
        )
    }
}

async fn create_account(args: CreateAccountArgs) -> anyhow::Result<()> {
    use crate::accounts::{self, AccountRuleError};
    let role = storage::AccountRole::parse(&args.role).context("unknown role")?;
    let username = accounts::check_username(&args.username)
        .map_err(|error| anyhow::anyhow!("--username: {error}"))?;
    accounts::check_role_site(role, args.site.as_deref()).map_err(|error| match error {
        AccountRuleError::AdminWithSite => anyhow::anyhow!("{error}: drop --site"),
        other => anyhow::anyhow!("{other}: give --site"),
    })?;
    let storage = open_storage(&args.database).await?;
    if let Some(site) = &args.site {
        storage
            .site_config(site)
            .await?
            .with_context(|| format!("there is no site {site:?}"))?;
    }
    let given = std::env::var(crate::config::NEW_PASSWORD_VARIABLE).ok();
    let new_password = accounts::NewPassword::given_or_generated(given)
        .map_err(|error| anyhow::anyhow!("BATON_NEW_PASSWORD: {error}"))?;
    let password_hash = new_password
        .hash()
        .map_err(|error| anyhow::anyhow!("hashing the password: {error}"))?;
    storage
        .create_account(&storage::AccountRecord {
            username: username.clone(),
            password_hash,
            role,
            site_id: args.site.clone(),
        })
        .await?;
    println!("Created {} account {username:?}.", args.role);
    if new_password.generated {
        println!("Its password (shown once): {}", new_password.password);
    }
    Ok(())
}

/// `baton migrate`: the pending migrations, applied and named.
async fn migrate(args: crate::config::MigrateArgs) -> anyhow::Result<()> {
    let (storage, applied) = open_and_migrate(&args.database).await?;
    let redacted_url = storage::redact_url(&args.database.effective_database_url());
    let latest = storage.backend().latest_schema_version();
    if applied.is_empty() {
        println!(
            "No pending migrations in {redacted_url}: the schema is at version {latest}, the newest this binary knows."
        );
    } else {
        println!("Applied {} migration(s) to {redacted_url}:", applied.len());
        for migration in &applied {
            println!("  {:04} {}", migration.version, migration.description);
        }
        println!("The schema is now at version {latest}, the newest this binary knows.");
    }
    Ok(())
}

async fn open_storage(
    database: &DatabaseArgs,
) -> anyhow::Result<std::sync::Arc<dyn storage::Storage>> {
    let (storage, applied) = open_and_migrate(database).await?;
    for migration in &applied {
        tracing::info!(
            version = migration.version,
            description = %migration.description,
            "applied a database migration"
        );
    }
    Ok(storage)
}

async fn open_and_migrate(
    database: &DatabaseArgs,
) -> anyhow::Result<(
    std::sync::Arc<dyn storage::Storage>,
    Vec<storage::AppliedMigration>,
)> {
    std::fs::create_dir_all(&database.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {}",
            database.data_dir.display()
        )
    })?;
    let database_url = database.effective_database_url();
    let redacted_url = storage::redact_url(&database_url);
    tracing::info!(database = %redacted_url, "opening the database");
    storage::connect_and_migrate(&database_url)
        .await
        .with_context(|| format!("cannot open the database {redacted_url}"))
}

async fn enrollment_code(args: EnrollmentCodeArgs) -> anyhow::Result<()> {
    let storage = open_storage(&args.database).await?;
    let wards = storage.list_wards(&args.site).await?;
    if !wards.iter().any(|ward| ward.ward_id == args.ward) {
        let known: Vec<&str> = wards.iter().map(|ward| ward.ward_id.as_str()).collect();
        anyhow::bail!(
            "site {:?} has no ward {:?}; its wards are {known:?}",
            args.site,
            args.ward
        );
    }
    if args.minutes == 0 || args.minutes > crate::enrollment::MAX_CODE_MINUTES {
        anyhow::bail!(
            "--minutes must be 1 to {}",
            crate::enrollment::MAX_CODE_MINUTES
        );
    }
    let (code, expires_at_ms) = crate::enrollment::create_code(
        storage.as_ref(),
        &args.site,
        &args.ward,
        "command-line",
        args.minutes,
        crate::sync::now_ms(),
    )
    .await?;
    println!("{code}");
    eprintln!(
        "Single-use enrollment code for ward {} of site {}, valid for {} minutes (until {} ms since the epoch).",
        args.ward, args.site, args.minutes, expires_at_ms
    );
    Ok(())
}

fn init_logging(args: &ServeArgs) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(&args.log_level)
        .with_context(|| format!("invalid --log-level {:?}", args.log_level))?;
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    // try_init: a second call (tests start several servers in one process) keeps the first.
    let _ = match args.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    Ok(())
}

/// A name in the connectors file that a site's connector (admin API) already has would make
/// one delivery stand for two connectors: refused at start, naming what to rename.
async fn refuse_shadowed_connectors(
    storage: &dyn crate::storage::Storage,
    file_names: &[String],
) -> anyhow::Result<()> {
    if file_names.is_empty() {
        return Ok(());
    }
    for site_id in storage.list_site_ids().await? {
        for connector in storage.list_site_connectors(&site_id).await? {
            if file_names.contains(&connector.name) {
                anyhow::bail!(
                    "the connectors file names {:?}, which site {site_id:?} already has as a \
                     connector made through the admin API; rename the file's connector",
                    connector.name
                );
            }
        }
    }
    Ok(())
}

pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    init_logging(&args)?;
    // TLS files first: a wrong path or a mismatched key fails at once, before the database.
    let certificates = match args.tls_files().map_err(anyhow::Error::msg)? {
        Some(files) => {
            let certificates = crate::tls::Certificates::load(files)?;
            tracing::info!(
                certificate = %certificates.files().certificate.display(),
                sha256 = %certificates.current_fingerprint(),
                "serving HTTPS with the built-in TLS"
            );
            Some(Arc::new(certificates))
        }
        None => None,
    };
    let storage = open_storage(&args.database).await?;
    let server_keys =
        Arc::new(ServerKeys::load(&args.effective_server_key_file(), storage.as_ref()).await?);

    if args.demo && storage.is_empty().await? {
        seed_demo(storage.as_ref(), &args).await?;
    }
    let summary = storage.summary().await?;
    tracing::info!(
        ?summary,
        backend = storage.backend().name(),
        "database ready"
    );

    let static_files = StaticFiles::load(&args.dist);
    if !static_files.is_built() {
        tracing::warn!(
            dist = %static_files.dist().display(),
            "no index.html in the dist directory: the API runs, the web app is not served"
        );
    }

    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let address = listener.local_addr()?;
    let tls_on = certificates.is_some();
    let mut state = AppState::with_keys(
        storage,
        static_files,
        server_keys,
        args.secure_cookies || tls_on,
    );
    state.strict_transport_security = tls_on;
    state.rate_limits = Arc::new(http::rate_limit::RateLimits::new(&args.rate_limits()));
    state.metrics_token = args.metrics_token.as_deref().map(Arc::from);
    state.introspection_secret = args.introspection_secret.as_deref().map(Arc::from);
    let connectors = match &args.connectors_file {
        Some(path) => crate::connectors::load(path)?,
        None => Vec::new(),
    };
    state.connectors = Arc::new(
        connectors
            .iter()
            .map(|connector| connector.name().to_owned())
            .collect(),
    );
    state.token_revocation_connectors = Arc::new(
        connectors
            .iter()
            .filter(|connector| connector.revokes_registered_tokens())
            .map(|connector| connector.name().to_owned())
            .collect(),
    );
    // The key file is always loaded (made at the first start): an admin may create a connector
    // with a secret through the API at any time, and its sealed secret must open after a
    // restart and on every replica.
    state.token_vault = Arc::new(crate::token_vault::TokenVault::load_or_create(
        &args.effective_token_key_file(),
    )?);
    refuse_shadowed_connectors(state.storage.as_ref(), &state.connectors).await?;
    state.connector_configs = Arc::new(connectors.clone());
    tokio::spawn(crate::delivery_worker::run(
        state.storage.clone(),
        Arc::new(connectors),
        Arc::new(crate::connectors::Signer {
            server_key: state.server_key.clone(),
            issuer: args.issuer.clone(),
            token_vault: state.token_vault.clone(),
        }),
        crate::delivery_worker::DeliveryPolicy::default(),
    ));

    // Printed on stdout (not only logged) so that scripts and people both find it; tests and
    // `cargo xtask start` read the first line's prefix.
    // SIGHUP re-reads the TLS files; registered in every mode, so that `systemctl reload` (the
    // unit's ExecReload) never ends a server without TLS.
    let hangups = crate::tls::Hangups::register();
    let scheme = if tls_on { "https" } else { "http" };
    println!("Baton is listening on {scheme}://{address}/");
    println!("  tablet capture:     {scheme}://{address}/");
    println!("  manager dashboard:  {scheme}://{address}/dashboard");
    println!("  health:             {scheme}://{address}/healthz");
    tracing::info!(%address, scheme, "listening");

    if let Some(target) = args.syslog_target.clone() {
        let hostname = std::fs::read_to_string("/etc/hostname")
            .map_or_else(|_| "-".to_owned(), |name| name.trim().to_owned());
        tokio::spawn(crate::syslog::run(state.storage.clone(), target, hostname));
    }
    tokio::spawn(crate::ledger::run_head_signer(
        state.storage.clone(),
        state.server_key.clone(),
    ));
    // A rotated key file (`baton rotate-server-key`) is picked up without a restart.
    tokio::spawn(crate::server_key::watch_for_rotation(
        state.server_key.clone(),
        state.storage.clone(),
        crate::tls::RELOAD_INTERVAL,
        crate::tls::Hangups::register(),
    ));
    let shutdown = state.shutdown.clone();
    let graceful_shutdown = async move {
        shutdown_signal().await;
        // Live streams never end by themselves: tell them to, so in-flight requests can.
        shutdown.send_replace(true);
    };
    // The peer's address feeds the per-address rate limits.
    let service = http::app(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    match certificates {
        Some(certificates) => {
            let config = certificates
                .server_config()
                .context("cannot configure TLS")?;
            tokio::spawn(crate::tls::watch_for_changes(
                certificates,
                crate::tls::RELOAD_INTERVAL,
                hangups,
            ));
            // `tap_io` does nothing to the stream; it is how axum hands a custom listener's peer
            // address to `ConnectInfo` (the rate limits).
            use axum::serve::ListenerExt;
            axum::serve(
                crate::tls::TlsListener::new(listener, config).tap_io(|_| {}),
                service,
            )
            .with_graceful_shutdown(graceful_shutdown)
            .await
        }
        None => {
            tokio::spawn(crate::tls::log_hangups_without_tls(hangups));
            axum::serve(listener, service)
                .with_graceful_shutdown(graceful_shutdown)
                .await
        }
    }
    .context("the HTTP server failed")?;
    tracing::info!("stopped after finishing in-flight requests");
    Ok(())
}

async fn seed_demo(storage: &dyn storage::Storage, args: &ServeArgs) -> anyhow::Result<()> {
    println!("First start: creating synthetic demo data (hashing PINs with argon2id)...");
    let (site, credentials) = tokio::task::spawn_blocking(seed::demo_site)
        .await
        .context("seeding task")??;
    storage
        .import_site(&site)
        .await
        .context("storing the demo site")?;
    let text = seed::format_credentials(&credentials, &site.name);
    let credentials_path = args.database.data_dir.join("demo-credentials.txt");
    write_owner_only(&credentials_path, &text)
        .with_context(|| format!("cannot write {}", credentials_path.display()))?;
    println!("{text}");
    println!("(saved to {})", credentials_path.display());
    Ok(())
}

/// Writes a file only its owner can read: it holds demo secrets.
fn write_owner_only(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(text.as_bytes())
}

/// Resolves on Ctrl-C or SIGTERM (what systemd and container runtimes send).
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested: finishing in-flight requests");
}
