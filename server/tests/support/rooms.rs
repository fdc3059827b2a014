//! Helpers for the rooms and chat tests: a key-checked server on a data directory the test
//! owns (so it can be restarted on the same database), room creation, chat clients.

use std::path::Path;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use super::TestServer;

impl TestServer {
    /// A server on `data` with key-checked publishing (not `--open-publish`).
    pub async fn start_rooms(data: &Path) -> Self {
        Self::start_in(data, |c| c.open_publish = false).await
    }

    /// `POST /api/rooms` as the default streamer; returns the 201 body.
    pub async fn create_room(&self, title: &str) -> Value {
        let res = self
            .streamer()
            .await
            .post(self.url("/api/rooms"))
            .json(&json!({ "title": title }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        res.json().await.unwrap()
    }

    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let res = reqwest::get(self.url(path)).await.unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }
}

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A chat member: connected and joined; returns the socket and the `welcome`.
pub async fn join(server: &TestServer, room: &str, name: &str) -> (Ws, Value) {
    let (mut ws, _) =
        tokio_tungstenite::connect_async(server.ws_url(&format!("/api/rooms/{room}/chat")))
            .await
            .expect("chat connect");
    send(&mut ws, json!({"type": "join", "name": name})).await;
    let welcome = next_of(&mut ws, "welcome").await;
    (ws, welcome)
}

pub async fn send(ws: &mut Ws, msg: Value) {
    ws.send(Message::Text(msg.to_string().into()))
        .await
        .unwrap();
}

/// The next JSON message (skipping pings), or `None` when the socket closed (or 5 s passed).
pub async fn next_json(ws: &mut Ws) -> Option<Value> {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .ok()??;
        match msg.ok()? {
            Message::Text(t) => return Some(serde_json::from_str(&t).expect("server JSON")),
            Message::Close(_) => return None,
            _ => {}
        }
    }
}

/// The next message of type `kind`, skipping others (viewer counts, likes…).
pub async fn next_of(ws: &mut Ws, kind: &str) -> Value {
    loop {
        let msg = next_json(ws)
            .await
            .unwrap_or_else(|| panic!("socket ended before a {kind:?} message"));
        if msg["type"] == kind {
            return msg;
        }
    }
}

/// Reads until the server closes; returns the close code (`None` if it just hung up).
pub async fn close_code(ws: &mut Ws) -> Option<u16> {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("socket not closed within 5 s");
        match msg {
            Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
            Some(Ok(_)) => {}
            None | Some(Err(_)) => return None,
        }
    }
}
