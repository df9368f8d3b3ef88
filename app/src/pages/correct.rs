//! Correct a record: a mis-scanned device or person is voided by a new signed event that points
//! at it. Nothing is edited or deleted; the person correcting gives badge and PIN and says why.

use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_params_map;

use crate::browser::clock::format_time;
use crate::components::handoff_receipt::{Confirmation, HandoffReceipt, show_outcome};
use crate::components::identify_person::IdentifyPerson;
use crate::components::task_tabs::TaskTabs;
use crate::state::AppState;
use crate::strings;
use crate::tablet::capture::correction_body;
use crate::tablet::roster::StaffMember;

/// What the page shows about the record being corrected.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    event_id: String,
    device_id: String,
    asset_tag: String,
    summary: String,
    voided: bool,
}

#[component]
pub fn Correct() -> impl IntoView {
    let state = expect_context::<AppState>();
    let params = use_params_map();
    let person = RwSignal::new(None::<StaffMember>);
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let confirmation = RwSignal::new(None::<Confirmation>);
    let badge_ref = NodeRef::<html::Input>::new();
    let note_ref = NodeRef::<html::Textarea>::new();

    let target = Memo::new(move |_| {
        let event_id = params.read().get("id").unwrap_or_default();
        state.tablet.with(|tablet| {
            let tablet = tablet.as_ref()?;
            let event = tablet.own_event(&event_id)?;
            let body = event.body();
            let device_id = body.device().as_str().to_owned();
            let person = body
                .people()
                .first()
                .map(|staff| tablet.roster.display_name(staff.as_str()).to_owned())
                .unwrap_or_default();
            Some(Target {
                asset_tag: tablet
                    .roster
                    .device(&device_id)
                    .map_or_else(|| device_id.clone(), |device| device.asset_tag.clone()),
                summary: format!(
                    "{} · {}",
                    strings::handoff_summary(body.type_name(), &person),
                    format_time(event.wall_ms())
                ),
                voided: tablet.is_voided(&event_id),
                event_id,
                device_id,
            })
        })
    });

    let on_verified = Callback::new(move |member: StaffMember| {
        let Some(target) = target.get_untracked() else {
            busy.set(false);
            return;
        };
        let note = note_ref
            .get_untracked()
            .map(|input| input.value())
            .unwrap_or_default();
        if note.trim().is_empty() {
            error.set(Some(strings::CORRECT_NOTE_REQUIRED.to_owned()));
            busy.set(false);
            return;
        }
        spawn_local(async move {
            let committed =
                match correction_body(&target.event_id, &target.device_id, &member.staff_id, &note)
                {
                    Ok(body) => state.commit_handoff(body).await,
                    Err(error) => Err(error.to_string()),
                };
            show_outcome(
                committed,
                |time| strings::corrected(&target.asset_tag, &member.display_name, time),
                confirmation,
                error,
            );
            busy.set(false);
        });
    });

    view! {
        <TaskTabs />
        <section class="capture" aria-labelledby="correct-heading">
            <h1 id="correct-heading">{strings::CORRECT_HEADING}</h1>
            {move || confirmation.get().map(|confirmation| view! { <HandoffReceipt confirmation /> })}
            {move || error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
            {move || match target.get() {
                None => view! { <p class="error" role="alert">{strings::CORRECT_UNKNOWN}</p> }.into_any(),
                Some(target) if target.voided && confirmation.get().is_none() => view! {
                    <p class="warning">{strings::CORRECT_ALREADY}</p>
                }
                .into_any(),
                Some(_) if confirmation.get().is_some() => ().into_any(),
                Some(target) => view! {
                    <div class="card" data-testid="correct-target">
                        <p class="card-title"><strong>{target.asset_tag.clone()}</strong> " " {target.summary.clone()}</p>
                    </div>
                    <p class="hint">{strings::CORRECT_EXPLAIN}</p>
                    <label class="field-label" for="correct-note">{strings::CORRECT_NOTE}</label>
                    <textarea id="correct-note" node_ref=note_ref maxlength="500" rows="2"></textarea>
                    <IdentifyPerson
                        badge_id="correct-badge"
                        pin_id="correct-pin"
                        legend=strings::CORRECTED_BY
                        action=strings::CORRECT_BUTTON
                        person
                        busy
                        error
                        on_verified
                        badge_ref
                    />
                }
                .into_any(),
            }}
        </section>
    }
}
