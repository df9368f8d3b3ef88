//! Break-glass: in an emergency, a device goes to a person identified by badge alone, with a
//! reason and a note. It is signed like every handoff and raises an exception on the manager's
//! dashboard; nobody is locked out of care, and nobody is unaccountable.

use baton_core::body::BreakGlassReason;
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::components::device_card::DeviceCard;
use crate::components::handoff_receipt::{Confirmation, HandoffReceipt, show_outcome};
use crate::components::scan_field::{ScanField, focus_soon};
use crate::components::task_tabs::TaskTabs;
use crate::pages::check_out::show_scanned_device;
use crate::state::AppState;
use crate::strings;
use crate::tablet::capture::break_glass_body;
use crate::tablet::roster::{Device, StaffMember};

#[component]
pub fn BreakGlass() -> impl IntoView {
    let state = expect_context::<AppState>();
    let device = RwSignal::new(None::<Device>);
    let person = RwSignal::new(None::<StaffMember>);
    let absent = RwSignal::new(false);
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

    // The badge alone identifies the person; an unknown or deactivated badge is refused.
    let on_badge = Callback::new(move |scanned: String| {
        error.set(None);
        let member = state.tablet.with_untracked(|tablet| {
            tablet
                .as_ref()
                .and_then(|tablet| tablet.roster.staff_by_badge(&scanned).cloned())
        });
        match member {
            None => error.set(Some(strings::unknown_badge(&scanned))),
            Some(member) if !member.active => {
                error.set(Some(strings::inactive_person(&member.display_name)))
            }
            Some(member) => person.set(Some(member)),
        }
    });

    let on_commit = move |_| {
        let (Some(taken), Some(member)) = (device.get_untracked(), person.get_untracked()) else {
            return;
        };
        let note = note_ref
            .get_untracked()
            .map(|input| input.value())
            .unwrap_or_default();
        if note.trim().is_empty() {
            error.set(Some(strings::BREAK_GLASS_NOTE_REQUIRED.to_owned()));
            return;
        }
        let reason = if absent.get_untracked() {
            BreakGlassReason::SecondPartyAbsent
        } else {
            BreakGlassReason::Emergency
        };
        saving.set(true);
        spawn_local(async move {
            let committed = state
                .commit_built(|tablet| {
                    break_glass_body(
                        &taken.device_id,
                        &member.staff_id,
                        &tablet.enrollment.ward_id,
                        reason,
                        &note,
                    )
                })
                .await;
            let shown = show_outcome(
                committed,
                |time| strings::broke_glass(&taken.asset_tag, &member.display_name, time),
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
        });
    };

    view! {
        <TaskTabs />
        <section class="capture" aria-labelledby="break-glass-heading">
            <h1 id="break-glass-heading">{strings::BREAK_GLASS_HEADING}</h1>
            <p class="warning">{strings::BREAK_GLASS_WARNING}</p>
            {move || confirmation.get().map(|confirmation| view! { <HandoffReceipt confirmation /> })}
            {move || error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
            <ScanField
                id="break-glass-asset-tag"
                label=strings::ASSET_TAG_LABEL
                hint=strings::ASSET_TAG_HINT
                button=strings::FIND_DEVICE
                on_scan=on_device
                disabled=saving
                node_ref=device_ref
                autofocus=true
            />
            {move || {
                device
                    .get()
                    .map(|found| {
                        view! {
                            <DeviceCard device=found warn_if_held=true />
                            <fieldset class="person-step">
                                <legend>{strings::TAKEN_BY_BADGE}</legend>
                                <ScanField
                                    id="break-glass-badge"
                                    label=strings::BADGE_LABEL
                                    hint=strings::BADGE_HINT
                                    button=strings::FIND_PERSON
                                    on_scan=on_badge
                                    disabled=saving
                                    node_ref=badge_ref
                                    autofocus=true
                                />
                                {move || person.get().map(|member| view! {
                                    <div class="card person-card" data-testid="person-card">
                                        <p class="card-title">
                                            <strong>{member.display_name.clone()}</strong>
                                            " · "
                                            {member.staff_id.clone()}
                                        </p>
                                    </div>
                                })}
                            </fieldset>
                            <fieldset class="condition">
                                <legend>{strings::BREAK_GLASS_REASON}</legend>
                                <label class="choice">
                                    <input type="radio" name="break-glass-reason" prop:checked=move || !absent.get() on:change=move |_| absent.set(false) />
                                    {strings::BREAK_GLASS_EMERGENCY}
                                </label>
                                <label class="choice">
                                    <input type="radio" name="break-glass-reason" prop:checked=move || absent.get() on:change=move |_| absent.set(true) />
                                    {strings::BREAK_GLASS_ABSENT}
                                </label>
                            </fieldset>
                            <label class="field-label" for="break-glass-note">{strings::BREAK_GLASS_NOTE}</label>
                            <textarea id="break-glass-note" node_ref=note_ref maxlength="500" rows="2"></textarea>
                            <button
                                type="button"
                                class="primary"
                                on:click=on_commit
                                disabled=move || saving.get() || person.get().is_none()
                            >
                                {strings::BREAK_GLASS_BUTTON}
                            </button>
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
