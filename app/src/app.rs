use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

use crate::components::network_status::NetworkStatus;
use crate::pages::{dashboard::Dashboard, home::Home, not_found::NotFound};
use crate::strings;

#[component]
pub fn App() -> impl IntoView {
    view! {
        <Router>
            <header class="top-bar">
                <a class="brand" href="/">{strings::PRODUCT_NAME}</a>
                <NetworkStatus />
            </header>
            <main id="main">
                <Routes fallback=NotFound>
                    <Route path=path!("/") view=Home />
                    <Route path=path!("/dashboard") view=Dashboard />
                </Routes>
            </main>
        </Router>
    }
}
