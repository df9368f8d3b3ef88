//! Bulk hand-out at shift start (`tablet::hand_out`): the charge nurse's badge and PIN once, then
//! for each recipient a badge scan and a run of device scans. Every device is signed and
//! committed to IndexedDB as its own check-out before its line appears in the run's list.

use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::check_out::find_device;
use crate::browser::clock::{format_time, now_ms};
use crate::components::identify_person::IdentifyPerson;
use crate::components::scan_field::{ScanField, focus_soon};
use crate::components::task_tabs::TaskTabs;
use crate::state::AppState;
use crate::strings;
use crate::tablet::board::holders;
use crate::tablet::capture::hand_out_body;
use crate::tablet::hand_out::{Run, RunRefusal, may_issue};
use crate::tablet::roster::{Device, StaffMember};
use crate::tablet::shift::current_shift;

/// One committed line of the run.
#[derive(Debug, Clone, PartialEq, Eq)]
struct HandedOut {
    asset_tag: String,
    recipient: String,
    time: String,
    record: String,
}

#[component]
pub fn HandOut() -> impl IntoView {
    let state = expect_context::<AppState>();
    let issuer_step = RwSignal::new(None::<StaffMember>);
    let run = RwSignal::new(None::<Run>);
    let recipient = RwSignal::new(None::<StaffMember>);
    let handed = RwSignal::new(Vec::<HandedOut>::new());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let issuer_badge_ref = NodeRef::<html::Input>::new();
    let recipient_ref = NodeRef::<html::Input>::new();
    let device_ref = NodeRef::<html::Input>::new();

    let refuse_issuer = Callback::new(move |member: StaffMember| {
        (!may_issue(&member)).then(|| strings::may_not_issue(&member.display_name))
    });

    let on_issuer = Callback::new(move |member: StaffMember| {
        run.set(Some(Run::open(member, now_ms())));
        issuer_step.set(None);
        busy.set(false);
        focus_soon(recipient_ref);
    });

    // Ends the run: the next hand-out needs the charge nurse's badge and PIN again.
    let end_run = move |message: Option<String>| {
        run.set(None);
        recipient.set(None);
        error.set(message);
        focus_soon(issuer_badge_ref);
    };

    let refusal = move |refused: RunRefusal, name: &str| match refused {
        RunRefusal::Expired => end_run(Some(strings::HAND_OUT_EXPIRED.to_owned())),
        RunRefusal::IssuerIsRecipient => error.set(Some(strings::HAND_OUT_TO_SELF.to_owned())),
        RunRefusal::Inactive => error.set(Some(strings::inactive_person(name))),
    };

    let on_recipient = Callback::new(move |scanned: String| {
        error.set(None);
        let member = state.tablet.with_untracked(|tablet| {
            tablet
                .as_ref()
                .and_then(|tablet| tablet.roster.staff_by_badge(&scanned).cloned())
        });
        let Some(member) = member else {
            error.set(Some(strings::unknown_badge(&scanned)));
            return;
        };
        let mut checked = None;
        run.update(|run| {
            checked = run
                .as_mut()
                .map(|run| run.accept_recipient(&member, now_ms()));
        });
        match checked {
            Some(Ok(())) => {
                recipient.set(Some(member));
                focus_soon(device_ref);
            }
            Some(Err(refused)) => refusal(refused, &member.display_name),
            None => end_run(None),
        }
    });

    let on_device = Callback::new(move |scanned: String| {
        error.set(None);
        let Some(to) = recipient.get_untracked() else {
            return;
        };
        let device: Device = match find_device(state, &scanned) {
            Ok(device) => device,
            Err(message) => {
                error.set(Some(message));
                return;
            }
        };
        // A held device is refused here: a run hands out free devices, and taking one from
        // someone is a hand-over with both people present.
        let held = state.tablet.with_untracked(|tablet| {
            tablet
                .as_ref()
                .and_then(|tablet| holders(&tablet.roster, tablet.replica(), &device.device_id))
        });
        if let Some((names, since_ms)) = held {
            error.set(Some(strings::hand_out_held(
                &device.asset_tag,
                &names.join(", "),
                &format_time(since_ms),
            )));
            return;
        }
        let mut checked = None;
        run.update(|run| checked = run.as_mut().map(|run| run.use_at(now_ms())));
        let issuer = match (checked, run.get_untracked()) {
            (Some(Ok(())), Some(run)) => run.issuer,
            (Some(Err(refused)), _) => return refusal(refused, &to.display_name),
            _ => return end_run(None),
        };
        busy.set(true);
        spawn_local(async move {
            let at_ms = now_ms();
            let committed = state
                .commit_built(|tablet| {
                    hand_out_body(
                        &device.device_id,
                        &to.staff_id,
                        &issuer.staff_id,
                        &tablet.enrollment.ward_id,
                        current_shift(&tablet.roster.site_config.rules, at_ms),
                    )
                })
                .await;
            match committed {
                Ok(event) => handed.update(|handed| {
                    handed.push(HandedOut {
                        asset_tag: device.asset_tag.clone(),
                        recipient: to.display_name.clone(),
                        time: format_time(event.wall_ms()),
                        record: event.id().to_hex()[..16].to_owned(),
                    })
                }),
                Err(message) => {
                    error.set(Some(format!("{} {message}", strings::STORAGE_WRITE_FAILED)))
                }
            }
            busy.set(false);
            if let Some(input) = device_ref.get_untracked() {
                input.set_value("");
            }
            focus_soon(device_ref);
        });
    });

    // Who opened the run, as a memo: a scan updates the run's last use, and that must not
    // rebuild the fields under the nurse's fingers.
    let issuer_name =
        Memo::new(move |_| run.with(|run| run.as_ref().map(|run| run.issuer.display_name.clone())));

    let next_person = move |_| {
        recipient.set(None);
        error.set(None);
        focus_soon(recipient_ref);
    };

    view! {
        <TaskTabs />
        <section class="capture" aria-labelledby="hand-out-heading">
            <h1 id="hand-out-heading">{strings::HAND_OUT_HEADING}</h1>
            <p class="hint">{strings::HAND_OUT_EXPLAINED}</p>
            {move || error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
            {move || match issuer_name.get() {
                None => {
                    view! {
                        <IdentifyPerson
                            badge_id="hand-out-issuer-badge"
                            pin_id="hand-out-issuer-pin"
                            legend=strings::HAND_OUT_ISSUED_BY
                            action=strings::HAND_OUT_START
                            person=issuer_step
                            busy
                            error
                            on_verified=on_issuer
                            badge_ref=issuer_badge_ref
                            refuse=refuse_issuer
                        />
                    }
                        .into_any()
                }
                Some(issuer) => {
                    view! {
                        <p class="card" data-testid="hand-out-issuer">
                            {strings::hand_out_issued_by(&issuer)}
                        </p>
                        <ScanField
                            id="hand-out-recipient"
                            label=strings::HAND_OUT_RECIPIENT
                            hint=strings::BADGE_HINT
                            button=strings::FIND_PERSON
                            on_scan=on_recipient
                            disabled=busy
                            node_ref=recipient_ref
                            autofocus=true
                        />
                        {move || {
                            recipient
                                .get()
                                .map(|to| {
                                    view! {
                                        <div class="card person-card" data-testid="hand-out-to">
                                            <p class="card-title">
                                                <strong>{to.display_name.clone()}</strong>
                                                " · "
                                                {to.staff_id.clone()}
                                            </p>
                                        </div>
                                        <ScanField
                                            id="hand-out-device"
                                            label=strings::hand_out_device_label(&to.display_name)
                                            hint=strings::ASSET_TAG_HINT
                                            button=strings::HAND_OUT_BUTTON
                                            on_scan=on_device
                                            disabled=busy
                                            node_ref=device_ref
                                            autofocus=true
                                        />
                                        <button type="button" class="secondary" on:click=next_person disabled=move || busy.get()>
                                            {strings::HAND_OUT_NEXT_PERSON}
                                        </button>
                                    }
                                })
                        }}
                        <button type="button" class="secondary" on:click=move |_| end_run(None) disabled=move || busy.get()>
                            {strings::HAND_OUT_FINISH}
                        </button>
                    }
                        .into_any()
                }
            }}
            {move || busy.get().then(|| view! { <p class="busy" role="status">{strings::SAVING}</p> })}
            <ol class="hand-out-list" reversed=true aria-label=strings::HAND_OUT_LIST data-testid="hand-out-list">
                <For
                    each=move || handed.get().into_iter().rev()
                    key=|line| line.record.clone()
                    children=|line| {
                        view! {
                            <li class="card receipt" role="status">
                                <p class="receipt-title">
                                    {strings::handed_out(&line.asset_tag, &line.recipient, &line.time)}
                                </p>
                                <p class="record-id">{line.record}</p>
                            </li>
                        }
                    }
                />
            </ol>
        </section>
    }
}
