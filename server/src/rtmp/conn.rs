//! One RTMP connection: drives an `onair_shared::rtmp::ServerSession` with the bytes of
//! any stream (TCP for RTMP, TLS for RTMPS) and turns its events into hub calls. Generic
//! over the two halves of the stream, so each transport gets its own compiled loop.

use std::hash::{BuildHasher, Hasher, RandomState};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use onair_shared::rtmp::handshake::HANDSHAKE_RANDOM_LEN;
use onair_shared::rtmp::media::{PLAY_STREAM_ID, media_message};
use onair_shared::rtmp::{ServerSession, SessionConfig, SessionEvent};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::{CHUNK_SIZE, ConnError, HANDSHAKE_TIMEOUT, SplitIo, WRITE_TIMEOUT};
use crate::AppState;
use crate::auth::{AuthError, split_stream_name};
use crate::hub::{HubError, Protocol, Publisher, SubscribeEnd, Subscriber};
use crate::media::{MediaKind, Packet};

pub(super) struct Conn {
    state: Arc<AppState>,
    peer: SocketAddr,
    session: ServerSession,
    out: BytesMut,
    app: String,
    publisher: Option<(u32, Publisher)>,
    player: Option<(u32, Subscriber)>,
}

impl Conn {
    pub(super) fn new(state: Arc<AppState>, peer: SocketAddr) -> Self {
        let config = SessionConfig {
            chunk_size: CHUNK_SIZE,
            limits: onair_shared::rtmp::ReaderLimits {
                max_message_len: state.config.max_tag_bytes as u32,
                ..Default::default()
            },
            ..SessionConfig::default()
        };
        let session = ServerSession::new(config, &handshake_random());
        Self {
            state,
            peer,
            session,
            out: BytesMut::with_capacity(8192),
            app: String::new(),
            publisher: None,
            player: None,
        }
    }

    pub(super) async fn run<S: SplitIo>(&mut self, sock: S) -> Result<(), ConnError> {
        let (mut rd, mut wr) = sock.split_io();
        let started = tokio::time::Instant::now();
        let mut stopping = false;
        loop {
            self.flush(&mut wr).await?;
            // Shutting down: a player leaves once its stream's end (StreamEOF) is sent,
            // everyone else at once.
            if stopping && self.player.is_none() {
                return Ok(());
            }
            // Players may be silent for long (they only acknowledge); publishers may not.
            let read_timeout = if !self.session.handshake_done() || self.app.is_empty() {
                HANDSHAKE_TIMEOUT.saturating_sub(started.elapsed())
            } else if self.player.is_some() {
                Duration::from_secs(24 * 3600)
            } else {
                self.state.config.publisher_idle_timeout
            };
            tokio::select! {
                read = tokio::time::timeout(read_timeout, read_some(&mut rd, self.session.input_buffer())) => {
                    match read {
                        Err(_) => return Err(ConnError::Idle(read_timeout)),
                        Ok(Ok(0)) => return Ok(()),
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => return Err(e.into()),
                    }
                    // The session pauses after a publish request, so media sent right
                    // behind it is read under the limits our answer sets: go on after it.
                    loop {
                        let events = match self.session.process(&mut self.out) {
                            Ok(events) => events,
                            Err(e) => {
                                // Say what we can (e.g. a reply already queued), then close.
                                let _ = self.flush(&mut wr).await;
                                return Err(e.into());
                            }
                        };
                        let again = matches!(
                            events.last(),
                            Some(SessionEvent::PublishRequested { .. })
                        );
                        for event in events {
                            if let Err(e) = self.handle(event) {
                                let _ = self.flush(&mut wr).await;
                                return Err(e);
                            }
                        }
                        if !again {
                            break;
                        }
                    }
                }
                next = next_packet(&mut self.player) => {
                    let stream_id = self.player.as_ref().map(|p| p.0).unwrap_or(PLAY_STREAM_ID);
                    match next {
                        Ok(packet) => {
                            let bytes = self.chunks(stream_id, &packet);
                            self.write_media(&mut wr, bytes).await?;
                            // Drain what is already there so one wakeup sends a batch.
                            while let Some(more) = self.player.as_mut().and_then(|p| p.1.try_next()) {
                                match more {
                                    Ok(packet) => {
                                        let bytes = self.chunks(stream_id, &packet);
                                        self.write_media(&mut wr, bytes).await?;
                                    }
                                    Err(end) => { self.end_play(end); break; }
                                }
                            }
                        }
                        Err(end) => self.end_play(end),
                    }
                }
                _ = self.state.shutdown.triggered(), if !stopping => {
                    stopping = true;
                    // The hub ends every stream anyway; finishing says it was deliberate.
                    if let Some((_, publisher)) = self.publisher.take() {
                        tracing::info!(peer = %self.peer, stream = %publisher.stream.key, "RTMP publisher closed: server shutting down");
                        publisher.finish();
                    }
                }
            }
        }
    }

    async fn flush<W: AsyncWrite + Unpin>(&mut self, wr: &mut W) -> Result<(), ConnError> {
        if !self.out.is_empty() {
            let out = self.out.split().freeze();
            self.write_media(wr, out).await?;
        }
        Ok(())
    }

    async fn write_media<W: AsyncWrite + Unpin>(
        &mut self,
        wr: &mut W,
        bytes: Bytes,
    ) -> Result<(), ConnError> {
        let n = bytes.len() as u64;
        match tokio::time::timeout(WRITE_TIMEOUT, wr.write_all(&bytes)).await {
            Err(_) => Err(ConnError::Stuck(WRITE_TIMEOUT)),
            Ok(r) => {
                r?;
                if let Some((_, sub)) = &mut self.player {
                    sub.count_out(n);
                }
                Ok(())
            }
        }
    }

    fn end_play(&mut self, end: SubscribeEnd) {
        if let Some((stream_id, sub)) = self.player.take() {
            if end == SubscribeEnd::TooSlow {
                sub.stream
                    .metrics()
                    .slow_viewers_disconnected
                    .fetch_add(1, Ordering::Relaxed);
            }
            tracing::info!(peer = %self.peer, stream = %sub.stream.key, "RTMP play ended: {end}");
            self.session.send_stream_eof(stream_id, &mut self.out);
        }
    }

    /// The packet as RTMP chunks: shared by all players on the usual stream id.
    fn chunks(&self, stream_id: u32, packet: &Packet) -> Bytes {
        let kind = packet.kind;
        if stream_id == PLAY_STREAM_ID && self.session.chunk_size() == CHUNK_SIZE {
            packet.rtmp_chunks(|p| media_message(kind, p.timestamp, &p.body, CHUNK_SIZE))
        } else {
            let mut out = BytesMut::new();
            onair_shared::rtmp::write_media_message(
                &mut out,
                kind,
                stream_id,
                packet.timestamp,
                &packet.body,
                self.session.chunk_size(),
            );
            out.freeze()
        }
    }

    fn handle(&mut self, event: SessionEvent) -> Result<(), ConnError> {
        match event {
            SessionEvent::Connected { app, tc_url } => {
                tracing::debug!(peer = %self.peer, %app, ?tc_url, "RTMP connect");
                self.app = app;
            }
            SessionEvent::PublishRequested {
                stream_id, name, ..
            } => self.publish(stream_id, &name)?,
            SessionEvent::PlayRequested { stream_id, name } => self.play(stream_id, &name),
            SessionEvent::Audio {
                stream_id,
                timestamp,
                data,
            } => self.push(stream_id, MediaKind::Audio, timestamp, data)?,
            SessionEvent::Video {
                stream_id,
                timestamp,
                data,
            } => self.push(stream_id, MediaKind::Video, timestamp, data)?,
            SessionEvent::Script {
                stream_id,
                timestamp,
                data,
            } => self.push(stream_id, MediaKind::Script, timestamp, data)?,
            SessionEvent::Unpublish { stream_id } => {
                if let Some((id, publisher)) = self.publisher.take() {
                    if id == stream_id {
                        tracing::info!(peer = %self.peer, stream = %publisher.stream.key, "RTMP unpublish");
                        publisher.finish();
                    } else {
                        self.publisher = Some((id, publisher));
                    }
                }
            }
            SessionEvent::StopPlay { stream_id }
                if self.player.as_ref().is_some_and(|p| p.0 == stream_id) =>
            {
                self.player = None;
            }
            _ => {}
        }
        Ok(())
    }

    fn publish(&mut self, stream_id: u32, name: &str) -> Result<(), ConnError> {
        let (room, key) = split_stream_name(name);
        let result = if self.publisher.is_some() {
            Err(ConnError::Hub(HubError::AlreadyPublishing(
                room.to_string(),
            )))
        } else {
            crate::publish::start(&self.state, &self.app, room, key, Protocol::Rtmp)
                .map_err(ConnError::from)
        };
        match result {
            Ok(publisher) => {
                tracing::info!(peer = %self.peer, stream = %publisher.stream.key, session = publisher.session(), "RTMP publisher connected");
                self.session.accept_publish(stream_id, &mut self.out);
                self.publisher = Some((stream_id, publisher));
                Ok(())
            }
            Err(e) => {
                let code = match &e {
                    ConnError::Auth(AuthError::BadName(_))
                    | ConnError::Hub(HubError::AlreadyPublishing(_)) => "NetStream.Publish.BadName",
                    _ => "NetStream.Publish.Denied",
                };
                self.session
                    .reject_publish(stream_id, code, &e.to_string(), &mut self.out);
                Err(e)
            }
        }
    }

    fn play(&mut self, stream_id: u32, name: &str) {
        let (room, _) = split_stream_name(name);
        let key = format!("{}/{room}", self.app);
        // A private room needs `ROOM?token=…` (RTMP has no cookies).
        let token = name
            .split_once('?')
            .and_then(|(_, q)| crate::rooms::access::query_param(Some(q), "token"));
        let allowed = if self.app == crate::rooms::APP {
            self.state
                .rooms
                .check_watch(room, token, || Ok(crate::accounts::Caller::Anonymous))
        } else {
            Ok(())
        };
        let subscribed = allowed.and_then(|()| {
            self.state
                .hub
                .subscribe(&key, Protocol::Rtmp)
                .map_err(|e| crate::error::ApiError::NotFound(e.to_string()))
        });
        match subscribed {
            Ok(sub) => {
                tracing::info!(peer = %self.peer, stream = %key, "RTMP player connected");
                self.session.accept_play(stream_id, &mut self.out);
                self.player = Some((stream_id, sub));
            }
            Err(e) => {
                tracing::info!(peer = %self.peer, stream = %key, "RTMP play refused: {e}");
                self.session.reject_play(
                    stream_id,
                    "NetStream.Play.StreamNotFound",
                    &e.to_string(),
                    &mut self.out,
                );
            }
        }
    }

    fn push(
        &mut self,
        stream_id: u32,
        kind: MediaKind,
        timestamp: u32,
        body: Bytes,
    ) -> Result<(), ConnError> {
        match &mut self.publisher {
            Some((id, publisher)) if *id == stream_id => {
                if publisher.push(kind, timestamp, body) {
                    Ok(())
                } else {
                    Err(ConnError::StreamClosed)
                }
            }
            _ => Ok(()),
        }
    }
}

/// Reads into the session's buffer, keeping room for a full socket read.
async fn read_some<R: AsyncRead + Unpin>(rd: &mut R, buf: &mut BytesMut) -> std::io::Result<usize> {
    buf.reserve(16 * 1024);
    rd.read_buf(buf).await
}

async fn next_packet(player: &mut Option<(u32, Subscriber)>) -> Result<Arc<Packet>, SubscribeEnd> {
    match player {
        Some((_, sub)) => sub.next().await,
        None => std::future::pending().await,
    }
}

/// S1's random bytes (the shared crate has no RNG by design).
fn handshake_random() -> [u8; HANDSHAKE_RANDOM_LEN] {
    let mut out = [0u8; HANDSHAKE_RANDOM_LEN];
    let state = RandomState::new();
    for (i, chunk) in out.chunks_mut(8).enumerate() {
        let mut h = state.build_hasher();
        h.write_usize(i);
        chunk.copy_from_slice(&h.finish().to_le_bytes()[..chunk.len()]);
    }
    out
}
