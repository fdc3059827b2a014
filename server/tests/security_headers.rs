//! Browser hardening over real sockets: the page's Content-Security-Policy allows exactly
//! its inline loader (by hash), framing is refused except on `/embed/ROOM`, every response
//! says `nosniff`; behind a trusted proxy the forwarded scheme and host shape URLs and
//! cookies, and an untrusted peer cannot forge them.

mod support;

use serde_json::json;
use support::TestServer;
use support::accounts::{PASSWORD, status_json};

const LOADER: &str = "import init from '/app.js'; init('/app_bg.wasm');";

fn web_root() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let html = format!(
        "<!doctype html><html><head><script src=\"/other.js\"></script>\
         <script type=\"module\">{LOADER}</script></head><body></body></html>"
    );
    std::fs::write(dir.path().join("index.html"), html).unwrap();
    dir
}

#[tokio::test]
async fn pages_carry_a_csp_that_allows_only_their_own_loader() {
    let root = web_root();
    let dir = root.path().to_path_buf();
    let server = TestServer::start_with(move |c| c.web_root = Some(dir)).await;
    let res = reqwest::get(server.url("/push.html")).await.unwrap();
    assert_eq!(res.status(), 200);
    let h = res.headers();
    let csp = h["content-security-policy"].to_str().unwrap();
    // The hash of exactly the inline script, computed here independently with sha2.
    use sha2::Digest;
    let digest = sha2::Sha256::digest(LOADER.as_bytes());
    let b64 = base64_std(&digest);
    assert!(csp.contains(&format!("'sha256-{b64}'")), "{csp}");
    for directive in [
        "default-src 'self'",
        "script-src 'self' 'wasm-unsafe-eval'",
        "object-src 'none'",
        "frame-ancestors 'none'",
        "connect-src 'self'",
    ] {
        assert!(csp.contains(directive), "{directive} missing: {csp}");
    }
    assert!(
        !csp.contains("unsafe-eval'") || csp.contains("wasm-unsafe-eval"),
        "{csp}"
    );
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "same-origin");

    let res = reqwest::get(server.url("/embed/someroom")).await.unwrap();
    let h = res.headers();
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors *")
    );
    assert!(
        h.get("x-frame-options").is_none(),
        "the embed page may be framed"
    );

    // The chat WebSocket refuses pages of other sites.
    let created = server.create_room("chat").await;
    let chat = server.ws_url(&format!(
        "/api/rooms/{}/chat",
        created["id"].as_str().unwrap()
    ));
    let mut req = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
        chat.as_str(),
    )
    .unwrap();
    req.headers_mut()
        .insert("origin", "https://evil.example".parse().unwrap());
    match tokio_tungstenite::connect_async(req).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 403),
        other => panic!("cross-site chat was not refused: {other:?}"),
    }
    let mut req = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
        chat.as_str(),
    )
    .unwrap();
    let own = format!("http://{}", server.http);
    req.headers_mut().insert("origin", own.parse().unwrap());
    assert!(
        tokio_tungstenite::connect_async(req).await.is_ok(),
        "same-site chat"
    );

    for path in ["/api/rooms", "/healthz", "/api/nothing"] {
        let res = reqwest::get(server.url(path)).await.unwrap();
        assert_eq!(res.headers()["x-content-type-options"], "nosniff", "{path}");
    }
    server.stop().await;
}

/// Standard base64 (the form CSP hashes take), written out here so the test does not use
/// the server's own encoder.
fn base64_std(bytes: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[tokio::test]
async fn forwarded_headers_count_only_from_trusted_proxies() {
    for trusted in [true, false] {
        let server = TestServer::start_with(|c| {
            if trusted {
                c.trusted_proxies = vec!["127.0.0.0/8".into()];
            }
        })
        .await;
        server.add_user("sam", "streamer").await;
        let client = reqwest::Client::new();
        let res = client
            .post(server.url("/api/session"))
            .header("x-forwarded-proto", "https")
            .header("x-forwarded-host", "tv.example")
            .json(&json!({"name": "sam", "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        let cookie = res.headers()["set-cookie"].to_str().unwrap().to_string();
        assert_eq!(cookie.contains("; Secure"), trusted, "{cookie}");
        let session = cookie.split(';').next().unwrap().to_string();
        let res = client
            .post(server.url("/api/rooms"))
            .header("cookie", &session)
            .header("x-forwarded-proto", "https")
            .header("x-forwarded-host", "tv.example")
            .header(
                "origin",
                if trusted {
                    "https://tv.example"
                } else {
                    "https://evil.example"
                },
            )
            .json(&json!({"title": "t"}))
            .send()
            .await
            .unwrap();
        let (status, body) = status_json(res).await;
        if trusted {
            assert_eq!(status, 201, "{body}");
            assert_eq!(
                body["play"]["ws_flv"].as_str().unwrap(),
                format!("wss://tv.example/live/{}.flv", body["id"].as_str().unwrap())
            );
        } else {
            assert_eq!(
                status, 403,
                "a forged origin from an untrusted peer: {body}"
            );
            let res = client
                .post(server.url("/api/rooms"))
                .header("cookie", &session)
                .header("x-forwarded-proto", "https")
                .header("x-forwarded-host", "tv.example")
                .json(&json!({"title": "t"}))
                .send()
                .await
                .unwrap();
            let (status, body) = status_json(res).await;
            assert_eq!(status, 201, "{body}");
            let page = body["play"]["page"].as_str().unwrap();
            assert!(
                page.starts_with(&format!("http://{}/", server.http)),
                "{page}"
            );
        }
        server.stop().await;
    }
}
