//! The rooms HTTP API: `GET/POST /api/rooms`, `GET/DELETE /api/rooms/ID`, and the chat
//! WebSocket at `/api/rooms/ID/chat`. Every error goes out through [`ApiError`].

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};

use super::{APP, RoomError, RoomView, chat};
use crate::AppState;
use crate::error::ApiError;

/// The rooms routes, merged into the main router.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/rooms", get(list).post(create))
        .route("/api/rooms/{id}", get(one).delete(close))
        .route("/api/rooms/{id}/chat", get(chat_ws))
}

#[derive(Deserialize)]
struct CreateRoom {
    title: String,
}

/// Where to push a room's stream; each URL carries the key.
#[derive(Debug, Serialize)]
pub struct PushUrls {
    pub rtmp: String,
    pub ws: String,
    pub http: String,
}

/// Where to watch a room.
#[derive(Debug, Serialize)]
pub struct PlayUrls {
    pub page: String,
    pub flv: String,
    pub ws_flv: String,
    pub hls: String,
}

/// The `POST /api/rooms` answer: the only response that ever contains the key.
#[derive(Debug, Serialize)]
pub struct Created {
    pub id: String,
    pub title: String,
    pub stream_key: String,
    pub push: PushUrls,
    pub play: PlayUrls,
}

impl Created {
    /// `host` is `name[:port]` of the HTTP server; RTMP uses the same name on `rtmp_port`.
    pub fn new(id: String, title: String, key: String, host: &str, rtmp_port: u16) -> Self {
        let name = host_name(host);
        Self {
            push: PushUrls {
                rtmp: format!("rtmp://{name}:{rtmp_port}/{APP}/{id}?key={key}"),
                ws: format!("ws://{host}/{APP}/{id}.flv?key={key}"),
                http: format!("http://{host}/{APP}/{id}.flv?key={key}"),
            },
            play: PlayUrls {
                page: format!("http://{host}/watch/{id}"),
                flv: format!("http://{host}/{APP}/{id}.flv"),
                ws_flv: format!("ws://{host}/{APP}/{id}.flv"),
                hls: format!("http://{host}/hls/{APP}/{id}/index.m3u8"),
            },
            id,
            title,
            stream_key: key,
        }
    }
}

/// `host[:port]` without the port; IPv6 literals keep their brackets.
fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |end| &host[..=end]);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

/// The request's Host header, if it is a plain `name[:port]` safe to put into URLs.
fn request_host(headers: &HeaderMap) -> Result<String, RoomError> {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .ok_or(RoomError::BadHost)?;
    let ok = !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b));
    if ok {
        Ok(host.to_string())
    } else {
        Err(RoomError::BadHost)
    }
}

async fn create(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    // Parsed by hand so a bad body gets the API's JSON error, not the extractor's text.
    let req: CreateRoom =
        serde_json::from_slice(&body).map_err(|e| RoomError::BadBody(e.to_string()))?;
    let host = request_host(&headers)?;
    let (id, key) = state.rooms.create(&req.title)?;
    tracing::info!(room = %id, "room created");
    let created = Created::new(
        id,
        req.title.trim().to_string(),
        key,
        &host,
        state.config.rtmp.port(),
    );
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

async fn list(State(state): State<Arc<AppState>>) -> Result<Json<Vec<RoomView>>, ApiError> {
    Ok(Json(state.rooms.list()?))
}

async fn one(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<RoomView>, ApiError> {
    Ok(Json(state.rooms.get(&id)?))
}

async fn close(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| {
            let (scheme, token) = h.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|t| !t.is_empty());
    state.rooms.close(&id, bearer)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn chat_ws(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let room = state.rooms.get(&id)?;
    let ws = ws.map_err(|e| ApiError::BadRequest(format!("chat needs a WebSocket: {e}")))?;
    let closed = room.status == "closed";
    let rooms = state.rooms.clone();
    let shutdown = state.shutdown.clone();
    Ok(ws
        .max_message_size(chat::WS_MAX_MESSAGE)
        .max_frame_size(chat::WS_MAX_MESSAGE)
        .on_upgrade(move |socket| chat::session(rooms, id, closed, socket, shutdown)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(host_name("example.com:8080"), "example.com");
        assert_eq!(host_name("example.com"), "example.com");
        assert_eq!(host_name("[::1]:8080"), "[::1]");
        let c = Created::new("r1".into(), "t".into(), "K".into(), "h:8080", 1935);
        assert_eq!(c.push.rtmp, "rtmp://h:1935/live/r1?key=K");
        assert_eq!(c.push.ws, "ws://h:8080/live/r1.flv?key=K");
        assert_eq!(c.play.hls, "http://h:8080/hls/live/r1/index.m3u8");
        assert_eq!(c.play.page, "http://h:8080/watch/r1");
    }
}
