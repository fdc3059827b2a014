//! FLV over HTTP and WebSocket with real clients: ffmpeg pushes and plays, ffprobe checks
//! what viewers received; bad publishers are refused or cut off without harming others.

mod support;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use support::TestServer;
use support::media::{make_clip, probe, push, record, wait_child};
use tokio_tungstenite::tungstenite::Message;

/// Reads a WS-FLV viewer's bytes for `secs` into a file ffprobe can read.
async fn ws_view(url: String, secs: u64, out: std::path::PathBuf) -> usize {
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("ws connect");
    let mut bytes = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while let Ok(Some(msg)) = tokio::time::timeout_at(deadline, ws.next()).await {
        match msg.expect("ws message") {
            Message::Binary(b) => bytes.extend_from_slice(&b),
            Message::Close(_) => break,
            _ => {}
        }
    }
    std::fs::write(&out, &bytes).unwrap();
    bytes.len()
}

/// Reads a WebSocket until it ends; the code and reason of the close frame it got, if any.
async fn close_frame<S>(ws: &mut S) -> Option<(u16, String)>
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let mut close = None;
    while let Some(Ok(msg)) = ws.next().await {
        if let Message::Close(Some(frame)) = msg {
            close = Some((u16::from(frame.code), frame.reason.to_string()));
        }
    }
    close
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_flv_push_is_played_over_http_flv_and_ws_flv() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let clip = make_clip(dir.path(), "clip.flv", 8);
    let publisher = push(&clip, &server.url("/live/room1.flv?key=any"));
    server.wait_live("room1").await;

    let http_out = dir.path().join("http.flv");
    let viewer = record(&server.url("/live/room1.flv"), 3, &http_out);
    let ws_out = dir.path().join("ws.flv");
    let ws_bytes = ws_view(server.ws_url("/live/room1.flv"), 3, ws_out.clone()).await;
    assert!(
        wait_child(viewer, 20).await,
        "ffmpeg HTTP-FLV viewer failed"
    );
    assert!(ws_bytes > 10_000, "WS-FLV viewer got only {ws_bytes} bytes");

    let streams = server.streams().await;
    let s = &streams[0];
    assert_eq!(s["key"], "live/room1");
    assert_eq!(s["video"]["codec"], "h264");
    assert_eq!(s["video"]["width"], 320);
    assert_eq!(s["video"]["height"], 240);
    assert_eq!(s["audio"]["codec"], "aac");
    assert_eq!(s["publisher"], "http-flv");
    assert!(s["fps"].as_f64().unwrap() > 20.0, "{s}");
    assert!(s["bitrate_in"].as_f64().unwrap() > 10_000.0, "{s}");
    assert!(s["uptime_s"].as_f64().unwrap() >= 1.0, "{s}");

    for out in [&http_out, &ws_out] {
        let p = probe(out.to_str().unwrap());
        assert_eq!(p.codec_names(), ["aac", "h264"], "{out:?}");
        assert_eq!(p.video_stream()["width"], 320);
        p.assert_watched(50, &format!("{out:?}"));
    }
    assert!(wait_child(publisher, 30).await, "ffmpeg publisher failed");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_flv_push_split_anywhere_reaches_viewers() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let clip = std::fs::read(make_clip(dir.path(), "clip.flv", 6)).unwrap();
    let (mut pusher, _) = tokio_tungstenite::connect_async(server.ws_url("/live/wsroom.flv?key=k"))
        .await
        .unwrap();
    // Odd, changing message sizes so tags straddle messages; paced at about 2x real time.
    let mut pos = 0;
    let mut size = 1;
    let viewer_out = dir.path().join("ws_view.flv");
    let mut viewer = None;
    while pos < clip.len() {
        let end = (pos + size).min(clip.len());
        pusher
            .send(Message::Binary(clip[pos..end].to_vec().into()))
            .await
            .unwrap();
        pos = end;
        size = size * 7 % 9973 + 1;
        if viewer.is_none() && pos > clip.len() / 4 {
            server.wait_live("wsroom").await;
            viewer = Some(tokio::spawn(ws_view(
                server.ws_url("/live/wsroom.flv"),
                4,
                viewer_out.clone(),
            )));
        }
        tokio::time::sleep(Duration::from_micros(
            (3_000_000 * size as u64) / clip.len() as u64,
        ))
        .await;
    }
    let got = viewer.unwrap().await.unwrap();
    assert!(got > 10_000, "viewer got {got} bytes");
    pusher.close(None).await.unwrap();
    let p = probe(viewer_out.to_str().unwrap());
    assert_eq!(p.codec_names(), ["aac", "h264"]);
    p.assert_watched(40, "WS-FLV viewer");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_publishers_are_refused_alone() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let clip_path = make_clip(dir.path(), "clip.flv", 10);
    let clip = std::fs::read(&clip_path).unwrap();
    let publisher = push(&clip_path, &server.url("/live/good.flv?key=k"));
    server.wait_live("good").await;
    let viewer_out = dir.path().join("good.flv");
    let viewer = record(&server.url("/live/good.flv"), 5, &viewer_out);
    let client = reqwest::Client::new();
    // A whole body POSTed as a publisher: the status and the body of the answer.
    let post = |path: &str, body: Vec<u8>| {
        let sent = client.post(server.url(path)).body(body).send();
        async move {
            let res = sent.await.unwrap();
            (res.status(), res.text().await.unwrap())
        }
    };

    // Not FLV at all.
    let (status, text) = post("/live/bad1.flv?key=k", vec![0x47u8; 5000]).await;
    assert_eq!(status, 400);
    assert!(text.contains("not an FLV stream"), "{text}");
    // Truncated in the middle of a tag.
    let (status, text) = post("/live/bad2.flv?key=k", clip[..clip.len() / 3 + 7].to_vec()).await;
    assert_eq!(status, 400);
    assert!(text.contains("middle of an FLV tag"), "{text}");
    // A tag announcing more than the limit.
    let mut huge = clip[..13].to_vec();
    huge.extend_from_slice(&[9, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0]);
    let (status, text) = post("/live/bad3.flv?key=k", huge).await;
    assert_eq!(status, 400);
    assert!(text.contains("exceeds the limit"), "{text}");
    // A second publisher of a live stream.
    let (status, _) = post("/live/good.flv?key=k", clip.clone()).await;
    assert_eq!(status, 409);
    // Truncated over WebSocket: the client closes mid-tag; the server counts and logs it
    // (after a client-initiated close only an echo may be sent, so no reason goes back).
    let (mut ws, _) = tokio_tungstenite::connect_async(server.ws_url("/live/bad4.flv?key=k"))
        .await
        .unwrap();
    ws.send(Message::Binary(clip[..clip.len() / 5 + 3].to_vec().into()))
        .await
        .unwrap();
    ws.send(Message::Close(None)).await.unwrap();
    while let Some(Ok(_)) = ws.next().await {}
    // Garbage mid-stream over WebSocket: closed by the server with a reason.
    let (mut ws, _) = tokio_tungstenite::connect_async(server.ws_url("/live/bad6.flv?key=k"))
        .await
        .unwrap();
    // Up to the end of the first tag (header 13 bytes, tag header 11, body, size 4).
    let first_tag_end =
        13 + 11 + u32::from_be_bytes([0, clip[14], clip[15], clip[16]]) as usize + 4;
    ws.send(Message::Binary(clip[..first_tag_end].to_vec().into()))
        .await
        .unwrap();
    ws.send(Message::Binary(vec![0xEEu8; 64].into()))
        .await
        .unwrap();
    let (code, reason) = close_frame(&mut ws)
        .await
        .expect("server closed with a reason");
    assert_eq!(code, 4400);
    assert!(reason.contains("malformed FLV"), "{reason}");
    // Text over WebSocket.
    let (mut ws, _) = tokio_tungstenite::connect_async(server.ws_url("/live/bad5.flv?key=k"))
        .await
        .unwrap();
    ws.send(Message::Text("hello".into())).await.unwrap();
    let close_code = close_frame(&mut ws).await.map(|(code, _)| code);
    assert_eq!(close_code, Some(4400));

    // The good stream's viewer never noticed.
    assert!(wait_child(viewer, 20).await);
    let p = probe(viewer_out.to_str().unwrap());
    p.assert_watched(100, "good viewer");
    let metrics = server.metrics().await;
    assert!(
        metrics.contains("onair_refused_publishes_total 1\n"),
        "{metrics}"
    );
    // bad1..bad6 were each cut off on their own.
    assert!(
        metrics.contains("onair_rejected_connections_total 6\n"),
        "{metrics}"
    );
    assert!(wait_child(publisher, 30).await);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_publishers_time_out_and_play_headers_are_right() {
    let server =
        TestServer::start_with(|c| c.publisher_idle_timeout = Duration::from_millis(1500)).await;
    let dir = tempfile::tempdir().unwrap();
    let clip = std::fs::read(make_clip(dir.path(), "clip.flv", 2)).unwrap();
    // A WS publisher that sends a little and then nothing.
    let (mut ws, _) = tokio_tungstenite::connect_async(server.ws_url("/live/idle.flv?key=k"))
        .await
        .unwrap();
    ws.send(Message::Binary(clip[..clip.len() / 2].to_vec().into()))
        .await
        .unwrap();
    server.wait_live("idle").await;
    let res = reqwest::get(server.url("/live/idle.flv")).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "video/x-flv");
    assert_eq!(res.headers()["access-control-allow-origin"], "*");
    assert!(
        res.headers().get("content-length").is_none(),
        "a live body is chunked"
    );
    drop(res);
    let started = std::time::Instant::now();
    let mut code = None;
    while let Ok(Some(Ok(msg))) = tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
        if let Message::Close(Some(frame)) = msg {
            code = Some(u16::from(frame.code));
        }
    }
    assert_eq!(code, Some(4408), "idle publisher closed with the idle code");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "closed after {:?}",
        started.elapsed()
    );
    server.stop().await;
}

#[tokio::test]
async fn publishing_is_closed_without_open_publish() {
    let server = TestServer::start_with(|c| c.open_publish = false).await;
    let res = reqwest::Client::new()
        .post(server.url("/live/x.flv?key=k"))
        .body(vec![b'F', b'L', b'V'])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--open-publish")
    );
    // Playing a stream that is not live is a JSON 404.
    let res = reqwest::get(server.url("/live/x.flv")).await.unwrap();
    assert_eq!(res.status(), 404);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publisher_returning_within_grace_keeps_viewers_playing() {
    let server = TestServer::start_with(|c| c.republish_grace = Duration::from_secs(5)).await;
    let dir = tempfile::tempdir().unwrap();
    let clip = make_clip(dir.path(), "clip.flv", 4);
    let first = push(&clip, &server.url("/live/again.flv?key=k"));
    server.wait_live("again").await;
    let out = dir.path().join("view.flv");
    let viewer = record(&server.url("/live/again.flv"), 6, &out);
    assert!(wait_child(first, 20).await);
    // The publisher drops and comes back (a new connection, timestamps from zero again).
    let second = push(&clip, &server.url("/live/again.flv?key=k"));
    assert!(wait_child(second, 20).await);
    assert!(
        wait_child(viewer, 20).await,
        "the viewer connected throughout failed"
    );
    let p = probe(out.to_str().unwrap());
    let video = p.video();
    assert!(
        video.len() >= 130,
        "viewer saw {} frames across both sessions",
        video.len()
    );
    for w in video.windows(2) {
        assert!(
            w[1].dts_ms > w[0].dts_ms,
            "timestamps not monotonic across the republish: {} then {}",
            w[0].dts_ms,
            w[1].dts_ms
        );
    }
    server.stop().await;
}
