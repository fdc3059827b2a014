//! MPEG-TS muxer for HLS of H.264 + AAC (the "old players" HLS variant).
//!
//! A transport stream is a run of 188-byte packets, each tagged with a 13-bit PID. This
//! muxer writes one program: the PAT (PID 0) points at the PMT ([`PMT_PID`]), which lists
//! the H.264 stream ([`VIDEO_PID`], type 0x1B) and the AAC/ADTS stream ([`AUDIO_PID`],
//! type 0x0F) and names the PCR carrier (the video PID, or audio when there is no video).
//!
//! - [`psi`]: PAT/PMT sections and the MPEG-2 CRC32 that ends them.
//! - [`es`]: elementary stream framing: AVCC → Annex B (start codes, an AUD per access
//!   unit, SPS/PPS before keyframes) and 7-byte ADTS headers for raw AAC frames.
//! - [`pes`]: PES headers (33-bit 90 kHz PTS/DTS) and cutting a PES into TS packets with
//!   adaptation fields (PCR, random access indicator, stuffing).
//! - [`mux`]: [`TsMuxer`], which ties them together and keeps continuity counters and
//!   PCR timing. Timestamps come in as milliseconds, as FLV gives them.
//!
//! All writers append to a caller's [`bytes::BytesMut`]; on error nothing is appended.

pub mod es;
pub mod mux;
pub mod pes;
pub mod psi;

use bytes::Bytes;

pub use es::{AdtsHeader, write_adts_header};
pub use mux::TsMuxer;
pub use psi::crc32_mpeg2;

/// Size of every transport stream packet.
pub const TS_PACKET_SIZE: usize = 188;
/// First byte of every packet.
pub const SYNC_BYTE: u8 = 0x47;
/// PID of the program map table.
pub const PMT_PID: u16 = 0x1000;
/// PID of the H.264 elementary stream.
pub const VIDEO_PID: u16 = 0x100;
/// PID of the AAC elementary stream.
pub const AUDIO_PID: u16 = 0x101;
/// PMT stream type of H.264 video.
pub const STREAM_TYPE_H264: u8 = 0x1b;
/// PMT stream type of AAC audio in ADTS framing.
pub const STREAM_TYPE_AAC_ADTS: u8 = 0x0f;

/// The H.264 parameter sets, from the AVCDecoderConfigurationRecord.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TsVideoConfig {
    /// Sequence parameter set NAL units (without start codes or length prefixes).
    pub sps: Vec<Bytes>,
    /// Picture parameter set NAL units.
    pub pps: Vec<Bytes>,
    /// Bytes of each NAL length prefix in the AVCC samples (`lengthSizeMinusOne + 1`);
    /// 4 for nearly every encoder.
    pub nal_length_size: u8,
}

impl TsVideoConfig {
    /// Parameter sets with the usual 4-byte NAL length prefixes.
    pub fn new(sps: Vec<Bytes>, pps: Vec<Bytes>) -> Self {
        Self {
            sps,
            pps,
            nal_length_size: 4,
        }
    }
}

/// The AudioSpecificConfig fields ADTS headers repeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TsAudioConfig {
    /// MPEG-4 audio object type (2 = AAC-LC; 5 and 29, HE-AAC, are sent as AAC-LC
    /// with implicit SBR signalling, as ADTS has no room for them).
    pub object_type: u8,
    /// Sampling frequency index (0 = 96 kHz … 4 = 44.1 kHz … 12 = 7.35 kHz).
    pub sample_rate_index: u8,
    /// Channel configuration (1 = mono, 2 = stereo … 7 = 7.1).
    pub channels: u8,
}

/// Why a frame could not be muxed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TsError {
    /// `write_video` on a muxer created without a video stream.
    #[error("the muxer has no video stream")]
    NoVideoStream,
    /// `write_audio` on a muxer created without an audio stream.
    #[error("the muxer has no audio stream")]
    NoAudioStream,
    /// A NAL length prefix size other than 1 to 4 bytes.
    #[error("unsupported NAL length prefix size {0}")]
    BadNalLengthSize(u8),
    /// An AVCC length prefix runs past the end of the access unit.
    #[error("NAL unit at byte {offset} claims {len} bytes but only {remaining} remain")]
    BadNalLength {
        /// Where the length prefix starts.
        offset: usize,
        /// The length it claims.
        len: usize,
        /// Bytes left after the prefix.
        remaining: usize,
    },
    /// A negative composition offset would present a frame before it is decoded.
    #[error("composition offset {cts_ms} ms puts PTS before DTS {dts_ms} ms")]
    PtsBeforeDts {
        /// The decode time.
        dts_ms: u64,
        /// The offending composition offset.
        cts_ms: i32,
    },
    /// An audio config ADTS cannot express.
    #[error(
        "ADTS cannot carry object type {object_type}, sample rate index \
         {sample_rate_index}, channels {channels}"
    )]
    UnsupportedAudioConfig {
        /// Object type.
        object_type: u8,
        /// Sampling frequency index.
        sample_rate_index: u8,
        /// Channel configuration.
        channels: u8,
    },
    /// An AAC frame too large for ADTS's 13-bit frame length.
    #[error("AAC frame of {0} bytes is too large for ADTS")]
    AudioFrameTooLarge(usize),
}
