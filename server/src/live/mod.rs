//! `/live/ROOM.flv`: FLV over HTTP and WebSocket, both directions.
//!
//! | request | meaning |
//! | --- | --- |
//! | `GET` | HTTP-FLV play (chunked) |
//! | `GET` + WebSocket upgrade | WS-FLV play, or WS-FLV push when `?key=` is given |
//! | `POST ?key=` | HTTP-FLV push (`ffmpeg -f flv http://…`) |
//!
//! A WS-FLV publisher is sent text messages `{"acked": N}` (bytes read so far) so a browser
//! studio can see a slow uplink; `hooks` has the test-only `throttle_kbps` / `drop_after_secs`.

mod hooks;
mod play;
mod push;

use std::sync::Arc;

use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRequestParts, Path, Query, Request, State};
use axum::http::{Method, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;

use crate::AppState;
use crate::auth::valid_name;
use crate::error::ApiError;

/// The app name of the HTTP URL scheme; RTMP uses the same one.
pub const APP: &str = "live";

pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/live/{file}", any(live))
}

#[derive(serde::Deserialize)]
struct LiveQuery {
    key: Option<String>,
    /// Test hook (see [`crate::config::Config::test_hooks`]): read a WS-FLV push slowly.
    throttle_kbps: Option<u32>,
    /// Test hook: stop throttling after this many seconds.
    throttle_secs: Option<f64>,
    /// Test hook: drop the push connection (no close frame) after this many seconds.
    drop_after_secs: Option<f64>,
}

async fn live(
    State(state): State<Arc<AppState>>,
    Path(file): Path<String>,
    Query(query): Query<LiveQuery>,
    req: Request,
) -> Result<Response, ApiError> {
    let room = file
        .strip_suffix(".flv")
        .filter(|r| valid_name(r))
        .ok_or_else(|| {
            ApiError::NotFound(format!("no such stream file: {file} (use /live/ROOM.flv)"))
        })?
        .to_string();
    let is_ws = is_websocket_upgrade(req.headers());
    match (req.method().clone(), is_ws) {
        (Method::GET, true) => {
            let (mut parts, _) = req.into_parts();
            let ws = WebSocketUpgrade::from_request_parts(&mut parts, &state)
                .await
                .map_err(|e| ApiError::BadRequest(format!("bad WebSocket upgrade: {e}")))?;
            // Ignored unless the server was started with its test hooks on.
            let hooks = push::TestHooks::from_query(
                state.config.test_hooks,
                query.throttle_kbps,
                query.throttle_secs,
                query.drop_after_secs,
            );
            match query.key {
                Some(key) => push::ws(state, room, key, hooks, ws).await,
                None => play::ws(state, room, ws),
            }
        }
        (Method::GET | Method::HEAD, false) => play::http(state, room),
        (Method::POST | Method::PUT, false) => {
            push::http(state, room, query.key, req.into_body()).await
        }
        (method, _) => Ok(ApiError::MethodNotAllowed(format!(
            "{method} is not supported on /live/ROOM.flv"
        ))
        .into_response()),
    }
}

/// `Upgrade: websocket`: on `/live/ROOM.flv` a WS-FLV play, or a push when it has a key.
pub fn is_websocket_upgrade(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"))
}

/// The hub key of a room under the live app.
pub fn stream_key(room: &str) -> String {
    format!("{APP}/{room}")
}
