//! A ward's shift change: each device of the ward from an hour before a shift starts to an hour
//! after, who held it at each end and every handoff between, the devices not handed over first.
//! The server derives it from the fold (`baton_core::shift_change`).

use leptos::prelude::*;
use leptos_router::components::A;

use super::{DashboardContext, Loaded, load_live, not_loaded};
use crate::browser::clock::format_time;
use crate::dashboard::api::{DevicesPage, ShiftChangePage, ShiftChangeRow, paths};
use crate::dashboard::format::words;
use crate::strings::dash;

#[component]
pub fn ShiftChange() -> impl IntoView {
    let context = expect_context::<DashboardContext>();
    let wards = RwSignal::new(Loaded::<DevicesPage>::Loading);
    load_live(context, || paths::BOARD_WARDS.to_owned(), wards);
    let ward = RwSignal::new(String::new());
    // `None`: the latest shift start, which the server picks.
    let around = RwSignal::new(None::<u64>);
    let view_page = RwSignal::new(Loaded::<ShiftChangePage>::Loading);
    // The first ward is chosen once the wards are known; until then nothing is asked.
    Effect::new(move |_| {
        if let Loaded::Ready(page) = wards.get()
            && ward.get_untracked().is_empty()
            && let Some(first) = page.wards.first()
        {
            ward.set(first.clone());
        }
    });
    load_live(
        context,
        move || {
            let ward = ward.get();
            if ward.is_empty() {
                // A path the server answers without a ward is not asked for: the view waits.
                return String::new();
            }
            paths::shift_change(&ward, around.get())
        },
        view_page,
    );

    let ward_choice = move || {
        let Loaded::Ready(page) = wards.get() else {
            return ().into_any();
        };
        view! {
            <label>
                {dash::FILTER_WARD}
                <select
                    data-testid="shift-ward"
                    prop:value=move || ward.get()
                    on:change=move |event| {
                        around.set(None);
                        ward.set(event_target_value(&event));
                    }
                >
                    {page
                        .wards
                        .into_iter()
                        .map(|name| view! { <option value=name.clone()>{name.clone()}</option> })
                        .collect_view()}
                </select>
            </label>
        }
        .into_any()
    };
    let body = move || {
        let loaded = view_page.get();
        if let Some(message) = not_loaded(&loaded) {
            return message;
        }
        let Loaded::Ready(page) = loaded else {
            return ().into_any();
        };
        let chosen = page.from_ms + 3_600_000;
        view! {
            <div class="filters">
            <label>
                {dash::SHIFT_CHANGE_START}
                <select
                    data-testid="shift-start"
                    on:change=move |event| around.set(event_target_value(&event).parse().ok())
                >
                    {page
                        .recent_shift_starts
                        .iter()
                        .map(|start| {
                            let label = dash::shift_start_choice(&start.shift, &format_time(start.at_ms));
                            view! {
                                <option value=start.at_ms.to_string() selected=start.at_ms == chosen>
                                    {label}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
            </label>
            </div>
            <p class="subtle" data-testid="shift-window">
                {dash::shift_window(&format_time(page.from_ms), &format_time(page.to_ms))}
            </p>
            <table class="dash-board" data-testid="shift-change">
                <thead>
                    <tr>
                        <th scope="col">{dash::COL_DEVICE}</th>
                        <th scope="col">{dash::COL_OUTCOME}</th>
                        <th scope="col">{dash::COL_HELD_BEFORE}</th>
                        <th scope="col">{dash::COL_HANDOFFS}</th>
                        <th scope="col">{dash::COL_HELD_AFTER}</th>
                    </tr>
                </thead>
                <tbody>{page.devices.into_iter().map(|row| row_view(context, row)).collect_view()}</tbody>
            </table>
        }
        .into_any()
    };
    view! {
        <section>
            <h1>{dash::SHIFT_CHANGE_HEADING}</h1>
            <p class="subtle">{dash::SHIFT_CHANGE_INTRO}</p>
            <div class="filters">{ward_choice}</div>
            {body}
        </section>
    }
}

fn people(context: DashboardContext, staff: &[String]) -> AnyView {
    if staff.is_empty() {
        return view! { <span class="subtle">{dash::NOBODY}</span> }.into_any();
    }
    staff
        .iter()
        .map(|staff| {
            let href = format!("/dashboard/people/{staff}");
            let name = context.name(staff);
            view! { <A href=href>{name}</A> " " }
        })
        .collect_view()
        .into_any()
}

fn row_view(context: DashboardContext, row: ShiftChangeRow) -> impl IntoView {
    let alert = row.outcome == "not_handed_over";
    let href = format!("/dashboard/devices/{}", row.device);
    let tag = row.asset_tag.clone().unwrap_or_else(|| row.device.clone());
    let test_id = format!("shift-row-{tag}");
    let handoffs = row
        .handoffs
        .iter()
        .map(|handoff| {
            let what = handoff
                .ended
                .as_deref()
                .map_or_else(|| dash::OPENED.to_owned(), words);
            view! {
                <li>
                    {format_time(handoff.at_ms)} " " {context.name(&handoff.staff)} " " {what}
                </li>
            }
        })
        .collect_view();
    view! {
        <tr data-testid=test_id class:alert=alert>
            <th scope="row"><A href=href>{tag}</A></th>
            <td data-testid="shift-outcome">{dash::shift_outcome(&row.outcome)}</td>
            <td>{people(context, &row.held_at_start)}</td>
            <td><ul class="plain">{handoffs}</ul></td>
            <td>{people(context, &row.held_at_end)}</td>
        </tr>
    }
}
