//! Reports for a period: SVG charts (handoffs per shift, overdue devices over time, exceptions by
//! kind), the evidence report mapped to the controls it evidences (printable), and the audit
//! export with how to verify it offline.

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde::Deserialize;

use super::{DashboardContext, Loaded, load_live, not_loaded};
use crate::browser::clock::{format_time, now_ms};
use crate::browser::dashboard_api;
use crate::dashboard::api::{Report, paths};
use crate::dashboard::charts::{
    Frame, ROW_HEIGHT, bars, labelled, nice_max, polyline, rows, ticks,
};
use crate::dashboard::format::{maybe_duration, share, words};
use crate::strings::dash;

const DAY_MS: u64 = 24 * 60 * 60 * 1_000;
const PERIODS: [u64; 4] = [1, 7, 30, 90];

#[derive(Debug, Clone, Deserialize)]
struct Meta {
    server_public_key: String,
}

#[component]
pub fn Reports() -> impl IntoView {
    let context = expect_context::<DashboardContext>();
    let days = RwSignal::new(7_u64);
    // The period ends at the moment it was chosen, so reloads by the live stream keep it.
    let to_ms = RwSignal::new(now_ms());
    let range = move || {
        let to = to_ms.get();
        (to.saturating_sub(days.get() * DAY_MS), to)
    };
    let report = RwSignal::new(Loaded::<Report>::Loading);
    load_live(
        context,
        move || {
            let (from, to) = range();
            paths::report(from, to)
        },
        report,
    );
    let server_key = RwSignal::new(None::<String>);
    spawn_local(async move {
        if let Ok(meta) = dashboard_api::get::<Meta>("/api/v1/meta").await {
            server_key.set(Some(meta.server_public_key));
        }
    });
    let print = |_| {
        if let Some(window) = web_sys::window() {
            let _ = window.print();
        }
    };
    let content = move || {
        let loaded = report.get();
        if let Some(message) = not_loaded(&loaded) {
            return message;
        }
        let Loaded::Ready(report) = loaded else {
            return ().into_any();
        };
        view! {
            <EvidenceReport report=report.clone() />
            <h2>{dash::HANDOFFS_PER_SHIFT}</h2>
            {shift_chart(&report)}
            <h2>{dash::OVERDUE_OVER_TIME}</h2>
            {overdue_chart(&report)}
            <h2>{dash::EXCEPTIONS_BY_KIND}</h2>
            {kind_chart(&report)}
        }
        .into_any()
    };
    view! {
        <section class="reports">
            <h1>{dash::REPORTS_HEADING}</h1>
            <div class="filters no-print">
                <label>
                    {dash::PERIOD}
                    <select
                        data-testid="period"
                        prop:value=move || days.get().to_string()
                        on:change=move |event| {
                            days.set(event_target_value(&event).parse().unwrap_or(7));
                            to_ms.set(now_ms());
                        }
                    >
                        {PERIODS.iter().map(|days| view! { <option value=days.to_string()>{dash::period(*days)}</option> }).collect_view()}
                    </select>
                </label>
                <button type="button" class="secondary" on:click=print>{dash::PRINT}</button>
            </div>
            {content}
            <section class="export">
                <h2>{dash::EXPORT_HEADING}</h2>
                <ul>
                    <li><a href=paths::LEDGER_EXPORT download="baton-audit-bundle.json" data-testid="export-bundle">{dash::EXPORT_BUNDLE}</a></li>
                    <li>
                        <a href=move || { let (from, to) = range(); paths::ledger_export_range(from, to) } download="baton-audit-bundle-period.json" data-testid="export-bundle-period">
                            {dash::EXPORT_BUNDLE_PERIOD}
                        </a>
                    </li>
                    <li>
                        <a href=move || { let (from, to) = range(); paths::custodies_csv(from, to) } download="baton-custodies.csv">
                            {dash::EXPORT_CSV}
                        </a>
                    </li>
                </ul>
                <p>{dash::VERIFY_HOW}</p>
                <pre><code>{move || format!(
                    "baton verify baton-audit-bundle.json --server-key {}",
                    server_key.get().unwrap_or_else(|| "<server key>".to_owned())
                )}</code></pre>
            </section>
        </section>
    }
}

#[component]
fn EvidenceReport(report: Report) -> impl IntoView {
    let revocation = &report.revocation;
    let rows: Vec<(&'static str, String)> = vec![
        ("Handoffs recorded", report.handoffs.total.to_string()),
        (
            "Custody ends needing revocation",
            revocation.custody_ends.to_string(),
        ),
        (
            "Revocations confirmed",
            format!(
                "{} ({})",
                revocation.confirmed,
                share(revocation.confirmed_share)
            ),
        ),
        (
            "Time to confirm, median",
            maybe_duration(revocation.confirm_ms.median),
        ),
        (
            "Time to confirm, p95",
            maybe_duration(revocation.confirm_ms.p95),
        ),
        ("Revocations failed", revocation.failed.to_string()),
        ("Revocations pending", revocation.pending.to_string()),
        ("Overdue devices now", report.overdue.now.to_string()),
        ("Missing devices", report.missing.to_string()),
        ("Break-glass hand-outs", report.break_glass.to_string()),
        ("Exceptions opened", report.exceptions.opened.to_string()),
        (
            "Exceptions resolved",
            report.exceptions.resolved.to_string(),
        ),
        (
            "Exception age, median",
            maybe_duration(report.exceptions.age_ms.median),
        ),
        (
            "Exception age, p95",
            maybe_duration(report.exceptions.age_ms.p95),
        ),
    ];
    view! {
        <section class="evidence-report" data-testid="evidence-report">
            <h2>{dash::EVIDENCE_REPORT}</h2>
            <p class="subtle">
                {format!("{} · {} – {} · generated {}", report.site_id, format_time(report.from_ms), format_time(report.to_ms), format_time(report.generated_at_ms))}
            </p>
            <table class="figures">
                <tbody>
                    {rows.into_iter().map(|(label, value)| view! { <tr><th scope="row">{label}</th><td>{value}</td></tr> }).collect_view()}
                </tbody>
            </table>
            <h3>{dash::CONTROLS}</h3>
            <table class="figures">
                <tbody>
                    {report.controls.iter().map(|control| view! {
                        <tr>
                            <th scope="row">{format!("{} {}", control.framework, control.id)}<br /><span class="subtle">{control.title.clone()}</span></th>
                            <td>{control.evidence.clone()}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}

fn no_data() -> AnyView {
    view! { <p class="subtle">{dash::NO_DATA}</p> }.into_any()
}

/// Bars with their axis and labels, in the standard frame.
fn bar_chart(values: Vec<(String, u64)>, label: &'static str) -> AnyView {
    if values.iter().all(|(_, value)| *value == 0) {
        return no_data();
    }
    let frame = Frame::STANDARD;
    let top = nice_max(values.iter().map(|(_, value)| *value).max().unwrap_or(0));
    let n_bars = values.len();
    let drawn = bars(&values, frame, top);
    view! {
        <svg class="chart" viewBox=format!("0 0 {} {}", frame.width, frame.height) role="img" aria-label=label>
            {axis(frame, top)}
            {drawn.into_iter().enumerate().map(|(index, bar)| {
                let show_label = labelled(index, n_bars, 7);
                view! {
                    <rect class="bar" x=bar.x y=bar.y width=bar.width height=bar.height>
                        <title>{format!("{}: {}", bar.label, bar.value)}</title>
                    </rect>
                    {show_label.then(|| view! {
                        <text class="tick" x=bar.center y=frame.height - 20.0 text-anchor="middle">{bar.label.clone()}</text>
                    })}
                }
            }).collect_view()}
        </svg>
    }
    .into_any()
}

fn axis(frame: Frame, top: u64) -> impl IntoView {
    ticks(top)
        .into_iter()
        .map(|tick| {
            let y = frame.y(tick, top);
            view! {
                <line class="grid" x1=frame.left x2=frame.width y1=y y2=y />
                <text class="tick" x=frame.left - 6.0 y=y + 4.0 text-anchor="end">{tick}</text>
            }
        })
        .collect_view()
}

fn shift_chart(report: &Report) -> AnyView {
    let values = report
        .handoffs
        .per_shift
        .iter()
        .map(|shift| (short_shift_label(&shift.label), shift.count))
        .collect();
    bar_chart(values, dash::HANDOFFS_PER_SHIFT)
}

/// Exceptions by kind as horizontal bars: only the kinds that occurred, most frequent first.
/// `2026-11-20 night` → `11-20 night`: the year is in the report's period.
fn short_shift_label(label: &str) -> String {
    match label.split_once('-') {
        Some((year, rest)) if year.len() == 4 && year.bytes().all(|byte| byte.is_ascii_digit()) => {
            rest.to_owned()
        }
        _ => label.to_owned(),
    }
}

fn kind_chart(report: &Report) -> AnyView {
    let values: Vec<(String, u64)> = report
        .exceptions
        .by_kind
        .iter()
        .map(|(kind, count)| (words(kind), *count))
        .collect();
    const LABEL_SPACE: f64 = 220.0;
    const BAR_SPACE: f64 = 360.0;
    let drawn = rows(&values, BAR_SPACE);
    if drawn.is_empty() {
        return no_data();
    }
    let height = ROW_HEIGHT * drawn.len() as f64;
    view! {
        <svg
            class="chart"
            viewBox=format!("0 0 {} {height}", LABEL_SPACE + BAR_SPACE + 40.0)
            role="img"
            aria-label=dash::EXCEPTIONS_BY_KIND
        >
            {drawn.into_iter().map(|row| view! {
                <text class="tick" x=LABEL_SPACE - 8.0 y=row.y + 16.0 text-anchor="end">{row.label.clone()}</text>
                <rect class="bar" x=LABEL_SPACE y=row.y + 4.0 width=row.width.max(1.0) height=ROW_HEIGHT - 8.0>
                    <title>{format!("{}: {}", row.label, row.value)}</title>
                </rect>
                <text class="tick" x=LABEL_SPACE + row.width + 6.0 y=row.y + 16.0>{row.value}</text>
            }).collect_view()}
        </svg>
    }
    .into_any()
}

fn overdue_chart(report: &Report) -> AnyView {
    let series: Vec<(u64, u64)> = report
        .overdue
        .series
        .iter()
        .map(|point| (point.at_ms, point.count))
        .collect();
    if series.is_empty() {
        return no_data();
    }
    let frame = Frame::STANDARD;
    let top = nice_max(series.iter().map(|(_, count)| *count).max().unwrap_or(0));
    let points = polyline(&series, frame, report.from_ms, report.to_ms, top);
    let confirm = &report.revocation.confirm_ms;
    view! {
        <svg class="chart" viewBox=format!("0 0 {} {}", frame.width, frame.height) role="img" aria-label=dash::OVERDUE_OVER_TIME>
            {axis(frame, top)}
            <polyline class="line" points=points />
            <text class="tick" x=frame.left y=frame.height - 8.0>{format_time(report.from_ms)}</text>
            <text class="tick" x=frame.width y=frame.height - 8.0 text-anchor="end">{format_time(report.to_ms)}</text>
        </svg>
        <p>
            <strong>{dash::TIME_TO_REVOKE} ": "</strong>
            {format!("median {}, p95 {} ({} measured)", maybe_duration(confirm.median), maybe_duration(confirm.p95), confirm.samples)}
        </p>
    }
    .into_any()
}
