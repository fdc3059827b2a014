//! Command dispatch of [`ServerSession`]: what we answer to each client command.
//!
//! The answers follow SRS and nginx-rtmp: `_result` for `releaseStream` / `FCPublish`
//! (librtmp, OBS and ffmpeg send them before `createStream` and some wait for an answer),
//! `onFCPublish` before NetStream.Publish.Start for clients that sent `FCPublish`, and
//! `_error` NetConnection.Call.Failed for methods we do not know when an answer is asked for.

use bytes::BytesMut;

use super::{ServerSession, SessionEvent, Stream, StreamState};
use crate::amf0::Amf0Value;
use crate::rtmp::RtmpError;
use crate::rtmp::command::{Command, connect_result, on_fc, reply, status_info};
use crate::rtmp::message::msg_type;

impl ServerSession {
    pub(super) fn handle_command(
        &mut self,
        command: Command,
        msg_stream_id: u32,
        out: &mut BytesMut,
        events: &mut Vec<SessionEvent>,
    ) -> Result<(), RtmpError> {
        let txn = command.transaction_id;
        match command.name.as_str() {
            "connect" => self.on_connect(&command, out, events),
            "createStream" => self.on_create_stream(txn, out)?,
            "publish" => self.on_publish(&command, msg_stream_id, events)?,
            "play" => self.on_play(&command, msg_stream_id, events)?,
            "FCPublish" => {
                self.fc_publish = true;
                self.empty_result(txn, out);
            }
            "FCUnpublish" => {
                let name = command.arg_str(0).unwrap_or_default();
                let id = self.publishing_stream_named(name);
                if let Some(id) = id {
                    self.stop_stream(id, events);
                }
                let body = on_fc("onFCUnpublish", "NetStream.Unpublish.Success", name);
                self.send_command(out, 0, &body);
                self.empty_result(txn, out);
            }
            "deleteStream" => {
                let id = command.args.first().and_then(Amf0Value::as_number);
                if let Some(id) = id.and_then(stream_id_from_f64) {
                    self.stop_stream(id, events);
                    self.streams.retain(|s| s.id != id);
                    events.push(SessionEvent::DeleteStream { stream_id: id });
                }
            }
            "closeStream" => {
                self.stop_stream(msg_stream_id, events);
                events.push(SessionEvent::CloseStream {
                    stream_id: msg_stream_id,
                });
            }
            "getStreamLength" => {
                // Live streams have no length; ffmpeg reads a number here.
                if txn > 0.0 {
                    let body = reply(true, txn, Amf0Value::Null, Amf0Value::Number(0.0));
                    self.send_command(out, 0, &body);
                }
            }
            "releaseStream" | "FCSubscribe" | "FCUnsubscribe" | "_checkbw" | "receiveAudio"
            | "receiveVideo" | "pause" | "seek" => self.empty_result(txn, out),
            // Replies to calls we never make, and notifications: nothing to answer.
            "_result" | "_error" | "onStatus" | "onBWDone" | "_onbwcheck" | "_onbwdone" => {}
            name => {
                if txn > 0.0 {
                    let description = format!("Method not found ({name}).");
                    let info = status_info("error", "NetConnection.Call.Failed", &description);
                    self.send_command(out, 0, &reply(false, txn, Amf0Value::Null, info));
                }
            }
        }
        Ok(())
    }

    fn on_connect(
        &mut self,
        command: &Command,
        out: &mut BytesMut,
        events: &mut Vec<SessionEvent>,
    ) {
        let props = &command.command_object;
        let app = props
            .get("app")
            .and_then(Amf0Value::as_str)
            .unwrap_or_default();
        let app = app.trim_end_matches('/').to_owned();
        let tc_url = props
            .get("tcUrl")
            .and_then(Amf0Value::as_str)
            .map(str::to_owned);
        let object_encoding = props
            .get("objectEncoding")
            .and_then(Amf0Value::as_number)
            .unwrap_or(0.0);
        let window = self.config.window_ack_size.to_be_bytes();
        self.writer.control(out, msg_type::WINDOW_ACK_SIZE, &window);
        let bandwidth = self.config.peer_bandwidth.to_be_bytes();
        let [a, b, c, d] = bandwidth;
        self.writer
            .control(out, msg_type::SET_PEER_BANDWIDTH, &[a, b, c, d, 2]);
        self.writer.set_chunk_size(out, self.config.chunk_size);
        let body = connect_result(command.transaction_id, object_encoding);
        self.send_command(out, 0, &body);
        events.push(SessionEvent::Connected { app, tc_url });
    }

    fn on_create_stream(&mut self, txn: f64, out: &mut BytesMut) -> Result<(), RtmpError> {
        let id = self.new_stream()?;
        let body = reply(true, txn, Amf0Value::Null, Amf0Value::Number(f64::from(id)));
        self.send_command(out, 0, &body);
        Ok(())
    }

    fn on_publish(
        &mut self,
        command: &Command,
        stream_id: u32,
        events: &mut Vec<SessionEvent>,
    ) -> Result<(), RtmpError> {
        // NetStream.publish(false) is Flash's way to stop publishing.
        if command.args.first() == Some(&Amf0Value::Boolean(false)) {
            self.stop_stream(stream_id, events);
            return Ok(());
        }
        let name = command.arg_str(0).unwrap_or_default().to_owned();
        let publish_type = command.arg_str(1).unwrap_or("live").to_owned();
        self.stop_stream(stream_id, events);
        self.stream_entry(stream_id)?.state = StreamState::PublishPending(name.clone());
        events.push(SessionEvent::PublishRequested {
            stream_id,
            name,
            publish_type,
        });
        Ok(())
    }

    fn on_play(
        &mut self,
        command: &Command,
        stream_id: u32,
        events: &mut Vec<SessionEvent>,
    ) -> Result<(), RtmpError> {
        let name = command.arg_str(0).unwrap_or_default().to_owned();
        self.stop_stream(stream_id, events);
        self.stream_entry(stream_id)?.state = StreamState::PlayPending;
        events.push(SessionEvent::PlayRequested { stream_id, name });
        Ok(())
    }

    /// `_result(txn, null, undefined)` when the client asked for an answer.
    fn empty_result(&mut self, txn: f64, out: &mut BytesMut) {
        if txn > 0.0 {
            let body = reply(true, txn, Amf0Value::Null, Amf0Value::Undefined);
            self.send_command(out, 0, &body);
        }
    }

    /// Allocates the smallest free stream id ≥ 1, so a player's stream is 1 (which the
    /// shared media bytes assume) even after streams were deleted.
    fn new_stream(&mut self) -> Result<u32, RtmpError> {
        if self.streams.len() >= self.config.max_streams {
            return Err(RtmpError::TooManyStreams {
                max: self.config.max_streams,
            });
        }
        let id = (1..=u32::MAX)
            .find(|id| self.streams.iter().all(|s| s.id != *id))
            .unwrap_or(u32::MAX);
        self.streams.push(Stream {
            id,
            state: StreamState::Idle,
        });
        Ok(id)
    }

    /// The stream `id`, created on the fly for clients that skip `createStream`.
    fn stream_entry(&mut self, id: u32) -> Result<&mut Stream, RtmpError> {
        let index = match self.streams.iter().position(|s| s.id == id) {
            Some(i) => i,
            None => {
                if self.streams.len() >= self.config.max_streams {
                    return Err(RtmpError::TooManyStreams {
                        max: self.config.max_streams,
                    });
                }
                self.streams.push(Stream {
                    id,
                    state: StreamState::Idle,
                });
                self.streams.len() - 1
            }
        };
        self.streams
            .get_mut(index)
            .ok_or(RtmpError::TooManyStreams { max: 0 })
    }

    fn publishing_stream_named(&self, name: &str) -> Option<u32> {
        let publishing = |s: &&Stream| matches!(&s.state, StreamState::Publishing(n) | StreamState::PublishPending(n) if n == name);
        let any = |s: &&Stream| {
            matches!(
                s.state,
                StreamState::Publishing(_) | StreamState::PublishPending(_)
            )
        };
        let found = self.streams.iter().find(publishing);
        found
            .or_else(|| self.streams.iter().find(any))
            .map(|s| s.id)
    }

    /// Ends whatever `id` was doing, reporting `Unpublish` or `StopPlay`.
    fn stop_stream(&mut self, id: u32, events: &mut Vec<SessionEvent>) {
        let Some(stream) = self.stream_mut(id) else {
            return;
        };
        match std::mem::replace(&mut stream.state, StreamState::Idle) {
            StreamState::PublishPending(_) | StreamState::Publishing(_) => {
                events.push(SessionEvent::Unpublish { stream_id: id });
            }
            StreamState::PlayPending | StreamState::Playing => {
                events.push(SessionEvent::StopPlay { stream_id: id });
            }
            StreamState::Idle => {}
        }
    }
}

fn stream_id_from_f64(n: f64) -> Option<u32> {
    (n.is_finite() && n >= 0.0 && n <= f64::from(u32::MAX) && n.fract() == 0.0).then_some(n as u32)
}
