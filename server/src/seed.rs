//! Synthetic demo data for a first start with `--demo`: one site, two wards, 20 devices, 30 staff
//! and one manager account. Every name is invented; no real person or patient appears anywhere.
//!
//! PINs and the manager's password are drawn at random on this machine and printed once; only
//! their argon2id hashes are stored.

use anyhow::Context;
use argon2::password_hash::{PasswordHasher, SaltString};
use rand::Rng;
use rand::rngs::OsRng;

use crate::storage::{
    AccountRecord, AccountRole, DeviceRecord, SiteSetup, StaffRecord, WardRecord,
};

pub const DEMO_SITE_ID: &str = "SITE-DEMO";

const FIRST_NAMES: [&str; 15] = [
    "Avery", "Blake", "Casey", "Devon", "Emery", "Finley", "Harper", "Jordan", "Kendall", "Logan",
    "Morgan", "Parker", "Quinn", "Reese", "Sawyer",
];
const LAST_NAMES: [&str; 10] = [
    "Alder", "Birch", "Cedar", "Finch", "Heron", "Linden", "Maple", "Rowan", "Sparrow", "Wren",
];

/// The secrets of a freshly seeded site, to print once for whoever started the demo.
pub struct DemoCredentials {
    pub manager_username: String,
    pub manager_password: String,
    /// (staff id, display name, role, badge id, PIN)
    pub staff: Vec<(String, String, String, String, String)>,
}

/// Builds the demo site. Hashing 31 secrets with argon2id takes about a second in release mode.
pub fn demo_site() -> anyhow::Result<(SiteSetup, DemoCredentials)> {
    let wards = vec![
        ward("W-4E", "Ward 4 East (Medical)"),
        ward("W-5W", "Ward 5 West (Surgical)"),
    ];

    let mut staff = Vec::new();
    let mut staff_credentials = Vec::new();
    for staff_idx in 0..30_usize {
        let staff_id = format!("S-{:04}", staff_idx + 1);
        let display_name = format!(
            "{} {}",
            FIRST_NAMES[staff_idx % FIRST_NAMES.len()],
            LAST_NAMES[(staff_idx * 7 + staff_idx / FIRST_NAMES.len()) % LAST_NAMES.len()]
        );
        // Two charge nurses per ward, everyone else a nurse.
        let role = if staff_idx < 4 {
            "charge_nurse"
        } else {
            "nurse"
        };
        let home_ward = &wards[staff_idx % wards.len()].ward_id;
        let badge_id = format!("B-{}", 20001 + staff_idx);
        let pin = format!("{:06}", OsRng.gen_range(0..1_000_000));
        staff.push(StaffRecord {
            staff_id: staff_id.clone(),
            site_id: DEMO_SITE_ID.to_owned(),
            display_name: display_name.clone(),
            role: role.to_owned(),
            badge_id: badge_id.clone(),
            home_ward: home_ward.clone(),
            pin_verifier: hash_secret(&pin).context("hashing a demo PIN")?,
            active: true,
        });
        staff_credentials.push((staff_id, display_name, role.to_owned(), badge_id, pin));
    }

    let mut devices = Vec::new();
    for device_idx in 0..20_usize {
        let (kind, model) = match device_idx {
            0..=11 => ("tablet", "Synthetic Tab 10"),
            12..=16 => ("phone", "Synthetic Phone 6"),
            _ => ("scanner", "Synthetic Scan 2D"),
        };
        devices.push(DeviceRecord {
            device_id: format!("D-{:04}", device_idx + 1),
            site_id: DEMO_SITE_ID.to_owned(),
            asset_tag: format!("BT-{}", 10001 + device_idx),
            kind: kind.to_owned(),
            model: model.to_owned(),
            home_ward: wards[device_idx % wards.len()].ward_id.clone(),
            active: true,
        });
    }

    let manager_password = random_password();
    let accounts = vec![AccountRecord {
        username: "manager".to_owned(),
        password_hash: hash_secret(&manager_password)
            .context("hashing the demo manager password")?,
        role: AccountRole::Manager,
        site_id: Some(DEMO_SITE_ID.to_owned()),
    }];

    let site = SiteSetup {
        site_id: DEMO_SITE_ID.to_owned(),
        name: "Synthetic General Hospital (demo)".to_owned(),
        config_json: crate::site_config::SiteConfig::typical_ward().to_json(),
        wards,
        staff,
        devices,
        accounts,
    };
    let credentials = DemoCredentials {
        manager_username: "manager".to_owned(),
        manager_password,
        staff: staff_credentials,
    };
    Ok((site, credentials))
}

/// An argon2id PHC string (the crate's defaults: 19 MiB, 2 passes, 1 lane; OWASP's minimum).
pub fn hash_secret(secret: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(argon2::Argon2::default()
        .hash_password(secret.as_bytes(), &salt)?
        .to_string())
}

fn ward(ward_id: &str, name: &str) -> WardRecord {
    WardRecord {
        ward_id: ward_id.to_owned(),
        site_id: DEMO_SITE_ID.to_owned(),
        name: name.to_owned(),
    }
}

/// Four groups of four characters from an alphabet without look-alikes (no 0/o, 1/l/i).
pub fn random_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let groups: Vec<String> = (0..4)
        .map(|_| {
            (0..4)
                .map(|_| ALPHABET[OsRng.gen_range(0..ALPHABET.len())] as char)
                .collect()
        })
        .collect();
    groups.join("-")
}

/// The credentials as a table for the terminal and for `demo-credentials.txt`.
pub fn format_credentials(credentials: &DemoCredentials, site_name: &str) -> String {
    let mut text = format!(
        "Demo credentials for {site_name} (synthetic people, shown once; also saved owner-only in the data directory)\n\n\
         Manager dashboard sign-in: username {}  password {}\n\n\
         {:<8} {:<20} {:<13} {:<8} {}\n",
        credentials.manager_username,
        credentials.manager_password,
        "staff",
        "name",
        "role",
        "badge",
        "PIN"
    );
    for (staff_id, display_name, role, badge_id, pin) in &credentials.staff {
        text.push_str(&format!(
            "{staff_id:<8} {display_name:<20} {role:<13} {badge_id:<8} {pin}\n"
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHash, PasswordVerifier};

    #[test]
    fn demo_site_has_the_promised_shape_and_stores_no_secret_in_clear() {
        let (site, credentials) = demo_site().unwrap();
        assert_eq!(site.wards.len(), 2);
        assert_eq!(site.devices.len(), 20);
        assert_eq!(site.staff.len(), 30);
        assert_eq!(site.accounts.len(), 1);
        let (_, _, _, _, pin) = &credentials.staff[0];
        assert_eq!(pin.len(), 6);
        let verifier = &site.staff[0].pin_verifier;
        assert!(verifier.starts_with("$argon2id$"), "{verifier}");
        assert!(!verifier.contains(pin.as_str()));
        let parsed = PasswordHash::new(verifier).unwrap();
        assert!(
            argon2::Argon2::default()
                .verify_password(pin.as_bytes(), &parsed)
                .is_ok()
        );
        let wrong_pin = if pin == "000000" { "000001" } else { "000000" };
        assert!(
            argon2::Argon2::default()
                .verify_password(wrong_pin.as_bytes(), &parsed)
                .is_err()
        );
        let badges: std::collections::BTreeSet<_> =
            site.staff.iter().map(|s| &s.badge_id).collect();
        assert_eq!(badges.len(), 30, "badge ids must be unique");
    }

    #[test]
    fn passwords_are_long_and_avoid_look_alike_characters() {
        let password = random_password();
        assert_eq!(password.len(), 19);
        assert!(!password.contains(['0', 'o', '1', 'l', 'i']));
    }
}
