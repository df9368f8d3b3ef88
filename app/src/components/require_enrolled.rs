//! Shows its children only on an enrolled tablet: an unenrolled one goes to `/enroll`.

use leptos::prelude::*;
use leptos_router::components::Redirect;

use crate::state::{AppState, Phase};
use crate::strings;

#[component]
pub fn RequireEnrolled(children: ChildrenFn) -> impl IntoView {
    let state = expect_context::<AppState>();
    move || match state.phase.get() {
        Phase::Starting => {
            view! { <p class="starting" role="status">{strings::STARTING}</p> }.into_any()
        }
        Phase::Unenrolled => view! { <Redirect path="/enroll" /> }.into_any(),
        Phase::Ready => children().into_any(),
        Phase::Failed(message) => view! {
            <section>
                <h1>{strings::START_FAILED_HEADING}</h1>
                <p class="error" role="alert">{message}</p>
            </section>
        }
        .into_any(),
    }
}
