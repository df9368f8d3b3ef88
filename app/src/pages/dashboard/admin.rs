//! Day-to-day administration without database access: enrollment codes for new tablets (with
//! their QR code), staff and device imports from CSV, and a leaver's deactivation; for an admin
//! also the site's accounts, configuration and connectors (`site_admin.rs`). Every action is
//! ledgered by the server with the account's name.

use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::site_admin::SiteAdministration;
use super::{DashboardContext, Loaded, load_live, not_loaded};
use crate::browser::clock::format_time;
use crate::browser::dashboard_api::{self, chosen_file_text, post_csv, svg_data_url};
use crate::dashboard::api::{
    DevicesPage, EnrollmentCode, ImportCounts, StaffPage, StaffRow, paths,
};
use crate::dashboard::format::words;
use crate::strings::dash;

#[component]
pub fn Admin() -> impl IntoView {
    let context = expect_context::<DashboardContext>();
    let session = context.session();
    let is_admin = session
        .as_ref()
        .is_some_and(|session| session.role == "admin");
    let has_site = session
        .as_ref()
        .is_some_and(|session| session.site_id.is_some());
    // An admin of every site has no site of their own: the site's registry sections would only
    // answer `site_required`.
    let site_sections = if has_site {
        view! {
            <EnrollmentCodes />
            <Imports />
            <StaffList />
        }
        .into_any()
    } else {
        view! { <p class="subtle">{dash::ADMIN_NO_SITE_HINT}</p> }.into_any()
    };
    view! {
        <section>
            <h1>{dash::ADMIN_HEADING}</h1>
            {is_admin.then(|| view! { <SiteAdministration /> })}
            {site_sections}
        </section>
    }
}

#[component]
fn EnrollmentCodes() -> impl IntoView {
    let context = expect_context::<DashboardContext>();
    let devices = RwSignal::new(Loaded::<DevicesPage>::Loading);
    load_live(context, || paths::BOARD_WARDS.to_owned(), devices);
    let ward = RwSignal::new(String::new());
    let created = RwSignal::new(None::<EnrollmentCode>);
    let error = RwSignal::new(None::<String>);
    let create = move |_| {
        let Some(session) = context.session() else {
            return;
        };
        let ward_id = ward.get_untracked();
        spawn_local(async move {
            let body = serde_json::json!({ "ward_id": ward_id });
            match dashboard_api::post::<EnrollmentCode>(paths::ENROLLMENT_CODES, &body, &session)
                .await
            {
                Ok(code) => {
                    error.set(None);
                    created.set(Some(code));
                }
                Err(failure) => error.set(Some(context.failure(failure))),
            }
        });
    };
    let ward_options = move || {
        let Loaded::Ready(page) = devices.get() else {
            return Vec::new();
        };
        let options = page.wards;
        if ward.get_untracked().is_empty()
            && let Some(first) = options.first()
        {
            ward.set(first.clone());
        }
        options
    };
    view! {
        <h2>{dash::ENROLL_TABLET_HEADING}</h2>
        <p class="subtle">{dash::ENROLL_TABLET_HINT}</p>
        <div class="filters">
            <label>
                {dash::WARD}
                <select on:change=move |event| ward.set(event_target_value(&event)) prop:value=move || ward.get()>
                    {move || ward_options().into_iter().map(|name| view! { <option value=name.clone()>{name.clone()}</option> }).collect_view()}
                </select>
            </label>
            <button type="button" on:click=create disabled=move || !context.may_act()>{dash::CREATE_CODE}</button>
        </div>
        {move || error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
        {move || created.get().map(|code| view! {
            <div class="card enrollment-code" data-testid="enrollment-code">
                <p class="card-title"><code>{code.code.clone()}</code></p>
                <p>{format!("{} {} · {} {}", dash::WARD, code.ward_id, dash::CODE_VALID_UNTIL, format_time(code.expires_at_ms))}</p>
                <img class="qr" src=svg_data_url(&code.qr_svg) alt=dash::QR_ALT width="200" height="200" />
            </div>
        })}
    }
}

#[component]
fn Imports() -> impl IntoView {
    let context = expect_context::<DashboardContext>();
    let file_ref = NodeRef::<html::Input>::new();
    let message = RwSignal::new(None::<(bool, String)>);
    let busy = RwSignal::new(false);
    let import = move |path: &'static str| {
        let Some(session) = context.session() else {
            return;
        };
        let Some(input) = file_ref.get_untracked() else {
            return;
        };
        busy.set(true);
        spawn_local(async move {
            let outcome = match chosen_file_text(&input).await {
                None => Err(dash::IMPORT_NO_FILE.to_owned()),
                Some(Err(error)) => Err(error),
                Some(Ok(csv)) => post_csv::<ImportCounts>(path, &csv, &session)
                    .await
                    .map_err(|failure| context.failure(failure)),
            };
            busy.set(false);
            match outcome {
                Ok(counts) => {
                    message.set(Some((true, dash::imported(counts.created, counts.updated))));
                    context.revision.update(|revision| *revision += 1);
                }
                Err(error) => message.set(Some((false, error))),
            }
        });
    };
    view! {
        <h2>{dash::IMPORT_HEADING}</h2>
        <p class="subtle">{dash::IMPORT_HINT}</p>
        <label>
            {dash::IMPORT_FILE}
            <input type="file" accept=".csv,text/csv" node_ref=file_ref data-testid="import-file" />
        </label>
        <div class="button-row">
            <button type="button" disabled=move || busy.get() || !context.may_act() on:click=move |_| import(paths::STAFF_CSV)>{dash::IMPORT_STAFF}</button>
            <button type="button" class="secondary" disabled=move || busy.get() || !context.may_act() on:click=move |_| import(paths::DEVICES_CSV)>{dash::IMPORT_DEVICES}</button>
        </div>
        {move || message.get().map(|(ok, text)| {
            if ok {
                view! { <p class="success" role="status">{text}</p> }.into_any()
            } else {
                view! { <p class="error" role="alert">{text}</p> }.into_any()
            }
        })}
    }
}

#[component]
fn StaffList() -> impl IntoView {
    let context = expect_context::<DashboardContext>();
    let staff = RwSignal::new(Loaded::<StaffPage>::Loading);
    load_live(context, || paths::STAFF.to_owned(), staff);
    let error = RwSignal::new(None::<String>);
    let body = move || {
        let loaded = staff.get();
        if let Some(message) = not_loaded(&loaded) {
            return message;
        }
        let Loaded::Ready(page) = loaded else {
            return ().into_any();
        };
        view! {
            <table class="timeline">
                <tbody>
                    {page.staff.into_iter().map(|person| staff_row(context, person, error)).collect_view()}
                </tbody>
            </table>
        }
        .into_any()
    };
    view! {
        <h2>{dash::STAFF_HEADING}</h2>
        {move || error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
        {body}
    }
}

fn staff_row(
    context: DashboardContext,
    person: StaffRow,
    error: RwSignal<Option<String>>,
) -> impl IntoView {
    let staff_id = person.staff_id.clone();
    let active = person.active;
    let toggle = move |_| {
        let Some(session) = context.session() else {
            return;
        };
        let path = paths::staff_activation(&staff_id, !active);
        spawn_local(async move {
            match dashboard_api::post::<serde_json::Value>(&path, &serde_json::json!({}), &session)
                .await
            {
                Ok(_) => {
                    error.set(None);
                    context.revision.update(|revision| *revision += 1);
                }
                Err(failure) => error.set(Some(context.failure(failure))),
            }
        });
    };
    let href = format!("/dashboard/people/{}", person.staff_id);
    view! {
        <tr class:voided=!active data-testid=format!("staff-{}", person.staff_id)>
            <th scope="row">
                <leptos_router::components::A href=href>{person.display_name.clone()}</leptos_router::components::A>
                " " <span class="subtle">{person.staff_id.clone()}</span>
            </th>
            <td>{words(&person.role)}</td>
            <td>{person.home_ward.clone()}</td>
            <td>{if active { dash::ACTIVE } else { dash::INACTIVE }}</td>
            <td>
                {context.may_act().then(|| view! {
                    <button type="button" class="secondary" on:click=toggle>
                        {if active { dash::DEACTIVATE } else { dash::ACTIVATE }}
                    </button>
                })}
            </td>
        </tr>
    }
}
