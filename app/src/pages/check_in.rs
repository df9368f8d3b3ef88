//! Check-in: scan the device, confirm the return checklist, then the person returning it gives
//! badge and PIN. As with check-out, the confirmation appears only after the commit.
//!
//! When the device returned is the tablet Baton runs on, the checklist's "local data wiped" is
//! not ticked by anyone: the session wipe runs once the PIN is right, before the check-in is
//! signed, and the signed checklist says what it achieved (`tablet::wipe`). The lock screen shows
//! this page for that one device (`handing_in`), without the other tasks.

use baton_core::body::DeviceCondition;
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::check_out::show_scanned_device;
use crate::components::device_card::DeviceCard;
use crate::components::handoff_receipt::{Confirmation, HandoffReceipt, show_outcome};
use crate::components::identify_person::IdentifyPerson;
use crate::components::scan_field::{ScanField, focus_soon};
use crate::components::task_tabs::TaskTabs;
use crate::state::AppState;
use crate::strings;
use crate::tablet::capture::{ReturnChecklist, check_in_body};
use crate::tablet::lock::Lock;
use crate::tablet::roster::{Device, StaffMember};
use crate::tablet::wipe::claim_local_data_wiped;

#[component]
pub fn CheckIn(
    /// Shown from the lock screen: only the check-in of this tablet itself, already scanned.
    #[prop(optional)]
    handing_in: bool,
) -> impl IntoView {
    let state = expect_context::<AppState>();
    let device = RwSignal::new(None::<Device>);
    let person = RwSignal::new(None::<StaffMember>);
    let busy = RwSignal::new(false);
    let saving = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let confirmation = RwSignal::new(None::<Confirmation>);
    let apps_signed_out = RwSignal::new(false);
    let local_data_wiped = RwSignal::new(false);
    let condition = RwSignal::new(DeviceCondition::Ok);
    let note = RwSignal::new(String::new());
    let device_ref = NodeRef::<html::Input>::new();
    let badge_ref = NodeRef::<html::Input>::new();

    let reset = move || {
        device.set(None);
        person.set(None);
        apps_signed_out.set(false);
        local_data_wiped.set(false);
        condition.set(DeviceCondition::Ok);
        note.set(String::new());
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
        let Some(returned) = device.get_untracked() else {
            busy.set(false);
            return;
        };
        let mut checklist = ReturnChecklist {
            apps_signed_out: apps_signed_out.get_untracked(),
            local_data_wiped: local_data_wiped.get_untracked(),
            condition: condition.get_untracked(),
            note: note.get_untracked(),
        };
        let returning_this_device = state.is_this_device(&returned.device_id);
        saving.set(true);
        spawn_local(async move {
            // Wiped before signing, so that the record says what the wipe did, not what was
            // hoped; a wipe that failed is shown by the notice and not claimed.
            let wipe = if returning_this_device {
                state.wipe_session().await
            } else {
                None
            };
            checklist.local_data_wiped = claim_local_data_wiped(
                returning_this_device,
                checklist.local_data_wiped,
                wipe.as_ref(),
            );
            let committed = state
                .commit_built(|tablet| {
                    check_in_body(
                        &returned.device_id,
                        &member.staff_id,
                        &tablet.enrollment.ward_id,
                        &checklist,
                    )
                })
                .await;
            let shown = show_outcome(
                committed,
                |time| strings::checked_in(&returned.asset_tag, &member.display_name, time),
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

    let condition_option = move |value: DeviceCondition, id: &'static str, label: &'static str| {
        view! {
            <label class="choice" for=id>
                <input
                    type="radio"
                    id=id
                    name="condition"
                    prop:checked=move || condition.get() == value
                    on:change=move |_| condition.set(value)
                    disabled=move || busy.get()
                />
                <span>{label}</span>
            </label>
        }
    };

    if handing_in {
        // The lock screen's hand-in: this device, scanned already.
        let this_tag = state.tablet.with_untracked(|tablet| {
            tablet
                .as_ref()
                .and_then(|tablet| tablet.this_device.as_ref())
                .map(|this| this.asset_tag.clone())
        });
        if let Some(tag) = this_tag {
            on_device.run(tag);
        }
    }

    view! {
        {(!handing_in).then(|| view! { <TaskTabs /> })}
        <section class="capture" aria-labelledby="check-in-heading">
            <h1 id="check-in-heading">{strings::CHECK_IN_HEADING}</h1>
            {move || confirmation.get().map(|confirmation| view! { <HandoffReceipt confirmation /> })}
            {move || error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
            <ScanField
                id="check-in-asset-tag"
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
                        // A return to another ward is accepted and recorded (the manager's board
                        // flags it); the nurse is told at once so the device can be sent home.
                        let away = state.tablet.with_untracked(|tablet| {
                            tablet.as_ref().and_then(|tablet| {
                                (found.home_ward != tablet.enrollment.ward_id).then(|| {
                                    strings::away_from_home(
                                        &found.asset_tag,
                                        tablet.roster.ward_name(&found.home_ward),
                                    )
                                })
                            })
                        });
                        let returning_this_device = state.is_this_device(&found.device_id);
                        view! {
                            <DeviceCard device=found />
                            {away.map(|text| view! { <p class="warning" data-testid="away-from-home">{text}</p> })}
                            <fieldset class="checklist">
                                <legend>{strings::CHECKLIST_LEGEND}</legend>
                                <label class="choice" for="apps-signed-out">
                                    <input
                                        type="checkbox"
                                        id="apps-signed-out"
                                        prop:checked=move || apps_signed_out.get()
                                        on:change=move |event| apps_signed_out.set(event_target_checked(&event))
                                        disabled=move || busy.get()
                                    />
                                    <span>{strings::APPS_SIGNED_OUT}</span>
                                </label>
                                {if returning_this_device {
                                    view! { <p class="hint" data-testid="auto-wipe">{strings::AUTO_WIPE}</p> }
                                        .into_any()
                                } else {
                                    view! {
                                        <label class="choice" for="local-data-wiped">
                                            <input
                                                type="checkbox"
                                                id="local-data-wiped"
                                                prop:checked=move || local_data_wiped.get()
                                                on:change=move |event| local_data_wiped.set(event_target_checked(&event))
                                                disabled=move || busy.get()
                                            />
                                            <span>{strings::LOCAL_DATA_WIPED}</span>
                                        </label>
                                    }
                                        .into_any()
                                }}
                                <fieldset class="condition">
                                    <legend>{strings::CONDITION_LEGEND}</legend>
                                    {condition_option(DeviceCondition::Ok, "condition-ok", strings::CONDITION_OK)}
                                    {condition_option(DeviceCondition::Damaged, "condition-damaged", strings::CONDITION_DAMAGED)}
                                    {condition_option(
                                        DeviceCondition::NeedsCharging,
                                        "condition-needs-charging",
                                        strings::CONDITION_NEEDS_CHARGING,
                                    )}
                                </fieldset>
                                <label class="field-label" for="check-in-note">{strings::NOTE_LABEL}</label>
                                <textarea
                                    id="check-in-note"
                                    maxlength="500"
                                    rows="2"
                                    prop:value=move || note.get()
                                    on:input=move |event| note.set(event_target_value(&event))
                                    disabled=move || busy.get()
                                ></textarea>
                            </fieldset>
                            <IdentifyPerson
                                badge_id="check-in-badge"
                                pin_id="check-in-pin"
                                legend=strings::RETURNED_BY
                                action=strings::CHECK_IN_BUTTON
                                person
                                busy
                                error
                                on_verified
                                badge_ref
                            />
                            {(!handing_in)
                                .then(|| {
                                    view! {
                                        <button type="button" class="secondary" on:click=move |_| reset() disabled=move || busy.get()>
                                            {strings::START_AGAIN}
                                        </button>
                                    }
                                })}
                        }
                    })
            }}
            {move || saving.get().then(|| view! { <p class="busy" role="status">{strings::SAVING}</p> })}
            {handing_in
                .then(|| {
                    view! {
                        <button type="button" class="secondary" on:click=move |_| state.lock.set(Lock::Locked)>
                            {strings::BACK_TO_LOCK}
                        </button>
                    }
                })}
        </section>
    }
}
