//! The person's input, for the inactivity lockout (`tablet::lock`): a touch, a pointer press, a
//! key or a scroll anywhere on the page. A barcode scanner types keys, so a scan counts too.

use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;

/// The events that count as someone using the tablet.
const INPUT_EVENTS: [&str; 4] = ["pointerdown", "keydown", "touchstart", "wheel"];

/// Calls `on_input` at every input, for the life of the page.
pub fn watch_input(on_input: impl Fn() + 'static) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let listener = Closure::<dyn Fn()>::new(on_input).into_js_value();
    for name in INPUT_EVENTS {
        // Capturing, so that a field that stops propagation still counts as input.
        let _ =
            window.add_event_listener_with_callback_and_bool(name, listener.unchecked_ref(), true);
    }
}
