//! The sync details on the board: the last failure, and every handoff the server refused, with
//! its reason, so that a person can act on it.

use leptos::prelude::*;

use crate::browser::clock::format_time;
use crate::state::AppState;
use crate::strings;

#[component]
pub fn SyncPanel() -> impl IntoView {
    let state = expect_context::<AppState>();
    let refused = move || {
        state.tablet.with(|tablet| {
            tablet
                .as_ref()
                .map(|tablet| {
                    tablet
                        .refused()
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
                })
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
                (refused.is_empty() && !failed)
                    .then(|| view! { <p>{strings::SYNC_ALL_WELL}</p> })
            }}
            {move || {
                let refused = refused();
                (!refused.is_empty())
                    .then(|| {
                        view! {
                            <h3>{strings::REFUSED_HEADING}</h3>
                            <p>{strings::REFUSED_HINT}</p>
                            <ul class="refused-list" data-testid="refused-list">
                                {refused
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
            }}
        </section>
    }
}
