//! HTTP side of HLS: playlists (with LL-HLS blocking reload), init segments, segments and
//! parts, all served from memory with CDN-friendly headers and `Access-Control-Allow-Origin: *`.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use tokio::time::Instant;

use super::playlist;
use super::{HlsStream, Window};
use crate::AppState;
use crate::auth::valid_name;
use crate::error::ApiError;

const PLAYLIST: &str = "application/vnd.apple.mpegurl";
/// Segment and part names are never reused (sequence numbers start at the Unix time).
const IMMUTABLE: &str = "public, max-age=3600, immutable";
/// `init.mp4` is named the same for every stream of a room: cache it only briefly.
const INIT_CACHE: &str = "public, max-age=2";
/// A blocking reload may ask at most this many segments ahead of the live edge.
const MAX_MSN_AHEAD: u64 = 2;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/hls/{app}/{room}/{file}", get(cmaf_file))
        .route("/hls/{app}/{room}/ts/{file}", get(ts_file))
        .layer(axum::middleware::map_response(cors))
}

async fn cors(mut res: Response) -> Response {
    res.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    res
}

/// LL-HLS delivery directives.
#[derive(Debug, serde::Deserialize)]
struct Directives {
    #[serde(rename = "_HLS_msn")]
    msn: Option<u64>,
    #[serde(rename = "_HLS_part")]
    part: Option<usize>,
}

fn find(state: &AppState, app: &str, room: &str) -> Result<Arc<HlsStream>, ApiError> {
    let key = format!("{app}/{room}");
    (valid_name(app) && valid_name(room))
        .then(|| state.hls.get(&key))
        .flatten()
        .ok_or_else(|| ApiError::NotFound(format!("no HLS for stream {key}")))
}

/// How long a blocked request may wait: three target durations, as the spec suggests.
fn block_timeout(w: &Window) -> Duration {
    Duration::from_secs(w.target_duration.max(1) * 3)
}

async fn cmaf_file(
    State(state): State<Arc<AppState>>,
    Path((app, room, file)): Path<(String, String, String)>,
    Query(directives): Query<Directives>,
) -> Result<Response, ApiError> {
    let stream = find(&state, &app, &room)?;
    if let Some(error) = stream.with(|w| w.cmaf_error.clone()) {
        return Err(ApiError::UnsupportedCodec(error));
    }
    if file == "index.m3u8" {
        return cmaf_playlist(&stream, directives).await;
    }
    if let Some(id) = parse_init(&file) {
        let init = stream.with(|w| w.init(id));
        return init
            .map(|data| media(data, "video/mp4", INIT_CACHE))
            .ok_or_else(|| not_found(&file));
    }
    if let Some(msn) = parse_number(&file, "seg", ".m4s") {
        let data = stream.with(|w| w.segment(msn).map(|s| s.cmaf.clone()));
        return data
            .map(|data| media(data, "video/iso.segment", IMMUTABLE))
            .ok_or_else(|| not_found(&file));
    }
    if let Some((msn, index)) = parse_part(&file) {
        // The preload-hinted part is held until it exists, as LL-HLS clients expect.
        if stream.with(|w| w.next_part() == (msn, index) && !w.ended) {
            let deadline = Instant::now() + stream.with(block_timeout);
            stream
                .wait_until(deadline, |w| w.has(msn, Some(index)))
                .await;
        }
        let data = stream.with(|w| w.part(msn, index));
        return data
            .map(|data| media(data, "video/iso.segment", IMMUTABLE))
            .ok_or_else(|| not_found(&file));
    }
    Err(not_found(&file))
}

async fn cmaf_playlist(stream: &HlsStream, d: Directives) -> Result<Response, ApiError> {
    let deadline = Instant::now() + stream.with(block_timeout);
    match d.msn {
        Some(msn) => {
            let live_edge = stream.with(|w| w.next_part().0);
            if msn > live_edge + MAX_MSN_AHEAD {
                return Err(ApiError::BadRequest(format!(
                    "_HLS_msn={msn} is too far ahead of the live edge ({live_edge})"
                )));
            }
            if !stream.wait_until(deadline, |w| w.has(msn, d.part)).await {
                return Err(ApiError::Unavailable(format!(
                    "segment {msn} part {:?} was not produced in time",
                    d.part
                )));
            }
        }
        None => {
            // A player needs a segment to start with: hold the first request until one exists.
            let ready = |w: &Window| w.ended || !w.segments.is_empty();
            if !stream.wait_until(deadline, ready).await {
                return Err(ApiError::Unavailable(
                    "the stream has no complete segment yet; retry shortly".into(),
                ));
            }
        }
    }
    Ok(playlist_response(stream.with(playlist::cmaf)))
}

async fn ts_file(
    State(state): State<Arc<AppState>>,
    Path((app, room, file)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let stream = find(&state, &app, &room)?;
    if let Some(error) = stream.with(|w| w.ts_error.clone()) {
        return Err(ApiError::UnsupportedCodec(error));
    }
    if file == "index.m3u8" {
        let deadline = Instant::now() + stream.with(block_timeout);
        let ready =
            |w: &Window| w.ended || w.ts_error.is_some() || w.listed().any(|s| s.ts.is_some());
        stream.wait_until(deadline, ready).await;
        if let Some(error) = stream.with(|w| w.ts_error.clone()) {
            return Err(ApiError::UnsupportedCodec(error));
        }
        return Ok(playlist_response(stream.with(playlist::ts)));
    }
    if let Some(msn) = parse_number(&file, "seg", ".ts") {
        let data = stream.with(|w| w.segment(msn).and_then(|s| s.ts.clone()));
        return data
            .map(|data| media(data, "video/mp2t", IMMUTABLE))
            .ok_or_else(|| not_found(&file));
    }
    Err(not_found(&file))
}

fn not_found(file: &str) -> ApiError {
    ApiError::NotFound(format!("no such HLS file: {file}"))
}

fn playlist_response(text: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, PLAYLIST),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        text,
    )
        .into_response()
}

fn media(data: Bytes, content_type: &'static str, cache: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, cache),
        ],
        data,
    )
        .into_response()
}

/// `init.mp4` → 0, `init-N.mp4` → N.
fn parse_init(file: &str) -> Option<u32> {
    if file == "init.mp4" {
        return Some(0);
    }
    file.strip_prefix("init-")?
        .strip_suffix(".mp4")?
        .parse()
        .ok()
}

/// `{prefix}N{suffix}` → N.
fn parse_number(file: &str, prefix: &str, suffix: &str) -> Option<u64> {
    let digits = file.strip_prefix(prefix)?.strip_suffix(suffix)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// `partN.M.m4s` → (N, M).
fn parse_part(file: &str) -> Option<(u64, usize)> {
    let rest = file.strip_prefix("part")?.strip_suffix(".m4s")?;
    let (msn, index) = rest.split_once('.')?;
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(msn) || !all_digits(index) {
        return None;
    }
    Some((msn.parse().ok()?, index.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(parse_init("init.mp4"), Some(0));
        assert_eq!(parse_init("init-3.mp4"), Some(3));
        assert_eq!(parse_init("init-x.mp4"), None);
        assert_eq!(parse_number("seg12.m4s", "seg", ".m4s"), Some(12));
        assert_eq!(parse_number("seg+1.m4s", "seg", ".m4s"), None);
        assert_eq!(parse_number("seg.ts", "seg", ".ts"), None);
        assert_eq!(parse_part("part7.2.m4s"), Some((7, 2)));
        assert_eq!(parse_part("part7..m4s"), None);
        assert_eq!(parse_part("part7.2.3.m4s"), None);
    }
}
