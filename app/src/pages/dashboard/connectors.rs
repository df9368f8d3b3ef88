//! A site's revocation connectors for its admin: the list (the server file's read-only, the
//! site's own with enable and disable), and a form that adds a connector or replaces one of the
//! same name. Secrets are typed into password fields, sent once and cleared; the server never
//! answers them, so this page never shows one.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::{DashboardContext, Loaded, load_live, not_loaded};
use crate::browser::dashboard_api;
use crate::dashboard::api::{CONNECTOR_KINDS, ConnectorForm, ConnectorRow, ConnectorsPage, paths};
use crate::strings::dash;

#[component]
pub fn Connectors(site_id: String) -> impl IntoView {
    let context = expect_context::<DashboardContext>();
    let connectors = RwSignal::new(Loaded::<ConnectorsPage>::Loading);
    let list_path = paths::site_connectors(&site_id);
    load_live(context, move || list_path.clone(), connectors);
    let notice = RwSignal::new(None::<(bool, String)>);
    let rows = {
        let site_id = site_id.clone();
        move || {
            let loaded = connectors.get();
            if let Some(message) = not_loaded(&loaded) {
                return message;
            }
            let Loaded::Ready(page) = loaded else {
                return ().into_any();
            };
            if page.connectors.is_empty() {
                return view! { <p class="subtle">{dash::NO_CONNECTORS}</p> }.into_any();
            }
            view! {
                <table class="timeline" data-testid="connectors">
                    <tbody>
                        {page.connectors.into_iter().map(|connector| connector_row(context, &site_id, connector, notice)).collect_view()}
                    </tbody>
                </table>
            }
            .into_any()
        }
    };
    view! {
        <h3>{dash::CONNECTORS_HEADING}</h3>
        <p class="subtle">{dash::CONNECTORS_HINT}</p>
        {rows}
        <ConnectorEditor site_id=site_id notice=notice />
        {move || notice.get().map(|(ok, text)| {
            if ok {
                view! { <p class="success" role="status">{text}</p> }.into_any()
            } else {
                view! { <p class="error" role="alert">{text}</p> }.into_any()
            }
        })}
    }
}

fn connector_row(
    context: DashboardContext,
    site_id: &str,
    connector: ConnectorRow,
    notice: RwSignal<Option<(bool, String)>>,
) -> impl IntoView {
    let enabled = connector.enabled;
    let path = paths::site_connector(
        site_id,
        &connector.name,
        Some(if enabled { "disable" } else { "enable" }),
    );
    let switch = move |_| {
        let Some(session) = context.session() else {
            return;
        };
        let path = path.clone();
        spawn_local(async move {
            match dashboard_api::post::<serde_json::Value>(&path, &serde_json::json!({}), &session)
                .await
            {
                Ok(_) => {
                    notice.set(None);
                    context.revision.update(|revision| *revision += 1);
                }
                Err(failure) => notice.set(Some((false, context.failure(failure)))),
            }
        });
    };
    let from_file = connector.source == "file";
    view! {
        <tr class:voided=!enabled data-testid=format!("connector-{}", connector.name)>
            <th scope="row">{connector.name.clone()}</th>
            <td>{connector.kind.clone()}</td>
            <td>{connector.url.clone().unwrap_or_default()}</td>
            <td>
                {if enabled { dash::ENABLED } else { dash::DISABLED }}
                {from_file.then_some(" · ")}
                {from_file.then_some(dash::CONNECTOR_FROM_FILE)}
                {connector.secret_set.then_some(" · ")}
                {connector.secret_set.then_some(dash::CONNECTOR_SECRET_SET)}
            </td>
            <td>
                {(!from_file).then(|| view! {
                    <button type="button" class="secondary" on:click=switch>
                        {if enabled { dash::DISABLE_CONNECTOR } else { dash::ENABLE_CONNECTOR }}
                    </button>
                })}
            </td>
        </tr>
    }
}

/// A labelled text input bound to `value`.
fn text_input(
    label: &'static str,
    value: RwSignal<String>,
    input_type: &'static str,
) -> impl IntoView {
    view! {
        <label>
            {label}
            <input
                type=input_type
                autocomplete="off"
                spellcheck="false"
                prop:value=move || value.get()
                on:input=move |event| value.set(event_target_value(&event))
            />
        </label>
    }
}

#[component]
fn ConnectorEditor(site_id: String, notice: RwSignal<Option<(bool, String)>>) -> impl IntoView {
    let context = expect_context::<DashboardContext>();
    let kind = RwSignal::new(CONNECTOR_KINDS[0].to_owned());
    let name = RwSignal::new(String::new());
    let url = RwSignal::new(String::new());
    let secret = RwSignal::new(String::new());
    let audience = RwSignal::new(String::new());
    let client_id = RwSignal::new(String::new());
    let client_secret = RwSignal::new(String::new());
    let auth_method = RwSignal::new("client_secret_basic".to_owned());
    let busy = RwSignal::new(false);
    let send = move |replace: bool| {
        let Some(session) = context.session() else {
            return;
        };
        let form = ConnectorForm {
            kind: kind.get_untracked(),
            name: name.get_untracked(),
            url: url.get_untracked(),
            secret: secret.get_untracked(),
            audience: audience.get_untracked(),
            client_id: client_id.get_untracked(),
            client_secret: client_secret.get_untracked(),
            auth_method: auth_method.get_untracked(),
        };
        let site_id = site_id.clone();
        busy.set(true);
        spawn_local(async move {
            let body = form.body();
            let outcome = if replace {
                let path = paths::site_connector(&site_id, form.name.trim(), None);
                dashboard_api::put::<serde_json::Value>(&path, &body, &session).await
            } else {
                let path = paths::site_connectors(&site_id);
                dashboard_api::post::<serde_json::Value>(&path, &body, &session).await
            };
            busy.set(false);
            // Secrets are typed again for every change: never kept in the page longer.
            secret.set(String::new());
            client_secret.set(String::new());
            match outcome {
                Ok(_) => {
                    notice.set(Some((true, dash::CONNECTOR_SAVED.to_owned())));
                    context.revision.update(|revision| *revision += 1);
                }
                Err(failure) => notice.set(Some((false, context.failure(failure)))),
            }
        });
    };
    let create = {
        let send = send.clone();
        move |_| send(false)
    };
    let replace = move |_| send(true);
    view! {
        <h4>{dash::CONNECTOR_FORM_HEADING}</h4>
        <div class="filters">
            <label>
                {dash::CONNECTOR_KIND}
                <select on:change=move |event| kind.set(event_target_value(&event)) prop:value=move || kind.get()>
                    {CONNECTOR_KINDS.iter().map(|option| view! { <option value=*option>{*option}</option> }).collect_view()}
                </select>
            </label>
            {text_input(dash::CONNECTOR_NAME, name, "text")}
            {text_input(dash::CONNECTOR_URL, url, "url")}
            {move || match kind.get().as_str() {
                "webhook" => text_input(dash::CONNECTOR_SECRET, secret, "password").into_any(),
                "backchannel_logout" | "caep" => text_input(dash::CONNECTOR_AUDIENCE, audience, "text").into_any(),
                "oauth_revocation" => view! {
                    {text_input(dash::CONNECTOR_CLIENT_ID, client_id, "text")}
                    {text_input(dash::CONNECTOR_CLIENT_SECRET, client_secret, "password")}
                    <label>
                        {dash::CONNECTOR_AUTH_METHOD}
                        <select on:change=move |event| auth_method.set(event_target_value(&event)) prop:value=move || auth_method.get()>
                            <option value="client_secret_basic">"client_secret_basic"</option>
                            <option value="client_secret_post">"client_secret_post"</option>
                        </select>
                    </label>
                }
                .into_any(),
                _ => ().into_any(),
            }}
        </div>
        <div class="button-row">
            <button type="button" disabled=move || busy.get() on:click=create>{dash::CREATE_CONNECTOR}</button>
            <button type="button" class="secondary" disabled=move || busy.get() on:click=replace>{dash::REPLACE_CONNECTOR}</button>
        </div>
    }
}
