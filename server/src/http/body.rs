//! `JsonBody<T>`: the API's one way to read a request body, so every bad body gets the API's
//! JSON error: not JSON (415), over [`MAX_BODY`] (413), or not the expected shape (400).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// The largest API request body.
pub const MAX_BODY: usize = 64 * 1024;

pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(ApiError::UnsupportedMediaType(
                "send the request body as JSON (Content-Type: application/json)".into(),
            ));
        }
        let _ = state;
        let too_large =
            || ApiError::PayloadTooLarge(format!("the request body is over {MAX_BODY} bytes"));
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|n| n > MAX_BODY as u64) {
            return Err(too_large());
        }
        // Reading stops at the limit, so an endless chunked body costs at most MAX_BODY.
        let bytes: Bytes = axum::body::to_bytes(req.into_body(), MAX_BODY)
            .await
            .map_err(|_| too_large())?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::BadRequest(format!("invalid request body: {e}")))
    }
}

/// `application/json`, optionally with parameters (`; charset=utf-8`).
pub fn is_json(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
}
