//! The device a nurse just scanned, with who holds it as far as this tablet knows.

use leptos::prelude::*;

use crate::browser::clock::format_time;
use crate::state::AppState;
use crate::strings;
use crate::tablet::board::holders;
use crate::tablet::roster::Device;

#[component]
pub fn DeviceCard(
    device: Device,
    /// Warn that taking a held device records overlapping custody.
    #[prop(optional)]
    warn_if_held: bool,
) -> impl IntoView {
    let state = expect_context::<AppState>();
    let device_id = device.device_id.clone();
    let custody = move || {
        state.tablet.with(|tablet| {
            tablet
                .as_ref()
                .and_then(|tablet| holders(&tablet.roster, tablet.replica(), &device_id))
        })
    };
    view! {
        <div class="card device-card" data-testid="device-card">
            <p class="card-title">
                <strong>{device.asset_tag.clone()}</strong>
                " · "
                {device.kind.clone()}
                " · "
                {device.model.clone()}
            </p>
            {move || match custody() {
                Some((names, since_ms)) => {
                    view! {
                        <p class="custody held">
                            {strings::held_by(&names.join(", "), &format_time(since_ms))}
                        </p>
                        {warn_if_held
                            .then(|| {
                                view! {
                                    <p class="warning">{strings::CHECK_OUT_ALREADY_HELD}</p>
                                }
                            })}
                    }
                        .into_any()
                }
                None => view! { <p class="custody">{strings::NOT_HELD}</p> }.into_any(),
            }}
        </div>
    }
}
