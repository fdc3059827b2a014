//! FLV: the container spoken by HTTP-FLV / WS-FLV push and play, and used for recordings.
//!
//! A stream is a 9-byte file header, `PreviousTagSize0` (= 0), then tags, each an 11-byte
//! tag header, its data, and a 4-byte `PreviousTagSize` (= 11 + data size):
//!
//! ```text
//! "FLV" ver flags offset(9) | pts0 | type size(24) ts(24) ts_ext stream(24) data… | pts | …
//! ```
//!
//! - [`header`]: [`FlvHeader`], [`Tag`], [`MediaKind`] and their wire layout.
//! - [`demux`]: [`Demuxer`], incremental: bytes in at any split, events out, tag data handed
//!   out as `Bytes` without copying.
//! - [`mux`]: writers appending to a caller's `BytesMut`, and [`encode_tag`] to build a tag
//!   once and share it among viewers.
//! - [`audio`], [`video`]: the tag bodies (codec headers, Enhanced RTMP FourCCs).
//!
//! Unknown tag types (anything but 8, 9 and 18, including the encryption "filter" bit) are
//! an error rather than an `Other` variant: FLV has no resync marker, so a stray type byte
//! almost always means the stream is misframed and everything after it is garbage.

pub mod audio;
pub mod demux;
pub mod header;
pub mod mux;
pub mod video;

pub use demux::{DemuxEvent, Demuxer, PreviousTagSizeMismatch};
pub use header::{
    FLV_HEADER_SIZE, FlvHeader, MediaKind, PREVIOUS_TAG_SIZE_LEN, TAG_HEADER_SIZE, Tag,
};
pub use mux::{
    MAX_TAG_DATA_SIZE, encode_tag, write_header, write_tag, write_tag_header, write_tag_trailer,
};

/// Why FLV bytes could not be demuxed or a tag could not be muxed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlvError {
    /// The stream does not start with `"FLV"` (reported at the first wrong byte).
    #[error("not an FLV stream: it does not start with \"FLV\"")]
    BadSignature,
    /// The header's data offset points inside the 9-byte header itself.
    #[error("FLV header data offset {0} is smaller than the 9-byte header")]
    BadDataOffset(u32),
    /// A tag type other than audio (8), video (9) or script data (18).
    #[error("unknown FLV tag type {0} (0x{0:02x}); the stream is misframed or encrypted")]
    UnknownTagType(u8),
    /// A tag whose data is larger than the demuxer's limit or the 24-bit size field.
    #[error("FLV tag data size {size} exceeds the limit of {max} bytes")]
    TagTooLarge {
        /// The tag's data size.
        size: usize,
        /// The limit in force.
        max: usize,
    },
}
