//! HTTP side of recordings: `GET /api/recordings[?room=]` lists them, `/vod/ROOM/FILE`
//! serves them with Range requests (206, 416, `Accept-Ranges`) so a `<video>` can seek.
//!
//! Both path parts are validated strictly (a room name, a `digits-digits.flv|mp4` file
//! name) before they touch the file system, so no request can name a file outside
//! `DATA/recordings`.

use std::path::Path as FsPath;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::Uri;
use axum::response::Response;
use axum::routing::get;
use serde::{Deserialize, Serialize};
use tower_http::services::ServeDir;

use super::{recordings_dir, started_at, valid_file_name};
use crate::AppState;
use crate::auth::valid_name;
use crate::error::ApiError;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/recordings", get(list))
        .route("/vod/{room}/{file}", get(vod))
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    room: Option<String>,
    /// A private room's play token (with `room`).
    token: Option<String>,
}

/// One recording in the listing.
#[derive(Debug, Clone, Serialize)]
pub struct RecordingInfo {
    pub room: String,
    pub file: String,
    /// `flv` or `mp4`.
    pub format: String,
    pub bytes: u64,
    /// From the MP4's `mvhd`; `null` for FLV.
    pub duration_s: Option<f64>,
    pub url: String,
    /// UTC start time (from the file name), `YYYY-mm-ddTHH:MM:SSZ`.
    pub started_at: Option<String>,
}

async fn list(
    State(state): State<Arc<AppState>>,
    Query(q): Query<ListQuery>,
    headers: axum::http::HeaderMap,
) -> Result<Json<Vec<RecordingInfo>>, ApiError> {
    if let Some(room) = &q.room
        && !valid_name(room)
    {
        return Err(ApiError::BadRequest(format!("invalid room name {room:?}")));
    }
    let root = recordings_dir(&state.config.data);
    let room = q.room.clone();
    let mut found = tokio::task::spawn_blocking(move || scan(&root, room.as_deref()))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    // Without `room=`, only public rooms' recordings are listed; a private room's need its
    // token (which the URLs then carry) or its owner's, a moderator's or an admin's session.
    let caller = std::cell::OnceCell::new();
    let who = || {
        caller
            .get_or_init(|| crate::accounts::Caller::from_headers(&state, &headers).ok())
            .clone()
            .ok_or_else(|| ApiError::Internal("cannot read the session".into()))
    };
    found.retain_mut(|r| {
        use crate::rooms::db::Visibility;
        let named = q.room.as_deref() == Some(r.room.as_str());
        match state.rooms.visibility(&r.room) {
            Some(Visibility::Private) => {
                let token = q.token.as_deref().filter(|_| named);
                let ok = state.rooms.check_watch(&r.room, token, who).is_ok();
                if let (true, Some(t)) = (ok, token) {
                    r.url = format!("{}?token={t}", r.url);
                }
                ok
            }
            Some(Visibility::Unlisted) => named,
            _ => true,
        }
    });
    Ok(Json(found))
}

/// The recordings under `root` (of `room` only, if given), by room then file name.
pub fn scan(root: &FsPath, room: Option<&str>) -> Vec<RecordingInfo> {
    let rooms: Vec<String> = match room {
        Some(r) => vec![r.to_string()],
        None => read_names(root),
    };
    let mut out = Vec::new();
    for room in rooms.into_iter().filter(|r| valid_name(r)) {
        let dir = root.join(&room);
        for file in read_names(&dir).into_iter().filter(|f| valid_file_name(f)) {
            let path = dir.join(&file);
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            let (stem, format) = file.rsplit_once('.').unwrap_or((&file, ""));
            let duration_s = (format == "mp4").then(|| mp4_duration(&path)).flatten();
            out.push(RecordingInfo {
                url: format!("/vod/{room}/{file}"),
                started_at: started_at(stem),
                format: format.to_string(),
                room: room.clone(),
                bytes: meta.len(),
                duration_s,
                file,
            });
        }
    }
    out.sort_by(|a, b| (&a.room, &a.file).cmp(&(&b.room, &b.file)));
    out
}

fn read_names(dir: &FsPath) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The movie duration from `mvhd`, which our writer puts first in `moov`, right after
/// `ftyp`: a small read at the start of the file.
fn mp4_duration(path: &FsPath) -> Option<f64> {
    use std::io::Read;
    let mut head = vec![0u8; 4096];
    let mut file = std::fs::File::open(path).ok()?;
    let n = file.read(&mut head).ok()?;
    let head = &head[..n];
    let u32_at = |at: usize| -> Option<u32> {
        Some(u32::from_be_bytes(head.get(at..at + 4)?.try_into().ok()?))
    };
    let moov = usize::try_from(u32_at(0)?).ok()?;
    if head.get(moov + 4..moov + 8)? != b"moov" || head.get(moov + 12..moov + 16)? != b"mvhd" {
        return None;
    }
    let mvhd = moov + 8;
    let version = *head.get(mvhd + 8)?;
    let (timescale, duration) = if version == 1 {
        let d = u64::from_be_bytes(head.get(mvhd + 32..mvhd + 40)?.try_into().ok()?);
        (u32_at(mvhd + 28)?, d)
    } else {
        (u32_at(mvhd + 20)?, u64::from(u32_at(mvhd + 24)?))
    };
    (timescale > 0).then(|| duration as f64 / f64::from(timescale))
}

/// Serves one recording; `ServeDir` does the Range, conditional and content-type work.
async fn vod(
    State(state): State<Arc<AppState>>,
    Path((room, file)): Path<(String, String)>,
    mut req: Request,
) -> Result<Response, ApiError> {
    if !valid_name(&room) || !valid_file_name(&file) {
        return Err(ApiError::NotFound("no such recording".into()));
    }
    let dir = recordings_dir(&state.config.data).join(&room);
    *req.uri_mut() = format!("/{file}")
        .parse::<Uri>()
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let res = ServeDir::new(dir)
        .try_call(req)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(res.map(Body::new))
}
