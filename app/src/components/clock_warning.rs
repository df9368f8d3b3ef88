//! The warning on every screen while this tablet's clock is off the server's by more than the
//! site tolerates, or cannot be believed and has not been checked since the last contact
//! (`tablet::clock_check`): handoffs are still recorded, but someone must set the date and time.

use leptos::prelude::*;

use crate::browser::clock::format_time;
use crate::state::AppState;
use crate::strings;
use crate::tablet::clock_check;

#[component]
pub fn ClockWarning() -> impl IntoView {
    let state = expect_context::<AppState>();
    move || {
        if let Some(since_ms) = state.sync.with(|sync| sync.clock_unchecked_since_ms) {
            return Some(
                view! {
                    <p class="card warning" role="alert" data-testid="clock-warning">
                        {strings::clock_unchecked(&format_time(since_ms))}
                    </p>
                }
                .into_any(),
            );
        }
        let skew_ms = state.sync.with(|sync| sync.clock_skew_ms)?;
        let tolerance_ms = state.tablet.with(|tablet| {
            tablet
                .as_ref()
                .map(|tablet| tablet.roster.site_config.rules.max_clock_skew_ms)
        })?;
        clock_check::is_skewed(skew_ms, tolerance_ms).then(|| {
            view! {
                <p class="card warning" role="alert" data-testid="clock-warning">
                    {strings::clock_skewed(&clock_check::describe_amount(skew_ms), skew_ms > 0)}
                </p>
            }
            .into_any()
        })
    }
}
