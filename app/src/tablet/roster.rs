//! What the tablet caches to work offline: the site configuration, the staff with their PIN
//! verifiers, the wards and the device registry (docs/PROTOCOL.md §2.4), with the lookups the
//! capture screens make on every scan.
//!
//! Unknown members are ignored rather than refused, so that a server that adds a field to the
//! roster does not lock every tablet out until it is updated.

use baton_core::ids::{DeviceId, WardId};
use baton_core::rules::{DeviceRegistry, SiteRules};
use serde::{Deserialize, Serialize};

/// The site's configuration as handed to tablets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteConfig {
    pub rules: SiteRules,
    /// Minutes without a touch before the tablet should ask for badge and PIN again.
    pub inactivity_lockout_minutes: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ward {
    pub ward_id: String,
    pub site_id: String,
    pub name: String,
}

/// The roles that answer for a ward's devices and tablets: they confirm a tablet's key rotation
/// and issue a bulk hand-out at shift start.
pub const SUPERVISOR_ROLES: [&str; 2] = ["charge_nurse", "manager"];

/// Whether `role` is one of `SUPERVISOR_ROLES`.
pub fn is_supervisor(role: &str) -> bool {
    SUPERVISOR_ROLES.contains(&role)
}

/// A person who may take or return devices. Never carries a PIN: `pin_verifier` is an argon2id
/// PHC string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffMember {
    pub staff_id: String,
    pub display_name: String,
    pub role: String,
    pub badge_id: String,
    pub home_ward: String,
    pub pin_verifier: String,
    /// A deactivated person stays listed so that the tablet can refuse them by name.
    pub active: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    pub device_id: String,
    pub site_id: String,
    pub asset_tag: String,
    /// `tablet`, `phone` or `scanner`.
    pub kind: String,
    pub model: String,
    pub home_ward: String,
    pub active: bool,
}

/// The roster of one site, with the version that pulls compare against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roster {
    pub version: String,
    pub site_id: String,
    pub site_config: SiteConfig,
    pub wards: Vec<Ward>,
    pub staff: Vec<StaffMember>,
    pub devices: Vec<Device>,
}

/// Scanners and people type tags with stray spaces and in either case; the registry's tags are
/// compared without both.
fn same_code(scanned: &str, stored: &str) -> bool {
    scanned.trim().eq_ignore_ascii_case(stored.trim())
}

impl Roster {
    /// The device with this asset tag, or with this device id (a label may show either).
    pub fn device_by_scan(&self, scanned: &str) -> Option<&Device> {
        let scanned = scanned.trim();
        if scanned.is_empty() {
            return None;
        }
        self.devices
            .iter()
            .find(|device| same_code(scanned, &device.asset_tag))
            .or_else(|| {
                self.devices
                    .iter()
                    .find(|device| same_code(scanned, &device.device_id))
            })
    }

    pub fn device(&self, device_id: &str) -> Option<&Device> {
        self.devices
            .iter()
            .find(|device| device.device_id == device_id)
    }

    /// The person whose badge this is.
    pub fn staff_by_badge(&self, scanned: &str) -> Option<&StaffMember> {
        let scanned = scanned.trim();
        if scanned.is_empty() {
            return None;
        }
        self.staff
            .iter()
            .find(|member| same_code(scanned, &member.badge_id))
    }

    pub fn staff(&self, staff_id: &str) -> Option<&StaffMember> {
        self.staff.iter().find(|member| member.staff_id == staff_id)
    }

    /// A person's name for the screen, or the staff number when the roster no longer lists them.
    pub fn display_name<'a>(&'a self, staff_id: &'a str) -> &'a str {
        self.staff(staff_id)
            .map_or(staff_id, |member| member.display_name.as_str())
    }

    pub fn ward_name<'a>(&'a self, ward_id: &'a str) -> &'a str {
        self.wards
            .iter()
            .find(|ward| ward.ward_id == ward_id)
            .map_or(ward_id, |ward| ward.name.as_str())
    }

    /// The devices' home wards, for the fold's away-from-home-ward check. Entries whose ids are
    /// not valid identifiers cannot appear in any event and are left out.
    pub fn device_registry(&self) -> DeviceRegistry {
        let home_wards = self
            .devices
            .iter()
            .filter_map(|device| {
                Some((
                    DeviceId::new(&device.device_id).ok()?,
                    WardId::new(&device.home_ward).ok()?,
                ))
            })
            .collect();
        DeviceRegistry { home_wards }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A small roster in the demo site's shapes: two wards, three people (one inactive), three
    /// devices. The PIN verifiers are filled in by tests that need them.
    pub fn roster() -> Roster {
        let member = |staff_id: &str, name: &str, badge: &str, active: bool| StaffMember {
            staff_id: staff_id.to_owned(),
            display_name: name.to_owned(),
            role: "nurse".to_owned(),
            badge_id: badge.to_owned(),
            home_ward: "W-4E".to_owned(),
            pin_verifier: String::new(),
            active,
        };
        let device = |device_id: &str, tag: &str, ward: &str| Device {
            device_id: device_id.to_owned(),
            site_id: "SITE-DEMO".to_owned(),
            asset_tag: tag.to_owned(),
            kind: "tablet".to_owned(),
            model: "Synthetic Tab 10".to_owned(),
            home_ward: ward.to_owned(),
            active: true,
        };
        Roster {
            version: "v1".to_owned(),
            site_id: "SITE-DEMO".to_owned(),
            site_config: SiteConfig {
                rules: SiteRules::default(),
                inactivity_lockout_minutes: 5,
            },
            wards: vec![
                Ward {
                    ward_id: "W-4E".to_owned(),
                    site_id: "SITE-DEMO".to_owned(),
                    name: "Ward 4 East".to_owned(),
                },
                Ward {
                    ward_id: "W-5W".to_owned(),
                    site_id: "SITE-DEMO".to_owned(),
                    name: "Ward 5 West".to_owned(),
                },
            ],
            staff: vec![
                member("S-0001", "Avery Alder", "B-20001", true),
                member("S-0002", "Blake Birch", "B-20002", true),
                member("S-0003", "Casey Cedar", "B-20003", false),
            ],
            devices: vec![
                device("D-0001", "BT-10001", "W-4E"),
                device("D-0002", "BT-10002", "W-5W"),
                device("D-0003", "BT-10003", "W-4E"),
            ],
        }
    }

    #[test]
    fn scans_match_tags_and_badges_whatever_the_case_and_surrounding_spaces() {
        let roster = roster();
        assert_eq!(
            roster
                .device_by_scan(" bt-10002\n")
                .map(|device| device.device_id.as_str()),
            Some("D-0002")
        );
        assert_eq!(
            roster
                .device_by_scan("D-0003")
                .map(|device| device.asset_tag.as_str()),
            Some("BT-10003")
        );
        assert!(roster.device_by_scan("BT-1000").is_none());
        assert!(roster.device_by_scan("   ").is_none());
        assert_eq!(
            roster
                .staff_by_badge("b-20002")
                .map(|member| member.staff_id.as_str()),
            Some("S-0002")
        );
        assert!(roster.staff_by_badge("").is_none());
    }

    #[test]
    fn the_server_can_add_roster_fields_without_breaking_tablets() {
        let mut value = serde_json::to_value(roster()).unwrap();
        value["staff"][0]["pronouns"] = serde_json::json!("they");
        value["future_field"] = serde_json::json!(1);
        let decoded: Roster = serde_json::from_value(value).unwrap();
        assert_eq!(decoded, roster());
    }
}
