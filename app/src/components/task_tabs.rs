//! The tasks of the tablet, always one touch away.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::strings;

#[component]
pub fn TaskTabs() -> impl IntoView {
    view! {
        <nav class="task-tabs" aria-label=strings::NAV_LABEL>
            <A href="/" exact=true>{strings::NAV_CHECK_OUT}</A>
            <A href="/check-in">{strings::NAV_CHECK_IN}</A>
            <A href="/hand-out">{strings::NAV_HAND_OUT}</A>
            <A href="/transfer">{strings::NAV_TRANSFER}</A>
            <A href="/report">{strings::NAV_REPORT}</A>
            <A href="/board">{strings::NAV_BOARD}</A>
        </nav>
    }
}
