use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use baton_core::event::SignedEvent;
use baton_core::ids::{DeviceId, EventId, SignerKey, WardId};
use baton_core::keys::{KeySet, SignerInfo};
use baton_core::replica::Replica;
use baton_core::rules::DeviceRegistry;
use tokio::sync::{OwnedMappedMutexGuard, OwnedMutexGuard};

use crate::server_key::ServerKeys;
use crate::site_config::SiteConfig;
use crate::storage::{DeviceRecord, Storage, StorageError};

/// Events read from storage per round trip while catching up.
const CATCH_UP_PAGE: i64 = 5_000;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("site {0:?} does not exist")]
    UnknownSite(String),
    #[error("site {site_id:?}: its stored configuration is invalid: {reason}")]
    BadSiteConfig { site_id: String, reason: String },
    #[error("site {site_id:?}: stored event {event_id} cannot be read back: {reason}")]
    CorruptEvent {
        site_id: String,
        event_id: String,
        reason: String,
    },
}

/// A locked, caught-up site replica.
pub type SiteGuard = OwnedMappedMutexGuard<Option<SiteReplica>, SiteReplica>;

pub struct SiteReplica {
    pub site_id: String,
    pub config: SiteConfig,
    pub replica: Replica,
    /// The last `server_seq` folded into `replica`.
    pub cursor: i64,
    /// The site's device records as stored, in the registry's order: the board's rows.
    pub devices: Vec<DeviceRecord>,
    /// The stored keys and registry the replica's were built from.
    inputs: SiteInputs,
    /// The site's registry version (`Storage::site_registry_version`) when `inputs`, `devices`
    /// and `config` were read.
    registry_version: i64,
    /// Set when the replica took in events that were then not stored: the next lock reloads
    /// the site from storage.
    discarded: bool,
}

impl SiteReplica {
    /// The registry version the replica's keys, registry and configuration are as of.
    pub fn registry_version(&self) -> i64 {
        self.registry_version
    }

    /// Marks the replica as ahead of storage (a write failed after the fold), so that whoever
    /// locks the site next reloads it instead of folding onto events that were never stored.
    pub fn discard(&mut self) {
        self.discarded = true;
    }
}

/// The stored rows a site's key set and device registry are built from, as read. Compared when
/// the registry version moves, so that the key set is rebuilt only when one of its rows
/// changed (not, say, at a tablet's new label).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct SiteInputs {
    /// Hex public keys with what the key set knows of each, in the order read.
    signers: Vec<(String, SignerInfo)>,
    /// (device id, home ward) as stored.
    devices: Vec<(String, String)>,
}

/// Every site's replica, each behind its own async lock.
pub struct SiteReplicas {
    server_keys: Arc<ServerKeys>,
    sites: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<SiteReplica>>>>>,
    /// Each loaded site's key set as of its registry version, readable without the site's
    /// lock: pushes verify their signatures against it while another push holds the lock.
    verifiers: Mutex<HashMap<String, Arc<Verifier>>>,
    /// Stored events read back by catch-up, whether folded or found already in the replica.
    rows_read_back: std::sync::atomic::AtomicU64,
}

/// What a site's signatures are checked against, as of one registry version. Verdicts
/// computed with it stand for the replica as long as its registry version is the same, since
/// every change of keys, decommissioning or configuration moves that version.
pub struct Verifier {
    pub registry_version: i64,
    pub keys: KeySet,
    pub max_clock_skew_ms: u64,
}

impl SiteReplicas {
    pub fn new(server_keys: Arc<ServerKeys>) -> SiteReplicas {
        SiteReplicas {
            server_keys,
            sites: Mutex::new(HashMap::new()),
            verifiers: Mutex::new(HashMap::new()),
            rows_read_back: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// How many stored events catch-up has read back so far: the events other server
    /// processes stored, and those this one stored while its replica was behind storage.
    pub fn rows_read_back(&self) -> u64 {
        self.rows_read_back
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Locks the site's replica, loading it on first use and catching it up with storage (new
    /// events, new or decommissioned tablets, registry changes).
    pub async fn lock(&self, storage: &dyn Storage, site_id: &str) -> Result<SiteGuard, SyncError> {
        let slot = {
            let mut sites = self
                .sites
                .lock()
                .expect("the site map lock is never poisoned");
            sites.entry(site_id.to_owned()).or_default().clone()
        };
        let mut guard = slot.lock_owned().await;
        // Keys, registry and configuration are checked at every use, through one row that
        // triggers bump in the transaction of any change to them (migration 0011): a
        // decommissioned tablet must be refused by every server process from its next request
        // on. The version is read before the rows, so a change committed in between is seen
        // again at the next use rather than missed.
        let version = storage
            .site_registry_version(site_id)
            .await?
            .ok_or_else(|| SyncError::UnknownSite(site_id.to_owned()))?;
        let mut site = match guard.take() {
            Some(site) if !site.discarded => site,
            _ => self.load(storage, site_id, version).await?,
        };
        if site.registry_version != version {
            self.refresh(storage, &mut site, version).await?;
        }
        catch_up(storage, &mut site, &self.rows_read_back).await?;
        self.publish_verifier(&site);
        *guard = Some(site);
        Ok(OwnedMutexGuard::map(guard, |slot| {
            slot.as_mut().expect("the slot was filled just above")
        }))
    }

    /// The site's key set as of its last lock, if the site was loaded: see `Verifier`.
    pub fn verifier(&self, site_id: &str) -> Option<Arc<Verifier>> {
        self.verifiers
            .lock()
            .expect("the verifier map lock is never poisoned")
            .get(site_id)
            .cloned()
    }

    /// Publishes the site's key set when its registry version moved.
    fn publish_verifier(&self, site: &SiteReplica) {
        let mut verifiers = self
            .verifiers
            .lock()
            .expect("the verifier map lock is never poisoned");
        if verifiers
            .get(&site.site_id)
            .is_some_and(|verifier| verifier.registry_version == site.registry_version)
        {
            return;
        }
        verifiers.insert(
            site.site_id.clone(),
            Arc::new(Verifier {
                registry_version: site.registry_version,
                keys: site.replica.custody().keys().clone(),
                max_clock_skew_ms: site.config.rules.max_clock_skew_ms,
            }),
        );
    }

    async fn load(
        &self,
        storage: &dyn Storage,
        site_id: &str,
        registry_version: i64,
    ) -> Result<SiteReplica, SyncError> {
        let config = read_config(storage, site_id).await?;
        let (inputs, devices) = self.inputs(storage, site_id).await?;
        let (keys, registry) = build(site_id, &inputs)?;
        let replica = Replica::new(config.rules.clone(), keys, registry);
        let mut site = SiteReplica {
            site_id: site_id.to_owned(),
            config,
            replica,
            cursor: 0,
            devices,
            inputs,
            registry_version,
            discarded: false,
        };
        catch_up(storage, &mut site, &self.rows_read_back).await?;
        tracing::info!(
            site_id,
            n_events = site.replica.log().len(),
            "site replica loaded"
        );
        Ok(site)
    }

    /// Re-reads what the replica is built from after its registry version moved. The key set,
    /// whose every key is decompressed and checked for torsion, and the registry are rebuilt
    /// only if their rows changed, and each change re-folds the site.
    async fn refresh(
        &self,
        storage: &dyn Storage,
        site: &mut SiteReplica,
        registry_version: i64,
    ) -> Result<(), SyncError> {
        let config = read_config(storage, &site.site_id).await?;
        if config.rules != site.config.rules {
            site.replica.set_rules(config.rules.clone());
        }
        site.config = config;
        let (inputs, devices) = self.inputs(storage, &site.site_id).await?;
        if inputs != site.inputs {
            let (keys, registry) = build(&site.site_id, &inputs)?;
            if site.replica.custody().keys() != &keys {
                site.replica.set_keys(keys);
            }
            if site.replica.custody().registry() != &registry {
                site.replica.set_registry(registry);
            }
            site.inputs = inputs;
        }
        site.devices = devices;
        site.registry_version = registry_version;
        Ok(())
    }

    /// Reads what the site's key set and registry are built from.
    async fn inputs(
        &self,
        storage: &dyn Storage,
        site_id: &str,
    ) -> Result<(SiteInputs, Vec<DeviceRecord>), SyncError> {
        // Every key of the server's history is the authority: events a retired key signed
        // before its rotation stay the authority's, and a replica that still signs with the
        // previous key until its key file is replaced is not refused by the others.
        let history = self.server_keys.refresh_history(storage).await?;
        let mut signers: Vec<(String, SignerInfo)> = history
            .keys
            .keys()
            .iter()
            .map(|key| (key.to_hex(), SignerInfo::authority()))
            .collect();
        let tablets = storage.list_tablets(site_id).await?;
        // A tablet's retired keys: what they signed up to their rotation stays the tablet's,
        // nothing after it is accepted, and a decommissioning covers them too.
        for retired in storage.retired_tablet_keys(site_id).await? {
            let mut info = SignerInfo::tablet();
            info.retired_after_seq = Some(retired.last_seq.max(0) as u64);
            info.revoked_from_ms = tablets
                .iter()
                .find(|tablet| tablet.tablet_id == retired.tablet_id)
                .and_then(|tablet| tablet.revoked_from_ms)
                .map(|ms| ms as u64);
            signers.push((retired.public_key, info));
        }
        for tablet in tablets {
            let mut info = SignerInfo::tablet();
            info.revoked_from_ms = tablet.revoked_from_ms.map(|ms| ms as u64);
            signers.push((tablet.public_key, info));
        }
        let records = storage.list_devices(site_id).await?;
        let devices = records
            .iter()
            .map(|device| (device.device_id.clone(), device.home_ward.clone()))
            .collect();
        Ok((SiteInputs { signers, devices }, records))
    }
}

async fn read_config(storage: &dyn Storage, site_id: &str) -> Result<SiteConfig, SyncError> {
    let config_json = storage
        .site_config(site_id)
        .await?
        .ok_or_else(|| SyncError::UnknownSite(site_id.to_owned()))?;
    SiteConfig::from_json(&config_json).map_err(|reason| SyncError::BadSiteConfig {
        site_id: site_id.to_owned(),
        reason,
    })
}

/// The key set and registry of a site's stored rows.
fn build(site_id: &str, inputs: &SiteInputs) -> Result<(KeySet, DeviceRegistry), SyncError> {
    let mut signers = Vec::with_capacity(inputs.signers.len());
    for (public_key, info) in &inputs.signers {
        // Keys were validated at enrollment; one that no longer parses is skipped loudly
        // rather than taking the whole site down.
        match SignerKey::from_hex(public_key) {
            Ok(key) => signers.push((key, *info)),
            Err(error) => {
                tracing::error!(site_id, public_key, %error, "stored signer key is invalid")
            }
        }
    }
    let keys = KeySet::from_signers(signers).map_err(|error| SyncError::BadSiteConfig {
        site_id: site_id.to_owned(),
        reason: error.to_string(),
    })?;
    let mut registry = DeviceRegistry::default();
    for (device_id, home_ward) in &inputs.devices {
        if let (Ok(device_id), Ok(ward_id)) = (DeviceId::new(device_id), WardId::new(home_ward)) {
            registry.home_wards.insert(device_id, ward_id);
        }
    }
    Ok((keys, registry))
}

/// Folds the events other processes (or this one) stored since `site.cursor`. Stored events
/// were verified when they were accepted, so they are inserted without a second check.
async fn catch_up(
    storage: &dyn Storage,
    site: &mut SiteReplica,
    rows_read_back: &std::sync::atomic::AtomicU64,
) -> Result<(), SyncError> {
    loop {
        let page = storage
            .events_since(&site.site_id, site.cursor, CATCH_UP_PAGE)
            .await?;
        let page_len = page.len();
        rows_read_back.fetch_add(page_len as u64, std::sync::atomic::Ordering::Relaxed);
        let mut events = Vec::with_capacity(page_len);
        let mut event_ids = Vec::with_capacity(page_len);
        for stored in page {
            site.cursor = stored.server_seq;
            // Events this process accepted itself are already in the replica: skip the decode.
            if EventId::from_hex(&stored.event_id).is_ok_and(|id| site.replica.log().contains(&id))
            {
                continue;
            }
            let event =
                SignedEvent::from_json_bytes(stored.event_json.as_bytes()).map_err(|error| {
                    SyncError::CorruptEvent {
                        site_id: site.site_id.clone(),
                        event_id: stored.event_id.clone(),
                        reason: error.to_string(),
                    }
                })?;
            events.push(event);
            event_ids.push(stored.event_id);
        }
        // One fold per page: a device is re-folded once however its events interleave.
        for (event_id, result) in event_ids
            .iter()
            .zip(site.replica.insert_verified_batch(events))
        {
            if let Err(error) = result {
                tracing::warn!(event_id, %error, "stored event not folded");
            }
        }
        if page_len < CATCH_UP_PAGE as usize {
            return Ok(());
        }
    }
}
