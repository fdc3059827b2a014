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
        Some(found) => index(found.data.into_owned(), path),
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
        Ok(data) => index(data, path),
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

/// `index.html`, the answer for every client route, with the page's security policy.
fn index(body: Vec<u8>, path: &str) -> Response {
    let csp = content_security_policy(&body, path);
    let mut res = response(body, "text/html; charset=utf-8", "no-cache");
    let headers = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    if !is_embed(path) {
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    res
}

/// `/embed/ROOM` is the one page other sites may frame.
fn is_embed(path: &str) -> bool {
    path.starts_with("/embed/")
}

/// The app's policy: only our own scripts (trunk's inline loader allowed by its hash, wasm
/// compiled by `'wasm-unsafe-eval'`), media and connections to our own origin, and no
/// framing except on the embed page.
pub fn content_security_policy(html: &[u8], path: &str) -> String {
    let hashes: String = inline_scripts(html)
        .map(|script| {
            format!(
                " 'sha256-{}'",
                crate::secret::base64(&crate::secret::sha256(script))
            )
        })
        .collect();
    let ancestors = if is_embed(path) { "*" } else { "'none'" };
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'{hashes}; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; media-src 'self' blob:; \
         connect-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'self'; \
         form-action 'self'; frame-ancestors {ancestors}"
    )
}

/// The bodies of `<script>` elements without a `src` (trunk writes one to load the wasm).
fn inline_scripts(html: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = html;
    std::iter::from_fn(move || {
        loop {
            let start = find(rest, b"<script")?;
            let tag_end = start + find(&rest[start..], b">")?;
            let tag = &rest[start..tag_end];
            let body_end = tag_end + 1 + find(&rest[tag_end + 1..], b"</script>")?;
            let body = &rest[tag_end + 1..body_end];
            rest = &rest[body_end..];
            if find(tag, b" src=").is_none() {
                return Some(body);
            }
        }
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csp_hashes_inline_scripts_only() {
        let html =
            b"<html><script src=\"/a.js\"></script><script type=\"module\">go()</script></html>";
        let scripts: Vec<_> = inline_scripts(html).collect();
        assert_eq!(scripts, vec![&b"go()"[..]]);
        let csp = content_security_policy(html, "/watch/r");
        let expected = crate::secret::base64(&crate::secret::sha256(b"go()"));
        assert!(csp.contains(&format!("'sha256-{expected}'")), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(content_security_policy(html, "/embed/r").contains("frame-ancestors *"));
        let res = index(html.to_vec(), "/");
        assert_eq!(res.headers()[header::X_FRAME_OPTIONS], "DENY");
        assert!(
            !index(html.to_vec(), "/embed/r")
                .headers()
                .contains_key(header::X_FRAME_OPTIONS)
        );
    }
}
