//! API version negotiation (docs/PROTOCOL.md §2.9). A tablet that has not yet picked up a new
//! PWA keeps talking to an upgraded server: every API request may say which version it speaks
//! (`Baton-Api-Version`); the server serves every version from [`OLDEST_SUPPORTED`] to the
//! current one, answers with the version it used, and refuses an unknown one with a code the
//! app acts on (it asks its service worker for the new version). A request without the header
//! is version 1, what every app before the header spoke.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use baton_core::request::{API_VERSION, HEADER_API_VERSION};

use super::error::ApiError;

/// The oldest API version this server still serves. Raise it only when no deployed tablet can
/// still speak the older one (docs/OPERATIONS.md §5).
pub const OLDEST_SUPPORTED: u32 = 1;

/// What a request's header asks for: `Ok(version)` when served, `Err` with the refusal.
pub fn requested(header: Option<&HeaderValue>) -> Result<u32, ApiError> {
    let Some(value) = header else {
        return Ok(1);
    };
    let version = value
        .to_str()
        .ok()
        .and_then(|text| text.trim().parse::<u32>().ok());
    match version {
        Some(version) if (OLDEST_SUPPORTED..=API_VERSION).contains(&version) => Ok(version),
        Some(version) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_api_version",
            format!(
                "This app speaks Baton API version {version}; this server speaks versions \
                 {OLDEST_SUPPORTED} to {API_VERSION}. {}",
                if version > API_VERSION {
                    "Ask IT to upgrade the server; the app keeps its handoffs meanwhile."
                } else {
                    "Open the app while online so that it updates itself."
                }
            ),
        )),
        None => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_api_version",
            format!("{HEADER_API_VERSION} must be a whole number such as {API_VERSION}."),
        )),
    }
}

/// Refuses API requests in a version this server does not speak, and stamps every API answer
/// with the version served.
pub async fn negotiate(request: Request, next: Next) -> Response {
    if !request.uri().path().starts_with("/api/") {
        return next.run(request).await;
    }
    let version = match requested(request.headers().get(HEADER_API_VERSION)) {
        Ok(version) => version,
        Err(refusal) => return refusal.into_response(),
    };
    let mut response = next.run(request).await;
    response
        .headers_mut()
        .insert(HEADER_API_VERSION, HeaderValue::from(version));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_header_is_version_1_and_only_served_versions_pass() {
        assert_eq!(requested(None).unwrap(), 1);
        assert_eq!(
            requested(Some(&HeaderValue::from(API_VERSION))).unwrap(),
            API_VERSION
        );
        for refused in ["0", "99", "1.5", "one", ""] {
            let error = requested(Some(&HeaderValue::from_static(refused))).unwrap_err();
            assert_eq!(error.status, StatusCode::BAD_REQUEST, "{refused}");
            assert_eq!(error.code, "unsupported_api_version");
        }
        let newer = requested(Some(&HeaderValue::from(API_VERSION + 1))).unwrap_err();
        assert!(
            newer.message.contains("upgrade the server"),
            "{}",
            newer.message
        );
    }
}
