//! The start screen: check-out on an enrolled tablet, the enrollment page on a new one.

use leptos::prelude::*;

use super::check_out::CheckOut;
use crate::components::require_enrolled::RequireEnrolled;

#[component]
pub fn Home() -> impl IntoView {
    view! {
        <RequireEnrolled>
            <CheckOut />
        </RequireEnrolled>
    }
}
