//! When the tablet syncs: at start, when the browser comes back online, right after a capture,
//! and every half minute; after a failure it backs off, doubling the wait up to five minutes,
//! and never calls again sooner than the server's last `Retry-After` asked.
//! One loop runs per page; `wake` cuts its wait short.

use std::cell::{Cell, RefCell};

use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

use baton_core::ids::SignerKey;

use super::witness::WitnessContext;
use super::{SyncError, TransportError, sync_once};
use crate::browser::clock::{self, now_ms, pause};
use crate::browser::http::HttpTransport;
use crate::browser::store::EventStore;
use crate::key_rotation::KeyChange;
use crate::state::AppState;
use crate::tablet::witness::trusted_server_keys;

/// The wait between rounds while everything works.
pub const PERIOD_MS: u32 = 30_000;
const FIRST_RETRY_MS: u32 = 5_000;
const MAX_RETRY_MS: u32 = 5 * 60_000;

/// The wait after `n_failures` failed rounds in a row: 5 s, 10 s, 20 s ... at most 5 minutes.
pub fn retry_delay_ms(n_failures: u32) -> u32 {
    match n_failures {
        0 => PERIOD_MS,
        n => FIRST_RETRY_MS
            .saturating_mul(1 << (n - 1).min(16))
            .min(MAX_RETRY_MS),
    }
}

thread_local! {
    static RUNNING: Cell<bool> = const { Cell::new(false) };
    /// A round is under way: the next one waits, so that two never push the same outbox.
    static IN_ROUND: Cell<bool> = const { Cell::new(false) };
    static WAKE_PENDING: Cell<bool> = const { Cell::new(false) };
    static WAKE: RefCell<Option<js_sys::Function>> = const { RefCell::new(None) };
}

/// Asks for a sync round now (or as soon as the current one ends).
pub fn wake() {
    WAKE_PENDING.with(|pending| pending.set(true));
    if let Some(resolve) = WAKE.with(|wake| wake.borrow_mut().take()) {
        let _ = resolve.call0(&JsValue::NULL);
    }
}

/// Sleeps `delay_ms`, or less if `wake` is called.
async fn sleep_or_wake(delay_ms: u32) {
    if WAKE_PENDING.with(|pending| pending.replace(false)) {
        return;
    }
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(
                &resolve,
                delay_ms.min(i32::MAX as u32) as i32,
            );
        }
        WAKE.with(|wake| *wake.borrow_mut() = Some(resolve));
    });
    let _ = JsFuture::from(promise).await;
    WAKE.with(|wake| wake.borrow_mut().take());
    WAKE_PENDING.with(|pending| pending.set(false));
}

/// Starts the sync loop once the tablet is enrolled; later calls do nothing.
pub fn start(state: AppState) {
    if RUNNING.with(|running| running.replace(true)) {
        return;
    }
    // `online` fires when the network returns: sync at once rather than at the next tick.
    let handle = window_event_listener(leptos::ev::online, move |_| wake());
    // The listener lives as long as the page.
    std::mem::forget(handle);
    spawn_local(async move {
        let mut n_failures = 0;
        loop {
            // The server asked to be called again no sooner than this (the Retry-After of a
            // 429 or 503): a wake from a capture does not cut it short, since the push would
            // only be told the same. The handoff is safe in IndexedDB meanwhile.
            let asked_ms = crate::browser::http::come_back_in_ms(now_ms());
            if asked_ms > 0 {
                pause(asked_ms.min(i32::MAX as u64) as i32).await;
            }
            let online = web_sys::window().is_some_and(|window| window.navigator().on_line());
            if online {
                if round(state).await {
                    n_failures = 0;
                } else {
                    n_failures += 1;
                }
            }
            sleep_or_wake(retry_delay_ms(n_failures)).await;
        }
    });
}

/// Runs one round now, after the one under way if any; true if it completed. The key rotation
/// calls it to push everything the old key signed.
pub async fn sync_now(state: AppState) -> bool {
    round(state).await
}

/// One round, never two at once; true if it completed.
async fn round(state: AppState) -> bool {
    while IN_ROUND.with(Cell::get) {
        pause(100).await;
    }
    IN_ROUND.with(|in_round| in_round.set(true));
    let completed = round_alone(state).await;
    IN_ROUND.with(|in_round| in_round.set(false));
    completed
}

async fn round_alone(state: AppState) -> bool {
    let Some(store) = state.store() else {
        return false;
    };
    // A rotation whose answer never arrived is settled first: until then it is not known which
    // key the server accepts.
    if state.key_change.get_untracked() == KeyChange::Unsettled && !state.settle_pending_key().await
    {
        return false;
    }
    let Some((to_push, roster_version, signing_key, witness_context)) =
        state.tablet.with_untracked(|tablet| {
            let tablet = tablet.as_ref()?;
            let server_key = SignerKey::from_hex(&tablet.enrollment.server_public_key).ok()?;
            Some((
                tablet.to_push(),
                tablet.roster.version.clone(),
                tablet.signing_key().clone(),
                WitnessContext {
                    site_id: tablet.enrollment.site_id.clone(),
                    server_key,
                    // The server's time when measured: a head is judged against the true
                    // time, not a clock set a year off.
                    now_ms: clock::reference_now_ms(),
                },
            ))
        })
    else {
        return false;
    };
    state.sync.update(|sync| sync.syncing = true);
    let transport = HttpTransport { signing_key };
    let outcome = sync_once(
        &store,
        &transport,
        &to_push,
        &roster_version,
        &witness_context,
    )
    .await;
    let finished_ms = now_ms();
    let succeeded = outcome.result.is_ok();
    if succeeded {
        let _ = store.save_last_sync_ms(finished_ms).await;
    }
    // The server's clock as this round measured it, for a page started offline later
    // (`tablet::clock_check`). Kept after any answer, even a refusal: its `Date` is the server's.
    if let Some(last) = clock::last_server_time_now() {
        let _ = store.save_last_server_time(last).await;
    }
    if let Err(SyncError::Transport(TransportError::Refused { code, .. })) = &outcome.result
        && code == "unsupported_api_version"
    {
        crate::browser::service_worker::check_for_update_now();
    }
    if outcome.n_repushed > 0 || outcome.server_restored {
        web_sys::console::warn_1(
            &format!(
                "baton: the server was restored from a backup; {} own events pushed again",
                outcome.n_repushed
            )
            .into(),
        );
    }
    state.tablet.update(|tablet| {
        if let Some(tablet) = tablet {
            tablet.apply_receipts(outcome.receipts);
            if let Some(roster) = outcome.roster {
                tablet.set_roster(roster);
            }
            tablet.absorb(outcome.pulled, clock::reference_now_ms());
            if succeeded {
                tablet.last_sync_ms = Some(finished_ms);
            }
            if let (Some(witness), Ok(enrolled)) = (
                &outcome.witness,
                SignerKey::from_hex(&tablet.enrollment.server_public_key),
            ) {
                tablet.set_server_keys(
                    trusted_server_keys(&enrolled, &witness.state)
                        .keys()
                        .to_vec(),
                );
            }
        }
    });
    state.sync.update(|sync| {
        sync.syncing = false;
        sync.last_error = outcome.result.err().map(|error| error.to_string());
        sync.n_skipped += outcome.n_skipped;
        sync.n_resent += outcome.n_repushed;
        sync.server_behind |= outcome.server_restored;
        sync.clock_skew_ms = clock::skew_ms();
        sync.clock_unchecked_since_ms = clock::unchecked_since_ms();
        if let Some(witness) = &outcome.witness {
            sync.ledger_alarms = witness.state.alarms.len();
            sync.server_behind = witness.server_behind;
        }
    });
    // The round may have brought the first reading of the server's clock: views that depend on
    // the time (overdue) move to it now rather than at the next half-minute tick.
    state.now_ms.set(clock::reference_now_ms());
    succeeded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_back_off_from_five_seconds_to_five_minutes() {
        assert_eq!(retry_delay_ms(0), PERIOD_MS);
        let delays: Vec<u32> = (1..=8).map(retry_delay_ms).collect();
        assert_eq!(
            delays,
            [
                5_000, 10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000
            ]
        );
        assert_eq!(retry_delay_ms(u32::MAX), MAX_RETRY_MS);
    }
}
