//! One device: its current state, every event about it in fold order (who signed what, on which
//! tablet, whether a correction voided it), its access revocations, and the manager's actions
//! (quarantine, release, missing, found), each signed by the server and ledgered.

use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_params_map;

use super::{DashboardContext, Loaded, load_live, not_loaded};
use crate::browser::clock::format_time;
use crate::browser::dashboard_api;
use crate::dashboard::api::{
    ActionOutcome, DevicesPage, NoteRequest, RevocationsPage, TimelinePage, TimelineRow, paths,
};
use crate::dashboard::describe::describe;
use crate::dashboard::format::{short_id, words};
use crate::pages::board::{status_class, status_label};
use crate::strings::dash;

#[component]
pub fn DeviceView() -> impl IntoView {
    let context = expect_context::<DashboardContext>();
    let params = use_params_map();
    let device_id = move || params.read().get("id").unwrap_or_default();
    let timeline = RwSignal::new(Loaded::<TimelinePage>::Loading);
    load_live(context, move || paths::timeline(&device_id()), timeline);
    let devices = RwSignal::new(Loaded::<DevicesPage>::Loading);
    load_live(context, move || paths::board_device(&device_id()), devices);
    let revocations = RwSignal::new(Loaded::<RevocationsPage>::Loading);
    load_live(context, || paths::REVOCATIONS.to_owned(), revocations);

    let summary = move || {
        let Loaded::Ready(page) = devices.get() else {
            return None;
        };
        let id = device_id();
        let row = page.devices.into_iter().find(|row| row.device_id == id)?;
        Some(view! {
            <h1>{dash::DEVICE_HEADING} " " {row.asset_tag.clone()}</h1>
            <p>
                <span class=status_class(row.status) data-testid="device-status">{status_label(row.status)}</span>
                {row.access_open_after_return.then(|| view! { <span class="flag flag-alert">{dash::ACCESS_OPEN}</span> })}
                " " {format!("{} · {} · {} {}", row.kind, row.model, dash::COL_HOME, row.home_ward)}
            </p>
        })
    };
    let events = move || {
        let loaded = timeline.get();
        if let Some(message) = not_loaded(&loaded) {
            return message;
        }
        let Loaded::Ready(page) = loaded else {
            return ().into_any();
        };
        if page.entries.is_empty() {
            return view! { <p class="subtle">{dash::NO_EVENTS}</p> }.into_any();
        }
        view! {
            <table class="timeline" data-testid="timeline">
                <thead>
                    <tr>
                        <th scope="col">{dash::COL_TIME}</th>
                        <th scope="col">{dash::COL_EVENT}</th>
                        <th scope="col">{dash::COL_TABLET}</th>
                        <th scope="col">{dash::COL_SIGNER}</th>
                    </tr>
                </thead>
                <tbody>
                    {page.entries.into_iter().map(|entry| entry_view(context, entry)).collect_view()}
                </tbody>
            </table>
        }
        .into_any()
    };
    let revocation_rows = move || {
        let Loaded::Ready(page) = revocations.get() else {
            return None;
        };
        let id = device_id();
        let rows: Vec<_> = page
            .revocations
            .into_iter()
            .filter(|row| row.device_id == id)
            .collect();
        if rows.is_empty() {
            return Some(view! { <p class="subtle">{dash::NO_REVOCATIONS}</p> }.into_any());
        }
        Some(
            view! {
                <ul class="revocations">
                    {rows
                        .into_iter()
                        .map(|row| {
                            let confirmed = row.confirmed();
                            let deliveries = row
                                .deliveries
                                .iter()
                                .map(|delivery| {
                                    let error = delivery.last_error.clone().map(|error| format!(" ({error})")).unwrap_or_default();
                                    format!("{}: {} after {} attempt(s){error}", delivery.connector, delivery.status, delivery.attempts)
                                })
                                .collect::<Vec<_>>()
                                .join("; ");
                            view! {
                                <li class:alert=!confirmed>
                                    {format!("{} · {} · {}", context.name(&row.staff_id), words(&row.reason), format_time(row.created_at_ms as u64))}
                                    <br />
                                    <span class="subtle">{deliveries}</span>
                                </li>
                            }
                        })
                        .collect_view()}
                </ul>
            }
            .into_any(),
        )
    };
    view! {
        <section>
            {summary}
            {move || context.may_act().then(|| view! { <DeviceActions device_id=device_id() /> })}
            <h2>{dash::TIMELINE}</h2>
            {events}
            <h2>{dash::REVOCATIONS}</h2>
            {revocation_rows}
            <p class="no-print">
                <a href=move || paths::ledger_export_device(&device_id()) download=move || format!("baton-audit-bundle-{}.json", device_id()) data-testid="export-device-bundle">
                    {dash::EXPORT_DEVICE_BUNDLE}
                </a>
            </p>
        </section>
    }
}

fn entry_view(context: DashboardContext, entry: TimelineRow) -> impl IntoView {
    let what = entry.body.as_ref().map_or_else(
        || words(&entry.body_type),
        |body| describe(body, |staff| context.name(staff)),
    );
    let voided = entry.voided_by.is_some();
    let tablet = entry
        .tablet_label
        .clone()
        .unwrap_or_else(|| dash::AUTHORITY.to_owned());
    view! {
        <tr id=format!("ev-{}", entry.event_id) class:voided=voided>
            <td>{format_time(entry.hlc_ms)}</td>
            <td>
                {what}
                {voided.then(|| view! { " " <span class="flag">{dash::VOIDED}</span> })}
            </td>
            <td>{tablet}</td>
            <td><code title=entry.signer.clone()>{short_id(&entry.signer).to_owned()}</code></td>
        </tr>
    }
}

/// The manager's actions on one device.
#[component]
fn DeviceActions(device_id: String) -> impl IntoView {
    let context = expect_context::<DashboardContext>();
    let note_ref = NodeRef::<html::Textarea>::new();
    let ward_ref = NodeRef::<html::Input>::new();
    let message = RwSignal::new(None::<(bool, String)>);
    let busy = RwSignal::new(false);
    let device = StoredValue::new(device_id);
    let act = move |action: &'static str| {
        let Some(session) = context.session() else {
            return;
        };
        let note = note_ref
            .get_untracked()
            .map(|input| input.value().trim().to_owned())
            .unwrap_or_default();
        let ward = ward_ref
            .get_untracked()
            .map(|input| input.value().trim().to_owned())
            .unwrap_or_default();
        let needs_note = matches!(action, "quarantine" | "release");
        if needs_note && note.is_empty() {
            message.set(Some((false, dash::NOTE_REQUIRED.to_owned())));
            return;
        }
        let path = paths::device_action(&device.get_value(), action);
        busy.set(true);
        spawn_local(async move {
            let request = NoteRequest {
                note: (!note.is_empty()).then_some(note.as_str()),
                ward: (action == "found").then_some(ward.as_str()),
            };
            let outcome = dashboard_api::post::<ActionOutcome>(&path, &request, &session).await;
            busy.set(false);
            match outcome {
                Ok(_) => {
                    if let Some(input) = note_ref.get_untracked() {
                        input.set_value("");
                    }
                    message.set(Some((true, dash::ACTION_DONE.to_owned())));
                    context.revision.update(|revision| *revision += 1);
                }
                Err(failure) => message.set(Some((false, context.failure(failure)))),
            }
        });
    };
    view! {
        <details class="device-actions">
            <summary>{dash::ACTIONS}</summary>
            <p class="subtle">{dash::ACTIONS_HINT}</p>
            <label>
                {dash::NOTE}
                <textarea node_ref=note_ref maxlength="500" rows="2" data-testid="action-note"></textarea>
            </label>
            <label>
                {dash::FOUND_WARD}
                <input node_ref=ward_ref maxlength="64" autocapitalize="characters" />
            </label>
            <div class="button-row">
                <button type="button" disabled=move || busy.get() on:click=move |_| act("quarantine")>{dash::QUARANTINE}</button>
                <button type="button" class="secondary" disabled=move || busy.get() on:click=move |_| act("release")>{dash::RELEASE}</button>
                <button type="button" class="secondary" disabled=move || busy.get() on:click=move |_| act("missing")>{dash::MARK_MISSING}</button>
                <button type="button" class="secondary" disabled=move || busy.get() on:click=move |_| act("found")>{dash::MARK_FOUND}</button>
            </div>
            {move || message.get().map(|(ok, text)| {
                if ok {
                    view! { <p class="success" role="status">{text}</p> }.into_any()
                } else {
                    view! { <p class="error" role="alert">{text}</p> }.into_any()
                }
            })}
        </details>
    }
}
