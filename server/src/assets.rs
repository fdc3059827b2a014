//! The client app built by trunk into `dist/`. Release builds embed it, so the one binary is
//! the whole server; debug builds read the folder at run time (rust-embed's debug mode).
//! `--web-root DIR` serves another build from disk instead (e.g. `trunk build --dist DIR`).

use std::path::Path;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "../dist"]
#[allow_missing = true]
struct Dist;

/// Serves `path` from the client build; paths that are not files get `index.html`, so the
/// client router handles `/watch/ROOM`, `/push.html` and the like.
pub fn serve(path: &str) -> Response {
    let file = path.trim_start_matches('/');
    if let Some(found) = (!file.is_empty()).then(|| Dist::get(file)).flatten() {
        return asset(file, found.data.into_owned(), found.metadata.mimetype());
    }
    match Dist::get("index.html") {
        Some(found) => index(found.data.into_owned()),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            Html(
                "<h1>onair</h1><p>The web client is not built. Run <code>cargo xtask run</code> \
                 (it builds the client with trunk and starts the server).</p>",
            ),
        )
            .into_response(),
    }
}

/// Like [`serve`], from a directory on disk. Only plain relative paths are looked up, so a
/// request cannot escape `root`.
pub async fn serve_dir(root: &Path, path: &str) -> Response {
    let file = path.trim_start_matches('/');
    let safe = !file.is_empty()
        && file
            .split('/')
            .all(|part| !part.is_empty() && part != ".." && part != "." && !part.contains('\\'));
    if safe && let Ok(data) = tokio::fs::read(root.join(file)).await {
        let mime = mime_guess::from_path(file).first_or_octet_stream();
        return asset(file, data, mime.as_ref());
    }
    match tokio::fs::read(root.join("index.html")).await {
        Ok(data) => index(data),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Html(format!(
                "<h1>onair</h1><p>Cannot read index.html from the web root {}: {e}</p>",
                root.display()
            )),
        )
            .into_response(),
    }
}

/// A file of the build: trunk names assets with a content hash, so they never change;
/// html must stay fresh.
fn asset(file: &str, body: Vec<u8>, mime: &str) -> Response {
    let cache = if file.ends_with(".html") {
        "no-cache"
    } else {
        "public, max-age=31536000, immutable"
    };
    response(body, mime, cache)
}

/// `index.html`, the answer for every client route.
fn index(body: Vec<u8>) -> Response {
    response(body, "text/html; charset=utf-8", "no-cache")
}

fn response(body: Vec<u8>, mime: &str, cache: &'static str) -> Response {
    let mut res = body.into_response();
    let headers = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(mime) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    res
}
