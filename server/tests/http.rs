//! The HTTP front over real sockets: health, JSON 404s for API paths, the client fallback,
//! and graceful shutdown.

mod support;

use support::TestServer;

#[tokio::test]
async fn healthz_answers_and_shutdown_is_clean() {
    let server = TestServer::start().await;
    let res = reqwest::get(server.url("/healthz")).await.unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    server.stop().await;
}

#[tokio::test]
async fn unknown_api_paths_are_json_404s() {
    let server = TestServer::start().await;
    for path in ["/api/nope", "/live/x/y", "/hls/nothing", "/vod/none.mp4"] {
        let res = reqwest::get(server.url(path)).await.unwrap();
        assert_eq!(res.status(), 404, "{path}");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found", "{path}");
    }
    server.stop().await;
}

#[tokio::test]
async fn client_routes_fall_back_to_the_app() {
    let server = TestServer::start().await;
    // Whether or not the client was built, client routes are answered with HTML: the app's
    // index.html, or a page that says how to build it.
    for path in ["/", "/push.html", "/watch/room1", "/play.html?room=x"] {
        let res = reqwest::get(server.url(path)).await.unwrap();
        let ct = res.headers()["content-type"].to_str().unwrap().to_string();
        assert!(ct.starts_with("text/html"), "{path}: {ct}");
        let status = res.status().as_u16();
        let body = res.text().await.unwrap();
        assert!(
            (status == 200 && body.contains("<html"))
                || (status == 503 && body.contains("cargo xtask run")),
            "{path}: {status} {body}"
        );
    }
    server.stop().await;
}
