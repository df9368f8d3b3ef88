//! The ward board: what needs attention (the exceptions core derives, most severe first), then
//! every device of the site with its custody as folded by core from this tablet's records (its
//! own handoffs and everything pulled at the last sync), so it works offline; then this tablet's
//! own handoffs with whether each was sent, and the sync state.

use baton_core::exceptions::Severity;
use baton_core::state::DeviceStatus;
use leptos::prelude::*;
use leptos_router::components::A;

use crate::browser::clock::format_time;
use crate::components::sync_panel::SyncPanel;
use crate::components::task_tabs::TaskTabs;
use crate::state::AppState;
use crate::strings;
use crate::sync::protocol::Delivery;
use crate::tablet::board::{
    BoardException, BoardRow, RecentHandoff, board_exceptions, board_rows, recent_handoffs,
};

/// How many of the tablet's own handoffs the board lists.
const N_RECENT: usize = 10;

pub fn status_label(status: DeviceStatus) -> &'static str {
    match status {
        DeviceStatus::Available => strings::STATUS_AVAILABLE,
        DeviceStatus::InUse => strings::STATUS_IN_USE,
        DeviceStatus::Overdue => strings::STATUS_OVERDUE,
        DeviceStatus::Missing => strings::STATUS_MISSING,
        DeviceStatus::Quarantined => strings::STATUS_QUARANTINED,
    }
}

pub fn status_class(status: DeviceStatus) -> &'static str {
    match status {
        DeviceStatus::Available => "status status-available",
        DeviceStatus::InUse => "status status-in-use",
        DeviceStatus::Overdue => "status status-overdue",
        DeviceStatus::Missing => "status status-missing",
        DeviceStatus::Quarantined => "status status-quarantined",
    }
}

pub fn severity_class(severity: Severity) -> &'static str {
    match severity {
        Severity::Info => "exception severity-info",
        Severity::Warning => "exception severity-warning",
        Severity::Critical => "exception severity-critical",
    }
}

fn row_view(row: BoardRow) -> impl IntoView {
    let overlapping = row.overlapping();
    view! {
        <tr class:overlapping=overlapping data-testid=format!("board-row-{}", row.asset_tag)>
            <th scope="row">
                {row.asset_tag.clone()}
                <span class="subtle">{row.kind.clone()}</span>
            </th>
            <td>{row.home_ward.clone()}</td>
            <td>
                <span class=status_class(row.status)>{status_label(row.status)}</span>
                {overlapping.then(|| view! { <span class="flag">{strings::OVERLAPPING}</span> })}
            </td>
            <td>{row.custodians.join(", ")}</td>
            <td>{row.since_ms.map(format_time)}</td>
            <td>{row.expected_return_ms.map(format_time)}</td>
        </tr>
    }
}

fn exception_view(exception: BoardException) -> impl IntoView {
    view! {
        <li class=severity_class(exception.severity)>
            <p class="exception-title">
                <span class="severity">{strings::severity(exception.severity)}</span>
                " "
                <strong>{strings::exception_kind(exception.kind)}</strong>
                " · "
                {exception.device_label}
                " · "
                {format_time(exception.at_ms)}
            </p>
            <p>{exception.people.join(", ")}</p>
            <p class="subtle">{exception.detail}</p>
        </li>
    }
}

fn recent_view(handoff: RecentHandoff) -> impl IntoView {
    // A correction is not itself corrected here; a manager can look at it on the dashboard.
    let correctable = handoff.body_type != "correction";
    let correct_href = format!("/correct/{}", handoff.event_id);
    let (class, label) = match handoff.delivery {
        Delivery::Pending => ("delivery delivery-pending", strings::DELIVERY_PENDING),
        Delivery::Stored => ("delivery delivery-stored", strings::DELIVERY_STORED),
        Delivery::RetryLater => ("delivery delivery-pending", strings::DELIVERY_RETRY),
        Delivery::Refused => ("delivery delivery-refused", strings::DELIVERY_REFUSED),
    };
    view! {
        <li data-testid="recent-handoff" data-event-id=handoff.event_id>
            <strong>{handoff.asset_tag}</strong>
            " "
            {strings::handoff_summary(handoff.body_type, &handoff.person)}
            " · "
            {format_time(handoff.wall_ms)}
            " "
            <span class=class>{label} {handoff.refusal.map(|code| format!(" ({code})"))}</span>
            {correctable.then(|| view! {
                " " <A href=correct_href attr:class="correct-link">{strings::CORRECT_LINK}</A>
            })}
        </li>
    }
}

#[component]
pub fn Board() -> impl IntoView {
    let state = expect_context::<AppState>();
    let rows = move || {
        let now_ms = state.now_ms.get();
        state.tablet.with(|tablet| {
            tablet
                .as_ref()
                .map(|tablet| board_rows(&tablet.roster, tablet.replica(), now_ms))
                .unwrap_or_default()
        })
    };
    let exceptions = move || {
        let now_ms = state.now_ms.get();
        state.tablet.with(|tablet| {
            tablet
                .as_ref()
                .map(|tablet| board_exceptions(&tablet.roster, tablet.replica(), now_ms))
                .unwrap_or_default()
        })
    };
    let as_of = move || {
        state.tablet.with(|tablet| {
            tablet.as_ref().map(|tablet| {
                let last_sync = tablet
                    .last_sync_ms
                    .map_or_else(|| strings::NEVER_SYNCED.to_owned(), format_time);
                strings::board_as_of(&last_sync, tablet.pending_count())
            })
        })
    };
    let recent = move || {
        state.tablet.with(|tablet| {
            tablet
                .as_ref()
                .map(|tablet| recent_handoffs(tablet, N_RECENT))
                .unwrap_or_default()
        })
    };
    view! {
        <TaskTabs />
        <section class="board" aria-labelledby="board-heading">
            <h1 id="board-heading">{strings::BOARD_HEADING}</h1>
            <p class="subtle" data-testid="board-as-of">{as_of}</p>
            <section class="exceptions" aria-labelledby="exceptions-heading">
                <h2 id="exceptions-heading">{strings::EXCEPTIONS_HEADING}</h2>
                {move || {
                    let exceptions = exceptions();
                    if exceptions.is_empty() {
                        view! { <p>{strings::NO_EXCEPTIONS}</p> }.into_any()
                    } else {
                        view! {
                            <ul class="exception-list" data-testid="exception-list">
                                {exceptions.into_iter().map(exception_view).collect_view()}
                            </ul>
                        }
                            .into_any()
                    }
                }}
            </section>
            <div class="table-scroll">
                <table class="board-table">
                    <caption>{strings::BOARD_CAPTION}</caption>
                    <thead>
                        <tr>
                            <th scope="col">{strings::BOARD_COL_DEVICE}</th>
                            <th scope="col">{strings::BOARD_COL_WARD}</th>
                            <th scope="col">{strings::BOARD_COL_STATUS}</th>
                            <th scope="col">{strings::BOARD_COL_HELD_BY}</th>
                            <th scope="col">{strings::BOARD_COL_SINCE}</th>
                            <th scope="col">{strings::BOARD_COL_DUE}</th>
                        </tr>
                    </thead>
                    <tbody>{move || rows().into_iter().map(row_view).collect_view()}</tbody>
                </table>
            </div>
            <section class="recent" aria-labelledby="recent-heading">
                <h2 id="recent-heading">{strings::RECENT_HEADING}</h2>
                {move || {
                    let recent = recent();
                    if recent.is_empty() {
                        view! { <p>{strings::NO_RECENT}</p> }.into_any()
                    } else {
                        view! {
                            <ol class="recent-list" data-testid="recent-handoffs">
                                {recent.into_iter().map(recent_view).collect_view()}
                            </ol>
                        }
                            .into_any()
                    }
                }}
            </section>
            <SyncPanel />
            <p>
                <A href="/this-device">{strings::THIS_DEVICE_LINK}</A>
                " · "
                <A href="/tablet-key">{strings::TABLET_KEY_LINK}</A>
            </p>
        </section>
    }
}
