//! The wall clock and the local time of day, from JavaScript's `Date`.

/// Milliseconds since the epoch, from the tablet's clock.
pub fn now_ms() -> u64 {
    js_sys::Date::now() as u64
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
