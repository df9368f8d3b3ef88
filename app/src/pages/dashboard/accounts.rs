//! A site's dashboard accounts for its admin: the list (never a password), a new account with a
//! chosen or generated password (a generated one is shown once, here), disabling and enabling,
//! and a password reset. The server ends the sessions a change should end.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::{DashboardContext, Loaded, load_live, not_loaded};
use crate::browser::dashboard_api;
use crate::dashboard::api::{AccountRow, AccountsPage, NewAccount, PasswordAnswer, paths};
use crate::strings::dash;

/// What the section last said: a success (with a password shown once) or an error.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Notice {
    Done(String),
    Password { username: String, password: String },
    Failed(String),
}

fn notice_view(notice: Notice) -> AnyView {
    match notice {
        Notice::Done(text) => view! { <p class="success" role="status">{text}</p> }.into_any(),
        Notice::Password { username, password } => view! {
            <p class="success" role="status">
                {dash::generated_password(&username)}
                <code data-testid="generated-password">{password}</code>
            </p>
        }
        .into_any(),
        Notice::Failed(text) => view! { <p class="error" role="alert">{text}</p> }.into_any(),
    }
}

fn shown_after(username: &str, answer: PasswordAnswer, done: String) -> Notice {
    match answer.password {
        Some(password) => Notice::Password {
            username: username.to_owned(),
            password,
        },
        None => Notice::Done(done),
    }
}

#[component]
pub fn Accounts(site_id: String) -> impl IntoView {
    let context = expect_context::<DashboardContext>();
    let accounts = RwSignal::new(Loaded::<AccountsPage>::Loading);
    let list_path = paths::site_accounts(&site_id);
    load_live(context, move || list_path.clone(), accounts);
    let username = RwSignal::new(String::new());
    let role = RwSignal::new("manager".to_owned());
    let password = RwSignal::new(String::new());
    let notice = RwSignal::new(None::<Notice>);
    let busy = RwSignal::new(false);
    let create_path = paths::site_accounts(&site_id);
    let create = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let Some(session) = context.session() else {
            return;
        };
        let path = create_path.clone();
        let (name, chosen_role, chosen_password) = (
            username.get_untracked(),
            role.get_untracked(),
            password.get_untracked(),
        );
        busy.set(true);
        spawn_local(async move {
            let body = NewAccount {
                username: name.trim(),
                role: &chosen_role,
                password: (!chosen_password.is_empty()).then_some(chosen_password.as_str()),
            };
            let outcome = dashboard_api::post::<PasswordAnswer>(&path, &body, &session).await;
            busy.set(false);
            match outcome {
                Ok(answer) => {
                    let name = name.trim().to_owned();
                    notice.set(Some(shown_after(
                        &name,
                        answer,
                        dash::account_created(&name),
                    )));
                    username.set(String::new());
                    password.set(String::new());
                    context.revision.update(|revision| *revision += 1);
                }
                Err(failure) => notice.set(Some(Notice::Failed(context.failure(failure)))),
            }
        });
    };
    let rows = {
        let site_id = site_id.clone();
        move || {
            let loaded = accounts.get();
            if let Some(message) = not_loaded(&loaded) {
                return message;
            }
            let Loaded::Ready(page) = loaded else {
                return ().into_any();
            };
            view! {
                <table class="timeline" data-testid="accounts">
                    <tbody>
                        {page.accounts.into_iter().map(|account| account_row(context, &site_id, account, notice)).collect_view()}
                    </tbody>
                </table>
            }
            .into_any()
        }
    };
    view! {
        <h3>{dash::ACCOUNTS_HEADING}</h3>
        <p class="subtle">{dash::ACCOUNTS_HINT}</p>
        {rows}
        <form class="filters" on:submit=create>
            <label>
                {dash::NEW_USERNAME}
                <input
                    name="new-username"
                    autocomplete="off"
                    autocapitalize="off"
                    spellcheck="false"
                    maxlength="64"
                    prop:value=move || username.get()
                    on:input=move |event| username.set(event_target_value(&event))
                />
            </label>
            <label>
                {dash::ROLE}
                <select on:change=move |event| role.set(event_target_value(&event)) prop:value=move || role.get()>
                    <option value="manager">{dash::ROLE_MANAGER}</option>
                    <option value="auditor">{dash::ROLE_AUDITOR}</option>
                    <option value="admin">{dash::ROLE_ADMIN}</option>
                </select>
            </label>
            <label>
                {dash::NEW_PASSWORD}
                <input
                    name="new-password"
                    type="password"
                    autocomplete="new-password"
                    maxlength="1024"
                    prop:value=move || password.get()
                    on:input=move |event| password.set(event_target_value(&event))
                />
            </label>
            <button type="submit" disabled=move || busy.get()>{dash::CREATE_ACCOUNT}</button>
        </form>
        {move || notice.get().map(notice_view)}
    }
}

fn account_row(
    context: DashboardContext,
    site_id: &str,
    account: AccountRow,
    notice: RwSignal<Option<Notice>>,
) -> impl IntoView {
    let disabled = account.disabled;
    let switch_path = paths::site_account_action(
        site_id,
        &account.username,
        if disabled { "enable" } else { "disable" },
    );
    let reset_path = paths::site_account_action(site_id, &account.username, "password");
    let own = context
        .session()
        .is_some_and(|session| session.username == account.username);
    let switch = move |_| {
        let Some(session) = context.session() else {
            return;
        };
        let path = switch_path.clone();
        spawn_local(async move {
            match dashboard_api::post::<serde_json::Value>(&path, &serde_json::json!({}), &session)
                .await
            {
                Ok(_) => {
                    notice.set(None);
                    context.revision.update(|revision| *revision += 1);
                }
                Err(failure) => notice.set(Some(Notice::Failed(context.failure(failure)))),
            }
        });
    };
    let username = account.username.clone();
    let reset = move |_| {
        let Some(session) = context.session() else {
            return;
        };
        let (path, username) = (reset_path.clone(), username.clone());
        spawn_local(async move {
            match dashboard_api::post::<PasswordAnswer>(&path, &serde_json::json!({}), &session)
                .await
            {
                Ok(answer) => notice.set(Some(shown_after(
                    &username,
                    answer,
                    dash::password_reset(&username),
                ))),
                Err(failure) => notice.set(Some(Notice::Failed(context.failure(failure)))),
            }
        });
    };
    view! {
        <tr class:voided=disabled data-testid=format!("account-{}", account.username)>
            <th scope="row">{account.username.clone()}</th>
            <td>{account.role.clone()}</td>
            <td>{if disabled { dash::DISABLED } else { dash::ENABLED }}</td>
            <td>
                {(!own).then(|| view! {
                    <button type="button" class="secondary" on:click=switch>
                        {if disabled { dash::ENABLE_ACCOUNT } else { dash::DISABLE_ACCOUNT }}
                    </button>
                })}
                <button type="button" class="secondary" on:click=reset>{dash::RESET_PASSWORD}</button>
            </td>
        </tr>
    }
}
