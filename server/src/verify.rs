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
//!
//! A scoped bundle (docs/PROTOCOL.md §4.2a) holds a period, every leaf between the first and the
//! last recorded in it with the two neighbours that show where it ends, or a selection of one
//! device's events, which the report calls a selection: it cannot show what was left out.

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
    /// Set when the bundle holds part of the ledger (docs/PROTOCOL.md §3.8).
    #[serde(default)]
    scope: Option<BundleScope>,
    /// A time range's neighbours: the entries just before its first leaf and after its last.
    #[serde(default)]
    boundary: Vec<BundleEntry>,
    /// The enrollments and key rotations of the listed tablets that lie outside the scope.
    #[serde(default)]
    context: Vec<BundleEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BundleScope {
    from_ms: u64,
    to_ms: u64,
    device_id: Option<String>,
    first_leaf: u64,
    last_leaf: u64,
}

/// The end of a time range left open (`to_ms` not given): the largest timestamp.
pub const OPEN_RANGE_END_MS: u64 = (1 << 53) - 1;

/// When the server recorded a ledger entry: an event's `received_at_ms`, a governance action's
/// `at_ms`. Both are inside the hashed entry, so a bundle cannot move an entry in time.
pub fn recorded_at_ms(entry: &serde_json::Value) -> Option<u64> {
    entry["received_at_ms"]
        .as_u64()
        .or_else(|| entry["at_ms"].as_u64())
}

/// How much of the ledger a bundle holds, for the checks that depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coverage {
    /// Every entry of the signed tree.
    Whole,
    /// Every entry from one leaf to another: chains may start mid-way.
    Range,
    /// Some entries of a range (one device's): chains have holes.
    Selection,
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
    /// What part of the ledger a scoped bundle holds, for the summary line; `None` for a whole
    /// ledger.
    pub scope: Option<String>,
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

    let coverage = match &bundle.scope {
        None => Coverage::Whole,
        Some(scope) if scope.device_id.is_none() => Coverage::Range,
        Some(_) => Coverage::Selection,
    };
    if let Some(scope) = &bundle.scope {
        if scope.first_leaf > scope.last_leaf || scope.last_leaf >= head.head.tree_size {
            report.fail(format!(
                "scope: leaves {} to {} are not within the signed tree of {} entries",
                scope.first_leaf, scope.last_leaf, head.head.tree_size
            ));
            return report;
        }
        report.ok(describe_scope(scope));
        report.scope = Some(match &scope.device_id {
            None => format!(
                "complete from leaf {} to leaf {}, the entries recorded from {} ms to {} ms",
                scope.first_leaf, scope.last_leaf, scope.from_ms, scope.to_ms
            ),
            Some(device) => format!(
                "a selection of the events about device {device}: it cannot show that none was left out"
            ),
        });
    }

    let mut chains = Chains::new();
    let mut already_failed = std::collections::BTreeSet::new();
    let mut enrollments = Enrollments::new();
    // The enrollments a scoped bundle carries from outside its scope, first.
    for (position, bundle_entry) in bundle.context.iter().enumerate() {
        let label = format!("context {position} (leaf {})", bundle_entry.leaf_index);
        match included_entry(bundle_entry, head) {
            Ok(LedgerEntry::Governance { action, .. }) => {
                if let Err(reason) =
                    record_enrollment(&action, bundle_entry.leaf_index, &mut enrollments)
                {
                    report.fail(format!("{label}: {reason}"));
                } else {
                    report.ok(format!(
                        "{label}: included; governance {}",
                        action["type"].as_str().unwrap_or("?")
                    ));
                }
            }
            Ok(LedgerEntry::Event { .. }) => {
                report.fail(format!("{label}: an event, where only enrollments belong"))
            }
            Err(reason) => report.fail(format!("{label}: {reason}")),
        }
    }
    let mut previous_leaf = None;
    let mut n_outside_range = 0;
    for (position, bundle_entry) in bundle.entries.iter().enumerate() {
        report.n_entries += 1;
        let leaf_index = bundle_entry.leaf_index;
        let label = format!("entry {position} (leaf {leaf_index})");
        let scope = bundle.scope.as_ref();
        let expected = match coverage {
            Coverage::Whole => Some(position as u64),
            Coverage::Range => scope.map(|scope| scope.first_leaf + position as u64),
            Coverage::Selection => None,
        };
        if let Some(expected) = expected
            && leaf_index != expected
        {
            report.fail(format!(
                "{label}: leaf index {leaf_index} where leaf {expected} belongs: an entry before it is missing, or entries were inserted or reordered"
            ));
        }
        if let (Coverage::Selection, Some(scope)) = (coverage, scope)
            && (previous_leaf.is_some_and(|previous| leaf_index <= previous)
                || leaf_index < scope.first_leaf
                || leaf_index > scope.last_leaf)
        {
            report.fail(format!(
                "{label}: out of order, or outside the scope's leaves {} to {}",
                scope.first_leaf, scope.last_leaf
            ));
        }
        previous_leaf = Some(leaf_index);
        let entry = match included_entry(bundle_entry, head) {
            Ok(entry) => entry,
            Err(reason) => {
                report.fail(format!("{label}: {reason}"));
                // Its successor's chain link is not reported again: the cause is named here.
                if let Ok(LedgerEntry::Event { event, .. }) = parse_entry(bundle_entry) {
                    already_failed.insert((*event.signer(), event.seq()));
                }
                continue;
            }
        };
        if let Some(scope) = scope
            && recorded_at_ms(&bundle_entry.entry)
                .is_none_or(|at| at < scope.from_ms || at >= scope.to_ms)
        {
            n_outside_range += 1;
        }
        match &entry {
            LedgerEntry::Event {
                event, server_seq, ..
            } => {
                if let Some(device) = scope.and_then(|scope| scope.device_id.as_deref())
                    && event.body().device().as_str() != device
                {
                    report.fail(format!(
                        "{label}: an event about {}, in a selection of device {device}",
                        event.body().device().as_str()
                    ));
                }
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
                if coverage == Coverage::Selection {
                    report.fail(format!(
                        "{label}: a governance entry, in a selection of one device's events"
                    ));
                }
                if let Err(reason) = record_enrollment(action, leaf_index, &mut enrollments) {
                    report.fail(format!("{label}: {reason}"));
                    continue;
                }
                report.ok(format!(
                    "{label}: included; governance {} by {by}",
                    action["type"].as_str().unwrap_or("?")
                ));
            }
        }
    }
    match (coverage, bundle.scope.as_ref()) {
        (Coverage::Whole, _) if bundle.entries.len() as u64 != head.head.tree_size => {
            report.fail(format!(
                "bundle: {} entries, the signed head covers {}: entries are missing or added",
                bundle.entries.len(),
                head.head.tree_size
            ));
        }
        (Coverage::Range, Some(scope)) => {
            let expected = scope.last_leaf - scope.first_leaf + 1;
            if bundle.entries.len() as u64 != expected {
                report.fail(format!(
                    "scope: {} entries, leaves {} to {} are {expected}: entries are missing or added",
                    bundle.entries.len(),
                    scope.first_leaf,
                    scope.last_leaf
                ));
            }
            check_boundary(&mut report, scope, &bundle.boundary, head);
            if n_outside_range > 0 {
                report.ok(format!(
                    "scope: {n_outside_range} entries between leaves {} and {} were recorded outside the range (requests that overlapped its ends); they are part of the ledger between them",
                    scope.first_leaf, scope.last_leaf
                ));
            }
        }
        (Coverage::Selection, Some(scope)) => report.ok(format!(
            "scope: a selection of {} events about device {}: each is in the signed ledger, but a selection cannot show that none was left out; a time-range bundle of the same period shows every entry",
            bundle.entries.len(),
            scope.device_id.as_deref().unwrap_or("?")
        )),
        _ => {}
    }
    check_chains(&mut report, &chains, &tablet_of, &already_failed, coverage);
    check_enrollments(&mut report, &bundle.tablet_keys, &chains, &enrollments);
    report
}

fn describe_scope(scope: &BundleScope) -> String {
    let range = if scope.from_ms == 0 && scope.to_ms >= OPEN_RANGE_END_MS {
        "the whole ledger".to_owned()
    } else {
        format!(
            "entries recorded from {} ms to {} ms (exclusive)",
            scope.from_ms, scope.to_ms
        )
    };
    match &scope.device_id {
        None => format!(
            "scope: {range}, leaves {} to {}",
            scope.first_leaf, scope.last_leaf
        ),
        Some(device) => format!(
            "scope: the events about device {device} among {range}, leaves {} to {}",
            scope.first_leaf, scope.last_leaf
        ),
    }
}

fn parse_entry(bundle_entry: &BundleEntry) -> Result<LedgerEntry, String> {
    let bytes = serde_json::to_vec(&bundle_entry.entry).expect("a JSON value always serialises");
    LedgerEntry::from_json_bytes(&bytes).map_err(|error| format!("not a ledger entry: {error}"))
}

/// The entry, if it hashes to a leaf the signed head includes at its position.
fn included_entry(
    bundle_entry: &BundleEntry,
    head: &SignedTreeHead,
) -> Result<LedgerEntry, String> {
    let entry = parse_entry(bundle_entry)?;
    let proof: Result<Vec<LedgerHash>, _> = bundle_entry
        .inclusion_proof
        .iter()
        .map(|hash| LedgerHash::from_hex(hash))
        .collect();
    let included = match (entry.leaf_hash(), proof) {
        (Ok(leaf), Ok(proof)) => verify_inclusion(
            &leaf,
            bundle_entry.leaf_index,
            head.head.tree_size,
            &proof,
            &head.head.root_hash,
        )
        .map_err(|error| error.to_string()),
        (Err(error), _) => Err(error.to_string()),
        (_, Err(error)) => Err(format!("proof: {error}")),
    };
    included.map(|()| entry).map_err(|reason| {
        format!("not in the signed tree at this position (altered, inserted or moved): {reason}")
    })
}

/// Notes the tablet key a `tablet_enrolled` or `tablet_key_rotated` action brings in.
fn record_enrollment(
    action: &serde_json::Value,
    leaf_index: u64,
    enrollments: &mut Enrollments,
) -> Result<(), String> {
    if action["type"] == "tablet_enrolled"
        && let (Some(public_key), Some(tablet_id)) =
            (action["public_key"].as_str(), action["tablet_id"].as_str())
    {
        enrollments
            .entry(public_key.to_ascii_lowercase())
            .or_insert((leaf_index, tablet_id.to_owned()));
    }
    if action["type"] == "tablet_key_rotated" {
        let (next_key, tablet_id) = rotated_key(action, enrollments)
            .map_err(|reason| format!("tablet_key_rotated: {reason}"))?;
        enrollments
            .entry(next_key)
            .or_insert((leaf_index, tablet_id));
    }
    Ok(())
}

/// A time range's ends: the entries just before its first leaf and just after its last must be
/// in the bundle, in the signed tree, and recorded outside the range; otherwise the range was
/// cut short and entries recorded within it are left out.
fn check_boundary(
    report: &mut Report,
    scope: &BundleScope,
    boundary: &[BundleEntry],
    head: &SignedTreeHead,
) {
    let before = scope.first_leaf.checked_sub(1);
    let after = Some(scope.last_leaf + 1).filter(|leaf| *leaf < head.head.tree_size);
    for (side, leaf) in [("before", before), ("after", after)] {
        let Some(leaf) = leaf else {
            report.ok(format!(
                "scope: nothing {side} it in the signed tree: the range reaches that end of the ledger"
            ));
            continue;
        };
        let Some(bundle_entry) = boundary.iter().find(|entry| entry.leaf_index == leaf) else {
            report.fail(format!(
                "scope: the entry {side} the range (leaf {leaf}) is missing, so its end cannot be shown"
            ));
            continue;
        };
        if let Err(reason) = included_entry(bundle_entry, head) {
            report.fail(format!(
                "scope: the entry {side} the range (leaf {leaf}): {reason}"
            ));
            continue;
        }
        match recorded_at_ms(&bundle_entry.entry) {
            Some(at) if at < scope.from_ms || at >= scope.to_ms => report.ok(format!(
                "scope: the entry {side} the range (leaf {leaf}) was recorded at {at} ms, outside it"
            )),
            at => report.fail(format!(
                "scope: the entry {side} the range (leaf {leaf}) was recorded at {at:?} ms, within it: the range was cut short and leaves out what was recorded then"
            )),
        }
    }
    if boundary.len() > 2 {
        report.fail(format!(
            "scope: {} boundary entries, at most 2 belong",
            boundary.len()
        ));
    }
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

/// Every event with seq > 1 must follow its signer's event of seq - 1 in the bundle. A range's
/// chains may start mid-way (their first event's predecessor was recorded before the range); a
/// selection's have holes, so only a predecessor that is present is checked.
fn check_chains(
    report: &mut Report,
    chains: &Chains,
    tablet_of: &BTreeMap<SignerKey, String>,
    already_failed: &std::collections::BTreeSet<(SignerKey, u64)>,
    coverage: Coverage,
) {
    for (signer, by_seq) in chains {
        let tablet = tablet_of.get(signer).map_or("the server", String::as_str);
        let first_seq = by_seq.keys().next().copied();
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
                    None if coverage == Coverage::Selection
                        || (coverage == Coverage::Range && Some(*seq) == first_seq) => {}
                    None => report.fail(format!("leaf {leaf}: chain of {tablet}: seq {} is missing before seq {seq}", seq - 1)),
                }
            }
        }
    }
}
