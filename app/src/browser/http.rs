//! Requests to the Baton server with `fetch`: enrollment, and the sync routes signed with the
//! tablet's key (docs/PROTOCOL.md §2.2). Building the signed headers is pure and tested natively;
//! only `send` touches the browser.

use baton_core::event::SignedEvent;
use baton_core::ids::SignerKey;
use baton_core::key_rotation::SignedKeyRotation;
use baton_core::ledger::{LedgerHash, SignedTreeHead};
use baton_core::request::{
    API_VERSION, HEADER_API_VERSION, HEADER_KEY, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP,
    RequestToSign,
};
use ed25519_dalek::SigningKey;
use serde::Deserialize;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, Request, RequestCache, RequestInit, Response};

use super::clock;
use crate::sync::protocol::{PullPage, PushResponse, Receipt, pull_path, push_body};
use crate::sync::{SyncTransport, TransportError};
use crate::tablet::enrollment::{EnrollRequest, EnrollResponse};
use crate::tablet::key_rotation::{KEY_ROTATION_PATH, RotationAccepted};
use crate::tablet::roster::Roster;
use crate::tablet::witness::WitnessAlarm;

pub const ENROLL_PATH: &str = "/api/v1/enroll";
pub const PUSH_PATH: &str = "/api/v1/sync/push";
pub const ROSTER_PATH: &str = "/api/v1/sync/roster";
pub const LEDGER_HEAD_PATH: &str = "/api/v1/ledger/head";
pub const SERVER_KEYS_PATH: &str = "/api/v1/server-keys";
pub const WITNESS_REPORT_PATH: &str = "/api/v1/ledger/witness-reports";

/// The four `Baton-*` headers of a signed request.
pub fn signed_headers(
    signing_key: &SigningKey,
    method: &str,
    path_and_query: &str,
    body: &[u8],
    timestamp_ms: u64,
    nonce: &str,
) -> [(&'static str, String); 4] {
    let signature = RequestToSign {
        method,
        path_and_query,
        body,
        timestamp_ms,
        nonce,
    }
    .sign(signing_key);
    [
        (
            HEADER_KEY,
            SignerKey::from_signing_key(signing_key).to_hex(),
        ),
        (HEADER_TIMESTAMP, timestamp_ms.to_string()),
        (HEADER_NONCE, nonce.to_owned()),
        (HEADER_SIGNATURE, hex::encode(signature)),
    ]
}

/// 128 random bits as 32 lowercase hex characters: never reused in practice.
pub fn new_nonce() -> Result<String, TransportError> {
    let mut bytes = [0_u8; 16];
    getrandom::getrandom(&mut bytes)
        .map_err(|error| TransportError::Unreachable(format!("no secure randomness: {error}")))?;
    Ok(hex::encode(bytes))
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    code: String,
    message: String,
}

/// The error of a non-2xx answer, from the server's `{"error": {"code", "message"}}`.
pub fn refusal(status: u16, body: &str) -> TransportError {
    match serde_json::from_str::<ErrorBody>(body) {
        Ok(ErrorBody { error }) => TransportError::Refused {
            status,
            code: error.code,
            message: error.message,
        },
        Err(_) => TransportError::Refused {
            status,
            code: "http_error".to_owned(),
            message: format!("HTTP {status}"),
        },
    }
}

fn js_message(error: &JsValue) -> String {
    error.dyn_ref::<js_sys::Error>().map_or_else(
        || format!("{error:?}"),
        |error| String::from(error.message()),
    )
}

/// Sends a request to this origin and returns the body of a 2xx answer.
pub async fn send(
    method: &str,
    path_and_query: &str,
    body: &[u8],
    signing_key: Option<&SigningKey>,
) -> Result<String, TransportError> {
    let Some(signing_key) = signing_key else {
        return fetch_text(method, path_and_query, body, &[]).await;
    };
    let signed_send = |timestamp_ms: u64| async move {
        let nonce = new_nonce()?;
        let headers = signed_headers(
            signing_key,
            method,
            path_and_query,
            body,
            timestamp_ms,
            &nonce,
        );
        fetch_text(method, path_and_query, body, &headers).await
    };
    // Signed with the server's time when this page has measured it (else as estimated from the
    // last contact, `clock_check::reference`), so that a tablet whose clock is set wrong stays
    // within the server's request window.
    let timestamp_ms = clock::reference_now_ms();
    let result = signed_send(timestamp_ms).await;
    // The first request after a start, before any measure: when the server refused its time,
    // the refusal's `Date` header is the measure, and the request goes once more with it.
    if let Err(TransportError::Refused {
        status: 401, code, ..
    }) = &result
        && code == "bad_request_signature"
        && let Some(server_ms) = clock::server_now_ms()
        && server_ms.abs_diff(timestamp_ms) > RESIGN_AFTER_MS
    {
        return signed_send(server_ms).await;
    }
    result
}

/// How far a request's time may be from the server's, as newly measured, before a refused
/// request is signed again with the server's time: well inside the server's five-minute window,
/// well beyond the `Date` header's one-second grain.
const RESIGN_AFTER_MS: u64 = 60_000;

/// One `fetch` to this origin (cookies included, never from the HTTP cache) with a JSON body
/// and the given extra headers; the body of a 2xx answer, or the server's refusal.
pub async fn fetch_text(
    method: &str,
    path_and_query: &str,
    body: &[u8],
    extra_headers: &[(&str, String)],
) -> Result<String, TransportError> {
    let unreachable = |error: JsValue| TransportError::Unreachable(js_message(&error));
    let window = web_sys::window().ok_or_else(|| unreachable(JsValue::NULL))?;
    let headers = Headers::new().map_err(unreachable)?;
    headers
        .set("content-type", "application/json")
        .map_err(unreachable)?;
    headers
        .set(HEADER_API_VERSION, &API_VERSION.to_string())
        .map_err(unreachable)?;
    for (name, value) in extra_headers {
        headers.set(name, value).map_err(unreachable)?;
    }
    let init = RequestInit::new();
    init.set_method(method);
    init.set_headers(&headers);
    init.set_cache(RequestCache::NoStore);
    if method != "GET" {
        init.set_body(&js_sys::Uint8Array::from(body));
    }
    let request = Request::new_with_str_and_init(path_and_query, &init).map_err(unreachable)?;
    let response: Response = JsFuture::from(window.fetch_with_request(&request))
        .await
        .map_err(unreachable)?
        .unchecked_into();
    let text = JsFuture::from(response.text().map_err(unreachable)?)
        .await
        .map_err(unreachable)?
        .as_string()
        .unwrap_or_default();
    if let Ok(Some(date)) = response.headers().get("date") {
        clock::observe_server_date(&date);
    }
    if response.ok() {
        Ok(text)
    } else {
        if let Ok(Some(retry_after)) = response.headers().get("retry-after") {
            let now = clock::now_ms();
            COME_BACK_AT_MS.with(|at| at.set(come_back_at(at.get(), now, &retry_after)));
        }
        Err(refusal(response.status(), &text))
    }
}

thread_local! {
    /// The earliest time (this page's clock, ms) the server asked to be called again, from the
    /// `Retry-After` of its last refusal (429 rate limited, 503 busy or at a disk fault).
    static COME_BACK_AT_MS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// The longest wait a `Retry-After` may impose on the tablet's sync: beyond it the tablet tries
/// again anyway (the server's longest is 60 s).
const MAX_RETRY_AFTER_MS: u64 = 10 * 60_000;

/// When to call the server again after a refusal with `Retry-After: retry_after` (seconds; the
/// HTTP-date form is not sent by Baton and is ignored) received at `now_ms`, given the time
/// already asked for: the later of the two, at most `MAX_RETRY_AFTER_MS` away.
pub fn come_back_at(asked_before_ms: u64, now_ms: u64, retry_after: &str) -> u64 {
    let Ok(seconds) = retry_after.trim().parse::<u64>() else {
        return asked_before_ms;
    };
    let wait_ms = seconds.saturating_mul(1_000).min(MAX_RETRY_AFTER_MS);
    asked_before_ms.max(now_ms.saturating_add(wait_ms))
}

/// How long the tablet's sync should still wait before calling the server, as its last
/// refusal asked.
pub fn come_back_in_ms(now_ms: u64) -> u64 {
    COME_BACK_AT_MS
        .with(std::cell::Cell::get)
        .saturating_sub(now_ms)
        .min(MAX_RETRY_AFTER_MS)
}

pub fn parse<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, TransportError> {
    serde_json::from_str(text).map_err(|error| TransportError::BadAnswer(error.to_string()))
}

/// Asks the server to take `rotation`'s new key in place of the key that signs the request,
/// the tablet's current one (`POST /api/v1/tablet/key-rotation`).
pub async fn rotate_key(
    signing_key: &SigningKey,
    rotation: &SignedKeyRotation,
) -> Result<RotationAccepted, TransportError> {
    let body = rotation.to_json_value().to_string().into_bytes();
    parse(&send("POST", KEY_ROTATION_PATH, &body, Some(signing_key)).await?)
}

/// One signed request that changes nothing (the roster), to learn whether the server accepts
/// `signing_key`: how a pending key is settled.
pub async fn probe_key(signing_key: &SigningKey) -> Result<(), TransportError> {
    send("GET", ROSTER_PATH, &[], Some(signing_key))
        .await
        .map(|_| ())
}

/// Redeems an enrollment code with the tablet's new public key.
pub async fn enroll(request: &EnrollRequest<'_>) -> Result<EnrollResponse, TransportError> {
    let body = serde_json::to_vec(request).expect("the enrollment request serialises");
    parse(&send("POST", ENROLL_PATH, &body, None).await?)
}

/// The sync routes over `fetch`, signed with the tablet's key.
pub struct HttpTransport {
    pub signing_key: SigningKey,
}

impl SyncTransport for HttpTransport {
    fn tablet_key(&self) -> SignerKey {
        SignerKey::from_signing_key(&self.signing_key)
    }

    async fn push(&self, events: &[SignedEvent]) -> Result<Vec<Receipt>, TransportError> {
        let body = push_body(events);
        let text = send("POST", PUSH_PATH, &body, Some(&self.signing_key)).await?;
        Ok(parse::<PushResponse>(&text)?.receipts)
    }

    async fn pull(&self, after: i64, limit: u32) -> Result<PullPage, TransportError> {
        let path = pull_path(after, limit);
        parse(&send("GET", &path, &[], Some(&self.signing_key)).await?)
    }

    async fn roster(&self) -> Result<Roster, TransportError> {
        parse(&send("GET", ROSTER_PATH, &[], Some(&self.signing_key)).await?)
    }

    async fn ledger_head(&self) -> Result<SignedTreeHead, TransportError> {
        let text = send("GET", LEDGER_HEAD_PATH, &[], Some(&self.signing_key)).await?;
        SignedTreeHead::from_json_bytes(text.as_bytes())
            .map_err(|error| TransportError::BadAnswer(error.to_string()))
    }

    async fn server_key_rotations(&self) -> Result<Vec<SignedKeyRotation>, TransportError> {
        #[derive(serde::Deserialize)]
        struct Answer {
            rotations: Vec<serde_json::Value>,
        }
        let answer: Answer = parse(&send("GET", SERVER_KEYS_PATH, &[], None).await?)?;
        answer
            .rotations
            .iter()
            .map(|rotation| {
                SignedKeyRotation::from_json_value(rotation)
                    .map_err(|error| TransportError::BadAnswer(error.to_string()))
            })
            .collect()
    }

    async fn consistency(&self, from: u64, to: u64) -> Result<Vec<LedgerHash>, TransportError> {
        let path = format!("/api/v1/ledger/consistency?from={from}&to={to}");
        let answer: ProofAnswer = parse(&send("GET", &path, &[], Some(&self.signing_key)).await?)?;
        Ok(answer.proof)
    }

    async fn inclusion(&self, index: u64, size: u64) -> Result<Vec<LedgerHash>, TransportError> {
        let path = format!("/api/v1/ledger/inclusion?index={index}&size={size}");
        let answer: ProofAnswer = parse(&send("GET", &path, &[], Some(&self.signing_key)).await?)?;
        Ok(answer.proof)
    }

    async fn report_witness(&self, alarm: &WitnessAlarm) -> Result<(), TransportError> {
        let body = serde_json::to_vec(alarm).expect("an alarm serialises");
        send("POST", WITNESS_REPORT_PATH, &body, Some(&self.signing_key)).await?;
        Ok(())
    }
}

/// The proof in a consistency or inclusion answer (docs/PROTOCOL.md §4.1).
#[derive(Deserialize)]
struct ProofAnswer {
    proof: Vec<LedgerHash>,
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_retry_after_sets_the_next_call_no_sooner_than_asked_and_never_absurdly_far() {
        assert_eq!(come_back_at(0, 1_000, "5"), 6_000);
        // An earlier, longer request stands.
        assert_eq!(come_back_at(70_000, 1_000, "5"), 70_000);
        // Not a number of seconds: nothing changes.
        assert_eq!(come_back_at(0, 1_000, "Wed, 21 Oct 2015 07:28:00 GMT"), 0);
        // A day is cut to ten minutes.
        assert_eq!(come_back_at(0, 0, "86400"), MAX_RETRY_AFTER_MS);
    }

    use super::*;
    use baton_core::request::verify_request;

    const NOW_MS: u64 = 1_764_000_000_000;

    #[test]
    fn signed_headers_verify_as_the_server_checks_them() {
        let signing_key = SigningKey::from_bytes(&[3; 32]);
        let nonce = "00112233445566778899aabbccddeeff";
        let path = "/api/v1/sync/pull?after=12&limit=500";
        let headers = signed_headers(&signing_key, "GET", path, b"", NOW_MS, nonce);
        let value = |name: &str| {
            headers
                .iter()
                .find(|(header, _)| *header == name)
                .map(|(_, value)| value.clone())
                .unwrap()
        };
        let signer = SignerKey::from_hex(&value("baton-key")).unwrap();
        assert_eq!(signer, SignerKey::from_signing_key(&signing_key));
        assert_eq!(value("baton-timestamp"), NOW_MS.to_string());
        let request = RequestToSign {
            method: "GET",
            path_and_query: path,
            body: b"",
            timestamp_ms: NOW_MS,
            nonce,
        };
        let window_ms = 300_000;
        assert_eq!(
            verify_request(
                &signer,
                &request,
                &value("baton-signature"),
                NOW_MS,
                window_ms
            ),
            Ok(())
        );
        // The signature covers the query: the same headers do not fit another page.
        let other_page = RequestToSign {
            path_and_query: "/api/v1/sync/pull?after=0&limit=500",
            ..request
        };
        assert!(
            verify_request(
                &signer,
                &other_page,
                &value("baton-signature"),
                NOW_MS,
                window_ms
            )
            .is_err()
        );
    }

    #[test]
    fn server_errors_keep_their_stable_code_and_message() {
        let body = r#"{"error":{"code":"enrollment_code_invalid","message":"ask a manager"}}"#;
        assert_eq!(
            refusal(403, body),
            TransportError::Refused {
                status: 403,
                code: "enrollment_code_invalid".to_owned(),
                message: "ask a manager".to_owned(),
            }
        );
        assert!(matches!(
            refusal(502, "<html>bad gateway</html>"),
            TransportError::Refused { status: 502, .. }
        ));
    }

    #[test]
    fn nonces_have_the_shape_the_server_requires() {
        let nonce = new_nonce().unwrap();
        assert_eq!(nonce.len(), 32);
        assert!(
            nonce
                .bytes()
                .all(|byte| byte.is_ascii_hexdigit() && !byte.is_ascii_uppercase())
        );
        assert_ne!(nonce, new_nonce().unwrap());
    }
}
