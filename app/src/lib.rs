//! Baton's progressive web app: the tablet's capture screens and the manager dashboard, rendered
//! in the browser from WebAssembly. Two binaries mount it: `baton-app` (the tablet, offline-first,
//! served at `/`) and `baton-dashboard` (the manager dashboard, online, served at `/dashboard`),
//! so that tablets never download the dashboard's code.
//!
//! # Layout
//! - `app`: the two root components, `TabletApp` and `DashboardApp`, and their routes.
//! - `state`: the shared state (enrollment phase, the tablet, sync), start-up, enrollment and
//!   the commit of a handoff.
//! - `key_rotation`: the rotation of the tablet's own signing key, and the settling of a new
//!   key whose answer from the server never arrived.
//! - `pages`: one module per route, each about one task of a nurse or a manager.
//! - `components`: reusable widgets, one per file.
//! - `tablet`: the tablet's domain without browser APIs: roster, PINs, shifts, the bodies it
//!   captures, its chain and replica, the board. Tested natively.
//! - `dashboard`: the manager dashboard's domain without browser APIs: API answers, board
//!   filters, chart geometry, formats. Tested natively.
//! - `sync`: the sync client (push, pull, roster) and its scheduler.
//! - `browser`: the few modules that touch browser APIs (IndexedDB, WebCrypto, fetch, clock,
//!   service worker, the origin's caches and storage for the session wipe, input events for the
//!   lockout), so that pages stay about the nurse's task.
//! - `strings`: every user-visible sentence, kept in one place for translation.

mod app;
mod browser;
mod components;
mod dashboard;
mod key_rotation;
mod pages;
mod state;
mod strings;
mod sync;
mod tablet;

/// Starts the tablet app: the offline shell's service worker, then the capture screens.
pub fn start_tablet() {
    console_error_panic_hook::set_once();
    browser::service_worker::register();
    leptos::mount::mount_to_body(app::TabletApp);
}

/// Starts the manager dashboard. It needs the network, so it registers no service worker.
pub fn start_dashboard() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::DashboardApp);
}
