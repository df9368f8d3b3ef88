//! The confirmation a nurse sees once a handoff is committed to the tablet's storage: which
//! device, which person, when. It is only ever shown after the write succeeded.

use leptos::prelude::*;

use crate::strings;

/// What the confirmation says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmation {
    pub message: String,
    /// The event id, shortened, for support.
    pub record: String,
}

#[component]
pub fn HandoffReceipt(confirmation: Confirmation) -> impl IntoView {
    view! {
        <div class="card receipt" role="status" aria-live="polite" data-testid="confirmation">
            <p class="receipt-title">{confirmation.message}</p>
            <p>{strings::SAVED_ON_TABLET}</p>
            <p class="record-id">{confirmation.record}</p>
        </div>
    }
}
