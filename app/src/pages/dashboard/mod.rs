//! The manager dashboard: a session gate with its navigation (`DashboardShell`) around the
//! board, the exceptions queue, device and person timelines, tablets, and reports with the audit
//! export. Every view reads the server's dashboard API; the live stream refreshes what is shown.

mod accounts;
mod admin;
mod board;
mod connectors;
mod device;
mod exceptions;
mod person;
mod reports;
mod shift_change;
mod sign_in;
mod site_admin;
mod site_settings;
mod tablets;

use std::collections::BTreeMap;

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::{A, Outlet};
use serde::de::DeserializeOwned;

pub use admin::Admin;
pub use board::DashboardBoard;
pub use device::DeviceView;
pub use exceptions::Exceptions;
pub use person::PersonView;
pub use reports::Reports;
pub use shift_change::ShiftChange;
pub use tablets::Tablets;

use crate::browser::dashboard_api::{self, LiveStream};
use crate::dashboard::api::{Session, StaffPage, paths};
use crate::strings::dash;
use crate::sync::TransportError;

/// Whether someone is signed in on this browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionState {
    Checking,
    SignedOut { notice: Option<String> },
    SignedIn(Session),
}

/// What every dashboard view shares: the session, people's names, and a counter the live stream
/// bumps so that views reload.
#[derive(Clone, Copy)]
pub struct DashboardContext {
    pub session: RwSignal<SessionState>,
    pub names: RwSignal<BTreeMap<String, String>>,
    pub revision: RwSignal<u64>,
    pub live: RwSignal<bool>,
}

impl DashboardContext {
    pub fn session(&self) -> Option<Session> {
        match self.session.get() {
            SessionState::SignedIn(session) => Some(session),
            _ => None,
        }
    }

    pub fn may_act(&self) -> bool {
        self.session().is_some_and(|session| session.may_act())
    }

    /// A person's name, or their staff number when the roster does not know them.
    pub fn name(&self, staff_id: &str) -> String {
        self.names.with(|names| {
            names
                .get(staff_id)
                .cloned()
                .unwrap_or_else(|| staff_id.to_owned())
        })
    }

    /// The message to show for a failed request; an expired session sends the manager back to
    /// the sign-in form.
    pub fn failure(&self, error: TransportError) -> String {
        match error {
            TransportError::Refused { status: 401, .. } => {
                self.session.set(SessionState::SignedOut {
                    notice: Some(dash::SESSION_ENDED.to_owned()),
                });
                dash::SESSION_ENDED.to_owned()
            }
            TransportError::Refused { message, .. } => message,
            TransportError::Unreachable(_) => dash::UNREACHABLE.to_owned(),
            TransportError::BadAnswer(detail) => detail,
        }
    }
}

/// What a view has loaded.
#[derive(Debug, Clone, PartialEq)]
pub enum Loaded<T> {
    Loading,
    Ready(T),
    Failed(String),
}

/// Loads `path` into `target` now and again at every change the live stream announces, and
/// whenever the signals `path` reads change; an empty path asks for nothing.
pub fn load_live<T>(
    context: DashboardContext,
    path: impl Fn() -> String + 'static,
    target: RwSignal<Loaded<T>>,
) where
    T: DeserializeOwned + Send + Sync + 'static,
{
    // Only the newest request's answer is shown: a search typed a letter at a time sends one
    // request per letter, and an older answer may arrive last.
    let latest = StoredValue::new(0_u64);
    Effect::new(move |_| {
        context.revision.track();
        let path = path();
        let request = latest.get_value() + 1;
        latest.set_value(request);
        // An empty path: the view does not know what to ask yet (a choice still to be made).
        if path.is_empty() {
            return;
        }
        spawn_local(async move {
            let loaded = match dashboard_api::get::<T>(&path).await {
                Ok(value) => Loaded::Ready(value),
                Err(error) => Loaded::Failed(context.failure(error)),
            };
            if latest.get_value() == request {
                target.set(loaded);
            }
        });
    });
}

/// The message of a view that has not loaded (yet).
pub fn not_loaded<T>(loaded: &Loaded<T>) -> Option<AnyView> {
    match loaded {
        Loaded::Loading => {
            Some(view! { <p class="subtle" role="status">{dash::LOADING}</p> }.into_any())
        }
        Loaded::Failed(message) => {
            Some(view! { <p class="error" role="alert">{message.clone()}</p> }.into_any())
        }
        Loaded::Ready(_) => None,
    }
}

/// The session gate, the navigation and the live stream around every dashboard view.
#[component]
pub fn DashboardShell() -> impl IntoView {
    let context = DashboardContext {
        session: RwSignal::new(SessionState::Checking),
        names: RwSignal::new(BTreeMap::new()),
        revision: RwSignal::new(0),
        live: RwSignal::new(false),
    };
    provide_context(context);
    spawn_local(async move {
        let state = match dashboard_api::current_session().await {
            Ok(Some(session)) => SessionState::SignedIn(session),
            Ok(None) => SessionState::SignedOut { notice: None },
            Err(error) => SessionState::SignedOut {
                notice: Some(context.failure(error)),
            },
        };
        context.session.set(state);
    });
    // Signed in to a site: names for the views, and the live stream for as long as the session
    // lasts. An admin of every site has neither: both belong to a site.
    let stream = StoredValue::new_local(None::<LiveStream>);
    Effect::new(move |_| {
        let signed_in_to_a_site = matches!(
            context.session.get(),
            SessionState::SignedIn(session) if session.site_id.is_some()
        );
        if !signed_in_to_a_site {
            stream.set_value(None);
            return;
        }
        spawn_local(async move {
            if let Ok(page) = dashboard_api::get::<StaffPage>(paths::STAFF).await {
                context.names.set(
                    page.staff
                        .into_iter()
                        .map(|person| (person.staff_id, person.display_name))
                        .collect(),
                );
            }
        });
        let opened = LiveStream::open(
            move || context.revision.update(|revision| *revision += 1),
            move |live| context.live.set(live),
        );
        stream.set_value(opened.ok());
    });
    move || match context.session.get() {
        SessionState::Checking => {
            view! { <p class="starting" role="status">{dash::CHECKING_SESSION}</p> }.into_any()
        }
        SessionState::SignedOut { notice } => {
            view! { <sign_in::SignIn notice=notice /> }.into_any()
        }
        SessionState::SignedIn(session) => view! {
            <div class="dashboard">
                <DashboardNav session=session />
                <Outlet />
            </div>
        }
        .into_any(),
    }
}

#[component]
fn DashboardNav(session: Session) -> impl IntoView {
    let context = expect_context::<DashboardContext>();
    let read_only = !session.may_act();
    let sign_out = {
        let session = session.clone();
        move |_| {
            let session = session.clone();
            spawn_local(async move {
                let _ = dashboard_api::sign_out(&session).await;
                context
                    .session
                    .set(SessionState::SignedOut { notice: None });
            });
        }
    };
    view! {
        <nav class="dash-nav" aria-label=dash::NAV_LABEL>
            <A href="/dashboard" exact=true>{dash::NAV_BOARD}</A>
            <A href="/dashboard/exceptions">{dash::NAV_EXCEPTIONS}</A>
            <A href="/dashboard/tablets">{dash::NAV_TABLETS}</A>
            <A href="/dashboard/shift-change">{dash::NAV_SHIFT_CHANGE}</A>
            <A href="/dashboard/reports">{dash::NAV_REPORTS}</A>
            <A href="/dashboard/admin">{dash::NAV_ADMIN}</A>
            <span class="dash-who">
                {session.site_id.is_some().then(|| view! {
                    <span
                        class="live"
                        class:live-on=move || context.live.get()
                        data-testid="live-indicator"
                    >
                        {move || if context.live.get() { dash::LIVE } else { dash::RECONNECTING }}
                    </span>
                })}
                {read_only.then(|| view! { <span class="flag">{dash::READ_ONLY}</span> })}
                <span class="subtle">{session.username.clone()}</span>
                <button type="button" class="secondary" on:click=sign_out>
                    {dash::SIGN_OUT}
                </button>
            </span>
        </nav>
    }
}
