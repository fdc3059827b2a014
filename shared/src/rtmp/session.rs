//! [`ServerSession`]: one RTMP connection, server side, as a sans-IO state machine.
//!
//! Feed it what the socket delivered ([`ServerSession::handle_input`]); it answers the
//! handshake and the protocol-level commands itself, writing into the caller's `BytesMut`,
//! and reports what the application must decide on (publish / play requests) or consume
//! (media, metadata) as [`SessionEvent`]s. The application then calls `accept_*` /
//! `reject_*`. Media for players is written with [`super::media`], not through the session,
//! so it can be chunked once and shared.

use bytes::{Bytes, BytesMut};

use super::RtmpError;
use super::chunk::{ChunkReader, ReaderLimits};
use super::command::{self, Command, object, on_fc, on_status, string};
use super::handshake::{HANDSHAKE_RANDOM_LEN, Handshake};
use super::media::CSID_DATA;
use super::message::{CSID_COMMAND, RtmpMessage, UserControl, msg_type, read_u32};
use super::writer::{ChunkWriter, MessageHeader};
use crate::amf0::Amf0Value;

/// Per-connection settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// Limits on what a publisher may make us buffer, once its `publish` is accepted.
    pub limits: ReaderLimits,
    /// The tighter limits before that (handshake, `connect`, `createStream`, `play`): a
    /// client that has not been let in may not make us hold a large message. A player
    /// keeps these for its whole connection.
    pub limits_before_publish: ReaderLimits,
    /// The chunk size we announce and send with (after `connect`).
    pub chunk_size: u32,
    /// The acknowledgement window we ask the peer to use (Window Acknowledgement Size).
    pub window_ack_size: u32,
    /// The bandwidth we announce with Set Peer Bandwidth (dynamic limit).
    pub peer_bandwidth: u32,
    /// Most message streams (`createStream`) one connection may have at a time.
    pub max_streams: usize,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            limits: ReaderLimits::default(),
            limits_before_publish: ReaderLimits {
                max_message_len: 64 * 1024,
                max_pending_bytes: 256 * 1024,
                ..ReaderLimits::default()
            },
            chunk_size: 4096,
            window_ack_size: 2_500_000,
            peer_bandwidth: 2_500_000,
            max_streams: 8,
        }
    }
}

/// What happened on the connection that the application needs to know about.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionEvent {
    /// `connect` was answered (Window Ack Size, Set Peer Bandwidth, Set Chunk Size and
    /// `_result` NetConnection.Connect.Success are already written).
    Connected {
        /// Application name (`live`), without a trailing slash.
        app: String,
        /// `tcUrl` as the client sent it.
        tc_url: Option<String>,
    },
    /// The client wants to publish; answer with `accept_publish` or `reject_publish`.
    PublishRequested {
        /// Message stream id.
        stream_id: u32,
        /// Stream name as sent, query included (`room1?key=abc`).
        name: String,
        /// Publishing type (`live`, `record`, `append`); `live` when absent.
        publish_type: String,
    },
    /// The client wants to play; answer with `accept_play` or `reject_play`.
    PlayRequested {
        /// Message stream id.
        stream_id: u32,
        /// Stream name as sent, query included.
        name: String,
    },
    /// AMF0 script data from an accepted publisher (`onMetaData`, often wrapped in
    /// `@setDataFrame`; `onTextData`, `onCuePoint`, …), as sent: interpreting it is
    /// [`crate::media::Script`]'s job, done once at ingest.
    Script {
        /// Message stream id.
        stream_id: u32,
        /// Absolute timestamp in ms (32-bit, wrapping).
        timestamp: u32,
        /// The AMF0 values (an AMF3 data message's leading format byte removed).
        data: Bytes,
    },
    /// An audio message (an FLV audio tag body) from an accepted publisher.
    Audio {
        /// Message stream id.
        stream_id: u32,
        /// Absolute timestamp in ms (32-bit, wrapping).
        timestamp: u32,
        /// The tag body.
        data: Bytes,
    },
    /// A video message (an FLV video tag body) from an accepted publisher.
    Video {
        /// Message stream id.
        stream_id: u32,
        /// Absolute timestamp in ms (32-bit, wrapping).
        timestamp: u32,
        /// The tag body.
        data: Bytes,
    },
    /// A publishing (or publish-pending) stream stopped: `FCUnpublish`, `publish(false)`,
    /// `closeStream` or `deleteStream`.
    Unpublish {
        /// Message stream id.
        stream_id: u32,
    },
    /// A playing (or play-pending) stream stopped: `closeStream` or `deleteStream`.
    StopPlay {
        /// Message stream id.
        stream_id: u32,
    },
    /// `closeStream` on a stream (after `Unpublish` / `StopPlay` if it was active).
    CloseStream {
        /// Message stream id.
        stream_id: u32,
    },
    /// `deleteStream` (after `Unpublish` / `StopPlay` if it was active).
    DeleteStream {
        /// Message stream id.
        stream_id: u32,
    },
    /// The peer acknowledged this many bytes (a sequence number, wrapping at 2³²).
    Acknowledgement {
        /// Bytes received by the peer so far.
        sequence: u32,
    },
    /// Answer to our [`ServerSession::send_ping`].
    Pong {
        /// The timestamp we sent.
        timestamp: u32,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum StreamState {
    Idle,
    PublishPending(String),
    Publishing(String),
    PlayPending,
    Playing,
}

#[derive(Debug)]
struct Stream {
    id: u32,
    state: StreamState,
}

/// One RTMP server connection. See the module docs.
#[derive(Debug)]
pub struct ServerSession {
    config: SessionConfig,
    handshake: Handshake,
    reader: ChunkReader,
    writer: ChunkWriter,
    input: BytesMut,
    streams: Vec<Stream>,
    /// The client sent `FCPublish`, so it expects `onFCPublish` (FMLE / OBS style).
    fc_publish: bool,
    bytes_received: u64,
    last_ack: u64,
    peer_window: u32,
}

impl ServerSession {
    /// A session waiting for C0/C1. `handshake_random` fills S1 (this crate has no RNG).
    pub fn new(config: SessionConfig, handshake_random: &[u8; HANDSHAKE_RANDOM_LEN]) -> Self {
        Self {
            reader: ChunkReader::new(config.limits_before_publish),
            config,
            handshake: Handshake::new(handshake_random),
            writer: ChunkWriter::new(),
            input: BytesMut::new(),
            streams: Vec::new(),
            fc_publish: false,
            bytes_received: 0,
            last_ack: 0,
            peer_window: 0,
        }
    }

    /// Appends `input` to the session's buffer and processes it (see [`Self::process`]).
    pub fn handle_input(
        &mut self,
        input: &[u8],
        out: &mut BytesMut,
    ) -> Result<Vec<SessionEvent>, RtmpError> {
        self.input.extend_from_slice(input);
        self.process(out)
    }

    /// The input buffer, for reading from the socket straight into it (saves a copy);
    /// call [`Self::process`] afterwards.
    pub fn input_buffer(&mut self) -> &mut BytesMut {
        &mut self.input
    }

    /// Processes everything buffered: answers the handshake and commands into `out` and
    /// returns the events. Incomplete input stays buffered. An error is fatal for the
    /// connection (send what is in `out` and close); the events decoded earlier in the
    /// same call are dropped with it, since the connection is over anyway.
    ///
    /// Stops after a [`SessionEvent::PublishRequested`]: what follows (media a client sent
    /// without waiting for the answer) is read under the limits the answer sets, so call
    /// `process` again after `accept_publish`/`reject_publish`.
    pub fn process(&mut self, out: &mut BytesMut) -> Result<Vec<SessionEvent>, RtmpError> {
        let mut events = Vec::new();
        if !self.handshake.is_done() {
            let before = self.input.len();
            let done = self.handshake.process(&mut self.input, out)?;
            self.count_received(before, out);
            if !done {
                return Ok(events);
            }
        }
        loop {
            let before = self.input.len();
            let message = self.reader.read_message(&mut self.input)?;
            self.count_received(before, out);
            let Some(message) = message else {
                return Ok(events);
            };
            self.handle_message(message, out, &mut events)?;
            if matches!(events.last(), Some(SessionEvent::PublishRequested { .. })) {
                return Ok(events);
            }
        }
    }

    /// True once the handshake is complete.
    pub fn handshake_done(&self) -> bool {
        self.handshake.is_done()
    }

    /// True if the client used the digest ("complex") handshake and we answered in kind.
    pub fn handshake_used_digest(&self) -> bool {
        self.handshake.used_digest()
    }

    /// The chunk size we send with (what media written for this peer must use).
    pub fn chunk_size(&self) -> u32 {
        self.writer.chunk_size()
    }

    /// Total bytes received from the peer (handshake included).
    pub fn bytes_received(&self) -> u64 {
        self.bytes_received
    }

    /// Answers a `publish` with NetStream.Publish.Start (and `onFCPublish` for clients that
    /// sent `FCPublish`). Media on the stream is reported from now on.
    pub fn accept_publish(&mut self, stream_id: u32, out: &mut BytesMut) {
        let Some(stream) = self.stream_mut(stream_id) else {
            return;
        };
        let StreamState::PublishPending(name) = &stream.state else {
            return;
        };
        let name = name.clone();
        stream.state = StreamState::Publishing(name.clone());
        // Let in: media messages (a keyframe of a high-bitrate stream) may now be large.
        self.reader.set_limits(self.config.limits);
        if self.fc_publish {
            let body = on_fc("onFCPublish", "NetStream.Publish.Start", &name);
            self.send_command(out, stream_id, &body);
        }
        let body = on_status(
            "status",
            "NetStream.Publish.Start",
            &format!("{name} is now published."),
        );
        self.send_command(out, stream_id, &body);
    }

    /// Refuses a `publish` with `onStatus` level "error", e.g. code
    /// `NetStream.Publish.BadName` (name in use) or `NetStream.Publish.Denied` (bad key).
    pub fn reject_publish(
        &mut self,
        stream_id: u32,
        code: &str,
        description: &str,
        out: &mut BytesMut,
    ) {
        self.reject(stream_id, code, description, out);
    }

    /// Answers a `play`: StreamBegin, NetStream.Play.Reset, NetStream.Play.Start,
    /// `|RtmpSampleAccess` and NetStream.Data.Start, as nginx-rtmp does. The caller then
    /// sends metadata, sequence headers and media with [`super::media`].
    pub fn accept_play(&mut self, stream_id: u32, out: &mut BytesMut) {
        let Some(stream) = self.stream_mut(stream_id) else {
            return;
        };
        if stream.state != StreamState::PlayPending {
            return;
        }
        stream.state = StreamState::Playing;
        self.send_user_control(out, &UserControl::StreamBegin(stream_id));
        let reset = on_status(
            "status",
            "NetStream.Play.Reset",
            "Playing and resetting stream.",
        );
        self.send_command(out, stream_id, &reset);
        let start = on_status("status", "NetStream.Play.Start", "Started playing stream.");
        self.send_command(out, stream_id, &start);
        let access = command::encode_values(&[
            string("|RtmpSampleAccess"),
            Amf0Value::Boolean(true),
            Amf0Value::Boolean(true),
        ]);
        self.send_data(out, stream_id, &access);
        let data_start = command::encode_values(&[
            string("onStatus"),
            object(vec![("code", string("NetStream.Data.Start"))]),
        ]);
        self.send_data(out, stream_id, &data_start);
    }

    /// Refuses a `play`, e.g. with code `NetStream.Play.StreamNotFound`.
    pub fn reject_play(
        &mut self,
        stream_id: u32,
        code: &str,
        description: &str,
        out: &mut BytesMut,
    ) {
        self.reject(stream_id, code, description, out);
    }

    /// Tells a player its stream ended: StreamEOF, then NetStream.Play.UnpublishNotify and
    /// NetStream.Play.Stop (ffmpeg, librtmp and Flash stop on either status).
    pub fn send_stream_eof(&mut self, stream_id: u32, out: &mut BytesMut) {
        self.send_user_control(out, &UserControl::StreamEof(stream_id));
        let notify = on_status(
            "status",
            "NetStream.Play.UnpublishNotify",
            "Stream is unpublished.",
        );
        self.send_command(out, stream_id, &notify);
        let stop = on_status("status", "NetStream.Play.Stop", "Stopped playing stream.");
        self.send_command(out, stream_id, &stop);
    }

    /// Sends a PingRequest carrying `timestamp` (the caller's clock, in ms); the answer
    /// arrives as [`SessionEvent::Pong`].
    pub fn send_ping(&mut self, timestamp: u32, out: &mut BytesMut) {
        self.send_user_control(out, &UserControl::PingRequest(timestamp));
    }

    fn reject(&mut self, stream_id: u32, code: &str, description: &str, out: &mut BytesMut) {
        if let Some(stream) = self.stream_mut(stream_id) {
            stream.state = StreamState::Idle;
        }
        self.send_command(out, stream_id, &on_status("error", code, description));
    }

    fn count_received(&mut self, before: usize, out: &mut BytesMut) {
        self.bytes_received += before.saturating_sub(self.input.len()) as u64;
        // Acknowledge once the peer's window is crossed, so it does not stall waiting.
        if self.peer_window > 0
            && self.bytes_received - self.last_ack >= u64::from(self.peer_window)
        {
            self.last_ack = self.bytes_received;
            let sequence = (self.bytes_received & 0xFFFF_FFFF) as u32;
            self.writer
                .control(out, msg_type::ACKNOWLEDGEMENT, &sequence.to_be_bytes());
        }
    }

    fn stream_mut(&mut self, id: u32) -> Option<&mut Stream> {
        self.streams.iter_mut().find(|s| s.id == id)
    }

    fn send_command(&self, out: &mut BytesMut, stream_id: u32, body: &[u8]) {
        let header = MessageHeader {
            csid: CSID_COMMAND,
            timestamp: 0,
            type_id: msg_type::COMMAND_AMF0,
            stream_id,
        };
        self.writer.write(out, &header, body);
    }

    fn send_data(&self, out: &mut BytesMut, stream_id: u32, body: &[u8]) {
        let header = MessageHeader {
            csid: CSID_DATA,
            timestamp: 0,
            type_id: msg_type::DATA_AMF0,
            stream_id,
        };
        self.writer.write(out, &header, body);
    }

    fn send_user_control(&self, out: &mut BytesMut, event: &UserControl) {
        self.writer
            .control(out, msg_type::USER_CONTROL, &event.to_bytes());
    }

    fn publishing(&self, stream_id: u32) -> bool {
        self.streams
            .iter()
            .any(|s| s.id == stream_id && matches!(s.state, StreamState::Publishing(_)))
    }

    fn handle_message(
        &mut self,
        message: RtmpMessage,
        out: &mut BytesMut,
        events: &mut Vec<SessionEvent>,
    ) -> Result<(), RtmpError> {
        let stream_id = message.stream_id;
        match message.type_id {
            msg_type::ACKNOWLEDGEMENT => {
                let sequence = read_u32("Acknowledgement", &message.payload)?;
                events.push(SessionEvent::Acknowledgement { sequence });
            }
            msg_type::WINDOW_ACK_SIZE => {
                self.peer_window = read_u32("Window Acknowledgement Size", &message.payload)?;
            }
            msg_type::USER_CONTROL => match UserControl::parse(&message.payload)? {
                UserControl::PingRequest(t) => {
                    self.send_user_control(out, &UserControl::PingResponse(t));
                }
                UserControl::PingResponse(timestamp) => {
                    events.push(SessionEvent::Pong { timestamp });
                }
                _ => {}
            },
            msg_type::AUDIO | msg_type::VIDEO if self.publishing(stream_id) => {
                events.push(media_event(
                    message.type_id,
                    stream_id,
                    message.timestamp,
                    message.payload,
                ));
            }
            msg_type::DATA_AMF0 | msg_type::DATA_AMF3 if self.publishing(stream_id) => {
                let skip = message.payload.len()
                    - strip_amf3_marker(message.type_id, &message.payload).len();
                events.push(SessionEvent::Script {
                    stream_id,
                    timestamp: message.timestamp,
                    data: message.payload.slice(skip..),
                });
            }
            msg_type::AGGREGATE if self.publishing(stream_id) => {
                split_aggregate(&message, events);
            }
            msg_type::COMMAND_AMF0 | msg_type::COMMAND_AMF3 => {
                let body = strip_amf3_marker(message.type_id, &message.payload);
                let command = Command::parse(body)?;
                self.handle_command(command, stream_id, out, events)?;
            }
            // Set Chunk Size and Abort were applied by the reader; Set Peer Bandwidth,
            // shared objects and media for streams that are not publishing are ignored.
            _ => {}
        }
        Ok(())
    }
}

fn strip_amf3_marker(type_id: u8, payload: &[u8]) -> &[u8] {
    // Types 15/16/17 start with a format byte (0 = AMF0 follows), as nginx-rtmp skips it.
    match (type_id, payload.first()) {
        (msg_type::DATA_AMF3 | msg_type::COMMAND_AMF3, Some(0)) => payload.get(1..).unwrap_or(&[]),
        _ => payload,
    }
}

fn media_event(type_id: u8, stream_id: u32, timestamp: u32, data: Bytes) -> SessionEvent {
    if type_id == msg_type::AUDIO {
        SessionEvent::Audio {
            stream_id,
            timestamp,
            data,
        }
    } else {
        SessionEvent::Video {
            stream_id,
            timestamp,
            data,
        }
    }
}

/// Splits an aggregate message (type 22): FLV-tag-like sub-messages, each followed by a
/// 4-byte back pointer. Sub-message timestamps are rebased on the aggregate's own.
fn split_aggregate(message: &RtmpMessage, events: &mut Vec<SessionEvent>) {
    let payload = &message.payload;
    let mut pos = 0usize;
    let mut base = None;
    while let Some(&[type_id, s0, s1, s2, t0, t1, t2, t3, ..]) = payload.get(pos..pos + 11) {
        let size = (usize::from(s0) << 16) | (usize::from(s1) << 8) | usize::from(s2);
        let ts = u32::from_be_bytes([t3, t0, t1, t2]);
        let start = pos + 11;
        let Some(end) = start.checked_add(size).filter(|&e| e <= payload.len()) else {
            return;
        };
        let base = *base.get_or_insert(ts);
        let timestamp = message.timestamp.wrapping_add(ts.wrapping_sub(base));
        let data = payload.slice(start..end);
        match type_id {
            msg_type::AUDIO | msg_type::VIDEO => {
                events.push(media_event(type_id, message.stream_id, timestamp, data));
            }
            msg_type::DATA_AMF0 => events.push(SessionEvent::Script {
                stream_id: message.stream_id,
                timestamp,
                data,
            }),
            _ => {}
        }
        pos = end + 4;
    }
}

mod dispatch;

#[cfg(test)]
mod tests;
