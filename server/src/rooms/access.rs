//! Who may watch a room: anyone, unless the room is private. A private room's media — FLV
//! over HTTP and WebSocket, HLS playlists, parts and segments, recordings — and its chat
//! need a signed play token (`?token=`) or the session of its owner, a moderator or an
//! admin. [`media_guard`] checks every media request before its handler runs; no byte of
//! media leaves without it. HLS playlists of a private room are rewritten so every part,
//! segment and init URI carries the token, so hls.js, Safari and ffmpeg need nothing else.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::db::Visibility;
use super::token::{self, TokenError};
use super::{APP, RoomError, Rooms, now_ms};
use crate::AppState;
use crate::accounts::Caller;
use crate::error::ApiError;

/// Playlists larger than this are not rewritten (they never are: a window of segments).
const MAX_PLAYLIST: usize = 1 << 20;

impl Rooms {
    /// `Ok` if the room may be watched with `token` (or by `caller`, resolved only when a
    /// private room has no token).
    pub fn check_watch(
        &self,
        id: &str,
        token: Option<&str>,
        caller: impl FnOnce() -> Result<Caller, ApiError>,
    ) -> Result<(), ApiError> {
        if self.visibility(id) != Some(Visibility::Private) {
            return Ok(());
        }
        if let Some(token) = token {
            return token::verify(&self.secret, id, token, now_ms() / 1000)
                .map(drop)
                .map_err(|e| RoomError::Token(e).into());
        }
        match caller()? {
            Caller::AdminToken => Ok(()),
            Caller::User(user) if self.is_staff(id, &user) => Ok(()),
            _ => Err(RoomError::Token(TokenError::Missing).into()),
        }
    }
}

/// The room a media path names, and whether the request publishes (which the stream key
/// authorizes instead): `/live/ROOM.flv`, `/hls/live/ROOM/…`, `/vod/ROOM/FILE`.
fn media_room(path: &str) -> Option<(&str, bool)> {
    if let Some(file) = path.strip_prefix("/live/") {
        return Some((file.strip_suffix(".flv")?, false));
    }
    if let Some(rest) = path.strip_prefix(&format!("/hls/{APP}/")) {
        return Some((rest.split('/').next()?, true));
    }
    if let Some(rest) = path.strip_prefix("/vod/") {
        return Some((rest.split('/').next()?, false));
    }
    None
}

/// The `name` parameter of a query string.
pub fn query_param<'a>(query: Option<&'a str>, name: &str) -> Option<&'a str> {
    query?
        .split('&')
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
        .filter(|v| !v.is_empty())
}

pub async fn media_guard(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let Some((room, is_hls)) = media_room(req.uri().path()) else {
        return next.run(req).await;
    };
    let query = req.uri().query();
    // A publisher (`/live/ROOM.flv?key=` by POST or WebSocket) is checked by the publish
    // authorization, not here. A plain GET with a `key` is still a viewer.
    if !is_hls && publishes(&req) && query_param(query, "key").is_some() {
        return next.run(req).await;
    }
    let token = query_param(query, "token").map(str::to_string);
    let room = room.to_string();
    let checked = state.rooms.check_watch(&room, token.as_deref(), || {
        Caller::from_headers(&state, req.headers())
    });
    if let Err(e) = checked {
        tracing::info!(room = %room, path = %req.uri().path(), "private media refused: {e}");
        return e.into_response();
    }
    let res = next.run(req).await;
    match token {
        Some(token) if is_hls && is_playlist(res.headers()) => with_token(res, &token).await,
        _ => res,
    }
}

/// POST/PUT (HTTP-FLV push) or a WebSocket upgrade (WS-FLV push when it has a key).
fn publishes(req: &Request) -> bool {
    crate::live::is_websocket_upgrade(req.headers())
        || matches!(
            *req.method(),
            axum::http::Method::POST | axum::http::Method::PUT
        )
}

fn is_playlist(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/vnd.apple.mpegurl"))
}

async fn with_token(res: Response, token: &str) -> Response {
    let (mut parts, body) = res.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_PLAYLIST).await else {
        return ApiError::Internal("playlist too large to sign".into()).into_response();
    };
    let text = String::from_utf8_lossy(&bytes);
    let rewritten = add_token(&text, token);
    parts.headers.remove(header::CONTENT_LENGTH);
    if let Ok(len) = HeaderValue::from_str(&rewritten.len().to_string()) {
        parts.headers.insert(header::CONTENT_LENGTH, len);
    }
    Response::from_parts(parts, Body::from(rewritten))
}

/// Appends `token=` to every URI of a playlist: URI lines and `URI="…"` attributes
/// (`EXT-X-MAP`, `EXT-X-PART`, `EXT-X-PRELOAD-HINT`, `EXT-X-RENDITION-REPORT`).
pub fn add_token(playlist: &str, token: &str) -> String {
    let with = |uri: &str| {
        let sep = if uri.contains('?') { '&' } else { '?' };
        format!("{uri}{sep}token={token}")
    };
    let mut out = String::with_capacity(playlist.len() + 64 * token.len());
    for line in playlist.lines() {
        if line.is_empty() {
        } else if !line.starts_with('#') {
            out.push_str(&with(line));
        } else if let Some(start) = line.find("URI=\"") {
            let value = start + 5;
            match line[value..].find('"') {
                Some(len) => {
                    out.push_str(&line[..value]);
                    out.push_str(&with(&line[value..value + len]));
                    out.push_str(&line[value + len..]);
                }
                None => out.push_str(line),
            }
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_params() {
        assert_eq!(media_room("/live/r1.flv"), Some(("r1", false)));
        assert_eq!(media_room("/hls/live/r1/ts/index.m3u8"), Some(("r1", true)));
        assert_eq!(media_room("/vod/r1/a.mp4"), Some(("r1", false)));
        assert_eq!(media_room("/api/rooms"), None);
        assert_eq!(query_param(Some("a=1&token=t&b"), "token"), Some("t"));
        assert_eq!(query_param(Some("tokens=x"), "token"), None);
        assert_eq!(query_param(Some("token="), "token"), None);
    }

    #[test]
    fn playlist_uris_carry_the_token() {
        let p = "#EXTM3U\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXT-X-PART:DURATION=0.3,URI=\"p1.0.m4s\",INDEPENDENT=YES\n#EXTINF:2.0,\nseg1.m4s\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"p1.1.m4s\"\n#EXT-X-RENDITION-REPORT:URI=\"../x.m3u8?_HLS_msn=1\",LAST-MSN=1\n";
        let out = add_token(p, "T");
        assert!(out.contains("URI=\"init.mp4?token=T\""), "{out}");
        assert!(
            out.contains("URI=\"p1.0.m4s?token=T\",INDEPENDENT=YES"),
            "{out}"
        );
        assert!(out.contains("\nseg1.m4s?token=T\n"), "{out}");
        assert!(out.contains("URI=\"p1.1.m4s?token=T\""), "{out}");
        assert!(out.contains("x.m3u8?_HLS_msn=1&token=T\""), "{out}");
        assert!(out.starts_with("#EXTM3U\n#EXT-X-MAP"));
    }
}
