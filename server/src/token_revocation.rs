//! OAuth 2.0 Token Revocation (RFC 7009): Baton as the client that revokes, at the hospital's
//! authorization server, the tokens apps registered for a custody that has ended.
//!
//! RFC 7009 revokes one token per request, so Baton must know the tokens: apps register them
//! (`http/external_tokens.rs`), sealed at rest by `token_vault`. A delivery sends one
//! form-encoded request per live token of the custody, refresh tokens first (§2.1: revoking a
//! refresh token should also end the access tokens of its grant), authenticated as the
//! configured client (RFC 6749 §2.3.1). A token the server revoked has its ciphertext deleted
//! at once, so a retry after a partial success sends only what is left. What the answers mean
//! (§2.2, §2.2.1): 200 is revoked, also for a token that was already invalid; 503 asks for a
//! retry, after `Retry-After` (seconds or an HTTP-date) when given; 400 `unsupported_token_type` will never succeed, so
//! the delivery fails with that reason at once; anything else is retried with backoff.

use base64::Engine;

use crate::connectors::{ATTEMPT_TIMEOUT, ClientAuthMethod, ConnectorConfig};
use crate::storage::{DueDelivery, Storage};
use crate::token_vault::{Binding, TokenVault};

/// The longest token Baton registers: JWT access tokens run to a few kilobytes.
pub const MAX_TOKEN_BYTES: usize = 4096;
/// The most tokens one custody may register (all connectors together): an app registers a
/// refresh token and an access token or two, not hundreds.
pub const MAX_TOKENS_PER_CUSTODY: i64 = 16;
/// Never wait longer than this for a `Retry-After`, like the worker's own backoff cap.
const MAX_RETRY_AFTER_MS: u64 = crate::delivery_worker::MAX_BACKOFF_MS;

/// RFC 7009 §2.1's two hints, the only kinds Baton registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenTypeHint {
    RefreshToken,
    AccessToken,
}

impl TokenTypeHint {
    pub fn parse(text: &str) -> Option<TokenTypeHint> {
        match text {
            "refresh_token" => Some(TokenTypeHint::RefreshToken),
            "access_token" => Some(TokenTypeHint::AccessToken),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TokenTypeHint::RefreshToken => "refresh_token",
            TokenTypeHint::AccessToken => "access_token",
        }
    }
}

/// Why a token is refused at registration.
pub fn check_token(token: &str) -> Result<(), String> {
    if token.is_empty() {
        return Err("the token is empty".to_owned());
    }
    if token.len() > MAX_TOKEN_BYTES {
        return Err(format!(
            "the token is {} bytes; at most {MAX_TOKEN_BYTES} are accepted",
            token.len()
        ));
    }
    // RFC 6749 Appendix A: access and refresh tokens are visible ASCII (VSCHAR, %x20-7E).
    if !token.bytes().all(|byte| (0x20..=0x7e).contains(&byte)) {
        return Err("the token holds characters outside printable ASCII".to_owned());
    }
    Ok(())
}

/// `application/x-www-form-urlencoded` encoding of one value (RFC 6749 Appendix B).
pub fn form_urlencode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                encoded.push(byte as char);
            }
            b' ' => encoded.push('+'),
            _ => encoded.push_str(&format!("%{byte:02X}")),
        }
    }
    encoded
}

/// The `Authorization` value of `client_secret_basic` (RFC 6749 §2.3.1: id and secret are
/// form-urlencoded before they are joined and base64-encoded).
pub fn basic_authorization(client_id: &str, client_secret: &str) -> String {
    let credentials = format!(
        "{}:{}",
        form_urlencode(client_id),
        form_urlencode(client_secret)
    );
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(credentials)
    )
}

/// The form body of one revocation request and its `Authorization` header, if any.
pub fn revocation_request(
    token: &str,
    hint: &str,
    client_id: &str,
    client_secret: &str,
    auth_method: ClientAuthMethod,
) -> (String, Option<String>) {
    let mut body = format!(
        "token={}&token_type_hint={}",
        form_urlencode(token),
        form_urlencode(hint)
    );
    match auth_method {
        ClientAuthMethod::ClientSecretBasic => {
            (body, Some(basic_authorization(client_id, client_secret)))
        }
        ClientAuthMethod::ClientSecretPost => {
            body.push_str(&format!(
                "&client_id={}&client_secret={}",
                form_urlencode(client_id),
                form_urlencode(client_secret)
            ));
            (body, None)
        }
    }
}

/// An attempt that did not confirm the revocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Safe to store and show: never a token.
    pub message: String,
    /// The server's `Retry-After` (seconds or an HTTP-date), capped.
    pub retry_after_ms: Option<u64>,
    /// Retrying cannot help (`unsupported_token_type`): the delivery fails at once.
    pub permanent: bool,
}

impl Failure {
    pub fn retry(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            retry_after_ms: None,
            permanent: false,
        }
    }
}

/// What an answer of the revocation endpoint means (RFC 7009 §2.2, §2.2.1).
pub fn classify(status: u16, retry_after: Option<&str>, body: &[u8]) -> Result<(), Failure> {
    if status == 200 {
        return Ok(());
    }
    // The OAuth error code only (RFC 6749 §5.2), bounded: never the rest of the body.
    let error_code = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|value| value.get("error")?.as_str().map(str::to_owned))
        .filter(|code| {
            code.len() <= 64
                && code
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
        });
    let described = match &error_code {
        Some(code) => format!("HTTP {status} {code}"),
        None => format!("HTTP {status}"),
    };
    if status == 400 && error_code.as_deref() == Some("unsupported_token_type") {
        return Err(Failure {
            message: format!(
                "{described}: the authorization server does not revoke this kind of token"
            ),
            retry_after_ms: None,
            permanent: true,
        });
    }
    let retry_after_ms = retry_after_ms(status, retry_after, std::time::SystemTime::now());
    Err(Failure {
        message: described,
        retry_after_ms,
        permanent: false,
    })
}

/// How long a `Retry-After` header asks the client to wait, in milliseconds, capped at
/// `MAX_RETRY_AFTER_MS` like the worker's own backoff: honoured on 503 (RFC 7009 §2.2.1,
/// RFC 9110 §15.6.4) and 429 (RFC 6585 §4), the answers that mean "not now". Both forms of
/// RFC 9110 §10.2.3: delay-seconds, or an HTTP-date (a date already past means no wait).
/// Anything else, or another status, is `None`: the worker's backoff applies.
pub fn retry_after_ms(
    status: u16,
    retry_after: Option<&str>,
    now: std::time::SystemTime,
) -> Option<u64> {
    if status != 503 && status != 429 {
        return None;
    }
    let value = retry_after?.trim();
    let delay_ms = if !value.is_empty() && value.bytes().all(|byte| byte.is_ascii_digit()) {
        // Digits only; an overflowing number is simply "very long", capped below.
        value
            .parse::<u64>()
            .unwrap_or(u64::MAX)
            .saturating_mul(1000)
    } else {
        let date = httpdate::parse_http_date(value).ok()?;
        date.duration_since(now).map_or(0, |wait| {
            u64::try_from(wait.as_millis()).unwrap_or(u64::MAX)
        })
    };
    Some(delay_ms.min(MAX_RETRY_AFTER_MS))
}

/// One delivery: revokes every live token registered for the revocation's custody with this
/// connector. `Ok` carries what was done, for the delivery's record and the ledger.
pub async fn deliver(
    storage: &dyn Storage,
    client: &reqwest::Client,
    vault: &TokenVault,
    connector: &ConnectorConfig,
    delivery: &DueDelivery,
) -> Result<String, Failure> {
    let ConnectorConfig::OauthRevocation {
        url,
        client_id,
        client_secret,
        auth_method,
        ..
    } = connector
    else {
        return Err(Failure::retry(format!(
            "connector {:?} is not an oauth_revocation connector",
            connector.name()
        )));
    };
    let tokens = storage
        .external_tokens_of(delivery.revocation_id, &delivery.connector)
        .await
        .map_err(|error| Failure::retry(format!("cannot read the registered tokens: {error}")))?;
    if tokens.is_empty() {
        return Ok("nothing to revoke: no token was registered for this custody".to_owned());
    }
    let n_revoked_before = tokens.iter().filter(|token| token.sealed.is_none()).count();
    let (mut n_refresh, mut n_access) = (0, 0);
    let mut refused = Vec::new();
    for token in &tokens {
        let Some(sealed) = &token.sealed else {
            continue;
        };
        let binding = Binding {
            site_id: &delivery.site_id,
            device_id: &delivery.device_id,
            staff_id: &delivery.staff_id,
            opened_by: &delivery.opened_by,
            connector: &delivery.connector,
            token_type_hint: &token.token_type_hint,
        };
        let plaintext = vault
            .open(sealed, binding)
            .map_err(|error| Failure::retry(format!("token {}: {error}", token.token_id)))?;
        let (body, authorization) = revocation_request(
            &plaintext,
            &token.token_type_hint,
            client_id,
            client_secret,
            *auth_method,
        );
        drop(plaintext);
        let mut request = client
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .timeout(ATTEMPT_TIMEOUT)
            .body(body);
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        // reqwest's errors name the URL and the cause, never the body.
        let response = request
            .send()
            .await
            .map_err(|error| Failure::retry(format!("{url}: {error}")))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let answer = response.bytes().await.unwrap_or_default();
        match classify(status, retry_after.as_deref(), &answer) {
            Ok(()) => {
                storage
                    .mark_external_token_revoked(token.token_id, crate::sync::now_ms() as i64)
                    .await
                    .map_err(|error| {
                        Failure::retry(format!(
                            "token {} was revoked but cannot be recorded: {error}",
                            token.token_id
                        ))
                    })?;
                if token.token_type_hint == "refresh_token" {
                    n_refresh += 1;
                } else {
                    n_access += 1;
                }
            }
            Err(failure) if failure.permanent => refused.push(format!(
                "token {} ({}): {}",
                token.token_id, token.token_type_hint, failure.message
            )),
            // Stop here: the server is unavailable or refuses Baton, and the order (refresh
            // tokens first) is kept for the retry.
            Err(failure) => {
                return Err(Failure {
                    message: format!(
                        "{url}: token {} ({}): {}",
                        token.token_id, token.token_type_hint, failure.message
                    ),
                    ..failure
                });
            }
        }
    }
    if !refused.is_empty() {
        return Err(Failure {
            message: format!("{url}: {}", refused.join("; ")),
            retry_after_ms: None,
            permanent: true,
        });
    }
    let earlier = if n_revoked_before > 0 {
        format!(", {n_revoked_before} revoked by an earlier attempt")
    } else {
        String::new()
    };
    Ok(format!(
        "revoked {} registered token(s): {n_refresh} refresh, {n_access} access{earlier}",
        n_refresh + n_access
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answers_of_rfc_7009_mean_what_section_2_2_says() {
        assert_eq!(classify(200, None, b""), Ok(()));
        let unavailable = classify(503, Some("7"), b"").unwrap_err();
        assert_eq!(unavailable.retry_after_ms, Some(7_000));
        assert!(!unavailable.permanent);
        // An HTTP-date long past asks for no wait beyond the worker's own backoff.
        assert_eq!(
            classify(503, Some("Wed, 21 Oct 2015 07:28:00 GMT"), b"")
                .unwrap_err()
                .retry_after_ms,
            Some(0)
        );
        assert_eq!(
            classify(503, Some("99999999"), b"")
                .unwrap_err()
                .retry_after_ms,
            Some(MAX_RETRY_AFTER_MS)
        );
        let unsupported =
            classify(400, None, br#"{"error":"unsupported_token_type"}"#).unwrap_err();
        assert!(unsupported.permanent);
        assert!(unsupported.message.contains("unsupported_token_type"));
        let unauthorised = classify(401, None, br#"{"error":"invalid_client"}"#).unwrap_err();
        assert!(!unauthorised.permanent);
        assert_eq!(unauthorised.message, "HTTP 401 invalid_client");
        // Whatever else the body says stays out of the message.
        let odd = classify(400, None, br#"{"error":"<script>token=abc</script>"}"#).unwrap_err();
        assert_eq!(odd.message, "HTTP 400");
    }

    #[test]
    fn retry_after_is_read_in_both_forms_of_rfc_9110_and_capped() {
        use std::time::{Duration, SystemTime};
        // Sun, 06 Nov 1994 08:49:37 GMT, RFC 9110's own example date.
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
        let check = |status, value: Option<&str>| retry_after_ms(status, value, now);
        assert_eq!(check(503, Some("120")), Some(120_000));
        assert_eq!(check(429, Some(" 3 ")), Some(3_000));
        assert_eq!(check(503, Some("0")), Some(0));
        // The IMF-fixdate form, 90 s from now, and the two obsolete forms a recipient must
        // also accept (RFC 9110 §5.6.7).
        assert_eq!(
            check(503, Some("Sun, 06 Nov 1994 08:51:07 GMT")),
            Some(90_000)
        );
        assert_eq!(
            check(503, Some("Sunday, 06-Nov-94 08:51:07 GMT")),
            Some(90_000)
        );
        assert_eq!(check(503, Some("Sun Nov  6 08:51:07 1994")), Some(90_000));
        // A date in the past asks for no wait.
        assert_eq!(check(503, Some("Sun, 06 Nov 1994 08:00:00 GMT")), Some(0));
        // Both forms are capped like the worker's backoff.
        assert_eq!(
            check(503, Some("99999999999999999999999")),
            Some(MAX_RETRY_AFTER_MS)
        );
        assert_eq!(
            check(503, Some("Fri, 31 Dec 2100 23:59:59 GMT")),
            Some(MAX_RETRY_AFTER_MS)
        );
        // Garbage, a negative or fractional number, another status: the usual backoff.
        for garbage in ["soon", "-5", "1.5", "", "Sun, 06 Nov 1994 25:00:00 GMT"] {
            assert_eq!(check(503, Some(garbage)), None, "{garbage:?}");
        }
        assert_eq!(check(503, None), None);
        assert_eq!(check(500, Some("10")), None);
        assert_eq!(check(200, Some("10")), None);
    }

    #[test]
    fn client_authentication_follows_rfc_6749_section_2_3_1() {
        // "Aladdin" / "open sesame" with a space and a colon: form-urlencoded first.
        let (body, authorization) = revocation_request(
            "a b+c",
            "refresh_token",
            "client:1",
            "open sesame",
            ClientAuthMethod::ClientSecretBasic,
        );
        assert_eq!(body, "token=a+b%2Bc&token_type_hint=refresh_token");
        let authorization = authorization.unwrap();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(authorization.strip_prefix("Basic ").unwrap())
            .unwrap();
        assert_eq!(decoded, b"client%3A1:open+sesame");
        let (body, authorization) = revocation_request(
            "tok",
            "access_token",
            "baton",
            "s&cret",
            ClientAuthMethod::ClientSecretPost,
        );
        assert_eq!(authorization, None);
        assert_eq!(
            body,
            "token=tok&token_type_hint=access_token&client_id=baton&client_secret=s%26cret"
        );
    }

    #[test]
    fn registered_tokens_are_bounded_printable_ascii() {
        assert!(check_token("eyJhbGciOi.J9.x-y_z~").is_ok());
        assert!(check_token("").is_err());
        assert!(check_token(&"a".repeat(MAX_TOKEN_BYTES)).is_ok());
        assert!(
            check_token(&"a".repeat(MAX_TOKEN_BYTES + 1))
                .unwrap_err()
                .contains("at most 4096")
        );
        assert!(check_token("line\nbreak").is_err());
        assert!(check_token("é").is_err());
        assert_eq!(
            TokenTypeHint::parse("refresh_token"),
            Some(TokenTypeHint::RefreshToken)
        );
        assert_eq!(TokenTypeHint::parse("id_token"), None);
    }
}
