//! Rows as the server stores them: the site's registry of wards, staff, devices and accounts.
//! Mapped to and from SQL at the edge, so that these types carry no storage derives.

use baton_core::event::SignedEvent;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WardRecord {
    pub ward_id: String,
    pub site_id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StaffRecord {
    pub staff_id: String,
    pub site_id: String,
    pub display_name: String,
    /// `nurse`, `charge_nurse`, `manager`...: what the tablet may let this person do.
    pub role: String,
    pub badge_id: String,
    pub home_ward: String,
    /// An argon2id PHC string of the PIN. The PIN itself is never stored.
    pub pin_verifier: String,
    pub active: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceRecord {
    pub device_id: String,
    pub site_id: String,
    pub asset_tag: String,
    /// `tablet`, `phone` or `scanner`.
    pub kind: String,
    pub model: String,
    pub home_ward: String,
    pub active: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountRole {
    Admin,
    Manager,
    Auditor,
}

impl AccountRole {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountRole::Admin => "admin",
            AccountRole::Manager => "manager",
            AccountRole::Auditor => "auditor",
        }
    }

    pub fn parse(text: &str) -> Option<AccountRole> {
        match text {
            "admin" => Some(AccountRole::Admin),
            "manager" => Some(AccountRole::Manager),
            "auditor" => Some(AccountRole::Auditor),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRecord {
    pub username: String,
    /// An argon2id PHC string.
    pub password_hash: String,
    pub role: AccountRole,
    /// The site a manager or auditor is scoped to; `None` for an admin of every site.
    pub site_id: Option<String>,
}

/// A whole site as created in one go: by the demo seed, and later by an import.
#[derive(Debug, Clone)]
pub struct SiteSetup {
    pub site_id: String,
    pub name: String,
    /// The site's configuration (shifts, grace, lockout) as JSON, handed to tablets at enrollment.
    pub config_json: String,
    pub wards: Vec<WardRecord>,
    pub staff: Vec<StaffRecord>,
    pub devices: Vec<DeviceRecord>,
    pub accounts: Vec<AccountRecord>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub sites: i64,
    pub wards: i64,
    pub staff: i64,
    pub devices: i64,
    pub accounts: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TabletRecord {
    pub tablet_id: String,
    pub site_id: String,
    pub ward_id: String,
    /// The tablet's ed25519 public key, lowercase hex.
    pub public_key: String,
    pub label: String,
    pub enrolled_at_ms: i64,
    pub revoked_from_ms: Option<i64>,
    pub last_sync_ms: Option<i64>,
}

/// A tablet key retired by a rotation: its events stay good up to `last_seq`, none after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetiredTabletKey {
    pub public_key: String,
    pub tablet_id: String,
    /// The last event the key signed (0: none).
    pub last_seq: i64,
    pub retired_at_ms: i64,
}

/// A tablet's key rotation, as `Storage::rotate_tablet_key` records it.
#[derive(Debug, Clone)]
pub struct TabletKeyRotation<'a> {
    pub site_id: &'a str,
    pub tablet_id: &'a str,
    pub previous_key: &'a str,
    pub next_key: &'a str,
    pub last_seq: i64,
    pub rotation_json: &'a str,
}

/// A single-use enrollment code as stored: its SHA-256, never the code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollmentCode {
    pub code_hash: String,
    pub site_id: String,
    pub ward_id: String,
    pub created_by: String,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
}

/// A verified event to append to a site's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub event_id: String,
    pub signer: String,
    pub seq: i64,
    /// The tablet that pushed it; `None` for an event the server signed as the authority.
    pub tablet_id: Option<String>,
    /// The event's canonical wire JSON (`SignedEvent::to_json_bytes`); its ledger entry is
    /// framed around it (`LedgerEntry::event_canonical_bytes`).
    pub event_json: String,
    pub received_at_ms: i64,
}

impl NewEvent {
    pub fn new(event: &SignedEvent, tablet_id: Option<String>, received_at_ms: u64) -> NewEvent {
        NewEvent::with_text(EventText::of(event), tablet_id, received_at_ms)
    }

    /// With its text written beforehand (`EventText::of`): a push writes it before it takes its
    /// site's lock, so that the pushes waiting for that lock do not wait for this too.
    pub fn with_text(text: EventText, tablet_id: Option<String>, received_at_ms: u64) -> NewEvent {
        NewEvent {
            event_id: text.event_id,
            signer: text.signer,
            seq: text.seq,
            tablet_id,
            event_json: text.event_json,
            received_at_ms: received_at_ms as i64,
        }
    }
}

/// What storage writes of an event as text: its id and signer in hex, its seq and its canonical
/// wire JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventText {
    pub event_id: String,
    pub signer: String,
    pub seq: i64,
    pub event_json: String,
}

impl EventText {
    pub fn of(event: &SignedEvent) -> EventText {
        EventText {
            event_id: event.id().to_hex(),
            signer: event.signer().to_hex(),
            seq: event.seq() as i64,
            event_json: String::from_utf8(event.to_json_bytes()).expect("wire JSON is UTF-8"),
        }
    }
}

/// An event as stored, with its place in the site's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub server_seq: i64,
    pub event_id: String,
    /// `None` for an event the server signed as the authority.
    pub tablet_id: Option<String>,
    pub event_json: String,
    pub received_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// SHA-256 of the cookie's value.
    pub session_hash: String,
    pub username: String,
    pub csrf_hash: String,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
}

/// A person to create or update; `pin_verifier: None` keeps the stored verifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffUpsert {
    pub staff_id: String,
    pub display_name: String,
    pub role: String,
    pub badge_id: String,
    pub home_ward: String,
    pub pin_verifier: Option<String>,
    pub active: bool,
}

/// Where a pushed event landed: its place in the site's event order and, when it was new, in
/// the site's ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendedEvent {
    pub server_seq: i64,
    pub leaf_index: Option<i64>,
}

/// A signed request's nonce, to be remembered until `expires_at_ms` (after which the request's
/// timestamp is refused anyway).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNonce {
    pub tablet_id: String,
    pub nonce: String,
    pub expires_at_ms: i64,
}

/// What `Storage::append_events` stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendedEvents {
    /// Where each event landed, in input order.
    pub events: Vec<AppendedEvent>,
    /// The largest `server_seq` of the site's events before this transaction (0 if none), read
    /// under the site's append lock: a replica that had folded up to exactly there has now
    /// folded everything up to the largest of `events` (see `push_batch.rs`).
    pub site_latest_before: i64,
    /// For each of the nonces given, whether it was new: `false` for a replayed request (its
    /// nonce already remembered, or given earlier in the same call).
    pub fresh_nonces: Vec<bool>,
}

/// One ledger leaf as stored: the canonical entry bytes (UTF-8 JSON) and their leaf hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerRow {
    pub leaf_index: i64,
    pub entry_json: String,
    pub leaf_hash: String,
    pub appended_at_ms: i64,
}

/// A custody whose access must be closed, recorded with the event that ended it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRevocation {
    pub device_id: String,
    pub staff_id: String,
    pub opened_by: String,
    pub ended_by: Option<String>,
    /// `checked_in`, `transferred`, `lockout`, `renewed`, `found`, `quarantined`,
    /// `reported_missing` or `overlapping_custody`.
    pub reason: String,
}

impl NewRevocation {
    /// The custody it closes, (device, person, opening event): storage records one revocation
    /// per custody.
    pub fn custody(&self) -> (&str, &str, &str) {
        (&self.device_id, &self.staff_id, &self.opened_by)
    }
}

/// A revocation with the state of its delivery to each connector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RevocationRecord {
    pub revocation_id: i64,
    pub device_id: String,
    pub staff_id: String,
    pub opened_by: String,
    pub ended_by: Option<String>,
    pub reason: String,
    pub created_at_ms: i64,
    pub deliveries: Vec<DeliveryRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryRecord {
    pub connector: String,
    /// `pending`, `sent`, `confirmed`, `failed`, or `cancelled` (its connector was disabled
    /// before it was delivered; `last_error` says so).
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub updated_at_ms: i64,
    /// What the last confirmed attempt found: for RFC 7009, the tokens it revoked, or that the
    /// custody had none to revoke.
    pub detail: Option<String>,
}

/// A custody-bound access token as stored (by hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessTokenRecord {
    pub token_hash: String,
    pub site_id: String,
    pub device_id: String,
    pub staff_id: String,
    pub opened_by: String,
    pub issued_at_ms: i64,
    pub expires_at_ms: i64,
    pub revoked_at_ms: Option<i64>,
}

/// A delivery the worker has leased: the revocation it carries and how often it was tried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueDelivery {
    pub revocation_id: i64,
    pub connector: String,
    pub attempts: i64,
    pub site_id: String,
    pub device_id: String,
    pub staff_id: String,
    pub opened_by: String,
    pub ended_by: Option<String>,
    pub reason: String,
    pub created_at_ms: i64,
}

/// What happened to one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// Done; `detail` says what was found (for RFC 7009: how many tokens, or none).
    Confirmed { detail: Option<String> },
    /// Try again at `next_attempt_at_ms`.
    Retry {
        next_attempt_at_ms: i64,
        error: String,
    },
    /// Given up: the dead letter, shown as "revocation failed".
    Failed { error: String },
}

/// What the server read before signing an authority event, checked again under the site's
/// append lock: if the site's log grew since (another server process appended), the event was
/// built on a stale chain or fold and is refused with `StorageError::Stale`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorityPrecondition {
    /// The largest `server_seq` of the site when the replica was caught up.
    pub latest_server_seq: i64,
    /// The id of the authority's latest event at this site, the new event's `prev`.
    pub chain_head: Option<String>,
}

/// A manager's review of a derived exception: acknowledged or resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExceptionReviewRecord {
    /// `Exception::key`: 32 hex digits.
    pub exception_key: String,
    pub device_id: String,
    /// The exception kind in snake_case.
    pub kind: String,
    /// `acknowledged` or `resolved`.
    pub state: String,
    /// The dashboard account that acted.
    pub by: String,
    pub at_ms: i64,
    pub note: Option<String>,
}

/// An external OAuth token an app registered, sealed, to bind to the custody named by the
/// app's Baton token (docs/PROTOCOL.md §5.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewExternalToken {
    pub site_id: String,
    pub device_id: String,
    pub staff_id: String,
    pub opened_by: String,
    /// The `oauth_revocation` connector that will revoke it.
    pub connector: String,
    /// `refresh_token` or `access_token`.
    pub token_type_hint: String,
    /// SHA-256 (hex) of the token: the same token registered twice is stored once.
    pub token_sha256: String,
    /// `TokenVault::seal` of the token; never the token.
    pub sealed: String,
    pub registered_at_ms: i64,
}

/// What registering an external token did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExternalTokenRegistered {
    pub token_id: i64,
    /// `false` when the same token was registered before (and nothing was written).
    pub newly_stored: bool,
    /// The custody's revocation, when it already has one (the custody ended): its delivery to
    /// the connector was made due at once, so the late token is revoked too.
    pub revocation_id: Option<i64>,
}

/// A registered external token of a custody, as the delivery worker reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalTokenRow {
    pub token_id: i64,
    pub token_type_hint: String,
    /// `None` once the token was revoked: its ciphertext is deleted then.
    pub sealed: Option<String>,
}

/// Revocation deliveries of one site in one open status (metrics).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenDeliveries {
    pub site_id: String,
    pub status: String,
    pub count: i64,
    pub oldest_created_at_ms: i64,
}

/// A revocation connector of one site, made through the admin API. Its secret is only ever
/// here sealed (`TokenVault::seal_connector_secret`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteConnectorRecord {
    pub site_id: String,
    pub name: String,
    /// `webhook`, `backchannel_logout`, `caep` or `oauth_revocation`.
    pub kind: String,
    /// `ConnectorConfig::public_json`: everything but the secret.
    pub config_json: String,
    /// Hex of nonce ‖ ciphertext of the secret; `None` for kinds without one.
    pub sealed_secret: Option<String>,
    pub enabled: bool,
    pub created_by: String,
    pub created_at_ms: i64,
    pub updated_by: String,
    pub updated_at_ms: i64,
}

/// What enabling or disabling a site connector did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorSwitched {
    /// `false` when it already was as asked: nothing was written or ledgered.
    pub changed: bool,
    /// The revocations whose pending delivery to it was cancelled (disabling only).
    pub cancelled_revocation_ids: Vec<i64>,
}

/// An account as the admin's list shows it: never its password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountListing {
    pub username: String,
    pub role: AccountRole,
    pub site_id: Option<String>,
    /// When an admin disabled it; `None` while it may sign in.
    pub disabled_at_ms: Option<i64>,
}

/// What disabling, enabling or a password reset of an account did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountChanged {
    /// `false` when it already was as asked (enable, disable): nothing was written or ledgered.
    pub changed: bool,
    /// The sessions of the account that were deleted with the change.
    pub sessions_ended: u64,
}
