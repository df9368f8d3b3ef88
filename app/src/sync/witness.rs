//! The witness step of a sync round (docs/PROTOCOL.md §3.7): report earlier alarms, check the
//! server's signed tree head against the kept one, and prove a few of this tablet's own events
//! included. The decisions are `tablet::witness`'s; this module only fetches and stores.

use baton_core::ids::{EventId, SignerKey};
use baton_core::ledger::{LedgerHash, SignedTreeHead};

use super::{SyncError, SyncTransport};
use crate::browser::store::EventStore;
use crate::tablet::witness::{
    AlarmKind, HeadCheck, INCLUSION_CHECKS_PER_ROUND, ProofOutcome, WitnessAlarm, WitnessState,
    check_head, check_inclusion, conclude, learn_rotations, own_leaf_hash, trusted_server_keys,
};

/// Whom the tablet trusts for its site's ledger: the key it enrolled with, and the keys that
/// key's verified rotations lead to (kept in the witness state).
#[derive(Debug, Clone)]
pub struct WitnessContext {
    pub site_id: String,
    pub server_key: SignerKey,
    pub now_ms: u64,
}

/// What the witness step found this round, for the screen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WitnessView {
    pub state: WitnessState,
    /// The server offered a smaller log than one this tablet already saw (a restore from
    /// backup): the kept head stays and the tablet's pushes refill the server.
    pub server_behind: bool,
}

/// Adds an alarm unless one of the same kind about the same kept head is already there: a server
/// that keeps offering heads from the other branch adds no new evidence.
fn raise(state: &mut WitnessState, alarm: WitnessAlarm) {
    let known = state.alarms.iter().any(|known| {
        known.kind == alarm.kind && known.kept == alarm.kept && known.leaf_index == alarm.leaf_index
    });
    if !known {
        state.alarms.push(alarm);
    }
}

fn alarm(
    kind: AlarmKind,
    kept: &SignedTreeHead,
    offered: &SignedTreeHead,
    proof: Vec<LedgerHash>,
    detail: String,
    now_ms: u64,
) -> WitnessAlarm {
    WitnessAlarm {
        kind,
        kept: kept.clone(),
        offered: offered.clone(),
        proof,
        leaf_index: None,
        detail,
        raised_at_ms: now_ms,
        reported: false,
    }
}

pub async fn witness<S: EventStore, T: SyncTransport>(
    store: &S,
    transport: &T,
    context: &WitnessContext,
) -> Result<WitnessView, SyncError> {
    let mut view = WitnessView {
        state: store.witness_state().await?,
        server_behind: false,
    };
    let state = &mut view.state;

    let offered = transport.ledger_head().await?;
    let mut server_keys = trusted_server_keys(&context.server_key, state);
    if !server_keys.contains(&offered.head.key_id) {
        // The server may have rotated its key: learn the rotations it publishes, if they
        // verify from the enrolled key and bring in the key that signed this head.
        let published = transport.server_key_rotations().await?;
        if let Some(learned) = learn_rotations(
            &context.server_key,
            &state.server_key_rotations,
            &published,
            &offered.head.key_id,
        ) {
            state.server_key_rotations = published;
            store.save_witness_state(state).await?;
            server_keys = learned;
        }
    }
    let checked = check_head(
        state.head.as_ref(),
        &offered,
        &context.site_id,
        &server_keys,
    )
    .map_err(|refused| SyncError::Witness(refused.to_string()))?;
    match (checked, state.head.clone()) {
        (HeadCheck::Same, _) => {}
        (HeadCheck::Adopt, _) | (_, None) => state.head = Some(offered.clone()),
        (HeadCheck::Fork, Some(kept)) => raise(
            state,
            alarm(
                AlarmKind::Fork,
                &kept,
                &offered,
                Vec::new(),
                format!(
                    "two signed heads of size {} with different roots",
                    kept.head.tree_size
                ),
                context.now_ms,
            ),
        ),
        (HeadCheck::NeedsProof { old_size, new_size }, Some(kept)) => {
            let proof = transport.consistency(old_size, new_size).await?;
            match conclude(&kept, &offered, &proof) {
                ProofOutcome::Extends => state.head = Some(offered.clone()),
                ProofOutcome::ServerBehind => view.server_behind = true,
                ProofOutcome::Inconsistent(detail) => raise(
                    state,
                    alarm(
                        AlarmKind::Inconsistent,
                        &kept,
                        &offered,
                        proof,
                        format!("consistency proof from {old_size} to {new_size} failed: {detail}"),
                        context.now_ms,
                    ),
                ),
            }
        }
    }
    // Keep the evidence before anything else can fail.
    store.save_witness_state(state).await?;

    if let Some(head) = state.head.clone() {
        prove_own_events(store, transport, context, state, &head).await?;
        store.save_witness_state(state).await?;
    }

    for index in 0..state.alarms.len() {
        if !state.alarms[index].reported {
            transport.report_witness(&state.alarms[index]).await?;
            state.alarms[index].reported = true;
            store.save_witness_state(state).await?;
        }
    }
    Ok(view)
}

/// Proves up to `INCLUSION_CHECKS_PER_ROUND` own events, in leaf order, in the kept head.
async fn prove_own_events<S: EventStore, T: SyncTransport>(
    store: &S,
    transport: &T,
    context: &WitnessContext,
    state: &mut WitnessState,
    head: &SignedTreeHead,
) -> Result<(), SyncError> {
    let mut due: Vec<(u64, u64, u64, String)> = store
        .receipts()
        .await?
        .into_iter()
        .filter_map(|receipt| {
            // A receipt without a leaf (a duplicate push, a rejection) proves nothing.
            let leaf = u64::try_from(receipt.leaf_index?).ok()?;
            let server_seq = u64::try_from(receipt.server_seq?).ok()?;
            let event_id = receipt.event_id?;
            (leaf >= state.proven_below_leaf && leaf < head.head.tree_size).then_some((
                leaf,
                server_seq,
                receipt.received_at_ms,
                event_id,
            ))
        })
        .collect();
    if due.is_empty() {
        return Ok(());
    }
    due.sort();
    due.truncate(INCLUSION_CHECKS_PER_ROUND);
    let own = store.own_events().await?;
    for (leaf, server_seq, received_at_ms, event_id) in due {
        let Some(event) = EventId::from_hex(&event_id)
            .ok()
            .and_then(|id| own.iter().find(|event| event.id() == id))
        else {
            state.proven_below_leaf = leaf + 1;
            continue;
        };
        let Some(leaf_hash) = own_leaf_hash(event, server_seq, received_at_ms) else {
            state.proven_below_leaf = leaf + 1;
            continue;
        };
        let proof = transport.inclusion(leaf, head.head.tree_size).await?;
        if let Err(detail) = check_inclusion(&leaf_hash, leaf, head, &proof) {
            raise(
                state,
                WitnessAlarm {
                    leaf_index: Some(leaf),
                    ..alarm(
                        AlarmKind::MissingEntry,
                        head,
                        head,
                        proof,
                        format!(
                            "own event {event_id} is not at leaf {leaf} as its receipt says: {detail}"
                        ),
                        context.now_ms,
                    )
                },
            );
        }
        state.proven_below_leaf = leaf + 1;
    }
    Ok(())
}
