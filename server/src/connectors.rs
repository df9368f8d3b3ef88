//! Revocation connectors: how Baton tells other systems that a person's access on a device must
//! end. Configured per server in a JSON file (`--connectors-file`); each revocation is delivered
//! to every connector by the delivery worker.
//!
//! The generic webhook (for MDM and EHR adapters) POSTs a documented JSON payload with an
//! HMAC-SHA256 signature over the timestamp and the body, and an idempotency key that stays the
//! same across retries, so a receiver that saw a delivery before can ignore the repeat.
//!
//! OAuth 2.0 Token Revocation (RFC 7009) revokes the tokens apps registered for the custody;
//! its configuration is here, its delivery in `token_revocation`.

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use crate::storage::DueDelivery;

/// Connector names: the built-in `baton_tokens` is reserved.
const MAX_NAME_CHARS: usize = 64;
/// How long one delivery attempt may take before it counts as failed.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// `Debug` is written by hand below so that a connector logged or printed by mistake never
/// shows its HMAC secret or client secret.
#[derive(Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ConnectorConfig {
    Webhook {
        name: String,
        url: String,
        /// The shared HMAC secret, at least 32 characters.
        secret: String,
    },
    /// OpenID Connect Back-Channel Logout 1.0: a signed `logout_token` POSTed to the relying
    /// party's back-channel logout URI.
    BackchannelLogout {
        name: String,
        url: String,
        /// The relying party's client id: the token's `aud`.
        audience: String,
    },
    /// Shared Signals / CAEP: a `session-revoked` Security Event Token pushed per RFC 8935.
    Caep {
        name: String,
        url: String,
        audience: String,
    },
    /// OAuth 2.0 Token Revocation (RFC 7009): each token apps registered for the custody is
    /// revoked at the authorization server's revocation endpoint, with client authentication.
    OauthRevocation {
        name: String,
        /// The revocation endpoint.
        url: String,
        client_id: String,
        client_secret: String,
        auth_method: ClientAuthMethod,
    },
}

/// How Baton authenticates to the authorization server (RFC 6749 §2.3.1; the names are those
/// of OAuth 2.0 Dynamic Client Registration's `token_endpoint_auth_method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuthMethod {
    /// HTTP Basic with the form-urlencoded client id and secret.
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
}

impl std::fmt::Debug for ConnectorConfig {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const REDACTED: &str = "[redacted]";
        match self {
            ConnectorConfig::Webhook { name, url, .. } => formatter
                .debug_struct("Webhook")
                .field("name", name)
                .field("url", url)
                .field("secret", &REDACTED)
                .finish(),
            ConnectorConfig::BackchannelLogout {
                name,
                url,
                audience,
            } => formatter
                .debug_struct("BackchannelLogout")
                .field("name", name)
                .field("url", url)
                .field("audience", audience)
                .finish(),
            ConnectorConfig::Caep {
                name,
                url,
                audience,
            } => formatter
                .debug_struct("Caep")
                .field("name", name)
                .field("url", url)
                .field("audience", audience)
                .finish(),
            ConnectorConfig::OauthRevocation {
                name,
                url,
                client_id,
                auth_method,
                ..
            } => formatter
                .debug_struct("OauthRevocation")
                .field("name", name)
                .field("url", url)
                .field("client_id", client_id)
                .field("client_secret", &REDACTED)
                .field("auth_method", auth_method)
                .finish(),
        }
    }
}

impl ConnectorConfig {
    pub fn name(&self) -> &str {
        match self {
            ConnectorConfig::Webhook { name, .. }
            | ConnectorConfig::BackchannelLogout { name, .. }
            | ConnectorConfig::Caep { name, .. }
            | ConnectorConfig::OauthRevocation { name, .. } => name,
        }
    }

    /// Whether apps may register tokens for this connector to revoke (RFC 7009).
    pub fn revokes_registered_tokens(&self) -> bool {
        matches!(self, ConnectorConfig::OauthRevocation { .. })
    }

    pub(crate) fn url(&self) -> &str {
        match self {
            ConnectorConfig::Webhook { url, .. }
            | ConnectorConfig::BackchannelLogout { url, .. }
            | ConnectorConfig::Caep { url, .. }
            | ConnectorConfig::OauthRevocation { url, .. } => url,
        }
    }
}

/// What a delivery signs and opens with: the server's key and the issuer it names itself by,
/// and the key that seals the external tokens an RFC 7009 connector revokes.
pub struct Signer {
    pub server_key: std::sync::Arc<crate::server_key::ServerKeys>,
    pub issuer: String,
    pub token_vault: std::sync::Arc<crate::token_vault::TokenVault>,
}

pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
pub const CAEP_SESSION_REVOKED: &str =
    "https://schemas.openid.net/secevent/caep/event-type/session-revoked";
/// Logout tokens are short-lived (the specification recommends two minutes at most).
const LOGOUT_TOKEN_LIFETIME_S: u64 = 120;

#[derive(Debug, thiserror::Error)]
pub enum ConnectorConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

/// Reads and checks the connectors file: a JSON array of connectors.
pub fn load(path: &std::path::Path) -> Result<Vec<ConnectorConfig>, ConnectorConfigError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConnectorConfigError::Read {
        path: shown.clone(),
        source,
    })?;
    let invalid = |message: String| ConnectorConfigError::Invalid {
        path: shown.clone(),
        message,
    };
    let connectors: Vec<ConnectorConfig> =
        serde_json::from_str(&text).map_err(|error| invalid(error.to_string()))?;
    let mut names = std::collections::BTreeSet::new();
    for connector in &connectors {
        let name = connector.name();
        if name.is_empty()
            || name.len() > MAX_NAME_CHARS
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(invalid(format!(
                "connector name {name:?}: 1 to 64 letters, digits, _ or -"
            )));
        }
        if name == crate::revocation::BUILT_IN_CONNECTOR || !names.insert(name.to_owned()) {
            return Err(invalid(format!(
                "connector name {name:?} is reserved or repeated"
            )));
        }
        let url = connector.url();
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(invalid(format!("connector {name}: url must be http(s)://")));
        }
        match connector {
            ConnectorConfig::Webhook { secret, .. } if secret.len() < 32 => {
                return Err(invalid(format!(
                    "connector {name}: the secret must be at least 32 characters"
                )));
            }
            ConnectorConfig::BackchannelLogout { audience, .. }
            | ConnectorConfig::Caep { audience, .. }
                if audience.is_empty() =>
            {
                return Err(invalid(format!(
                    "connector {name}: audience must not be empty"
                )));
            }
            ConnectorConfig::OauthRevocation {
                client_id,
                client_secret,
                ..
            } if client_id.is_empty() || client_secret.is_empty() => {
                return Err(invalid(format!(
                    "connector {name}: client_id and client_secret must not be empty"
                )));
            }
            _ => {}
        }
    }
    Ok(connectors)
}

/// The webhook's JSON body (documented in docs/PROTOCOL.md §5).
pub fn webhook_payload(delivery: &DueDelivery) -> serde_json::Value {
    serde_json::json!({
        "type": "baton.revocation.v1",
        "idempotency_key": idempotency_key(delivery),
        "revocation_id": delivery.revocation_id,
        "site_id": delivery.site_id,
        "device_id": delivery.device_id,
        "staff_id": delivery.staff_id,
        "reason": delivery.reason,
        "opened_by": delivery.opened_by,
        "ended_by": delivery.ended_by,
        "created_at_ms": delivery.created_at_ms,
    })
}

/// Stable across retries and processes: the same revocation to the same connector.
pub fn idempotency_key(delivery: &DueDelivery) -> String {
    format!(
        "{}:{}:{}",
        delivery.site_id, delivery.revocation_id, delivery.connector
    )
}

/// `v1=` hex HMAC-SHA256 over `timestamp` `.` body.
pub fn webhook_signature(secret: &str, timestamp_ms: u64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(timestamp_ms.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// The claims of a back-channel logout token for the person whose custody ended.
pub fn logout_token_claims(
    signer: &Signer,
    audience: &str,
    delivery: &DueDelivery,
    now_ms: u64,
) -> serde_json::Value {
    let now_s = now_ms / 1000;
    serde_json::json!({
        "iss": signer.issuer,
        "aud": audience,
        "iat": now_s,
        "exp": now_s + LOGOUT_TOKEN_LIFETIME_S,
        "jti": idempotency_key(delivery),
        "sub": delivery.staff_id,
        "events": { BACKCHANNEL_LOGOUT_EVENT: {} },
    })
}

/// The claims of a CAEP `session-revoked` Security Event Token.
pub fn session_revoked_claims(
    signer: &Signer,
    audience: &str,
    delivery: &DueDelivery,
    now_ms: u64,
) -> serde_json::Value {
    serde_json::json!({
        "iss": signer.issuer,
        "aud": audience,
        "iat": now_ms / 1000,
        "jti": idempotency_key(delivery),
        "sub_id": { "format": "opaque", "id": delivery.staff_id },
        "events": {
            CAEP_SESSION_REVOKED: {
                "event_timestamp": delivery.created_at_ms / 1000,
                "initiating_entity": "policy",
                "reason_admin": { "en": format!("Custody of device {} ended ({})", delivery.device_id, delivery.reason) },
            }
        },
    })
}

/// One attempt of a connector that sends one message per revocation: `Ok` when the receiver
/// answered 2xx. (`OauthRevocation` is delivered by `token_revocation::deliver`.)
pub async fn deliver(
    client: &reqwest::Client,
    signer: &Signer,
    connector: &ConnectorConfig,
    delivery: &DueDelivery,
    now_ms: u64,
) -> Result<(), String> {
    let url = connector.url();
    let request = match connector {
        ConnectorConfig::Webhook { secret, .. } => {
            let body = serde_json::to_vec(&webhook_payload(delivery))
                .expect("a JSON value always serialises");
            client
                .post(url)
                .header("content-type", "application/json")
                .header("baton-idempotency-key", idempotency_key(delivery))
                .header("baton-timestamp", now_ms.to_string())
                .header("baton-signature", webhook_signature(secret, now_ms, &body))
                .body(body)
        }
        ConnectorConfig::BackchannelLogout { audience, .. } => {
            let claims = logout_token_claims(signer, audience, delivery, now_ms);
            let token = crate::jwt::sign(&signer.server_key.current(), "logout+jwt", &claims);
            client.post(url).form(&[("logout_token", token)])
        }
        ConnectorConfig::Caep { audience, .. } => {
            let claims = session_revoked_claims(signer, audience, delivery, now_ms);
            let token = crate::jwt::sign(&signer.server_key.current(), "secevent+jwt", &claims);
            client
                .post(url)
                .header("content-type", "application/secevent+jwt")
                .body(token)
        }
        ConnectorConfig::OauthRevocation { .. } => {
            return Err(format!(
                "connector {:?} revokes registered tokens; the worker sends it through token_revocation",
                connector.name()
            ));
        }
    };
    let response = request
        .timeout(ATTEMPT_TIMEOUT)
        .send()
        .await
        .map_err(|error| format!("{url}: {error}"))?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("{url} answered {}", response.status()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connector_printed_by_mistake_shows_no_secret() {
        let connectors: Vec<ConnectorConfig> = serde_json::from_str(
            r#"[{"kind":"webhook","name":"mdm","url":"https://mdm.example/hook","secret":"webhook-secret-0123456789abcdef0123"},
                {"kind":"oauth_revocation","name":"idp","url":"https://idp.example/revoke","client_id":"baton","client_secret":"client-secret-s3cret","auth_method":"client_secret_basic"}]"#,
        )
        .unwrap();
        let printed = format!("{connectors:?} {connectors:#?}");
        assert!(!printed.contains("webhook-secret"), "{printed}");
        assert!(!printed.contains("client-secret-s3cret"), "{printed}");
        assert!(printed.contains("[redacted]") && printed.contains("https://idp.example/revoke"));
    }

    #[test]
    fn the_signature_is_hmac_sha256_over_timestamp_dot_body() {
        // Computed independently:
        // printf '1700000000000.{"a":1}' | openssl dgst -sha256 -hmac 'secret' | cut -d' ' -f2
        assert_eq!(
            webhook_signature("secret", 1_700_000_000_000, br#"{"a":1}"#),
            "v1=4ef2732b0d632a6897af3a6d02a6de287f60d6c5f15dabdb0ceb045a34e3c5a7"
        );
    }

    #[test]
    fn a_bad_connectors_file_is_refused_with_its_reason() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("connectors.json");
        std::fs::write(&path, r#"[{"kind":"webhook","name":"mdm","url":"ftp://x","secret":"0123456789abcdef0123456789abcdef"}]"#).unwrap();
        assert!(
            load(&path)
                .unwrap_err()
                .to_string()
                .contains("url must be http(s)://")
        );
        std::fs::write(
            &path,
            r#"[{"kind":"webhook","name":"mdm","url":"http://x","secret":"short"}]"#,
        )
        .unwrap();
        assert!(
            load(&path)
                .unwrap_err()
                .to_string()
                .contains("at least 32 characters")
        );
        std::fs::write(&path, r#"[{"kind":"webhook","name":"baton_tokens","url":"http://x","secret":"0123456789abcdef0123456789abcdef"}]"#).unwrap();
        assert!(load(&path).unwrap_err().to_string().contains("reserved"));
        std::fs::write(&path, r#"[{"kind":"webhook","name":"mdm","url":"https://mdm.example/hook","secret":"0123456789abcdef0123456789abcdef"}]"#).unwrap();
        assert_eq!(load(&path).unwrap()[0].name(), "mdm");
        std::fs::write(&path, r#"[{"kind":"oauth_revocation","name":"idp","url":"https://idp.example/revoke","client_id":"baton","client_secret":"","auth_method":"client_secret_basic"}]"#).unwrap();
        assert!(
            load(&path)
                .unwrap_err()
                .to_string()
                .contains("client_secret must not be empty")
        );
        std::fs::write(&path, r#"[{"kind":"oauth_revocation","name":"idp","url":"https://idp.example/revoke","client_id":"baton","client_secret":"s3cret","auth_method":"private_key_jwt"}]"#).unwrap();
        assert!(
            load(&path)
                .unwrap_err()
                .to_string()
                .contains("unknown variant")
        );
        std::fs::write(&path, r#"[{"kind":"oauth_revocation","name":"idp","url":"https://idp.example/revoke","client_id":"baton","client_secret":"s3cret","auth_method":"client_secret_post"}]"#).unwrap();
        let loaded = load(&path).unwrap();
        assert!(loaded[0].revokes_registered_tokens());
        assert!(matches!(
            loaded[0],
            ConnectorConfig::OauthRevocation {
                auth_method: ClientAuthMethod::ClientSecretPost,
                ..
            }
        ));
    }
}
