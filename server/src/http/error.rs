//! The one error type of the HTTP layer. The client gets a stable machine-readable code and a
//! message that is safe to show; the underlying cause goes to the log only.

use axum::Json;
use axum::extract::Request;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::storage::{DiskFault, StorageError};

/// How long a client should wait before retrying a write refused for a full or unwritable
/// disk: freeing space takes a person, not milliseconds.
const DISK_FAULT_RETRY_AFTER_SECS: u64 = 60;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    /// Stable, documented, snake_case: clients branch on it.
    pub code: &'static str,
    /// Safe to show to the user; never contains secrets or internal details.
    pub message: String,
    /// Seconds for `Retry-After`, on the answers that say "not now" (429, 503 when busy).
    pub retry_after_secs: Option<u64>,
    /// Per-field problems of a refused body (`[{"field", "message"}]`), answered as
    /// `error.fields` so that a form can mark each one.
    pub fields: Option<serde_json::Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after_secs: None,
            fields: None,
        }
    }

    /// Adds the per-field problems of a refused body to the answer.
    pub fn with_fields(mut self, fields: serde_json::Value) -> ApiError {
        self.fields = Some(fields);
        self
    }

    /// Adds `Retry-After` (seconds) to the answer.
    pub fn with_retry_after(mut self, seconds: u64) -> ApiError {
        self.retry_after_secs = Some(seconds);
        self
    }

    /// A dependency (the database) is not answering: the request may be retried.
    pub fn unavailable(code: &'static str, cause: impl std::fmt::Display) -> ApiError {
        tracing::warn!(code, %cause, "service unavailable");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            code,
            "The server cannot reach its database right now; try again shortly.",
        )
    }

    /// A storage call that failed. A full or unwritable disk says so: the server's operator
    /// must act, and the client keeps what it sent and retries later (each storage method is
    /// one transaction, so the failed one stored nothing). Anything else is the database out
    /// of reach: 503 `database_unreachable`.
    pub fn storage(error: StorageError) -> ApiError {
        let fault = error.disk_fault();
        if fault.is_some() {
            crate::storage::note_disk_fault();
        }
        match fault {
            Some(DiskFault::Full) => {
                tracing::error!(
                    cause = %error,
                    "the database's disk is full: free space on it or grow it; writes resume \
                     by themselves, no restart needed"
                );
                ApiError::new(
                    StatusCode::INSUFFICIENT_STORAGE,
                    "storage_full",
                    "The server's disk is full, so nothing from this request was stored. Keep \
                     the data and try again later; the server's administrator must free disk \
                     space.",
                )
                .with_retry_after(DISK_FAULT_RETRY_AFTER_SECS)
            }
            Some(DiskFault::NotWritable) => {
                tracing::error!(
                    cause = %error,
                    "the database cannot be written (read-only file system, immutable or \
                     read-only file, or a failing disk): make it writable; writes resume by \
                     themselves, no restart needed"
                );
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage_not_writable",
                    "The server cannot write to its database (its disk is read-only or \
                     failing), so nothing from this request was stored. Keep the data and try \
                     again later; the server's administrator must make the disk writable.",
                )
                .with_retry_after(DISK_FAULT_RETRY_AFTER_SECS)
            }
            None => ApiError::unavailable("database_unreachable", error),
        }
    }

    /// A bug or an unexpected failure: logged with its cause, shown as a generic message.
    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        tracing::error!(%cause, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Something went wrong on the server; the request was not applied.",
        )
    }
}

/// A site replica that could not be loaded: 507 or 503 for a full or unwritable disk, 503 when
/// the database is unreachable (the tablet retries), 500 for anything else.
impl From<crate::sync::SyncError> for ApiError {
    fn from(error: crate::sync::SyncError) -> ApiError {
        match error {
            crate::sync::SyncError::Storage(storage)
                if storage.disk_fault().is_some() || storage.is_unavailable() =>
            {
                ApiError::storage(storage)
            }
            other => ApiError::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = serde_json::json!({ "code": self.code, "message": self.message });
        if let Some(fields) = self.fields {
            error["fields"] = fields;
        }
        let body = Json(serde_json::json!({ "error": error }));
        let mut response = (self.status, body).into_response();
        if let Some(seconds) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// The longest framework message kept in a rewritten refusal.
const MAX_FRAMEWORK_MESSAGE_BYTES: usize = 512;

/// Puts axum's own refusals into the one error shape. An extractor that refuses a request
/// before any handler runs (a wrong content type, JSON or a query that does not fit the type, a
/// body over the limit) and a method the route lacks (405) answer in plain text or with an
/// empty body; every other error of the API is `{"error": {"code", "message"}}`. This rewrites
/// each error answer under `/api/` and `/oauth/` that is not JSON, keeping its status and its
/// other headers (`Allow` on a 405). The framework's text describes only the caller's own
/// request, so it is kept as the message.
pub async fn uniform_refusals(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let is_api = path.starts_with("/api/") || path.starts_with("/oauth/");
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if !is_api || is_json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let code = match status {
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "unprocessable_body",
        StatusCode::BAD_REQUEST => "bad_request",
        _ if status.is_server_error() => "internal_error",
        _ => "request_refused",
    };
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, MAX_FRAMEWORK_MESSAGE_BYTES * 4)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let mut message: String = text.trim().to_owned();
    if message.len() > MAX_FRAMEWORK_MESSAGE_BYTES {
        let mut end = MAX_FRAMEWORK_MESSAGE_BYTES;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
    }
    if message.is_empty() || status.is_server_error() {
        message = status
            .canonical_reason()
            .unwrap_or("The request was refused.")
            .to_owned();
    }
    let rewritten = ApiError::new(status, code, message).into_response();
    let (rewritten_parts, rewritten_body) = rewritten.into_parts();
    parts.headers.remove(CONTENT_LENGTH);
    parts.headers.insert(
        CONTENT_TYPE,
        rewritten_parts
            .headers
            .get(CONTENT_TYPE)
            .cloned()
            .unwrap_or_else(|| HeaderValue::from_static("application/json")),
    );
    Response::from_parts(parts, rewritten_body)
}
