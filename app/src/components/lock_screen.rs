//! The inactivity lockout's screen (`tablet::lock`): everything else is hidden until one of the
//! device's custodians gives badge and PIN, checked offline with the wrong-PIN throttle. Anyone
//! else may instead check the device in with their own badge and PIN, which ends the custody
//! and wipes the session: a device found unattended goes back without its custodian.

use leptos::html;
use leptos::prelude::*;

use super::identify_person::IdentifyPerson;
use crate::pages::check_in::CheckIn;
use crate::state::AppState;
use crate::strings;
use crate::tablet::lock::{Lock, may_unlock};
use crate::tablet::roster::StaffMember;

#[component]
pub fn LockScreen() -> impl IntoView {
    let state = expect_context::<AppState>();
    let person = RwSignal::new(None::<StaffMember>);
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let badge_ref = NodeRef::<html::Input>::new();

    let holders = move || {
        state.tablet.with_untracked(|tablet| {
            tablet
                .as_ref()
                .map(|tablet| tablet.this_device_holders())
                .unwrap_or_default()
        })
    };
    let holder_names = move || {
        state.tablet.with_untracked(|tablet| {
            tablet.as_ref().map_or_else(String::new, |tablet| {
                tablet
                    .this_device_holders()
                    .iter()
                    .map(|staff_id| tablet.roster.display_name(staff_id).to_owned())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
        })
    };
    let refuse = Callback::new(move |member: StaffMember| {
        (!may_unlock(&holders(), &member.staff_id))
            .then(|| strings::not_the_custodian(&member.display_name))
    });
    let on_verified = Callback::new(move |member: StaffMember| {
        busy.set(false);
        // Checked again after the PIN: the custody may have ended meanwhile (a pull).
        if may_unlock(&holders(), &member.staff_id) {
            state.unlock();
        } else {
            error.set(Some(strings::not_the_custodian(&member.display_name)));
        }
    });

    move || {
        if state.lock.get() == Lock::HandingIn {
            return view! { <CheckIn handing_in=true /> }.into_any();
        }
        view! {
            <section class="capture lock-screen" aria-labelledby="lock-heading" data-testid="lock-screen">
                <h1 id="lock-heading">{strings::LOCK_HEADING}</h1>
                <p>{strings::locked_for(&holder_names())}</p>
                {move || error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
                <IdentifyPerson
                    badge_id="unlock-badge"
                    pin_id="unlock-pin"
                    legend=strings::UNLOCK_LEGEND
                    action=strings::UNLOCK_BUTTON
                    person
                    busy
                    error
                    on_verified
                    badge_ref
                    refuse
                />
                <button
                    type="button"
                    class="secondary"
                    on:click=move |_| state.lock.set(Lock::HandingIn)
                    disabled=move || busy.get()
                >
                    {strings::HAND_IN_INSTEAD}
                </button>
            </section>
        }
            .into_any()
    }
}
