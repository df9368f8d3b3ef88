//! Registers `/sw.js`, which precaches the app shell so that the app starts without a network.

use wasm_bindgen_futures::JsFuture;

pub fn register() {
    let Some(window) = web_sys::window() else {
        return;
    };
    let container = window.navigator().service_worker();
    wasm_bindgen_futures::spawn_local(async move {
        // A failed registration leaves the app working online; say so in the console for support.
        if let Err(error) = JsFuture::from(container.register("/sw.js")).await {
            web_sys::console::warn_1(&error);
        }
    });
}
