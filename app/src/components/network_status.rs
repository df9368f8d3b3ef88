//! Online or offline, always visible: a nurse must know whether a handoff has left the tablet.

use leptos::ev;
use leptos::prelude::*;

use crate::strings;

#[component]
pub fn NetworkStatus() -> impl IntoView {
    let online = RwSignal::new(window().navigator().on_line());
    let online_handle = window_event_listener(ev::online, move |_| online.set(true));
    let offline_handle = window_event_listener(ev::offline, move |_| online.set(false));
    on_cleanup(move || {
        online_handle.remove();
        offline_handle.remove();
    });
    view! {
        <p
            class="network-status"
            class:offline=move || !online.get()
            role="status"
            aria-live="polite"
            data-testid="network-status"
        >
            {move || if online.get() { strings::ONLINE } else { strings::OFFLINE }}
        </p>
    }
}
