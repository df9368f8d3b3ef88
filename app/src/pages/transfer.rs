//! Transfer: a device goes from one nurse to another without passing through the drawer. Scan
//! the device, the person handing it over gives badge and PIN, then the colleague taking it.
//! Both are named in one signed event; the server closes the first person's access.

use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::browser::clock::now_ms;
use crate::components::device_card::DeviceCard;
use crate::components::handoff_receipt::{Confirmation, HandoffReceipt, show_outcome};
use crate::components::identify_person::IdentifyPerson;
use crate::components::scan_field::{ScanField, focus_soon};
use crate::components::task_tabs::TaskTabs;
use crate::pages::check_out::show_scanned_device;
use crate::state::AppState;
use crate::strings;
use crate::tablet::board::custodian_ids;
use crate::tablet::capture::{CaptureError, transfer_body};
use crate::tablet::roster::{Device, StaffMember};
use crate::tablet::shift::current_shift;

#[component]
pub fn Transfer() -> impl IntoView {
    let state = expect_context::<AppState>();
    let device = RwSignal::new(None::<Device>);
    let giver = RwSignal::new(None::<StaffMember>);
    let giver_verified = RwSignal::new(None::<StaffMember>);
    let taker = RwSignal::new(None::<StaffMember>);
    let busy = RwSignal::new(false);
    let saving = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let notice = RwSignal::new(None::<String>);
    let confirmation = RwSignal::new(None::<Confirmation>);
    let device_ref = NodeRef::<html::Input>::new();
    let giver_badge_ref = NodeRef::<html::Input>::new();
    let taker_badge_ref = NodeRef::<html::Input>::new();

    let reset = move || {
        device.set(None);
        giver.set(None);
        giver_verified.set(None);
        taker.set(None);
        notice.set(None);
        busy.set(false);
        if let Some(input) = device_ref.get_untracked() {
            input.set_value("");
        }
        focus_soon(device_ref);
    };

    let on_device = Callback::new(move |scanned: String| {
        error.set(None);
        confirmation.set(None);
        giver.set(None);
        giver_verified.set(None);
        taker.set(None);
        notice.set(None);
        show_scanned_device(state, &scanned, device, error);
    });

    let on_giver = Callback::new(move |member: StaffMember| {
        busy.set(false);
        let holds = device.get_untracked().is_some_and(|device| {
            state.tablet.with_untracked(|tablet| {
                tablet.as_ref().is_some_and(|tablet| {
                    custodian_ids(tablet.replica(), &device.device_id).contains(&member.staff_id)
                })
            })
        });
        notice.set((!holds).then(|| strings::GIVER_NOT_HOLDER.to_owned()));
        giver_verified.set(Some(member));
    });

    let on_taker = Callback::new(move |member: StaffMember| {
        let (Some(taken), Some(from)) = (device.get_untracked(), giver_verified.get_untracked())
        else {
            busy.set(false);
            return;
        };
        saving.set(true);
        spawn_local(async move {
            let at_ms = now_ms();
            let body = state
                .tablet
                .with_untracked(|tablet| {
                    tablet.as_ref().map(|tablet| {
                        transfer_body(
                            &taken.device_id,
                            &from.staff_id,
                            &member.staff_id,
                            &tablet.enrollment.ward_id,
                            current_shift(&tablet.roster.site_config.rules, at_ms),
                        )
                    })
                })
                .ok_or_else(|| strings::NOT_ENROLLED.to_owned())
                .and_then(|body| {
                    body.map_err(|error| match error {
                        CaptureError::SamePerson => strings::SAME_PERSON.to_owned(),
                        other => other.to_string(),
                    })
                });
            let committed = match body {
                Ok(body) => state.commit_handoff(body).await,
                Err(message) => {
                    // Nothing was recorded: ask for the colleague's badge again.
                    error.set(Some(message));
                    taker.set(None);
                    saving.set(false);
                    busy.set(false);
                    if let Some(input) = taker_badge_ref.get_untracked() {
                        input.set_value("");
                    }
                    focus_soon(taker_badge_ref);
                    return;
                }
            };
            let shown = show_outcome(
                committed,
                |time| {
                    strings::transferred(
                        &taken.asset_tag,
                        &from.display_name,
                        &member.display_name,
                        time,
                    )
                },
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
        <section class="capture" aria-labelledby="transfer-heading">
            <h1 id="transfer-heading">{strings::TRANSFER_HEADING}</h1>
            {move || confirmation.get().map(|confirmation| view! { <HandoffReceipt confirmation /> })}
            {move || error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
            <ScanField
                id="transfer-asset-tag"
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
                            <DeviceCard device=found />
                            {move || match giver_verified.get() {
                                None => view! {
                                    <IdentifyPerson
                                        badge_id="transfer-from-badge"
                                        pin_id="transfer-from-pin"
                                        legend=strings::HANDED_BY
                                        action=strings::NEXT
                                        person=giver
                                        busy
                                        error
                                        on_verified=on_giver
                                        badge_ref=giver_badge_ref
                                    />
                                }
                                .into_any(),
                                Some(from) => view! {
                                    <p class="card" data-testid="transfer-from">
                                        {strings::HANDED_BY} ": " <strong>{from.display_name.clone()}</strong>
                                    </p>
                                    {move || notice.get().map(|text| view! { <p class="warning">{text}</p> })}
                                    <IdentifyPerson
                                        badge_id="transfer-to-badge"
                                        pin_id="transfer-to-pin"
                                        legend=strings::TAKEN_BY
                                        action=strings::TRANSFER_BUTTON
                                        person=taker
                                        busy
                                        error
                                        on_verified=on_taker
                                        badge_ref=taker_badge_ref
                                    />
                                }
                                .into_any(),
                            }}
                            <button type="button" class="secondary" on:click=move |_| reset() disabled=move || saving.get()>
                                {strings::START_AGAIN}
                            </button>
                        }
                    })
            }}
            {move || saving.get().then(|| view! { <p class="busy" role="status">{strings::SAVING}</p> })}
        </section>
    }
}
