//! The machine's own ed25519 verification rates, measured in the same run as the ingest so that
//! the report compares like with like: single `verify_strict` in a tight loop, batch
//! verification of 500 (the server's push limit), and `openssl speed ed25519` when installed.

use std::time::{Duration, Instant};

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde_json::{Value, json};

const RUN: Duration = Duration::from_secs(2);
const BATCH: usize = 500;

/// A realistic message: an event's signed bytes are a few hundred bytes of canonical JSON.
fn message(index: usize) -> Vec<u8> {
    format!(
        "baton.event.v1\n{{\"body\":{{\"custodian\":{{\"method\":\"badge_pin\",\"staff\":\"S-{index:04}\"}},\"device\":\"D-0001\",\"type\":\"check_out\",\"ward\":\"W-4E\"}},\"hlc\":{{\"c\":0,\"ms\":1764000000000}},\"prev\":null,\"seq\":{index},\"signer\":\"{:064}\",\"v\":1,\"wall_ms\":1764000000000}}",
        index
    )
    .into_bytes()
}

fn single_verify_rate() -> f64 {
    let key = SigningKey::from_bytes(&[7; 32]);
    let verifying: VerifyingKey = key.verifying_key();
    let message = message(1);
    let signature: Signature = key.sign(&message);
    let started = Instant::now();
    let mut n = 0_u64;
    while started.elapsed() < RUN {
        for _ in 0..100 {
            verifying
                .verify_strict(&message, &signature)
                .expect("a fresh signature verifies");
        }
        n += 100;
    }
    n as f64 / started.elapsed().as_secs_f64()
}

fn batch_verify_rate() -> f64 {
    let keys: Vec<SigningKey> = (0..BATCH)
        .map(|index| SigningKey::from_bytes(&[(index % 250) as u8 + 1; 32]))
        .collect();
    let messages: Vec<Vec<u8>> = (0..BATCH).map(message).collect();
    let signatures: Vec<Signature> = keys
        .iter()
        .zip(&messages)
        .map(|(key, message)| key.sign(message))
        .collect();
    let verifying: Vec<VerifyingKey> = keys.iter().map(SigningKey::verifying_key).collect();
    let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
    let started = Instant::now();
    let mut n = 0_u64;
    while started.elapsed() < RUN {
        ed25519_dalek::verify_batch(&refs, &signatures, &verifying)
            .expect("fresh signatures verify");
        n += BATCH as u64;
    }
    n as f64 / started.elapsed().as_secs_f64()
}

/// `openssl speed -seconds 2 ed25519`'s verifications per second, if openssl is installed.
fn openssl_verify_rate() -> Option<f64> {
    let output = std::process::Command::new("openssl")
        .args(["speed", "-seconds", "2", "ed25519"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    // The result line: " 253 bits EdDSA (Ed25519)   0.0000s   0.0001s  43077.5  14012.3"
    let line = text.lines().find(|line| line.contains("(Ed25519)"))?;
    line.split_whitespace().last()?.parse().ok()
}

pub fn measure() -> Value {
    eprintln!("measuring this machine's ed25519 verification rates…");
    let single = single_verify_rate();
    let batch = batch_verify_rate();
    let openssl = openssl_verify_rate();
    json!({
        "scenario": "verify",
        "single_verify_per_second": single,
        "batch_verify_per_second": batch,
        "openssl_verify_per_second": openssl,
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
    })
}
