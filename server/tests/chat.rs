//! Room chat over real WebSockets: join/welcome, comments between members (with latency),
//! text never interpreted, coalesced likes, rate limits, oversized and invalid messages,
//! disconnect on abuse, and `closed` when the owner closes the room.

mod support;

use std::time::{Duration, Instant};

use futures_util::SinkExt;
use serde_json::{Value, json};
use support::TestServer;
use support::rooms::{Ws, close_code, join, next_json, next_of, send};
use tokio_tungstenite::tungstenite::Message;

async fn room(server: &TestServer) -> (String, String) {
    let created = server.create_room("chat room").await;
    (
        created["id"].as_str().unwrap().to_string(),
        created["stream_key"].as_str().unwrap().to_string(),
    )
}

/// Next message that is not a viewer-count update.
async fn next_non_viewers(ws: &mut Ws) -> Value {
    loop {
        let msg = next_json(ws).await.expect("socket ended");
        if msg["type"] != "viewers" {
            return msg;
        }
    }
}

#[tokio::test]
async fn comments_reach_other_members_as_text() {
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start_rooms(data.path()).await;
    let (id, _) = room(&server).await;

    let (mut ann, welcome) = join(&server, &id, "  ann  ").await;
    assert_eq!(welcome["you"], "ann");
    assert_eq!(welcome["viewers"], 1);
    assert_eq!(welcome["recent"], json!([]));
    assert_eq!(welcome["version"], 1);
    let (mut bob, welcome) = join(&server, &id, "bob").await;
    assert_eq!(welcome["viewers"], 2);
    // Viewer counts follow joins (ann first sees her own join counted).
    while next_of(&mut ann, "viewers").await["count"] != 2 {}

    let xss = "<img src=x onerror=alert(1)>";
    let mut latencies = Vec::new();
    for i in 0..3 {
        let text = if i == 0 {
            xss.to_string()
        } else {
            format!("hello {i}")
        };
        let sent = Instant::now();
        send(&mut ann, json!({"type": "comment", "text": text})).await;
        let got = next_non_viewers(&mut bob).await;
        latencies.push(sent.elapsed());
        assert_eq!(got["type"], "comment");
        assert_eq!(got["from"], "ann");
        assert_eq!(got["text"], text.as_str(), "text arrives literally");
        assert!(got["id"].as_u64().is_some() && got["at"].as_u64().is_some());
        // The sender gets its own comment too.
        assert_eq!(next_non_viewers(&mut ann).await["text"], text.as_str());
    }
    latencies.sort();
    println!(
        "comment latency ann -> bob: min {:?}, max {:?}",
        latencies[0], latencies[2]
    );
    assert!(latencies[2] < Duration::from_millis(500), "{latencies:?}");

    // A late joiner sees the recent comments, oldest first.
    let (_carol, welcome) = join(&server, &id, "carol").await;
    let recent = welcome["recent"].as_array().unwrap();
    assert_eq!(recent.len(), 3);
    assert_eq!(recent[0]["text"], xss);

    // Gifts from the catalogue are broadcast; others are refused.
    send(
        &mut bob,
        json!({"type": "gift", "kind": "rocket", "count": 2}),
    )
    .await;
    let gift = next_of(&mut ann, "gift").await;
    assert_eq!(
        gift,
        json!({"type": "gift", "from": "bob", "kind": "rocket", "count": 2})
    );
    send(
        &mut bob,
        json!({"type": "gift", "kind": "yacht", "count": 1}),
    )
    .await;
    assert_eq!(next_of(&mut bob, "error").await["code"], "bad_gift");
    server.stop().await;
}

#[tokio::test]
async fn likes_are_coalesced_per_tick() {
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start_rooms(data.path()).await;
    let (id, _) = room(&server).await;
    const N: usize = 8;
    let mut members = Vec::new();
    for i in 0..N {
        members.push(join(&server, &id, &format!("fan{i}")).await.0);
    }
    // Let the viewer-count updates settle so they do not interleave below.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for m in &mut members {
        send(m, json!({"type": "like", "count": 1})).await;
    }
    // Every member sees the N likes as one message (two if the sends straddled a tick).
    for m in &mut members {
        let mut sum = 0;
        let mut messages = 0;
        while sum < N as u64 {
            let likes = next_of(m, "likes").await;
            sum += likes["delta"].as_u64().unwrap();
            messages += 1;
            assert_eq!(likes["total"].as_u64().unwrap(), sum);
        }
        assert_eq!(sum, N as u64);
        assert!(messages <= 2, "{messages} likes messages for {N} likes");
    }
    // One connection cannot flood: at most 10 likes per tick count.
    tokio::time::sleep(Duration::from_millis(250)).await;
    send(&mut members[0], json!({"type": "like", "count": 99})).await;
    let likes = next_of(&mut members[1], "likes").await;
    assert_eq!(likes["delta"], 10);
    assert_eq!(likes["total"], N as u64 + 10);
    let (_, view) = server.get_json(&format!("/api/rooms/{id}")).await;
    assert_eq!(view["likes"], N as u64 + 10);
    server.stop().await;
}

#[tokio::test]
async fn limits_errors_and_disconnect() {
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start_rooms(data.path()).await;
    let (id, _) = room(&server).await;

    // Before join: only join.
    let (mut ws, _) =
        tokio_tungstenite::connect_async(server.ws_url(&format!("/api/rooms/{id}/chat")))
            .await
            .unwrap();
    send(&mut ws, json!({"type": "comment", "text": "hi"})).await;
    assert_eq!(next_of(&mut ws, "error").await["code"], "not_joined");
    send(&mut ws, json!({"type": "join", "name": "x".repeat(33)})).await;
    assert_eq!(next_of(&mut ws, "error").await["code"], "bad_name");
    drop(ws);

    // Rate limit: the sixth comment within 10 s is refused.
    let (mut ann, _) = join(&server, &id, "ann").await;
    for i in 0..5 {
        send(
            &mut ann,
            json!({"type": "comment", "text": format!("c{i}")}),
        )
        .await;
        assert_eq!(next_non_viewers(&mut ann).await["type"], "comment");
    }
    send(&mut ann, json!({"type": "comment", "text": "one too many"})).await;
    let err = next_non_viewers(&mut ann).await;
    assert_eq!(err["type"], "error");
    assert_eq!(err["code"], "rate_limited");
    drop(ann);

    // Oversized, invalid, too-long comment: each an error.
    let (mut bob, _) = join(&server, &id, "bob").await;
    let big = json!({"type": "comment", "text": "x".repeat(5000)}).to_string();
    bob.send(Message::Text(big.into())).await.unwrap();
    assert_eq!(next_non_viewers(&mut bob).await["code"], "too_large");
    bob.send(Message::Text("{not json".into())).await.unwrap();
    assert_eq!(next_non_viewers(&mut bob).await["code"], "bad_message");
    send(
        &mut bob,
        json!({"type": "comment", "text": "y".repeat(301)}),
    )
    .await;
    assert_eq!(next_non_viewers(&mut bob).await["code"], "bad_comment");
    // Repeated abuse: disconnected with a policy-violation close.
    for _ in 0..5 {
        bob.send(Message::Text("garbage".into())).await.unwrap();
    }
    assert_eq!(close_code(&mut bob).await, Some(1008));
    server.stop().await;
}

#[tokio::test]
async fn closing_the_room_tells_members() {
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start_rooms(data.path()).await;
    let (id, key) = room(&server).await;
    let (mut ann, _) = join(&server, &id, "ann").await;
    let (mut bob, _) = join(&server, &id, "bob").await;
    let res = reqwest::Client::new()
        .delete(server.url(&format!("/api/rooms/{id}")))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    for ws in [&mut ann, &mut bob] {
        assert_eq!(next_non_viewers(ws).await, json!({"type": "closed"}));
        assert_eq!(close_code(ws).await, Some(1000));
    }
    // Joining a closed room: told at once.
    let (mut late, _) =
        tokio_tungstenite::connect_async(server.ws_url(&format!("/api/rooms/{id}/chat")))
            .await
            .unwrap();
    assert_eq!(next_json(&mut late).await, Some(json!({"type": "closed"})));
    server.stop().await;
}
