//! The site's tablets with their last sync; a manager decommissions a lost or stolen one here.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::{DashboardContext, Loaded, load_live, not_loaded};
use crate::browser::clock::format_time;
use crate::browser::dashboard_api;
use crate::dashboard::api::{TabletRow, TabletsPage, paths};
use crate::dashboard::format::short_id;
use crate::strings::dash;

#[component]
pub fn Tablets() -> impl IntoView {
    let context = expect_context::<DashboardContext>();
    let tablets = RwSignal::new(Loaded::<TabletsPage>::Loading);
    load_live(context, || paths::TABLETS.to_owned(), tablets);
    let error = RwSignal::new(None::<String>);
    let body = move || {
        let loaded = tablets.get();
        if let Some(message) = not_loaded(&loaded) {
            return message;
        }
        let Loaded::Ready(page) = loaded else {
            return ().into_any();
        };
        view! {
            <table class="timeline">
                <thead>
                    <tr>
                        <th scope="col">{dash::COL_TABLET}</th>
                        <th scope="col">{dash::FILTER_WARD}</th>
                        <th scope="col">{dash::ENROLLED}</th>
                        <th scope="col">{dash::LAST_SYNC}</th>
                        <th scope="col">{dash::COL_SIGNER}</th>
                        <th scope="col"></th>
                    </tr>
                </thead>
                <tbody>
                    {page.tablets.into_iter().map(|tablet| tablet_row(context, tablet, error)).collect_view()}
                </tbody>
            </table>
        }
        .into_any()
    };
    view! {
        <section>
            <h1>{dash::TABLETS_HEADING}</h1>
            {move || error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
            {body}
        </section>
    }
}

fn tablet_row(
    context: DashboardContext,
    tablet: TabletRow,
    error: RwSignal<Option<String>>,
) -> impl IntoView {
    let tablet_id = tablet.tablet_id.clone();
    let decommission = move |_| {
        let Some(session) = context.session() else {
            return;
        };
        let confirmed = web_sys::window()
            .and_then(|window| window.confirm_with_message(dash::CONFIRM_DECOMMISSION).ok())
            .unwrap_or(false);
        if !confirmed {
            return;
        }
        let path = paths::decommission(&tablet_id);
        spawn_local(async move {
            match dashboard_api::post::<serde_json::Value>(&path, &serde_json::json!({}), &session)
                .await
            {
                Ok(_) => context.revision.update(|revision| *revision += 1),
                Err(failure) => error.set(Some(context.failure(failure))),
            }
        });
    };
    let revoked = tablet.revoked_from_ms;
    view! {
        <tr class:voided=revoked.is_some()>
            <th scope="row">{tablet.label.clone()} <span class="subtle">{tablet.tablet_id.clone()}</span></th>
            <td>{tablet.ward_id.clone()}</td>
            <td>{format_time(tablet.enrolled_at_ms as u64)}</td>
            <td>{tablet.last_sync_ms.map_or_else(|| dash::NEVER_SYNCED.to_owned(), |at| format_time(at as u64))}</td>
            <td><code title=tablet.public_key.clone()>{short_id(&tablet.public_key).to_owned()}</code></td>
            <td>
                {match revoked {
                    Some(at) => view! { <span class="flag flag-alert">{dash::DECOMMISSIONED} " " {format_time(at as u64)}</span> }.into_any(),
                    None if context.may_act() => view! {
                        <button type="button" class="secondary" on:click=decommission>{dash::DECOMMISSION}</button>
                    }.into_any(),
                    None => ().into_any(),
                }}
            </td>
        </tr>
    }
}
