//! Helpers for the rooms and chat tests: a server on a data directory the test owns (so it
//! can be stopped and started again on the same database), room creation, chat clients.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use onair_server::{Config, Listeners};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;

pub struct RoomServer {
    pub http: SocketAddr,
    pub rtmp: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl RoomServer {
    /// A server on `data`, with key-checked publishing (not `--open-publish`).
    pub async fn start(data: &Path) -> Self {
        let http = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let rtmp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (http_addr, rtmp_addr) = (http.local_addr().unwrap(), rtmp.local_addr().unwrap());
        let config = Config {
            http: http_addr,
            rtmp: rtmp_addr,
            data: data.to_path_buf(),
            open_publish: false,
            ..Config::default()
        };
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(onair_server::run(
            Listeners { http, rtmp },
            config,
            async move {
                let _ = rx.await;
            },
        ));
        Self {
            http: http_addr,
            rtmp: rtmp_addr,
            stop: Some(tx),
            task: Some(task),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.http, path)
    }

    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://{}{}", self.http, path)
    }

    pub fn rtmp_url(&self, path: &str) -> String {
        format!("rtmp://{}{}", self.rtmp, path)
    }

    /// `POST /api/rooms`; returns the 201 body.
    pub async fn create_room(&self, title: &str) -> Value {
        let res = reqwest::Client::new()
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

    /// Waits until `live/ROOM` is live with video.
    pub async fn wait_live(&self, room: &str) {
        let key = format!("live/{room}");
        for _ in 0..200 {
            let (_, streams) = self.get_json("/api/streams").await;
            let live = streams.as_array().is_some_and(|a| {
                a.iter()
                    .any(|s| s["key"] == key.as_str() && s["live"] == true && !s["video"].is_null())
            });
            if live {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{key} did not go live");
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .expect("server did not stop within 10 s")
                .expect("server task panicked")
                .expect("server returned an error");
        }
    }
}

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A chat member: connected and joined; returns the socket and the `welcome`.
pub async fn join(server: &RoomServer, room: &str, name: &str) -> (Ws, Value) {
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
