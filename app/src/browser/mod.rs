//! The app's only contact with browser APIs beyond the DOM, each behind a small module so that
//! pages stay about the nurse's task.
//!
//! - `store`: the `EventStore` trait and its in-memory implementation (tests).
//! - `idb`: the IndexedDB implementation, with the enrollment and the sealed key.
//! - `crypto`: WebCrypto AES-GCM sealing of the signing key.
//! - `http`: `fetch`, and requests signed with the tablet's key.
//! - `dashboard_api`: the dashboard's session requests and its live stream (`EventSource`).
//! - `keys`: ed25519 key generation from the browser's secure random source.
//! - `clock`: the wall clock and local times.
//! - `service_worker`: registration of the offline shell.
//! - `site_data`: the origin's caches, storage, databases and cookies, surveyed and wiped at the
//!   end of this device's custody.
//! - `activity`: the person's input, for the inactivity lockout.

pub mod activity;
pub mod clock;
pub mod crypto;
pub mod dashboard_api;
pub mod http;
pub mod idb;
pub mod keys;
pub mod service_worker;
pub mod site_data;
pub mod store;
