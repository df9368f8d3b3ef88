//! The sync state in the top bar, always visible: how many handoffs wait to be sent, when the
//! last sync succeeded, and whether the server refused anything.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::browser::clock::format_time;
use crate::state::{AppState, Phase};
use crate::strings;

#[component]
pub fn SyncStatus() -> impl IntoView {
    let state = expect_context::<AppState>();
    let pending = Memo::new(move |_| {
        state
            .tablet
            .with(|tablet| tablet.as_ref().map_or(0, |tablet| tablet.pending_count()))
    });
    let refused = Memo::new(move |_| {
        state
            .tablet
            .with(|tablet| tablet.as_ref().map_or(0, |tablet| tablet.refused().count()))
    });
    let last_sync_ms = Memo::new(move |_| {
        state
            .tablet
            .with(|tablet| tablet.as_ref().and_then(|tablet| tablet.last_sync_ms))
    });
    let syncing = Memo::new(move |_| state.sync.with(|sync| sync.syncing));
    let ledger_alarms = Memo::new(move |_| state.sync.with(|sync| sync.ledger_alarms));
    let server_behind = Memo::new(move |_| state.sync.with(|sync| sync.server_behind));
    let n_resent = Memo::new(move |_| state.sync.with(|sync| sync.n_resent));
    move || {
        (state.phase.get() == Phase::Ready).then(|| {
            view! {
                <div class="sync-status" role="status" aria-live="polite" data-testid="sync-status">
                    <span class="pending" class:has-pending={move || pending.get() > 0}>
                        <span data-testid="pending-count">{move || pending.get()}</span>
                        " "
                        {strings::WAITING_TO_SEND}
                    </span>
                    <span class="last-sync" data-testid="last-sync">
                        {move || match last_sync_ms.get() {
                            Some(at_ms) => format!("{} {}", strings::LAST_SYNC, format_time(at_ms)),
                            None => strings::NEVER_SYNCED.to_owned(),
                        }}
                    </span>
                    {move || syncing.get().then(|| view! { <span class="syncing">{strings::SYNCING}</span> })}
                    {move || {
                        (ledger_alarms.get() > 0)
                            .then(|| {
                                view! {
                                    <span class="ledger-alarm" role="alert" data-testid="ledger-alarm">
                                        {strings::LEDGER_ALARM}
                                    </span>
                                }
                            })
                    }}
                    {move || {
                        server_behind
                            .get()
                            .then(|| view! { <span class="refused">{strings::SERVER_BEHIND}</span> })
                    }}
                    {move || {
                        (n_resent.get() > 0)
                            .then(|| {
                                view! {
                                    <span class="refused" data-testid="resent-after-restore">
                                        {strings::resent_after_restore(n_resent.get())}
                                    </span>
                                }
                            })
                    }}
                    {move || {
                        (refused.get() > 0)
                            .then(|| {
                                view! {
                                    <A href="/board#sync">
                                        <span class="refused">{strings::refused_count(refused.get())}</span>
                                    </A>
                                }
                            })
                    }}
                </div>
            }
        })
    }
}
