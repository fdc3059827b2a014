//! Codec configuration records and bitstream helpers.
//!
//! Ingest keeps one decoder configuration per track and replays it to every new viewer, and
//! the packagers (fMP4, MPEG-TS) need codec strings, dimensions and sample rates from it.
//! This module parses and builds those records, zero-copy where the input is [`bytes::Bytes`]:
//!
//! - [`avc`]: AVCDecoderConfigurationRecord (`avcC`), the body of an FLV AVC sequence header.
//! - [`sps`]: enough of an H.264 SPS for profile, level, picture size and frame rate.
//! - [`annexb`]: Annex B (start codes) ↔ AVCC (length prefixes) and NAL unit iterators.
//! - [`aac`]: AAC AudioSpecificConfig and ADTS headers.
//! - [`opus`]: the OpusHead identification header.
//! - [`bits`]: the bit reader/writer (exp-Golomb, emulation prevention) the others use.
//!
//! All of them report malformed input as a [`CodecError`]; none panics on input bytes.

pub mod aac;
pub mod annexb;
pub mod avc;
pub mod bits;
pub mod opus;
pub mod sps;

pub use aac::AacConfig;
pub use avc::AvcConfig;
pub use opus::OpusHead;
pub use sps::Sps;

/// Bytes from a hex string: the unit tests' records captured from real encoders.
#[cfg(test)]
pub(crate) fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Why a codec record or bitstream could not be parsed or built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The input ended before the named structure was complete.
    #[error("truncated {0}")]
    Truncated(&'static str),
    /// A field holds a value the specification does not allow.
    #[error("invalid {0}")]
    Invalid(&'static str),
    /// A record version this code does not understand.
    #[error("unsupported {what} version {version}")]
    UnsupportedVersion {
        /// Which record.
        what: &'static str,
        /// The version found.
        version: u8,
    },
    /// The NAL unit is not of the type the caller asked to parse.
    #[error("expected NAL unit type {expected}, found {found}")]
    WrongNalType {
        /// The required `nal_unit_type`.
        expected: u8,
        /// The `nal_unit_type` found.
        found: u8,
    },
    /// A length-prefixed NAL unit claims more bytes than remain in the buffer.
    #[error("NAL unit length {length} runs past the buffer ({available} bytes left)")]
    NalLengthOverrun {
        /// The length read from the prefix.
        length: usize,
        /// The bytes remaining after the prefix.
        available: usize,
    },
    /// No SPS or no PPS was found where a decoder configuration needs one.
    #[error("missing {0}")]
    MissingParameterSet(&'static str),
    /// The value cannot be written in the target format (field too small, list too long).
    #[error("cannot encode {0}")]
    NotEncodable(&'static str),
}
