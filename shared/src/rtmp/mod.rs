//! RTMP, server side, as a sans-IO state machine.
//!
//! # Layout
//! - [`handshake`]: C0/C1 → S0/S1/S2 → C2, plain (echo) and digest ("complex") forms.
//! - [`chunk`]: the chunk stream reader: headers, per-csid state, reassembly, limits.
//! - [`writer`]: the chunk writer; [`writer::write_message`] serializes a message with no
//!   per-connection state, so one media message can be chunked once and sent to every viewer.
//! - [`message`]: message type ids, protocol control and user control messages.
//! - [`command`]: AMF0 commands (`connect`, `publish`, `play`, …) and the replies we build.
//! - [`session`]: [`ServerSession`], which ties it all together: bytes in, events and bytes out.
//! - [`media`]: building the outgoing audio/video/data messages of a play session.
//!
//! Nothing here reads a clock, draws random numbers or does I/O: the S1 random bytes come
//! from the caller, and the caller moves bytes between the socket and the session.

pub mod chunk;
pub mod command;
pub mod handshake;
pub mod media;
pub mod message;
pub mod session;
pub mod writer;

pub use chunk::{ChunkReader, ReaderLimits};
pub use command::Command;
pub use handshake::{HANDSHAKE_RANDOM_LEN, Handshake};
pub use media::{MediaKind, write_media_message};
pub use message::{RtmpMessage, UserControl};
pub use session::{ServerSession, SessionConfig, SessionEvent};
pub use writer::{ChunkWriter, write_message};

use crate::amf0::Amf0Error;

/// Everything that can go wrong on one RTMP connection. Each variant is fatal for the
/// connection; the messages are written for server logs.
#[derive(Debug, thiserror::Error)]
pub enum RtmpError {
    /// C0 announced something other than RTMP version 3 (not an RTMP client, or RTMPE).
    #[error("RTMP handshake: C0 version byte is {0}, expected 3 (not an RTMP client?)")]
    BadHandshakeVersion(u8),
    /// The peer asked for a chunk size of 0, above our limit, or with the reserved top bit set.
    #[error("peer set chunk size {size}, outside the accepted range 1..={max}")]
    ChunkSizeOutOfRange {
        /// The requested chunk size (the raw 32-bit field).
        size: u32,
        /// Our limit.
        max: u32,
    },
    /// A message header announced more bytes than we accept for one message.
    #[error("message of {len} bytes on chunk stream {csid} exceeds the limit of {max} bytes")]
    MessageTooLarge {
        /// Chunk stream id.
        csid: u32,
        /// Announced message length.
        len: u32,
        /// Our limit.
        max: u32,
    },
    /// The bytes held for partially received messages went over the budget.
    #[error("partially received messages hold more than {max} bytes")]
    ReassemblyBudget {
        /// Our limit.
        max: usize,
    },
    /// The peer opened more chunk streams than we keep state for.
    #[error("peer uses more than {max} chunk streams")]
    TooManyChunkStreams {
        /// Our limit.
        max: usize,
    },
    /// A compressed chunk header (type 1, 2 or 3) on a chunk stream with no previous header.
    #[error("chunk header type {fmt} on chunk stream {csid}, which has no previous header")]
    MissingPreviousHeader {
        /// Chunk stream id.
        csid: u32,
        /// Header type (1, 2 or 3).
        fmt: u8,
    },
    /// A type-1 or type-2 header arrived in the middle of a message.
    #[error(
        "chunk stream {csid}: new message header while {remaining} bytes of a message are missing"
    )]
    InterruptedMessage {
        /// Chunk stream id.
        csid: u32,
        /// Bytes still expected for the interrupted message.
        remaining: u32,
    },
    /// A protocol control or user control message was too short.
    #[error("{what} message is too short ({len} bytes)")]
    ShortControlMessage {
        /// Which message.
        what: &'static str,
        /// Its length.
        len: usize,
    },
    /// A command carried bytes that are not valid AMF0.
    #[error("AMF0 decoding failed in a command: {0}")]
    Amf0(#[from] Amf0Error),
    /// A command is missing its name or transaction id, or has arguments of the wrong type.
    #[error("malformed {command:?} command: {reason}")]
    BadCommand {
        /// Command name ("" when even the name is missing).
        command: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The peer created more message streams than we allow.
    #[error("peer created more than {max} message streams")]
    TooManyStreams {
        /// Our limit.
        max: usize,
    },
}
