//! FLV playback over HTTP (chunked) and WebSocket (one FLV tag per binary message).
//! Every viewer sends the packet's shared FLV bytes; nothing is serialized per viewer.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt, stream};

use super::stream_key;
use crate::AppState;
use crate::error::ApiError;
use crate::hub::{Protocol, SubscribeEnd, Subscriber};
use crate::media::flv_file_header;
use crate::shutdown::Tracked;

/// A WebSocket send that blocks this long means the viewer is stuck: disconnect it.
const WS_SEND_TIMEOUT: Duration = Duration::from_secs(30);

fn subscribe(state: &AppState, room: &str, protocol: Protocol) -> Result<Subscriber, ApiError> {
    state
        .hub
        .subscribe(&stream_key(room), protocol)
        .map_err(|e| ApiError::NotFound(e.to_string()))
}

fn header_for(sub: &Subscriber) -> Bytes {
    // Before the configs are known, announce both tracks rather than none.
    let unknown = !sub.has_audio && !sub.has_video;
    flv_file_header(sub.has_audio || unknown, sub.has_video || unknown)
}

fn log_end(sub: &Subscriber, end: SubscribeEnd) {
    if end == SubscribeEnd::TooSlow {
        sub.stream
            .metrics()
            .slow_viewers_disconnected
            .fetch_add(1, Ordering::Relaxed);
        tracing::info!(stream = %sub.stream.key, protocol = sub.protocol.name(), "{end}");
    }
}

pub fn http(state: Arc<AppState>, room: String) -> Result<Response, ApiError> {
    let mut sub = subscribe(&state, &room, Protocol::HttpFlv)?;
    let header = header_for(&sub);
    sub.count_out(header.len() as u64);
    // Done when the body ends (the stream ended: a shutdown ends them all) or is dropped.
    let tracked = state
        .shutdown
        .track("viewer", format!("http-flv {}", sub.stream.key));
    let tags = stream::unfold((sub, tracked), |(mut sub, tracked)| async move {
        match sub.next().await {
            Ok(packet) => {
                let tag = packet.flv_tag();
                sub.count_out(tag.len() as u64);
                Some((Ok::<_, std::io::Error>(tag), (sub, tracked)))
            }
            Err(end) => {
                log_end(&sub, end);
                None
            }
        }
    });
    let body = Body::from_stream(stream::once(async move { Ok(header) }).chain(tags));
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("video/x-flv"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    Ok(res)
}

pub fn ws(state: Arc<AppState>, room: String, ws: WebSocketUpgrade) -> Result<Response, ApiError> {
    let sub = subscribe(&state, &room, Protocol::WsFlv)?;
    // Viewers send nothing and each message goes out whole: small buffers keep a WS
    // viewer as cheap as an HTTP one (tungstenite's defaults are 128 KiB each way).
    let ws = ws
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_message_size(64 * 1024);
    let tracked = state
        .shutdown
        .track("viewer", format!("ws-flv {}", sub.stream.key));
    Ok(ws.on_upgrade(move |socket| ws_session(socket, sub, state, tracked)))
}

async fn ws_session(socket: WebSocket, mut sub: Subscriber, state: Arc<AppState>, _: Tracked) {
    let (mut tx, mut rx) = socket.split();
    let header = header_for(&sub);
    let mut next_out = Some(header);
    loop {
        if let Some(bytes) = next_out.take() {
            let n = bytes.len() as u64;
            match tokio::time::timeout(WS_SEND_TIMEOUT, tx.send(Message::Binary(bytes))).await {
                Ok(Ok(())) => sub.count_out(n),
                Ok(Err(_)) => return,
                Err(_) => {
                    tracing::info!(stream = %sub.stream.key, "WS-FLV viewer stuck for {WS_SEND_TIMEOUT:?}; disconnecting");
                    sub.stream
                        .metrics()
                        .slow_viewers_disconnected
                        .fetch_add(1, Ordering::Relaxed);
                    return;
                }
            }
        }
        tokio::select! {
            next = sub.next() => match next {
                Ok(packet) => next_out = Some(packet.flv_tag()),
                Err(end) => {
                    log_end(&sub, end);
                    // A shutdown ends every stream: say so, so a player knows not to retry here.
                    let close = if state.shutdown.is_triggered() {
                        Some(CloseFrame { code: 1001, reason: "server shutting down".into() })
                    } else {
                        None
                    };
                    let _ = tx.send(Message::Close(close)).await;
                    return;
                }
            },
            incoming = rx.next() => match incoming {
                // Viewers have nothing to say; pings are answered by the library.
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}
