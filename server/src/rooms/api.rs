//! The rooms HTTP API (see the table in the README): listing, creating and managing rooms,
//! play tokens, and the chat WebSocket at `/api/rooms/ID/chat`. Every error goes out
//! through [`ApiError`]; who may do what is decided in [`super::owner`] and
//! [`super::access`].

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde::{Deserialize, Serialize};

use super::db::Visibility;
use super::{APP, RoomError, RoomView, chat};
use crate::AppState;
use crate::accounts::caller::bearer;
use crate::accounts::{AccountError, Caller, Role};
use crate::error::ApiError;
use crate::http::body::JsonBody;
use crate::http::site::Site;

/// The rooms routes, merged into the main router.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/rooms", get(list).post(create))
        .route("/api/rooms/{id}", get(one).patch(update).delete(close))
        .route("/api/rooms/{id}/key", post(rotate_key))
        .route("/api/rooms/{id}/tokens", post(issue_token))
        .route(
            "/api/rooms/{id}/moderators/{name}",
            put(add_moderator).delete(remove_moderator),
        )
        .route("/api/rooms/{id}/chat", get(chat_ws))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateRoom {
    title: String,
    #[serde(default)]
    visibility: Visibility,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateRoom {
    title: Option<String>,
    visibility: Option<Visibility>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TokenRequest {
    ttl_s: Option<u64>,
    viewer: Option<String>,
}

#[derive(Deserialize)]
struct ListQuery {
    mine: Option<String>,
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// Where a server is reached: what URLs handed out are built from.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub https: bool,
    /// `name[:port]` of the HTTP(S) server.
    pub host: String,
    pub rtmp_port: u16,
    pub rtmps_port: Option<u16>,
}

impl Endpoints {
    pub fn of(state: &AppState, site: &Site) -> Self {
        Self {
            https: site.https,
            host: site.host.clone(),
            rtmp_port: state.config.rtmp.port(),
            rtmps_port: state.config.rtmps.map(|a| a.port()),
        }
    }
}

/// Where to push a room's stream; each URL carries the key.
#[derive(Debug, Serialize)]
pub struct PushUrls {
    pub rtmp: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtmps: Option<String>,
    pub ws: String,
    pub http: String,
}

/// Where to watch a room (with `?token=` for a private room's play links).
#[derive(Debug, Serialize)]
pub struct PlayUrls {
    pub page: String,
    pub flv: String,
    pub ws_flv: String,
    pub hls: String,
}

impl PlayUrls {
    pub fn new(id: &str, at: &Endpoints, token: Option<&str>) -> Self {
        let (http, ws) = if at.https {
            ("https", "wss")
        } else {
            ("http", "ws")
        };
        let host = &at.host;
        let q = token.map_or(String::new(), |t| format!("?token={t}"));
        Self {
            page: format!("{http}://{host}/watch/{id}{q}"),
            flv: format!("{http}://{host}/{APP}/{id}.flv{q}"),
            ws_flv: format!("{ws}://{host}/{APP}/{id}.flv{q}"),
            hls: format!("{http}://{host}/hls/{APP}/{id}/index.m3u8{q}"),
        }
    }
}

/// The answer to creating a room or rotating its key: the only responses with the key.
#[derive(Debug, Serialize)]
pub struct Created {
    pub id: String,
    pub title: String,
    pub stream_key: String,
    pub visibility: Visibility,
    pub push: PushUrls,
    pub play: PlayUrls,
}

impl Created {
    pub fn new(
        id: String,
        title: String,
        key: String,
        visibility: Visibility,
        at: &Endpoints,
    ) -> Self {
        let name = host_name(&at.host);
        let (http, ws) = if at.https {
            ("https", "wss")
        } else {
            ("http", "ws")
        };
        let host = &at.host;
        Self {
            push: PushUrls {
                rtmp: format!("rtmp://{name}:{}/{APP}/{id}?key={key}", at.rtmp_port),
                rtmps: at
                    .rtmps_port
                    .map(|port| format!("rtmps://{name}:{port}/{APP}/{id}?key={key}")),
                ws: format!("{ws}://{host}/{APP}/{id}.flv?key={key}"),
                http: format!("{http}://{host}/{APP}/{id}.flv?key={key}"),
            },
            play: PlayUrls::new(&id, at, None),
            id,
            title,
            stream_key: key,
            visibility,
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

async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    site: Site,
    JsonBody(req): JsonBody<CreateRoom>,
) -> Result<Response, ApiError> {
    let owner = caller.signed_in().map_err(RoomError::from)?;
    if owner.role == Role::Moderator {
        return Err(AccountError::Role("streamer").into());
    }
    let (id, key) = state
        .rooms
        .create(&req.title, Some(owner.id), req.visibility)?;
    tracing::info!(room = %id, owner = %owner.name, "room created");
    let title = req.title.trim().to_string();
    let created = Created::new(
        id,
        title,
        key,
        req.visibility,
        &Endpoints::of(&state, &site),
    );
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<RoomView>>, ApiError> {
    if q.mine.is_some_and(|m| m != "0" && m != "false") {
        let user = caller.signed_in().map_err(RoomError::from)?;
        return Ok(Json(state.rooms.list_of(user.id)?));
    }
    Ok(Json(state.rooms.list()?))
}

async fn one(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(q): Query<TokenQuery>,
    headers: HeaderMap,
) -> Result<Json<RoomView>, ApiError> {
    let room = state.rooms.room(&id)?;
    let caller = Caller::from_headers(&state, &headers)?;
    state
        .rooms
        .check_watch(&id, q.token.as_deref(), || Ok(caller.clone()))?;
    if state.rooms.manages(&room, &caller) {
        return Ok(Json(state.rooms.view_managed(room)?));
    }
    Ok(Json(state.rooms.get(&id)?))
}

async fn update(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    caller: Caller,
    JsonBody(req): JsonBody<UpdateRoom>,
) -> Result<Json<RoomView>, ApiError> {
    let view = state
        .rooms
        .update(&id, &caller, req.title.as_deref(), req.visibility)?;
    Ok(Json(view))
}

async fn close(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    caller: Caller,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    state.rooms.close(&id, &caller, bearer(&headers))?;
    Ok(StatusCode::NO_CONTENT)
}

async fn rotate_key(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    caller: Caller,
    site: Site,
) -> Result<Json<Created>, ApiError> {
    let (room, key) = state.rooms.rotate_key(&id, &caller)?;
    let at = Endpoints::of(&state, &site);
    Ok(Json(Created::new(
        room.id,
        room.title,
        key,
        room.visibility,
        &at,
    )))
}

#[derive(Serialize)]
struct Issued {
    token: String,
    /// Unix time in milliseconds.
    expires_at: u64,
    play: PlayUrls,
}

async fn issue_token(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    caller: Caller,
    site: Site,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    // The body is optional here: no body means the defaults.
    let req: TokenRequest = if body.is_empty() {
        TokenRequest::default()
    } else if crate::http::body::is_json(&headers) {
        serde_json::from_slice(&body).map_err(|e| RoomError::BadBody(e.to_string()))?
    } else {
        return Err(ApiError::UnsupportedMediaType(
            "send the request body as JSON (Content-Type: application/json)".into(),
        ));
    };
    let ttl = req.ttl_s.map(Duration::from_secs);
    let (token, expires_at) = state
        .rooms
        .issue_token(&id, &caller, ttl, req.viewer.as_deref())?;
    let play = PlayUrls::new(&id, &Endpoints::of(&state, &site), Some(&token));
    tracing::info!(room = %id, "play token issued");
    let issued = Issued {
        token,
        expires_at,
        play,
    };
    Ok((StatusCode::CREATED, Json(issued)).into_response())
}

async fn moderator(
    state: &AppState,
    id: &str,
    name: &str,
    caller: &Caller,
    on: bool,
) -> Result<StatusCode, ApiError> {
    let user = state
        .accounts
        .user(name)?
        .ok_or_else(|| AccountError::NoSuchUser(name.to_string()))?;
    state.rooms.set_moderator(id, caller, &user, on)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn add_moderator(
    State(state): State<Arc<AppState>>,
    Path((id, name)): Path<(String, String)>,
    caller: Caller,
) -> Result<StatusCode, ApiError> {
    moderator(&state, &id, &name, &caller, true).await
}

async fn remove_moderator(
    State(state): State<Arc<AppState>>,
    Path((id, name)): Path<(String, String)>,
    caller: Caller,
) -> Result<StatusCode, ApiError> {
    moderator(&state, &id, &name, &caller, false).await
}

async fn chat_ws(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(q): Query<TokenQuery>,
    site: Site,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let room = state.rooms.get(&id)?;
    // A page on another site must not join chats with our visitors' cookies.
    if let Some(origin) = headers.get(header::ORIGIN)
        && !crate::http::guard::same_site(&state, &site, origin)
    {
        return Err(ApiError::Forbidden(format!(
            "chat from another site refused (Origin {})",
            origin.to_str().unwrap_or("?")
        )));
    }
    state.rooms.check_watch(&id, q.token.as_deref(), || {
        Caller::from_headers(&state, &headers)
    })?;
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
        let mut at = Endpoints {
            https: false,
            host: "h:8080".into(),
            rtmp_port: 1935,
            rtmps_port: None,
        };
        let c = Created::new("r1".into(), "t".into(), "K".into(), Visibility::Public, &at);
        assert_eq!(c.push.rtmp, "rtmp://h:1935/live/r1?key=K");
        assert_eq!(c.push.ws, "ws://h:8080/live/r1.flv?key=K");
        assert_eq!(c.play.hls, "http://h:8080/hls/live/r1/index.m3u8");
        assert_eq!(c.play.page, "http://h:8080/watch/r1");
        assert!(c.push.rtmps.is_none());
        at.https = true;
        at.rtmps_port = Some(1936);
        let c = Created::new(
            "r1".into(),
            "t".into(),
            "K".into(),
            Visibility::Private,
            &at,
        );
        assert_eq!(c.push.ws, "wss://h:8080/live/r1.flv?key=K");
        assert_eq!(
            c.push.rtmps.as_deref(),
            Some("rtmps://h:1936/live/r1?key=K")
        );
        let p = PlayUrls::new("r1", &at, Some("T"));
        assert_eq!(p.ws_flv, "wss://h:8080/live/r1.flv?token=T");
        assert_eq!(p.page, "https://h:8080/watch/r1?token=T");
    }
}
