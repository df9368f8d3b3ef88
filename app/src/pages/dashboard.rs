//! The manager dashboard's entry point.

use leptos::prelude::*;

use crate::strings;

#[component]
pub fn Dashboard() -> impl IntoView {
    view! {
        <section class="dashboard">
            <h1>{strings::DASHBOARD_HEADING}</h1>
            <p>{strings::DASHBOARD_SIGN_IN_NEEDED}</p>
        </section>
    }
}
