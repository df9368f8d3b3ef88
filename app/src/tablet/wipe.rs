//! The session wipe at the end of a custody of the device Baton runs on: what of this origin's
//! browser storage belongs to the previous custodian and goes, what is Baton's and stays, and
//! what the signed check-in may claim afterwards. No browser API here; `browser/site_data.rs`
//! surveys the origin and carries the plan out.
//!
//! Kept, always: Baton's own IndexedDB database (`baton-tablet`: the custody log, the signing
//! key, the outbox), the service worker's app-shell caches (`baton-shell-*`, without which the
//! tablet cannot start offline) and storage keys under Baton's prefix (`baton.`, unused today
//! and reserved so that a later version can keep a setting across custodians). Everything else
//! on the origin is the custodian's session: other caches, other databases, other storage keys,
//! cookies scripts can see, and the server's HttpOnly session cookie (ended by the server's
//! tablet logout). Other origins cannot be reached from a web page and are not claimed.

use serde::{Deserialize, Serialize};

/// Baton's IndexedDB database: never wiped (`browser/idb.rs`).
pub const BATON_DATABASE: &str = "baton-tablet";
/// The service worker's app-shell caches (`public/sw.js`): never wiped.
pub const SHELL_CACHE_PREFIX: &str = "baton-shell-";
/// localStorage and sessionStorage keys Baton may own.
pub const BATON_STORAGE_PREFIX: &str = "baton.";

/// The registry device this tablet is, when it is one: set on the "This device" screen and kept
/// in IndexedDB. Without it the tablet cannot tell a check-in of itself from any other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThisDevice {
    pub device_id: String,
    pub asset_tag: String,
}

/// What the origin holds, as the browser listed it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiteData {
    pub caches: Vec<String>,
    pub local_storage_keys: Vec<String>,
    pub session_storage_keys: Vec<String>,
    /// `None` when the browser cannot list its databases (`indexedDB.databases()` missing): the
    /// wipe then cannot be complete.
    pub databases: Option<Vec<String>>,
    /// Cookie names visible to scripts (`document.cookie`); HttpOnly ones are the server's.
    pub script_cookies: Vec<String>,
}

/// One thing the wipe removes, or one step it takes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum WipeItem {
    Cache(String),
    LocalStorage(String),
    SessionStorage(String),
    Database(String),
    Cookie(String),
    /// Listing the IndexedDB databases, which must succeed for the wipe to be complete.
    DatabaseList,
    /// The server's logout, which expires the HttpOnly session cookies and ends their sessions.
    ServerLogout,
}

impl std::fmt::Display for WipeItem {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WipeItem::Cache(name) => write!(formatter, "cache “{name}”"),
            WipeItem::LocalStorage(key) => write!(formatter, "local storage “{key}”"),
            WipeItem::SessionStorage(key) => write!(formatter, "session storage “{key}”"),
            WipeItem::Database(name) => write!(formatter, "database “{name}”"),
            WipeItem::Cookie(name) => write!(formatter, "cookie “{name}”"),
            WipeItem::DatabaseList => write!(formatter, "the list of databases"),
            WipeItem::ServerLogout => write!(formatter, "the server's session cookies"),
        }
    }
}

/// What to remove, in the order it is removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WipePlan {
    pub remove: Vec<WipeItem>,
    /// What stays, for the report: Baton's own.
    pub kept: Vec<String>,
    /// The databases could not be listed: reported as a failure whatever else succeeds.
    pub databases_unlisted: bool,
}

fn is_batons_key(key: &str) -> bool {
    key.starts_with(BATON_STORAGE_PREFIX)
}

/// Decides what the wipe removes from what the origin holds.
pub fn plan_wipe(site: &SiteData) -> WipePlan {
    let mut plan = WipePlan {
        databases_unlisted: site.databases.is_none(),
        ..WipePlan::default()
    };
    for name in &site.caches {
        if name.starts_with(SHELL_CACHE_PREFIX) {
            plan.kept.push(format!("cache {name}"));
        } else {
            plan.remove.push(WipeItem::Cache(name.clone()));
        }
    }
    for key in &site.local_storage_keys {
        if is_batons_key(key) {
            plan.kept.push(format!("local storage {key}"));
        } else {
            plan.remove.push(WipeItem::LocalStorage(key.clone()));
        }
    }
    for key in &site.session_storage_keys {
        if is_batons_key(key) {
            plan.kept.push(format!("session storage {key}"));
        } else {
            plan.remove.push(WipeItem::SessionStorage(key.clone()));
        }
    }
    for name in site.databases.iter().flatten() {
        if name == BATON_DATABASE {
            plan.kept.push(format!("database {name}"));
        } else {
            plan.remove.push(WipeItem::Database(name.clone()));
        }
    }
    for name in &site.script_cookies {
        plan.remove.push(WipeItem::Cookie(name.clone()));
    }
    plan.remove.push(WipeItem::ServerLogout);
    plan
}

/// What the wipe did, checked against a second survey of the origin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WipeReport {
    pub removed: Vec<WipeItem>,
    /// What is still there or could not be done, with why: shown to the nurse.
    pub failed: Vec<(WipeItem, String)>,
    pub kept: Vec<String>,
}

impl WipeReport {
    /// Whether everything the plan named is gone: the only case in which a check-in may say
    /// "local data wiped".
    pub fn complete(&self) -> bool {
        self.failed.is_empty()
    }
}

/// Judges the wipe by what the origin holds afterwards, not by what the calls answered: an item
/// of the plan still present failed, whatever its call said. `errors` are the calls' own
/// failures; `logout` is the server's answer to the logout.
pub fn assess_wipe(
    plan: &WipePlan,
    after: &SiteData,
    errors: &[(WipeItem, String)],
    logout: Result<(), String>,
) -> WipeReport {
    let still_there = |item: &WipeItem| match item {
        WipeItem::Cache(name) => after.caches.contains(name),
        WipeItem::LocalStorage(key) => after.local_storage_keys.contains(key),
        WipeItem::SessionStorage(key) => after.session_storage_keys.contains(key),
        // A database the second survey cannot list is not known to be gone.
        WipeItem::Database(name) => after
            .databases
            .as_ref()
            .is_none_or(|names| names.contains(name)),
        WipeItem::Cookie(name) => after.script_cookies.contains(name),
        WipeItem::DatabaseList | WipeItem::ServerLogout => false,
    };
    let mut report = WipeReport {
        kept: plan.kept.clone(),
        ..WipeReport::default()
    };
    if plan.databases_unlisted {
        report.failed.push((
            WipeItem::DatabaseList,
            "this browser cannot list its databases".to_owned(),
        ));
    }
    for item in &plan.remove {
        if *item == WipeItem::ServerLogout {
            match &logout {
                Ok(()) => report.removed.push(item.clone()),
                Err(reason) => report.failed.push((item.clone(), reason.clone())),
            }
            continue;
        }
        let error = errors.iter().find(|(failed, _)| failed == item);
        if still_there(item) {
            let reason = error.map_or_else(|| "still present".to_owned(), |(_, why)| why.clone());
            report.failed.push((item.clone(), reason));
        } else {
            report.removed.push(item.clone());
        }
    }
    report
}

/// What the check-in's "local data wiped" item says. For the device Baton runs on it is the
/// wipe's actual result, never the nurse's tick: a wipe that did not run or did not finish is not
/// claimed. For any other device the tablet cannot see its storage, so the nurse confirms it.
pub fn claim_local_data_wiped(
    returning_this_device: bool,
    nurse_confirmed: bool,
    wipe: Option<&WipeReport>,
) -> bool {
    if returning_this_device {
        wipe.is_some_and(WipeReport::complete)
    } else {
        nurse_confirmed
    }
}

/// Whether a custody of the device ended between two folds: someone who held it no longer does
/// (a check-in, a transfer to someone else, a found report, a lockout, a quarantine). A renewed
/// check-out by the same person is no end.
pub fn custody_ended(holders_before: &[String], holders_after: &[String]) -> bool {
    holders_before
        .iter()
        .any(|holder| !holders_after.contains(holder))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|item| (*item).to_owned()).collect()
    }

    fn site() -> SiteData {
        SiteData {
            caches: strings(&["baton-shell-4f2a", "baton-shell-9c1d", "ehr-offline-v3"]),
            local_storage_keys: strings(&["ehr.token", "baton.theme"]),
            session_storage_keys: strings(&["draft-note"]),
            databases: Some(strings(&["baton-tablet", "ehr-cache"])),
            script_cookies: strings(&["ehr_sid"]),
        }
    }

    #[test]
    fn the_plan_removes_the_custodians_session_and_keeps_batons_own() {
        let plan = plan_wipe(&site());
        assert_eq!(
            plan.remove,
            vec![
                WipeItem::Cache("ehr-offline-v3".to_owned()),
                WipeItem::LocalStorage("ehr.token".to_owned()),
                WipeItem::SessionStorage("draft-note".to_owned()),
                WipeItem::Database("ehr-cache".to_owned()),
                WipeItem::Cookie("ehr_sid".to_owned()),
                WipeItem::ServerLogout,
            ]
        );
        // The custody log, the outbox and the key are in baton-tablet; both shell caches stay
        // (one may belong to an update waiting to be applied).
        assert_eq!(
            plan.kept,
            strings(&[
                "cache baton-shell-4f2a",
                "cache baton-shell-9c1d",
                "local storage baton.theme",
                "database baton-tablet",
            ])
        );
        assert!(!plan.databases_unlisted);
        // Lookalike names are not Baton's.
        let lookalikes = SiteData {
            caches: strings(&["baton-shellfish"]),
            databases: Some(strings(&["baton-tablet-copy"])),
            local_storage_keys: strings(&["batonx"]),
            ..SiteData::default()
        };
        assert_eq!(plan_wipe(&lookalikes).kept, Vec::<String>::new());
    }

    #[test]
    fn a_complete_wipe_is_judged_by_what_is_left_not_by_what_the_calls_said() {
        let plan = plan_wipe(&site());
        let after = SiteData {
            caches: strings(&["baton-shell-4f2a", "baton-shell-9c1d"]),
            local_storage_keys: strings(&["baton.theme"]),
            session_storage_keys: Vec::new(),
            databases: Some(strings(&["baton-tablet"])),
            script_cookies: Vec::new(),
        };
        let report = assess_wipe(&plan, &after, &[], Ok(()));
        assert!(report.complete());
        assert_eq!(report.removed.len(), 6);
        assert!(claim_local_data_wiped(true, false, Some(&report)));

        // The database's deletion answered success but another page holds it open: still there.
        let blocked = SiteData {
            databases: Some(strings(&["baton-tablet", "ehr-cache"])),
            ..after.clone()
        };
        let report = assess_wipe(&plan, &blocked, &[], Ok(()));
        assert_eq!(
            report.failed,
            vec![(
                WipeItem::Database("ehr-cache".to_owned()),
                "still present".to_owned()
            )]
        );
        assert!(!claim_local_data_wiped(true, true, Some(&report)));
    }

    #[test]
    fn an_unreachable_server_or_unlisted_databases_leave_the_wipe_incomplete_and_say_why() {
        let plan = plan_wipe(&site());
        let after = SiteData {
            caches: strings(&["baton-shell-4f2a", "baton-shell-9c1d"]),
            databases: Some(strings(&["baton-tablet"])),
            ..SiteData::default()
        };
        let errors = [(
            WipeItem::Cache("ehr-offline-v3".to_owned()),
            "SecurityError".to_owned(),
        )];
        let offline = assess_wipe(&plan, &after, &errors, Err("offline".to_owned()));
        assert_eq!(
            offline.failed,
            vec![(WipeItem::ServerLogout, "offline".to_owned())]
        );
        assert!(!offline.complete());

        let unlisted = SiteData {
            databases: None,
            ..site()
        };
        let plan = plan_wipe(&unlisted);
        assert!(plan.databases_unlisted);
        let after = SiteData {
            databases: None,
            ..after
        };
        let report = assess_wipe(&plan, &after, &[], Ok(()));
        assert_eq!(report.failed[0].0, WipeItem::DatabaseList);
        assert!(!report.complete());
        // A cache whose deletion failed keeps its reason.
        let kept_cache = SiteData {
            caches: strings(&["ehr-offline-v3"]),
            ..SiteData::default()
        };
        let report = assess_wipe(&plan_wipe(&site()), &kept_cache, &errors, Ok(()));
        assert!(report.failed.contains(&(
            WipeItem::Cache("ehr-offline-v3".to_owned()),
            "SecurityError".to_owned()
        )));
    }

    #[test]
    fn only_this_device_is_claimed_from_the_wipe_and_other_devices_from_the_nurse() {
        let done = WipeReport::default();
        assert!(claim_local_data_wiped(true, false, Some(&done)));
        // The wipe did not run: not claimed, even if the nurse ticked the box.
        assert!(!claim_local_data_wiped(true, true, None));
        assert!(claim_local_data_wiped(false, true, None));
        assert!(!claim_local_data_wiped(false, false, Some(&done)));
    }

    #[test]
    fn a_custody_ends_when_a_holder_is_gone_not_when_one_renews() {
        let alder = strings(&["S-0001"]);
        assert!(custody_ended(&alder, &[]));
        assert!(custody_ended(&alder, &strings(&["S-0002"])));
        assert!(!custody_ended(&alder, &alder));
        assert!(!custody_ended(&[], &alder));
        assert!(custody_ended(&strings(&["S-0001", "S-0002"]), &alder));
    }
}
