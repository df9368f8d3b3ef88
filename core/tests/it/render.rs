//! Renders a custody state as text for snapshot tests.

use std::fmt::Write;

use baton_core::{CustodyState, Exception, SignedEvent};

use crate::common::{Labels, clock_time};

/// Devices, their intervals and corrections, the exceptions at `now_ms` and the ended custodies.
pub fn render_state(state: &CustodyState, events: &[SignedEvent], now_ms: u64) -> String {
    let labels = Labels::new(events);
    let mut out = String::new();
    for custody in state.devices() {
        let custodians: Vec<&str> = custody
            .custodians()
            .into_iter()
            .map(|staff| staff.as_str())
            .collect();
        write!(out, "{} {:?}", custody.device, custody.status(now_ms)).unwrap();
        if let (Some(since_ms), Some(due_ms)) = (custody.since_ms(), custody.expected_return_ms()) {
            write!(
                out,
                " since {} due {} held by {}",
                clock_time(since_ms),
                clock_time(due_ms),
                custodians.join(",")
            )
            .unwrap();
        }
        writeln!(out).unwrap();
        for interval in &custody.intervals {
            let end = match &interval.end {
                Some(end) => format!(
                    "{} {} {:?}",
                    labels.label(&end.event),
                    clock_time(end.end_ms),
                    end.reason
                ),
                None => "open".to_owned(),
            };
            writeln!(
                out,
                "  {} {:?} {} {} -> {end}",
                interval.staff,
                interval.method,
                labels.label(&interval.opened_by),
                clock_time(interval.start_ms)
            )
            .unwrap();
        }
        for correction in &custody.corrections {
            let effect = if correction.effective {
                "voids"
            } else {
                "ineffective on"
            };
            writeln!(
                out,
                "  {} {effect} {}",
                labels.label(&correction.correction),
                labels.label(&correction.corrects)
            )
            .unwrap();
        }
    }
    writeln!(out, "exceptions:").unwrap();
    out.push_str(&render_exceptions(&state.exceptions(now_ms), events));
    out
}

pub fn render_exceptions(exceptions: &[Exception], events: &[SignedEvent]) -> String {
    let labels = Labels::new(events);
    let mut out = String::new();
    for exception in exceptions {
        let people: Vec<&str> = exception
            .people
            .iter()
            .map(|staff| staff.as_str())
            .collect();
        let kind = serde_json::to_value(exception.kind).unwrap();
        let severity = serde_json::to_value(exception.severity).unwrap();
        writeln!(
            out,
            "  {} {} {} {} [{}] {}: {}",
            exception.device,
            clock_time(exception.at_ms),
            kind.as_str().unwrap(),
            severity.as_str().unwrap(),
            labels.list(&exception.evidence),
            people.join(","),
            exception.detail
        )
        .unwrap();
    }
    out
}
