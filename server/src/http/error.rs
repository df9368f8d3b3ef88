//! The one error type of the HTTP layer. The client gets a stable machine-readable code and a
//! message that is safe to show; the underlying cause goes to the log only.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    /// Stable, documented, snake_case: clients branch on it.
    pub code: &'static str,
    /// Safe to show to the user; never contains secrets or internal details.
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
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

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(serde_json::json!({
            "error": { "code": self.code, "message": self.message }
        }));
        (self.status, body).into_response()
    }
}
