//! The delivery worker: sends each pending revocation to each external connector (for RFC 7009,
//! each token registered for the custody: `token_revocation`), with a
//! per-attempt timeout, exponential backoff with jitter, and a dead letter after
//! `DeliveryPolicy::max_attempts`. Outcomes (confirmed or failed) are appended to the site's ledger, and a
//! failed delivery leaves the device flagged "access still open" on the board.
//!
//! A delivery goes to the connector of that name in the connectors file, or else to the site's
//! connector of that name made through the admin API, read from storage at each attempt.
//!
//! Deliveries are leased in storage, so several server processes can run workers side by side
//! and a worker killed mid-delivery leaves a lease that simply expires: after a restart every
//! pending delivery is sent, and the stable idempotency key lets the receiver drop a repeat.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;

use crate::connectors::{self, ConnectorConfig};
use crate::storage::{DeliveryOutcome, DueDelivery, Storage};
use crate::token_revocation::{self, Failure};

pub const MAX_BACKOFF_MS: u64 = 5 * 60 * 1000;
const BATCH: i64 = 32;

/// How hard the worker tries.
#[derive(Debug, Clone, Copy)]
pub struct DeliveryPolicy {
    /// Attempts before a delivery is given up (dead-lettered).
    pub max_attempts: i64,
    /// First retry delay; doubled per attempt, capped, with up to 50% random jitter.
    pub base_backoff_ms: u64,
    /// How long a lease lasts: longer than an attempt's timeout.
    pub lease_ms: u64,
    pub poll_interval: Duration,
}

impl Default for DeliveryPolicy {
    /// Six attempts over about 8 seconds (0.5 + 1 + 2 + 4 s and jitter), then the dead letter.
    fn default() -> DeliveryPolicy {
        DeliveryPolicy {
            max_attempts: 6,
            base_backoff_ms: 500,
            lease_ms: 30_000,
            poll_interval: Duration::from_millis(100),
        }
    }
}

impl DeliveryPolicy {
    /// The delay before retry number `attempt` (1-based), without jitter.
    pub fn backoff_ms(&self, attempt: i64) -> u64 {
        let exponent = attempt.clamp(1, 20) as u32 - 1;
        self.base_backoff_ms
            .saturating_mul(1 << exponent)
            .min(MAX_BACKOFF_MS)
    }
}

pub async fn run(
    storage: Arc<dyn Storage>,
    connectors: Arc<Vec<ConnectorConfig>>,
    signer: Arc<connectors::Signer>,
    policy: DeliveryPolicy,
) {
    let by_name: HashMap<String, ConnectorConfig> = connectors
        .iter()
        .map(|connector| (connector.name().to_owned(), connector.clone()))
        .collect();
    let client = reqwest::Client::builder()
        .build()
        .expect("an HTTP client with defaults builds");
    loop {
        let now = crate::sync::now_ms();
        let due = match storage
            .claim_due_deliveries(now as i64, (now + policy.lease_ms) as i64, BATCH)
            .await
        {
            Ok(due) => due,
            Err(error) => {
                tracing::warn!(%error, "delivery worker cannot claim deliveries");
                tokio::time::sleep(policy.poll_interval * 10).await;
                continue;
            }
        };
        if due.is_empty() {
            tokio::time::sleep(policy.poll_interval).await;
            continue;
        }
        let attempts = due.into_iter().map(|delivery| {
            let storage = storage.clone();
            let client = client.clone();
            let file_connector = by_name.get(&delivery.connector).cloned();
            let signer = signer.clone();
            async move {
                let connector = match file_connector {
                    Some(connector) => Ok(Some(connector)),
                    None => site_connector(storage.as_ref(), &signer, &delivery).await,
                };
                let connector = match connector {
                    Ok(Some(connector)) => Ok(connector),
                    // Disabled after this delivery was leased: the disabling cancelled it, and
                    // its outcome is recorded there.
                    Ok(None) => return,
                    Err(failure) => Err(failure),
                };
                attempt(
                    storage.as_ref(),
                    &client,
                    &signer,
                    connector,
                    delivery,
                    policy,
                )
                .await
            }
        });
        futures_util::future::join_all(attempts).await;
    }
}

/// A connector of the delivery's site made through the admin API, read at each attempt (not
/// cached), so that a connector created, replaced or disabled on any server process applies to
/// the next attempt of every worker. `Ok(None)`: it is disabled.
async fn site_connector(
    storage: &dyn Storage,
    signer: &connectors::Signer,
    delivery: &DueDelivery,
) -> Result<Option<ConnectorConfig>, Failure> {
    let record = storage
        .find_site_connector(&delivery.site_id, &delivery.connector)
        .await
        .map_err(|error| Failure::retry(format!("cannot read the connector: {error}")))?
        .ok_or_else(|| {
            Failure::retry(format!(
                "connector {:?} is no longer configured",
                delivery.connector
            ))
        })?;
    if !record.enabled {
        return Ok(None);
    }
    let secret = match &record.sealed_secret {
        Some(sealed) => Some(
            signer
                .token_vault
                .open_connector_secret(sealed, &record.site_id, &record.config_json)
                .map_err(|error| Failure::retry(format!("connector {:?}: {error}", record.name)))?,
        ),
        None => None,
    };
    ConnectorConfig::from_public_json(&record.config_json, secret)
        .map(Some)
        .map_err(|error| Failure::retry(format!("connector {:?}: {error}", record.name)))
}

async fn attempt(
    storage: &dyn Storage,
    client: &reqwest::Client,
    signer: &connectors::Signer,
    connector: Result<ConnectorConfig, Failure>,
    delivery: DueDelivery,
    policy: DeliveryPolicy,
) {
    let now = crate::sync::now_ms();
    let result: Result<Option<String>, Failure> = match &connector {
        Ok(connector) if connector.revokes_registered_tokens() => {
            token_revocation::deliver(storage, client, &signer.token_vault, connector, &delivery)
                .await
                .map(Some)
        }
        Ok(connector) => connectors::deliver(client, signer, connector, &delivery, now)
            .await
            .map(|()| None),
        Err(failure) => Err(failure.clone()),
    };
    let attempts = delivery.attempts + 1;
    let outcome = match result {
        Ok(detail) => DeliveryOutcome::Confirmed { detail },
        Err(failure) if failure.permanent || attempts >= policy.max_attempts => {
            DeliveryOutcome::Failed {
                error: failure.message,
            }
        }
        Err(failure) => {
            // A server's Retry-After is honoured: never sooner than it asked.
            let delay = policy
                .backoff_ms(attempts)
                .max(failure.retry_after_ms.unwrap_or(0));
            let jitter = rand::thread_rng().gen_range(0..=delay / 2);
            DeliveryOutcome::Retry {
                next_attempt_at_ms: (now + delay + jitter) as i64,
                error: failure.message,
            }
        }
    };
    match &outcome {
        DeliveryOutcome::Confirmed { detail } => tracing::info!(
            revocation_id = delivery.revocation_id,
            connector = delivery.connector,
            detail = detail.as_deref().unwrap_or(""),
            "revocation confirmed"
        ),
        DeliveryOutcome::Retry { error, .. } => {
            tracing::warn!(revocation_id = delivery.revocation_id, connector = delivery.connector, attempts, %error, "revocation delivery failed; will retry")
        }
        DeliveryOutcome::Failed { error } => {
            tracing::error!(revocation_id = delivery.revocation_id, connector = delivery.connector, attempts, %error, "revocation FAILED: access may still be open")
        }
    }
    // The outcome is ledgered before the delivery is marked done: a crash in between repeats
    // the attempt and may ledger it twice, but never leaves a final outcome unledgered.
    let action_type = match outcome {
        DeliveryOutcome::Confirmed { .. } => Some("revocation_confirmed"),
        DeliveryOutcome::Failed { .. } => Some("revocation_failed"),
        DeliveryOutcome::Retry { .. } => None,
    };
    if let Some(action_type) = action_type {
        let mut action = serde_json::json!({
            "type": action_type,
            "revocation_id": delivery.revocation_id,
            "connector": delivery.connector,
            "device_id": delivery.device_id,
            "staff_id": delivery.staff_id,
            "attempts": attempts,
        });
        // What an RFC 7009 delivery found (how many tokens, or none) is part of the evidence.
        if let DeliveryOutcome::Confirmed {
            detail: Some(detail),
        } = &outcome
        {
            action["detail"] = serde_json::Value::String(detail.clone());
        }
        if let Err(error) = crate::ledger::record_governance(
            storage,
            &delivery.site_id,
            action,
            "revocation-worker",
            now,
        )
        .await
        {
            // Not marked done: the lease expires and the delivery is tried again.
            tracing::warn!(%error, "cannot ledger a revocation outcome");
            return;
        }
    }
    match storage
        .finish_delivery(
            delivery.revocation_id,
            &delivery.connector,
            &outcome,
            now as i64,
        )
        .await
    {
        Ok(true) => {}
        Ok(false) => tracing::info!(
            revocation_id = delivery.revocation_id,
            connector = delivery.connector,
            "a token was registered for this custody while its delivery ran; delivering again"
        ),
        // The lease expires and the delivery is tried again: at least once, never lost.
        Err(error) => tracing::warn!(%error, "cannot record a delivery outcome"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_half_a_second_and_is_capped() {
        let policy = DeliveryPolicy::default();
        assert_eq!(policy.backoff_ms(1), 500);
        assert_eq!(policy.backoff_ms(2), 1_000);
        assert_eq!(policy.backoff_ms(5), 8_000);
        assert_eq!(policy.backoff_ms(40), MAX_BACKOFF_MS);
    }
}
