//! Benchmarks of the hot paths: signing, single and batch verification, canonical encoding and
//! decoding, the custody fold over a million events, and the audit ledger at a million entries.
//!
//! Run with `cargo bench -p baton-core`; add `-- --quick` for a fast, rougher pass.

use std::hint::black_box;
use std::time::Duration;

use baton_core::ledger::{
    LedgerEntry, LedgerHash, MemoryHashStore, MerkleFrontier, TreeNode, consistency_proof,
    inclusion_proof, leaf_hash, root_at, verify_consistency, verify_inclusion,
};
use baton_core::{
    AuthMethod, Body, ChainHead, Checklist, CustodyState, DeviceCondition, DeviceId,
    DeviceRegistry, Hlc, KeySet, PersonAuth, SignedEvent, SignerInfo, SignerKey, SiteRules,
    StaffId, UnsignedEvent, VerifyOptions, WardId,
};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use ed25519_dalek::{Signature, SigningKey};

/// 2025-03-10T00:00:00Z.
const T0: u64 = 1_741_564_800_000;
const OPTIONS: VerifyOptions = VerifyOptions {
    now_ms: T0 + 1_000_000_000,
    max_clock_skew_ms: 300_000,
};

fn person(staff_number: u64) -> PersonAuth {
    PersonAuth {
        staff: StaffId::new(format!("N-{staff_number}")).unwrap(),
        method: AuthMethod::BadgePin,
    }
}

/// A typical body: a check-out or a check-in, alternating.
fn body(device: &DeviceId, event_idx: u64) -> Body {
    let ward = WardId::new("4B").unwrap();
    if event_idx.is_multiple_of(2) {
        Body::CheckOut {
            device: device.clone(),
            custodian: person(event_idx % 97),
            ward,
            shift: Some("day".to_owned()),
            expected_return_ms: None,
            purpose: None,
            issued_by: None,
        }
    } else {
        let checklist = Checklist {
            apps_signed_out: true,
            local_data_wiped: true,
            condition: DeviceCondition::Ok,
        };
        Body::CheckIn {
            device: device.clone(),
            returned_by: person(event_idx % 97),
            ward,
            checklist,
            note: None,
        }
    }
}

/// A signed chain of `n_events` from one tablet.
fn signed_chain(signing_key: &SigningKey, n_events: u64) -> Vec<SignedEvent> {
    let signer = SignerKey::from_signing_key(signing_key);
    let device = DeviceId::new("TAB-0001").unwrap();
    let mut head: Option<ChainHead> = None;
    let mut clock = Hlc::ZERO;
    (0..n_events)
        .map(|event_idx| {
            let unsigned = UnsignedEvent::next(
                signer,
                head,
                clock,
                T0 + event_idx * 60_000,
                body(&device, event_idx),
            );
            let event = unsigned.unwrap().sign(signing_key).unwrap();
            head = Some(event.chain_head());
            clock = event.hlc();
            event
        })
        .collect()
}

fn signing_and_verification(criterion: &mut Criterion) {
    let signing_key = SigningKey::from_bytes(&[7; 32]);
    let signer = SignerKey::from_signing_key(&signing_key);
    let keys = KeySet::from_signers([(signer, SignerInfo::tablet())]).unwrap();
    let events = signed_chain(&signing_key, 64);
    let event = &events[0];

    let mut group = criterion.benchmark_group("single");
    group.bench_function("sign", |bencher| {
        bencher.iter_batched(
            || event.unsigned().clone(),
            |unsigned| unsigned.sign(&signing_key).unwrap(),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("verify (baton-core KeySet::verify)", |bencher| {
        bencher.iter(|| keys.verify(black_box(event), OPTIONS).unwrap())
    });
    let verifying_key = signing_key.verifying_key();
    let signature = Signature::from_bytes(event.signature_bytes());
    group.bench_function("verify (raw ed25519-dalek verify_strict)", |bencher| {
        bencher.iter(|| {
            verifying_key
                .verify_strict(black_box(event.signed_message()), &signature)
                .unwrap()
        })
    });
    group.finish();

    let mut group = criterion.benchmark_group("batch of 64");
    group.throughput(Throughput::Elements(events.len() as u64));
    group.bench_function("verify_batch", |bencher| {
        bencher.iter(|| {
            let results = keys.verify_batch(black_box(&events), OPTIONS);
            assert!(results.iter().all(Result::is_ok));
        })
    });
    group.bench_function("verify one by one", |bencher| {
        bencher.iter(|| {
            for event in black_box(&events) {
                keys.verify(event, OPTIONS).unwrap();
            }
        })
    });
    group.finish();
}

fn canonical_encoding(criterion: &mut Criterion) {
    let signing_key = SigningKey::from_bytes(&[7; 32]);
    let event = signed_chain(&signing_key, 2).pop().unwrap();
    let wire = event.to_json_bytes();
    let mut group = criterion.benchmark_group("canonical");
    group.bench_function("encode canonical bytes", |bencher| {
        bencher.iter(|| black_box(event.unsigned()).canonical_bytes().unwrap())
    });
    group.bench_function("encode wire JSON", |bencher| {
        bencher.iter(|| black_box(&event).to_json_bytes())
    });
    group.bench_function("decode wire JSON", |bencher| {
        bencher.iter(|| SignedEvent::from_json_bytes(black_box(&wire)).unwrap())
    });
    group.finish();
}

/// `n_devices` devices with `events_per_device` events each, signed by 1,000 tablets in
/// interleaved chains. The events carry a dummy signature: the fold reads admitted, already
/// verified events and never looks at signatures, and signing a million events would make the
/// setup longer than the measurement.
fn unsigned_history(n_devices: u64, events_per_device: u64) -> Vec<SignedEvent> {
    const N_TABLETS: u64 = 1_000;
    let signers: Vec<SignerKey> = (0..N_TABLETS)
        .map(|tablet_idx| {
            let mut seed = [0u8; 32];
            seed[..8].copy_from_slice(&tablet_idx.to_le_bytes());
            SignerKey::from_signing_key(&SigningKey::from_bytes(&seed))
        })
        .collect();
    let mut heads: Vec<Option<ChainHead>> = vec![None; N_TABLETS as usize];
    let devices: Vec<DeviceId> = (0..n_devices)
        .map(|device_idx| DeviceId::new(format!("TAB-{device_idx:05}")).unwrap())
        .collect();
    let mut events = Vec::with_capacity((n_devices * events_per_device) as usize);
    for round in 0..events_per_device {
        for (device_idx, device) in devices.iter().enumerate() {
            let tablet_idx = device_idx % N_TABLETS as usize;
            let wall_ms = T0 + round * 600_000 + device_idx as u64;
            let hlc = Hlc::new(wall_ms, 0);
            let (seq, prev) = match heads[tablet_idx] {
                Some(head) => (head.seq + 1, Some(head.id)),
                None => (1, None),
            };
            let body = body(device, round + device_idx as u64 % 2);
            let unsigned = UnsignedEvent {
                signer: signers[tablet_idx],
                seq,
                prev,
                hlc,
                wall_ms,
                body,
            };
            let event = SignedEvent::from_parts(unsigned, [0; 64]).unwrap();
            heads[tablet_idx] = Some(event.chain_head());
            events.push(event);
        }
    }
    events
}

fn custody_fold(criterion: &mut Criterion) {
    let events = unsigned_history(10_000, 100);
    let mut group = criterion.benchmark_group("fold");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(events.len() as u64));
    group.bench_function("1,000,000 events over 10,000 devices", |bencher| {
        bencher.iter_with_large_drop(|| {
            CustodyState::fold(
                SiteRules::default(),
                KeySet::new(),
                DeviceRegistry::default(),
                black_box(&events),
            )
        })
    });
    group.finish();
}

/// The audit ledger at a million entries: appending leaf hashes, as the server does for every
/// stored event, and producing and checking proofs from the stored nodes. The store is built
/// once, outside the measurements of the proofs.
fn audit_ledger(criterion: &mut Criterion) {
    const N_LEAVES: u64 = 1_000_000;
    let leaves: Vec<LedgerHash> = (0..N_LEAVES)
        .map(|leaf_index| leaf_hash(&leaf_index.to_be_bytes()))
        .collect();

    let mut group = criterion.benchmark_group("ledger append");
    group.sample_size(10);
    group.throughput(Throughput::Elements(N_LEAVES));
    group.bench_function("1,000,000 leaf hashes into MemoryHashStore", |bencher| {
        bencher.iter_with_large_drop(|| {
            let mut store = MemoryHashStore::new();
            for leaf in black_box(&leaves) {
                store.append(*leaf);
            }
            store
        })
    });
    group.bench_function(
        "1,000,000 leaf hashes into MerkleFrontier (nodes reported)",
        |bencher| {
            let mut completed: Vec<TreeNode> = Vec::with_capacity(64);
            bencher.iter(|| {
                let mut frontier = MerkleFrontier::new();
                for leaf in black_box(&leaves) {
                    completed.clear();
                    frontier.append(*leaf, &mut completed);
                }
                frontier.root()
            })
        },
    );
    group.finish();

    let signing_key = SigningKey::from_bytes(&[7; 32]);
    let entry = LedgerEntry::Event {
        event: Box::new(signed_chain(&signing_key, 1).pop().unwrap()),
        server_seq: 1,
        received_at_ms: T0,
    };
    let mut group = criterion.benchmark_group("ledger entry");
    group.bench_function("event entry: canonical bytes and leaf hash", |bencher| {
        bencher.iter(|| black_box(&entry).leaf_hash().unwrap())
    });
    group.finish();

    let mut store = MemoryHashStore::new();
    for leaf in &leaves {
        store.append(*leaf);
    }
    let root = store.root();
    let mut group = criterion.benchmark_group("ledger proofs at 1,000,000");
    group.sample_size(20);
    // Leaves and old sizes are spread over the tree by stepping with a prime.
    let mut leaf_index = 0;
    group.bench_function("inclusion_proof", |bencher| {
        bencher.iter(|| {
            leaf_index = (leaf_index + 7_919) % N_LEAVES;
            inclusion_proof(&store, leaf_index, N_LEAVES).unwrap()
        })
    });
    let mut old_size = 0;
    group.bench_function("consistency_proof", |bencher| {
        bencher.iter(|| {
            old_size = 1 + (old_size + 7_919) % (N_LEAVES - 1);
            consistency_proof(&store, old_size, N_LEAVES).unwrap()
        })
    });
    group.bench_function("root_at", |bencher| {
        bencher.iter(|| root_at(&store, black_box(N_LEAVES - 1)).unwrap())
    });
    let proof = inclusion_proof(&store, 123_457, N_LEAVES).unwrap();
    group.bench_function("verify_inclusion", |bencher| {
        bencher.iter(|| {
            verify_inclusion(
                &leaves[123_457],
                123_457,
                N_LEAVES,
                black_box(&proof),
                &root,
            )
            .unwrap()
        })
    });
    let old_root = root_at(&store, 777_777).unwrap();
    let proof = consistency_proof(&store, 777_777, N_LEAVES).unwrap();
    group.bench_function("verify_consistency", |bencher| {
        bencher.iter(|| {
            verify_consistency(777_777, N_LEAVES, &old_root, &root, black_box(&proof)).unwrap()
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    signing_and_verification,
    canonical_encoding,
    custody_fold,
    audit_ledger
);
criterion_main!(benches);
