//! The rooms HTTP API (`/api/rooms`, README "Using it"), as typed async calls.

use gloo_net::http::Request;
use serde::Deserialize;

/// One room as listed by `GET /api/rooms` (fields the UI uses; others are ignored).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Room {
    pub id: String,
    pub title: String,
    pub live: bool,
    #[serde(default)]
    pub viewers: u64,
    #[serde(default)]
    pub likes: u64,
    /// `idle`, `live` or `closed`.
    #[serde(default)]
    pub status: String,
}

/// Push URLs from `POST /api/rooms`; each carries the stream key.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PushUrls {
    pub rtmp: String,
    pub ws: String,
    pub http: String,
}

/// Play URLs from `POST /api/rooms`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PlayUrls {
    pub page: String,
    pub flv: String,
    pub hls: String,
}

/// The answer to `POST /api/rooms`: the only time the stream key is ever shown.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Created {
    pub id: String,
    pub title: String,
    pub stream_key: String,
    pub push: PushUrls,
    pub play: PlayUrls,
}

/// The API's JSON error body: `{"error": {"code", "message"}}`.
#[derive(Deserialize)]
struct ApiError {
    error: ApiErrorBody,
}

#[derive(Deserialize)]
struct ApiErrorBody {
    message: String,
}

/// `GET path`, decoded from JSON; errors say whether the server was reached.
async fn get_json<T: serde::de::DeserializeOwned>(path: &str) -> Result<T, String> {
    let response = Request::get(path)
        .send()
        .await
        .map_err(|e| format!("could not reach the server: {e}"))?;
    if !response.ok() {
        return Err(format!("the server answered {}", response.status()));
    }
    response
        .json()
        .await
        .map_err(|e| format!("unexpected answer: {e}"))
}

/// Open rooms, live first (the server's order).
pub async fn rooms() -> Result<Vec<Room>, String> {
    get_json("/api/rooms").await
}

/// One track of a stream in `GET /api/streams` (the fields the UI uses).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct StreamTrack {
    /// RFC 6381 codec string where known (`avc1.64001f`, `mp4a.40.2`, `opus`).
    #[serde(default)]
    pub codec_string: Option<String>,
}

/// One stream as listed by `GET /api/streams`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Stream {
    /// `live/ROOM`.
    pub key: String,
    #[serde(default)]
    pub live: bool,
    #[serde(default)]
    pub video: Option<StreamTrack>,
    #[serde(default)]
    pub audio: Option<StreamTrack>,
    /// Viewers per protocol.
    #[serde(default)]
    pub viewers: std::collections::BTreeMap<String, u64>,
}

/// The stream of a room, if the server has one (live, or waiting for its publisher).
pub async fn stream(room: &str) -> Result<Option<Stream>, String> {
    let key = format!("live/{room}");
    let streams: Vec<Stream> = get_json("/api/streams").await?;
    Ok(streams.into_iter().find(|s| s.key == key))
}

/// One open room, or `None` if there is no such room (or it was closed).
///
/// Looked up in the list rather than with `GET /api/rooms/ID`: a 404 there is logged by the
/// browser as a console error, and an unknown room is an ordinary case for a link, not a bug.
pub async fn room(id: &str) -> Result<Option<Room>, String> {
    Ok(rooms().await?.into_iter().find(|r| r.id == id))
}

/// Creates a room; the answer holds the stream key, shown once.
pub async fn create_room(title: &str) -> Result<Created, String> {
    let body = serde_json::json!({ "title": title }).to_string();
    let response = Request::post("/api/rooms")
        .header("content-type", "application/json")
        .body(body)
        .map_err(|e| format!("could not build the request: {e}"))?
        .send()
        .await
        .map_err(|e| format!("could not reach the server: {e}"))?;
    if !response.ok() {
        let status = response.status();
        let detail = response
            .json::<ApiError>()
            .await
            .map(|e| e.error.message)
            .unwrap_or_default();
        return Err(format!("the server answered {status}: {detail}"));
    }
    response
        .json()
        .await
        .map_err(|e| format!("unexpected answer: {e}"))
}
