use leptos::prelude::*;
use leptos_router::components::{FlatRoutes, ParentRoute, Route, Router, Routes};
use leptos_router::path;

use crate::components::clock_warning::ClockWarning;
use crate::components::lock_screen::LockScreen;
use crate::components::network_status::NetworkStatus;
use crate::components::require_enrolled::RequireEnrolled;
use crate::components::sync_status::SyncStatus;
use crate::components::update_ready::UpdateReady;
use crate::components::wipe_notice::WipeNotice;
use crate::pages::dashboard::{
    Admin, DashboardBoard, DashboardShell, DeviceView, Exceptions, PersonView, Reports,
    ShiftChange, Tablets,
};
use crate::pages::{
    board::Board, break_glass::BreakGlass, check_in::CheckIn, correct::Correct, enroll::Enroll,
    hand_out::HandOut, home::Home, not_found::NotFound, report::Report, tablet_key::TabletKeyPage,
    this_device::ThisDevicePage, transfer::Transfer,
};
use crate::state::AppState;
use crate::strings;
use crate::tablet::lock::Lock;

/// The tablet: offline-first capture screens around the enrolled tablet's state.
#[component]
pub fn TabletApp() -> impl IntoView {
    let state = AppState::new();
    provide_context(state);
    state.boot();
    view! {
        <Router>
            <header class="top-bar">
                <a class="brand" href="/">{strings::PRODUCT_NAME}</a>
                <div class="top-status">
                    <UpdateReady />
                    <NetworkStatus />
                    <SyncStatus />
                </div>
            </header>
            <main id="main">
                <ClockWarning />
                <WipeNotice />
                // While locked only the lock screen exists: the pages are not merely hidden.
                // The tablet's routes are flat, so `FlatRoutes`: the router without nested-route
                // matching, about 10 KB brotli less than `Routes` (BENCHMARKS.md, the bundle).
                <Show when=move || state.lock.get() == Lock::Unlocked fallback=LockScreen>
                <FlatRoutes fallback=NotFound>
                    <Route path=path!("/") view=Home />
                    <Route path=path!("/enroll") view=Enroll />
                    <Route
                        path=path!("/check-in")
                        view=|| view! { <RequireEnrolled><CheckIn /></RequireEnrolled> }
                    />
                    <Route
                        path=path!("/hand-out")
                        view=|| view! { <RequireEnrolled><HandOut /></RequireEnrolled> }
                    />
                    <Route
                        path=path!("/transfer")
                        view=|| view! { <RequireEnrolled><Transfer /></RequireEnrolled> }
                    />
                    <Route
                        path=path!("/break-glass")
                        view=|| view! { <RequireEnrolled><BreakGlass /></RequireEnrolled> }
                    />
                    <Route
                        path=path!("/correct/:id")
                        view=|| view! { <RequireEnrolled><Correct /></RequireEnrolled> }
                    />
                    <Route
                        path=path!("/report")
                        view=|| view! { <RequireEnrolled><Report /></RequireEnrolled> }
                    />
                    <Route
                        path=path!("/board")
                        view=|| view! { <RequireEnrolled><Board /></RequireEnrolled> }
                    />
                    <Route
                        path=path!("/this-device")
                        view=|| view! { <RequireEnrolled><ThisDevicePage /></RequireEnrolled> }
                    />
                    <Route
                        path=path!("/tablet-key")
                        view=|| view! { <RequireEnrolled><TabletKeyPage /></RequireEnrolled> }
                    />
                </FlatRoutes>
                </Show>
            </main>
        </Router>
    }
}

/// The manager dashboard: no tablet state, no service worker; everything comes from the server.
#[component]
pub fn DashboardApp() -> impl IntoView {
    view! {
        <Router>
            <header class="top-bar">
                <a class="brand" href="/dashboard">{strings::PRODUCT_NAME}</a>
            </header>
            <main id="main">
                <Routes fallback=NotFound>
                    <ParentRoute path=path!("/dashboard") view=DashboardShell>
                        <Route path=path!("") view=DashboardBoard />
                        <Route path=path!("exceptions") view=Exceptions />
                        <Route path=path!("devices/:id") view=DeviceView />
                        <Route path=path!("people/:id") view=PersonView />
                        <Route path=path!("tablets") view=Tablets />
                        <Route path=path!("shift-change") view=ShiftChange />
                        <Route path=path!("reports") view=Reports />
                        <Route path=path!("admin") view=Admin />
                    </ParentRoute>
                </Routes>
            </main>
        </Router>
    }
}
