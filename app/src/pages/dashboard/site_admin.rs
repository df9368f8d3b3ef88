//! An admin's part of the administration page: which site (an admin of every site picks one),
//! then that site's dashboard accounts, configuration and revocation connectors, each a section
//! of its own file. The server checks every request; this page only offers what it allows.

use leptos::prelude::*;

use super::accounts::Accounts;
use super::connectors::Connectors;
use super::site_settings::SiteSettings;
use super::{DashboardContext, Loaded, load_live, not_loaded};
use crate::dashboard::api::{AdminSites, paths};
use crate::strings::dash;

#[component]
pub fn SiteAdministration() -> impl IntoView {
    let context = expect_context::<DashboardContext>();
    let sites = RwSignal::new(Loaded::<AdminSites>::Loading);
    load_live(context, || paths::ADMIN_SITES.to_owned(), sites);
    let chosen = RwSignal::new(String::new());
    let picker = move || {
        let loaded = sites.get();
        if let Some(message) = not_loaded(&loaded) {
            return message;
        }
        let Loaded::Ready(page) = loaded else {
            return ().into_any();
        };
        if chosen.get_untracked().is_empty()
            && let Some(first) = page.site_ids.first()
        {
            chosen.set(first.clone());
        }
        view! {
            <label>
                {dash::SITE}
                <select on:change=move |event| chosen.set(event_target_value(&event)) prop:value=move || chosen.get()>
                    {page.site_ids.iter().map(|site_id| view! { <option value=site_id.clone()>{site_id.clone()}</option> }).collect_view()}
                </select>
            </label>
        }
        .into_any()
    };
    // Each section is made anew for the chosen site, so no form keeps another site's values.
    let sections = move || {
        let site_id = chosen.get();
        (!site_id.is_empty()).then(|| {
            view! {
                <Accounts site_id=site_id.clone() />
                <SiteSettings site_id=site_id.clone() />
                <Connectors site_id=site_id />
            }
        })
    };
    view! {
        <h2>{dash::SITE_ADMIN_HEADING}</h2>
        <p class="subtle">{dash::SITE_ADMIN_HINT}</p>
        <div class="filters">{picker}</div>
        {sections}
    }
}
