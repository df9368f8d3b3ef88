//! `baton verify BUNDLE`: checks an exported audit bundle with no database and no network.
//!
//! It trusts nothing in the bundle but the server's public key the auditor compares with the
//! one they hold: the tree head must carry the signature of that key or of a key the bundle's
//! key history links to it (each rotation signed by the key it retired and the key it brought
//! in, so a key given years ago still anchors today's head, and today's key anchors old ones), every entry must hash to a leaf
//! that the head's root includes at the entry's position, every event must carry a valid
//! signature of an enrolled tablet, every tablet's events must chain, and every tablet key must
//! have a `tablet_enrolled` entry in the ledger before the first event it signed. It names each
//! altered, missing, inserted or reordered entry with its index and the rule it broke.

use std::collections::BTreeMap;

use baton_core::event::SignedEvent;
use baton_core::ids::{EventId, SignerKey};
use baton_core::key_rotation::{KeyHistory, MAX_ROTATIONS, RotatingSigner, SignedKeyRotation};
use baton_core::keys::{KeySet, SignerInfo};
use baton_core::ledger::{LedgerEntry, LedgerHash, SignedTreeHead, verify_inclusion};
use baton_core::verify::VerifyOptions;
use serde::Deserialize;

pub const BUNDLE_FORMAT: &str = "baton.audit-bundle.v1";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Bundle {
    format: String,
    site_id: String,
    server_public_key: String,
    /// The server key's rotations, oldest first (docs/PROTOCOL.md §3.9); absent in bundles of
    /// servers that never rotated.
    #[serde(default)]
    server_key_rotations: Vec<serde_json::Value>,
    tablet_keys: Vec<TabletKey>,
    tree_head: SignedTreeHead,
    entries: Vec<BundleEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TabletKey {
    tablet_id: String,
    public_key: String,
    revoked_from_ms: Option<u64>,
    /// Set for a key the tablet rotated away from: its last event (0: none).
    #[serde(default)]
    retired_after_seq: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BundleEntry {
    leaf_index: u64,
    entry: serde_json::Value,
    inclusion_proof: Vec<String>,
}

/// Per signer, per seq: the (leaf index, event id, prev) of each event seen.
type Chains = BTreeMap<SignerKey, BTreeMap<u64, Vec<(u64, EventId, Option<EventId>)>>>;

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub ok: bool,
    pub message: String,
}

#[derive(Debug, Default)]
pub struct Report {
    pub findings: Vec<Finding>,
    pub n_entries: usize,
}

impl Report {
    pub fn problems(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|finding| !finding.ok)
    }

    pub fn is_valid(&self) -> bool {
        self.problems().next().is_none()
    }

    fn ok(&mut self, message: String) {
        self.findings.push(Finding { ok: true, message });
    }

    fn fail(&mut self, message: String) {
        self.findings.push(Finding { ok: false, message });
    }
}

/// Checks a bundle. `expected_server_key` is the key the auditor trusts; without one, the
/// bundle's own key is used and the report says so.
pub fn verify_bundle(bytes: &[u8], expected_server_key: Option<&str>) -> Report {
    let mut report = Report::default();
    let bundle: Bundle = match serde_json::from_slice(bytes) {
        Ok(bundle) => bundle,
        Err(error) => {
            report.fail(format!("bundle: not a Baton audit bundle: {error}"));
            return report;
        }
    };
    if bundle.format != BUNDLE_FORMAT {
        report.fail(format!(
            "bundle: format {:?}, expected {BUNDLE_FORMAT:?}",
            bundle.format
        ));
        return report;
    }
    let server_key =
        match SignerKey::from_hex(expected_server_key.unwrap_or(&bundle.server_public_key)) {
            Ok(key) => key,
            Err(error) => {
                report.fail(format!("server key: {error}"));
                return report;
            }
        };
    if expected_server_key.is_none() {
        report.ok(format!(
            "server key {} taken from the bundle: compare it with the key you hold (--server-key)",
            server_key.to_hex()
        ));
    }
    if bundle.server_key_rotations.len() > MAX_ROTATIONS {
        report.fail(format!(
            "key history: {} rotations, at most {MAX_ROTATIONS} are accepted",
            bundle.server_key_rotations.len()
        ));
        return report;
    }
    let rotations: Result<Vec<SignedKeyRotation>, _> = bundle
        .server_key_rotations
        .iter()
        .map(SignedKeyRotation::from_json_value)
        .collect();
    let history = match rotations.and_then(|rotations| {
        KeyHistory::from_rotations(RotatingSigner::Server, &server_key, &rotations)
    }) {
        Ok(history) => history,
        Err(error) => {
            report.fail(format!("key history: {error}"));
            return report;
        }
    };
    if history.keys().len() > 1 {
        report.ok(format!(
            "key history: {} keys, each rotation signed by the key it retired and the key it brought in; the key you hold is one of them",
            history.keys().len()
        ));
    }
    let bundle_key_known = SignerKey::from_hex(&bundle.server_public_key)
        .is_ok_and(|bundle_key| history.contains(&bundle_key));
    if !bundle_key_known {
        report.fail(
            "server key: the bundle names a key that is neither the one given nor linked to it by the key history"
                .to_owned(),
        );
    }
    let head = &bundle.tree_head;
    match head.verify_in(&history) {
        Ok(()) => report.ok(format!(
            "tree head: size {}, root {}, signed at {} ms by server key {}",
            head.head.tree_size,
            head.head.root_hash.to_hex(),
            head.head.timestamp_ms,
            &head.head.key_id.to_hex()[..16]
        )),
        Err(error) => {
            report.fail(format!("tree head: {error}"));
            return report;
        }
    }
    if head.head.log_id.as_str() != bundle.site_id {
        report.fail(format!(
            "tree head: signed for log {:?}, bundle is for {:?}",
            head.head.log_id.as_str(),
            bundle.site_id
        ));
    }

    // Every key of the history is the authority for the events it signed.
    let mut signers: Vec<(SignerKey, SignerInfo)> = history
        .keys()
        .iter()
        .map(|key| (*key, SignerInfo::authority()))
        .collect();
    let mut tablet_of = BTreeMap::new();
    for tablet in &bundle.tablet_keys {
        match SignerKey::from_hex(&tablet.public_key) {
            Ok(key) => {
                let mut info = SignerInfo::tablet();
                info.revoked_from_ms = tablet.revoked_from_ms;
                info.retired_after_seq = tablet.retired_after_seq;
                signers.push((key, info));
                tablet_of.insert(key, tablet.tablet_id.clone());
            }
            Err(error) => report.fail(format!("tablet {}: {error}", tablet.tablet_id)),
        }
    }
    let keys = match KeySet::from_signers(signers) {
        Ok(keys) => keys,
        Err(error) => {
            report.fail(format!("keys: {error}"));
            return report;
        }
    };
    // Signatures only: the receive-time checks (clock skew) do not apply to an archive.
    let options = VerifyOptions {
        now_ms: u64::MAX / 2,
        max_clock_skew_ms: 0,
    };

    let mut chains = Chains::new();
    let mut already_failed = std::collections::BTreeSet::new();
    let mut enrollments = Enrollments::new();
    for (position, bundle_entry) in bundle.entries.iter().enumerate() {
        report.n_entries += 1;
        let leaf_index = bundle_entry.leaf_index;
        let label = format!("entry {position} (leaf {leaf_index})");
        if leaf_index != position as u64 {
            report.fail(format!(
                "{label}: leaf index {leaf_index} at position {position}: an entry before it is missing, or entries were inserted or reordered"
            ));
        }
        let entry_bytes =
            serde_json::to_vec(&bundle_entry.entry).expect("a JSON value always serialises");
        let entry = match LedgerEntry::from_json_bytes(&entry_bytes) {
            Ok(entry) => entry,
            Err(error) => {
                report.fail(format!("{label}: not a ledger entry: {error}"));
                continue;
            }
        };
        let proof: Result<Vec<LedgerHash>, _> = bundle_entry
            .inclusion_proof
            .iter()
            .map(|hash| LedgerHash::from_hex(hash))
            .collect();
        let included = match (entry.leaf_hash(), proof) {
            (Ok(leaf), Ok(proof)) => verify_inclusion(
                &leaf,
                leaf_index,
                head.head.tree_size,
                &proof,
                &head.head.root_hash,
            )
            .map_err(|error| error.to_string()),
            (Err(error), _) => Err(error.to_string()),
            (_, Err(error)) => Err(format!("proof: {error}")),
        };
        if let Err(reason) = included {
            report.fail(format!("{label}: not in the signed tree at this position (altered, inserted or moved): {reason}"));
            // Its successor's chain link is not reported again: the cause is named here.
            if let LedgerEntry::Event { event, .. } = &entry {
                already_failed.insert((*event.signer(), event.seq()));
            }
            continue;
        }
        match &entry {
            LedgerEntry::Event {
                event, server_seq, ..
            } => {
                check_event(
                    &mut report,
                    &label,
                    event,
                    &keys,
                    options,
                    &tablet_of,
                    *server_seq,
                );
                chains
                    .entry(*event.signer())
                    .or_default()
                    .entry(event.seq())
                    .or_default()
                    .push((leaf_index, event.id(), event.prev()));
            }
            LedgerEntry::Governance { action, by, .. } => {
                if action["type"] == "tablet_enrolled"
                    && let (Some(public_key), Some(tablet_id)) =
                        (action["public_key"].as_str(), action["tablet_id"].as_str())
                {
                    enrollments
                        .entry(public_key.to_ascii_lowercase())
                        .or_insert((leaf_index, tablet_id.to_owned()));
                }
                if action["type"] == "tablet_key_rotated" {
                    match rotated_key(action, &enrollments) {
                        Ok((next_key, tablet_id)) => {
                            enrollments
                                .entry(next_key)
                                .or_insert((leaf_index, tablet_id));
                        }
                        Err(reason) => {
                            report.fail(format!("{label}: tablet_key_rotated: {reason}"));
                            continue;
                        }
                    }
                }
                report.ok(format!(
                    "{label}: included; governance {} by {by}",
                    action["type"].as_str().unwrap_or("?")
                ));
            }
        }
    }
    if bundle.entries.len() as u64 != head.head.tree_size {
        report.fail(format!(
            "bundle: {} entries, the signed head covers {}: entries are missing or added",
            bundle.entries.len(),
            head.head.tree_size
        ));
    }
    check_chains(&mut report, &chains, &tablet_of, &already_failed);
    check_enrollments(&mut report, &bundle.tablet_keys, &chains, &enrollments);
    report
}

/// Per tablet public key (lowercase hex): the leaf of its first `tablet_enrolled` entry and the
/// tablet id that entry names.
type Enrollments = BTreeMap<String, (u64, String)>;

/// A tablet's key rotation enrolls its new key for the same tablet, if the rotation is signed
/// by both keys and the key it retires was that tablet's (enrolled, or rotated to, earlier in
/// the ledger). Returns the new key (hex) and the tablet.
fn rotated_key(
    action: &serde_json::Value,
    enrollments: &Enrollments,
) -> Result<(String, String), String> {
    let signed = SignedKeyRotation::from_json_value(&action["rotation"])
        .map_err(|error| error.to_string())?;
    signed.verify().map_err(|error| error.to_string())?;
    let rotation = &signed.rotation;
    if rotation.signer != RotatingSigner::Tablet {
        return Err("the rotation is not of a tablet key".to_owned());
    }
    let tablet_id = action["tablet_id"]
        .as_str()
        .ok_or("the entry names no tablet")?;
    match enrollments.get(&rotation.previous.to_hex()) {
        Some((_, enrolled_as)) if enrolled_as == tablet_id => {}
        Some((_, enrolled_as)) => {
            return Err(format!(
                "the retired key belongs to tablet {enrolled_as}, not {tablet_id}"
            ));
        }
        None => {
            return Err(
                "the retired key was never enrolled before this entry, so it cannot vouch for another"
                    .to_owned(),
            );
        }
    }
    Ok((rotation.next.to_hex(), tablet_id.to_owned()))
}

/// Every tablet key must have come in through enrollment: a `tablet_enrolled` governance entry
/// naming it, ledgered before the first event it signed. A key that a database insider added to
/// the tablets table by hand has none, and its events, however well signed, are not evidence.
fn check_enrollments(
    report: &mut Report,
    tablet_keys: &[TabletKey],
    chains: &Chains,
    enrollments: &Enrollments,
) {
    for tablet in tablet_keys {
        let Ok(key) = SignerKey::from_hex(&tablet.public_key) else {
            // Already reported as a bad key.
            continue;
        };
        let first_event_leaf = chains
            .get(&key)
            .and_then(|by_seq| by_seq.values().flatten().map(|(leaf, _, _)| *leaf).min());
        let name = &tablet.tablet_id;
        match (enrollments.get(&key.to_hex()), first_event_leaf) {
            (None, Some(first_leaf)) => report.fail(format!(
                "tablet {name}: its key signed events from leaf {first_leaf} on, but the ledger has no tablet_enrolled entry for it: it was not enrolled with a code, and its events are not evidence"
            )),
            (None, None) => report.fail(format!(
                "tablet {name}: listed with key {} but the ledger has no tablet_enrolled entry for it: it was not enrolled with a code",
                key.to_hex()
            )),
            (Some((enrolled_leaf, _)), Some(first_leaf)) if first_leaf < *enrolled_leaf => {
                report.fail(format!(
                    "tablet {name}: its key signed events from leaf {first_leaf} on, before its enrollment at leaf {enrolled_leaf}"
                ))
            }
            (Some((_, enrolled_as)), _) if enrolled_as != name => report.fail(format!(
                "tablet {name}: its key was enrolled as tablet {enrolled_as}"
            )),
            (Some((enrolled_leaf, _)), _) => {
                report.ok(format!("tablet {name}: enrolled at leaf {enrolled_leaf}"))
            }
        }
    }
}

fn check_event(
    report: &mut Report,
    label: &str,
    event: &SignedEvent,
    keys: &KeySet,
    options: VerifyOptions,
    tablet_of: &BTreeMap<SignerKey, String>,
    server_seq: u64,
) {
    let tablet = tablet_of
        .get(event.signer())
        .map_or("the server", String::as_str);
    match keys.verify(event, options) {
        Ok(()) => report.ok(format!(
            "{label}: included; event {} {} on {} signed by {tablet}, seq {}, server_seq {server_seq}",
            &event.id().to_hex()[..12],
            event.body().type_name(),
            event.body().device().as_str(),
            event.seq()
        )),
        Err(error) => report.fail(format!("{label}: event {}: {error}", event.id().to_hex())),
    }
}

/// Every event with seq > 1 must follow its signer's event of seq - 1 in the bundle.
fn check_chains(
    report: &mut Report,
    chains: &Chains,
    tablet_of: &BTreeMap<SignerKey, String>,
    already_failed: &std::collections::BTreeSet<(SignerKey, u64)>,
) {
    for (signer, by_seq) in chains {
        let tablet = tablet_of.get(signer).map_or("the server", String::as_str);
        for (seq, events) in by_seq {
            if events.len() > 1 {
                let leaves: Vec<u64> = events.iter().map(|(leaf, _, _)| *leaf).collect();
                report.fail(format!(
                    "chain of {tablet}: seq {seq} signed twice (fork) at leaves {leaves:?}"
                ));
            }
            for (leaf, _, prev) in events {
                let Some(prev) = prev else { continue };
                if already_failed.contains(&(*signer, seq - 1)) {
                    continue;
                }
                let predecessors = by_seq.get(&(seq - 1));
                match predecessors {
                    Some(predecessors) if predecessors.iter().any(|(_, id, _)| id == prev) => {}
                    Some(_) => report.fail(format!("leaf {leaf}: chain of {tablet} broken: seq {seq} does not follow the stored seq {}", seq - 1)),
                    None => report.fail(format!("leaf {leaf}: chain of {tablet}: seq {} is missing before seq {seq}", seq - 1)),
                }
            }
        }
    }
}
