//! This tablet's signing key: which key it signs with, and the rotation to a new one
//! (`crate::key_rotation`), confirmed by a charge nurse or a manager with badge and PIN, as
//! the other settings of the tablet itself are.

use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::components::identify_person::IdentifyPerson;
use crate::components::scan_field::focus_soon;
use crate::components::task_tabs::TaskTabs;
use crate::key_rotation::RotationDone;
use crate::state::AppState;
use crate::strings;
use crate::tablet::key_rotation::{fingerprint, may_rotate};
use crate::tablet::roster::StaffMember;

#[component]
pub fn TabletKeyPage() -> impl IntoView {
    let state = expect_context::<AppState>();
    let person = RwSignal::new(None::<StaffMember>);
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let done = RwSignal::new(None::<RotationDone>);
    let badge_ref = NodeRef::<html::Input>::new();

    let current = Memo::new(move |_| {
        state.tablet.with(|tablet| {
            tablet.as_ref().map(|tablet| {
                let keys = tablet.own_keys();
                strings::tablet_key_current(
                    fingerprint(&tablet.enrollment.public_key),
                    keys.len().saturating_sub(1),
                )
            })
        })
    });

    let refuse = Callback::new(move |member: StaffMember| {
        (!may_rotate(&member.role)).then(|| strings::may_not_rotate(&member.display_name))
    });

    let on_verified = Callback::new(move |_member: StaffMember| {
        done.set(None);
        spawn_local(async move {
            match state.rotate_signing_key().await {
                Ok(rotated) => {
                    done.set(Some(rotated));
                    person.set(None);
                }
                Err(message) => {
                    // Another try is confirmed again, from the badge.
                    error.set(Some(message));
                    person.set(None);
                    focus_soon(badge_ref);
                }
            }
            busy.set(false);
        });
    });

    view! {
        <TaskTabs />
        <section class="capture" aria-labelledby="tablet-key-heading">
            <h1 id="tablet-key-heading">{strings::TABLET_KEY_HEADING}</h1>
            <p class="hint">{strings::TABLET_KEY_EXPLAINED}</p>
            <p data-testid="tablet-key">{move || current.get()}</p>
            {move || {
                done.get()
                    .map(|rotated| {
                        view! {
                            <div class="card receipt" role="status" data-testid="key-rotated">
                                <p class="receipt-title">{strings::TABLET_KEY_ROTATED}</p>
                                <p>
                                    {strings::TABLET_KEY_OLD} ": "
                                    <code data-testid="old-key">{rotated.previous}</code>
                                </p>
                                <p>
                                    {strings::TABLET_KEY_NEW} ": "
                                    <code data-testid="new-key">{rotated.next}</code>
                                </p>
                            </div>
                        }
                    })
            }}
            {move || error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
            <IdentifyPerson
                badge_id="tablet-key-badge"
                pin_id="tablet-key-pin"
                legend=strings::TABLET_KEY_CONFIRMED_BY
                action=strings::TABLET_KEY_ROTATE
                person
                busy
                error
                on_verified
                badge_ref
                refuse
            />
            {move || {
                busy.get()
                    .then(|| view! { <p class="busy" role="status">{strings::TABLET_KEY_ROTATING}</p> })
            }}
        </section>
    }
}
