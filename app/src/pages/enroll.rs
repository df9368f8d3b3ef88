//! Enrollment: the tablet generates its ed25519 key here, redeems a manager's code with the
//! public key, and keeps what the server answers (its identity, the server's key, the roster)
//! with the secret key sealed under a non-extractable WebCrypto key.

use baton_core::ids::SignerKey;
use ed25519_dalek::SigningKey;
use leptos::ev::SubmitEvent;
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::NavigateOptions;
use leptos_router::components::A;
use leptos_router::hooks::use_navigate;

use crate::browser::clock::now_ms;
use crate::browser::{http, keys};
use crate::state::{AppState, Phase};
use crate::strings;
use crate::sync::TransportError;
use crate::tablet::enrollment::{
    EnrollRequest, Enrollment, LabelProblem, check_label, normalise_code,
};

#[component]
pub fn Enroll() -> impl IntoView {
    let state = expect_context::<AppState>();
    move || match state.phase.get() {
        Phase::Ready => view! { <Enrolled /> }.into_any(),
        Phase::Starting => {
            view! { <p class="starting" role="status">{strings::STARTING}</p> }.into_any()
        }
        Phase::Failed(message) => view! {
            <section>
                <h1>{strings::START_FAILED_HEADING}</h1>
                <p class="error" role="alert">{message}</p>
            </section>
        }
        .into_any(),
        Phase::Unenrolled => view! { <EnrollForm /> }.into_any(),
    }
}

#[component]
fn Enrolled() -> impl IntoView {
    let state = expect_context::<AppState>();
    let description = move || {
        state.tablet.with(|tablet| {
            tablet.as_ref().map(|tablet| {
                let enrollment = &tablet.enrollment;
                strings::enrolled_as(
                    &enrollment.label,
                    &enrollment.tablet_id,
                    tablet.roster.ward_name(&enrollment.ward_id),
                )
            })
        })
    };
    view! {
        <section class="enroll">
            <h1>{strings::ENROLL_HEADING}</h1>
            <p>{strings::ALREADY_ENROLLED} " " {description}</p>
            <A href="/">{strings::GO_TO_CHECK_OUT}</A>
        </section>
    }
}

fn label_problem(problem: LabelProblem) -> &'static str {
    match problem {
        LabelProblem::Empty => strings::ENROLL_LABEL_EMPTY,
        LabelProblem::TooLong => strings::ENROLL_LABEL_TOO_LONG,
        LabelProblem::ControlCharacter => strings::ENROLL_LABEL_CONTROL,
    }
}

#[component]
fn EnrollForm() -> impl IntoView {
    let state = expect_context::<AppState>();
    let navigate = use_navigate();
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let code_ref = NodeRef::<html::Input>::new();
    let label_ref = NodeRef::<html::Input>::new();
    // Generating the key when the page opens proves the browser can give the app the secure
    // randomness signing needs, and shows the fingerprint a manager may compare.
    let generated = keys::generate_signing_key();
    let fingerprint = generated
        .as_ref()
        .map(|signing_key| keys::fingerprint(&signing_key.verifying_key()))
        .map_err(Clone::clone);
    let signing_key = StoredValue::new(generated.ok());

    Effect::new(move |_| {
        if let Some(input) = code_ref.get() {
            let _ = input.focus();
        }
    });

    let on_submit = move |event: SubmitEvent| {
        event.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let (Some(code_input), Some(label_input)) =
            (code_ref.get_untracked(), label_ref.get_untracked())
        else {
            return;
        };
        let code = normalise_code(&code_input.value());
        if code.is_empty() {
            error.set(Some(strings::ENROLL_CODE_MISSING.to_owned()));
            return;
        }
        let label = match check_label(&label_input.value()) {
            Ok(label) => label.to_owned(),
            Err(problem) => {
                error.set(Some(label_problem(problem).to_owned()));
                return;
            }
        };
        let Some(signing_key): Option<SigningKey> = signing_key.get_value() else {
            return;
        };
        if !window().navigator().on_line() {
            error.set(Some(strings::ENROLL_OFFLINE.to_owned()));
            return;
        }
        error.set(None);
        busy.set(true);
        let navigate = navigate.clone();
        spawn_local(async move {
            let public_key = SignerKey::from_signing_key(&signing_key).to_hex();
            let request = EnrollRequest {
                code: &code,
                public_key: &public_key,
                label: &label,
            };
            let answer = match http::enroll(&request).await {
                Ok(answer) => answer,
                Err(TransportError::Refused { message, .. }) => {
                    error.set(Some(message));
                    busy.set(false);
                    return;
                }
                Err(TransportError::Unreachable(_)) => {
                    error.set(Some(strings::ENROLL_UNREACHABLE.to_owned()));
                    busy.set(false);
                    return;
                }
                Err(other) => {
                    error.set(Some(other.to_string()));
                    busy.set(false);
                    return;
                }
            };
            let enrollment = Enrollment {
                tablet_id: answer.tablet_id,
                site_id: answer.site_id,
                ward_id: answer.ward_id,
                server_public_key: answer.server_public_key,
                public_key,
                label,
                enrolled_at_ms: now_ms(),
                key_rotations: Vec::new(),
            };
            match state
                .complete_enrollment(enrollment, signing_key, answer.roster)
                .await
            {
                Ok(()) => navigate("/", NavigateOptions::default()),
                Err(message) => {
                    error.set(Some(format!("{} {message}", strings::ENROLL_SAVE_FAILED)));
                    busy.set(false);
                }
            }
        });
    };

    view! {
        <section class="enroll" aria-labelledby="enroll-heading">
            <h1 id="enroll-heading">{strings::ENROLL_HEADING}</h1>
            <p class="tagline">{strings::HOME_TAGLINE}</p>
            <p class="enrollment-status">{strings::NOT_ENROLLED}</p>
            {move || error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
            <form class="enroll-form" on:submit=on_submit>
                <label class="field-label" for="enroll-code">{strings::ENROLL_CODE_LABEL}</label>
                <p class="hint" id="enroll-code-hint">{strings::ENROLL_CODE_HINT}</p>
                <input
                    id="enroll-code"
                    node_ref=code_ref
                    type="text"
                    autocomplete="off"
                    autocapitalize="characters"
                    spellcheck="false"
                    enterkeyhint="go"
                    aria-describedby="enroll-code-hint"
                    disabled=move || busy.get()
                />
                <label class="field-label" for="enroll-label">{strings::ENROLL_LABEL_LABEL}</label>
                <input
                    id="enroll-label"
                    node_ref=label_ref
                    type="text"
                    maxlength="64"
                    value=strings::ENROLL_LABEL_DEFAULT
                    disabled=move || busy.get()
                />
                <button type="submit" class="primary" disabled=move || busy.get()>
                    {move || if busy.get() { strings::ENROLL_BUSY } else { strings::ENROLL_BUTTON }}
                </button>
            </form>
            {match fingerprint {
                Ok(fingerprint) => view! {
                    <p class="key-status">
                        {strings::KEY_READY} " "
                        <code data-testid="key-fingerprint">{fingerprint}</code>
                    </p>
                }
                .into_any(),
                Err(message) => view! {
                    <p class="error" role="alert">{strings::KEY_FAILED} " " {message}</p>
                }
                .into_any(),
            }}
            <p class="format-version">
                {strings::EVENT_FORMAT} " " {baton_core::event::ENVELOPE_VERSION}
            </p>
        </section>
    }
}
