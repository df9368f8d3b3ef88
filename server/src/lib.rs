//! Baton's sync server: thin by design. It verifies, stores, merges and serves; the custody rules
//! live in `baton-core`.
//!
//! # Layout
//! - `config`: command-line flags and environment variables (clap), the single source of
//!   configuration.
//! - `storage`: the `Storage` trait and its two backends, `storage::sqlite` (embedded default)
//!   and `storage::postgres` (scale-out), each with its own migrations under `migrations/`,
//!   applied forward-only by `storage::schema`, which refuses a schema newer than the binary.
//! - `accounts`: the rules of a dashboard account (username, password length, role and site),
//!   shared by `baton create-account` and the admin API.
//! - `seed`: synthetic demo data for a first start (`--demo`), with PIN verifiers and the
//!   manager's password hashed by argon2id.
//! - `site_config`: a site's configuration (core's `SiteRules` plus tablet settings).
//! - `server_key`: the server's ed25519 key, kept in an owner-only file.
//! - `connectors`: the revocation connectors (signed webhook, back-channel logout, CAEP, RFC
//!   7009) and their configuration file.
//! - `token_revocation`: the OAuth 2.0 Token Revocation (RFC 7009) client that revokes the
//!   tokens apps registered for a custody; `token_vault`: the AES-256-GCM key, in an
//!   owner-only file, that seals those tokens at rest.
//! - `jwt`: compact JWS (EdDSA) for logout tokens and security event tokens, and the JWKS.
//! - `delivery_worker`: sends revocations to connectors with retries, backoff, a dead letter,
//!   and ledgers each outcome.
//! - `revocation`: which access to close when custody changes, decided from the fold, and
//!   whether a custody-bound token's custody is still open.
//! - `report`: the figures of the site report (handoffs per shift, revocation, overdue series,
//!   exceptions, controls) and the custody CSV, as plain functions of data already read.
//! - `registry_import`: CSV import of staff and devices, checked row by row before writing.
//! - `enrollment`: single-use enrollment codes, stored only as hashes.
//! - `ledger`: signed tree heads (refused when the stored log does not extend the last one) and
//!   proofs computed from stored nodes; the background head signer.
//! - `sync`: each site's in-memory `core::Replica`, caught up from storage before every use;
//!   `sync::authority` signs and stores the events a manager orders, as the authority.
//! - `syslog`: forwarding ledger entries to a syslog collector (RFC 5424), resumable.
//! - `verify`: `baton verify`, the offline check of an audit bundle.
//! - `http`: the axum router (`http::app`): tablet enrollment and signed sync requests, manager
//!   sign-in with sessions and CSRF, static serving of the built PWA with its caching rules,
//!   security headers, and the error type every handler returns.
//! - `serve`: start-up, logging and graceful shutdown; `baton migrate` and the small
//!   subcommands.
//! - `tls`: built-in HTTPS (rustls): the certificate and key files, checked, re-read when they
//!   change, and the listener that hands `axum::serve` TLS streams.
//! - `backup`: `baton backup`, a consistent online copy of the SQLite database (VACUUM INTO),
//!   or the pg_dump command for PostgreSQL.

pub mod accounts;
pub mod backup;
pub mod config;
pub mod connectors;
pub mod delivery_worker;
pub mod enrollment;
pub mod http;
pub mod jwt;
pub mod ledger;
pub mod registry_import;
pub mod report;
pub mod restore;
pub mod revocation;
pub mod seed;
pub mod serve;
pub mod server_key;
pub mod site_config;
pub mod storage;
pub mod sync;
pub mod syslog;
pub mod tls;
pub mod token_revocation;
pub mod token_vault;
pub mod verify;
