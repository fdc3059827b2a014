//! FLV ingest over HTTP (`POST`, chunked, as `ffmpeg -f flv http://…` sends it) and over
//! WebSocket (binary messages carrying an FLV byte stream split anywhere: the studio).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::{FutureExt, StreamExt};
use onair_shared::flv::{DemuxEvent, Demuxer, FlvError};

use super::{APP, stream_key};
use crate::AppState;
use crate::auth::AuthError;
use crate::error::ApiError;
use crate::hub::{HubError, Protocol, Publisher};

pub use super::hooks::TestHooks;

/// Why an FLV publisher was stopped; each becomes a log line and a status or close code.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("publish refused: {0}")]
    Auth(#[from] AuthError),
    #[error("publish refused: {0}")]
    Hub(#[from] HubError),
    #[error("malformed FLV: {0}")]
    Flv(#[from] FlvError),
    #[error("the stream was closed by the server")]
    StreamClosed,
    #[error("no data for {0:?}; publisher timed out")]
    Idle(Duration),
    #[error("the connection ended in the middle of an FLV tag ({0} bytes pending)")]
    Truncated(usize),
    #[error("text messages are not FLV; send binary WebSocket messages")]
    TextMessage,
    #[error("test hook: connection dropped")]
    TestDrop,
    #[error("server shutting down")]
    ShuttingDown,
}

impl IngestError {
    fn api(&self) -> ApiError {
        let msg = self.to_string();
        match self {
            IngestError::Auth(AuthError::MissingKey) => ApiError::Unauthorized(msg),
            IngestError::Auth(AuthError::BadName(_)) => ApiError::BadRequest(msg),
            IngestError::Auth(_) => ApiError::Forbidden(msg),
            IngestError::ShuttingDown | IngestError::Hub(HubError::ShuttingDown) => {
                ApiError::Unavailable(msg)
            }
            IngestError::Hub(_) => ApiError::Conflict(msg),
            _ => ApiError::BadRequest(msg),
        }
    }

    /// The server's own shutdown: not the publisher's fault, so not counted or warned about.
    fn is_shutdown(&self) -> bool {
        matches!(
            self,
            IngestError::ShuttingDown | IngestError::Hub(HubError::ShuttingDown)
        )
    }

    /// WebSocket close codes in the private range, mirroring the HTTP statuses.
    fn close_code(&self) -> u16 {
        match self {
            IngestError::Auth(AuthError::MissingKey) => 4401,
            IngestError::Auth(_) => 4403,
            // "Going away", as a browser tab closing says it.
            IngestError::ShuttingDown | IngestError::Hub(HubError::ShuttingDown) => 1001,
            IngestError::Hub(_) => 4409,
            IngestError::Idle(_) => 4408,
            IngestError::StreamClosed => 4410,
            _ => 4400,
        }
    }
}

/// Demuxes an FLV byte stream into a publisher.
struct FlvIngest {
    demux: Demuxer,
    publisher: Publisher,
}

impl FlvIngest {
    fn start(
        state: &AppState,
        room: &str,
        key: Option<&str>,
        protocol: Protocol,
    ) -> Result<Self, IngestError> {
        let publisher =
            crate::publish::start(state, APP, room, key, protocol).map_err(|e| match e {
                crate::publish::PublishError::Auth(e) => IngestError::Auth(e),
                crate::publish::PublishError::Hub(e) => IngestError::Hub(e),
            })?;
        Ok(Self {
            demux: Demuxer::new(state.config.max_tag_bytes),
            publisher,
        })
    }

    fn feed(&mut self, bytes: &[u8]) -> Result<(), IngestError> {
        self.demux.push(bytes);
        while let Some(event) = self.demux.next_event()? {
            if let DemuxEvent::Tag(tag) = event
                && !self.publisher.push(tag.kind, tag.timestamp, tag.data)
            {
                return Err(IngestError::StreamClosed);
            }
        }
        Ok(())
    }

    /// The input ended: fine at a tag boundary, truncated otherwise.
    fn finish(self) -> Result<(), IngestError> {
        if self.demux.at_tag_boundary() {
            Ok(())
        } else {
            Err(IngestError::Truncated(self.demux.buffered_len()))
        }
    }
}

pub async fn http(
    state: Arc<AppState>,
    room: String,
    key: Option<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let _conn = state.metrics.connection();
    let mut ingest =
        FlvIngest::start(&state, &room, key.as_deref(), Protocol::HttpFlv).map_err(|e| {
            tracing::warn!(%room, "HTTP-FLV {e}");
            e.api()
        })?;
    tracing::info!(%room, session = ingest.publisher.session(), "HTTP-FLV publisher connected");
    let _tracked = state
        .shutdown
        .track("publisher", format!("http-flv {}", stream_key(&room)));
    let idle = state.config.publisher_idle_timeout;
    let mut data = body.into_data_stream();
    let result = loop {
        // A publisher never ends by itself: without this, the server's graceful shutdown
        // would wait for it forever.
        let next = tokio::select! {
            biased;
            _ = state.shutdown.triggered() => break Err(IngestError::ShuttingDown),
            next = tokio::time::timeout(idle, data.next()) => next,
        };
        match next {
            Err(_) => break Err(IngestError::Idle(idle)),
            Ok(None) => break ingest.finish(),
            Ok(Some(Err(e))) => {
                tracing::info!(%room, "HTTP-FLV publisher connection ended: {e}");
                break Ok(());
            }
            Ok(Some(Ok(chunk))) => {
                if let Err(e) = ingest.feed(&chunk) {
                    break Err(e);
                }
            }
        }
    };
    match result {
        Ok(()) => {
            tracing::info!(%room, "HTTP-FLV publisher finished");
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        Err(e) if e.is_shutdown() => {
            tracing::info!(%room, "HTTP-FLV publisher closed: {e}");
            Err(e.api())
        }
        Err(e) => {
            state
                .metrics
                .rejected_connections
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::warn!(%room, "HTTP-FLV publisher closed: {e}");
            Err(e.api())
        }
    }
}

/// How often a WS-FLV publisher is told how many bytes the server has read.
const ACK_EVERY_BYTES: u64 = 32 * 1024;
const ACK_EVERY: Duration = Duration::from_millis(250);

/// Acknowledgements for a WS-FLV publisher, like RTMP's window acknowledgements: a text
/// message `{"acked": N}` with the bytes read so far. A browser's `bufferedAmount` stays at 0
/// while the OS socket buffers (megabytes) fill, so `sent − acked` is the studio's real
/// measure of a slow uplink. Publishers that do not care ignore text messages.
#[derive(Default)]
struct Acks {
    total: u64,
    acked: u64,
    last: Option<tokio::time::Instant>,
}

impl Acks {
    /// Counts `n` bytes read; returns the message to send when an ack is due.
    fn received(&mut self, n: usize) -> Option<String> {
        self.total += n as u64;
        let now = tokio::time::Instant::now();
        let due = self.total - self.acked >= ACK_EVERY_BYTES
            || self.last.is_none_or(|t| now.duration_since(t) >= ACK_EVERY);
        if !due {
            return None;
        }
        self.acked = self.total;
        self.last = Some(now);
        Some(format!("{{\"acked\":{}}}", self.total))
    }
}

pub async fn ws(
    state: Arc<AppState>,
    room: String,
    key: String,
    hooks: TestHooks,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    // Upgrade first, then refuse with a close code: a browser can read a close reason but
    // not the status of a failed handshake.
    let max_message = state.config.max_tag_bytes + 64 * 1024;
    let mut ws = ws.max_message_size(max_message);
    if hooks.throttle.is_some() {
        // Keep the server's own read-ahead small, so the backlog stays in the publisher.
        ws = ws.read_buffer_size(4096);
    }
    Ok(ws.on_upgrade(move |socket| ws_session(state, room, key, hooks, socket)))
}

async fn ws_session(
    state: Arc<AppState>,
    room: String,
    key: String,
    hooks: TestHooks,
    mut socket: WebSocket,
) {
    let _conn = state.metrics.connection();
    let _tracked = state
        .shutdown
        .track("publisher", format!("ws-flv {}", stream_key(&room)));
    let result = ws_ingest(&state, &room, &key, hooks, &mut socket).await;
    if let Err(IngestError::TestDrop) = result {
        // Like a lost network: no close frame, the connection just ends.
        tracing::info!(%room, "WS-FLV publisher dropped by the test hook");
        return;
    }
    let (code, reason) = match &result {
        Ok(()) => (1000, "stream ended".to_string()),
        Err(e) if e.is_shutdown() => {
            tracing::info!(%room, "WS-FLV publisher closed: {e}");
            (e.close_code(), e.to_string())
        }
        Err(e) => {
            state
                .metrics
                .rejected_connections
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::warn!(%room, "WS-FLV publisher closed: {e}");
            (e.close_code(), e.to_string())
        }
    };
    // Close reasons are limited to 123 bytes.
    let reason: String = reason.chars().take(120).collect();
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        })))
        .await;
}

async fn ws_ingest(
    state: &AppState,
    room: &str,
    key: &str,
    hooks: TestHooks,
    socket: &mut WebSocket,
) -> Result<(), IngestError> {
    let mut ingest = FlvIngest::start(state, room, Some(key), Protocol::WsFlv)?;
    tracing::info!(%room, session = ingest.publisher.session(), "WS-FLV publisher connected");
    let idle = state.config.publisher_idle_timeout;
    let mut acks = Acks::default();
    loop {
        let next = tokio::select! {
            biased;
            _ = state.shutdown.triggered() => return Err(IngestError::ShuttingDown),
            next = tokio::time::timeout(hooks.wait(idle), socket.recv()) => next,
        };
        match next {
            Err(_) if hooks.drop_due() => return Err(IngestError::TestDrop),
            Err(_) => return Err(IngestError::Idle(idle)),
            Ok(None) | Ok(Some(Err(_))) | Ok(Some(Ok(Message::Close(_)))) => {
                return ingest.finish();
            }
            Ok(Some(Ok(Message::Binary(bytes)))) => {
                ingest.feed(&bytes)?;
                hooks.pace(bytes.len()).await;
                if let Some(ack) = acks.received(bytes.len()) {
                    // Never wait for an ack to be written: a publisher that does not read
                    // them (its socket full) must not stall its own ingest. Acks are
                    // cumulative, so one that cannot be queued now is simply skipped.
                    let _ = socket.send(Message::Text(ack.into())).now_or_never();
                }
            }
            Ok(Some(Ok(Message::Text(_)))) => return Err(IngestError::TextMessage),
            Ok(Some(Ok(_))) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn acks_are_cumulative_every_32_kib_or_250_ms() {
        let mut acks = Acks::default();
        assert_eq!(acks.received(100).as_deref(), Some(r#"{"acked":100}"#));
        assert_eq!(acks.received(1000), None);
        assert_eq!(
            acks.received(32 * 1024).as_deref(),
            Some(r#"{"acked":33868}"#)
        );
        assert_eq!(acks.received(10), None);
        tokio::time::sleep(ACK_EVERY + Duration::from_millis(10)).await;
        assert_eq!(acks.received(10).as_deref(), Some(r#"{"acked":33888}"#));
    }
}
