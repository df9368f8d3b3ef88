//! Who takes or returns a device: their badge, then their PIN, checked offline against the
//! roster with the wrong-PIN throttle. The PIN is read from the field once, the field is
//! cleared at once, and the value is dropped after the check: it is never kept in a signal,
//! stored or logged.

use leptos::ev::SubmitEvent;
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::scan_field::{ScanField, focus_soon};
use crate::browser::clock::{format_time, now_ms, pause};
use crate::browser::store::EventStore;
use crate::state::AppState;
use crate::strings;
use crate::tablet::pin::{PinGate, PinOutcome, check_pin};
use crate::tablet::roster::StaffMember;

#[component]
pub fn IdentifyPerson(
    /// The ids of the badge and PIN fields, unique per page.
    badge_id: &'static str,
    pin_id: &'static str,
    /// What the person does, for the fieldset's legend ("Taken by", "Returned by").
    legend: &'static str,
    /// The words on the final button ("Check out").
    action: &'static str,
    person: RwSignal<Option<StaffMember>>,
    busy: RwSignal<bool>,
    error: RwSignal<Option<String>>,
    /// Called with the person once the PIN is right; `busy` stays set for the caller to clear.
    on_verified: Callback<StaffMember>,
    /// Lets the page reset the badge field.
    badge_ref: NodeRef<html::Input>,
    /// Refuses a person before their PIN is asked, with the message to show (the lock screen
    /// takes only the device's custodian).
    #[prop(optional)]
    refuse: Option<Callback<StaffMember, Option<String>>>,
) -> impl IntoView {
    let state = expect_context::<AppState>();
    let pin_ref = NodeRef::<html::Input>::new();
    let checking = RwSignal::new(false);

    let on_badge = Callback::new(move |scanned: String| {
        error.set(None);
        person.set(None);
        let member = state.tablet.with_untracked(|tablet| {
            tablet
                .as_ref()
                .and_then(|tablet| tablet.roster.staff_by_badge(&scanned).cloned())
        });
        let Some(member) = member else {
            error.set(Some(strings::unknown_badge(&scanned)));
            return;
        };
        if !member.active {
            error.set(Some(strings::inactive_person(&member.display_name)));
            return;
        }
        if let Some(message) = refuse.and_then(|refuse| refuse.run(member.clone())) {
            error.set(Some(message));
            return;
        }
        // A running lockout is shown at once, not after the PIN.
        spawn_local(async move {
            let attempts = match state.store() {
                Some(store) => store.pin_attempts(&member.staff_id).await.ok(),
                None => None,
            };
            if let Some(PinGate::LockedUntil(until_ms)) =
                attempts.map(|attempts| attempts.gate(now_ms()))
            {
                error.set(Some(strings::locked_out(
                    &member.display_name,
                    &format_time(until_ms),
                )));
                return;
            }
            person.set(Some(member));
        });
    });

    Effect::new(move |_| {
        if let Some(input) = pin_ref.get() {
            let _ = input.focus();
        }
    });

    let on_pin = move |event: SubmitEvent| {
        event.prevent_default();
        let (Some(member), Some(input)) = (person.get_untracked(), pin_ref.get_untracked()) else {
            return;
        };
        let pin = input.value();
        input.set_value("");
        if pin.is_empty() || busy.get_untracked() {
            return;
        }
        busy.set(true);
        checking.set(true);
        error.set(None);
        spawn_local(async move {
            // argon2 holds the thread for a moment: let the "checking" line paint first.
            pause(30).await;
            let outcome = match state.store() {
                Some(store) => check_pin(&store, &member, &pin, now_ms()).await,
                None => Ok(PinOutcome::BadVerifier),
            };
            drop(pin);
            checking.set(false);
            let refuse = |message: String| {
                error.set(Some(message));
                busy.set(false);
            };
            match outcome {
                Ok(PinOutcome::Verified) => on_verified.run(member),
                Ok(PinOutcome::Wrong { tries_left }) => {
                    refuse(strings::wrong_pin(tries_left));
                    focus_soon(pin_ref);
                }
                Ok(PinOutcome::WaitUntil(until_ms)) => {
                    let seconds = until_ms.saturating_sub(now_ms()).div_ceil(1_000);
                    refuse(strings::wait_before_pin(seconds));
                    focus_soon(pin_ref);
                }
                Ok(PinOutcome::LockedUntil(until_ms)) => {
                    refuse(strings::locked_out(
                        &member.display_name,
                        &format_time(until_ms),
                    ));
                    person.set(None);
                    focus_soon(badge_ref);
                }
                Ok(PinOutcome::BadVerifier) => refuse(strings::BAD_VERIFIER.to_owned()),
                Err(store_error) => refuse(format!("{} {store_error}", strings::STORAGE_FAILED)),
            }
        });
    };

    view! {
        <fieldset class="person-step">
            <legend>{legend}</legend>
            <ScanField
                id=badge_id
                label=strings::BADGE_LABEL
                hint=strings::BADGE_HINT
                button=strings::FIND_PERSON
                on_scan=on_badge
                disabled=busy
                node_ref=badge_ref
                autofocus=true
            />
            {move || {
                person
                    .get()
                    .map(|member| {
                        view! {
                            <div class="card person-card" data-testid="person-card">
                                <p class="card-title">
                                    <strong>{member.display_name.clone()}</strong>
                                    " · "
                                    {member.staff_id.clone()}
                                </p>
                            </div>
                            <form class="pin-step" on:submit=on_pin>
                                <label class="field-label" for=pin_id>
                                    {strings::pin_label(&member.display_name)}
                                </label>
                                <p class="hint" id="pin-hint">{strings::PIN_HINT}</p>
                                <div class="field-row">
                                    <input
                                        id=pin_id
                                        node_ref=pin_ref
                                        type="password"
                                        inputmode="numeric"
                                        autocomplete="off"
                                        maxlength="12"
                                        enterkeyhint="done"
                                        aria-describedby="pin-hint"
                                        disabled=move || busy.get()
                                    />
                                    <button type="submit" class="primary" disabled=move || busy.get()>
                                        {action}
                                    </button>
                                </div>
                            </form>
                        }
                    })
            }}
            {move || {
                checking
                    .get()
                    .then(|| view! { <p class="busy" role="status">{strings::CHECKING_PIN}</p> })
            }}
        </fieldset>
    }
}
