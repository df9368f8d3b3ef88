//! What the latest session wipe of this device did (`tablet::wipe`): a short confirmation, or
//! the list of what could not be removed with why, and a way to try again. A wipe that did not
//! finish is never recorded as done, so the nurse is told here instead.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::state::AppState;
use crate::strings;

#[component]
pub fn WipeNotice() -> impl IntoView {
    let state = expect_context::<AppState>();
    let retrying = RwSignal::new(false);
    let retry = move |_| {
        retrying.set(true);
        spawn_local(async move {
            state.wipe_session().await;
            retrying.set(false);
        });
    };
    move || {
        state.last_wipe.get().map(|report| {
            if report.complete() {
                view! {
                    <div class="card receipt" role="status" data-testid="wipe-report">
                        <p>{strings::WIPE_DONE}</p>
                        <p>{strings::wipe_removed(report.removed.len())}</p>
                    </div>
                }
                    .into_any()
            } else {
                view! {
                    <div class="card error" role="alert" data-testid="wipe-report">
                        <p>{strings::WIPE_FAILED}</p>
                        <ul>
                            {report
                                .failed
                                .iter()
                                .map(|(item, reason)| {
                                    view! { <li>{strings::wipe_not_removed(&item.to_string(), reason)}</li> }
                                })
                                .collect_view()}
                        </ul>
                        <button type="button" class="secondary" on:click=retry disabled=move || retrying.get()>
                            {strings::WIPE_RETRY}
                        </button>
                    </div>
                }
                    .into_any()
            }
        })
    }
}
