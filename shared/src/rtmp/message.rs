//! RTMP messages: type ids, the reassembled message, protocol control and user control
//! payloads.

use bytes::{BufMut, Bytes, BytesMut};

use super::RtmpError;

/// Message type ids (RTMP spec §5.4, §7.1).
pub mod msg_type {
    /// Set Chunk Size (protocol control).
    pub const SET_CHUNK_SIZE: u8 = 1;
    /// Abort Message (protocol control).
    pub const ABORT: u8 = 2;
    /// Acknowledgement (protocol control).
    pub const ACKNOWLEDGEMENT: u8 = 3;
    /// User Control Message.
    pub const USER_CONTROL: u8 = 4;
    /// Window Acknowledgement Size (protocol control).
    pub const WINDOW_ACK_SIZE: u8 = 5;
    /// Set Peer Bandwidth (protocol control).
    pub const SET_PEER_BANDWIDTH: u8 = 6;
    /// Audio data (an FLV audio tag body).
    pub const AUDIO: u8 = 8;
    /// Video data (an FLV video tag body).
    pub const VIDEO: u8 = 9;
    /// Data message, AMF3 encoding (we skip the leading format byte and read AMF0).
    pub const DATA_AMF3: u8 = 15;
    /// Shared object, AMF3.
    pub const SHARED_OBJECT_AMF3: u8 = 16;
    /// Command message, AMF3 encoding (a 0 byte, then AMF0 in practice).
    pub const COMMAND_AMF3: u8 = 17;
    /// Data message, AMF0 (`@setDataFrame`, `onMetaData`, …).
    pub const DATA_AMF0: u8 = 18;
    /// Shared object, AMF0.
    pub const SHARED_OBJECT_AMF0: u8 = 19;
    /// Command message, AMF0.
    pub const COMMAND_AMF0: u8 = 20;
    /// Aggregate message: a run of FLV-tag-like sub-messages.
    pub const AGGREGATE: u8 = 22;
}

/// Chunk stream id of protocol control messages (fixed by the spec).
pub const CSID_PROTOCOL_CONTROL: u32 = 2;
/// Chunk stream id we send commands and status messages on.
pub const CSID_COMMAND: u32 = 3;

/// One reassembled RTMP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtmpMessage {
    /// Chunk stream it arrived on.
    pub csid: u32,
    /// Message type id (see [`msg_type`]).
    pub type_id: u8,
    /// Message stream id (0 for the connection, ≥ 1 for streams made by `createStream`).
    pub stream_id: u32,
    /// Absolute timestamp in ms, after delta accumulation (wrapping at 2³²).
    pub timestamp: u32,
    /// The payload: a slice of the input buffer when it came in one chunk, else the
    /// reassembled copy.
    pub payload: Bytes,
}

/// Reads the 4-byte big-endian value of a protocol control message.
pub fn read_u32(what: &'static str, payload: &[u8]) -> Result<u32, RtmpError> {
    match payload.get(..4) {
        Some(&[a, b, c, d]) => Ok(u32::from_be_bytes([a, b, c, d])),
        _ => Err(RtmpError::ShortControlMessage {
            what,
            len: payload.len(),
        }),
    }
}

/// User Control Message events (type 4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserControl {
    /// A stream became functional (event 0).
    StreamBegin(u32),
    /// Playback of a stream ended (event 1).
    StreamEof(u32),
    /// No more data on a stream for now (event 2).
    StreamDry(u32),
    /// The client's buffer length for a stream, in ms (event 3).
    SetBufferLength {
        /// Message stream id.
        stream_id: u32,
        /// Buffer length in milliseconds.
        millis: u32,
    },
    /// The stream is a recorded one (event 4).
    StreamIsRecorded(u32),
    /// Ping request carrying the sender's timestamp (event 6).
    PingRequest(u32),
    /// Ping response echoing the request's timestamp (event 7).
    PingResponse(u32),
    /// Any other event (e.g. Flash's buffer empty/ready 31/32).
    Other {
        /// Event type.
        event: u16,
        /// Event data.
        data: Bytes,
    },
}

impl UserControl {
    /// Parses a User Control Message payload.
    pub fn parse(payload: &Bytes) -> Result<Self, RtmpError> {
        let short = || RtmpError::ShortControlMessage {
            what: "User Control",
            len: payload.len(),
        };
        let event = match payload.get(..2) {
            Some(&[a, b]) => u16::from_be_bytes([a, b]),
            _ => return Err(short()),
        };
        let arg = |i: usize| {
            payload
                .get(2 + 4 * i..6 + 4 * i)
                .and_then(|s| s.try_into().ok())
                .map(u32::from_be_bytes)
                .ok_or_else(short)
        };
        Ok(match event {
            0 => Self::StreamBegin(arg(0)?),
            1 => Self::StreamEof(arg(0)?),
            2 => Self::StreamDry(arg(0)?),
            3 => Self::SetBufferLength {
                stream_id: arg(0)?,
                millis: arg(1)?,
            },
            4 => Self::StreamIsRecorded(arg(0)?),
            6 => Self::PingRequest(arg(0)?),
            7 => Self::PingResponse(arg(0)?),
            _ => Self::Other {
                event,
                data: payload.slice(2..),
            },
        })
    }

    /// Appends the payload of this event to `out`.
    pub fn encode(&self, out: &mut BytesMut) {
        let (event, a, b) = match self {
            Self::StreamBegin(id) => (0, *id, None),
            Self::StreamEof(id) => (1, *id, None),
            Self::StreamDry(id) => (2, *id, None),
            Self::SetBufferLength { stream_id, millis } => (3, *stream_id, Some(*millis)),
            Self::StreamIsRecorded(id) => (4, *id, None),
            Self::PingRequest(t) => (6, *t, None),
            Self::PingResponse(t) => (7, *t, None),
            Self::Other { event, data } => {
                out.put_u16(*event);
                out.put_slice(data);
                return;
            }
        };
        out.put_u16(event);
        out.put_u32(a);
        if let Some(b) = b {
            out.put_u32(b);
        }
    }

    /// This event as a message payload.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(10);
        self.encode(&mut out);
        out.freeze()
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn user_control_round_trip() {
        let events = [
            UserControl::StreamBegin(1),
            UserControl::StreamEof(2),
            UserControl::StreamDry(3),
            UserControl::SetBufferLength {
                stream_id: 1,
                millis: 3000,
            },
            UserControl::StreamIsRecorded(1),
            UserControl::PingRequest(0xDEAD_BEEF),
            UserControl::PingResponse(7),
            UserControl::Other {
                event: 31,
                data: Bytes::from_static(&[0, 0, 0, 1]),
            },
        ];
        for e in events {
            assert_eq!(UserControl::parse(&e.to_bytes()).unwrap(), e);
        }
        assert_eq!(
            &UserControl::PingRequest(0x01020304).to_bytes()[..],
            &[0, 6, 1, 2, 3, 4]
        );
    }

    #[test]
    fn short_user_control_is_an_error() {
        for bad in [&[][..], &[0], &[0, 6, 1, 2, 3], &[0, 3, 0, 0, 0, 1, 0]] {
            assert!(UserControl::parse(&Bytes::copy_from_slice(bad)).is_err());
        }
        assert!(read_u32("x", &[1, 2, 3]).is_err());
        assert_eq!(read_u32("x", &[0, 0, 16, 0, 9]).unwrap(), 4096);
    }
}
