//! What a tablet caches to work offline: the site configuration, the staff roster with PIN
//! verifiers (argon2id hashes, never PINs), the device registry, and a version that changes
//! whenever any of them does, so a pull tells the tablet when to fetch it again.

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::error::ApiError;
use crate::storage::{DeviceRecord, Storage, WardRecord};

#[derive(Debug, Serialize)]
pub struct RosterStaff {
    pub staff_id: String,
    pub display_name: String,
    pub role: String,
    pub badge_id: String,
    pub home_ward: String,
    pub pin_verifier: String,
    /// A deactivated person stays listed so that the tablet refuses them explicitly.
    pub active: bool,
}

#[derive(Debug, Serialize)]
pub struct Roster {
    pub version: String,
    pub site_id: String,
    pub site_config: serde_json::Value,
    pub wards: Vec<WardRecord>,
    pub staff: Vec<RosterStaff>,
    pub devices: Vec<DeviceRecord>,
}

pub async fn load_roster(storage: &dyn Storage, site_id: &str) -> Result<Roster, ApiError> {
    let unavailable = ApiError::storage;
    let config_json = storage
        .site_config(site_id)
        .await
        .map_err(unavailable)?
        .unwrap_or_default();
    let site_config: serde_json::Value =
        serde_json::from_str(&config_json).map_err(ApiError::internal)?;
    let wards = storage.list_wards(site_id).await.map_err(unavailable)?;
    let staff: Vec<RosterStaff> = storage
        .list_staff(site_id)
        .await
        .map_err(unavailable)?
        .into_iter()
        .map(|member| RosterStaff {
            staff_id: member.staff_id,
            display_name: member.display_name,
            role: member.role,
            badge_id: member.badge_id,
            home_ward: member.home_ward,
            pin_verifier: member.pin_verifier,
            active: member.active,
        })
        .collect();
    let devices = storage.list_devices(site_id).await.map_err(unavailable)?;
    let content = serde_json::json!([site_config, wards, staff, devices]);
    let version = hex::encode(&Sha256::digest(content.to_string().as_bytes())[..16]);
    Ok(Roster {
        version,
        site_id: site_id.to_owned(),
        site_config,
        wards,
        staff,
        devices,
    })
}
