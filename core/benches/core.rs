//! Benchmarks of the hot paths: signing, single and batch verification, canonical encoding and
//! decoding, and the custody fold over a million events.
//!
//! Run with `cargo bench -p baton-core`; add `-- --quick` for a fast, rougher pass.

use std::hint::black_box;
use std::time::Duration;

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

criterion_group!(
    benches,
    signing_and_verification,
    canonical_encoding,
    custody_fold
);
criterion_main!(benches);
