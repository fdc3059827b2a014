//! The rooms API contract over real sockets and a real SQLite file: every route and error,
//! the key shown only once, publish authorization on RTMP / WS-FLV / HTTP-FLV, and a
//! restart that keeps rooms, keys and comments.

mod support;

use std::time::Duration;

use futures_util::SinkExt;
use serde_json::{Value, json};
use support::TestServer;
use support::media::{make_clip, push, wait_child};
use support::rooms::{close_code, join, next_of, send};
use tokio_tungstenite::tungstenite::Message;

async fn post_raw(server: &TestServer, body: &str) -> (u16, Value) {
    let res = server
        .streamer()
        .await
        .post(server.url("/api/rooms"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Value::Null),
    )
}

async fn delete(server: &TestServer, id: &str, auth: Option<&str>) -> (u16, Value) {
    let mut req = reqwest::Client::new().delete(server.url(&format!("/api/rooms/{id}")));
    if let Some(auth) = auth {
        req = req.header("authorization", auth);
    }
    let res = req.send().await.unwrap();
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Value::Null),
    )
}

fn assert_error(status: u16, body: &Value, want_status: u16, code: &str) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
}

#[tokio::test]
async fn api_contract() {
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start_rooms(data.path()).await;

    // Signed out: 401, whatever the body.
    let res = reqwest::Client::new()
        .post(server.url("/api/rooms"))
        .json(&json!({"title": "anonymous"}))
        .send()
        .await
        .unwrap();
    let (status, err) = support::accounts::status_json(res).await;
    assert_error(status, &err, 401, "unauthorized");

    // Bad titles and bodies: 400 with a JSON error.
    for body in [
        r#"{"title": ""}"#,
        r#"{"title": "   "}"#,
        &json!({ "title": "x".repeat(101) }).to_string(),
        r#"{"name": "no title"}"#,
        "not json",
        r#"{"title": "t", "visibility": "secret"}"#,
    ] {
        let (status, err) = post_raw(&server, body).await;
        assert_error(status, &err, 400, "bad_request");
    }

    let created = server.create_room("  My show  ").await;
    let id = created["id"].as_str().unwrap().to_string();
    let key = created["stream_key"].as_str().unwrap().to_string();
    assert_eq!(created["title"], "My show");
    assert!(key.len() >= 22, "a key of at least 128 bits: {key}");
    let (host, rtmp_port) = (server.http.to_string(), server.rtmp.port());
    let ip = server.http.ip();
    assert_eq!(
        created["push"],
        json!({
            "rtmp": format!("rtmp://{ip}:{rtmp_port}/live/{id}?key={key}"),
            "ws": format!("ws://{host}/live/{id}.flv?key={key}"),
            "http": format!("http://{host}/live/{id}.flv?key={key}"),
        })
    );
    assert_eq!(
        created["play"],
        json!({
            "page": format!("http://{host}/watch/{id}"),
            "flv": format!("http://{host}/live/{id}.flv"),
            "ws_flv": format!("ws://{host}/live/{id}.flv"),
            "hls": format!("http://{host}/hls/live/{id}/index.m3u8"),
        })
    );
    let other = server.create_room("second").await;
    assert_ne!(other["id"], created["id"]);
    assert_ne!(other["stream_key"], created["stream_key"]);

    // Reads: never the key.
    let (status, list) = server.get_json("/api/rooms").await;
    assert_eq!(status, 200);
    assert!(!list.to_string().contains(&key));
    let entry = list
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id.as_str())
        .expect("room listed")
        .clone();
    assert_eq!(entry["owner"], "streamer");
    assert_eq!(entry["visibility"], "public");
    assert!(
        entry.get("moderators").is_none(),
        "moderators are for the owner: {entry}"
    );
    for field in ["id", "title", "live", "viewers", "likes", "started_at"] {
        assert!(entry.get(field).is_some(), "{field} missing in {entry}");
    }
    assert_eq!(entry["live"], false);
    assert_eq!(entry["viewers"], 0);
    assert_eq!(entry["likes"], 0);
    assert_eq!(entry["started_at"], Value::Null);
    let (status, one) = server.get_json(&format!("/api/rooms/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(one["title"], "My show");
    assert!(!one.to_string().contains(&key));
    let (status, err) = server.get_json("/api/rooms/nosuchroom").await;
    assert_error(status, &err, 404, "not_found");
    for path in ["/api/streams", "/metrics"] {
        let res = reqwest::get(server.url(path)).await.unwrap();
        let (status, err) = support::accounts::status_json(res).await;
        assert_error(status, &err, 401, "unauthorized");
    }
    for path in ["/api/streams", "/metrics", "/healthz"] {
        let text = reqwest::Client::new()
            .get(server.url(path))
            .bearer_auth(support::ADMIN_TOKEN)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(!text.contains(&key), "{path} shows the key");
    }

    // Close: 401 without a bearer, 403 with a wrong one, 404 unknown, 204 with the key.
    let (status, err) = delete(&server, &id, None).await;
    assert_error(status, &err, 401, "unauthorized");
    let (status, err) = delete(&server, &id, Some(&format!("Basic {key}"))).await;
    assert_error(status, &err, 401, "unauthorized");
    let (status, err) = delete(&server, &id, Some("Bearer wrong")).await;
    assert_error(status, &err, 403, "forbidden");
    let other_key = other["stream_key"].as_str().unwrap();
    let (status, err) = delete(&server, &id, Some(&format!("Bearer {other_key}"))).await;
    assert_error(status, &err, 403, "forbidden");
    let (status, err) = delete(&server, "nosuchroom", Some(&format!("Bearer {key}"))).await;
    assert_error(status, &err, 404, "not_found");
    let (status, _) = delete(&server, &id, Some(&format!("Bearer {key}"))).await;
    assert_eq!(status, 204);
    let (_, one) = server.get_json(&format!("/api/rooms/{id}")).await;
    assert_eq!(one["status"], "closed");
    let (_, list) = server.get_json("/api/rooms").await;
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|r| r["id"] != id.as_str())
    );
    server.stop().await;
}

#[tokio::test]
async fn publish_needs_the_room_key() {
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start_rooms(data.path()).await;
    let clip = make_clip(data.path(), "clip.flv", 4);
    let idle = server.create_room("idle room").await;
    let room = server.create_room("live room").await;
    let id = room["id"].as_str().unwrap();
    let key = room["stream_key"].as_str().unwrap();

    // RTMP with a wrong key, a missing key, an unknown room: ffmpeg fails.
    for path in [
        format!("/live/{id}?key=wrong"),
        format!("/live/{id}"),
        "/live/nosuchroom?key=x".to_string(),
        format!("/other/{id}?key={key}"),
    ] {
        let ok = wait_child(push(&clip, &server.rtmp_url(&path)), 20).await;
        assert!(!ok, "RTMP push to {path} was accepted");
    }
    // WS-FLV with a wrong key: closed with 4403.
    let (mut ws, _) =
        tokio_tungstenite::connect_async(server.ws_url(&format!("/live/{id}.flv?key=wrong")))
            .await
            .unwrap();
    let bytes = std::fs::read(&clip).unwrap();
    let _ = ws
        .send(Message::Binary(bytes[..4096].to_vec().into()))
        .await;
    assert_eq!(close_code(&mut ws).await, Some(4403));
    // HTTP-FLV with a wrong key: 403; an unknown room: 403 naming the problem.
    let client = reqwest::Client::new();
    let res = client
        .post(server.url(&format!("/live/{id}.flv?key=wrong")))
        .body(bytes[..4096].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = client
        .post(server.url("/live/nosuchroom.flv?key=x"))
        .body(bytes[..4096].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let body: Value = res.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no open room")
    );
    // Nothing refused became a stream.
    let (_, streams) = server.admin_json("/api/streams").await;
    assert_eq!(streams, json!([]), "a refused push left a stream");

    // The right key goes live, and the room says so (live rooms listed first).
    let mut ffmpeg = push(&clip, &server.rtmp_url(&format!("/live/{id}?key={key}")));
    server.wait_live(id).await;
    let (_, view) = server.get_json(&format!("/api/rooms/{id}")).await;
    assert_eq!(view["live"], true, "{view}");
    assert!(view["started_at"].as_u64().is_some(), "{view}");
    let (_, list) = server.get_json("/api/rooms").await;
    assert_eq!(list[0]["id"], id, "live room first: {list}");
    assert_eq!(list[1]["id"], idle["id"]);

    // Closing the room ends the stream now.
    let (status, _) = delete(&server, id, Some(&format!("Bearer {key}"))).await;
    assert_eq!(status, 204);
    let (_, view) = server.get_json(&format!("/api/rooms/{id}")).await;
    assert_eq!(view["live"], false);
    let (_, streams) = server.admin_json("/api/streams").await;
    assert!(!streams.to_string().contains(id), "{streams}");
    // A closed room cannot be published to again, even with its key.
    let ok = wait_child(
        push(&clip, &server.rtmp_url(&format!("/live/{id}?key={key}"))),
        20,
    )
    .await;
    assert!(!ok, "push to a closed room was accepted");
    let _ = ffmpeg.kill();
    let _ = ffmpeg.wait();
    server.stop().await;
}

#[tokio::test]
async fn restart_keeps_rooms_keys_and_comments() {
    let data = tempfile::tempdir().unwrap();
    let clip = make_clip(data.path(), "clip.flv", 3);
    let server = TestServer::start_rooms(data.path()).await;
    let room = server.create_room("persistent").await;
    let id = room["id"].as_str().unwrap().to_string();
    let key = room["stream_key"].as_str().unwrap().to_string();
    let (mut ws, _) = join(&server, &id, "ann").await;
    send(
        &mut ws,
        json!({"type": "comment", "text": "before restart"}),
    )
    .await;
    next_of(&mut ws, "comment").await;
    send(&mut ws, json!({"type": "like", "count": 3})).await;
    assert_eq!(next_of(&mut ws, "likes").await["total"], 3);
    drop(ws);
    server.stop().await;

    let server = TestServer::start_rooms(data.path()).await;
    let (_, view) = server.get_json(&format!("/api/rooms/{id}")).await;
    assert_eq!(view["title"], "persistent");
    assert_eq!(view["likes"], 3);
    let (_, welcome) = join(&server, &id, "bob").await;
    let recent = welcome["recent"].as_array().unwrap();
    assert_eq!(recent.len(), 1);
    assert_eq!(recent[0]["text"], "before restart");
    assert_eq!(recent[0]["from"], "ann");
    // The key still publishes; a wrong one still does not.
    let wrong = wait_child(
        push(&clip, &server.rtmp_url(&format!("/live/{id}?key=no"))),
        20,
    );
    assert!(!wrong.await);
    let mut ffmpeg = push(&clip, &server.rtmp_url(&format!("/live/{id}?key={key}")));
    server.wait_live(&id).await;
    let _ = ffmpeg.kill();
    let _ = ffmpeg.wait();
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.stop().await;
}

#[tokio::test]
async fn chat_of_unknown_room_is_404() {
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start_rooms(data.path()).await;
    let (status, err) = server.get_json("/api/rooms/nosuchroom/chat").await;
    assert_error(status, &err, 404, "not_found");
    let res = tokio_tungstenite::connect_async(server.ws_url("/api/rooms/nosuchroom/chat")).await;
    assert!(res.is_err());
    server.stop().await;
}
