//! One person: what they hold now and every custody they had, with how each ended.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

use super::{DashboardContext, Loaded, load_live, not_loaded};
use crate::browser::clock::format_time;
use crate::dashboard::api::{PersonPage, paths};
use crate::dashboard::format::words;
use crate::strings::dash;

#[component]
pub fn PersonView() -> impl IntoView {
    let context = expect_context::<DashboardContext>();
    let params = use_params_map();
    let person = RwSignal::new(Loaded::<PersonPage>::Loading);
    load_live(
        context,
        move || paths::person(&params.read().get("id").unwrap_or_default()),
        person,
    );
    move || {
        let loaded = person.get();
        if let Some(message) = not_loaded(&loaded) {
            return message;
        }
        let Loaded::Ready(page) = loaded else {
            return ().into_any();
        };
        let holds = if page.holds.is_empty() {
            view! { <p class="subtle">{dash::HOLDS_NOTHING}</p> }.into_any()
        } else {
            view! {
                <ul>
                    {page.holds.iter().map(|device| {
                        let href = format!("/dashboard/devices/{device}");
                        let label = device.clone();
                        view! { <li><A href=href>{label}</A></li> }
                    }).collect_view()}
                </ul>
            }
            .into_any()
        };
        let mut custodies = page.custodies.clone();
        custodies.sort_by_key(|custody| std::cmp::Reverse(custody.interval.start_ms));
        view! {
            <section>
                <h1>
                    {page.display_name.clone()} " "
                    <span class="subtle">{format!("{} · {}", page.staff_id, words(&page.role))}</span>
                    {(!page.active).then(|| view! { " " <span class="flag">{dash::INACTIVE}</span> })}
                </h1>
                <h2>{dash::HOLDS}</h2>
                {holds}
                <h2>{dash::CUSTODIES}</h2>
                <table class="timeline">
                    <thead>
                        <tr>
                            <th scope="col">{dash::COL_DEVICE}</th>
                            <th scope="col">{dash::COL_SINCE}</th>
                            <th scope="col">{dash::COL_DUE}</th>
                            <th scope="col">{dash::COL_EVENT}</th>
                        </tr>
                    </thead>
                    <tbody>
                        {custodies.into_iter().map(|custody| {
                            let ended = custody.interval.end.as_ref().map(|end| {
                                format!("{} {}", words(end.reason.name()), format_time(end.end_ms))
                            });
                            let href = format!("/dashboard/devices/{}", custody.device_id);
                            let label = custody.device_id.clone();
                            view! {
                                <tr>
                                    <td><A href=href>{label}</A></td>
                                    <td>{format_time(custody.interval.start_ms)}</td>
                                    <td>{format_time(custody.interval.expected_return_ms)}</td>
                                    <td>{ended.unwrap_or_else(|| dash::HOLDS.to_owned())}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            </section>
        }
        .into_any()
    }
}
