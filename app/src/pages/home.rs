//! The start screen of a tablet.

use leptos::prelude::*;

use crate::browser::keys;
use crate::strings;

#[component]
pub fn Home() -> impl IntoView {
    // Generating a key proves, on every start, that this browser can give the app the secure
    // randomness signing needs; enrollment will keep the key.
    let key_line = match keys::generate_signing_key() {
        Ok(signing_key) => view! {
            <p class="key-status">
                {strings::KEY_READY} " "
                <code data-testid="key-fingerprint">{keys::fingerprint(&signing_key.verifying_key())}</code>
            </p>
        }
        .into_any(),
        Err(error) => view! { <p class="error" role="alert">{strings::KEY_FAILED} " " {error}</p> }.into_any(),
    };
    view! {
        <section class="home">
            <h1>{strings::HOME_HEADING}</h1>
            <p class="tagline">{strings::HOME_TAGLINE}</p>
            <p class="enrollment-status">{strings::NOT_ENROLLED}</p>
            {key_line}
            <p class="format-version">
                {strings::EVENT_FORMAT} " " {baton_core::event::ENVELOPE_VERSION}
            </p>
        </section>
    }
}
