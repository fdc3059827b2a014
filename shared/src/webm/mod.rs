//! WebM / Matroska demuxing for the browser studio's MediaRecorder fallback.
//!
//! Where WebCodecs is missing, the studio records `video/webm;codecs=h264,opus` with
//! `MediaRecorder` and gets the bytes in ~100 ms chunks cut at arbitrary points. The stream
//! is live: Segment and Cluster sizes are "unknown", and there are no Cues or SeekHead. This
//! module turns those bytes into tracks and frames that the FLV muxer can carry.
//!
//! # Layout
//! - [`ebml`]: vints, element headers, the element IDs used here, scalar payloads, and an
//!   iterator over the children of a buffered master element.
//! - [`tracks`]: EBML header `DocType`, Info `TimestampScale`, and Tracks → [`TrackInfo`].
//! - [`block`]: SimpleBlock / BlockGroup payloads, including the three lacing modes.
//! - [`demux`]: [`Demuxer`], incremental: bytes in at any split, [`WebmEvent`]s out, frame
//!   data handed out as `Bytes` without copying; unknown elements are skipped as they
//!   stream past, never buffered.
//! - [`convert`]: what the FLV muxer needs from the frames: the AVC decoder configuration
//!   (from `CodecPrivate`, or from the SPS/PPS in the first keyframe as Chromium sends
//!   Annex B without `CodecPrivate`), frames as AVCC, and the `OpusHead`.

pub mod block;
pub mod convert;
pub mod demux;
pub mod ebml;
pub mod tracks;

pub use convert::{AvcConverter, AvcSample, opus_head};
pub use demux::{Demuxer, WebmEvent};
pub use tracks::{AudioInfo, TrackInfo, TrackKind, VideoInfo};

use crate::codec::CodecError;

/// Size limits of a [`Demuxer`]: everything it buffers whole is checked against these
/// before its bytes are buffered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest SimpleBlock or BlockGroup (one compressed frame, or a laced group).
    pub max_block_size: usize,
    /// Largest EBML header, Info or Tracks element (they hold `CodecPrivate`).
    pub max_header_size: usize,
}

impl Limits {
    /// 8 MiB blocks (far above a 4K keyframe at streaming bitrates) and 256 KiB headers.
    pub const DEFAULT: Limits = Limits {
        max_block_size: 8 << 20,
        max_header_size: 256 << 10,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Why WebM bytes could not be demuxed or a track could not be converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebmError {
    /// The stream does not start with the EBML header ID (reported at the first wrong byte).
    #[error("not a WebM/Matroska stream: it does not start with an EBML header")]
    NotEbml,
    /// The EBML `DocType` is neither `webm` nor `matroska`.
    #[error("unsupported EBML DocType {0:?}")]
    UnsupportedDocType(String),
    /// An element ID longer than 4 bytes, or a reserved one.
    #[error("invalid EBML element ID at byte {offset}")]
    BadElementId {
        /// Stream offset of the ID.
        offset: u64,
    },
    /// A size vint longer than 8 bytes.
    #[error("invalid EBML element size at byte {offset}")]
    BadElementSize {
        /// Stream offset of the size field.
        offset: u64,
    },
    /// An element with an unknown size where only Segment and Cluster may have one.
    #[error("element 0x{id:X} has an unknown size, which only Segment and Cluster may have")]
    UnknownSizeNotAllowed {
        /// The element ID.
        id: u32,
    },
    /// An element that would be buffered whole is larger than the limit.
    #[error("element 0x{id:X} of {size} bytes exceeds the limit of {max} bytes")]
    ElementTooLarge {
        /// The element ID.
        id: u32,
        /// Its announced size.
        size: u64,
        /// The limit in force.
        max: usize,
    },
    /// A child element that ends after its parent.
    #[error("element 0x{id:X} at byte {offset} runs past its parent")]
    ElementOverrunsParent {
        /// The child's ID (0 if even its header did not fit).
        id: u32,
        /// Stream offset of the child.
        offset: u64,
    },
    /// An integer or float payload of an impossible length or value.
    #[error("invalid value in element 0x{id:X}")]
    BadValue {
        /// The element ID.
        id: u32,
    },
    /// A TrackEntry without what is needed to use it.
    #[error("invalid track: {0}")]
    BadTrack(&'static str),
    /// A SimpleBlock or Block that cannot be parsed.
    #[error("invalid block: {0}")]
    BadBlock(&'static str),
    /// Lace sizes that do not fit the block.
    #[error("invalid lacing: {0}")]
    BadLacing(&'static str),
    /// A block before its Cluster's Timestamp: its time is unknown.
    #[error("block before the Cluster Timestamp")]
    MissingClusterTimecode,
    /// A timestamp that does not fit in i64 milliseconds.
    #[error("timestamp out of range")]
    TimestampOverflow,
    /// A converter was given a track of another codec.
    #[error("track codec {found:?} is not {expected}")]
    WrongCodec {
        /// The codec ID wanted.
        expected: &'static str,
        /// The track's codec ID.
        found: String,
    },
    /// The track has no `CodecPrivate` where one is required (Opus).
    #[error("track has no CodecPrivate")]
    MissingCodecPrivate,
    /// A codec record (avcC, OpusHead) or bitstream is malformed.
    #[error(transparent)]
    Codec(#[from] CodecError),
}
