//! Baton's progressive web app: the tablet's capture screens and the manager dashboard, rendered
//! in the browser from WebAssembly.
//!
//! # Layout
//! - `app`: the root component and its routes.
//! - `pages`: one module per route, each about one task of a nurse or a manager.
//! - `components`: reusable widgets, one per file.
//! - `browser`: the few modules that touch browser APIs (service worker, WebCrypto randomness),
//!   so that pages stay about the nurse's task.
//! - `strings`: every user-visible sentence, kept in one place for translation.

mod app;
mod browser;
mod components;
mod pages;
mod strings;

fn main() {
    console_error_panic_hook::set_once();
    browser::service_worker::register();
    leptos::mount::mount_to_body(app::App);
}
