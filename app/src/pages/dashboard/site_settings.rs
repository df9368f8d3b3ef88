//! A site's configuration for its admin: the tablet's inactivity lockout, the grace after a
//! shift, the clock and gap tolerances, the UTC offset and the shifts. Loaded once (a live
//! reload would overwrite what the admin is typing); the server checks every bound and names
//! each field it refuses, and that message is shown as it came.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::DashboardContext;
use crate::browser::dashboard_api;
use crate::dashboard::api::{SiteConfigPage, paths};
use crate::dashboard::site_config_form::{ConfigFields, ShiftFields};
use crate::strings::dash;

/// One shift row's fields, each its own signal so that typing re-renders nothing but itself.
#[derive(Clone, Copy)]
struct ShiftRow {
    key: u64,
    name: RwSignal<String>,
    start: RwSignal<String>,
    duration_minutes: RwSignal<String>,
}

/// The form's fields as signals.
#[derive(Clone, Copy)]
struct Form {
    lockout: RwSignal<String>,
    grace: RwSignal<String>,
    skew_seconds: RwSignal<String>,
    gap_minutes: RwSignal<String>,
    utc_offset: RwSignal<String>,
    shifts: RwSignal<Vec<ShiftRow>>,
    next_key: StoredValue<u64>,
}

impl Form {
    fn new() -> Form {
        Form {
            lockout: RwSignal::new(String::new()),
            grace: RwSignal::new(String::new()),
            skew_seconds: RwSignal::new(String::new()),
            gap_minutes: RwSignal::new(String::new()),
            utc_offset: RwSignal::new(String::new()),
            shifts: RwSignal::new(Vec::new()),
            next_key: StoredValue::new(0),
        }
    }

    fn shift_row(&self, shift: &ShiftFields) -> ShiftRow {
        let key = self.next_key.get_value();
        self.next_key.set_value(key + 1);
        ShiftRow {
            key,
            name: RwSignal::new(shift.name.clone()),
            start: RwSignal::new(shift.start.clone()),
            duration_minutes: RwSignal::new(shift.duration_minutes.clone()),
        }
    }

    fn fill(&self, fields: &ConfigFields) {
        self.lockout.set(fields.inactivity_lockout_minutes.clone());
        self.grace.set(fields.grace_minutes.clone());
        self.skew_seconds.set(fields.max_clock_skew_seconds.clone());
        self.gap_minutes.set(fields.persistent_gap_minutes.clone());
        self.utc_offset.set(fields.utc_offset_minutes.clone());
        let rows = fields
            .shifts
            .iter()
            .map(|shift| self.shift_row(shift))
            .collect();
        self.shifts.set(rows);
    }

    fn fields(&self) -> ConfigFields {
        ConfigFields {
            inactivity_lockout_minutes: self.lockout.get_untracked(),
            grace_minutes: self.grace.get_untracked(),
            max_clock_skew_seconds: self.skew_seconds.get_untracked(),
            persistent_gap_minutes: self.gap_minutes.get_untracked(),
            utc_offset_minutes: self.utc_offset.get_untracked(),
            shifts: self
                .shifts
                .get_untracked()
                .iter()
                .map(|row| ShiftFields {
                    name: row.name.get_untracked(),
                    start: row.start.get_untracked(),
                    duration_minutes: row.duration_minutes.get_untracked(),
                })
                .collect(),
        }
    }
}

/// A labelled text field bound to `value`.
fn field(label: &'static str, value: RwSignal<String>, input_type: &'static str) -> impl IntoView {
    view! {
        <label>
            {label}
            <input
                type=input_type
                inputmode="numeric"
                prop:value=move || value.get()
                on:input=move |event| value.set(event_target_value(&event))
            />
        </label>
    }
}

fn shift_view(form: Form, row: ShiftRow) -> impl IntoView {
    let remove = move |_| {
        form.shifts
            .update(|rows| rows.retain(|candidate| candidate.key != row.key));
    };
    view! {
        <div class="filters" data-testid="shift">
            <label>
                {dash::SHIFT_NAME}
                <input
                    maxlength="32"
                    prop:value=move || row.name.get()
                    on:input=move |event| row.name.set(event_target_value(&event))
                />
            </label>
            <label>
                {dash::SHIFT_START}
                <input
                    type="time"
                    prop:value=move || row.start.get()
                    on:input=move |event| row.start.set(event_target_value(&event))
                />
            </label>
            {field(dash::SHIFT_DURATION, row.duration_minutes, "text")}
            <button type="button" class="secondary" on:click=remove>{dash::REMOVE_SHIFT}</button>
        </div>
    }
}

#[component]
pub fn SiteSettings(site_id: String) -> impl IntoView {
    let context = expect_context::<DashboardContext>();
    let form = Form::new();
    let loaded = RwSignal::new(false);
    let problems = RwSignal::new(Vec::<String>::new());
    let saved = RwSignal::new(None::<&'static str>);
    let busy = RwSignal::new(false);
    let path = paths::site_config(&site_id);
    {
        let path = path.clone();
        spawn_local(async move {
            match dashboard_api::get::<SiteConfigPage>(&path).await {
                Ok(page) => {
                    form.fill(&ConfigFields::from_config(&page.config));
                    loaded.set(true);
                }
                Err(failure) => problems.set(vec![context.failure(failure)]),
            }
        });
    }
    let save = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let Some(session) = context.session() else {
            return;
        };
        saved.set(None);
        let config = match form.fields().to_config() {
            Ok(config) => config,
            Err(errors) => {
                problems.set(
                    errors
                        .iter()
                        .map(|error| dash::field_error(&error.field, &error.message))
                        .collect(),
                );
                return;
            }
        };
        let path = path.clone();
        busy.set(true);
        spawn_local(async move {
            let outcome = dashboard_api::put::<serde_json::Value>(&path, &config, &session).await;
            busy.set(false);
            match outcome {
                Ok(answer) => {
                    problems.set(Vec::new());
                    let changed = answer["changed"].as_bool().unwrap_or(false);
                    saved.set(Some(if changed {
                        dash::CONFIG_SAVED
                    } else {
                        dash::CONFIG_UNCHANGED
                    }));
                }
                Err(failure) => problems.set(vec![context.failure(failure)]),
            }
        });
    };
    let add_shift = move |_| {
        let row = form.shift_row(&ShiftFields {
            name: String::new(),
            start: "07:00".to_owned(),
            duration_minutes: "720".to_owned(),
        });
        form.shifts.update(|rows| rows.push(row));
    };
    view! {
        <h3>{dash::SITE_CONFIG_HEADING}</h3>
        <p class="subtle">{dash::SITE_CONFIG_HINT}</p>
        {move || {
            let save = save.clone();
            loaded.get().then(move || view! {
                <form on:submit=save data-testid="site-config">
                    <div class="filters">
                        {field(dash::LOCKOUT_MINUTES, form.lockout, "text")}
                        {field(dash::GRACE_MINUTES, form.grace, "text")}
                        {field(dash::CLOCK_SKEW_SECONDS, form.skew_seconds, "text")}
                        {field(dash::GAP_MINUTES, form.gap_minutes, "text")}
                        {field(dash::UTC_OFFSET_MINUTES, form.utc_offset, "text")}
                    </div>
                    <h4>{dash::SHIFTS}</h4>
                    <For
                        each=move || form.shifts.get()
                        key=|row| row.key
                        children=move |row| shift_view(form, row)
                    />
                    <div class="button-row">
                        <button type="button" class="secondary" on:click=add_shift>{dash::ADD_SHIFT}</button>
                        <button type="submit" disabled=move || busy.get()>{dash::SAVE_CONFIG}</button>
                    </div>
                </form>
            })
        }}
        {move || saved.get().map(|text| view! { <p class="success" role="status">{text}</p> })}
        {move || {
            let problems = problems.get();
            (!problems.is_empty()).then(|| view! {
                <div class="error" role="alert" data-testid="config-problems">
                    {problems.into_iter().map(|problem| view! { <p>{problem}</p> }).collect_view()}
                </div>
            })
        }}
    }
}
