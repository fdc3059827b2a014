//! The server's HTTP API (README "Using it" and "Deploy") as typed async calls: the session,
//! rooms and their management, private-room tokens.
//!
//! Every call sends the session cookie (`credentials: same-origin`) and, with a body, JSON.
//! A failure is an [`ApiError`] built from the server's `{"error": {"code", "message"}}`
//! (and `Retry-After` on 429), or from the network, so pages can say what went wrong.

use gloo_net::http::{Request, RequestBuilder, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use web_sys::RequestCredentials;

/// A signed-in user.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct User {
    pub name: String,
    /// `admin`, `streamer` or `moderator`.
    pub role: String,
}

impl User {
    /// Whether this user may create rooms and go live.
    pub fn can_stream(&self) -> bool {
        matches!(self.role.as_str(), "admin" | "streamer")
    }
}

/// `GET /api/session`, and the answer to a sign-in.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Session {
    /// `None` when the server answers 200 for a visitor (it may also answer 401).
    #[serde(default)]
    pub user: Option<User>,
    /// Signed in by a one-time link: a password must be chosen next.
    #[serde(default)]
    pub must_set_password: bool,
}

/// One room: what `GET /api/rooms` lists and `GET /api/rooms/ID` answers.
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
    /// The streamer who owns it (`None` for rooms made before accounts, or by the CLI).
    #[serde(default)]
    pub owner: Option<String>,
    /// `public`, `unlisted` or `private`.
    #[serde(default = "public")]
    pub visibility: String,
    /// Shown to the owner and admins only.
    #[serde(default)]
    pub moderators: Option<Vec<String>>,
}

fn public() -> String {
    "public".into()
}

/// Push URLs from `POST /api/rooms` (and a key rotation); each carries the stream key.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PushUrls {
    pub rtmp: String,
    #[serde(default)]
    pub rtmps: Option<String>,
    pub ws: String,
    pub http: String,
}

/// Play URLs of a room (with `?token=` when they come with a private-room token).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PlayUrls {
    pub page: String,
    pub flv: String,
    #[serde(default)]
    pub ws_flv: Option<String>,
    pub hls: String,
}

/// The answer to `POST /api/rooms` and `POST /api/rooms/ID/key`: the only time the stream
/// key is ever shown.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Created {
    pub id: String,
    pub title: String,
    pub stream_key: String,
    #[serde(default = "public")]
    pub visibility: String,
    pub push: PushUrls,
    pub play: PlayUrls,
}

/// A private room's play token (`POST /api/rooms/ID/tokens`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PlayToken {
    pub token: String,
    /// Unix time in milliseconds.
    pub expires_at: f64,
    pub play: PlayUrls,
}

/// Why a call failed.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// The HTTP status; 0 when the server was not reached or answered nonsense.
    pub status: u16,
    /// The server's error code (`unauthorized`, `forbidden`, `too_many_requests`, …).
    pub code: String,
    pub message: String,
    /// Seconds to wait, from `Retry-After`.
    pub retry_after: Option<u32>,
}

impl ApiError {
    fn network(message: String) -> Self {
        Self {
            status: 0,
            code: "network".into(),
            message,
            retry_after: None,
        }
    }

    /// Not signed in, or the token is missing or expired.
    pub fn unauthorized(&self) -> bool {
        self.status == 401
    }

    /// Signed in or holding a token, but not allowed.
    pub fn forbidden(&self) -> bool {
        self.status == 403
    }

    pub fn not_found(&self) -> bool {
        self.status == 404
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.status, self.retry_after) {
            (429, Some(s)) => write!(f, "too many tries: try again in {s} s"),
            (429, None) => write!(f, "too many tries: try again later"),
            (0, _) => write!(f, "{}", self.message),
            _ if self.message.is_empty() => write!(f, "the server answered {}", self.status),
            _ => write!(f, "{}", self.message),
        }
    }
}

/// The API's JSON error body.
#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// Sends a request with the session cookie; a non-2xx answer becomes an [`ApiError`].
async fn send(
    builder: RequestBuilder,
    body: Option<serde_json::Value>,
) -> Result<Response, ApiError> {
    let builder = builder.credentials(RequestCredentials::SameOrigin);
    let request = match body {
        Some(body) => builder.json(&body),
        None => builder.build(),
    }
    .map_err(|e| ApiError::network(format!("could not build the request: {e}")))?;
    let response = request
        .send()
        .await
        .map_err(|e| ApiError::network(format!("could not reach the server: {e}")))?;
    if response.ok() {
        return Ok(response);
    }
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.trim().parse().ok());
    let detail = response.json::<ErrorBody>().await.ok().map(|b| b.error);
    Err(ApiError {
        status,
        code: detail.as_ref().map(|d| d.code.clone()).unwrap_or_default(),
        message: detail.map(|d| d.message).unwrap_or_default(),
        retry_after,
    })
}

async fn json<T: DeserializeOwned>(response: Response) -> Result<T, ApiError> {
    response
        .json()
        .await
        .map_err(|e| ApiError::network(format!("unexpected answer: {e}")))
}

async fn get<T: DeserializeOwned>(path: &str) -> Result<T, ApiError> {
    json(send(Request::get(path), None).await?).await
}

fn encode(part: &str) -> String {
    String::from(js_sys::encode_uri_component(part))
}

/// `?token=T` for a private room's URLs, or nothing.
pub fn token_query(token: Option<&str>) -> String {
    token.map_or(String::new(), |t| format!("?token={}", encode(t)))
}

// ---- session ----------------------------------------------------------------------------

/// Who is signed in: `None` for a visitor.
pub async fn session() -> Result<Option<Session>, ApiError> {
    match get::<Session>("/api/session").await {
        Ok(session) if session.user.is_some() => Ok(Some(session)),
        Ok(_) => Ok(None),
        Err(e) if e.unauthorized() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Signs in with a name and password.
pub async fn sign_in(name: &str, password: &str) -> Result<Session, ApiError> {
    let body = serde_json::json!({ "name": name, "password": password });
    json(send(Request::post("/api/session"), Some(body)).await?).await
}

/// Signs in with a one-time link token (then a password must be set).
pub async fn sign_in_link(token: &str) -> Result<Session, ApiError> {
    let body = serde_json::json!({ "link": token });
    json(send(Request::post("/api/session"), Some(body)).await?).await
}

pub async fn sign_out() -> Result<(), ApiError> {
    send(Request::delete("/api/session"), None).await.map(drop)
}

/// Sets the password; `current` is needed unless the account has none yet.
pub async fn set_password(password: &str, current: Option<&str>) -> Result<(), ApiError> {
    let mut body = serde_json::json!({ "password": password });
    if let Some(current) = current {
        body["current"] = current.into();
    }
    send(Request::put("/api/session/password"), Some(body))
        .await
        .map(drop)
}

// ---- rooms ------------------------------------------------------------------------------

/// Public rooms, live first (the server's order).
pub async fn rooms() -> Result<Vec<Room>, ApiError> {
    get("/api/rooms").await
}

/// The signed-in user's rooms, every visibility.
pub async fn my_rooms() -> Result<Vec<Room>, ApiError> {
    get("/api/rooms?mine=1").await
}

/// One room; private rooms need `token` or a session that may see them.
pub async fn room(id: &str, token: Option<&str>) -> Result<Room, ApiError> {
    get(&format!("/api/rooms/{}{}", encode(id), token_query(token))).await
}

/// A room by id for a viewer: looked up in the public list first (an unknown room is an
/// ordinary case for a link, and a 404 is logged by the browser as a console error), then
/// directly (unlisted and private rooms). `Ok(None)`: no such room, or it was closed.
pub async fn find_room(id: &str, token: Option<&str>) -> Result<Option<Room>, ApiError> {
    if token.is_none()
        && let Some(room) = rooms().await?.into_iter().find(|r| r.id == id)
    {
        return Ok(Some(room));
    }
    match room(id, token).await {
        Ok(room) if room.status == "closed" => Ok(None),
        Ok(room) => Ok(Some(room)),
        Err(e) if e.not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Creates a room; the answer holds the stream key, shown once.
pub async fn create_room(title: &str, visibility: &str) -> Result<Created, ApiError> {
    let body = serde_json::json!({ "title": title, "visibility": visibility });
    json(send(Request::post("/api/rooms"), Some(body)).await?).await
}

/// Changes a room's visibility.
pub async fn set_visibility(id: &str, visibility: &str) -> Result<Room, ApiError> {
    let body = serde_json::json!({ "visibility": visibility });
    let path = format!("/api/rooms/{}", encode(id));
    json(send(Request::patch(&path), Some(body)).await?).await
}

/// Closes a room for good.
pub async fn close_room(id: &str) -> Result<(), ApiError> {
    let path = format!("/api/rooms/{}", encode(id));
    send(Request::delete(&path), None).await.map(drop)
}

/// A new stream key (the old one stops working; a running publisher is cut off).
pub async fn rotate_key(id: &str) -> Result<Created, ApiError> {
    let path = format!("/api/rooms/{}/key", encode(id));
    json(send(Request::post(&path), None).await?).await
}

pub async fn add_moderator(id: &str, name: &str) -> Result<(), ApiError> {
    let path = format!("/api/rooms/{}/moderators/{}", encode(id), encode(name));
    send(Request::put(&path), None).await.map(drop)
}

pub async fn remove_moderator(id: &str, name: &str) -> Result<(), ApiError> {
    let path = format!("/api/rooms/{}/moderators/{}", encode(id), encode(name));
    send(Request::delete(&path), None).await.map(drop)
}

/// A play link for a private room, valid `ttl_s` seconds.
pub async fn create_token(id: &str, ttl_s: u64) -> Result<PlayToken, ApiError> {
    let body = serde_json::json!({ "ttl_s": ttl_s });
    let path = format!("/api/rooms/{}/tokens", encode(id));
    json(send(Request::post(&path), Some(body)).await?).await
}

// ---- streams (admin view) ---------------------------------------------------------------

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
}

/// The stream `live/NAME` from the stream list, which only admins (or a server with public
/// metrics) may read: used for a stream pushed by name without a room (`--open-publish`).
pub async fn stream(name: &str) -> Result<Option<Stream>, ApiError> {
    let key = format!("live/{name}");
    let streams: Vec<Stream> = get("/api/streams").await?;
    Ok(streams.into_iter().find(|s| s.key == key))
}
