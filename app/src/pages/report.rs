//! Missing and found: a nurse reports that a device cannot be found (the manager sees it at the
//! next sync, and the holder's access is closed), or that a missing one turned up on this ward.

use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::components::device_card::DeviceCard;
use crate::components::handoff_receipt::{Confirmation, HandoffReceipt, show_outcome};
use crate::components::identify_person::IdentifyPerson;
use crate::components::scan_field::{ScanField, focus_soon};
use crate::components::task_tabs::TaskTabs;
use crate::pages::check_out::show_scanned_device;
use crate::state::AppState;
use crate::strings;
use crate::tablet::capture::{found_body, missing_body};
use crate::tablet::roster::{Device, StaffMember};

#[component]
pub fn Report() -> impl IntoView {
    let state = expect_context::<AppState>();
    let found = RwSignal::new(false);
    let device = RwSignal::new(None::<Device>);
    let person = RwSignal::new(None::<StaffMember>);
    let busy = RwSignal::new(false);
    let saving = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let confirmation = RwSignal::new(None::<Confirmation>);
    let device_ref = NodeRef::<html::Input>::new();
    let badge_ref = NodeRef::<html::Input>::new();
    let note_ref = NodeRef::<html::Textarea>::new();

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
        let Some(reported) = device.get_untracked() else {
            busy.set(false);
            return;
        };
        let note = note_ref
            .get_untracked()
            .map(|input| input.value())
            .unwrap_or_default();
        let is_found = found.get_untracked();
        saving.set(true);
        spawn_local(async move {
            let committed = state
                .commit_built(|tablet| {
                    if is_found {
                        found_body(
                            &reported.device_id,
                            &member.staff_id,
                            &tablet.enrollment.ward_id,
                            &note,
                        )
                    } else {
                        missing_body(&reported.device_id, &member.staff_id, &note)
                    }
                })
                .await;
            let shown = show_outcome(
                committed,
                |time| {
                    if is_found {
                        strings::reported_found(&reported.asset_tag, &member.display_name, time)
                    } else {
                        strings::reported_missing(&reported.asset_tag, &member.display_name, time)
                    }
                },
                confirmation,
                error,
            );
            if shown {
                if let Some(input) = note_ref.get_untracked() {
                    input.set_value("");
                }
                reset();
            }
            saving.set(false);
            busy.set(false);
        });
    });

    view! {
        <TaskTabs />
        <section class="capture" aria-labelledby="report-heading">
            <h1 id="report-heading">{strings::REPORT_HEADING}</h1>
            {move || confirmation.get().map(|confirmation| view! { <HandoffReceipt confirmation /> })}
            {move || error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
            <fieldset class="condition">
                <legend>{strings::REPORT_KIND_LEGEND}</legend>
                <label class="choice">
                    <input type="radio" name="report-kind" prop:checked=move || !found.get() on:change=move |_| found.set(false) />
                    {strings::REPORT_MISSING}
                </label>
                <label class="choice">
                    <input type="radio" name="report-kind" prop:checked=move || found.get() on:change=move |_| found.set(true) />
                    {strings::REPORT_FOUND}
                </label>
            </fieldset>
            <ScanField
                id="report-asset-tag"
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
                    .map(|scanned| {
                        view! {
                            <DeviceCard device=scanned />
                            <label class="field-label" for="report-note">{strings::REPORT_NOTE}</label>
                            <textarea id="report-note" node_ref=note_ref maxlength="500" rows="2"></textarea>
                            <IdentifyPerson
                                badge_id="report-badge"
                                pin_id="report-pin"
                                legend=strings::REPORTED_BY
                                action=if found.get_untracked() { strings::REPORT_FOUND_BUTTON } else { strings::REPORT_MISSING_BUTTON }
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
        </section>
    }
}
