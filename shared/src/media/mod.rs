//! The media model: the one place where an FLV tag body (which is also an RTMP message
//! payload) becomes a typed media unit, exactly once per tag.
//!
//! # Layout
//! - this file: [`MediaKind`] (the one "what kind of tag/message is this" enum), [`Track`],
//!   [`Frame`], [`Unit`] and [`MediaError`].
//! - [`config`]: [`Config`], a decoder configuration parsed once when it arrives: codec,
//!   parsed record, RFC 6381 codec string, picture size, sample rate.
//! - [`script`]: [`Script`], AMF0 script data (`onMetaData`, the `onFI` capture clock).
//! - [`parser`]: [`Parser`], per stream: tag bodies in, [`Unit`]s out, with the one
//!   [`TimestampExtender`] (32-bit wrap and backwards jumps handled one way).
//!
//! Ingest (the server's hub), the browser remuxer, the MP4 recorder and the benches all
//! read tags through [`Parser`]; the outputs consume [`Unit`]s and never look at codec
//! header bytes themselves. Payloads are zero-copy slices of the tag body.

pub mod config;
pub mod parser;
pub mod script;

use bytes::Bytes;

use crate::codec::CodecError;
use crate::flv::video::TagBodyError;

pub use config::{Codec, Config, DecoderConfig, mime_type};
pub use parser::{Parser, TimestampExtender};
pub use script::Script;

/// What an FLV tag or RTMP media message carries. The discriminants are the FLV tag type
/// bytes, which are also the RTMP message type ids of the same payloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    /// Tag type 8 / RTMP message type 8.
    Audio = 8,
    /// Tag type 9 / RTMP message type 9.
    Video = 9,
    /// Tag type 18 / RTMP message type 18: AMF0 script data such as `onMetaData`.
    Script = 18,
}

impl MediaKind {
    /// The tag-type byte / RTMP message type id.
    pub const fn type_id(self) -> u8 {
        self as u8
    }

    /// The kind for a type byte; `None` for anything else (FLV and RTMP each say why that
    /// is an error for them).
    pub const fn from_type_id(id: u8) -> Option<Self> {
        match id {
            8 => Some(MediaKind::Audio),
            9 => Some(MediaKind::Video),
            18 => Some(MediaKind::Script),
            _ => None,
        }
    }
}

/// An elementary stream of a broadcast: one video and one audio track at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Track {
    /// The video track.
    Video,
    /// The audio track.
    Audio,
}

/// One coded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Its track.
    pub track: Track,
    /// The codec its tag header names.
    pub codec: Codec,
    /// Decode time in ms on the stream's 64-bit timeline (see [`TimestampExtender`]).
    pub dts: i64,
    /// Composition offset in ms (pts − dts; B-frames). Always 0 for audio.
    pub cts: i32,
    /// A place a decoder can start: a video keyframe, or any audio frame.
    pub keyframe: bool,
    /// The coded data (AVCC NAL units, raw AAC, an Opus packet, …), a slice of the tag body.
    pub payload: Bytes,
}

impl Frame {
    /// A video keyframe: where a viewer may start, and where segments are cut.
    pub fn is_video_keyframe(&self) -> bool {
        self.track == Track::Video && self.keyframe
    }
}

/// What one tag is, once parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum Unit {
    /// A decoder configuration (sequence header); the parser keeps it as the track's
    /// current one.
    Config(std::sync::Arc<Config>),
    /// A coded frame.
    Frame(Frame),
    /// Script data.
    Script(Script),
    /// A track's end of sequence (AVC/E-RTMP), or E-RTMP side data such as HDR metadata:
    /// carried to FLV/RTMP viewers as is, nothing for a packager to do.
    Passthrough(Track),
}

impl Unit {
    /// The frame, if this is one.
    pub fn frame(&self) -> Option<&Frame> {
        match self {
            Unit::Frame(f) => Some(f),
            _ => None,
        }
    }

    /// The config, if this is one.
    pub fn config(&self) -> Option<&std::sync::Arc<Config>> {
        match self {
            Unit::Config(c) => Some(c),
            _ => None,
        }
    }
}

/// Why a tag body is not a usable media unit. The caller drops that one tag (and says so);
/// the stream goes on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    /// The codec header of the tag body is malformed or uses something not handled.
    #[error("{0}")]
    TagBody(#[from] TagBodyError),
    /// A decoder configuration record that cannot be parsed.
    #[error("invalid {codec} configuration: {source}")]
    Config {
        /// The codec whose record it is.
        codec: Codec,
        /// What is wrong with it.
        source: CodecError,
    },
    /// Script data that is not AMF0, or has no name.
    #[error("script data: {0}")]
    Script(#[from] crate::amf0::Amf0Error),
    /// A script tag whose first value is not a string name.
    #[error("script data without a name")]
    UnnamedScript,
}

/// Whether a video tag body starting with `head` (its first two bytes) is a keyframe
/// picture (not a sequence header), without parsing the rest: for load generators that
/// only ever read tag headers and two body bytes. Ingest uses [`Parser`].
pub fn video_keyframe_hint(head: [u8; 2]) -> bool {
    let [b0, b1] = head;
    if (b0 >> 4) & 0x07 != 1 {
        return false;
    }
    if b0 & 0x80 != 0 {
        // Enhanced RTMP: packet types 1 (CodedFrames) and 3 (CodedFramesX) carry pictures.
        matches!(b0 & 0x0f, 1 | 3)
    } else {
        // Legacy AVC/HEVC: AVCPacketType 0 is the sequence header.
        b1 != 0
    }
}

#[cfg(test)]
mod tests;
