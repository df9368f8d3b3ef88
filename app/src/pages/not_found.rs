use leptos::prelude::*;

use crate::strings;

#[component]
pub fn NotFound() -> impl IntoView {
    view! {
        <section>
            <h1>{strings::NOT_FOUND_HEADING}</h1>
            <a href="/">{strings::BACK_HOME}</a>
        </section>
    }
}
