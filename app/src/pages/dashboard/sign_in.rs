//! The dashboard's sign-in form. The password goes to the server once and is never kept.

use leptos::ev::SubmitEvent;
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::{DashboardContext, SessionState};
use crate::browser::dashboard_api;
use crate::strings::dash;

#[component]
pub fn SignIn(notice: Option<String>) -> impl IntoView {
    let context = expect_context::<DashboardContext>();
    let error = RwSignal::new(notice);
    let busy = RwSignal::new(false);
    let username_ref = NodeRef::<html::Input>::new();
    let password_ref = NodeRef::<html::Input>::new();
    Effect::new(move |_| {
        if let Some(input) = username_ref.get() {
            let _ = input.focus();
        }
    });
    let on_submit = move |event: SubmitEvent| {
        event.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let (Some(username), Some(password)) =
            (username_ref.get_untracked(), password_ref.get_untracked())
        else {
            return;
        };
        let (name, secret) = (username.value().trim().to_owned(), password.value());
        if name.is_empty() || secret.is_empty() {
            error.set(Some(dash::SIGN_IN_MISSING.to_owned()));
            return;
        }
        busy.set(true);
        spawn_local(async move {
            let outcome = dashboard_api::sign_in(&name, &secret).await;
            busy.set(false);
            match outcome {
                Ok(session) => {
                    password.set_value("");
                    context.session.set(SessionState::SignedIn(session));
                }
                Err(failure) => {
                    password.set_value("");
                    error.set(Some(context.failure(failure)));
                }
            }
        });
    };
    view! {
        <section class="sign-in">
            <h1>{dash::SIGN_IN_HEADING}</h1>
            <form on:submit=on_submit>
                <label>
                    {dash::USERNAME}
                    <input
                        node_ref=username_ref
                        name="username"
                        autocomplete="username"
                        autocapitalize="off"
                        spellcheck="false"
                        maxlength="64"
                    />
                </label>
                <label>
                    {dash::PASSWORD}
                    <input
                        node_ref=password_ref
                        name="password"
                        type="password"
                        autocomplete="current-password"
                        maxlength="256"
                    />
                </label>
                <button type="submit" disabled=move || busy.get()>
                    {move || if busy.get() { dash::SIGNING_IN } else { dash::SIGN_IN }}
                </button>
                {move || {
                    error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })
                }}
            </form>
        </section>
    }
}
