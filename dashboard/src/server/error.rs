//! Error responses: JSON `{"code", "message"}` with a stable code (see
//! `memori_types::http::ApiError`), mapped from memori-rig's error kinds.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use memori_rig::ErrorKind;

/// An error response.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: memori_types::http::ApiError,
}

impl ApiError {
    /// Any status with a code and message.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self { status, body: memori_types::http::ApiError { code: code.into(), message: message.into() } }
    }

    pub(crate) fn unauthenticated() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", "sign in first (or send an API key)")
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_input", message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    pub(crate) fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }
}

impl From<memori_rig::Error> for ApiError {
    fn from(e: memori_rig::Error) -> Self {
        let message = e.to_string();
        match e.kind() {
            ErrorKind::InvalidScope | ErrorKind::InvalidInput => Self::invalid(message),
            ErrorKind::NotFound => Self::not_found(message),
            ErrorKind::Conflict => Self::new(StatusCode::CONFLICT, "conflict", message),
            ErrorKind::Database | ErrorKind::Timeout | ErrorKind::Closed => {
                tracing::warn!(error = %message, "request failed: store unavailable");
                Self::unavailable("the database is unavailable; nothing was changed, try again")
            }
            ErrorKind::Internal => {
                tracing::error!(error = %message, "request failed: internal error");
                Self::internal("an internal error happened; the server log has the details")
            }
            _ => {
                tracing::error!(error = %message, "request failed");
                Self::internal(message)
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

/// Turn axum's own rejections (bad JSON, bad path or query) into the same JSON shape.
pub(crate) fn rejection(r: impl std::fmt::Display + IntoResponse) -> ApiError {
    let message = r.to_string();
    let status = r.into_response().status();
    ApiError::new(status, "invalid_input", message)
}
