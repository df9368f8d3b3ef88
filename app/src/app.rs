use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

use crate::components::network_status::NetworkStatus;
use crate::components::require_enrolled::RequireEnrolled;
use crate::components::sync_status::SyncStatus;
use crate::pages::{
    board::Board, check_in::CheckIn, dashboard::Dashboard, enroll::Enroll, home::Home,
    not_found::NotFound,
};
use crate::state::AppState;
use crate::strings;

#[component]
pub fn App() -> impl IntoView {
    let state = AppState::new();
    provide_context(state);
    state.boot();
    view! {
        <Router>
            <header class="top-bar">
                <a class="brand" href="/">{strings::PRODUCT_NAME}</a>
                <div class="top-status">
                    <NetworkStatus />
                    <SyncStatus />
                </div>
            </header>
            <main id="main">
                <Routes fallback=NotFound>
                    <Route path=path!("/") view=Home />
                    <Route path=path!("/enroll") view=Enroll />
                    <Route
                        path=path!("/check-in")
                        view=|| view! { <RequireEnrolled><CheckIn /></RequireEnrolled> }
                    />
                    <Route
                        path=path!("/board")
                        view=|| view! { <RequireEnrolled><Board /></RequireEnrolled> }
                    />
                    <Route path=path!("/dashboard") view=Dashboard />
                </Routes>
            </main>
        </Router>
    }
}
