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
use crate::token_revocation::Failure;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
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

    /// The `kind` of the JSON form.
    pub fn kind(&self) -> &'static str {
        match self {
            ConnectorConfig::Webhook { .. } => "webhook",
            ConnectorConfig::BackchannelLogout { .. } => "backchannel_logout",
            ConnectorConfig::Caep { .. } => "caep",
            ConnectorConfig::OauthRevocation { .. } => "oauth_revocation",
        }
    }

    /// The secret the connector holds (the webhook's HMAC secret, the RFC 7009 client secret),
    /// for sealing; `None` for kinds without one.
    pub fn secret(&self) -> Option<&str> {
        match self {
            ConnectorConfig::Webhook { secret, .. } => Some(secret),
            ConnectorConfig::OauthRevocation { client_secret, .. } => Some(client_secret),
            ConnectorConfig::BackchannelLogout { .. } | ConnectorConfig::Caep { .. } => None,
        }
    }

    /// The JSON field a kind keeps its secret in.
    fn secret_field(kind: &str) -> Option<&'static str> {
        match kind {
            "webhook" => Some("secret"),
            "oauth_revocation" => Some("client_secret"),
            _ => None,
        }
    }

    /// The connector as JSON without its secret: what the admin API answers, what the database
    /// keeps in the clear, and what the ledger records of a change.
    pub fn public_json(&self) -> serde_json::Value {
        let mut public = serde_json::json!({
            "kind": self.kind(),
            "name": self.name(),
            "url": self.url(),
        });
        match self {
            ConnectorConfig::Webhook { .. } => {}
            ConnectorConfig::BackchannelLogout { audience, .. }
            | ConnectorConfig::Caep { audience, .. } => {
                public["audience"] = serde_json::Value::String(audience.clone());
            }
            ConnectorConfig::OauthRevocation {
                client_id,
                auth_method,
                ..
            } => {
                public["client_id"] = serde_json::Value::String(client_id.clone());
                public["auth_method"] =
                    serde_json::to_value(auth_method).expect("an enum always serialises");
            }
        }
        public
    }

    /// A connector rebuilt from its public JSON (`public_json`) and its secret (opened from
    /// the database by the caller).
    pub fn from_public_json(
        public: &str,
        secret: Option<String>,
    ) -> Result<ConnectorConfig, String> {
        let mut value: serde_json::Value =
            serde_json::from_str(public).map_err(|error| error.to_string())?;
        let kind = value["kind"].as_str().unwrap_or_default().to_owned();
        if let (Some(field), Some(object)) =
            (ConnectorConfig::secret_field(&kind), value.as_object_mut())
        {
            let secret = secret.ok_or_else(|| format!("a {kind} connector needs its secret"))?;
            object.insert(field.to_owned(), serde_json::Value::String(secret));
        }
        serde_json::from_value(value).map_err(|error| error.to_string())
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

/// Reads and checks the connectors file: a JSON array of connectors, each checked by
/// [`validate`], the same rules the admin API applies.
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
        validate(connector).map_err(|error| invalid(error.message))?;
        if !names.insert(connector.name().to_owned()) {
            return Err(invalid(format!(
                "connector name {:?} is repeated",
                connector.name()
            )));
        }
    }
    Ok(connectors)
}

/// Why a connector is refused, with a stable code for the admin API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct InvalidConnector {
    pub code: &'static str,
    pub message: String,
}

fn invalid(code: &'static str, message: String) -> InvalidConnector {
    InvalidConnector { code, message }
}

/// The longest URL, audience, client id or secret a connector may hold.
const MAX_URL_CHARS: usize = 2048;
const MAX_FIELD_CHARS: usize = 512;
/// The shortest webhook HMAC secret.
pub const MIN_WEBHOOK_SECRET_CHARS: usize = 32;

/// The one set of rules for a connector, whether it comes from the connectors file or from the
/// admin API, so that the two cannot drift: a name of 1 to 64 letters, digits, `_` or `-`, not
/// the built-in `baton_tokens`; an `https://` URL, or `http://` to a loopback address only
/// (plain HTTP elsewhere would carry client secrets and tokens, and the revocation itself, in
/// the clear), with no credentials in it (URLs are logged); a webhook secret of at least 32
/// characters; audience, client id and client secret present; every field bounded.
pub fn validate(connector: &ConnectorConfig) -> Result<(), InvalidConnector> {
    let name = connector.name();
    if name.is_empty()
        || name.len() > MAX_NAME_CHARS
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(invalid(
            "bad_connector_name",
            format!("connector name {name:?}: 1 to 64 letters, digits, _ or -"),
        ));
    }
    if name == crate::revocation::BUILT_IN_CONNECTOR {
        return Err(invalid(
            "reserved_connector_name",
            format!("connector name {name:?} is reserved for Baton's own tokens"),
        ));
    }
    check_url(connector.url()).map_err(|reason| {
        invalid(
            "bad_connector_url",
            format!("connector {name}: the url {reason}"),
        )
    })?;
    let too_long = |field: &str, value: &str| {
        (value.chars().count() > MAX_FIELD_CHARS).then(|| {
            invalid(
                "connector_field_too_long",
                format!("connector {name}: {field} is longer than {MAX_FIELD_CHARS} characters"),
            )
        })
    };
    match connector {
        ConnectorConfig::Webhook { secret, .. } => {
            if secret.chars().count() < MIN_WEBHOOK_SECRET_CHARS {
                return Err(invalid(
                    "weak_connector_secret",
                    format!("connector {name}: the secret must be at least 32 characters"),
                ));
            }
            if let Some(error) = too_long("secret", secret) {
                return Err(error);
            }
        }
        ConnectorConfig::BackchannelLogout { audience, .. }
        | ConnectorConfig::Caep { audience, .. } => {
            if audience.is_empty() {
                return Err(invalid(
                    "missing_connector_field",
                    format!("connector {name}: audience must not be empty"),
                ));
            }
            if let Some(error) = too_long("audience", audience) {
                return Err(error);
            }
        }
        ConnectorConfig::OauthRevocation {
            client_id,
            client_secret,
            ..
        } => {
            if client_id.is_empty() || client_secret.is_empty() {
                return Err(invalid(
                    "missing_connector_field",
                    format!("connector {name}: client_id and client_secret must not be empty"),
                ));
            }
            if let Some(error) = too_long("client_id", client_id)
                .or_else(|| too_long("client_secret", client_secret))
            {
                return Err(error);
            }
        }
    }
    Ok(())
}

/// What is wrong with a connector's URL, if anything.
fn check_url(url: &str) -> Result<(), String> {
    if url.len() > MAX_URL_CHARS {
        return Err(format!("is longer than {MAX_URL_CHARS} characters"));
    }
    let parsed = reqwest::Url::parse(url).map_err(|error| format!("is not a URL ({error})"))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("must not hold credentials".to_owned());
    }
    if parsed.fragment().is_some() {
        return Err("must not have a fragment".to_owned());
    }
    let host = match parsed.host_str() {
        Some(host) if !host.is_empty() => host,
        _ => return Err("has no host".to_owned()),
    };
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|address| address.is_loopback());
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        "http" => Err("must be https:// (http:// only to a loopback address)".to_owned()),
        _ => Err("must be https:// (http:// only to a loopback address)".to_owned()),
    }
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
/// answered 2xx. A `Retry-After` on a 429 or 503 answer is honoured as RFC 7009 deliveries
/// honour it (`token_revocation::retry_after_ms`). (`OauthRevocation` is delivered by
/// `token_revocation::deliver`.)
pub async fn deliver(
    client: &reqwest::Client,
    signer: &Signer,
    connector: &ConnectorConfig,
    delivery: &DueDelivery,
    now_ms: u64,
) -> Result<(), Failure> {
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
            return Err(Failure::retry(format!(
                "connector {:?} revokes registered tokens; the worker sends it through token_revocation",
                connector.name()
            )));
        }
    };
    let response = request
        .timeout(ATTEMPT_TIMEOUT)
        .send()
        .await
        .map_err(|error| Failure::retry(format!("{url}: {error}")))?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|value| value.to_str().ok());
    Err(Failure {
        message: format!("{url} answered {status}"),
        retry_after_ms: crate::token_revocation::retry_after_ms(
            status.as_u16(),
            retry_after,
            std::time::SystemTime::now(),
        ),
        permanent: false,
    })
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

    fn webhook(name: &str, url: &str, secret: &str) -> ConnectorConfig {
        ConnectorConfig::Webhook {
            name: name.to_owned(),
            url: url.to_owned(),
            secret: secret.to_owned(),
        }
    }

    #[test]
    fn one_set_of_rules_names_each_refusal_with_a_stable_code() {
        const SECRET: &str = "0123456789abcdef0123456789abcdef";
        let code = |connector: ConnectorConfig| validate(&connector).err().map(|error| error.code);
        for url in [
            "https://mdm.example/hook",
            "https://10.0.0.5:8443/hook?site=1",
            "http://127.0.0.1:9000/hook",
            "http://127.8.9.10/hook",
            "http://localhost/hook",
            "http://[::1]:9000/hook",
        ] {
            assert_eq!(code(webhook("mdm", url, SECRET)), None, "{url}");
        }
        for url in [
            "http://mdm.example/hook",
            "http://10.0.0.5/hook",
            "http://localhost.evil.example/hook",
            "ftp://mdm.example/hook",
            "https://user:pass@mdm.example/hook",
            "https://mdm.example/hook#fragment",
            "not a url",
            "file:///etc/passwd",
        ] {
            assert_eq!(
                code(webhook("mdm", url, SECRET)),
                Some("bad_connector_url"),
                "{url}"
            );
        }
        let long_url = format!("https://mdm.example/{}", "a".repeat(MAX_URL_CHARS));
        assert_eq!(
            code(webhook("mdm", &long_url, SECRET)),
            Some("bad_connector_url")
        );
        for name in ["", "has space", "é", &"n".repeat(65)] {
            assert_eq!(
                code(webhook(name, "https://x.example", SECRET)),
                Some("bad_connector_name"),
                "{name:?}"
            );
        }
        assert_eq!(
            code(webhook(&"n".repeat(64), "https://x.example", SECRET)),
            None
        );
        assert_eq!(
            code(webhook("baton_tokens", "https://x.example", SECRET)),
            Some("reserved_connector_name")
        );
        assert_eq!(
            code(webhook("mdm", "https://x.example", &SECRET[1..])),
            Some("weak_connector_secret")
        );
        assert_eq!(
            code(webhook("mdm", "https://x.example", &"s".repeat(513))),
            Some("connector_field_too_long")
        );
        assert_eq!(
            code(ConnectorConfig::Caep {
                name: "idp".to_owned(),
                url: "https://idp.example/push".to_owned(),
                audience: String::new(),
            }),
            Some("missing_connector_field")
        );
    }

    #[test]
    fn a_connector_goes_to_storage_without_its_secret_and_comes_back_whole() {
        let connectors: Vec<ConnectorConfig> = serde_json::from_str(
            r#"[{"kind":"webhook","name":"mdm","url":"https://mdm.example/hook","secret":"webhook-secret-0123456789abcdef0123"},
                {"kind":"oauth_revocation","name":"idp","url":"https://idp.example/revoke","client_id":"baton","client_secret":"client-secret-s3cret","auth_method":"client_secret_post"},
                {"kind":"backchannel_logout","name":"ehr","url":"https://ehr.example/logout","audience":"ehr-client"}]"#,
        )
        .unwrap();
        for connector in connectors {
            let public = connector.public_json().to_string();
            assert!(!public.contains("secret-"), "{public}");
            let back =
                ConnectorConfig::from_public_json(&public, connector.secret().map(str::to_owned))
                    .unwrap();
            assert_eq!(format!("{back:?}"), format!("{connector:?}"));
            assert_eq!(back.secret(), connector.secret());
            assert_eq!(back.public_json().to_string(), public);
        }
        // A kind with a secret cannot be rebuilt without it.
        assert!(
            ConnectorConfig::from_public_json(
                r#"{"kind":"webhook","name":"mdm","url":"https://mdm.example/hook"}"#,
                None
            )
            .is_err()
        );
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
                .contains("the url must be https://")
        );
        std::fs::write(
            &path,
            r#"[{"kind":"webhook","name":"mdm","url":"http://127.0.0.1:9/hook","secret":"short"}]"#,
        )
        .unwrap();
        assert!(
            load(&path)
                .unwrap_err()
                .to_string()
                .contains("at least 32 characters")
        );
        std::fs::write(&path, r#"[{"kind":"webhook","name":"baton_tokens","url":"https://x","secret":"0123456789abcdef0123456789abcdef"}]"#).unwrap();
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
