//! Checks and headers every request passes through: state-changing API calls must come from
//! our own site (`Origin`) and carry JSON; every response says `nosniff` and a referrer
//! policy. Page policies (CSP, framing) are set where the page is served ([`crate::assets`]).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::body::{MAX_BODY, is_json};
use super::site::Site;
use crate::AppState;
use crate::error::ApiError;

pub async fn guard(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    if let Err(e) = check(&state, &req) {
        tracing::info!(path = %req.uri().path(), "request refused: {e}");
        return with_headers(e.into_response());
    }
    with_headers(next.run(req).await)
}

fn with_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    res
}

fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn check(state: &AppState, req: &Request) -> Result<(), ApiError> {
    let path = req.uri().path();
    if !(path.starts_with("/api/") && changes_state(req.method())) {
        return Ok(());
    }
    let headers = req.headers();
    if let Some(origin) = headers.get(header::ORIGIN) {
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0);
        let site = Site::from_parts(state, headers, peer);
        if !same_site(state, &site, origin) {
            return Err(ApiError::Forbidden(format!(
                "cross-site request refused: Origin {} is not this site ({})",
                origin.to_str().unwrap_or("?"),
                site.origin()
            )));
        }
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let has_body =
        declared.is_some_and(|n| n > 0) || headers.contains_key(header::TRANSFER_ENCODING);
    if has_body && !is_json(headers) {
        return Err(ApiError::UnsupportedMediaType(
            "send the request body as JSON (Content-Type: application/json)".into(),
        ));
    }
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return Err(ApiError::PayloadTooLarge(format!(
            "the request body is over {MAX_BODY} bytes"
        )));
    }
    Ok(())
}

/// `Origin` is our site: the configured `site`, or the scheme and host the request came to.
pub fn same_site(state: &AppState, site: &Site, origin: &HeaderValue) -> bool {
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let origin = origin.trim_end_matches('/');
    let configured = state
        .config
        .site
        .as_deref()
        .is_some_and(|s| s.trim_end_matches('/').eq_ignore_ascii_case(origin));
    configured || origin.eq_ignore_ascii_case(&site.origin())
}
