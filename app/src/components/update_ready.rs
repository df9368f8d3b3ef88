//! "A new version is ready": shown in the top bar once a new build has installed, applied when
//! the nurse taps it (between handoffs), or at the next start of the app.

use leptos::prelude::*;
use web_sys::ServiceWorkerRegistration;

use crate::browser::service_worker::{apply_update, watch_updates};
use crate::strings;

#[component]
pub fn UpdateReady() -> impl IntoView {
    let ready = RwSignal::new_local(None::<ServiceWorkerRegistration>);
    watch_updates(ready);
    move || {
        ready.get().map(|registration| {
            view! {
                <button
                    type="button"
                    class="update-ready"
                    data-testid="update-ready"
                    on:click=move |_| apply_update(&registration)
                >
                    {strings::UPDATE_READY}
                </button>
            }
        })
    }
}
