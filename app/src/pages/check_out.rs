//! Check-out, the main screen: scan the device, scan the badge, type the PIN. The handoff is
//! signed and committed to IndexedDB before the confirmation appears, and the form is ready for
//! the next scan at once.

use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;

use crate::browser::clock::now_ms;
use crate::components::device_card::DeviceCard;
use crate::components::handoff_receipt::{Confirmation, HandoffReceipt, show_outcome};
use crate::components::identify_person::IdentifyPerson;
use crate::components::scan_field::{ScanField, focus_soon};
use crate::components::task_tabs::TaskTabs;
use crate::state::AppState;
use crate::strings;
use crate::tablet::capture::check_out_body;
use crate::tablet::roster::{Device, StaffMember};
use crate::tablet::shift::current_shift;

/// Looks a scanned tag up in the cached registry; retired and unknown devices are refused.
pub fn find_device(state: AppState, scanned: &str) -> Result<Device, String> {
    let device = state.tablet.with_untracked(|tablet| {
        tablet
            .as_ref()
            .and_then(|tablet| tablet.roster.device_by_scan(scanned).cloned())
    });
    match device {
        None => Err(strings::unknown_device(scanned)),
        Some(device) if !device.active => {
            Err(format!("{} {}", device.asset_tag, strings::INACTIVE_DEVICE))
        }
        Some(device) => Ok(device),
    }
}

/// Shows the device a scanned tag names, or why there is none: what every capture page does with
/// a scan of the asset tag field.
pub fn show_scanned_device(
    state: AppState,
    scanned: &str,
    device: RwSignal<Option<Device>>,
    error: RwSignal<Option<String>>,
) {
    match find_device(state, scanned) {
        Ok(found) => device.set(Some(found)),
        Err(message) => {
            device.set(None);
            error.set(Some(message));
        }
    }
}

#[component]
pub fn CheckOut() -> impl IntoView {
    let state = expect_context::<AppState>();
    let device = RwSignal::new(None::<Device>);
    let person = RwSignal::new(None::<StaffMember>);
    let busy = RwSignal::new(false);
    let saving = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let confirmation = RwSignal::new(None::<Confirmation>);
    let device_ref = NodeRef::<html::Input>::new();
    let badge_ref = NodeRef::<html::Input>::new();

    let reset = move || {
        device.set(None);
        person.set(None);
        if let Some(input) = device_ref.get_untracked() {
            input.set_value("");
        }
        focus_soon(device_ref);
    };

    let on_device = Callback::new(move |scanned: String| {
        error.set(None);
        confirmation.set(None);
        person.set(None);
        show_scanned_device(state, &scanned, device, error);
    });

    let on_verified = Callback::new(move |member: StaffMember| {
        let Some(taken) = device.get_untracked() else {
            busy.set(false);
            return;
        };
        saving.set(true);
        spawn_local(async move {
            let at_ms = now_ms();
            let committed = state
                .commit_built(|tablet| {
                    check_out_body(
                        &taken.device_id,
                        &member.staff_id,
                        &tablet.enrollment.ward_id,
                        current_shift(&tablet.roster.site_config.rules, at_ms),
                    )
                })
                .await;
            let shown = show_outcome(
                committed,
                |time| strings::checked_out(&taken.asset_tag, &member.display_name, time),
                confirmation,
                error,
            );
            if shown {
                reset();
            }
            saving.set(false);
            busy.set(false);
        });
    });

    view! {
        <TaskTabs />
        <section class="capture" aria-labelledby="check-out-heading">
            <h1 id="check-out-heading">{strings::CHECK_OUT_HEADING}</h1>
            {move || confirmation.get().map(|confirmation| view! { <HandoffReceipt confirmation /> })}
            {move || error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
            <ScanField
                id="check-out-asset-tag"
                label=strings::ASSET_TAG_LABEL
                hint=strings::ASSET_TAG_HINT
                button=strings::FIND_DEVICE
                on_scan=on_device
                disabled=busy
                node_ref=device_ref
                autofocus=true
            />
            {move || {
                device
                    .get()
                    .map(|found| {
                        view! {
                            <DeviceCard device=found warn_if_held=true />
                            <IdentifyPerson
                                badge_id="check-out-badge"
                                pin_id="check-out-pin"
                                legend=strings::TAKEN_BY
                                action=strings::CHECK_OUT_BUTTON
                                person
                                busy
                                error
                                on_verified
                                badge_ref
                            />
                            <button type="button" class="secondary" on:click=move |_| reset() disabled=move || busy.get()>
                                {strings::START_AGAIN}
                            </button>
                        }
                    })
            }}
            {move || saving.get().then(|| view! { <p class="busy" role="status">{strings::SAVING}</p> })}
            <p class="subtle break-glass-link">
                <A href="/break-glass">{strings::BREAK_GLASS_LINK}</A>
            </p>
        </section>
    }
}
