//! Which registry device this tablet is: scan its own asset tag, then a member of staff gives
//! badge and PIN. Kept in IndexedDB (`browser/idb.rs`, `this_device`). With it the tablet knows a
//! check-in of itself, which wipes the previous custodian's session, and locks itself after
//! inactivity while someone holds it (`tablet::wipe`, `tablet::lock`).
//!
//! It cannot be changed while the device is checked out: the custodian could otherwise turn off
//! their own lockout and the wipe at its return.

use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::check_out::show_scanned_device;
use crate::components::device_card::DeviceCard;
use crate::components::identify_person::IdentifyPerson;
use crate::components::scan_field::ScanField;
use crate::components::task_tabs::TaskTabs;
use crate::state::AppState;
use crate::strings;
use crate::tablet::roster::{Device, StaffMember};
use crate::tablet::wipe::ThisDevice;

#[component]
pub fn ThisDevicePage() -> impl IntoView {
    let state = expect_context::<AppState>();
    let device = RwSignal::new(None::<Device>);
    let person = RwSignal::new(None::<StaffMember>);
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let saved = RwSignal::new(None::<String>);
    let device_ref = NodeRef::<html::Input>::new();
    let badge_ref = NodeRef::<html::Input>::new();

    // A memo, so that a sync round does not redraw the form under a scan.
    let current = Memo::new(move |_| {
        state.tablet.with(|tablet| {
            tablet.as_ref().and_then(|tablet| {
                let this = tablet.this_device.clone()?;
                Some((this, !tablet.this_device_holders().is_empty()))
            })
        })
    });

    let on_device = Callback::new(move |scanned: String| {
        error.set(None);
        saved.set(None);
        person.set(None);
        show_scanned_device(state, &scanned, device, error);
    });

    let on_verified = Callback::new(move |_member: StaffMember| {
        let Some(chosen) = device.get_untracked() else {
            busy.set(false);
            return;
        };
        spawn_local(async move {
            let this_device = ThisDevice {
                device_id: chosen.device_id.clone(),
                asset_tag: chosen.asset_tag.clone(),
            };
            match state.set_this_device(this_device).await {
                Ok(()) => {
                    saved.set(Some(strings::this_device_saved(&chosen.asset_tag)));
                    device.set(None);
                    person.set(None);
                }
                Err(message) => {
                    error.set(Some(format!("{} {message}", strings::STORAGE_WRITE_FAILED)))
                }
            }
            busy.set(false);
        });
    });

    view! {
        <TaskTabs />
        <section class="capture" aria-labelledby="this-device-heading">
            <h1 id="this-device-heading">{strings::THIS_DEVICE_HEADING}</h1>
            <p class="hint">{strings::THIS_DEVICE_EXPLAINED}</p>
            <p data-testid="this-device">
                {move || match current.get() {
                    Some((this, _)) => strings::this_device_is(&this.asset_tag, &this.device_id),
                    None => strings::THIS_DEVICE_UNSET.to_owned(),
                }}
            </p>
            {move || saved.get().map(|message| view! { <p class="card receipt" role="status">{message}</p> })}
            {move || error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
            {move || match current.get() {
                Some((this, true)) => {
                    view! { <p class="warning">{strings::this_device_held(&this.asset_tag)}</p> }.into_any()
                }
                _ => {
                    view! {
                        <ScanField
                            id="this-device-asset-tag"
                            label=strings::ASSET_TAG_LABEL
                            hint=strings::ASSET_TAG_HINT
                            button=strings::FIND_DEVICE
                            on_scan=on_device
                            disabled=busy
                            node_ref=device_ref
                            autofocus=true
                        />
                        {move || {
                            device
                                .get()
                                .map(|found| {
                                    view! {
                                        <DeviceCard device=found />
                                        <IdentifyPerson
                                            badge_id="this-device-badge"
                                            pin_id="this-device-pin"
                                            legend=strings::THIS_DEVICE_SET_BY
                                            action=strings::THIS_DEVICE_SAVE
                                            person
                                            busy
                                            error
                                            on_verified
                                            badge_ref
                                        />
                                    }
                                })
                        }}
                    }
                        .into_any()
                }
            }}
        </section>
    }
}
