//! The one place where errors become HTTP responses: `{"error": {"code", "message"}}`.
//!
//! A leaf: it uses nothing from this crate, so the route modules (`live`, `hls`, `rooms`,
//! `record`) and `http`, which mounts them, can all use it without depending on each other.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error an API handler returns; its status and code are decided here and nowhere else.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    /// Rate limited; the client may retry after the duration (`Retry-After`).
    #[error("{0}")]
    TooManyRequests(String, std::time::Duration),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Media the requested format cannot carry (e.g. Opus in MPEG-TS HLS).
    #[error("{0}")]
    UnsupportedCodec(String),
    /// Not ready in time (e.g. an LL-HLS blocking reload that timed out).
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::TooManyRequests(..) => (StatusCode::TOO_MANY_REQUESTS, "too_many_requests"),
            ApiError::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::UnsupportedCodec(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_codec")
            }
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE {
            tracing::error!("{self}");
        }
        let body = json!({"error": {"code": code, "message": self.to_string()}});
        let mut res = (status, Json(body)).into_response();
        if let ApiError::TooManyRequests(_, wait) = &self {
            // Whole seconds, rounded up, so a client that waits exactly this long gets in.
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            res.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(secs.max(1)),
            );
        }
        res
    }
}
