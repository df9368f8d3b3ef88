//! The HTTP surface: one router built by [`app`], so that tests drive it without a socket.
//!
//! - `enrollment`: enrollment codes (manager) and their redemption (tablet).
//! - `tablet_auth`: the `SignedByTablet` extractor: signature, window, nonce, enrolled key.
//! - `tablet_key`: a tablet's rotation of its own signing key (PROTOCOL.md §2.10).
//! - `tablet_session`: the tablet's logout at the end of its own custody, which expires the
//!   session cookies this server sets and ends their sessions.
//! - `sync`: push, pull and roster for tablets; `roster`: what a tablet caches; `push_body`: a
//!   push body taken apart into the tablet's own events, with no state and no I/O (fuzzed).
//! - `admin`: CSV imports of staff and devices, activation of staff.
//! - `site_admin`: who may administer a site (an admin of every site or of that one), and the
//!   sites an admin may pick.
//! - `site_accounts`: a site's dashboard accounts, listed, created, disabled, enabled and their
//!   passwords reset by an admin.
//! - `site_settings`: a site's configuration (shifts, grace, tolerances, the tablet's lockout),
//!   read and replaced by an admin, checked field by field.
//! - `site_connectors`: a site's revocation connectors, listed, created, replaced, disabled and
//!   enabled by an admin, their secrets sealed.
//! - `ledger`: signed heads, proofs, the SIEM feed and the audit bundle.
//! - `live`: the Server-Sent Events stream of new events for the board.
//! - `dashboard`: the custody board, tablets, timelines and people of a site; decommissioning;
//!   the helpers the other dashboard modules share (site, auditors, notes).
//! - `device_actions`: quarantine, release, missing and found ordered by a manager, signed by
//!   the server as the authority.
//! - `exception_review`: the derived exceptions with their stable keys, acknowledged and
//!   resolved by managers.
//! - `manager_auth`: sign-in, sessions, CSRF, the `ManagerSession` extractor.
//! - `reports`: the site report for charts and the evidence report, and the custody CSV.
//! - `rate_limit`: token buckets per tablet and per client address, trusted proxies, and the
//!   cap on concurrent argon2 work of sign-in.
//! - `metrics`: Prometheus counters and the push latency histogram, behind a bearer token.
//! - `tokens`: custody-bound access tokens and their RFC 7662 introspection.
//! - `external_tokens`: apps register the OAuth tokens of a custody, for RFC 7009 revocation at
//!   its end, authenticated by their custody-bound token.
//! - `static_files`: the built PWA with its caching rules and the single-page fallback.
//! - `security_headers`: CSP (with the hashes of the loader's inline script), nosniff, referrer
//!   and framing rules on every response.
//! - `error`: the one error type every handler returns: a stable code for the client, the details
//!   for the log; and the layer that puts the framework's own refusals into the same shape.

pub mod admin;
pub mod admission;
pub mod api_version;
pub mod board;
pub mod dashboard;
pub mod device_actions;
pub mod enrollment;
pub mod error;
pub mod exception_review;
pub mod external_tokens;
pub mod ledger;
pub mod live;
pub mod manager_auth;
pub mod metrics;
pub mod push_batch;
pub mod push_body;
pub mod rate_limit;
pub mod reports;
pub mod roster;
pub mod security_headers;
pub mod shift_change;
pub mod site_accounts;
pub mod site_admin;
pub mod site_connectors;
pub mod site_settings;
pub mod static_files;
pub mod sync;
pub mod tablet_auth;
pub mod tablet_key;
pub mod tablet_session;
pub mod tokens;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{any, get, post, put};
use axum::{Json, Router};
use tower_http::trace::TraceLayer;

use crate::server_key::{ServerKey, ServerKeys};
use crate::storage::Storage;
use crate::sync::SiteReplicas;
use error::ApiError;

/// What every handler may reach.
#[derive(Clone)]
pub struct AppState {
    pub storage: Arc<dyn Storage>,
    pub static_files: Arc<static_files::StaticFiles>,
    /// The server's key in use and its history.
    pub server_key: Arc<ServerKeys>,
    pub replicas: Arc<SiteReplicas>,
    pub sign_in_throttle: Arc<manager_auth::SignInThrottle>,
    /// Per-tablet and per-address rate limits and the argon2 gate of sign-in.
    pub rate_limits: Arc<rate_limit::RateLimits>,
    /// Each site's pushes waiting for its lock, applied in groups (`push_batch.rs`).
    pub push_queues: Arc<push_batch::PushQueues>,
    /// Mark cookies `Secure`: on whenever clients reach Baton over TLS.
    pub secure_cookies: bool,
    /// Send `Strict-Transport-Security` on every answer: on when Baton terminates TLS itself
    /// (behind a proxy, the proxy sends it).
    pub strict_transport_security: bool,
    pub metrics: Arc<metrics::Metrics>,
    /// The bearer token `/metrics` requires; `None` turns metrics off.
    pub metrics_token: Option<Arc<str>>,
    /// The connectors file's revocation connectors by name; each revocation gets one delivery
    /// per connector (and per enabled connector of its site, kept in storage).
    pub connectors: Arc<Vec<String>>,
    /// The connectors file's connectors in full, for the admin API to list (never their
    /// secrets).
    pub connector_configs: Arc<Vec<crate::connectors::ConnectorConfig>>,
    /// The `oauth_revocation` connectors among them: apps may register tokens for these.
    pub token_revocation_connectors: Arc<std::collections::BTreeSet<String>>,
    /// Seals the external tokens apps register and the secrets of the connectors the admin API
    /// makes (`serve` loads the key file; tests may leave an in-memory key).
    pub token_vault: Arc<crate::token_vault::TokenVault>,
    /// The secret resource servers present (HTTP Basic) to the introspection endpoint; `None`
    /// turns introspection off.
    pub introspection_secret: Option<Arc<str>>,
    /// Set when the server is shutting down, so that endless responses (the live stream) end and
    /// the graceful shutdown does not wait for them.
    pub shutdown: Arc<tokio::sync::watch::Sender<bool>>,
}

impl AppState {
    /// A state around a key given in memory (tests); the key history is still read from the
    /// database.
    pub fn new(
        storage: Arc<dyn Storage>,
        static_files: static_files::StaticFiles,
        server_key: ServerKey,
        secure_cookies: bool,
    ) -> AppState {
        let server_keys = Arc::new(ServerKeys::fixed(server_key));
        AppState::with_keys(storage, static_files, server_keys, secure_cookies)
    }

    pub fn with_keys(
        storage: Arc<dyn Storage>,
        static_files: static_files::StaticFiles,
        server_keys: Arc<ServerKeys>,
        secure_cookies: bool,
    ) -> AppState {
        let replicas = Arc::new(SiteReplicas::new(server_keys.clone()));
        AppState {
            storage,
            static_files: Arc::new(static_files),
            server_key: server_keys,
            replicas,
            sign_in_throttle: Arc::default(),
            rate_limits: Arc::default(),
            push_queues: Arc::default(),
            secure_cookies,
            strict_transport_security: false,
            metrics: Arc::default(),
            metrics_token: None,
            connectors: Arc::default(),
            connector_configs: Arc::default(),
            token_revocation_connectors: Arc::default(),
            token_vault: Arc::new(crate::token_vault::TokenVault::ephemeral()),
            introspection_secret: None,
            shutdown: Arc::new(tokio::sync::watch::Sender::new(false)),
        }
    }
}

pub fn app(state: AppState) -> Router {
    let content_security_policy = state.static_files.content_security_policy();
    // The routes anyone may call that cost real work (a database write, an argon2id hash) are
    // limited per client address; tablet routes are limited per tablet in `SignedByTablet`.
    let per_address =
        axum::middleware::from_fn_with_state(state.clone(), rate_limit::limit_by_address);
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/api/v1/meta", get(meta))
        .route("/metrics", get(metrics::metrics))
        .route(
            "/api/v1/enroll",
            post(enrollment::enroll).layer(per_address.clone()),
        )
        .route("/api/v1/enrollment-codes", post(enrollment::create_code))
        .route("/api/v1/sync/push", post(sync::push))
        .route("/api/v1/sync/pull", get(sync::pull))
        .route("/api/v1/sync/roster", get(sync::roster))
        .route("/api/v1/sync/revocations", get(sync::revocations))
        .route(
            "/api/v1/tablet/session/logout",
            post(tablet_session::logout),
        )
        .route("/api/v1/tablet/key-rotation", post(tablet_key::rotate))
        .route(
            "/api/v1/auth/sign-in",
            post(manager_auth::sign_in).layer(per_address),
        )
        .route("/api/v1/auth/sign-out", post(manager_auth::sign_out))
        .route("/api/v1/auth/session", get(manager_auth::current_session))
        // The board is the largest answer (about 400 bytes a device) and is made anew at every
        // change: gzip's fastest level costs a third of the default's CPU for 20% more bytes
        // (BENCHMARKS.md, the board section). The router's own layer leaves it alone.
        .route(
            "/api/v1/dashboard/devices",
            get(board::devices).layer(
                tower_http::compression::CompressionLayer::new()
                    .quality(tower_http::CompressionLevel::Fastest),
            ),
        )
        .route("/api/v1/dashboard/exceptions", get(exception_review::list))
        .route(
            "/api/v1/dashboard/exceptions/{key}/acknowledge",
            post(exception_review::acknowledge),
        )
        .route(
            "/api/v1/dashboard/exceptions/{key}/resolve",
            post(exception_review::resolve),
        )
        .route("/api/v1/dashboard/tablets", get(dashboard::tablets))
        .route(
            "/api/v1/tablets/{tablet_id}/decommission",
            post(dashboard::decommission_tablet),
        )
        // An unknown API path is an error the client must see, not the app's index page.
        .route(
            "/api/v1/dashboard/devices/{device_id}/timeline",
            get(dashboard::device_timeline),
        )
        .route("/api/v1/dashboard/staff", get(dashboard::staff))
        .route(
            "/api/v1/dashboard/devices/{device_id}/quarantine",
            post(device_actions::quarantine),
        )
        .route(
            "/api/v1/dashboard/devices/{device_id}/release",
            post(device_actions::release),
        )
        .route(
            "/api/v1/dashboard/devices/{device_id}/missing",
            post(device_actions::missing),
        )
        .route(
            "/api/v1/dashboard/devices/{device_id}/found",
            post(device_actions::found),
        )
        .route("/api/v1/dashboard/staff/{staff_id}", get(dashboard::person))
        .route("/api/v1/dashboard/stream", get(live::stream))
        .route("/api/v1/dashboard/report", get(reports::report))
        .route(
            "/api/v1/dashboard/shift-change",
            get(shift_change::shift_change_view),
        )
        .route(
            "/api/v1/dashboard/custodies.csv",
            get(reports::custodies_csv),
        )
        .route(
            "/api/v1/admin/staff.csv",
            post(admin::import_staff).layer(admin::csv_body_limit()),
        )
        .route(
            "/api/v1/admin/devices.csv",
            post(admin::import_devices).layer(admin::csv_body_limit()),
        )
        .route(
            "/api/v1/admin/staff/{staff_id}/deactivate",
            post(admin::deactivate_staff),
        )
        .route(
            "/api/v1/admin/staff/{staff_id}/activate",
            post(admin::activate_staff),
        )
        .route("/api/v1/admin/sites", get(site_admin::list_sites))
        .route(
            "/api/v1/admin/sites/{site_id}/accounts",
            get(site_accounts::list),
        )
        .route(
            "/api/v1/admin/sites/{site_id}/accounts",
            post(site_accounts::create),
        )
        .route(
            "/api/v1/admin/sites/{site_id}/accounts/{username}/disable",
            post(site_accounts::disable),
        )
        .route(
            "/api/v1/admin/sites/{site_id}/accounts/{username}/enable",
            post(site_accounts::enable),
        )
        .route(
            "/api/v1/admin/sites/{site_id}/accounts/{username}/password",
            post(site_accounts::reset_password),
        )
        .route(
            "/api/v1/admin/sites/{site_id}/config",
            get(site_settings::get),
        )
        .route(
            "/api/v1/admin/sites/{site_id}/config",
            put(site_settings::replace),
        )
        .route(
            "/api/v1/admin/sites/{site_id}/connectors",
            get(site_connectors::list),
        )
        .route(
            "/api/v1/admin/sites/{site_id}/connectors",
            post(site_connectors::create),
        )
        .route(
            "/api/v1/admin/sites/{site_id}/connectors/{name}",
            put(site_connectors::replace),
        )
        .route(
            "/api/v1/admin/sites/{site_id}/connectors/{name}/disable",
            post(site_connectors::disable),
        )
        .route(
            "/api/v1/admin/sites/{site_id}/connectors/{name}/enable",
            post(site_connectors::enable),
        )
        .route("/api/v1/ledger/head", get(ledger::head))
        .route("/api/v1/ledger/inclusion", get(ledger::inclusion))
        .route("/api/v1/ledger/consistency", get(ledger::consistency))
        .route("/api/v1/ledger/entries", get(ledger::entries))
        .route("/api/v1/ledger/export", get(ledger::export))
        .route(
            "/api/v1/ledger/witness-reports",
            post(ledger::witness_report),
        )
        .route("/api/v1/tokens", post(tokens::issue))
        .route("/api/v1/tokens/external", post(external_tokens::register))
        .route("/oauth/introspect", post(tokens::introspect))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/api/v1/server-keys", get(server_keys))
        .route("/api/v1/dashboard/revocations", get(dashboard::revocations))
        .route("/api/{*rest}", any(api_not_found));
    static_files::add_fallback(router, &state.static_files)
        .layer(axum::middleware::from_fn(error::uniform_refusals))
        .layer(axum::middleware::from_fn(static_files::cache_control))
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(security_headers::SecurityHeaders {
                content_security_policy,
                strict_transport_security: state.strict_transport_security,
            }),
            security_headers::add,
        ))
        // JSON bodies outside the signed sync routes (which bound their own) stay small.
        .layer(DefaultBodyLimit::max(64 * 1024))
        // gzip for the PWA's files and JSON; the default predicate leaves Server-Sent Events
        // and tiny bodies alone.
        .layer(tower_http::compression::CompressionLayer::new())
        .layer(TraceLayer::new_for_http())
        .layer(axum::middleware::from_fn(api_version::negotiate))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::count_responses,
        ))
        .with_state(state)
}

/// Liveness: the process answers. It does not touch the database, so a slow database does not get
/// a healthy process restarted.
async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the database answers, so a load balancer may send traffic here.
async fn readyz(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    state.storage.ping().await.map_err(ApiError::storage)?;
    Ok((StatusCode::OK, "ready"))
}

/// Public facts a tablet needs before enrollment: what it is talking to and which signed-event
/// format it speaks. Nothing here is secret.
async fn meta(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "service": "baton",
        "version": env!("CARGO_PKG_VERSION"),
        "event_format_version": baton_core::event::ENVELOPE_VERSION,
        "api_versions": {
            "min": api_version::OLDEST_SUPPORTED,
            "max": baton_core::request::API_VERSION,
        },
        "storage_backend": state.storage.backend().name(),
        // Public: auditors compare it with the key they were given out of band before they
        // trust a bundle's signed tree head.
        "server_public_key": state.server_key.current().public_key().to_hex(),
    }))
}

/// The keys receivers verify Baton's logout tokens and security event tokens with. Public.
async fn jwks(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let history = state
        .server_key
        .refresh_history(state.storage.as_ref())
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(crate::jwt::jwks(history.keys.keys().iter())))
}

/// The server key's history (docs/PROTOCOL.md §3.9): every rotation, signed by the key it
/// retired and the key it introduced. Public, like the JWKS: tablets and auditors check the
/// signatures, so they need not trust this answer.
async fn server_keys(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let history = state
        .server_key
        .refresh_history(state.storage.as_ref())
        .await
        .map_err(ApiError::internal)?;
    let rotations: Vec<serde_json::Value> = history
        .rotations
        .iter()
        .map(baton_core::key_rotation::SignedKeyRotation::to_json_value)
        .collect();
    Ok(Json(serde_json::json!({
        "signing_key": state.server_key.current().public_key().to_hex(),
        "newest_key": history.keys.current().to_hex(),
        "rotations": rotations,
    })))
}

async fn api_not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "No such API endpoint; see docs/PROTOCOL.md for the versioned routes.",
    )
}
