//! A private room over real sockets: without a valid token every media URL (HTTP-FLV,
//! WS-FLV, RTMP play, both HLS playlists, parts, recordings) and the chat are refused with a
//! JSON error and no media byte; with the owner's token ffmpeg plays HTTP-FLV, RTMP and
//! both HLS flavours (the playlists carry the token into every URI); expired or modified
//! tokens are refused; the owner's session works without a token.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::TestServer;
use support::accounts::status_json;
use support::media::{make_clip, probe, push, record, wait_child};

fn assert_refused(status: u16, body: &Value, want: u16, what: &str) {
    assert_eq!(status, want, "{what}: {body}");
    assert!(
        body["error"]["message"].is_string(),
        "{what}: not a JSON error: {body}"
    );
}

/// GET without any credentials: (status, JSON body, content type).
async fn anonymous(url: &str) -> (u16, Value) {
    let res = reqwest::get(url).await.unwrap();
    let ct = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string());
    let (status, body) = status_json(res).await;
    assert_eq!(
        ct.as_deref(),
        Some("application/json"),
        "{url}: a refusal is JSON, not media"
    );
    (status, body)
}

/// ffmpeg records 3 s of `url` into a file; returns how many video frames it got.
async fn frames_via_ffmpeg(dir: &std::path::Path, name: &str, url: &str) -> usize {
    let out = dir.join(name);
    assert!(
        wait_child(record(url, 3, &out), 60).await,
        "ffmpeg could not read {url}"
    );
    probe(out.to_str().unwrap()).video().len()
}

#[tokio::test]
async fn private_room_media_needs_a_valid_token() {
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start_rooms(data.path()).await;
    let owner = server.streamer().await;
    let res = owner
        .post(server.url("/api/rooms"))
        .json(&json!({"title": "secret show", "visibility": "private"}))
        .send()
        .await
        .unwrap();
    let (status, room) = status_json(res).await;
    assert_eq!(status, 201, "{room}");
    assert_eq!(room["visibility"], "private");
    let id = room["id"].as_str().unwrap().to_string();
    let key = room["stream_key"].as_str().unwrap();
    let clip = make_clip(data.path(), "clip.flv", 60);
    let mut ffmpeg = push(&clip, &server.rtmp_url(&format!("/live/{id}?key={key}")));
    server.wait_live(&id).await;
    // Let HLS cut a couple of segments.
    tokio::time::sleep(Duration::from_secs(5)).await;

    let (_, list) = server.get_json("/api/rooms").await;
    assert!(
        !list.to_string().contains(&id),
        "a private room is not listed: {list}"
    );

    // No token: 401 and a JSON error for every media URL and the chat.
    let media = [
        format!("/live/{id}.flv"),
        // A key in a viewer's URL is not a way around the token.
        format!("/live/{id}.flv?key=anything"),
        format!("/hls/live/{id}/index.m3u8?key=anything"),
        format!("/hls/live/{id}/index.m3u8"),
        format!("/hls/live/{id}/ts/index.m3u8"),
        format!("/hls/live/{id}/init.mp4"),
        format!("/vod/{id}/20260101-000000.flv"),
        format!("/api/rooms/{id}"),
        format!("/api/rooms/{id}/chat"),
    ];
    for path in &media {
        let (status, body) = anonymous(&server.url(path)).await;
        assert_refused(status, &body, 401, path);
    }
    let ws = tokio_tungstenite::connect_async(server.ws_url(&format!("/live/{id}.flv"))).await;
    assert!(
        matches!(&ws, Err(tokio_tungstenite::tungstenite::Error::Http(r)) if r.status() == 401),
        "WS-FLV without a token: {ws:?}"
    );
    let chat =
        tokio_tungstenite::connect_async(server.ws_url(&format!("/api/rooms/{id}/chat"))).await;
    assert!(chat.is_err(), "chat without a token");
    let rtmp = record(
        &server.rtmp_url(&format!("/live/{id}")),
        2,
        &data.path().join("no.flv"),
    );
    assert!(!wait_child(rtmp, 30).await, "RTMP play without a token");

    // The owner issues a token; with it everything plays.
    let res = owner
        .post(server.url(&format!("/api/rooms/{id}/tokens")))
        .json(&json!({"ttl_s": 600, "viewer": "guest-1"}))
        .send()
        .await
        .unwrap();
    let (status, issued) = status_json(res).await;
    assert_eq!(status, 201, "{issued}");
    let token = issued["token"].as_str().unwrap().to_string();
    assert!(issued["expires_at"].as_u64().unwrap() > 0);
    let play = &issued["play"];
    assert!(
        play["hls"]
            .as_str()
            .unwrap()
            .ends_with(&format!("?token={token}")),
        "{play}"
    );

    let dir = data.path();
    let flv = play["flv"].as_str().unwrap();
    assert!(
        frames_via_ffmpeg(dir, "flv.flv", flv).await > 10,
        "HTTP-FLV with a token"
    );
    let rtmp_url = server.rtmp_url(&format!("/live/{id}?token={token}"));
    assert!(
        frames_via_ffmpeg(dir, "rtmp.flv", &rtmp_url).await > 10,
        "RTMP with a token"
    );
    let hls = play["hls"].as_str().unwrap();
    let playlist = reqwest::get(hls).await.unwrap().text().await.unwrap();
    let uris: Vec<&str> = playlist
        .lines()
        .filter(|l| !l.starts_with('#') || l.contains("URI=\""))
        .filter(|l| !l.is_empty())
        .collect();
    assert!(!uris.is_empty(), "{playlist}");
    for line in uris {
        assert!(
            line.contains(&format!("token={token}")),
            "URI without the token: {line}"
        );
    }
    assert!(
        frames_via_ffmpeg(dir, "cmaf.flv", hls).await > 10,
        "CMAF HLS with a token"
    );
    let ts = server.url(&format!("/hls/live/{id}/ts/index.m3u8?token={token}"));
    assert!(
        frames_via_ffmpeg(dir, "ts.flv", &ts).await > 10,
        "TS HLS with a token"
    );
    let (status, _) = server
        .get_json(&format!("/api/rooms/{id}?token={token}"))
        .await;
    assert_eq!(status, 200);
    let (mut chat, _) = tokio_tungstenite::connect_async(
        server.ws_url(&format!("/api/rooms/{id}/chat?token={token}")),
    )
    .await
    .expect("chat with a token");
    support::rooms::send(&mut chat, json!({"type": "join", "name": "guest"})).await;
    support::rooms::next_of(&mut chat, "welcome").await;

    // The recording being written is listed only with the token, and served with it.
    let (_, all) = server.get_json("/api/recordings").await;
    assert!(
        !all.to_string().contains(&id),
        "private recordings are not listed: {all}"
    );
    let (_, mine) = server
        .get_json(&format!("/api/recordings?room={id}&token={token}"))
        .await;
    let url = mine[0]["url"].as_str().unwrap_or_else(|| panic!("{mine}"));
    assert!(url.ends_with(&format!("?token={token}")), "{url}");
    let res = reqwest::get(server.url(url)).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(&res.bytes().await.unwrap()[..3], b"FLV");

    // Modified: 403. Another room's token: 403. Expired: 401.
    let forged = format!("{}x", &token[..token.len() - 1]);
    let (status, body) = anonymous(&server.url(&format!("/live/{id}.flv?token={forged}"))).await;
    assert_refused(status, &body, 403, "modified token");
    let res = owner
        .post(server.url("/api/rooms"))
        .json(&json!({"title": "other", "visibility": "private"}))
        .send()
        .await
        .unwrap();
    let other = status_json(res).await.1["id"].as_str().unwrap().to_string();
    let (status, body) =
        anonymous(&server.url(&format!("/hls/live/{other}/index.m3u8?token={token}"))).await;
    assert_refused(status, &body, 403, "another room's token");
    let res = owner
        .post(server.url(&format!("/api/rooms/{id}/tokens")))
        .json(&json!({"ttl_s": 1}))
        .send()
        .await
        .unwrap();
    let short = status_json(res).await.1["token"]
        .as_str()
        .unwrap()
        .to_string();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (status, body) = anonymous(&server.url(&format!("/live/{id}.flv?token={short}"))).await;
    assert_refused(status, &body, 401, "expired token");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired"),
        "{body}"
    );

    // The owner's session needs no token.
    let res = owner
        .get(server.url(&format!("/live/{id}.flv")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "video/x-flv");
    drop(res);

    // Unlisted: not in the lobby, but watchable without a token.
    let res = owner
        .patch(server.url(&format!("/api/rooms/{id}")))
        .json(&json!({"visibility": "unlisted"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = reqwest::get(server.url(&format!("/live/{id}.flv")))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    drop(res);
    let (_, list) = server.get_json("/api/rooms").await;
    assert!(!list.to_string().contains(&id), "{list}");

    let _ = ffmpeg.kill();
    let _ = ffmpeg.wait();
    server.stop().await;
}
