//! A field for a scanner or a keyboard: a barcode scanner types its burst and presses Enter, a
//! person types and presses Enter or the button. Each field is its own form, so Enter always
//! means "this step is done".

use leptos::ev::SubmitEvent;
use leptos::html;
use leptos::prelude::*;

/// Focuses a field once the current reactive updates have reached the DOM: a field that was
/// disabled while the tablet was busy cannot take focus before that.
pub fn focus_soon(node_ref: NodeRef<html::Input>) {
    request_animation_frame(move || {
        if let Some(input) = node_ref.get_untracked() {
            let _ = input.focus();
        }
    });
}

#[component]
pub fn ScanField(
    /// The input's id, also the prefix of its hint's id.
    id: &'static str,
    #[prop(into)] label: String,
    hint: &'static str,
    /// The words on the button next to the field.
    button: &'static str,
    /// Called with the trimmed value when the step is submitted.
    on_scan: Callback<String>,
    #[prop(into)] disabled: Signal<bool>,
    /// Lets the page focus or clear the field.
    #[prop(optional)]
    node_ref: NodeRef<html::Input>,
    /// Focus the field as soon as it appears.
    #[prop(optional)]
    autofocus: bool,
) -> impl IntoView {
    let hint_id = format!("{id}-hint");
    if autofocus {
        Effect::new(move |_| {
            if let Some(input) = node_ref.get() {
                let _ = input.focus();
            }
        });
    }
    let on_submit = move |event: SubmitEvent| {
        event.prevent_default();
        let Some(input) = node_ref.get_untracked() else {
            return;
        };
        let value = input.value().trim().to_owned();
        if value.is_empty() {
            return;
        }
        // Selected, the next scan replaces the value instead of being appended to it.
        input.select();
        on_scan.run(value);
    };
    view! {
        <form class="scan-step" on:submit=on_submit>
            <label class="field-label" for=id>{label}</label>
            <p class="hint" id=hint_id.clone()>{hint}</p>
            <div class="field-row">
                <input
                    id=id
                    node_ref=node_ref
                    type="text"
                    autocomplete="off"
                    autocapitalize="characters"
                    spellcheck="false"
                    enterkeyhint="go"
                    aria-describedby=hint_id
                    disabled=disabled
                />
                <button type="submit" disabled=disabled>{button}</button>
            </div>
        </form>
    }
}
