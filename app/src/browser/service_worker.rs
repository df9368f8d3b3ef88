//! Registers `/sw.js`, which precaches the app shell so that the app starts without a network,
//! and applies a new version at a safe moment.
//!
//! A new build is a new service worker; it installs in the background and then waits, so the code
//! never changes under a nurse in the middle of a handoff. It takes over when the app starts (no
//! handoff can be in progress then), or when someone taps "Update" in the top bar. The page asks
//! the waiting worker to skip waiting and reloads once it controls the page.

use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use wasm_bindgen_futures::JsFuture;
use web_sys::{ServiceWorkerContainer, ServiceWorkerRegistration, ServiceWorkerState};

/// How often a running tablet asks whether a new version was deployed.
const UPDATE_CHECK_MS: i32 = 30 * 60 * 1000;

fn container() -> Option<ServiceWorkerContainer> {
    Some(web_sys::window()?.navigator().service_worker())
}

pub fn register() {
    let Some(container) = container() else {
        return;
    };
    wasm_bindgen_futures::spawn_local(async move {
        // A failed registration leaves the app working online; say so in the console for support.
        if let Err(error) = JsFuture::from(container.register("/sw.js")).await {
            web_sys::console::warn_1(&error);
        }
    });
}

/// Asks the server for a new version now, rather than at the next periodic check: the server
/// said it no longer speaks this app's API version. The new worker installs and waits; the top
/// bar's "Update ready" then applies it at a moment the nurse chooses.
pub fn check_for_update_now() {
    let Some(container) = container() else {
        return;
    };
    wasm_bindgen_futures::spawn_local(async move {
        let Ok(ready) = container.ready() else {
            return;
        };
        if let Ok(registration) = JsFuture::from(ready).await {
            let registration: ServiceWorkerRegistration = registration.unchecked_into();
            let _ = registration.update();
        }
    });
}

/// Asks the waiting worker to take over; the page reloads when it does.
pub fn apply_update(registration: &ServiceWorkerRegistration) {
    let (Some(container), Some(waiting)) = (container(), registration.waiting()) else {
        return;
    };
    let reload = Closure::<dyn FnMut()>::once(|| {
        if let Some(window) = web_sys::window() {
            let _ = window.location().reload();
        }
    });
    container.set_oncontrollerchange(Some(reload.as_ref().unchecked_ref()));
    reload.forget();
    let message = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&message, &"type".into(), &"SKIP_WAITING".into());
    let _ = waiting.post_message(&message);
}

/// Watches for a new version: `ready` holds the registration once a new worker has installed and
/// waits. A version already waiting when the app starts is applied at once.
pub fn watch_updates(ready: RwSignal<Option<ServiceWorkerRegistration>, LocalStorage>) {
    let Some(container) = container() else {
        return;
    };
    wasm_bindgen_futures::spawn_local(async move {
        let Ok(ready_promise) = container.ready() else {
            return;
        };
        let Ok(registration) = JsFuture::from(ready_promise).await else {
            return;
        };
        let registration: ServiceWorkerRegistration = registration.unchecked_into();
        if registration.waiting().is_some() && container.controller().is_some() {
            apply_update(&registration);
            return;
        }
        let found = registration.clone();
        let on_update_found = Closure::<dyn FnMut()>::new(move || {
            let Some(installing) = found.installing() else {
                return;
            };
            let registration = found.clone();
            let watched = installing.clone();
            let on_state = Closure::<dyn FnMut()>::new(move || {
                let has_controller = container_has_controller();
                if watched.state() == ServiceWorkerState::Installed && has_controller {
                    ready.set(Some(registration.clone()));
                }
            });
            installing.set_onstatechange(Some(on_state.as_ref().unchecked_ref()));
            on_state.forget();
        });
        registration.set_onupdatefound(Some(on_update_found.as_ref().unchecked_ref()));
        on_update_found.forget();
        let checker = registration.clone();
        let check = Closure::<dyn FnMut()>::new(move || {
            let _ = checker.update();
        });
        if let Some(window) = web_sys::window() {
            let _ = window.set_interval_with_callback_and_timeout_and_arguments_0(
                check.as_ref().unchecked_ref(),
                UPDATE_CHECK_MS,
            );
        }
        check.forget();
    });
}

fn container_has_controller() -> bool {
    container().is_some_and(|container| container.controller().is_some())
}
