//! The custody board: the site's devices with their status and flags, custodian, since,
//! expected return and the tablet that recorded it, filtered by ward, status and a search (by
//! the server, a page at a time, most urgent first), and refreshed live.

use leptos::prelude::*;
use leptos_router::components::A;

use super::{DashboardContext, Loaded, load_live, not_loaded};
use crate::browser::clock::format_time;
use crate::dashboard::api::{DeviceRow, DevicesPage};
use crate::dashboard::board::{BoardFilter, PAGE_ROWS, STATUS_CHOICES, away_from_home};
use crate::pages::board::{status_class, status_label};
use crate::strings::dash;

#[component]
pub fn DashboardBoard() -> impl IntoView {
    let context = expect_context::<DashboardContext>();
    let filter = RwSignal::new(BoardFilter::default());
    let devices = RwSignal::new(Loaded::<DevicesPage>::Loading);
    // The server filters and pages; every change of the filter (or a live change of the site)
    // asks again.
    load_live(context, move || filter.read().path(), devices);
    // A new choice starts again from the first page.
    let set = move |change: fn(&mut BoardFilter, String), value: String| {
        filter.update(|filter| {
            change(filter, value);
            filter.offset = 0;
        })
    };

    let tiles = move || {
        let Loaded::Ready(page) = devices.get() else {
            return ().into_any();
        };
        let counts = page.counts;
        view! {
            <ul class="tiles" aria-label=dash::BOARD_HEADING>
                <li class="tile tile-alert" data-testid="count-access-open">
                    <strong>{counts.access_open}</strong> {dash::ACCESS_OPEN}
                </li>
                <li class="tile tile-alert"><strong>{counts.missing}</strong> {dash::status_filter("missing")}</li>
                <li class="tile tile-warn"><strong>{counts.overdue}</strong> {dash::status_filter("overdue")}</li>
                <li class="tile"><strong>{counts.quarantined}</strong> {dash::status_filter("quarantined")}</li>
                <li class="tile"><strong>{counts.away}</strong> {dash::AWAY}</li>
                <li class="tile" data-testid="count-in-use"><strong>{counts.in_use}</strong> {dash::status_filter("in_use")}</li>
                <li class="tile"><strong>{counts.available}</strong> {dash::status_filter("available")}</li>
            </ul>
        }
        .into_any()
    };
    let ward_options = move || {
        let Loaded::Ready(page) = devices.get() else {
            return Vec::new();
        };
        page.wards
    };
    let rows = move || {
        let loaded = devices.get();
        if let Some(message) = not_loaded(&loaded) {
            return message;
        }
        let Loaded::Ready(page) = loaded else {
            return ().into_any();
        };
        if page.devices.is_empty() {
            return view! { <p class="subtle">{dash::NO_MATCH}</p> }.into_any();
        }
        let first = page.offset + 1;
        let last = page.offset + page.devices.len();
        let has_previous = page.offset > 0;
        let has_next = last < page.total;
        let previous = move |_| {
            filter.update(|filter| filter.offset = filter.offset.saturating_sub(PAGE_ROWS))
        };
        let next = move |_| filter.update(|filter| filter.offset += PAGE_ROWS);
        view! {
            <table class="dash-board">
                <thead>
                    <tr>
                        <th scope="col">{dash::COL_DEVICE}</th>
                        <th scope="col">{dash::COL_HOME}</th>
                        <th scope="col">{dash::COL_STATUS}</th>
                        <th scope="col">{dash::COL_CUSTODIAN}</th>
                        <th scope="col">{dash::COL_SINCE}</th>
                        <th scope="col">{dash::COL_DUE}</th>
                        <th scope="col">{dash::COL_RECORDED}</th>
                    </tr>
                </thead>
                <tbody>{page.devices.into_iter().map(|row| row_view(context, row)).collect_view()}</tbody>
            </table>
            <nav class="pager" aria-label=dash::BOARD_HEADING>
                <button type="button" on:click=previous disabled=!has_previous>{dash::PREVIOUS_PAGE}</button>
                <span data-testid="board-range" role="status">{dash::board_range(first, last, page.total)}</span>
                <button type="button" on:click=next disabled=!has_next>{dash::NEXT_PAGE}</button>
            </nav>
        }
        .into_any()
    };
    view! {
        <section>
            <h1>{dash::BOARD_HEADING}</h1>
            {tiles}
            <div class="filters">
                <label>
                    {dash::FILTER_WARD}
                    <select
                        on:change=move |event| set(|filter, ward| filter.ward = ward, event_target_value(&event))
                        prop:value=move || filter.read().ward.clone()
                    >
                        <option value="">{dash::ALL_WARDS}</option>
                        {move || {
                            ward_options()
                                .into_iter()
                                .map(|name| view! { <option value=name.clone()>{name.clone()}</option> })
                                .collect_view()
                        }}
                    </select>
                </label>
                <label>
                    {dash::FILTER_STATUS}
                    <select
                        data-testid="status-filter"
                        on:change=move |event| set(|filter, status| filter.status = status, event_target_value(&event))
                        prop:value=move || {
                            let status = filter.read().status.clone();
                            if status.is_empty() { String::from("all") } else { status }
                        }
                    >
                        {STATUS_CHOICES
                            .iter()
                            .map(|value| view! { <option value=*value>{dash::status_filter(value)}</option> })
                            .collect_view()}
                    </select>
                </label>
                <label>
                    {dash::FILTER_SEARCH}
                    <input
                        type="search"
                        data-testid="board-search"
                        prop:value=move || filter.read().query.clone()
                        on:input=move |event| set(|filter, query| filter.query = query, event_target_value(&event))
                    />
                </label>
            </div>
            {rows}
        </section>
    }
}

fn row_view(context: DashboardContext, row: DeviceRow) -> impl IntoView {
    let away = away_from_home(&row);
    let recorded = row.recorded_by.clone().map(|tablet| {
        let synced = tablet.last_sync_ms.map_or_else(
            || dash::NEVER_SYNCED.to_owned(),
            |at| format!("{} {}", dash::LAST_SYNC, format_time(at as u64)),
        );
        view! { {tablet.label} <span class="subtle">" · " {synced}</span> }
    });
    let custodians = row
        .custodians
        .iter()
        .map(|staff| {
            let href = format!("/dashboard/people/{staff}");
            let name = context.name(staff);
            view! { <A href=href>{name}</A> " " }
        })
        .collect_view();
    let test_id = format!("dash-row-{}", row.asset_tag);
    let href = format!("/dashboard/devices/{}", row.device_id);
    let tag = row.asset_tag.clone();
    view! {
        <tr data-testid=test_id class:alert=row.access_open_after_return>
            <th scope="row">
                <A href=href>{tag}</A>
                <span class="subtle">{format!("{} · {}", row.kind, row.model)}</span>
            </th>
            <td>{row.home_ward.clone()}</td>
            <td>
                <span class=status_class(row.status)>{status_label(row.status)}</span>
                {row.access_open_after_return.then(|| view! { <span class="flag flag-alert">{dash::ACCESS_OPEN}</span> })}
                {away.then(|| view! { <span class="flag">{dash::AWAY} " (" {row.last_ward.clone()} ")"</span> })}
            </td>
            <td>{custodians}</td>
            <td>{row.since_ms.map(format_time)}</td>
            <td>{row.expected_return_ms.map(format_time)}</td>
            <td>{recorded}</td>
        </tr>
    }
}
