//! The origin's browser storage, surveyed and wiped: Cache Storage, localStorage,
//! sessionStorage, IndexedDB databases, cookies visible to scripts, and the server's HttpOnly
//! session cookie through the tablet logout. What goes and what stays is decided by
//! `tablet::wipe`; this module only lists, deletes and lists again.

use ed25519_dalek::SigningKey;
use js_sys::{Array, Promise, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::Storage;

use super::http;
use crate::tablet::wipe::{SiteData, WipeItem, WipeReport, assess_wipe, plan_wipe};

/// The server's logout for the session cookies it sets (server/src/http/tablet_session.rs).
pub const LOGOUT_PATH: &str = "/api/v1/tablet/session/logout";

fn js_text(value: &JsValue) -> String {
    value
        .dyn_ref::<js_sys::Error>()
        .map(|error| String::from(error.message()))
        .or_else(|| value.as_string())
        .unwrap_or_else(|| format!("{value:?}"))
}

fn storage_keys(storage: Option<Storage>) -> Vec<String> {
    let Some(storage) = storage else {
        return Vec::new();
    };
    let n_keys = storage.length().unwrap_or(0);
    (0..n_keys)
        .filter_map(|index| storage.key(index).ok().flatten())
        .collect()
}

async fn cache_names() -> Vec<String> {
    let Some(caches) = web_sys::window().and_then(|window| window.caches().ok()) else {
        return Vec::new();
    };
    match JsFuture::from(caches.keys()).await {
        Ok(names) => Array::from(&names)
            .iter()
            .filter_map(|name| name.as_string())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// `indexedDB.databases()`, or `None` where the browser lacks it.
async fn database_names() -> Option<Vec<String>> {
    let factory = web_sys::window()?.indexed_db().ok()??;
    let databases = Reflect::get(&factory, &"databases".into()).ok()?;
    let databases: js_sys::Function = databases.dyn_into().ok()?;
    let promise: Promise = databases.call0(&factory).ok()?.dyn_into().ok()?;
    let list = JsFuture::from(promise).await.ok()?;
    Some(
        Array::from(&list)
            .iter()
            .filter_map(|info| Reflect::get(&info, &"name".into()).ok()?.as_string())
            .collect(),
    )
}

fn html_document() -> Option<web_sys::HtmlDocument> {
    web_sys::window()?.document()?.dyn_into().ok()
}

fn script_cookie_names() -> Vec<String> {
    let cookies = html_document()
        .and_then(|document| document.cookie().ok())
        .unwrap_or_default();
    cookies
        .split(';')
        .filter_map(|pair| {
            let name = pair.split('=').next()?.trim();
            (!name.is_empty()).then(|| name.to_owned())
        })
        .collect()
}

/// What the origin holds now.
pub async fn survey() -> SiteData {
    let window = web_sys::window();
    SiteData {
        caches: cache_names().await,
        local_storage_keys: storage_keys(
            window
                .as_ref()
                .and_then(|window| window.local_storage().ok().flatten()),
        ),
        session_storage_keys: storage_keys(
            window
                .as_ref()
                .and_then(|window| window.session_storage().ok().flatten()),
        ),
        databases: database_names().await,
        script_cookies: script_cookie_names(),
    }
}

/// Deletes one database and waits for the answer; a deletion that another page's open
/// connection blocks is reported as such (the second survey then still lists it).
async fn delete_database(name: &str) -> Result<(), String> {
    let factory = web_sys::window()
        .and_then(|window| window.indexed_db().ok().flatten())
        .ok_or_else(|| "IndexedDB is unavailable".to_owned())?;
    let request = factory
        .delete_database(name)
        .map_err(|error| js_text(&error))?;
    let promise = Promise::new(&mut |resolve, reject| {
        let blocked = resolve.clone();
        let on_blocked = Closure::once_into_js(move |_event: JsValue| {
            let _ = blocked.call1(&JsValue::NULL, &"blocked".into());
        });
        request.set_onsuccess(Some(&resolve));
        request.set_onerror(Some(&reject));
        request.set_onblocked(Some(on_blocked.unchecked_ref()));
    });
    match JsFuture::from(promise).await {
        Ok(outcome) if outcome.as_string().as_deref() == Some("blocked") => {
            Err("another page holds it open".to_owned())
        }
        Ok(_) => Ok(()),
        Err(error) => Err(js_text(&error)),
    }
}

async fn remove(item: &WipeItem) -> Result<(), String> {
    let window = web_sys::window().ok_or_else(|| "no window".to_owned())?;
    let failed = |error: JsValue| js_text(&error);
    match item {
        WipeItem::Cache(name) => {
            let caches = window.caches().map_err(failed)?;
            JsFuture::from(caches.delete(name)).await.map_err(failed)?;
        }
        WipeItem::LocalStorage(key) => {
            if let Some(storage) = window.local_storage().map_err(failed)? {
                storage.remove_item(key).map_err(failed)?;
            }
        }
        WipeItem::SessionStorage(key) => {
            if let Some(storage) = window.session_storage().map_err(failed)? {
                storage.remove_item(key).map_err(failed)?;
            }
        }
        WipeItem::Database(name) => delete_database(name).await?,
        WipeItem::Cookie(name) => {
            let document = html_document().ok_or_else(|| "no document".to_owned())?;
            document
                .set_cookie(&format!("{name}=; Max-Age=0; Path=/"))
                .map_err(failed)?;
        }
        WipeItem::DatabaseList | WipeItem::ServerLogout => {}
    }
    Ok(())
}

/// Wipes the previous custodian's session from this origin and reports what is gone, judged by
/// a second survey. Baton's own database and the app-shell caches are never touched.
pub async fn wipe_session(signing_key: &SigningKey) -> WipeReport {
    let plan = plan_wipe(&survey().await);
    let mut errors = Vec::new();
    for item in &plan.remove {
        if let Err(reason) = remove(item).await {
            errors.push((item.clone(), reason));
        }
    }
    let logout = http::send("POST", LOGOUT_PATH, b"", Some(signing_key))
        .await
        .map(|_| ())
        .map_err(|error| error.to_string());
    let after = survey().await;
    let report = assess_wipe(&plan, &after, &errors, logout);
    for (item, reason) in &report.failed {
        web_sys::console::warn_1(&format!("session wipe: {item} not removed: {reason}").into());
    }
    report
}
