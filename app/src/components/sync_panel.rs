//! The sync details on the board: the last failure, every handoff the server refused, and every
//! one it will take later (a `future_timestamp`), each with its reason, so that a person can act
//! on it.

use leptos::prelude::*;

use crate::browser::clock::format_time;
use crate::state::AppState;
use crate::strings;
use crate::tablet::{OwnEvent, Tablet};

/// One line per event: its id, what it was, and the server's reason.
fn listed<'a>(
    tablet: &Tablet,
    events: impl Iterator<Item = &'a OwnEvent>,
) -> Vec<(String, String, String)> {
    events
        .map(|own| {
            let device = own.event.body().device().to_string();
            let tag = tablet
                .roster
                .device(&device)
                .map_or(device, |device| device.asset_tag.clone());
            let reason = own
                .receipt
                .as_ref()
                .and_then(|receipt| receipt.reason.clone());
            (
                own.event.id().to_hex(),
                format!(
                    "{} · {} · {}",
                    tag,
                    own.event.body().type_name(),
                    format_time(own.event.wall_ms())
                ),
                reason.map_or_else(String::new, |reason| {
                    format!("{}: {}", reason.code, reason.message)
                }),
            )
        })
        .collect::<Vec<_>>()
}

/// A list of listed events, or nothing when empty.
fn event_list(
    heading: &'static str,
    hint: &'static str,
    test_id: &'static str,
    events: Vec<(String, String, String)>,
) -> Option<impl IntoView> {
    (!events.is_empty()).then(|| {
        view! {
            <h3>{heading}</h3>
            <p>{hint}</p>
            <ul class="refused-list" data-testid=test_id>
                {events
                    .into_iter()
                    .map(|(event_id, what, reason)| {
                        view! {
                            <li>
                                <strong>{what}</strong>
                                <span class="reason">{reason}</span>
                                <code>{event_id}</code>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        }
    })
}

#[component]
pub fn SyncPanel() -> impl IntoView {
    let state = expect_context::<AppState>();
    let refused = move || {
        state.tablet.with(|tablet| {
            tablet
                .as_ref()
                .map(|tablet| listed(tablet, tablet.refused()))
                .unwrap_or_default()
        })
    };
    let retrying = move || {
        state.tablet.with(|tablet| {
            tablet
                .as_ref()
                .map(|tablet| listed(tablet, tablet.retrying()))
                .unwrap_or_default()
        })
    };
    view! {
        <section class="sync-panel" id="sync" aria-labelledby="sync-heading">
            <h2 id="sync-heading">{strings::SYNC_HEADING}</h2>
            {move || {
                state
                    .sync
                    .with(|sync| sync.last_error.clone())
                    .map(|message| {
                        view! { <p class="error" role="alert">{strings::SYNC_FAILED} " " {message}</p> }
                    })
            }}
            {move || {
                let n_skipped = state.sync.with(|sync| sync.n_skipped);
                (n_skipped > 0).then(|| view! { <p class="warning">{strings::skipped_events(n_skipped)}</p> })
            }}
            {move || {
                let refused = refused();
                let failed = state.sync.with(|sync| sync.last_error.is_some());
                (refused.is_empty() && retrying().is_empty() && !failed)
                    .then(|| view! { <p>{strings::SYNC_ALL_WELL}</p> })
            }}
            {move || {
                event_list(
                    strings::RETRYING_HEADING,
                    strings::RETRYING_HINT,
                    "retrying-list",
                    retrying(),
                )
            }}
            {move || {
                event_list(
                    strings::REFUSED_HEADING,
                    strings::REFUSED_HINT,
                    "refused-list",
                    refused(),
                )
            }}
        </section>
    }
}
