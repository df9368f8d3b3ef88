//! The confirmation a nurse sees once a handoff is committed to the tablet's storage: which
//! device, which person, when. It is only ever shown after the write succeeded.

use leptos::prelude::*;

use crate::strings;

/// Shows the outcome of committing a handoff: the confirmation, built by `message` from the
/// event's time, once the write succeeded; otherwise why nothing was recorded. Returns whether
/// the handoff was committed.
pub fn show_outcome(
    committed: Result<baton_core::event::SignedEvent, String>,
    message: impl FnOnce(&str) -> String,
    confirmation: RwSignal<Option<Confirmation>>,
    error: RwSignal<Option<String>>,
) -> bool {
    match committed {
        Ok(event) => {
            confirmation.set(Some(Confirmation {
                message: message(&crate::browser::clock::format_time(event.wall_ms())),
                record: event.id().to_hex()[..16].to_owned(),
            }));
            true
        }
        Err(message) => {
            error.set(Some(format!("{} {message}", strings::STORAGE_WRITE_FAILED)));
            false
        }
    }
}

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
