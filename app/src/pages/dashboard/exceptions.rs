//! The exceptions queue: most severe first, then oldest. Each opens with its evidence (the
//! signed events, the people, the device's revocation state) and, for managers, the actions:
//! acknowledge, or resolve with a required note. Both are recorded in the audit ledger.

use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;

use super::{DashboardContext, Loaded, load_live, not_loaded};
use crate::browser::clock::format_time;
use crate::browser::dashboard_api;
use crate::dashboard::api::{ExceptionItem, ExceptionsPage, NoteRequest, RevocationsPage, paths};
use crate::dashboard::format::short_id;
use crate::pages::board::severity_class;
use crate::strings::{self, dash};

#[component]
pub fn Exceptions() -> impl IntoView {
    let context = expect_context::<DashboardContext>();
    let include_resolved = RwSignal::new(false);
    let offset = RwSignal::new(0_usize);
    let exceptions = RwSignal::new(Loaded::<ExceptionsPage>::Loading);
    load_live(
        context,
        move || paths::exceptions(include_resolved.get(), offset.get()),
        exceptions,
    );
    let revocations = RwSignal::new(Loaded::<RevocationsPage>::Loading);
    load_live(context, || paths::REVOCATIONS.to_owned(), revocations);

    let list = move || {
        let loaded = exceptions.get();
        if let Some(message) = not_loaded(&loaded) {
            return message;
        }
        let Loaded::Ready(page) = loaded else {
            return ().into_any();
        };
        if page.exceptions.is_empty() {
            return view! { <p class="subtle" data-testid="no-exceptions">{dash::NO_EXCEPTIONS}</p> }
                .into_any();
        }
        let first = page.offset + 1;
        let last = page.offset + page.exceptions.len();
        let has_previous = page.offset > 0;
        let has_next = last < page.total;
        view! {
            <p role="status" data-testid="exceptions-range">{dash::exceptions_range(first, last, page.total)}</p>
            <ol class="exception-queue">
                {page
                    .exceptions
                    .into_iter()
                    .map(|item| view! { <ExceptionCard item=item revocations=revocations /> })
                    .collect_view()}
            </ol>
            <nav class="pager" aria-label=dash::EXCEPTIONS_HEADING>
                <button
                    type="button"
                    disabled=!has_previous
                    on:click=move |_| offset.update(|offset| *offset = offset.saturating_sub(paths::EXCEPTIONS_PAGE))
                >
                    {dash::PREVIOUS_PAGE}
                </button>
                <button
                    type="button"
                    disabled=!has_next
                    on:click=move |_| offset.update(|offset| *offset += paths::EXCEPTIONS_PAGE)
                >
                    {dash::NEXT_PAGE}
                </button>
            </nav>
        }
        .into_any()
    };
    view! {
        <section>
            <h1>{dash::EXCEPTIONS_HEADING}</h1>
            <label class="inline">
                <input
                    type="checkbox"
                    prop:checked=move || include_resolved.get()
                    on:change=move |event| {
                        offset.set(0);
                        include_resolved.set(event_target_checked(&event));
                    }
                />
                {dash::INCLUDE_RESOLVED}
            </label>
            {list}
        </section>
    }
}

#[component]
fn ExceptionCard(
    item: ExceptionItem,
    revocations: RwSignal<Loaded<RevocationsPage>>,
) -> impl IntoView {
    let context = expect_context::<DashboardContext>();
    let note_ref = NodeRef::<html::Textarea>::new();
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let key = StoredValue::new(item.key.clone());
    let act = move |action: &'static str| {
        let Some(session) = context.session() else {
            return;
        };
        let note = note_ref
            .get_untracked()
            .map(|input| input.value().trim().to_owned())
            .unwrap_or_default();
        if action == "resolve" && note.is_empty() {
            error.set(Some(dash::NOTE_REQUIRED.to_owned()));
            return;
        }
        let path = paths::exception_action(&key.get_value(), action);
        busy.set(true);
        spawn_local(async move {
            let request = NoteRequest {
                note: (!note.is_empty()).then_some(note.as_str()),
                ward: None,
            };
            let outcome = dashboard_api::post::<serde_json::Value>(&path, &request, &session).await;
            busy.set(false);
            match outcome {
                Ok(_) => {
                    error.set(None);
                    context.revision.update(|revision| *revision += 1);
                }
                Err(failure) => error.set(Some(context.failure(failure))),
            }
        });
    };
    let device = item.device.clone();
    let revocation_state = move || {
        let Loaded::Ready(page) = revocations.get() else {
            return None;
        };
        let rows: Vec<String> = page
            .revocations
            .iter()
            .filter(|row| row.device_id == device)
            .take(3)
            .map(|row| {
                let states: Vec<String> = row
                    .deliveries
                    .iter()
                    .map(|delivery| format!("{} {}", delivery.connector, delivery.status))
                    .collect();
                format!(
                    "{} · {} · {}",
                    context.name(&row.staff_id),
                    format_time(row.created_at_ms as u64),
                    states.join(", ")
                )
            })
            .collect();
        (!rows.is_empty()).then(|| {
            view! {
                <p><strong>{dash::REVOCATION_STATE} ": "</strong>{rows.join(" | ")}</p>
            }
        })
    };
    let people = item
        .people
        .iter()
        .map(|staff| {
            let href = format!("/dashboard/people/{staff}");
            let name = context.name(staff);
            view! { <A href=href>{name}</A> " " }
        })
        .collect_view();
    let evidence = item
        .evidence
        .iter()
        .map(|event| {
            let href = format!("/dashboard/devices/{}#ev-{}", item.device, event);
            let short = short_id(event).to_owned();
            view! {
                <li>
                    <A href=href>
                        <code>{short}</code>
                    </A>
                </li>
            }
        })
        .collect_view();
    let review = item.review.clone().map(|review| {
        view! {
            <p class="review" data-testid="review">
                {dash::review(&review.state, &review.by, &format_time(review.at_ms))}
                {review.note.map(|note| view! { ": " <q>{note}</q> })}
            </p>
        }
    });
    let resolved = item.is_resolved();
    let device_href = format!("/dashboard/devices/{}", item.device);
    let device_label = item.device.clone();
    let timeline_href = device_href.clone();
    let acknowledged = item.is_acknowledged();
    view! {
        <li class=severity_class(item.severity) data-testid=format!("exception-{}", item.kind.name())>
            <p class="exception-title">
                <span class="severity">{strings::severity(item.severity)}</span>
                " "
                <strong>{strings::exception_kind(item.kind)}</strong>
                " · "
                <A href=device_href>{device_label}</A>
                " · "
                {format_time(item.at_ms)}
            </p>
            <p class="exception-detail">{item.detail.clone()}</p>
            {review}
            <details>
                <summary>{dash::EVIDENCE}</summary>
                <p class="subtle">{dash::EVIDENCE_HINT}</p>
                <ul class="evidence">{evidence}</ul>
                <p><strong>{dash::PEOPLE} ": "</strong>{people}</p>
                {item.signer.clone().map(|signer| view! { <p><strong>{dash::COL_SIGNER} ": "</strong><code>{short_id(&signer).to_owned()}</code></p> })}
                {revocation_state}
                <p><A href=timeline_href>{dash::OPEN_TIMELINE}</A></p>
            </details>
            {(context.may_act() && !resolved).then(|| view! {
                <div class="exception-actions">
                    <label>
                        {dash::NOTE}
                        <textarea node_ref=note_ref maxlength="500" rows="2" placeholder=dash::RESOLVE_NOTE_HINT></textarea>
                    </label>
                    {(!acknowledged).then(|| view! {
                        <button type="button" class="secondary" disabled=move || busy.get() on:click=move |_| act("acknowledge")>
                            {dash::ACKNOWLEDGE}
                        </button>
                    })}
                    <button type="button" disabled=move || busy.get() on:click=move |_| act("resolve")>
                        {dash::RESOLVE}
                    </button>
                </div>
            })}
            {move || error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
        </li>
    }
}
