//! The wall clock and the local time of day, from JavaScript's `Date`, and the server's clock
//! as the tablet last measured it (`tablet::clock_check` says why and what it is used for).

use std::cell::Cell;

use crate::tablet::clock_check::{self, LastServerTime, Reference, ServerReading};

thread_local! {
    /// The latest reading of the server's clock, for the life of the page: a monotonic clock
    /// reading does not survive a reload, so neither does this.
    static SERVER_READING: Cell<Option<ServerReading>> = const { Cell::new(None) };
    /// What the tablet knew of the server's clock at its last contact before this page, read
    /// from IndexedDB at start: what a page started offline goes by.
    static LAST_SERVER_TIME: Cell<Option<LastServerTime>> = const { Cell::new(None) };
}

/// Milliseconds since the epoch, from the tablet's clock.
pub fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

/// The page's monotonic clock, in ms since the page started: setting the date and time does not
/// move it.
fn monotonic_ms() -> Option<f64> {
    web_sys::window()?
        .performance()
        .map(|performance| performance.now())
}

/// Takes a reading of the server's clock from an answer's `Date` header.
pub fn observe_server_date(date_header: &str) {
    let Some(monotonic_ms) = monotonic_ms() else {
        return;
    };
    if let Some(reading) =
        ServerReading::from_date_header(js_sys::Date::parse(date_header), monotonic_ms)
    {
        SERVER_READING.with(|latest| latest.set(Some(reading)));
    }
}

/// The server's time now, if this page has measured it.
pub fn server_now_ms() -> Option<u64> {
    let reading = SERVER_READING.with(Cell::get)?;
    Some(reading.server_now_ms(monotonic_ms()?))
}

/// Sets what the tablet knew of the server's clock at its last contact, as read from storage at
/// start.
pub fn remember_last_server_time(last: Option<LastServerTime>) {
    LAST_SERVER_TIME.with(|kept| kept.set(last));
}

/// What to keep in storage of the server's clock now: `None` unless this page measured it.
pub fn last_server_time_now() -> Option<LastServerTime> {
    clock_check::last_server_time(now_ms(), server_now_ms())
}

/// The time the tablet signs with, and where it comes from (`clock_check::reference`).
pub fn reference() -> Reference {
    let page_age_ms = monotonic_ms().unwrap_or(0.0).max(0.0) as u64;
    clock_check::reference(
        now_ms(),
        server_now_ms(),
        LAST_SERVER_TIME.with(Cell::get),
        page_age_ms,
    )
}

/// The time the tablet signs with: the server's when measured, else estimated from the last
/// contact (`clock_check::reference`).
pub fn reference_now_ms() -> u64 {
    reference().ms()
}

/// How far the tablet's clock is ahead of the server's (negative: behind), once measured or
/// estimated.
pub fn skew_ms() -> Option<i64> {
    reference().skew_ms(now_ms())
}

/// Since when the tablet has not been able to check its clock, when its own clock is not
/// believed (`Reference::Unchecked`).
pub fn unchecked_since_ms() -> Option<u64> {
    reference().unchecked_since_ms()
}

/// `14:05` in the tablet's local time, with the day in front (`10 Mar 14:05`) when it is not
/// today: what a nurse reads on a handoff receipt or the board.
pub fn format_time(at_ms: u64) -> String {
    let date = js_sys::Date::new(&(at_ms as f64).into());
    let today = js_sys::Date::new_0();
    let time = format!("{:02}:{:02}", date.get_hours(), date.get_minutes());
    let same_day = date.get_full_year() == today.get_full_year()
        && date.get_month() == today.get_month()
        && date.get_date() == today.get_date();
    if same_day {
        time
    } else {
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let month = MONTHS[date.get_month() as usize % 12];
        format!("{} {month} {time}", date.get_date())
    }
}

/// Waits `delay_ms` without blocking the page: used to let the browser paint a "checking…"
/// message before a long computation such as argon2 holds the thread.
pub async fn pause(delay_ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        if let Some(window) = web_sys::window() {
            let _ =
                window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, delay_ms);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// Marks a moment on the page's performance timeline (`performance.mark`), for the tablet
/// benchmarks (`cargo xtask bench`): they read the marks and measures, the app never does.
pub fn mark(name: &str) {
    if let Some(performance) = web_sys::window().and_then(|window| window.performance()) {
        let _ = performance.mark(name);
    }
}

/// Records the time from the mark `start` to now as the measure `name`.
pub fn measure_since(name: &str, start: &str) {
    if let Some(performance) = web_sys::window().and_then(|window| window.performance()) {
        let _ = performance.measure_with_start_mark(name, start);
    }
}
